// alerting/rules.hpp: the rule evaluators, pure functions over a series.
//
// Contract: every evaluator takes the samples of one series, the rule's
// parameters and the time `now`, and returns a Condition: whether the rule's
// condition holds at `now`, the value and threshold for annotations, and a
// reason a person can act on. Nothing here reads a clock, does I/O or logs;
// the alert state machine applies `for`, and the caller selects the series.
// Series are in ascending timestamp order (duplicates allowed); points later
// than `now` are ignored, and so are NaN/Inf values (a staleness marker or a
// failed read is not a sample). "Not enough data to decide" is no_data, which
// is reported but never active. Values of metrics whose name ends in
// `_bytes` are shown as KiB/MiB/GiB in reasons.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kinds.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

namespace vigil {

struct SeriesPoint {
  WallMs ts_ms;
  double value;
};
using Series = std::vector<SeriesPoint>;  // ascending ts_ms

// kEq/kNe compare exactly: meant for gauges holding small integers (0/1 states).
bool compare(double value, Comparison op, double threshold);

// One evaluation of a rule's condition for one series, at `now`.
struct Condition {
  bool active = false;              // the condition holds now (the alert state machine applies `for`)
  std::optional<double> value;      // shown in annotations as {{value}}
  std::optional<double> threshold;  // what it was compared with, {{threshold}}
  // For people: "process_resident_memory_bytes 612 MiB is 14.2 % above its
  // baseline 536 MiB (limit 10 %), growing 31 MiB/h".
  std::string reason;
  bool no_data = false;  // not enough data to decide (reported, never active)
  // Informative: the fitted slope in metric units per hour, and for forecasts
  // the predicted time until the limit is reached (0 when already past it).
  std::optional<double> slope_per_hour;
  std::optional<double> seconds_to_limit;
};

// The newest point compared with `threshold`; no_data when there is no point
// or the newest is older than `max_age` (a stale value must not keep firing).
// value = the newest point, threshold = `threshold`.
Condition eval_threshold(const Series& s, std::string_view metric, Comparison op, double threshold, WallMs now,
                         Millis max_age);

struct GrowthParams {
  Millis baseline_window;     // e.g. 30 min after the target (re)started
  double max_growth_percent;  // e.g. 10: active above baseline * 1.10
};

// Growth over a baseline, for leaks. baseline = median of the points in
// [started_ms, started_ms + baseline_window]; no_data before that window has
// passed, with fewer than 3 points in it, or with a baseline <= 0 (growth
// from nothing has no percentage). current = median of the newest 3 points,
// so one spike does not fire. Active when (current - baseline) / baseline *
// 100 > max_growth_percent (exactly at the limit is not active).
// value = current, threshold = the value at which it fires
// (baseline * (1 + max_growth_percent / 100)), slope_per_hour = least squares
// over the points after the baseline window (when there are two or more).
Condition eval_growth(const Series& s, std::string_view metric, WallMs started_ms, const GrowthParams& p, WallMs now);

struct ForecastParams {
  Millis window;   // the points in [now - window, now] are fitted
  Millis horizon;  // active when the limit is reached within this from now
  double limit;
};

// Linear forecast. A least-squares line over the points in [now - window,
// now] (at least 5 points spanning at least window / 4, else no_data). The
// side of the limit the fitted value at `now` is on gives the direction: a
// limit above is approached by rising, a limit below by falling. Active when
// the line moving toward the limit reaches it within `horizon`, or when the
// line crossed it inside the window (already past it). A flat line, or one
// moving away, never reaches. A series that has stayed beyond the limit for
// the whole window reads as approaching it from the other side; a threshold
// rule is the tool for "already above".
// value = the newest point, threshold = limit, seconds_to_limit = the
// predicted time (also beyond the horizon; 0 when past; absent when never).
Condition eval_forecast(const Series& s, std::string_view metric, const ForecastParams& p, WallMs now);

// Absence: active when the newest point is at least `for_duration` old, or
// there is no point and now - watched_since >= for_duration. value = seconds
// since the newest point (or since watched_since), threshold = for_duration
// in seconds.
Condition eval_absence(const Series& s, std::string_view metric, Millis for_duration, WallMs watched_since, WallMs now);

// A fitted line. Timestamps are taken relative to `origin_ms` (inside the
// data) so that 1.8e12 ms timestamps do not swallow the slope.
struct LinearFit {
  double slope_per_ms = 0;
  WallMs origin_ms = 0;
  double value_at_origin = 0;  // the intercept, at origin_ms
  std::size_t n = 0;           // finite points used

  double at(WallMs ts_ms) const { return value_at_origin + slope_per_ms * static_cast<double>(ts_ms - origin_ms); }
};

// Least squares over the finite points; nullopt with fewer than 2 of them or
// when all share one timestamp.
std::optional<LinearFit> fit_line(const Series& s);

// The median (mean of the two middle values for an even count); NaN for none.
double median(std::vector<double> values);

// "612 MiB" for a metric named *_bytes, "0.75" / "1234" otherwise.
std::string format_metric_value(std::string_view metric, double value);

}  // namespace vigil
