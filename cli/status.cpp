// vigil status: is vigild running, how fresh the data is, the latest values per target.
#include <fcntl.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/unique_fd.hpp"

namespace vigil::cli {

namespace {

namespace fs = std::filesystem;

// vigild holds a write lock on <state_dir>/vigild.pid while it runs; F_GETLK
// names the holder without taking the lock.
std::optional<int> running_pid(const std::string& db_path) {
  std::string pidfile = (fs::path(db_path).parent_path() / "vigild.pid").string();
  UniqueFd fd(::open(pidfile.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (fcntl(fd.get(), F_GETLK, &lock) != 0 || lock.l_type == F_UNLCK) return std::nullopt;
  return static_cast<int>(lock.l_pid);
}

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

struct Status {
  std::string path;
  std::optional<int> pid;
  std::optional<Event> last_daemon;  // the newest daemon_start or daemon_stop
  std::optional<WallMs> last_sample;
  std::uint64_t samples = 0;
  std::size_t series = 0;
  std::map<std::string, std::map<std::string, double>> per_target;  // target -> metric -> latest value
};

// CPU % of one core over the last minute of a process_cpu_seconds_total series.
std::optional<double> cpu_percent(StoreReader& store, const SeriesKey& key, WallMs now) {
  auto pts = must(store.query(key.metric, key.labels, now - 60'000, now));
  if (pts.empty() || pts[0].points.size() < 2) return std::nullopt;
  const auto& a = pts[0].points.front();
  const auto& b = pts[0].points.back();
  if (b.ts_ms <= a.ts_ms || b.value < a.value) return std::nullopt;
  return (b.value - a.value) / (static_cast<double>(b.ts_ms - a.ts_ms) / 1000.0) * 100.0;
}

Status read_status(const Options& c, WallMs now) {
  Status st;
  st.path = c.db_path();
  StoreReader store = c.open();
  st.pid = running_pid(st.path);
  EventQuery q;
  q.kind = "daemon_*";
  q.limit = 1;
  auto last_daemon = must(store.events(q));
  if (!last_daemon.empty()) st.last_daemon = last_daemon[0];
  st.last_sample = must(store.last_sample_ms());
  st.samples = must(store.sample_count());
  const auto all_series = must(store.series("*"));
  st.series = all_series.size();
  // Latest values per target, from its own process_* series (labelled with the target alone).
  for (const auto& s : all_series) {
    if (s.key.labels.size() != 1 || s.key.labels[0].first != "target") continue;
    const std::string& target = s.key.labels[0].second;
    for (const auto& [metric, _] : columns()) {
      if (s.key.metric != metric) continue;
      if (metric == "process_cpu_seconds_total") {
        if (auto pct = cpu_percent(store, s.key, now)) st.per_target[target][metric] = *pct;
      } else if (auto p = must(store.latest(s.id))) {
        st.per_target[target][metric] = p->value;
      }
    }
  }
  return st;
}

void print_json(const Status& st, WallMs now) {
  json j;
  j["running"] = st.pid.has_value();
  if (st.pid) j["pid"] = *st.pid;
  j["database"] = st.path;
  if (st.last_daemon) {
    j["last_daemon_event"] = {{"kind", to_string(st.last_daemon->kind)},
                              {"ts", st.last_daemon->ts_ms},
                              {"time", format_rfc3339_ms(st.last_daemon->ts_ms)}};
  }
  j["samples"] = st.samples;
  j["series"] = st.series;
  if (st.last_sample) j["last_sample_age_seconds"] = static_cast<double>(now - *st.last_sample) / 1000.0;
  json targets = json::object();
  for (const auto& [t, values] : st.per_target) targets[t] = values;
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
  const auto& d = st.last_daemon;
  if (st.pid) {
    std::cout << "vigild: running (PID " << *st.pid << ")";
    if (d && d->kind == EventKind::kDaemonStart) {
      std::cout << " since " << format_rfc3339_ms(d->ts_ms) << " (" << ago(d->ts_ms, now) << ")";
    }
    std::cout << "\n";
  } else if (d && d->kind == EventKind::kDaemonStop) {
    std::cout << "vigild: not running; stopped cleanly at " << format_rfc3339_ms(d->ts_ms) << " (" << ago(d->ts_ms, now)
              << ")\n";
  } else {
    std::cout << "vigild: not running; it did not stop cleanly (crashed or killed)";
    if (st.last_sample) std::cout << "; last sample " << format_rfc3339_ms(*st.last_sample);
    std::cout << "\n";
  }
  std::cout << "store: " << st.path << ", " << st.series << " series, " << st.samples << " samples\n";
  if (st.last_sample) {
    std::cout << "last sample: " << format_rfc3339_ms(*st.last_sample) << " (" << ago(*st.last_sample, now) << ")\n";
  } else {
    std::cout << "last sample: none\n";
  }
  if (st.per_target.empty()) return;
  std::vector<std::string> header = {"TARGET"};
  for (const auto& [_, h] : columns()) header.push_back(h);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [t, values] : st.per_target) {
    std::vector<std::string> row = {t};
    for (const auto& [metric, _] : columns()) {
      auto it = values.find(metric);
      row.push_back(it == values.end() ? "-" : cell(metric, it->second));
    }
    rows.push_back(std::move(row));
  }
  std::cout << "\n";
  print_table(header, rows);
}

int cmd_status(const Options& c) {
  const Format f = c.parsed_format();
  const WallMs now = wall_now_ms();
  const Status st = read_status(c, now);
  if (f == Format::kJson) {
    print_json(st, now);
  } else {
    print_text(st, now);
  }
  return st.pid ? 0 : 1;
}

}  // namespace

Command add_status(CLI::App& app, const Options& options) {
  auto* sub =
      app.add_subcommand("status", "Is vigild running, since when, how fresh the data is, latest values per target");
  return {sub, [&options] { return cmd_status(options); }};
}

}  // namespace vigil::cli
