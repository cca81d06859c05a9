#define BOOST_TEST_MODULE alerting_rules
#include "alerting/rules.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>

using namespace vigil;

namespace {

constexpr WallMs kT0 = 1'800'000'000'000;  // 2027, as a daemon would see it
constexpr WallMs kSec = 1000;
constexpr WallMs kMin = 60 * kSec;
constexpr WallMs kHour = 60 * kMin;
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = 1024.0 * kMiB;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// One point every `step` from `from` to `to` inclusive, valued by `f(ts)`.
Series make_series(WallMs from, WallMs to, WallMs step, const std::function<double(WallMs)>& f) {
  Series s;
  for (WallMs ts = from; ts <= to; ts += step) s.push_back({ts, f(ts)});
  return s;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Deterministic pseudo-noise in [-amplitude, amplitude] (an LCG, so the test
// is the same on every run and machine).
struct Noise {
  std::uint64_t state = 12345;
  double next(double amplitude) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double unit = static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53);  // [0, 1)
    return (unit * 2 - 1) * amplitude;
  }
};

}  // namespace

// ---- comparison ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(comparison_names_round_trip) {
  for (auto op :
       {Comparison::kGt, Comparison::kGe, Comparison::kLt, Comparison::kLe, Comparison::kEq, Comparison::kNe}) {
    BOOST_TEST((parse_kind<Comparison>(to_string(op)).value() == op));
  }
  for (const char* bad : {"", "=", "=>", "=<", "<>", "gt", ">>", "> ="}) BOOST_TEST(!parse_kind<Comparison>(bad));
}

