#include "alerting/rules.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "core/text.hpp"

namespace vigil {

namespace {

constexpr double kMsPerHour = 3600.0 * 1000.0;

// The points an evaluation at `now` may use: finite values, not from the future.
Series usable_points(const Series& s, WallMs now) {
  assert(
      std::is_sorted(s.begin(), s.end(), [](const SeriesPoint& a, const SeriesPoint& b) { return a.ts_ms < b.ts_ms; }));
  Series out;
  out.reserve(s.size());
  for (const SeriesPoint& p : s) {
    if (p.ts_ms > now) break;
    if (std::isfinite(p.value)) out.push_back(p);
  }
  return out;
}

// printf with `decimals`, then without trailing zeros: 10.0 -> "10", 14.25 -> "14.25".
std::string fixed_trimmed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string out = buf;
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out;
}

std::string format_percent(double v) {
  return fixed_trimmed(v, 1) + " %";
}

std::string format_rate(std::string_view metric, double per_hour) {
  if (per_hour == 0) return "flat";
  const char* verb = per_hour > 0 ? "rising " : "falling ";
  return verb + format_metric_value(metric, std::fabs(per_hour)) + "/h";
}

std::string format_age(WallMs from, WallMs to) {
  return format_rough_duration(static_cast<double>(to - from) / 1000.0);
}

Condition no_data(std::string reason) {
  Condition c;
  c.no_data = true;
  c.reason = std::move(reason);
  return c;
}

}  // namespace

bool compare(double value, Comparison op, double threshold) {
  switch (op) {
    case Comparison::kGt:
      return value > threshold;
    case Comparison::kGe:
      return value >= threshold;
    case Comparison::kLt:
      return value < threshold;
    case Comparison::kLe:
      return value <= threshold;
    case Comparison::kEq:
      return value == threshold;
    case Comparison::kNe:
      return value != threshold;
  }
  return false;
}

double median(std::vector<double> values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return lower + (upper - lower) / 2;
}

std::optional<LinearFit> fit_line(const Series& s) {
  // Two passes around the means: summing raw ts * ts at 1.8e12 ms would keep
  // about 4 significant bits of a minute-scale spread.
  LinearFit fit;
  bool have_origin = false;
  double sum_dt = 0;
  double sum_v = 0;
  for (const SeriesPoint& p : s) {
    if (!std::isfinite(p.value)) continue;
    if (!have_origin) {
      fit.origin_ms = p.ts_ms;
      have_origin = true;
    }
    sum_dt += static_cast<double>(p.ts_ms - fit.origin_ms);
    sum_v += p.value;
    ++fit.n;
  }
  if (fit.n < 2) return std::nullopt;
  const double n = static_cast<double>(fit.n);
  const double mean_dt = sum_dt / n;
  const double mean_v = sum_v / n;
  double sxx = 0;
  double sxy = 0;
  for (const SeriesPoint& p : s) {
    if (!std::isfinite(p.value)) continue;
    const double dx = static_cast<double>(p.ts_ms - fit.origin_ms) - mean_dt;
    sxx += dx * dx;
    sxy += dx * (p.value - mean_v);
  }
  if (sxx == 0) return std::nullopt;  // one timestamp: no line through it
  fit.slope_per_ms = sxy / sxx;
  fit.value_at_origin = mean_v - fit.slope_per_ms * mean_dt;
  return fit;
}

