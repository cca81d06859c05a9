// vigil: the Vigil command-line interface. Reads vigild's store read-only,
// so every command works while vigild is stopped (post-mortems).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/text.hpp"
#include "core/unique_fd.hpp"
#include "store/store.hpp"
#include "watchdog/check_runner.hpp"
#include "watchdog/check_state.hpp"
#include "watchdog/config.hpp"
#include "watchdog/sd_handles.hpp"
#include "watchdog/timearg.hpp"
#include "watchdog/version.hpp"

extern char** environ;

namespace vigil {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Exit statuses: 0 done, 1 a query ran but found a problem (status: not
// running), 2 the command could not run (bad arguments, no database, unknown
// metric).
constexpr int kUsageError = 2;

struct UsageError {
  std::string message;
};

enum class Format { kTable, kJson, kCsv };

std::string format_value(double v) {
  if (std::isfinite(v) && std::fabs(v) < 1e15 && v == std::floor(v)) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

json labels_json(const Labels& labels) {
  json j = json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

// Prints rows as aligned columns.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

struct Common {
  std::string db;
  std::string config;
  std::string format = "table";

  Format parsed_format() const {
    if (format == "table") return Format::kTable;
    if (format == "json") return Format::kJson;
    if (format == "csv") return Format::kCsv;
    throw UsageError{"--format: \"" + format + "\" is not one of table, json, csv"};
  }

  // --db, else the store path of the configuration (--config or the
  // default one, with the same VIGIL_ overrides as vigild).
  std::string db_path() const {
    if (!db.empty()) return db;
    LoadOptions options;
    if (!config.empty()) options.path = config;
    options.environ = environ;
    LoadResult loaded = load_config(options);
    if (!loaded.ok()) {
      std::string msg = "the configuration has errors, so the database cannot be located (or pass --db PATH):";
      for (const auto& e : loaded.errors) msg += "\n  " + e.describe();
      throw UsageError{msg};
    }
    return loaded.config.store_path();
  }

  StoreReader open() const {
    std::string path = db_path();
    auto reader = StoreReader::open(path);
    if (!reader) {
      std::string hint = reader.error().kind == ErrorKind::kNotFound
                             ? " (has vigild run with this state_dir? pass --db PATH or --config PATH)"
                             : "";
      throw UsageError{"cannot open the store: " + reader.error().message + hint};
    }
    return std::move(*reader);
  }
};

template <typename T>
T must(Result<T> r) {
  if (!r) throw UsageError{r.error().message};
  return std::move(*r);
}

Labels parse_label_args(const std::vector<std::string>& args, const std::string& target) {
  Labels out;
  for (const auto& a : args) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError{"--label: \"" + a + "\" is not NAME=VALUE"};
    out.emplace_back(a.substr(0, eq), a.substr(eq + 1));
  }
  if (!target.empty()) out.emplace_back("target", target);
  return out;
}

WallMs time_arg(const std::string& flag, const std::string& text, WallMs now) {
  auto t = parse_time_arg(text, now);
  if (!t) throw UsageError{flag + ": " + t.error().message};
  return *t;
}

// ---- vigil series --------------------------------------------------------

int cmd_series(const Common& c, const std::string& match) {
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

// ---- vigil query ---------------------------------------------------------

int cmd_query(const Common& c, const std::string& metric, const std::string& target,
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
  std::erase_if(result, [](const SeriesPoints& sp) { return sp.points.empty(); });
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& sp : result) {
      json points = json::array();
      for (const auto& p : sp.points) points.push_back({{"ts", p.ts_ms}, {"time", format_rfc3339_ms(p.ts_ms)}, {"value", p.value}});
      out.push_back({{"metric", sp.series.key.metric}, {"labels", labels_json(sp.series.key.labels)}, {"points", points}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (f == Format::kCsv) {
    std::cout << "metric,labels,ts_ms,time,value\n";
    for (const auto& sp : result) {
      for (const auto& p : sp.points) {
        std::cout << csv_field(sp.series.key.metric) << "," << csv_field(sp.series.key.labels_text()) << ","
                  << p.ts_ms << "," << format_rfc3339_ms(p.ts_ms) << "," << format_value(p.value) << "\n";
      }
    }
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& sp : result) {
    for (const auto& p : sp.points) rows.push_back({format_rfc3339_ms(p.ts_ms), sp.series.key.labels_text(), format_value(p.value)});
  }
  if (rows.empty()) {
    std::cerr << "no samples of " << metric << " match between " << format_rfc3339_ms(since) << " and "
              << format_rfc3339_ms(until) << "\n";
    return 0;
  }
  print_table({"TIME", "SERIES", "VALUE"}, rows);
  return 0;
}

// ---- vigil events --------------------------------------------------------

int cmd_events(const Common& c, const std::string& since_text, const std::string& until_text,
               const std::string& kind, const std::string& target, std::size_t limit) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  EventQuery q;
  q.since = time_arg("--since", since_text, now);
  if (!until_text.empty()) q.until = time_arg("--until", until_text, now);
  if (!kind.empty()) q.kind = kind;
  if (!target.empty()) q.target = target;
  q.limit = limit;
  StoreReader store = c.open();
  auto events = must(store.events(q));
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& e : events) {
      json j = {{"ts", e.ts_ms}, {"time", format_rfc3339_ms(e.ts_ms)}, {"kind", e.kind},
                {"target", e.target}, {"check", e.check}, {"severity", to_string(e.severity)},
                {"message", e.message}};
      j["details"] = e.details.empty() ? json(nullptr) : json::parse(e.details, nullptr, false);
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
  } else if (f == Format::kCsv) {
    std::cout << "ts_ms,time,severity,kind,target,check,message,details\n";
    for (const auto& e : events) {
      std::cout << e.ts_ms << "," << format_rfc3339_ms(e.ts_ms) << "," << to_string(e.severity) << ","
                << csv_field(e.kind) << "," << csv_field(e.target) << "," << csv_field(e.check) << ","
                << csv_field(e.message) << "," << csv_field(e.details) << "\n";
    }
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : events) {
      rows.push_back({format_rfc3339_ms(e.ts_ms), to_string(e.severity), e.kind, e.target.empty() ? "-" : e.target, e.message});
    }
    if (rows.empty()) {
      std::cerr << "no events since " << format_rfc3339_ms(*q.since) << "\n";
    } else {
      print_table({"TIME", "SEVERITY", "KIND", "TARGET", "MESSAGE"}, rows);
    }
  }
  return 0;
}

// ---- vigil status --------------------------------------------------------

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

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

std::string ago(WallMs then, WallMs now) {
  return format_duration(Millis(std::max<WallMs>(0, now - then) / 1000 * 1000)) + " ago";
}

int cmd_status(const Common& c) {
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
      j["last_daemon_event"] = {{"kind", last_daemon[0].kind}, {"ts", last_daemon[0].ts_ms}, {"time", format_rfc3339_ms(last_daemon[0].ts_ms)}};
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
    if (!last_daemon.empty() && last_daemon[0].kind == "daemon_start") {
      std::cout << " since " << format_rfc3339_ms(last_daemon[0].ts_ms) << " (" << ago(last_daemon[0].ts_ms, now) << ")";
    }
    std::cout << "\n";
  } else if (!last_daemon.empty() && last_daemon[0].kind == "daemon_stop") {
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

// ---- vigil checks --------------------------------------------------------

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];  // nearest rank
}

std::string label_of(const Labels& labels, const std::string& name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return {};
}

std::string format_ms(double seconds) {
  if (std::isnan(seconds)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, seconds < 0.01 ? "%.2f ms" : "%.0f ms", seconds * 1000);
  return buf;
}

// Each check's state from the store: its check_state series, the last
// transition event (since when, and why), check_up's newest point and the
// run durations of the last hour.
int cmd_checks(const Common& c, const std::string& target) {
  Format f = c.parsed_format();
  StoreReader store = c.open();
  WallMs now = wall_now_ms();
  Labels filter;
  if (!target.empty()) filter.emplace_back("target", target);
  // The newest point of every check_state and check_up series (one row
  // each, however long the history), and the last hour of durations.
  auto newest = [&](const std::string& metric) {
    std::vector<SeriesPoints> out;
    for (auto& info : must(store.series(metric))) {
      if (info.key.metric != metric) continue;
      if (!target.empty() && label_of(info.key.labels, "target") != target) continue;
      auto p = must(store.latest(info.id));
      if (p) out.push_back(SeriesPoints{std::move(info), {*p}});
    }
    return out;
  };
  auto states = newest("check_state");
  auto ups = newest("check_up");
  auto durations = must(store.query("check_duration_seconds", filter, now - 3'600'000, now));
  EventQuery q;
  q.kind = "check_*";
  if (!target.empty()) q.target = target;
  auto events = must(store.events(q));

  struct Row {
    std::string target, check, state = "unknown", reason;
    std::optional<WallMs> state_ts, since;
    std::optional<double> last_up;
    std::optional<WallMs> last_ts;
    bool flapping = false;
    std::vector<double> durations;
  };
  std::map<std::pair<std::string, std::string>, Row> rows;
  auto row_for = [&](const Labels& labels) -> Row& {
    auto key = std::make_pair(label_of(labels, "target"), label_of(labels, "check"));
    Row& r = rows[key];
    r.target = key.first;
    r.check = key.second;
    return r;
  };
  for (const auto& s : states) {
    if (s.points.empty()) continue;
    Row& r = row_for(s.series.key.labels);
    r.state = std::string(to_string(static_cast<CheckState>(static_cast<int>(s.points.back().value))));
    r.state_ts = s.points.back().ts_ms;
  }
  for (const auto& s : ups) {
    if (s.points.empty()) continue;
    Row& r = row_for(s.series.key.labels);
    r.last_up = s.points.back().value;
    r.last_ts = s.points.back().ts_ms;
  }
  for (const auto& s : durations) {
    Row& r = row_for(s.series.key.labels);
    for (const auto& p : s.points) r.durations.push_back(p.value);
  }
  for (const auto& e : events) {  // ascending: the newest wins
    auto it = rows.find({e.target, e.check});
    if (it == rows.end()) continue;
    Row& r = it->second;
    if (e.kind == "check_flapping") {
      r.flapping = true;
    } else if (e.kind == "check_flapping_stopped") {
      r.flapping = false;
    } else {
      r.since = e.ts_ms;
      auto details = json::parse(e.details, nullptr, false);
      r.reason = details.is_object() && details.contains("reason") ? details["reason"].get<std::string>() : e.message;
    }
  }
  if (rows.empty()) {
    if (f == Format::kJson) {
      std::cout << "[]\n";
    } else if (f == Format::kCsv) {
      std::cout << "target,check,state,since_ms,last_up,last_ms,flapping,p50_seconds,p99_seconds,reason\n";
    } else {
      std::cerr << "no checks in the store" << (target.empty() ? "" : " for target " + target)
                << " (are checks configured, and has vigild run?)\n";
    }
    return 0;
  }
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& [key, r] : rows) {
      json j = {{"target", r.target}, {"check", r.check}, {"state", r.state}, {"flapping", r.flapping},
                {"reason", r.reason}};
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
  } else if (f == Format::kCsv) {
    std::cout << "target,check,state,since_ms,last_up,last_ms,flapping,p50_seconds,p99_seconds,reason\n";
    for (const auto& [key, r] : rows) {
      std::cout << csv_field(r.target) << "," << csv_field(r.check) << "," << r.state << ","
                << (r.since ? std::to_string(*r.since) : "") << ","
                << (r.last_up ? format_value(*r.last_up) : "") << "," << (r.last_ts ? std::to_string(*r.last_ts) : "")
                << "," << (r.flapping ? "true" : "false") << "," << format_value(percentile(r.durations, 0.5)) << ","
                << format_value(percentile(r.durations, 0.99)) << "," << csv_field(r.reason) << "\n";
    }
  } else {
    std::vector<std::vector<std::string>> table;
    for (const auto& [key, r] : rows) {
      std::string last = !r.last_up ? "-" : (*r.last_up == 1 ? "ok " : "failed ") + ago(*r.last_ts, now);
      table.push_back({r.target, r.check, r.state + (r.flapping ? " (flapping)" : ""),
                       r.since ? ago(*r.since, now) : "-", last, format_ms(percentile(r.durations, 0.5)),
                       format_ms(percentile(r.durations, 0.99)), r.reason.empty() ? "-" : r.reason});
    }
    print_table({"TARGET", "CHECK", "STATE", "SINCE", "LAST", "P50", "P99", "REASON"}, table);
  }
  return 0;
}

// ---- vigil alerts --------------------------------------------------------

const char* phase_name(int phase) {
  switch (phase) {
    case 0: return "inactive";
    case 1: return "pending";
    case 2: return "firing";
    case 3: return "resolved";
  }
  return "unknown";
}

// The alerts table: every alert vigild has evaluated, its phase and since when.
int cmd_alerts(const Common& c, const std::string& state, const std::string& since_text) {
  Format f = c.parsed_format();
  static const std::set<std::string> kStates = {"firing", "pending", "resolved", "inactive"};
  if (!state.empty() && !kStates.count(state)) {
    throw UsageError{"--state: \"" + state + "\" is not one of firing, pending, resolved, inactive"};
  }
  WallMs now = wall_now_ms();
  std::optional<WallMs> since;
  if (!since_text.empty()) since = time_arg("--since", since_text, now);
  StoreReader store = c.open();
  struct Row {
    AlertRow a;
    Labels labels;
    WallMs since_ms;
    std::string summary;
  };
  std::vector<Row> rows;
  for (auto& a : must(store.alerts())) {
    if (!state.empty() && state != phase_name(a.phase)) continue;
    // Without --state, inactive ones (pending that never fired) are noise.
    if (state.empty() && a.phase == 0) continue;
    if (since && a.updated_ms < *since) continue;
    Row r;
    r.labels = parse_labels_text(a.labels).value_or(Labels{});
    r.since_ms = a.phase == 2 ? a.fired_ms : a.phase == 3 ? a.resolved_ms : a.phase == 1 ? a.active_since_ms : a.updated_ms;
    auto ann = json::parse(a.annotations, nullptr, false);
    if (ann.is_object() && ann.contains("summary") && ann["summary"].is_string()) r.summary = ann["summary"];
    r.a = std::move(a);
    rows.push_back(std::move(r));
  }
  // Firing first, then pending, resolved; newest first within each.
  auto rank = [](int phase) { return phase == 2 ? 0 : phase == 1 ? 1 : phase == 3 ? 2 : 3; };
  std::sort(rows.begin(), rows.end(), [&](const Row& x, const Row& y) {
    if (rank(x.a.phase) != rank(y.a.phase)) return rank(x.a.phase) < rank(y.a.phase);
    return x.since_ms > y.since_ms;
  });
  auto own_labels = [](const Labels& labels) {
    std::string out;
    for (const auto& [k, v] : labels) {
      if (k == "alertname" || k == "instance" || k == "job" || k == "severity") continue;
      out += (out.empty() ? "" : ",") + k + "=" + v;
    }
    return out;
  };
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& r : rows) {
      json j = {{"alertname", r.a.rule},       {"state", phase_name(r.a.phase)},
                {"labels", labels_json(r.labels)}, {"since", format_rfc3339_ms(r.since_ms)},
                {"since_ms", r.since_ms},        {"value", r.a.value},
                {"summary", r.summary}};
      j["fired_ms"] = r.a.fired_ms ? json(r.a.fired_ms) : json(nullptr);
      j["resolved_ms"] = r.a.resolved_ms ? json(r.a.resolved_ms) : json(nullptr);
      auto ann = json::parse(r.a.annotations, nullptr, false);
      j["annotations"] = ann.is_object() ? ann : json::object();
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
  } else if (f == Format::kCsv) {
    std::cout << "alertname,state,since_ms,severity,labels,value,summary\n";
    for (const auto& r : rows) {
      std::cout << csv_field(r.a.rule) << "," << phase_name(r.a.phase) << "," << r.since_ms << ","
                << csv_field(label_of(r.labels, "severity")) << "," << csv_field(own_labels(r.labels)) << ","
                << format_value(r.a.value) << "," << csv_field(r.summary) << "\n";
    }
  } else if (rows.empty()) {
    std::cerr << "no " << (state.empty() ? "alerts" : state + " alerts") << " in the store\n";
  } else {
    std::vector<std::vector<std::string>> table;
    for (const auto& r : rows) {
      table.push_back({r.a.rule, phase_name(r.a.phase), ago(r.since_ms, now), label_of(r.labels, "severity"),
                       own_labels(r.labels), r.summary.empty() ? "-" : r.summary});
    }
    print_table({"ALERT", "STATE", "SINCE", "SEVERITY", "LABELS", "SUMMARY"}, table);
  }
  return 0;
}

