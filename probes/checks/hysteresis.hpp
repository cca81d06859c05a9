// probes/checks/hysteresis.hpp: a check's state machine (hysteresis, flapping).
//
// A pure function of the previous status, the check's thresholds, one
// result and the time it arrived: no clock, no I/O, so every path is a unit
// test.
//
//   unknown --ok--> ok --fail--> failing --fail x fail_after--> failed
//        \--fail--> failing                                        |
//   ok <--ok x recover_after-- recovering <--------ok--------------+
//   failing --ok--> ok;  recovering --fail--> failed
//
// fail_after = 1 goes straight to failed, recover_after = 1 straight to ok.
// A check is flapping while its state changed more than flap_threshold
// times within the last flap_window.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "core/kinds.hpp"
#include "core/time.hpp"

namespace vigil {

struct Hysteresis {
  int fail_after = 2;
  int recover_after = 2;
  Millis flap_window{std::chrono::minutes(5)};
  int flap_threshold = 6;
};

struct CheckStatus {
  CheckState state = CheckState::kUnknown;
  WallMs since_ms = 0;  // when `state` was entered
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  bool flapping = false;
  std::deque<WallMs> changes_ms;  // state changes within the flap window
};

struct Transition {
  CheckState from = CheckState::kUnknown;
  CheckState to = CheckState::kUnknown;
  bool state_changed = false;
  bool flapping_changed = false;  // started or stopped flapping
};

// Applies one result. Returns what changed, or nullopt when nothing did
// (the same state, the same flapping).
std::optional<Transition> observe(CheckStatus& status, const Hysteresis& h, bool success, WallMs now);

}  // namespace vigil