std::string format_metric_value(std::string_view metric, double value) {
  if (!std::isfinite(value)) return std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf");
  constexpr std::string_view kBytesSuffix = "_bytes";
  const bool bytes =
      metric.size() >= kBytesSuffix.size() && metric.substr(metric.size() - kBytesSuffix.size()) == kBytesSuffix;
  if (!bytes) {
    if (std::fabs(value) >= 1000 || value == std::trunc(value)) return fixed_trimmed(value, 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", value);
    return buf;
  }
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t unit = 0;
  double scaled = value;
  while (std::fabs(scaled) >= 1024 && unit + 1 < std::size(kUnits)) {
    scaled /= 1024;
    ++unit;
  }
  const double mag = std::fabs(scaled);
  const int decimals = unit == 0 || mag >= 100 ? 0 : (mag >= 10 ? 1 : 2);
  return fixed_trimmed(scaled, decimals) + " " + kUnits[unit];
}

Condition eval_threshold(const Series& s, std::string_view metric, Comparison op, double threshold, WallMs now,
                         Millis max_age) {
  const Series pts = usable_points(s, now);
  const std::string name(metric);
  if (pts.empty()) return no_data("no sample of " + name);
  const SeriesPoint& newest = pts.back();
  if (now - newest.ts_ms > max_age.count()) {
    return no_data("newest sample of " + name + " is " + format_age(newest.ts_ms, now) + " old (older than " +
                   format_duration(max_age) + ", too stale to compare)");
  }
  Condition c;
  c.value = newest.value;
  c.threshold = threshold;
  c.active = compare(newest.value, op, threshold);
  c.reason = name + " " + format_metric_value(metric, newest.value) + (c.active ? " " : " is not ") +
             std::string(to_string(op)) + " " + format_metric_value(metric, threshold);
  return c;
}

Condition eval_growth(const Series& s, std::string_view metric, WallMs started_ms, const GrowthParams& p, WallMs now) {
  const std::string name(metric);
  const WallMs baseline_end = started_ms + p.baseline_window.count();
  if (now < baseline_end) {
    return no_data("baseline of " + name + " not ready: " + format_age(now, baseline_end) + " of the " +
                   format_duration(p.baseline_window) + " window after the start still to come");
  }
  const Series pts = usable_points(s, now);
  std::vector<double> in_window;
  Series after_window;
  for (const SeriesPoint& pt : pts) {
    if (pt.ts_ms >= started_ms && pt.ts_ms <= baseline_end) in_window.push_back(pt.value);
    if (pt.ts_ms > baseline_end) after_window.push_back(pt);
  }
  if (in_window.size() < 3) {
    return no_data("only " + std::to_string(in_window.size()) + " samples of " + name + " in the " +
                   format_duration(p.baseline_window) + " baseline window after the start (need 3)");
  }
  const double baseline = median(std::move(in_window));
  if (!(baseline > 0)) {
    return no_data("baseline of " + name + " is " + format_metric_value(metric, baseline) +
                   "; growth is measured against a positive baseline");
  }
  // The middle of the newest three: one spike (or one dip) does not move it.
  const double current = median({pts[pts.size() - 3].value, pts[pts.size() - 2].value, pts.back().value});
  // Multiply before dividing so that round limits (110 over 100 at 10 %) stay exact.
  const double growth_percent = (current - baseline) * 100.0 / baseline;

  Condition c;
  c.value = current;
  c.threshold = baseline * (1.0 + p.max_growth_percent / 100.0);
  c.active = growth_percent > p.max_growth_percent;
  c.reason = name + " " + format_metric_value(metric, current) + " is " + format_percent(std::fabs(growth_percent)) +
             (growth_percent >= 0 ? " above" : " below") + " its baseline " + format_metric_value(metric, baseline) +
             " (limit " + format_percent(p.max_growth_percent) + ")";
  if (auto fit = fit_line(after_window)) {
    c.slope_per_hour = fit->slope_per_ms * kMsPerHour;
    c.reason += ", " + format_rate(metric, *c.slope_per_hour);
  }
  return c;
}

Condition eval_forecast(const Series& s, std::string_view metric, const ForecastParams& p, WallMs now) {
  const std::string name(metric);
  Series pts = usable_points(s, now);
  const WallMs window_start = now - p.window.count();
  pts.erase(pts.begin(),
            std::find_if(pts.begin(), pts.end(), [&](const SeriesPoint& pt) { return pt.ts_ms >= window_start; }));
  if (pts.size() < 5) {
    return no_data("only " + std::to_string(pts.size()) + " samples of " + name + " in the last " +
                   format_duration(p.window) + " (need 5 to forecast)");
  }
  const WallMs span = pts.back().ts_ms - pts.front().ts_ms;
  if (span < p.window.count() / 4) {
    return no_data("samples of " + name + " span " + format_rough_duration(static_cast<double>(span) / 1000.0) +
                   " of the " + format_duration(p.window) + " window (need a quarter of it to forecast)");
  }
  const std::optional<LinearFit> fit = fit_line(pts);
  if (!fit) return no_data("samples of " + name + " all share one timestamp; no trend to forecast");

  Condition c;
  c.value = pts.back().value;
  c.threshold = p.limit;
  c.slope_per_hour = fit->slope_per_ms * kMsPerHour;
  const std::string limit_text = format_metric_value(metric, p.limit);
  const std::string rate_text = format_rate(metric, *c.slope_per_hour);
  const double start_value = fit->at(pts.front().ts_ms);
  const double now_value = fit->at(now);

  const bool crossed = now_value == p.limit || (start_value < p.limit && now_value > p.limit) ||
                       (start_value > p.limit && now_value < p.limit);
  if (crossed) {
    c.active = true;
    c.seconds_to_limit = 0.0;
    c.reason = name + " crossed " + limit_text + " within the last " + format_duration(p.window) + " (now " +
               format_metric_value(metric, pts.back().value) + "), " + rate_text;
    return c;
  }
  const double gap = p.limit - now_value;
  const bool toward = (gap > 0 && fit->slope_per_ms > 0) || (gap < 0 && fit->slope_per_ms < 0);
  if (!toward) {
    c.reason = name + " " + format_metric_value(metric, now_value) + " is not moving toward " + limit_text + " (" +
               rate_text + ")";
    return c;
  }
  const double ms_to_limit = gap / fit->slope_per_ms;
  c.seconds_to_limit = ms_to_limit / 1000.0;
  c.active = ms_to_limit <= static_cast<double>(p.horizon.count());
  c.reason = name + " will reach " + limit_text + " in " + format_rough_duration(*c.seconds_to_limit) +
             (c.active ? " (limit within " + format_duration(p.horizon) + ")"
                       : ", beyond the " + format_duration(p.horizon) + " horizon") +
             ", " + rate_text;
  return c;
}

Condition eval_absence(const Series& s, std::string_view metric, Millis for_duration, WallMs watched_since,
                       WallMs now) {
  const std::string name(metric);
  const Series pts = usable_points(s, now);
  Condition c;
  c.threshold = static_cast<double>(for_duration.count()) / 1000.0;
  const std::string limit = " (limit " + format_duration(for_duration) + ")";
  if (pts.empty()) {
    const WallMs silent = now - watched_since;
    c.value = static_cast<double>(silent) / 1000.0;
    c.active = silent >= for_duration.count();
    c.reason = "no sample of " + name + " since watching began " + format_age(watched_since, now) + " ago" + limit;
    return c;
  }
  const WallMs age = now - pts.back().ts_ms;
  c.value = static_cast<double>(age) / 1000.0;
  c.active = age >= for_duration.count();
  c.reason = c.active ? "no sample of " + name + " for " + format_age(pts.back().ts_ms, now) + limit
                      : "newest sample of " + name + " is " + format_age(pts.back().ts_ms, now) + " old" + limit;
  return c;
}

}  // namespace vigil