// The durable outbox, per receiver: what waits to be delivered.
int cmd_alerts_queue(const Common& c) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  StoreReader store = c.open();
  struct Row {
    std::size_t pending = 0;
    WallMs oldest_ms = 0;
    int max_attempts = 0;
    WallMs next_attempt_ms = 0;
    std::string last_error;
  };
  std::map<std::string, Row> rows;
  // Receivers of the configuration are listed even with nothing waiting.
  if (c.db.empty()) {
    LoadOptions options;
    if (!c.config.empty()) options.path = c.config;
    options.environ = environ;
    LoadResult loaded = load_config(options);
    if (loaded.ok()) {
      for (const auto& r : loaded.config.receivers) rows[r.name];
    }
  }
  for (const auto& o : must(store.outbox())) {  // ascending id: the head first
    Row& r = rows[o.receiver];
    if (r.pending++ == 0) {
      r.oldest_ms = o.created_ms;
      r.next_attempt_ms = o.next_attempt_ms;
    }
    r.max_attempts = std::max(r.max_attempts, o.attempts);
    if (!o.last_error.empty()) r.last_error = o.last_error;
  }
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& [name, r] : rows) {
      json j = {{"receiver", name}, {"pending", r.pending}, {"attempts", r.max_attempts}, {"last_error", r.last_error}};
      j["oldest_ms"] = r.pending ? json(r.oldest_ms) : json(nullptr);
      j["oldest_age_seconds"] = r.pending ? json(static_cast<double>(now - r.oldest_ms) / 1000) : json(nullptr);
      j["next_attempt_ms"] = r.pending ? json(r.next_attempt_ms) : json(nullptr);
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
  } else if (f == Format::kCsv) {
    std::cout << "receiver,pending,oldest_ms,attempts,last_error\n";
    for (const auto& [name, r] : rows) {
      std::cout << csv_field(name) << "," << r.pending << "," << (r.pending ? std::to_string(r.oldest_ms) : "") << ","
                << r.max_attempts << "," << csv_field(r.last_error) << "\n";
    }
  } else if (rows.empty()) {
    std::cout << "nothing waits to be delivered\n";
  } else {
    std::vector<std::vector<std::string>> table;
    for (const auto& [name, r] : rows) {
      table.push_back({name, std::to_string(r.pending), r.pending ? ago(r.oldest_ms, now) : "-",
                       std::to_string(r.max_attempts), r.last_error.empty() ? "-" : r.last_error});
    }
    print_table({"RECEIVER", "PENDING", "OLDEST", "ATTEMPTS", "LAST ERROR"}, table);
  }
  return 0;
}

