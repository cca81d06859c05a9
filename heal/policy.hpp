// heal/policy.hpp: whether to act on a failed target, and how.
//
// The safety rules of remediation as a pure state machine (the time passed
// in, no I/O), so that every rule is a unit test; the loop runs the action
// the decision names and reports back.
//
//  - one action at a time per target (kBusy while one runs);
//  - nothing where the service's manager (Docker) brings it back by its
//    own restart policy and "crash" was not written in `on`
//    (kLeftToManager), and nothing while the manager is at it or must be
//    let be (kHeld: Docker restarting the container, its health start
//    period); kBusy while the manager has not reported the exit yet;
//  - flapping checks trigger nothing (kFlapping), unless vigild's own
//    actions are what flipped them (a crash loop: the caller says so);
//  - while a depends_on target is failed, nothing is restarted
//    (kDependencyDown: the dependency is the cause);
//  - exponential backoff between consecutive actions: none before the
//    first, then `backoff`, doubling up to `max_backoff` (kBackoff, with the
//    time it ends);
//  - a rate limit: at most `max` actions per sliding `window`; beyond it
//    the target is given up (kGivenUp, `gave_up_now` the first time, for
//    the critical alert) until the window has passed;
//  - an escalation list: the first action of an episode is actions[0], the
//    next one actions[1]..., the last one repeats;
//  - the target healthy for `reset_after` (default: max_backoff) ends the
//    episode: backoff and escalation start over.
// After an action the target has a start-up `grace`: checks are not judged
// failed before it ends (in_grace()), unless they pass earlier.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "core/kinds.hpp"
#include "core/time.hpp"

namespace vigil {

struct RemediationRules {
  std::vector<ActionKind> actions = {ActionKind::kRestart};  // the escalation list
  int max = 5;
  Millis window{600'000};
  Millis backoff{10'000};
  Millis max_backoff{300'000};
  Millis grace{30'000};
  Millis reset_after{300'000};
};

struct RemediationState {
  std::deque<WallMs> recent;  // start times of actions within the window
  int consecutive = 0;        // actions since the target was last healthy for reset_after
  std::size_t escalation = 0;
  WallMs last_action_ms = 0;
  WallMs grace_until_ms = 0;
  WallMs healthy_since_ms = 0;  // 0: not healthy now
  bool in_flight = false;
  bool given_up = false;
};

enum class RemediationVerdict { kAct, kBusy, kHeld, kLeftToManager, kFlapping, kDependencyDown, kBackoff, kGivenUp };
const char* to_string(RemediationVerdict v);

struct RemediationDecision {
  RemediationVerdict verdict = RemediationVerdict::kAct;
  ActionKind action = ActionKind::kRestart;  // kAct: the action to run
  WallMs not_before = 0;                     // kBackoff: when it may act; kGivenUp: when the window frees a slot
  bool gave_up_now = false;                  // kGivenUp reached by this decision
  std::string reason;                        // for people: why it acts, waits or does nothing
};

struct RemediationSituation {
  bool flapping = false;
  std::vector<std::string> dependencies_down;
  // Its manager has not reported what ended it yet (Docker's die event
  // follows the pidfd by milliseconds): kBusy until it has.
  bool settling = false;
  // Why the service's manager must be let be now ("Docker is restarting
  // it", a health check's start period): nothing is done until it ends.
  std::string held;
  // Its manager restarts it on its own ("Docker restarts it (restart policy
  // always)") and the crash trigger was implied, not written: left to it.
  std::string left_to_manager;
};

// The target is failed (a trigger fired) at `now`: what to do.
RemediationDecision decide_remediation(RemediationState& s, const RemediationRules& r,
                                       const RemediationSituation& situation, WallMs now);
// The action of a kAct decision started at `now` (counts toward the limit).
void remediation_started(RemediationState& s, const RemediationRules& r, WallMs now);
// It finished; its grace runs from `now`.
void remediation_finished(RemediationState& s, const RemediationRules& r, WallMs now);
// The target is healthy at `now` (every check ok): after reset_after the
// episode ends. Any failure (a decide call) interrupts the healthy stretch.
void remediation_healthy(RemediationState& s, const RemediationRules& r, WallMs now);
// Checks are not judged failed while this holds.
inline bool in_grace(const RemediationState& s, WallMs now) {
  return now < s.grace_until_ms;
}
// The delay before the next action: 0 first, then backoff x 2^(n-1), capped.
Millis backoff_before(int consecutive, const RemediationRules& r);

}  // namespace vigil
