// core/builtin_rules.hpp: the names of the alerts every vigild has without a
// [[rule]]. The alert engine raises them, the config refuses a [[rule]] that
// takes one of their names, and `vigil alerts` knows the heartbeat.
#pragma once

namespace vigil {

// The built-in rule of checks with alert = true and no [[rule]] of kind check.
inline constexpr const char* kCheckRuleName = "CheckFailed";
// The always-firing alert that says vigild is running (a dead man's switch).
inline constexpr const char* kHeartbeatRuleName = "VigilHeartbeat";
// The built-in critical alert of a target whose remediation gave up.
inline constexpr const char* kGivenUpRuleName = "RemediationGivenUp";
// The built-in critical alert of a target whose main process is missing
// (crashed, not found, not startable, not watchable).
inline constexpr const char* kTargetDownRuleName = "TargetDown";

}  // namespace vigil