// ---- vigil incidents -----------------------------------------------------

// A time to detect or to recover: "450ms", "1.2s", "5m30s", "2h5m".
std::string human_ms(WallMs ms) {
  ms = std::max<WallMs>(0, ms);
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms < 59'950) {  // below what "%.1f" would round up to a minute
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000);
    return buf;
  }
  return format_duration(Millis((ms + 500) / 1000 * 1000));
}

// "+2.013s", "-0.500s", "+1h2m5.120s": a time relative to the incident's
// start, to the millisecond.
std::string offset_text(WallMs offset) {
  const WallMs magnitude = offset < 0 ? -offset : offset;
  const WallMs below_minute = magnitude % 60'000;
  std::string out(1, offset < 0 ? '-' : '+');
  if (magnitude >= 60'000) out += format_duration(Millis(magnitude - below_minute));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03llds", static_cast<long long>(below_minute / 1000),
                static_cast<long long>(below_minute % 1000));
  return out + buf;
}

// Unset times (0) stay unset rather than a 1970 date or a negative span.
std::optional<WallMs> detect_ms(const IncidentRow& r) {
  if (r.detected_ms == 0) return std::nullopt;
  return std::max<WallMs>(0, r.detected_ms - r.started_ms);
}

std::optional<WallMs> recover_ms(const IncidentRow& r) {
  if (r.recovered_ms == 0) return std::nullopt;
  return std::max<WallMs>(0, r.recovered_ms - r.started_ms);
}

