// watchdog/targets.hpp: pure decisions about a target's processes.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "probes/process.hpp"

namespace vigil {

// What one sampling round saw of a target's main process.
struct TargetObservation {
  bool present = false;
  int main_pid = 0;
  WallMs main_start_ms = 0;
};

enum class TargetTransition { kNone, kAppeared, kRestarted, kVanished };

// A different start time (or PID) between two rounds in which the target
// was present is a restart; absent -> present is an appearance (also at the
// first round); present -> absent is a disappearance.
TargetTransition classify_transition(const std::optional<TargetObservation>& previous,
                                     const TargetObservation& current);
std::string_view event_kind_of(TargetTransition t);

// Of the matched PIDs, those whose parent is not matched too (a pre-forking
// server's workers belong to its master's tree), the main one first: the
// earliest started, then the lowest PID.
std::vector<int> roots_of(const ProcessTable& table, const std::vector<int>& matched);

}  // namespace vigil
