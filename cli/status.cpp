// vigil status: is vigild running, how fresh the data is, the latest values per target.
#include <cmath>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "cli/current.hpp"
#include "cli/output.hpp"

namespace vigil::cli {

namespace {

// The columns of the per-target table: a process_* series and its heading.
const std::vector<std::pair<std::string, std::string>>& columns() {
  static const std::vector<std::pair<std::string, std::string>> c = {{"process_count", "PROCS"},
                                                                     {"process_resident_memory_bytes", "RSS"},
                                                                     {"process_cpu_seconds_total", "CPU%"},
                                                                     {"process_threads", "THREADS"},
                                                                     {"process_open_fds", "FDS"},
                                                                     {"process_start_time_seconds", "STARTED"}};
  return c;
}

struct TargetRow {
  std::map<std::string, double> values;  // metric -> latest value; none but the count without a process
  std::string problem;                   // why it has no process, from its newest target_* event
  bool removed = false;                  // not in the configuration vigild last started with
};

struct Status {
  Current current;
  std::uint64_t samples = 0;
  std::size_t series = 0;
  std::map<std::string, TargetRow> targets;
};

// What a target_* event says of the process: "" once it is found again.
void apply_target_event(TargetRow& row, const Event& e) {
  switch (e.kind) {
    case EventKind::kTargetAppeared:
    case EventKind::kTargetRestarted:
      row.problem.clear();
      break;
    case EventKind::kTargetCrashed:
    case EventKind::kTargetVanished:
      // "gone" says less than a problem seen in the same round (the pidfile's).
      if (!row.problem.empty()) break;
      [[fallthrough]];
    case EventKind::kTargetProblem:
    case EventKind::kTargetStartFailed: {
      const std::string prefix = "target " + e.target + ": ";
      row.problem = e.message.rfind(prefix, 0) == 0 ? e.message.substr(prefix.size()) : e.message;
      break;
    }
    default:
      break;
  }
}

// CPU % of one core over the last minute of a process_cpu_seconds_total series.
std::optional<double> cpu_percent(StoreReader& store, const SeriesKey& key, WallMs now) {
  auto pts = must(store.query(key.metric, key.labels, now - 60'000, now));
  if (pts.empty() || pts[0].points.size() < 2) return std::nullopt;
  const auto& a = pts[0].points.front();
  const auto& b = pts[0].points.back();
  if (b.ts_ms <= a.ts_ms || b.value < a.value) return std::nullopt;
  return (b.value - a.value) / (static_cast<double>(b.ts_ms - a.ts_ms) / 1000.0) * 100.0;
}

Status read_status(const Options& c, bool all, WallMs now) {
  Status st;
  StoreReader store = c.open();
  st.current = read_current(store, c.db_path());
  st.samples = must(store.sample_count());
  const auto all_series = must(store.series("*"));
  st.series = all_series.size();
  if (st.current.targets) {
    for (const auto& t : *st.current.targets) st.targets[t];
  }
  // Latest values per target, from its own process_* series (labelled with the target alone).
  for (const auto& s : all_series) {
    if (s.key.labels.size() != 1 || s.key.labels[0].first != "target") continue;
    const std::string& target = s.key.labels[0].second;
    if (st.current.target_removed(target) && !all) continue;
    for (const auto& [metric, _] : columns()) {
      if (s.key.metric != metric) continue;
      if (metric == "process_cpu_seconds_total") {
        if (auto pct = cpu_percent(store, s.key, now)) st.targets[target].values[metric] = *pct;
      } else if (auto p = must(store.latest(s.id))) {
        st.targets[target].values[metric] = p->value;
      }
    }
  }
  for (auto& [target, row] : st.targets) {
    row.removed = st.current.target_removed(target);
    // A process that is gone has no memory, threads or fds: its last ones are history.
    auto count = row.values.find("process_count");
    if (count != row.values.end() && count->second == 0) row.values = {{"process_count", 0}};
  }
  // Why a target has no process: its target_* events of vigild's last run.
  EventQuery q;
  q.kind = "target_*";
  q.since = st.current.started_ms.value_or(0);
  for (const auto& e : must(store.events(q))) {
    auto it = st.targets.find(e.target);
    if (it != st.targets.end()) apply_target_event(it->second, e);
  }
  return st;
}

void print_json(const Status& st, WallMs now) {
  const Current& c = st.current;
  json j;
  j["running"] = c.running();
  if (c.pid) j["pid"] = *c.pid;
  j["database"] = c.db_path;
  if (c.last_daemon) {
    j["last_daemon_event"] = {{"kind", to_string(c.last_daemon->kind)},
                              {"ts", c.last_daemon->ts_ms},
                              {"time", format_rfc3339_ms(c.last_daemon->ts_ms)}};
  }
  j["samples"] = st.samples;
  j["series"] = st.series;
  if (c.last_sample) {
    j["last_sample_ms"] = *c.last_sample;
    j["last_sample_age_seconds"] = static_cast<double>(now - *c.last_sample) / 1000.0;
  }
  json targets = json::object();
  for (const auto& [t, row] : st.targets) {
    targets[t] = {{"values", row.values},
                  {"problem", row.problem.empty() ? json(nullptr) : json(row.problem)},
                  {"removed", row.removed}};
  }
  j["targets"] = targets;
  std::cout << j.dump(2) << "\n";
}

std::string cell(const std::string& metric, double value) {
  if (metric == "process_resident_memory_bytes") return human_bytes(value);
  if (metric == "process_cpu_seconds_total") {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f", value);
    return buf;
  }
  if (metric == "process_start_time_seconds") {
    return format_rfc3339_ms(static_cast<WallMs>(value * 1000)).substr(0, 19) + "Z";
  }
  return format_value(value);
}

void print_text(const Status& st, WallMs now) {
  const Current& c = st.current;
  const auto& d = c.last_daemon;
  if (c.pid) {
    std::cout << "vigild: running (PID " << *c.pid << ")";
    if (d && d->kind == EventKind::kDaemonStart) {
      std::cout << " since " << format_rfc3339_ms(d->ts_ms) << " (" << ago(d->ts_ms, now) << ")";
    }
    std::cout << "\n";
  } else if (d && d->kind == EventKind::kDaemonStop) {
    std::cout << "vigild: not running; stopped cleanly at " << format_rfc3339_ms(d->ts_ms) << " (" << ago(d->ts_ms, now)
              << ")\n";
  } else {
    std::cout << "vigild: not running; it did not stop cleanly (crashed or killed)";
    if (c.last_sample) std::cout << "; last sample " << format_rfc3339_ms(*c.last_sample);
    std::cout << "\n";
  }
  std::cout << "store: " << c.db_path << ", " << st.series << " series, " << st.samples << " samples\n";
  if (c.last_sample) {
    std::cout << "last sample: " << format_rfc3339_ms(*c.last_sample) << " (" << ago(*c.last_sample, now) << ")\n";
  } else {
    std::cout << "last sample: none\n";
  }
  if (st.targets.empty()) return;
  std::vector<std::string> header = {"TARGET"};
  for (const auto& [_, h] : columns()) header.push_back(h);
  header.push_back("NOTE");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [t, row] : st.targets) {
    std::vector<std::string> cells = {t};
    for (const auto& [metric, _] : columns()) {
      auto it = row.values.find(metric);
      cells.push_back(it == row.values.end() ? "-" : cell(metric, it->second));
    }
    std::string note = row.removed ? "no longer watched" : row.problem;
    cells.push_back(note.empty() ? "-" : note);
    rows.push_back(std::move(cells));
  }
  std::cout << "\n";
  if (!c.running()) std::cout << c.stale_header("the values below are", now) << "\n";
  print_table(header, rows);
}

int cmd_status(const Options& c, bool all) {
  const Format f = c.parsed_format({Format::kTable, Format::kJson});
  const WallMs now = wall_now_ms();
  const Status st = read_status(c, all, now);
  if (f == Format::kJson) {
    print_json(st, now);
  } else {
    print_text(st, now);
  }
  return st.current.running() ? 0 : 1;
}

}  // namespace

Command add_status(CLI::App& app, const Options& options) {
  auto* sub =
      app.add_subcommand("status", "Is vigild running, since when, how fresh the data is, latest values per target");
  auto all = std::make_shared<bool>(false);
  sub->add_flag("--all", *all, "Also the targets no longer in the configuration, marked as removed");
  return {sub, [&options, all] { return cmd_status(options, *all); }};
}

}  // namespace vigil::cli
