#include "probes/checks/hysteresis.hpp"

namespace vigil {

namespace {

CheckState next_state(const CheckStatus& s, const Hysteresis& h, bool success) {
  const int failures = success ? 0 : s.consecutive_failures + 1;
  const int successes = success ? s.consecutive_successes + 1 : 0;
  switch (s.state) {
    case CheckState::kUnknown:
    case CheckState::kOk:
    case CheckState::kFailing:
      // Without a failure on record a success is simply ok: at start-up there
      // is nothing to recover from.
      if (success) return CheckState::kOk;
      return failures >= h.fail_after ? CheckState::kFailed : CheckState::kFailing;
    case CheckState::kFailed:
    case CheckState::kRecovering:
      if (!success) return CheckState::kFailed;
      return successes >= h.recover_after ? CheckState::kOk : CheckState::kRecovering;
  }
  return s.state;
}

}  // namespace

std::optional<Transition> observe(CheckStatus& status, const Hysteresis& h, bool success, WallMs now) {
  Transition t;
  t.from = status.state;
  t.to = next_state(status, h, success);
  status.consecutive_failures = success ? 0 : status.consecutive_failures + 1;
  status.consecutive_successes = success ? status.consecutive_successes + 1 : 0;
  t.state_changed = t.to != t.from;
  if (t.state_changed) {
    status.state = t.to;
    status.since_ms = now;
    // Leaving "unknown" is the first result, not a change of mind.
    if (t.from != CheckState::kUnknown) status.changes_ms.push_back(now);
  }
  while (!status.changes_ms.empty() && status.changes_ms.front() <= now - h.flap_window.count()) {
    status.changes_ms.pop_front();
  }
  const bool flapping = static_cast<int>(status.changes_ms.size()) > h.flap_threshold;
  t.flapping_changed = flapping != status.flapping;
  status.flapping = flapping;
  if (!t.state_changed && !t.flapping_changed) return std::nullopt;
  return t;
}

}  // namespace vigil