std::string action_short(const IncidentAction& a) {
  if (a.result == "would") return "would " + a.action;  // dry run
  return a.action + " " + a.result;
}

// "restart failed, restart ok"; a long escalation is cut (the JSON has all).
std::string actions_summary(const IncidentRow& r) {
  if (r.actions.empty()) return "-";
  constexpr std::size_t kShown = 4;
  std::string out;
  for (std::size_t i = 0; i < r.actions.size() && i < kShown; ++i) {
    if (i > 0) out += ", ";
    out += action_short(r.actions[i]);
  }
  if (r.actions.size() > kShown) out += ", +" + std::to_string(r.actions.size() - kShown) + " more";
  return out;
}

std::string recover_text(const IncidentRow& r) {
  if (auto ms = recover_ms(r)) return human_ms(*ms);
  return r.given_up ? "open (given up)" : "open";
}

// A stored time of 0 means "not yet" (an open incident, a running action).
std::optional<WallMs> unless_zero(WallMs ms) {
  return ms != 0 ? std::optional<WallMs>(ms) : std::nullopt;
}
json optional_json(std::optional<WallMs> ms) {
  return ms ? json(*ms) : json(nullptr);
}
json ms_json(WallMs ms) {
  return optional_json(unless_zero(ms));
}
json time_json(WallMs ms) {
  return ms != 0 ? json(format_rfc3339_ms(ms)) : json(nullptr);
}

