// vigil status: is vigild running, how fresh the data is, the latest values per target.
#include <fcntl.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <iostream>

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

int cmd_status(const Options& c) {
  Format f = c.parsed_format();
  std::string path = c.db_path();
  StoreReader store = c.open();
  WallMs now = wall_now_ms();
  std::optional<int> pid = running_pid(path);
  EventQuery q;
  q.kind = "daemon_*";
  q.limit = 1;
  auto last_daemon = must(store.events(q));
  auto last_sample = must(store.last_sample_ms());
  auto count = must(store.sample_count());
  auto all_series = must(store.series("*"));

  // Latest values per target, from the process_* series.
  const std::vector<std::pair<std::string, std::string>> columns = {
      {"process_count", "PROCS"}, {"process_resident_memory_bytes", "RSS"}, {"process_cpu_seconds_total", "CPU%"},
      {"process_threads", "THREADS"}, {"process_open_fds", "FDS"}, {"process_start_time_seconds", "STARTED"}};
  std::map<std::string, std::map<std::string, double>> per_target;
  for (const auto& s : all_series) {
    std::string target;
    for (const auto& [k, v] : s.key.labels) {
      if (k == "target") target = v;
    }
    if (target.empty() || s.key.labels.size() != 1) continue;
    for (const auto& [metric, _] : columns) {
      if (s.key.metric != metric) continue;
      if (metric == "process_cpu_seconds_total") {
        // CPU % of one core over the last minute of samples.
        auto pts = must(store.query(metric, s.key.labels, now - 60'000, now));
        if (!pts.empty() && pts[0].points.size() >= 2) {
          const auto& a = pts[0].points.front();
          const auto& b = pts[0].points.back();
          if (b.ts_ms > a.ts_ms && b.value >= a.value) {
            per_target[target][metric] = (b.value - a.value) / (static_cast<double>(b.ts_ms - a.ts_ms) / 1000.0) * 100.0;
          }
        }
      } else if (auto p = must(store.latest(s.id))) {
        per_target[target][metric] = p->value;
      }
    }
  }

  if (f == Format::kJson) {
    json j;
    j["running"] = pid.has_value();
    if (pid) j["pid"] = *pid;
    j["database"] = path;
    if (!last_daemon.empty()) {
      j["last_daemon_event"] = {{"kind", to_string(last_daemon[0].kind)}, {"ts", last_daemon[0].ts_ms}, {"time", format_rfc3339_ms(last_daemon[0].ts_ms)}};
    }
    j["samples"] = count;
    j["series"] = all_series.size();
    if (last_sample) j["last_sample_age_seconds"] = static_cast<double>(now - *last_sample) / 1000.0;
    json targets = json::object();
    for (const auto& [t, values] : per_target) targets[t] = values;
    j["targets"] = targets;
    std::cout << j.dump(2) << "\n";
    return pid ? 0 : 1;
  }
  if (pid) {
    std::cout << "vigild: running (PID " << *pid << ")";
    if (!last_daemon.empty() && last_daemon[0].kind == EventKind::kDaemonStart) {
      std::cout << " since " << format_rfc3339_ms(last_daemon[0].ts_ms) << " (" << ago(last_daemon[0].ts_ms, now) << ")";
    }
    std::cout << "\n";
  } else if (!last_daemon.empty() && last_daemon[0].kind == EventKind::kDaemonStop) {
    std::cout << "vigild: not running; stopped cleanly at " << format_rfc3339_ms(last_daemon[0].ts_ms) << " ("
              << ago(last_daemon[0].ts_ms, now) << ")\n";
  } else {
    std::cout << "vigild: not running; it did not stop cleanly (crashed or killed)";
    if (last_sample) std::cout << "; last sample " << format_rfc3339_ms(*last_sample);
    std::cout << "\n";
  }
  std::cout << "store: " << path << ", " << all_series.size() << " series, " << count << " samples\n";
  if (last_sample) {
    std::cout << "last sample: " << format_rfc3339_ms(*last_sample) << " (" << ago(*last_sample, now) << ")\n";
  } else {
    std::cout << "last sample: none\n";
  }
  if (!per_target.empty()) {
    std::vector<std::string> header = {"TARGET"};
    for (const auto& [_, h] : columns) header.push_back(h);
    std::vector<std::vector<std::string>> rows;
    for (const auto& [t, values] : per_target) {
      std::vector<std::string> row = {t};
      for (const auto& [metric, _] : columns) {
        auto it = values.find(metric);
        if (it == values.end()) {
          row.push_back("-");
        } else if (metric == "process_resident_memory_bytes") {
          row.push_back(human_bytes(it->second));
        } else if (metric == "process_cpu_seconds_total") {
          char buf[16];
          std::snprintf(buf, sizeof buf, "%.1f", it->second);
          row.push_back(buf);
        } else if (metric == "process_start_time_seconds") {
          row.push_back(format_rfc3339_ms(static_cast<WallMs>(it->second * 1000)).substr(0, 19) + "Z");
        } else {
          row.push_back(format_value(it->second));
        }
      }
      rows.push_back(std::move(row));
    }
    std::cout << "\n";
    print_table(header, rows);
  }
  return pid ? 0 : 1;
}

}  // namespace

Command add_status(CLI::App& app, const Options& options) {
  auto* sub =
      app.add_subcommand("status", "Is vigild running, since when, how fresh the data is, latest values per target");
  return {sub, [&options] { return cmd_status(options); }};
}

}  // namespace vigil::cli
