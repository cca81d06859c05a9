#include "heal/policy.hpp"

#include <algorithm>

namespace vigil {

namespace {

void forget_old(RemediationState& s, const RemediationRules& r, WallMs now) {
  while (!s.recent.empty() && s.recent.front() <= now - r.window.count()) s.recent.pop_front();
}

}  // namespace

const char* to_string(RemediationVerdict v) {
  switch (v) {
    case RemediationVerdict::kAct:
      return "act";
    case RemediationVerdict::kBusy:
      return "busy";
    case RemediationVerdict::kHeld:
      return "held";
    case RemediationVerdict::kLeftToManager:
      return "left_to_manager";
    case RemediationVerdict::kFlapping:
      return "flapping";
    case RemediationVerdict::kDependencyDown:
      return "dependency_down";
    case RemediationVerdict::kBackoff:
      return "backoff";
    case RemediationVerdict::kGivenUp:
      return "given_up";
  }
  return "unknown";
}

Millis backoff_before(int consecutive, const RemediationRules& r) {
  if (consecutive <= 0) return Millis(0);
  Millis d = r.backoff;
  for (int i = 1; i < consecutive && d < r.max_backoff; ++i) d *= 2;
  return std::min(d, r.max_backoff);
}

RemediationDecision decide_remediation(RemediationState& s, const RemediationRules& r,
                                       const RemediationSituation& situation, WallMs now) {
  RemediationDecision d;
  s.healthy_since_ms = 0;
  forget_old(s, r, now);
  if (s.in_flight) {
    d.verdict = RemediationVerdict::kBusy;
    d.reason = "an action is already running";
    return d;
  }
  if (situation.settling) {
    d.verdict = RemediationVerdict::kBusy;
    d.reason = "waiting for its manager's account of the exit";
    return d;
  }
  if (!situation.left_to_manager.empty()) {
    d.verdict = RemediationVerdict::kLeftToManager;
    d.reason = "left to its manager: " + situation.left_to_manager + " (write \"crash\" in on to restart it anyway)";
    return d;
  }
  if (!situation.held.empty()) {
    d.verdict = RemediationVerdict::kHeld;
    d.reason = "not now: " + situation.held;
    return d;
  }
  if (situation.flapping) {
    d.verdict = RemediationVerdict::kFlapping;
    d.reason = "the check is flapping: no action until it settles";
    return d;
  }
  if (!situation.dependencies_down.empty()) {
    std::string names;
    for (const auto& n : situation.dependencies_down) names += (names.empty() ? "" : ", ") + n;
    d.verdict = RemediationVerdict::kDependencyDown;
    d.reason = "not restarted: it depends on " + names + ", which is failed";
    return d;
  }
  if (static_cast<int>(s.recent.size()) >= r.max) {
    d.verdict = RemediationVerdict::kGivenUp;
    d.gave_up_now = !s.given_up;
    s.given_up = true;
    d.not_before = s.recent.front() + r.window.count();
    d.reason = "given up: " + std::to_string(s.recent.size()) + " actions in the last " + format_duration(r.window) +
               " (max " + std::to_string(r.max) + ")";
    return d;
  }
  s.given_up = false;
  const Millis wait = backoff_before(s.consecutive, r);
  if (s.consecutive > 0 && now < s.last_action_ms + wait.count()) {
    d.verdict = RemediationVerdict::kBackoff;
    d.not_before = s.last_action_ms + wait.count();
    d.reason = "backing off " + format_duration(wait) + " after " + std::to_string(s.consecutive) +
               (s.consecutive == 1 ? " action" : " actions");
    return d;
  }
  d.verdict = RemediationVerdict::kAct;
  d.action = r.actions.empty() ? ActionKind::kRestart : r.actions[std::min(s.escalation, r.actions.size() - 1)];
  d.reason = s.consecutive == 0 ? "first action" : "action " + std::to_string(s.consecutive + 1) + " of this episode";
  return d;
}

void remediation_started(RemediationState& s, const RemediationRules& r, WallMs now) {
  forget_old(s, r, now);
  s.recent.push_back(now);
  s.in_flight = true;
  s.last_action_ms = now;
  ++s.consecutive;
  ++s.escalation;
  s.healthy_since_ms = 0;
}

void remediation_finished(RemediationState& s, const RemediationRules& r, WallMs now) {
  s.in_flight = false;
  s.grace_until_ms = now + r.grace.count();
}

void remediation_healthy(RemediationState& s, const RemediationRules& r, WallMs now) {
  if (s.healthy_since_ms == 0) s.healthy_since_ms = now;
  if (now - s.healthy_since_ms >= r.reset_after.count()) {
    s.consecutive = 0;
    s.escalation = 0;
  }
  forget_old(s, r, now);
  if (s.given_up && static_cast<int>(s.recent.size()) < r.max) s.given_up = false;
}

}  // namespace vigil