json incident_json(const IncidentRow& r) {
  json actions = json::array();
  std::int64_t seq = 0;
  for (const auto& a : r.actions) {
    json ja = {{"seq", ++seq},
               {"action", a.action},
               {"detail", a.detail},
               {"result", a.result},
               {"message", a.message},
               {"started", time_json(a.started_ms)},
               {"started_ms", a.started_ms}};
    ja["finished"] = time_json(a.finished_ms);
    ja["finished_ms"] = ms_json(a.finished_ms);
    ja["duration_ms"] = a.finished_ms != 0 ? json(std::max<WallMs>(0, a.finished_ms - a.started_ms)) : json(nullptr);
    actions.push_back(std::move(ja));
  }
  json j = {{"id", r.id},
            {"target", r.target},
            {"trigger", r.trigger},
            {"root_cause", r.root_cause},
            {"summary", r.summary},
            {"started", format_rfc3339_ms(r.started_ms)},
            {"started_ms", r.started_ms},
            {"open", r.recovered_ms == 0},
            {"given_up", r.given_up},
            {"dry_run", r.dry_run}};
  j["detected"] = time_json(r.detected_ms);
  j["detected_ms"] = ms_json(r.detected_ms);
  j["recovered"] = time_json(r.recovered_ms);
  j["recovered_ms"] = ms_json(r.recovered_ms);
  j["detect_ms"] = optional_json(detect_ms(r));
  j["recover_ms"] = optional_json(recover_ms(r));
  j["updated"] = time_json(r.updated_ms);
  j["updated_ms"] = ms_json(r.updated_ms);
  json evidence = json::parse(r.evidence, nullptr, false);
  j["evidence"] = evidence.is_discarded() ? json(r.evidence) : std::move(evidence);
  j["actions"] = std::move(actions);
  return j;
}

int cmd_incidents(const Common& c, const std::string& target, const std::string& since_text,
                  const std::string& until_text, bool open_only, std::size_t limit) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  IncidentQuery q;
  if (!target.empty()) q.target = target;
  if (!since_text.empty()) q.since = time_arg("--since", since_text, now);
  if (!until_text.empty()) q.until = time_arg("--until", until_text, now);
  if (q.since && q.until && *q.since > *q.until) throw UsageError{"--since is after --until"};
  q.open_only = open_only;
  q.limit = limit;
  StoreReader store = c.open();
  auto incidents = must(store.incidents(q));
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& r : incidents) out.push_back(incident_json(r));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (f == Format::kCsv) {
    std::cout << "id,target,trigger,started_ms,started,detected_ms,recovered_ms,detect_ms,recover_ms,root_cause,"
                 "summary,actions,given_up,dry_run\n";
    auto field = [](std::optional<WallMs> ms) { return ms ? std::to_string(*ms) : std::string(); };
    for (const auto& r : incidents) {
      std::cout << r.id << "," << csv_field(r.target) << "," << csv_field(r.trigger) << "," << r.started_ms << ","
                << format_rfc3339_ms(r.started_ms) << "," << field(unless_zero(r.detected_ms)) << ","
                << field(unless_zero(r.recovered_ms)) << "," << field(detect_ms(r)) << "," << field(recover_ms(r))
                << "," << csv_field(r.root_cause) << "," << csv_field(r.summary) << ","
                << csv_field(r.actions.empty() ? "" : actions_summary(r)) << "," << (r.given_up ? "true" : "false")
                << "," << (r.dry_run ? "true" : "false") << "\n";
    }
    return 0;
  }
  if (incidents.empty()) {
    std::cerr << "no " << (open_only ? "open incidents" : "incidents") << (target.empty() ? "" : " of " + target)
              << (q.since || q.until ? " in that time range" : "") << " in " << c.db_path() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> table;
  std::size_t recovered = 0;
  WallMs recover_total = 0;
  for (const auto& r : incidents) {
    if (auto ms = recover_ms(r)) {
      ++recovered;
      recover_total += *ms;
    }
    auto detect = detect_ms(r);
    table.push_back({std::to_string(r.id), r.target, format_rfc3339_ms(r.started_ms),
                     r.root_cause.empty() ? "-" : r.root_cause, detect ? human_ms(*detect) : "-", recover_text(r),
                     actions_summary(r), r.trigger});
  }
  print_table({"ID", "TARGET", "STARTED", "ROOT CAUSE", "DETECT", "RECOVER", "ACTIONS", "TRIGGER"}, table);
  if (recovered > 0) {
    std::cout << incidents.size() << (incidents.size() == 1 ? " incident, " : " incidents, ") << recovered
              << " recovered, MTTR " << human_ms(recover_total / static_cast<WallMs>(recovered)) << "\n";
  }
  return 0;
}

