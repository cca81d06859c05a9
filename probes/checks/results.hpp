// probes/checks/results.hpp: what a run and a state change become.
//
// Pure functions: a run's outcome becomes samples labelled with the check
// (and its target, for a check that has one); a state change becomes the
// events that record it. The loop stores and publishes what these return.
#pragma once

#include <optional>
#include <vector>

#include "core/sample.hpp"
#include "probes/checks/check.hpp"
#include "probes/checks/hysteresis.hpp"

namespace vigil {

// {check, target}, or {check} for a check of its own.
Labels check_labels(const CheckSpec& check);

// check_up, check_duration_seconds, the kind's values and, when `state` is
// given (the state changed with this result, or it is the first one),
// check_state: a step that changes a few times a day need not be stored
// every second. A scraped series keeps its labels and gets the
// check's target (a scraped "target" becomes "exported_target"), or, for a
// check of its own, the check's name (a scraped "check" becomes
// "exported_check"), as Prometheus does with honor_labels = false.
std::vector<Sample> run_samples(const CheckSpec& check, CheckOutcome&& outcome, std::optional<CheckState> state,
                                WallMs now);

// check_<state> when the state changed (with the reason and the count of
// consecutive failures), check_flapping or check_flapping_stopped when that
// changed.
std::vector<Event> transition_events(const CheckSpec& check, const Transition& transition, const CheckStatus& status,
                                     const std::string& reason, WallMs now);

}  // namespace vigil
