// vigil checks: each check's state, since when and why, and its latency.
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/current.hpp"
#include "cli/output.hpp"
#include "probes/checks/hysteresis.hpp"

namespace vigil::cli {

namespace {

struct Row {
  std::string target, check, state = "unknown", reason;
  std::optional<WallMs> state_ts, since;
  std::optional<double> last_up;
  std::optional<WallMs> last_ts;
  bool flapping = false;
  bool removed = false;  // not in the configuration vigild last started with
  std::vector<double> durations;
};
using Rows = std::map<std::pair<std::string, std::string>, Row>;  // by (target, check)

constexpr const char* kCsvHeader =
    "target,check,state,since_ms,last_up,last_ms,flapping,p50_seconds,p99_seconds,reason,removed\n";

// The newest point of every series of `metric` (one row each, however long
// the history), of one target or all.
std::vector<SeriesPoints> newest(StoreReader& store, const std::string& metric, const std::string& target) {
  std::vector<SeriesPoints> out;
  for (auto& info : must(store.series(metric))) {
    if (info.key.metric != metric) continue;
    if (!target.empty() && label_of(info.key.labels, "target") != target) continue;
    auto p = must(store.latest(info.id));
    if (p) out.push_back(SeriesPoints{std::move(info), {*p}, {}});
  }
  return out;
}

// Each check's state from the store: its check_state series (written at
// each change), the last transition event (since when, and why), check_up's
// newest point and the run durations of the last hour.
Rows read_rows(StoreReader& store, const std::string& target, WallMs now) {
  Rows rows;
  auto row_for = [&](const Labels& labels) -> Row& {
    auto key = std::make_pair(label_of(labels, "target"), label_of(labels, "check"));
    Row& r = rows[key];
    r.target = key.first;
    r.check = key.second;
    return r;
  };
  for (const auto& s : newest(store, "check_state", target)) {
    Row& r = row_for(s.series.key.labels);
    r.state = std::string(to_string(static_cast<CheckState>(static_cast<int>(s.points.back().value))));
    r.state_ts = s.points.back().ts_ms;
  }
  for (const auto& s : newest(store, "check_up", target)) {
    Row& r = row_for(s.series.key.labels);
    r.last_up = s.points.back().value;
    r.last_ts = s.points.back().ts_ms;
  }
  Labels filter;
  if (!target.empty()) filter.emplace_back("target", target);
  for (const auto& s : must(store.query("check_duration_seconds", filter, now - 3'600'000, now))) {
    Row& r = row_for(s.series.key.labels);
    for (const auto& p : s.points) r.durations.push_back(p.value);
  }
  EventQuery q;
  q.kind = "check_*";
  if (!target.empty()) q.target = target;
  for (const auto& e : must(store.events(q))) {  // ascending: the newest wins
    auto it = rows.find({e.target, e.check});
    if (it == rows.end()) continue;
    Row& r = it->second;
    if (e.kind == EventKind::kCheckFlapping) {
      r.flapping = true;
    } else if (e.kind == EventKind::kCheckFlappingStopped) {
      r.flapping = false;
    } else {
      r.since = e.ts_ms;
      auto details = json::parse(e.details, nullptr, false);
      r.reason = details.is_object() && details.contains("reason") ? details["reason"].get<std::string>() : e.message;
    }
  }
  return rows;
}

void print_json(const Rows& rows) {
  json out = json::array();
  for (const auto& [key, r] : rows) {
    json j = {{"target", r.target},     {"check", r.check},     {"state", r.state},
              {"flapping", r.flapping}, {"removed", r.removed}, {"reason", r.reason}};
    j["since"] = r.since ? json(format_rfc3339_ms(*r.since)) : json(nullptr);
    j["since_ms"] = r.since ? json(*r.since) : json(nullptr);
    j["last_result"] = r.last_up ? json(*r.last_up == 1 ? "ok" : "failed") : json(nullptr);
    j["last_ms"] = r.last_ts ? json(*r.last_ts) : json(nullptr);
    double p50 = percentile(r.durations, 0.5), p99 = percentile(r.durations, 0.99);
    j["latency_p50_seconds"] = std::isnan(p50) ? json(nullptr) : json(p50);
    j["latency_p99_seconds"] = std::isnan(p99) ? json(nullptr) : json(p99);
    j["runs_last_hour"] = r.durations.size();
    out.push_back(std::move(j));
  }
  std::cout << out.dump(2) << "\n";
}

void print_csv(const Rows& rows) {
  std::cout << kCsvHeader;
  for (const auto& [key, r] : rows) {
    std::cout << csv_field(r.target) << "," << csv_field(r.check) << "," << r.state << ","
              << (r.since ? std::to_string(*r.since) : "") << "," << (r.last_up ? format_value(*r.last_up) : "") << ","
              << (r.last_ts ? std::to_string(*r.last_ts) : "") << "," << (r.flapping ? "true" : "false") << ","
              << format_value(percentile(r.durations, 0.5)) << "," << format_value(percentile(r.durations, 0.99)) << ","
              << csv_field(r.reason) << "," << (r.removed ? "true" : "false") << "\n";
  }
}

void print_rows_table(const Rows& rows, WallMs now) {
  std::vector<std::vector<std::string>> table;
  for (const auto& [key, r] : rows) {
    std::string last = !r.last_up ? "-" : (*r.last_up == 1 ? "ok " : "failed ") + ago(*r.last_ts, now);
    const std::string state = r.removed ? "removed (was " + r.state + ")" : r.state + (r.flapping ? " (flapping)" : "");
    table.push_back({r.target.empty() ? "-" : r.target, r.check, state, r.since ? ago(*r.since, now) : "-", last,
                     format_ms(percentile(r.durations, 0.5)), format_ms(percentile(r.durations, 0.99)),
                     r.reason.empty() ? "-" : r.reason});
  }
  print_table({"TARGET", "CHECK", "STATE", "SINCE", "LAST", "P50", "P99", "REASON"}, table);
}

int cmd_checks(const Options& c, const std::string& target, bool all) {
  const Format f = c.parsed_format();
  StoreReader store = c.open();
  const WallMs now = wall_now_ms();
  const Current current = read_current(store, c.db_path());
  Rows rows = read_rows(store, target, now);
  // Checks a later configuration dropped are history: shown with --all only.
  for (auto it = rows.begin(); it != rows.end();) {
    it->second.removed = current.check_removed(it->second.target, it->second.check);
    it = it->second.removed && !all ? rows.erase(it) : std::next(it);
  }
  if (rows.empty() && f == Format::kTable) {
    std::cerr << "no checks in the store" << (target.empty() ? "" : " for target " + target)
              << " (are checks configured, and has vigild run?)\n";
    return 0;
  }
  if (f == Format::kJson) {
    print_json(rows);
  } else if (f == Format::kCsv) {
    print_csv(rows);
  } else {
    if (!current.running()) std::cout << current.stale_header("check states are", now) << "\n";
    print_rows_table(rows, now);
  }
  return 0;
}

}  // namespace

Command add_checks(CLI::App& app, const Options& options) {
  auto target = std::make_shared<std::string>();
  auto* sub = app.add_subcommand(
      "checks", "Each check's state, since when, last result and reason, latency p50/p99 over the last hour");
  auto all = std::make_shared<bool>(false);
  sub->add_option("--target", *target, "Only the checks of this target");
  sub->add_flag("--all", *all, "Also the checks no longer in the configuration, marked as removed");
  return {sub, [&options, target, all] { return cmd_checks(options, *target, *all); }};
}

}  // namespace vigil::cli
