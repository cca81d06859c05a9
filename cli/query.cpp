// vigil query: the samples of one metric over a time range, or one point per
// step (--step, --agg) through the store's one query path.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "store/rollup.hpp"

namespace vigil::cli {

namespace {

struct QueryArgs {
  std::string metric, target, since = "1h", until, step, agg;
  std::vector<std::string> labels;
};

// --step and --agg: a step of 1s or more, an aggregation by name (avg by
// default); --agg alone is an error.
void parse_step(const QueryArgs& a, RangeQuery& q) {
  if (a.step.empty()) {
    if (!a.agg.empty()) throw UsageError{"--agg needs --step (e.g. --step 1m --agg " + a.agg + ")"};
    return;
  }
  auto step = parse_duration(a.step);
  if (!step) throw UsageError{"--step: " + step.error().message};
  if (step->count() < 1000) throw UsageError{"--step: \"" + a.step + "\" is under 1s"};
  q.step_ms = step->count();
  if (a.agg.empty()) return;
  auto agg = parse_kind<Aggregation>(a.agg);
  if (!agg) throw UsageError{"--agg: \"" + a.agg + "\" is not one of " + kind_list<Aggregation>()};
  q.agg = *agg;
}

int cmd_query(const Options& c, const QueryArgs& a) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  RangeQuery q;
  q.metric = a.metric;
  q.since = time_arg("--since", a.since, now);
  q.until = a.until.empty() ? now : time_arg("--until", a.until, now);
  if (q.since > q.until) throw UsageError{"--since is after --until"};
  q.labels = parse_label_args(a.labels, a.target);
  parse_step(a, q);
  const std::string& metric = q.metric;
  const WallMs since = q.since, until = q.until;
  StoreReader store = c.open();
  auto metrics = must(store.metrics());
  if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
    std::string msg = "unknown metric \"" + metric + "\"";
    auto close = close_matches(metric, metrics, 5);
    if (!close.empty()) {
      msg += "; did you mean:";
      for (const auto& m : close) msg += "\n  " + m;
    } else {
      msg += " (vigil series lists the stored ones)";
    }
    throw UsageError{msg};
  }
  auto result = must(store.query(q));
  // A damaged chunk's samples are left out, said on stderr (vigil db check
  // lists every such chunk).
  for (const auto& sp : result) {
    for (const auto& what : sp.damaged) {
      std::cerr << "warning: " << sp.series.key.canonical() << ": " << what << "; its samples are left out\n";
    }
  }
  std::erase_if(result, [](const SeriesPoints& sp) { return sp.points.empty(); });
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& sp : result) {
      json points = json::array();
      for (const auto& p : sp.points)
        points.push_back({{"ts", p.ts_ms}, {"time", format_rfc3339_ms(p.ts_ms)}, {"value", p.value}});
      json series = {{"metric", sp.series.key.metric}, {"labels", labels_json(sp.series.key.labels)}};
      if (q.step_ms > 0) {
        // Each point is its step's start; tier_ms: the rollup tier the
        // inside steps came from (0: the samples).
        series["step_ms"] = q.step_ms;
        series["agg"] = to_string(q.agg);
        series["tier_ms"] = sp.tier_ms;
      }
      series["points"] = points;
      out.push_back(std::move(series));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (f == Format::kCsv) {
    std::cout << "metric,labels,ts_ms,time,value\n";
    for (const auto& sp : result) {
      for (const auto& p : sp.points) {
        std::cout << csv_field(sp.series.key.metric) << "," << csv_field(sp.series.key.labels_text()) << "," << p.ts_ms
                  << "," << format_rfc3339_ms(p.ts_ms) << "," << format_value(p.value) << "\n";
      }
    }
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& sp : result) {
    for (const auto& p : sp.points)
      rows.push_back({format_rfc3339_ms(p.ts_ms), sp.series.key.labels_text(), format_value(p.value)});
  }
  if (rows.empty()) {
    std::cerr << "no samples of " << metric << " match between " << format_rfc3339_ms(since) << " and "
              << format_rfc3339_ms(until) << "\n";
    // Retention may have left only the rollups of the range: say which
    // step reads them.
    for (const std::int64_t step : rollup::kTierSteps) {
      if (q.step_ms >= step) continue;
      RangeQuery coarser = q;
      coarser.step_ms = step;
      coarser.agg = Aggregation::kCount;
      auto summaries = store.query(coarser);
      if (summaries && std::any_of(summaries->begin(), summaries->end(),
                                   [](const SeriesPoints& sp) { return !sp.points.empty(); })) {
        std::cerr << "its samples are older than the store keeps them ([store] retention_raw"
                  << (step > rollup::kTierSteps.front() ? ", retention_1m" : "")
                  << "); its rollups remain: add --step " << format_duration(Millis(step))
                  << " (or a multiple)\n";
        break;
      }
    }
    return 0;
  }
  if (q.step_ms > 0) {
    // The step's start, and what was made of its samples.
    std::string agg(to_string(q.agg));
    for (char& ch : agg) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    print_table({"STEP", "SERIES", agg + " (" + format_duration(Millis(q.step_ms)) + ")"}, rows);
    return 0;
  }
  print_table({"TIME", "SERIES", "VALUE"}, rows);
  return 0;
}

}  // namespace

Command add_query(CLI::App& app, const Options& options) {
  auto a = std::make_shared<QueryArgs>();
  auto* sub = app.add_subcommand("query", "Print the samples of one metric");
  sub->add_option("metric", a->metric, "Metric name, e.g. process_resident_memory_bytes")->required();
  sub->add_option("--target", a->target, "Only the series of this target");
  sub->add_option("--label", a->labels, "Only series with this label, NAME=VALUE (repeatable)");
  sub->add_option("--since", a->since, "Start of the range (default 1h)");
  sub->add_option("--until", a->until, "End of the range (default now)");
  sub->add_option("--step", a->step,
                  "One point per step (1m, 5m, 1h, ...; aligned to the epoch, each at its step's start) instead of "
                  "every sample");
  sub->add_option("--agg", a->agg,
                  "What a step's samples make with --step: " + kind_list<Aggregation>() +
                      " (default avg; rate: a counter's increase per second)");
  return {sub, [&options, a] { return cmd_query(options, *a); }};
}

}  // namespace vigil::cli