BOOST_AUTO_TEST_CASE(threshold_exactly_at_the_threshold_for_each_operator) {
  const Series s = {{kT0, 3.0}, {kT0 + kSec, 4.0}};
  const WallMs now = kT0 + 2 * kSec;
  const Millis max_age{60'000};
  BOOST_TEST(!eval_threshold(s, "node_load1", Comparison::kGt, 4.0, now, max_age).active);
  BOOST_TEST(eval_threshold(s, "node_load1", Comparison::kGe, 4.0, now, max_age).active);
  BOOST_TEST(!eval_threshold(s, "node_load1", Comparison::kLt, 4.0, now, max_age).active);
  BOOST_TEST(eval_threshold(s, "node_load1", Comparison::kLe, 4.0, now, max_age).active);
  BOOST_TEST(eval_threshold(s, "node_load1", Comparison::kEq, 4.0, now, max_age).active);
  BOOST_TEST(!eval_threshold(s, "node_load1", Comparison::kNe, 4.0, now, max_age).active);
}

BOOST_AUTO_TEST_CASE(threshold_compares_the_newest_point) {
  const Series s = {{kT0, 9.0}, {kT0 + kSec, 7.5}};
  Condition c = eval_threshold(s, "node_load1", Comparison::kGt, 4.0, kT0 + 2 * kSec, Millis{60'000});
  BOOST_TEST(c.active);
  BOOST_TEST(!c.no_data);
  BOOST_TEST(*c.value == 7.5);
  BOOST_TEST(*c.threshold == 4.0);
  BOOST_TEST(contains(c.reason, "node_load1 7.5 > 4"), c.reason);

  c = eval_threshold(s, "node_load1", Comparison::kGt, 8.0, kT0 + 2 * kSec, Millis{60'000});
  BOOST_TEST(!c.active);
  BOOST_TEST(!c.no_data);
  BOOST_TEST(contains(c.reason, "is not >"), c.reason);
}

BOOST_AUTO_TEST_CASE(threshold_without_fresh_data_is_no_data) {
  const Millis max_age{5 * 60'000};
  Condition c = eval_threshold({}, "up", Comparison::kLt, 1.0, kT0, max_age);
  BOOST_TEST(c.no_data);
  BOOST_TEST(!c.active);

  const Series s = {{kT0, 0.0}};
  c = eval_threshold(s, "up", Comparison::kLt, 1.0, kT0 + 5 * kMin, max_age);  // exactly max_age old: still usable
  BOOST_TEST(!c.no_data);
  BOOST_TEST(c.active);
  c = eval_threshold(s, "up", Comparison::kLt, 1.0, kT0 + 5 * kMin + 1, max_age);
  BOOST_TEST(c.no_data);
  BOOST_TEST(!c.active);
  BOOST_TEST(contains(c.reason, "5m"), c.reason);
}

BOOST_AUTO_TEST_CASE(threshold_skips_nan_inf_and_future_points) {
  const Series s = {{kT0, 2.0}, {kT0 + kSec, kNaN}, {kT0 + 2 * kSec, kInf}, {kT0 + 10 * kSec, 100.0}};
  Condition c = eval_threshold(s, "x", Comparison::kGt, 5.0, kT0 + 3 * kSec, Millis{60'000});
  BOOST_TEST(!c.no_data);
  BOOST_TEST(!c.active);
  BOOST_TEST(*c.value == 2.0);

  c = eval_threshold({{kT0, kNaN}}, "x", Comparison::kGt, 5.0, kT0, Millis{60'000});
  BOOST_TEST(c.no_data);
}

BOOST_AUTO_TEST_CASE(threshold_reason_shows_bytes_in_binary_units) {
  const Series s = {{kT0, 612 * kMiB}};
  Condition c = eval_threshold(s, "process_resident_memory_bytes", Comparison::kGt, 512 * kMiB, kT0, Millis{1000});
  BOOST_TEST(c.active);
  BOOST_TEST(contains(c.reason, "612 MiB > 512 MiB"), c.reason);
}

// ---- median and fit_line -------------------------------------------------

BOOST_AUTO_TEST_CASE(median_of_odd_even_and_empty) {
  BOOST_TEST(median({3.0, 1.0, 2.0}) == 2.0);
  BOOST_TEST(median({4.0, 1.0, 3.0, 2.0}) == 2.5);
  BOOST_TEST(median({7.0}) == 7.0);
  BOOST_TEST(median({500.0, 900.0, 500.0}) == 500.0);
  BOOST_TEST(std::isnan(median({})));
}

BOOST_AUTO_TEST_CASE(fit_line_needs_two_timestamps) {
  BOOST_TEST(!fit_line({}).has_value());
  BOOST_TEST(!fit_line({{kT0, 1.0}}).has_value());
  BOOST_TEST(!fit_line({{kT0, 1.0}, {kT0, 2.0}, {kT0, 3.0}}).has_value());
  BOOST_TEST(!fit_line({{kT0, 1.0}, {kT0 + kSec, kNaN}}).has_value());
}

BOOST_AUTO_TEST_CASE(fit_line_stays_accurate_at_epoch_millisecond_timestamps) {
  // 2e-6 per ms over 10 minutes at 1.8e12 ms: sum(ts^2) alone is ~1e27, where
  // a naive normal-equation fit loses the slope entirely.
  const double slope = 2e-6;
  const Series s =
      make_series(kT0, kT0 + 10 * kMin, kSec, [&](WallMs ts) { return 3.0 + slope * static_cast<double>(ts - kT0); });
  auto fit = fit_line(s);
  BOOST_TEST_REQUIRE(fit.has_value());
  BOOST_TEST(fit->n == 601u);
  BOOST_TEST(fit->slope_per_ms == slope, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(fit->at(kT0) == 3.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(fit->at(kT0 + kHour) == 3.0 + slope * static_cast<double>(kHour), boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(fit_line_with_duplicate_timestamps_and_nan) {
  // Two readings at each instant average out; the NaN is not a reading.
  const Series s = {{kT0, 0.0}, {kT0, 2.0}, {kT0 + kSec, kNaN}, {kT0 + 2 * kSec, 2.0}, {kT0 + 2 * kSec, 4.0}};
  auto fit = fit_line(s);
  BOOST_TEST_REQUIRE(fit.has_value());
  BOOST_TEST(fit->n == 4u);
  BOOST_TEST(fit->slope_per_ms == 0.001, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(fit->at(kT0) == 1.0, boost::test_tools::tolerance(1e-12));
}

// ---- growth --------------------------------------------------------------

namespace {

const GrowthParams kLeakRule{Millis{30 * 60'000}, 10.0};
constexpr std::string_view kRss = "process_resident_memory_bytes";

// Flat 500 MiB for the first 30 minutes after the start, then +10 MiB/h, one
// point a minute for 400 minutes.
Series leak_series() {
  return make_series(kT0, kT0 + 400 * kMin, kMin, [](WallMs ts) {
    const double minutes = static_cast<double>((ts - kT0) / kMin);
    return minutes <= 30 ? 500 * kMiB : 500 * kMiB + 10 * kMiB * (minutes - 30) / 60;
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(growth_leak_becomes_active_at_the_expected_minute) {
  // 10 % of 500 MiB is 50 MiB: 300 minutes of growth after minute 30. The
  // current value is the middle of the newest three (one minute behind), so
  // minute 331 sits exactly at the limit (not active) and 332 is above it.
  const Series s = leak_series();
  std::optional<long> first_active;
  for (long m = 30; m <= 400 && !first_active; ++m) {
    const Condition c = eval_growth(s, kRss, kT0, kLeakRule, kT0 + m * kMin);
    BOOST_TEST_REQUIRE(!c.no_data, "minute " << m << ": " << c.reason);
    if (c.active) first_active = m;
  }
  BOOST_TEST_REQUIRE(first_active.has_value());
  BOOST_TEST(*first_active == 332);

  const Condition at_limit = eval_growth(s, kRss, kT0, kLeakRule, kT0 + 331 * kMin);
  BOOST_TEST(!at_limit.active);
  BOOST_TEST(*at_limit.value == 550 * kMiB);
  BOOST_TEST(*at_limit.threshold == 550 * kMiB, boost::test_tools::tolerance(1e-12));

  const Condition c = eval_growth(s, kRss, kT0, kLeakRule, kT0 + 332 * kMin);
  BOOST_TEST(c.active);
  BOOST_TEST_REQUIRE(c.slope_per_hour.has_value());
  BOOST_TEST(*c.slope_per_hour == 10 * kMiB, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(contains(c.reason, "above its baseline 500 MiB"), c.reason);
  BOOST_TEST(contains(c.reason, "(limit 10 %)"), c.reason);
  BOOST_TEST(contains(c.reason, "rising 10 MiB/h"), c.reason);
}

BOOST_AUTO_TEST_CASE(growth_exactly_at_the_limit_is_not_active) {
  Series s = make_series(kT0, kT0 + 30 * kMin, kMin, [](WallMs) { return 100.0; });
  for (int i = 1; i <= 3; ++i) s.push_back({kT0 + (30 + i) * kMin, 110.0});
  Condition c = eval_growth(s, "open_fds", kT0, kLeakRule, kT0 + 33 * kMin);
  BOOST_TEST(!c.no_data);
  BOOST_TEST(!c.active, c.reason);
  BOOST_TEST(contains(c.reason, "10 % above its baseline 100"), c.reason);

  s.push_back({kT0 + 34 * kMin, 110.5});
  s.push_back({kT0 + 35 * kMin, 110.5});
  c = eval_growth(s, "open_fds", kT0, kLeakRule, kT0 + 35 * kMin);
  BOOST_TEST(c.active, c.reason);
}

BOOST_AUTO_TEST_CASE(growth_one_spike_does_not_fire) {
  Series s = make_series(kT0, kT0 + 60 * kMin, kMin, [](WallMs) { return 500 * kMiB; });
  s.push_back({kT0 + 61 * kMin, 900 * kMiB});
  s.push_back({kT0 + 62 * kMin, 500 * kMiB});
  s.push_back({kT0 + 63 * kMin, 500 * kMiB});
  for (long m : {61L, 62L, 63L}) {
    const Condition c = eval_growth(s, kRss, kT0, kLeakRule, kT0 + m * kMin);
    BOOST_TEST(!c.active, "minute " << m << ": " << c.reason);
    BOOST_TEST(*c.value == 500 * kMiB);
  }
}

BOOST_AUTO_TEST_CASE(growth_is_no_data_until_the_baseline_is_ready) {
  const Series s = leak_series();
  Condition c = eval_growth(s, kRss, kT0, kLeakRule, kT0 + 29 * kMin);
  BOOST_TEST(c.no_data);
  BOOST_TEST(!c.active);
  BOOST_TEST(contains(c.reason, "1m"), c.reason);  // how long until ready

  // Only two samples in the window (a slow scrape, or NaN reads).
  const Series sparse = {{kT0 + kMin, 1.0},      {kT0 + 2 * kMin, kNaN}, {kT0 + 20 * kMin, 1.0},
                         {kT0 + 40 * kMin, 9.0}, {kT0 + 41 * kMin, 9.0}, {kT0 + 42 * kMin, 9.0}};
  c = eval_growth(sparse, "x", kT0, kLeakRule, kT0 + 42 * kMin);
  BOOST_TEST(c.no_data);
  BOOST_TEST(!c.active);
  BOOST_TEST(contains(c.reason, "only 2 samples"), c.reason);
}

BOOST_AUTO_TEST_CASE(growth_from_a_zero_baseline_is_no_data) {
  Series s = make_series(kT0, kT0 + 30 * kMin, kMin, [](WallMs) { return 0.0; });
  for (int i = 1; i <= 3; ++i) s.push_back({kT0 + (30 + i) * kMin, 5.0});
  const Condition c = eval_growth(s, "queue_length", kT0, kLeakRule, kT0 + 33 * kMin);
  BOOST_TEST(c.no_data);
  BOOST_TEST(!c.active);
  BOOST_TEST(!c.value.has_value());
  BOOST_TEST(contains(c.reason, "baseline"), c.reason);
}

BOOST_AUTO_TEST_CASE(growth_baseline_starts_at_the_restart) {
  // Before the restart the process sat at 900 MiB; the baseline must not see
  // it, or growth from the new 500 MiB would read as shrinking.
  Series s = make_series(kT0 - 60 * kMin, kT0 - kMin, kMin, [](WallMs) { return 900 * kMiB; });
  Series after = make_series(kT0, kT0 + 40 * kMin, kMin,
                             [](WallMs ts) { return ts <= kT0 + 30 * kMin ? 500 * kMiB : 600 * kMiB; });
  s.insert(s.end(), after.begin(), after.end());
  const Condition c = eval_growth(s, kRss, kT0, kLeakRule, kT0 + 40 * kMin);
  BOOST_TEST(!c.no_data);
  BOOST_TEST(c.active, c.reason);
  BOOST_TEST(contains(c.reason, "20 % above its baseline 500 MiB"), c.reason);
}

// ---- forecast ------------------------------------------------------------

namespace {

constexpr std::string_view kDisk = "node_filesystem_used_bytes";
const ForecastParams kDiskFull{Millis{6 * 3'600'000}, Millis{24 * 3'600'000}, 100 * kGiB};

}  // namespace

BOOST_AUTO_TEST_CASE(forecast_disk_full_with_noise_predicts_the_crossing) {
  // 50 GiB + 1 GiB/h with +-0.25 GiB of noise; at hour 30 the true value is
  // 80 GiB and the disk is full 20 h later.
  Noise noise;
  const Series s = make_series(kT0, kT0 + 30 * kHour, kMin, [&](WallMs ts) {
    return 50 * kGiB + kGiB * static_cast<double>(ts - kT0) / static_cast<double>(kHour) + noise.next(0.25 * kGiB);
  });
  const WallMs now = kT0 + 30 * kHour;
  Condition c = eval_forecast(s, kDisk, kDiskFull, now);
  BOOST_TEST(!c.no_data);
  BOOST_TEST(c.active, c.reason);
  BOOST_TEST_REQUIRE(c.seconds_to_limit.has_value());
  BOOST_TEST(*c.seconds_to_limit == 20.0 * 3600, boost::test_tools::tolerance(0.03));
  BOOST_TEST(*c.slope_per_hour == kGiB, boost::test_tools::tolerance(0.03));
  BOOST_TEST(*c.threshold == 100 * kGiB);
  BOOST_TEST(contains(c.reason, "will reach 100 GiB in"), c.reason);
  BOOST_TEST(contains(c.reason, "(limit within 1d)"), c.reason);

  // The same trend with a 12 h horizon: predicted, not active.
  ForecastParams short_horizon = kDiskFull;
  short_horizon.horizon = Millis{12 * 3'600'000};
  c = eval_forecast(s, kDisk, short_horizon, now);
  BOOST_TEST(!c.active, c.reason);
  BOOST_TEST_REQUIRE(c.seconds_to_limit.has_value());
  BOOST_TEST(*c.seconds_to_limit == 20.0 * 3600, boost::test_tools::tolerance(0.03));
  BOOST_TEST(contains(c.reason, "beyond the 12h horizon"), c.reason);
}

BOOST_AUTO_TEST_CASE(forecast_falling_toward_a_lower_limit) {
  // Free space 50 GiB falling 2 GiB/h; at hour 6 it is 38 GiB, 14 h from 10 GiB.
  const Series s = make_series(kT0, kT0 + 6 * kHour, kMin, [](WallMs ts) {
    return 50 * kGiB - 2 * kGiB * static_cast<double>(ts - kT0) / static_cast<double>(kHour);
  });
  const ForecastParams p{Millis{6 * 3'600'000}, Millis{24 * 3'600'000}, 10 * kGiB};
  const Condition c = eval_forecast(s, "node_filesystem_avail_bytes", p, kT0 + 6 * kHour);
  BOOST_TEST(c.active, c.reason);
  BOOST_TEST(*c.seconds_to_limit == 14.0 * 3600, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(*c.slope_per_hour == -2 * kGiB, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(contains(c.reason, "falling 2 GiB/h"), c.reason);
  BOOST_TEST(contains(c.reason, "14h"), c.reason);
}

BOOST_AUTO_TEST_CASE(forecast_flat_or_moving_away_never_reaches) {
  const WallMs now = kT0 + 6 * kHour;
  const Series flat = make_series(kT0, now, kMin, [](WallMs) { return 80 * kGiB; });
  Condition c = eval_forecast(flat, kDisk, kDiskFull, now);
  BOOST_TEST(!c.no_data);
  BOOST_TEST(!c.active);
  BOOST_TEST(!c.seconds_to_limit.has_value());
  BOOST_TEST(*c.slope_per_hour == 0.0);
  BOOST_TEST(contains(c.reason, "not moving toward 100 GiB"), c.reason);

  // Shrinking while the limit is above: moving away.
  const Series shrinking = make_series(kT0, now, kMin, [](WallMs ts) {
    return 80 * kGiB - kGiB * static_cast<double>(ts - kT0) / static_cast<double>(kHour);
  });
  c = eval_forecast(shrinking, kDisk, kDiskFull, now);
  BOOST_TEST(!c.active);
  BOOST_TEST(!c.seconds_to_limit.has_value());
}

BOOST_AUTO_TEST_CASE(forecast_already_past_the_limit_is_active) {
  // 90 -> 110 GiB over the window: the line crossed 100 GiB inside it.
  const WallMs now = kT0 + 6 * kHour;
  const Series s = make_series(kT0, now, kMin, [](WallMs ts) {
    return 90 * kGiB + 20 * kGiB * static_cast<double>(ts - kT0) / static_cast<double>(6 * kHour);
  });
  const Condition c = eval_forecast(s, kDisk, kDiskFull, now);
  BOOST_TEST(c.active, c.reason);
  BOOST_TEST(*c.seconds_to_limit == 0.0);
  BOOST_TEST(contains(c.reason, "crossed 100 GiB"), c.reason);
}

BOOST_AUTO_TEST_CASE(forecast_needs_enough_points_over_enough_time) {
  const WallMs now = kT0 + 6 * kHour;
  // Four points: too few.
  Series s = {{now - 3 * kHour, 1.0}, {now - 2 * kHour, 2.0}, {now - kHour, 3.0}, {now, 4.0}};
  Condition c = eval_forecast(s, "x", ForecastParams{Millis{6 * 3'600'000}, Millis{3'600'000}, 5.0}, now);
  BOOST_TEST(c.no_data);
  BOOST_TEST(!c.active);
  BOOST_TEST(contains(c.reason, "only 4 samples"), c.reason);

  // Many points, but only the last 30 minutes of a 6 h window (needs 1h30m).
  s = make_series(now - 30 * kMin, now, kMin, [](WallMs ts) { return static_cast<double>(ts - kT0); });
  c = eval_forecast(s, "x", ForecastParams{Millis{6 * 3'600'000}, Millis{3'600'000}, 1e300}, now);
  BOOST_TEST(c.no_data);
  BOOST_TEST(!c.active);

  // Points before the window do not count, NaN points do not count.
  s = make_series(kT0 - 10 * kHour, kT0 - kHour, kMin, [](WallMs) { return 1.0; });
  for (int i = 0; i < 10; ++i) s.push_back({kT0 + i * kHour / 2, kNaN});
  c = eval_forecast(s, "x", ForecastParams{Millis{6 * 3'600'000}, Millis{3'600'000}, 5.0}, now);
  BOOST_TEST(c.no_data);
  BOOST_TEST(contains(c.reason, "only 0 samples"), c.reason);
}

// ---- absence -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(absence_before_and_after_for) {
  const Series s = make_series(kT0, kT0 + 10 * kMin, 15 * kSec, [](WallMs) { return 1.0; });
  const Millis five_min{5 * 60'000};
  Condition c = eval_absence(s, "up", five_min, kT0, kT0 + 14 * kMin);
  BOOST_TEST(!c.active, c.reason);
  BOOST_TEST(!c.no_data);
  BOOST_TEST(*c.value == 240.0);
  BOOST_TEST(*c.threshold == 300.0);

  c = eval_absence(s, "up", five_min, kT0, kT0 + 15 * kMin);  // exactly `for` without a sample
  BOOST_TEST(c.active, c.reason);
  c = eval_absence(s, "up", five_min, kT0, kT0 + 20 * kMin);
  BOOST_TEST(c.active);
  BOOST_TEST(*c.value == 600.0);
  BOOST_TEST(contains(c.reason, "no sample of up for 10m"), c.reason);
}

BOOST_AUTO_TEST_CASE(absence_of_a_series_never_seen_counts_from_watched_since) {
  const Millis five_min{5 * 60'000};
  Condition c = eval_absence({}, "up", five_min, kT0, kT0 + 4 * kMin);
  BOOST_TEST(!c.active);
  BOOST_TEST(!c.no_data);
  c = eval_absence({}, "up", five_min, kT0, kT0 + 5 * kMin);
  BOOST_TEST(c.active, c.reason);
  BOOST_TEST(contains(c.reason, "since watching began 5m ago"), c.reason);

  // NaN points (staleness markers) and points after `now` are not samples.
  const Series s = {{kT0 + kMin, kNaN}, {kT0 + 2 * kMin, kNaN}, {kT0 + 9 * kMin, 1.0}};
  c = eval_absence(s, "up", five_min, kT0, kT0 + 6 * kMin);
  BOOST_TEST(c.active, c.reason);
}

// ---- formatting ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(format_metric_value_by_name) {
  BOOST_TEST(format_metric_value("process_resident_memory_bytes", 612 * kMiB) == "612 MiB");
  BOOST_TEST(format_metric_value("x_bytes", 1.5 * kGiB) == "1.5 GiB");
  BOOST_TEST(format_metric_value("x_bytes", 31.26 * kMiB) == "31.3 MiB");
  BOOST_TEST(format_metric_value("x_bytes", 100.0) == "100 B");
  BOOST_TEST(format_metric_value("x_bytes", -2 * kGiB) == "-2 GiB");
  BOOST_TEST(format_metric_value("bytes_total", 2048.0) == "2048");  // only the _bytes suffix
  BOOST_TEST(format_metric_value("node_load1", 0.75) == "0.75");
  BOOST_TEST(format_metric_value("node_load1", 4.0) == "4");
}

BOOST_AUTO_TEST_CASE(format_rough_duration_keeps_two_units) {
  BOOST_TEST(format_rough_duration(45) == "45s");
  BOOST_TEST(format_rough_duration(330) == "5m 30s");
  BOOST_TEST(format_rough_duration(6 * 3600 + 12 * 60 + 7) == "6h 12m");
  BOOST_TEST(format_rough_duration(2 * 86400) == "2d");
  BOOST_TEST(format_rough_duration(3 * 86400 + 4 * 3600 + 59) == "3d 4h");
  BOOST_TEST(format_rough_duration(1e300) == "a very long time");
  // Short spans keep their precision: an incident of 210 ms did not last "0s".
  BOOST_TEST(format_rough_duration(0.21) == "210ms");
  BOOST_TEST(format_rough_duration(0) == "0ms");
  BOOST_TEST(format_rough_duration(1.54) == "1.5s");
  BOOST_TEST(format_rough_duration(2.0) == "2s");
  BOOST_TEST(format_rough_duration(9.96) == "10s");
}
