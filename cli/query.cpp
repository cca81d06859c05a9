// vigil query: the samples of one metric over a time range.
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace vigil::cli {

namespace {

int cmd_query(const Options& c, const std::string& metric, const std::string& target,
              const std::vector<std::string>& label_args, const std::string& since_text,
              const std::string& until_text) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  WallMs since = time_arg("--since", since_text, now);
  WallMs until = until_text.empty() ? now : time_arg("--until", until_text, now);
  if (since > until) throw UsageError{"--since is after --until"};
  Labels filter = parse_label_args(label_args, target);
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
  auto result = must(store.query(metric, filter, since, until));
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
      out.push_back(
          {{"metric", sp.series.key.metric}, {"labels", labels_json(sp.series.key.labels)}, {"points", points}});
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
    return 0;
  }
  print_table({"TIME", "SERIES", "VALUE"}, rows);
  return 0;
}

}  // namespace

Command add_query(CLI::App& app, const Options& options) {
  struct Args {
    std::string metric, target, since = "1h", until;
    std::vector<std::string> labels;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("query", "Print the samples of one metric");
  sub->add_option("metric", a->metric, "Metric name, e.g. process_resident_memory_bytes")->required();
  sub->add_option("--target", a->target, "Only the series of this target");
  sub->add_option("--label", a->labels, "Only series with this label, NAME=VALUE (repeatable)");
  sub->add_option("--since", a->since, "Start of the range (default 1h)");
  sub->add_option("--until", a->until, "End of the range (default now)");
  return {sub, [&options, a] { return cmd_query(options, a->metric, a->target, a->labels, a->since, a->until); }};
}

}  // namespace vigil::cli