// What the incident's start was, by its trigger.
std::string start_text(const IncidentRow& r) {
  if (r.trigger.rfind("crash", 0) == 0) return "started (the exit)";
  if (r.trigger.rfind("check:", 0) == 0) return "started (first failing result)";
  if (r.trigger.rfind("rule:", 0) == 0) return "started (the rule's condition first held)";
  return "started";
}

struct TimelineEntry {
  WallMs ts_ms = 0;
  std::string kind;  // started, detected, action, event, recovered, open
  std::string text;
};

// The incident's own moments, then the target's events; a stable sort puts
// the incident's moment first when an event has the same time.
std::vector<TimelineEntry> timeline(const IncidentRow& r, const std::vector<Event>& events, WallMs now) {
  std::vector<TimelineEntry> out;
  out.push_back({r.started_ms, "started", start_text(r)});
  if (r.detected_ms != 0) out.push_back({r.detected_ms, "detected", "detected: " + r.trigger});
  for (const auto& a : r.actions) {
    auto with = [](std::string head, const std::string& tail) { return tail.empty() ? head : head + ": " + tail; };
    if (a.result == "would") {
      out.push_back({a.started_ms, "action",
                     with("would " + a.action, a.detail) + (a.message.empty() ? "" : " (" + a.message + ")")});
    } else if (a.result == "skipped") {
      out.push_back({a.started_ms, "action", with(a.action + " skipped", a.message.empty() ? a.detail : a.message)});
    } else {
      out.push_back({a.started_ms, "action", with(a.action + " started", a.detail)});
      if (a.finished_ms != 0) out.push_back({a.finished_ms, "action", with(a.action + " " + a.result, a.message)});
    }
  }
  if (r.recovered_ms != 0) {
    out.push_back({r.recovered_ms, "recovered", "recovered"});
  } else {
    out.push_back({now, "open", r.given_up ? "still open (actions given up)" : "still open"});
  }
  for (const auto& e : events) out.push_back({e.ts_ms, "event", "event " + e.kind + ": " + e.message});
  std::stable_sort(out.begin(), out.end(),
                   [](const TimelineEntry& a, const TimelineEntry& b) { return a.ts_ms < b.ts_ms; });
  return out;
}

// Nested objects as dotted keys; strings bare, other values as JSON.
void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
    return;
  }
  out.emplace_back(prefix, j.is_string() ? j.get<std::string>() : j.dump());
}

