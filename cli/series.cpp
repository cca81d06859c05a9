// vigil series: the stored series, by metric glob.
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace vigil::cli {

namespace {

int cmd_series(const Options& c, const std::string& match) {
  Format f = c.parsed_format();
  StoreReader store = c.open();
  auto series = must(store.series(match));
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& s : series) out.push_back({{"metric", s.key.metric}, {"labels", labels_json(s.key.labels)}});
    std::cout << out.dump(2) << "\n";
  } else if (f == Format::kCsv) {
    std::cout << "metric,labels\n";
    for (const auto& s : series) std::cout << csv_field(s.key.metric) << "," << csv_field(s.key.labels_text()) << "\n";
  } else {
    for (const auto& s : series) std::cout << s.key.canonical() << "\n";
    if (series.empty()) std::cerr << "no series match \"" << match << "\"\n";
  }
  return 0;
}

}  // namespace

Command add_series(CLI::App& app, const Options& options) {
  auto match = std::make_shared<std::string>("*");
  auto* sub = app.add_subcommand("series", "List the stored series");
  sub->add_option("--match", *match, "Glob over metric names (default *)");
  return {sub, [&options, match] { return cmd_series(options, *match); }};
}

}  // namespace vigil::cli