int cmd_incident(const Common& c, const std::string& id_text, const std::string& format) {
  if (format != "text" && format != "json") throw UsageError{"--format: \"" + format + "\" is not one of text, json"};
  auto id = to_i64(id_text);
  if (!id || *id <= 0) {
    throw UsageError{"incident ID: \"" + id_text + "\" is not an incident number (vigil incidents lists them)"};
  }
  const std::string path = c.db_path();
  StoreReader store = c.open();
  auto found = must(store.incident(*id));
  if (!found) throw UsageError{"no incident " + std::to_string(*id) + " in " + path + " (vigil incidents lists them)"};
  const IncidentRow& r = *found;
  const WallMs now = wall_now_ms();
  // The target's events from just before the start to just after the end.
  EventQuery q;
  q.target = r.target;
  q.since = r.started_ms - 1000;
  q.until = (r.recovered_ms != 0 ? r.recovered_ms : now) + 1000;
  auto events = must(store.events(q));
  auto entries = timeline(r, events, now);

  if (format == "json") {
    json j = incident_json(r);
    json items = json::array();
    for (const auto& e : entries) {
      items.push_back({{"offset_ms", e.ts_ms - r.started_ms},
                       {"time", format_rfc3339_ms(e.ts_ms)},
                       {"ts_ms", e.ts_ms},
                       {"kind", e.kind},
                       {"text", e.text}});
    }
    j["timeline"] = std::move(items);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "incident " << r.id << ": " << r.target << ", started " << format_rfc3339_ms(r.started_ms) << ", "
            << (r.recovered_ms != 0 ? "recovered after " + human_ms(*recover_ms(r))
                                    : "open for " + human_ms(now - r.started_ms))
            << (r.dry_run ? " (dry run: no action taken)" : "") << "\n";
  std::vector<std::string> offsets;
  std::size_t width = 0;
  for (const auto& e : entries) {
    offsets.push_back(offset_text(e.ts_ms - r.started_ms));
    width = std::max(width, offsets.back().size());
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::cout << "  " << std::string(width - offsets[i].size(), ' ') << offsets[i] << "  " << entries[i].text << "\n";
  }
  std::cout << "root cause: " << (r.root_cause.empty() ? "unknown" : r.root_cause)
            << (r.summary.empty() ? "" : ": " + r.summary) << "\n";
  if (r.given_up) std::cout << "actions: given up (the rate limit stopped further actions)\n";
  json evidence = json::parse(r.evidence, nullptr, false);
  if (evidence.is_discarded()) {
    std::cout << "evidence: " << (r.evidence.empty() ? "none" : r.evidence) << "\n";
  } else {
    std::vector<std::pair<std::string, std::string>> lines;
    flatten(evidence, "", lines);
    if (lines.empty() || (lines.size() == 1 && lines[0].first.empty() && lines[0].second == "{}")) {
      std::cout << "evidence: none\n";
    } else {
      std::cout << "evidence:\n";
      for (const auto& [k, v] : lines) std::cout << "  " << (k.empty() ? "" : k + ": ") << v << "\n";
    }
  }
  return 0;
}

// ---- vigil check test ----------------------------------------------------

// Runs one configured check once, in this process, on its own event loop:
// the same code vigild runs, for writing and debugging configs.
int cmd_check_test(const Common& c, const std::string& name_arg) {
  Format f = c.parsed_format();
  LoadOptions options;
  if (!c.config.empty()) options.path = c.config;
  options.environ = environ;
  LoadResult loaded = load_config(options);
  if (!loaded.ok()) {
    std::string msg = "the configuration has errors:";
    for (const auto& e : loaded.errors) msg += "\n  " + e.describe();
    throw UsageError{msg};
  }
  std::string want_target, want_name = name_arg;
  if (auto slash = name_arg.find('/'); slash != std::string::npos) {
    want_target = name_arg.substr(0, slash);
    want_name = name_arg.substr(slash + 1);
  }
  std::vector<const CheckConfig*> found;
  std::vector<std::string> all;
  for (const auto& check : loaded.config.checks) {
    all.push_back(check.target + "/" + check.name);
    if (check.name == want_name && (want_target.empty() || check.target == want_target)) found.push_back(&check);
  }
  if (found.empty()) {
    std::string known;
    for (const auto& a : all) known += (known.empty() ? "" : ", ") + a;
    std::string files = loaded.config.files.empty() ? std::string("built-in defaults") : loaded.config.files.front();
    std::vector<std::string> candidates = all;
    for (const auto& check : loaded.config.checks) candidates.push_back(check.name);
    auto close = close_matches(name_arg, candidates, 1);
    throw UsageError{"no check \"" + name_arg + "\" in " + files +
                     (close.empty() ? std::string() : " (did you mean \"" + close.front() + "\"?)") +
                     "; configured: " + (known.empty() ? std::string("none") : known)};
  }
  if (found.size() > 1) {
    std::string which;
    for (const auto* chk : found) which += (which.empty() ? "" : ", ") + chk->target + "/" + chk->name;
    throw UsageError{"\"" + name_arg + "\" names several checks (" + which + "): write TARGET/NAME"};
  }
  const CheckConfig& check = *found.front();
  signal(SIGPIPE, SIG_IGN);

  sd_event* raw = nullptr;
  int r = sd_event_new(&raw);
  if (r < 0) throw UsageError{std::string("cannot create an event loop: ") + std::strerror(-r)};
  SdEventPtr event(raw);
  std::optional<CheckOutcome> outcome;
  {
    CheckRunners runners(event.get());
    auto runner = runners.make(check);
    if (!runner) throw UsageError{"kind \"" + check.kind + "\" cannot run"};
    runner->start([&](CheckOutcome out) { outcome = std::move(out); });
    // Until the result is in and the run has cleaned up (an exec child killed
    // and reaped); the runner's own timeout bounds it.
    while (!outcome || runner->busy()) {
      r = sd_event_run(event.get(), UINT64_MAX);
      if (r < 0) throw UsageError{std::string("event loop failed: ") + std::strerror(-r)};
    }
  }
  const CheckOutcome& out = *outcome;
  if (f == Format::kJson) {
    json values = json::array();
    for (const auto& v : out.values) values.push_back({{"metric", v.metric}, {"labels", labels_json(v.labels)}, {"value", v.value}});
    json j = {{"target", check.target}, {"check", check.name},       {"kind", check.kind},
              {"ok", out.ok},           {"reason", out.reason},      {"duration_seconds", out.total_seconds},
              {"values", values},       {"warnings", out.warnings}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << check.target << "/" << check.name << " (" << check.kind << "): " << (out.ok ? "ok" : "FAILED") << "\n"
              << "  reason:   " << out.reason << "\n"
              << "  duration: " << format_ms(out.total_seconds) << "\n";
    std::size_t shown = 0;
    for (const auto& v : out.values) {
      if (++shown > 50) {
        std::cout << "  ... " << out.values.size() - 50 << " more values (use --format json)\n";
        break;
      }
      SeriesKey key(v.metric, v.labels);
      std::cout << "  " << key.canonical() << " " << format_value(v.value) << "\n";
    }
    for (const auto& w : out.warnings) std::cout << "  warning: " << w << "\n";
  }
  return out.ok ? 0 : 1;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  using namespace vigil;
  CLI::App app{"vigil: query what vigild recorded. Reads the store read-only; works while vigild is stopped."};
  app.set_version_flag("--version", std::string("vigil ") + kVersion);
  app.require_subcommand(1);
  Common common;
  auto add_common = [&](CLI::App* sub, bool with_format) {
    sub->add_option("--db", common.db, "The database file (default: from the configuration)");
    sub->add_option("-c,--config", common.config,
                    "vigild's configuration file, to find the database (default /etc/vigil/vigil.toml)");
    if (with_format) sub->add_option("--format", common.format, "Output: table (default), json or csv");
  };
  app.footer("Times: a duration back from now (30m, 2h, 1d), an RFC 3339 time (2026-11-22T08:00:00Z),\n"
             "a date (2026-11-22), Unix seconds, or \"now\". See vigil(1).");

  std::string match = "*";
  auto* series = app.add_subcommand("series", "List the stored series");
  add_common(series, true);
  series->add_option("--match", match, "Glob over metric names (default *)");

  std::string metric, target, since = "1h", until;
  std::vector<std::string> labels;
  auto* query = app.add_subcommand("query", "Print the samples of one metric");
  add_common(query, true);
  query->add_option("metric", metric, "Metric name, e.g. process_resident_memory_bytes")->required();
  query->add_option("--target", target, "Only the series of this target");
  query->add_option("--label", labels, "Only series with this label, NAME=VALUE (repeatable)");
  query->add_option("--since", since, "Start of the range (default 1h)");
  query->add_option("--until", until, "End of the range (default now)");

  std::string ev_since = "24h", ev_until, kind, ev_target;
  std::size_t limit = 0;
  auto* events = app.add_subcommand("events", "Print recorded events (daemon start/stop, target restarts, ...)");
  add_common(events, true);
  events->add_option("--since", ev_since, "Start of the range (default 24h)");
  events->add_option("--until", ev_until, "End of the range (default now)");
  events->add_option("--kind", kind, "Only events whose kind matches this glob, e.g. target_*");
  events->add_option("--target", ev_target, "Only events of this target");
  events->add_option("--limit", limit, "Only the newest N events");

  auto* status = app.add_subcommand("status", "Is vigild running, since when, how fresh the data is, latest values per target");
  add_common(status, true);

  std::string checks_target;
  auto* checks = app.add_subcommand("checks", "Each check's state, since when, last result and reason, latency p50/p99 over the last hour");
  add_common(checks, true);
  checks->add_option("--target", checks_target, "Only the checks of this target");

  std::string alerts_state, alerts_since;
  auto* alerts = app.add_subcommand("alerts", "Alerts: firing, pending and resolved, since when, and why");
  add_common(alerts, true);
  alerts->require_subcommand(0, 1);
  alerts->add_option("--state", alerts_state, "Only alerts in this state: firing, pending, resolved or inactive");
  alerts->add_option("--since", alerts_since, "Only alerts that changed since this time (e.g. 1h)");
  auto* alerts_queue = alerts->add_subcommand(
      "queue", "Per receiver: deliveries waiting in the durable outbox, the oldest one's age, attempts, last error");
  add_common(alerts_queue, true);

  std::string inc_target, inc_since, inc_until;
  bool inc_open = false;
  std::size_t inc_limit = 0;
  auto* incidents = app.add_subcommand(
      "incidents", "Incidents: when each target failed, the root cause, the actions, time to detect and recover, MTTR");
  add_common(incidents, true);
  incidents->add_option("--target", inc_target, "Only the incidents of this target");
  incidents->add_option("--since", inc_since, "Only incidents still open or recovered at this time (default: all)");
  incidents->add_option("--until", inc_until, "Only incidents started by this time (default now)");
  incidents->add_flag("--open", inc_open, "Only the incidents not recovered yet");
  incidents->add_option("--limit", inc_limit, "Only the newest N incidents");

  std::string inc_id, inc_format = "text";
  auto* incident = app.add_subcommand(
      "incident", "One incident's timeline (detection, actions, recovery, the target's events), root cause, evidence");
  add_common(incident, false);
  incident->add_option("id", inc_id, "The incident's number, from vigil incidents")->required();
  incident->add_option("--format", inc_format, "Output: text (default) or json");

  std::string test_name;
  auto* check = app.add_subcommand("check", "Work with one configured check");
  check->require_subcommand(1);
  auto* check_test = check->add_subcommand(
      "test", "Run a configured check once, here, and print the result and timings (exit 0 ok, 1 failed)");
  check_test->add_option("-c,--config", common.config, "The configuration file (default /etc/vigil/vigil.toml)");
  check_test->add_option("--format", common.format, "Output: table (default) or json");
  check_test->add_option("name", test_name, "The check's name, or TARGET/NAME when several targets have one")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (series->parsed()) return cmd_series(common, match);
    if (query->parsed()) return cmd_query(common, metric, target, labels, since, until);
    if (events->parsed()) return cmd_events(common, ev_since, ev_until, kind, ev_target, limit);
    if (status->parsed()) return cmd_status(common);
    if (checks->parsed()) return cmd_checks(common, checks_target);
    if (alerts_queue->parsed()) return cmd_alerts_queue(common);
    if (alerts->parsed()) return cmd_alerts(common, alerts_state, alerts_since);
    if (incidents->parsed()) return cmd_incidents(common, inc_target, inc_since, inc_until, inc_open, inc_limit);
    if (incident->parsed()) return cmd_incident(common, inc_id, inc_format);
    if (check_test->parsed()) return cmd_check_test(common, test_name);
  } catch (const UsageError& e) {
    std::cerr << "vigil: " << e.message << "\n";
    return kUsageError;
  }
  return kUsageError;
}
