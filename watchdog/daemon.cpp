#include "watchdog/daemon.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "alerting/engine.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/unique_fd.hpp"
#include "probes/cgroup.hpp"
#include "probes/host.hpp"
#include "probes/process.hpp"
#include "store/store.hpp"
#include "watchdog/alert_sender.hpp"
#include "watchdog/check_runner.hpp"
#include "watchdog/check_state.hpp"
#include "watchdog/remediator.hpp"
#include "watchdog/service.hpp"
#include "watchdog/systemd_unit.hpp"
#include "watchdog/sd_handles.hpp"
#include "watchdog/targets.hpp"
#include "watchdog/version.hpp"

namespace vigil {

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kTimerAccuracyUsec = 1000;  // sd-event's default is 250 ms
constexpr Millis kMaxSplay{200};

std::uint64_t usec(Millis d) { return static_cast<std::uint64_t>(d.count()) * 1000; }


// A stable offset in [0, window) from a name, so that timers do not all fire
// on the same millisecond, and a restart of vigild keeps each one's phase.
// Targets use min(interval/10, 200ms): their samples line up into rounds.
// Checks spread over their whole interval, as Prometheus spreads scrapes:
// 500 checks at 1 s are then one every 2 ms, not a burst every second.
Millis splay_for(std::string_view name, Millis window) {
  if (window.count() <= 0) return Millis(0);
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return Millis(static_cast<std::int64_t>(h % static_cast<std::uint64_t>(window.count())));
}

// "0.0005", "1": the le label of a histogram bucket, as Prometheus writes it.
std::string format_value_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  return out + "\"";
}

// Lets vigild keep one open stat file per process on hosts with thousands
// of processes (the soft limit is often 1024; the hard one much higher).
void raise_fd_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = std::min<rlim_t>(rl.rlim_max, 65536);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

struct TargetState {
  TargetConfig cfg;
  Millis interval{1000};
  std::optional<ProcessMatcher> matcher;
  std::optional<TargetObservation> last;
  std::string last_problem;  // logged once per change
  bool read_failed = false;  // this round: something could not be read (not: nothing is running)
  std::unique_ptr<ChildService> child;  // start = [...]
  std::unique_ptr<UnitService> unit;    // systemd_unit = "..."
  std::unique_ptr<PidWatch> watch;      // the main process of a target vigild only finds
  CgroupPaths last_paths;               // where its cgroup counters were read last
  std::string start_error;              // `start` failed at vigild's start
  ServiceController* controller() const {
    return child ? static_cast<ServiceController*>(child.get()) : static_cast<ServiceController*>(unit.get());
  }
};

}  // namespace

struct Daemon::Impl {
  // A check and its run in flight. The loop owns it; its sources point at it.
  struct CheckRun {
    Impl* daemon = nullptr;
    CheckConfig cfg;
    Hysteresis hysteresis;
    Millis interval{1000};
    CheckStatus status;
    std::unique_ptr<CheckRunner> runner;
    std::set<std::string> warned;  // outcome warnings already logged
    WallMs first_failure_ms = 0;   // the first failing result of the current run of failures
  };

  Config cfg;
  SdEventPtr event;
  std::unique_ptr<StoreWriter> store;
  HostProbe host;
  ProcessTable processes;
  CgroupReader cgroups;
  std::unique_ptr<SystemdBus> bus;  // only with systemd_unit targets; before `targets`: their units use it
  // Filled once by prepare_targets(), never resized after: sources and
  // callbacks keep pointers to its elements.
  std::vector<TargetState> targets;
  std::unique_ptr<CheckRunners> runners;  // after `event`: its sources go first
  std::vector<std::unique_ptr<CheckRun>> checks;
  std::unique_ptr<AlertEngine> alerts;
  std::unique_ptr<AlertSender> sender;  // after `runners`: it uses their curl loop
  std::unique_ptr<Remediator> remediator;
  std::set<std::string> trigger_rules;   // rule names some [target.remediate] `on` lists
  UniqueFd pid_lock;

  std::uint64_t table_refreshed_usec = 0;
  std::uint64_t table_max_age_usec = 0;
  std::uint64_t max_lag_usec = 0;  // since the last self-metrics round
  // Every timer's lag (callback time minus due time), as a cumulative
  // Prometheus histogram: vigil_loop_lag_seconds_bucket{le}, _sum, _count.
  static constexpr std::array<double, 11> kLagBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                         0.05,   0.1,   0.2,   0.5,   1.0};
  std::array<std::uint64_t, kLagBounds.size() + 1> lag_buckets{};  // the last one is +Inf
  std::uint64_t lag_count = 0;
  double lag_sum_seconds = 0;
  std::uint64_t ticks_skipped = 0;
  std::uint64_t dropped_reported = 0;
  std::string host_problem;   // the last one logged, so that each is logged once
  std::string table_problem;

  explicit Impl(Config c)
      : cfg(std::move(c)),
        host(cfg.daemon.proc_root, cfg.host.rootfs),
        processes(cfg.daemon.proc_root),
        cgroups(cfg.daemon.cgroup_root) {
    // Processes outside every target's tree are re-read every 10th refresh
    // (see ProcessTable::refresh): the scan of every stat file was half of
    // vigild's CPU on a host of ~270 processes.
    processes.set_cold_every(10);
  }

  // ---- start-up -----------------------------------------------------------

  bool lock_state_dir() {
    std::error_code ec;
    fs::create_directories(cfg.daemon.state_dir, ec);
    if (ec) {
      log_error("cannot create state directory", {{"path", cfg.daemon.state_dir}, {"error", ec.message()}});
      return false;
    }
    std::string path = (fs::path(cfg.daemon.state_dir) / "vigild.pid").string();
    pid_lock.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!pid_lock) {
      log_error("cannot open pid file", {{"path", path}, {"error", std::strerror(errno)}});
      return false;
    }
    // A POSIX record lock rather than flock(): `vigil status` can ask who
    // holds it with F_GETLK without taking it, so it never makes a starting
    // vigild fail.
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (fcntl(pid_lock.get(), F_SETLK, &lock) != 0) {
      auto other = read_file(path, 64);
      log_error("another vigild already uses this state directory; stop it or set another daemon.state_dir",
                {{"path", path}, {"other_pid", other ? std::string(trim(*other)) : std::string("?")}});
      return false;
    }
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(pid_lock.get(), 0) != 0 || pwrite(pid_lock.get(), pid.data(), pid.size(), 0) < 0) {
      log_warning("cannot write pid file", {{"path", path}, {"error", std::strerror(errno)}});
    }
    return true;
  }

  bool open_store() {
    OpenReport report;
    StoreOptions options{cfg.store_path(), cfg.daemon.flush_interval, cfg.store.queue_capacity};
    auto opened = StoreWriter::open(options, &report);
    if (!opened) {
      log_error("cannot open the store", {{"path", options.path}, {"error", opened.error().message}});
      return false;
    }
    store = std::move(*opened);
    if (report.recovered) {
      log_warning("the store was corrupt: moved it aside and started a new one",
                  {{"path", options.path}, {"moved_to", report.moved_to}, {"reason", report.corrupt_reason}});
      record(Event{wall_now_ms(), std::string(event_kind::kStoreRecovered), {}, {}, Severity::kCritical,
                   "store " + options.path + " was corrupt (" + report.corrupt_reason + "); moved to " +
                       report.moved_to + " and started a new one",
                   "{\"moved_to\":" + json_string(report.moved_to) + ",\"reason\":" +
                       json_string(report.corrupt_reason) + "}"});
    }
    return true;
  }

  void prepare_targets() {
    for (const auto& t : cfg.targets) {
      TargetState state;
      state.cfg = t;
      state.interval = cfg.target_interval(t);
      if (t.match) state.matcher.emplace(std::regex(*t.match, std::regex::ECMAScript | std::regex::optimize));
      targets.push_back(std::move(state));
      Millis window = std::min(state.interval / 10, kMaxSplay);
      table_max_age_usec = std::max<std::uint64_t>(table_max_age_usec, usec(window) + 20'000);
    }
  }

  void prepare_checks() {
    // Always: remediation's exec and http actions run through it too; it
    // costs nothing until a check or action uses it.
    runners = std::make_unique<CheckRunners>(event.get());
    for (const auto& c : cfg.checks) {
      auto run = std::make_unique<CheckRun>();
      run->daemon = this;
      run->cfg = c;
      run->hysteresis = Hysteresis{c.fail_after, c.recover_after, c.flap_window, c.flap_threshold};
      run->interval = cfg.check_interval(c);
      run->runner = runners->make(c);  // the kind was validated with the config
      checks.push_back(std::move(run));
    }
  }

  // ---- services and remediation -------------------------------------------

  // `start` targets are started (or adopted), `systemd_unit` targets looked
  // up over D-Bus; both report their main process's exit at once.
  void prepare_services() {
    for (auto& t : targets) {
      TargetState* tp = &t;
      if (!t.cfg.start.empty()) {
        ChildSpec spec;
        spec.target = t.cfg.name;
        spec.argv = t.cfg.start;
        spec.log_path = (fs::path(cfg.daemon.state_dir) / "logs" / (t.cfg.name + ".log")).string();
        spec.run_path = (fs::path(cfg.daemon.state_dir) / "run" / (t.cfg.name + ".pid")).string();
        spec.proc_root = cfg.daemon.proc_root;
        spec.stop_signal = t.cfg.stop_signal;
        spec.stop_timeout = t.cfg.stop_timeout;
        if (t.cfg.cgroup) {
          // v1 controllers under <root>/<controller>, v2 at <root> or <root>/unified (hybrid).
          for (const char* h : {"memory", "pids", "cpu", "cpuacct", "unified", ""}) {
            fs::path dir = fs::path(cfg.daemon.cgroup_root) / h;
            dir += *t.cfg.cgroup;
            spec.cgroup_dirs.push_back(dir.lexically_normal().string());
          }
        }
        t.child = std::make_unique<ChildService>(event.get(), spec,
                                                 [this, tp](const ExitInfo& info) { main_exited(*tp, info); });
        auto started = t.child->start_or_adopt();
        if (started) {
          log_info(*started, {{"target", t.cfg.name}, {"log", spec.log_path}});
        } else {
          log_error("cannot start the target", {{"target", t.cfg.name}, {"error", started.error().message}});
          t.start_error = started.error().message;  // recorded (an event, an incident) by the remediator
        }
      } else if (t.cfg.systemd_unit) {
        if (!bus) {
          auto opened = SystemdBus::open(event.get());
          if (!opened) {
            log_error("systemd_unit targets cannot be watched", {{"error", opened.error().message}});
            continue;
          }
          bus = std::move(*opened);
        }
        t.unit = std::make_unique<UnitService>(
            *bus, *t.cfg.systemd_unit, [this, tp](const ExitInfo& info) { main_exited(*tp, info); },
            [this, tp](const UnitState& before, const UnitState& now) { unit_changed(*tp, before, now); });
        t.unit->start();
      }
    }
  }

  void unit_changed(TargetState& t, const UnitState& before, const UnitState& now) {
    if (before.active_state != now.active_state || before.sub_state != now.sub_state ||
        before.main_pid != now.main_pid) {
      log_info("unit state", {{"target", t.cfg.name},
                              {"unit", *t.cfg.systemd_unit},
                              {"state", now.active_state + "/" + now.sub_state},
                              {"main_pid", static_cast<std::int64_t>(now.main_pid)},
                              {"restarts", static_cast<std::int64_t>(now.n_restarts)}});
    }
    if (now.main_pid != 0 && remediator) remediator->running(t.cfg.name, wall_now_ms());
  }

  // The main process of a target exited (pidfd, or systemd's signal).
  void main_exited(TargetState& t, const ExitInfo& info) {
    const WallMs now = wall_now_ms();
    if (t.watch && t.watch->pid() == info.pid) t.watch.reset();
    if (remediator) remediator->crashed(t.cfg.name, info, now);
  }

  Remediator::TargetHooks::CgroupNow cgroup_now(const TargetState& t) {
    Remediator::TargetHooks::CgroupNow out;
    if (t.last_paths.empty()) return out;
    auto stats = cgroups.read(t.last_paths);
    if (!stats) return out;
    if (stats->oom_kill_events) out.oom_kills = static_cast<double>(*stats->oom_kill_events);
    if (stats->memory_max_usage_bytes) out.memory_peak_bytes = static_cast<double>(*stats->memory_max_usage_bytes);
    return out;
  }

  void prepare_remediation() {
    Remediator::Sinks sinks;
    sinks.incident = [this](IncidentRow row) { store->enqueue(std::move(row)); };
    sinks.event = [this](Event e) { record(std::move(e)); };
    sinks.given_up = [this](const std::string& target, bool active, const std::string& reason, WallMs now) {
      if (alerts) alerts->given_up(target, active, reason, now);
    };
    sinks.restarted = [this](const std::string& target) { check_soon(target); };
    remediator = std::make_unique<Remediator>(runners.get(), std::move(sinks));
    for (auto& t : targets) {
      TargetState* tp = &t;
      Remediator::TargetHooks hooks;
      hooks.controller = t.controller();
      hooks.main_pid = [tp] {
        if (tp->controller() != nullptr) return tp->controller()->main_pid();
        return tp->last && tp->last->present ? tp->last->main_pid : 0;
      };
      hooks.cgroup_now = [this, tp] { return cgroup_now(*tp); };
      hooks.signal = [tp](int sig) -> Result<int> {
        // Through the pidfd vigild already holds on the main process, so a
        // PID reused since it exited is never hit.
        if (tp->child) {
          const int pid = tp->child->main_pid();
          if (pid != 0 && tp->child->send(sig)) return pid;
        } else if (tp->watch && !tp->watch->exited()) {
          if (tp->watch->send(sig)) return tp->watch->pid();
        } else if (tp->unit && tp->unit->main_pid() != 0) {
          const int pid = tp->unit->main_pid();  // systemd's, kept current by PropertiesChanged
          if (auto r = send_signal(pid, sig); !r) return tl::unexpected(r.error());
          return pid;
        }
        return fail(ErrorKind::kNotFound, "not running: no process to signal");
      };
      remediator->add_target(t.cfg, std::move(hooks));
      if (t.cfg.remediate) {
        for (const auto& on : t.cfg.remediate->on) trigger_rules.insert(on);
      }
    }
    for (const auto& c : checks) remediator->add_check(c->cfg.target, c->cfg.name);
    std::vector<IncidentRow> open;
    std::int64_t max_id = 0;
    auto reader = StoreReader::open(cfg.store_path());
    if (reader) {
      IncidentQuery q;
      q.open_only = true;
      auto rows = reader->incidents(q);
      auto id = reader->max_incident_id();
      if (rows && id) {
        open = std::move(*rows);
        max_id = *id;
      } else {
        log_error("cannot read the open incidents back: numbering continues after the newest readable one",
                  {{"error", !rows ? rows.error().message : id.error().message}});
        if (id) max_id = *id;
      }
    }
    remediator->restore(open, max_id, wall_now_ms());
    // A target that could not be started is down: its remediation retries.
    for (auto& t : targets) {
      if (t.start_error.empty()) continue;
      ExitInfo info;
      info.start_error = t.start_error;
      remediator->crashed(t.cfg.name, info, wall_now_ms());
    }
    if (!open.empty()) log_info("open incidents continue", {{"count", static_cast<std::int64_t>(open.size())}});
  }

  // After a restart: each check of the target runs once kCheckSoon later
  // (a fresh process listens within milliseconds), then on its schedule. A
  // failure then is in the grace and not judged; a pass ends the grace.
  static constexpr std::uint64_t kCheckSoonUsec = 200'000;
  void check_soon(const std::string& target) {
    for (auto& c : checks) {
      if (c->cfg.target != target) continue;
      // Floating: the loop owns it; it goes with the loop at shutdown.
      sd_event_add_time_relative(
          event.get(), nullptr, CLOCK_MONOTONIC, kCheckSoonUsec, kTimerAccuracyUsec,
          [](sd_event_source*, std::uint64_t, void* run) -> int {
            auto* r = static_cast<CheckRun*>(run);
            if (!r->runner->busy()) r->daemon->start_check(*r);
            return 0;
          },
          c.get());
    }
  }

  // Rules named in a remediate `on`: their alerts' state, every tick.
  void rule_triggers(WallMs now) {
    if (trigger_rules.empty()) return;
    for (const auto& a : alerts->alerts()) {
      if (!trigger_rules.count(a.rule)) continue;
      std::string target;
      for (const auto& [k, v] : a.labels) {
        if (k == "target") target = v;
      }
      if (target.empty()) continue;
      remediator->rule_state(target, a.rule, a.status.phase == AlertPhase::kFiring, a.reason, now);
    }
  }

  // ---- alerts -------------------------------------------------------------

  static RuleSpec rule_spec(const RuleConfig& r) {
    RuleSpec spec;
    spec.name = r.name;
    spec.kind = r.kind == "check"      ? RuleKind::kCheck
                : r.kind == "growth"   ? RuleKind::kGrowth
                : r.kind == "forecast" ? RuleKind::kForecast
                : r.kind == "absence"  ? RuleKind::kAbsence
                                       : RuleKind::kThreshold;
    spec.metric = r.metric;
    spec.match = r.select;
    if (!r.target.empty()) spec.match.emplace_back("target", r.target);
    std::sort(spec.match.begin(), spec.match.end());
    spec.check_target = r.kind == "check" ? r.target : std::string();
    spec.check_name = r.check;
    spec.for_duration = r.for_duration;
    if (auto op = parse_comparison(r.op)) spec.op = *op;
    spec.threshold = r.value.value_or(0);
    spec.max_age = r.max_age;
    spec.growth = GrowthParams{r.baseline, r.max_growth_percent};
    spec.window = r.window;
    spec.horizon = r.horizon;
    if (!r.limit.empty()) {
      char* end = nullptr;
      double d = std::strtod(r.limit.c_str(), &end);
      if (end != r.limit.c_str() && *end == '\0') {
        spec.limit = d;
      } else {
        const char* metric = limit_metric_for(r.limit);
        spec.limit_metric = metric != nullptr ? metric : r.limit;
      }
    }
    spec.severity = r.severity;
    spec.labels = r.labels;
    std::sort(spec.labels.begin(), spec.labels.end());
    spec.annotations = r.annotations;
    return spec;
  }

  void prepare_alerts() {
    EngineOptions options;
    options.instance = cfg.alerting.instance;
    if (options.instance.empty()) {
      char name[256] = {};
      if (gethostname(name, sizeof name - 1) == 0) options.instance = name;
    }
    options.external_url = cfg.alerting.external_url;
    while (!options.external_url.empty() && options.external_url.back() == '/') options.external_url.pop_back();
    options.resend_interval = cfg.alerting.resend_interval;
    options.heartbeat = cfg.alerting.heartbeat;
    options.stale_after = cfg.alerting.stale_after;
    std::vector<RuleSpec> rules;
    for (const auto& r : cfg.rules) rules.push_back(rule_spec(r));
    std::vector<ReceiverSpec> receivers;
    for (const auto& r : cfg.receivers) receivers.push_back(ReceiverSpec{r.name, r.resends()});
    alerts = std::make_unique<AlertEngine>(
        options, std::move(rules), receivers, [this](AlertOp op) { store->enqueue(std::move(op)); },
        [this](Event e) { record(std::move(e)); });
    // What the last run left: firing alerts and undelivered transitions.
    // Read once, before the loop turns (the writer has committed everything
    // the previous vigild wrote: it opened the same file).
    // A watchdog that cannot read its old alerts still watches: it starts
    // with none (and says so) rather than not at all.
    std::vector<AlertRow> rows;
    std::vector<OutboxRow> outbox;
    auto reader = StoreReader::open(cfg.store_path());
    auto stored = reader ? reader->alerts() : tl::unexpected(reader.error());
    auto queued = reader ? reader->outbox() : tl::unexpected(reader.error());
    if (stored && queued) {
      rows = std::move(*stored);
      outbox = std::move(*queued);
    } else {
      log_error("cannot read the alert state back: starting with no firing alert and an empty outbox",
                {{"error", !stored ? stored.error().message : queued.error().message}});
    }
    const WallMs now = wall_now_ms();
    alerts->restore(rows, outbox, now);
    std::size_t firing = 0;
    for (const auto& a : rows) firing += a.phase == static_cast<int>(AlertPhase::kFiring) ? 1 : 0;
    if (!outbox.empty() || firing > 0) {
      log_info("alert state restored", {{"firing", static_cast<std::int64_t>(firing)},
                                        {"undelivered", static_cast<std::int64_t>(outbox.size())}});
    }
    for (const auto& c : checks) {
      if (c->cfg.alert) alerts->check_state(c->cfg.target, c->cfg.name, CheckAlertState::kUnknown, {}, now);
    }
    if (!cfg.receivers.empty()) {
      sender = std::make_unique<AlertSender>(event.get(), runners->curl(), *alerts, cfg,
                                             [this](AlertOp op) { store->enqueue(std::move(op)); });
      alerts->on_queued([this] { sender->pump(); });
    }
  }

  // A target found running at start-up began before this vigild: the
  // baseline window of its growth rules is in the store, not in memory.
  // Read once per target (two bounded range queries per rule), so that a
  // restart of vigild does not blind its leak detection until the target
  // restarts.
  void backfill_growth(const std::string& target, WallMs start_ms, WallMs now) {
    std::optional<StoreReader> reader;
    for (const auto& r : cfg.rules) {
      if (r.kind != "growth" || r.target != target) continue;
      if (start_ms + r.baseline.count() >= now - 2000) continue;  // the live samples cover it
      if (!reader) {
        auto opened = StoreReader::open(cfg.store_path());
        if (!opened) {
          log_warning("cannot read the growth baseline back", {{"target", target}, {"error", opened.error().message}});
          return;
        }
        reader.emplace(std::move(*opened));
      }
      Labels filter = r.select;
      filter.emplace_back("target", target);
      // The baseline window, and the last minutes for the current value and slope.
      for (auto [from, to] : {std::pair{start_ms, start_ms + r.baseline.count()}, std::pair{now - 600'000, now}}) {
        auto found = reader->query(r.metric, filter, from, to);
        if (!found) continue;  // an unknown metric: nothing stored yet
        for (const auto& s : *found) {
          Series points;
          for (const auto& p : s.points) points.push_back(SeriesPoint{p.ts_ms, p.value});
          alerts->backfill(s.series.key, points);
        }
      }
    }
  }

  void alert_tick() {
    const WallMs now = wall_now_ms();
    alerts->tick(now);
    if (remediator) {
      rule_triggers(now);
      remediator->tick(now);
    }
    if (sender) sender->pump();
  }

  // ---- checks -------------------------------------------------------------

  void start_check(CheckRun& c) {
    if (c.runner->busy()) {
      ++ticks_skipped;  // the previous run is still waiting for its answer or timeout
      return;
    }
    c.runner->start([this, &c](CheckOutcome out) { finish_check(c, std::move(out)); });
  }

  void finish_check(CheckRun& c, CheckOutcome out) {
    WallMs now = wall_now_ms();
    Labels labels{{"target", c.cfg.target}, {"check", c.cfg.name}};
    Collection samples;
    samples.add("check_up", labels, out.ok ? 1 : 0, now);
    samples.add("check_duration_seconds", labels, out.total_seconds, now);
    for (auto& v : out.values) {
      Labels l = std::move(v.labels);
      if (v.scraped) {
        // A scraped series is the service's own; it keeps its labels and
        // gets the target's, as Prometheus does with honor_labels = false.
        for (auto& [name, value] : l) {
          if (name == "target") name = "exported_target";
        }
        l.push_back({"target", c.cfg.target});
      } else {
        l.insert(l.end(), labels.begin(), labels.end());
      }
      std::sort(l.begin(), l.end());
      samples.add(std::move(v.metric), std::move(l), v.value, now);
    }
    for (const auto& w : out.warnings) {
      if (c.warned.size() < 100 && c.warned.insert(w).second) {
        log_warning("check output has a problem (logged once)",
                    {{"target", c.cfg.target}, {"check", c.cfg.name}, {"problem", w}});
      }
    }
    if (out.ok) {
      c.first_failure_ms = 0;
    } else if (c.first_failure_ms == 0) {
      c.first_failure_ms = now;
    }
    // In the start-up grace after an action, failures are not judged (a
    // pass is: it ends the grace for this check's state).
    const bool judged = out.ok || !remediator || !remediator->in_grace(c.cfg.target, now);
    std::optional<Transition> t;
    if (judged) t = observe(c.status, c.hysteresis, out.ok, now);
    samples.add("check_state", labels, static_cast<double>(c.status.state), now);  // after this result
    publish(samples.samples);
    if (!t) {
      alert_check(c, out.reason, now);
      if (remediator && judged) {
        remediator->check_result(c.cfg.target, c.cfg.name, c.status, out.ok, out.reason, c.first_failure_ms, now);
      }
      return;
    }
    const std::string who = c.cfg.target + "/" + c.cfg.name;
    if (t->state_changed) {
      Event e;
      e.ts_ms = now;
      e.kind = "check_" + std::string(to_string(t->to));
      e.target = c.cfg.target;
      e.check = c.cfg.name;
      e.severity = t->to == CheckState::kFailed ? Severity::kCritical
                   : t->to == CheckState::kOk  ? Severity::kInfo
                                               : Severity::kWarning;
      e.message = "check " + who + " is " + std::string(to_string(t->to)) + ": " + out.reason;
      e.details = "{\"from\":" + json_string(to_string(t->from)) + ",\"reason\":" + json_string(out.reason) +
                  ",\"consecutive_failures\":" + std::to_string(c.status.consecutive_failures) + "}";
      record(std::move(e));
    }
    if (t->flapping_changed) {
      record(Event{now, c.status.flapping ? "check_flapping" : "check_flapping_stopped", c.cfg.target,
                   c.cfg.name, Severity::kWarning,
                   "check " + who + (c.status.flapping ? " is flapping: " : " stopped flapping: ") +
                       std::to_string(c.status.changes_ms.size()) + " state changes in " +
                       format_duration(c.hysteresis.flap_window),
                   "{}"});
    }
    alert_check(c, out.reason, now);  // after the check's own event
    if (remediator) {
      remediator->check_result(c.cfg.target, c.cfg.name, c.status, out.ok, out.reason, c.first_failure_ms, now);
    }
  }

  void alert_check(const CheckRun& c, const std::string& reason, WallMs now) {
    if (!alerts || !c.cfg.alert) return;
    // Failed and recovering fire; ok resolves; unknown and failing (not
    // yet failed) leave the alert as it is.
    const CheckState st = c.status.state;
    const CheckAlertState as = st == CheckState::kFailed || st == CheckState::kRecovering ? CheckAlertState::kFailing
                               : st == CheckState::kOk                                    ? CheckAlertState::kOk
                                                                                          : CheckAlertState::kUnknown;
    alerts->check_state(c.cfg.target, c.cfg.name, as, reason, now);
  }

  // ---- recording ----------------------------------------------------------

  // Samples go to the alert rules, then to the store.
  void publish(std::vector<Sample>& samples) {
    if (alerts) {
      for (const auto& sample : samples) alerts->observe(sample);
    }
    if (remediator) {
      for (const auto& sample : samples) remediator->observe(sample);
    }
    store->enqueue(std::move(samples));
  }

  void record(Event e) {
    LogLevel level = e.severity == Severity::kInfo ? LogLevel::kInfo : LogLevel::kWarning;
    if (e.target.empty()) {
      log(level, e.message, {{"event", e.kind}});
    } else {
      log(level, e.message, {{"event", e.kind}, {"target", e.target}});
    }
    store->enqueue(std::move(e));
  }

  void probe_result(Collection& out, std::string_view probe, const std::string& target,
                    std::uint64_t started_usec, bool ok, WallMs now) {
    Labels labels{{"probe", std::string(probe)}};
    if (!target.empty()) labels.emplace_back("target", target);
    double seconds = static_cast<double>(mono_now_usec() - started_usec) / 1e6;
    out.add("vigil_probe_duration_seconds", labels, seconds, now);
    out.add("vigil_probe_success", std::move(labels), ok ? 1 : 0, now);
  }

  // ---- collectors ---------------------------------------------------------

  void sample_host() {
    std::uint64_t started = mono_now_usec();
    WallMs now = wall_now_ms();
    auto collected = host.collect(now);
    Collection out;
    if (collected) {
      out = std::move(*collected);
      report_warnings(out.warnings, host_problem, "host");
    } else if (collected.error().message != host_problem) {
      host_problem = collected.error().message;
      log_warning("host probe failed", {{"error", host_problem}});
    }
    probe_result(out, "host", {}, started, collected.has_value(), now);
    publish(out.samples);
  }

  void report_warnings(const std::vector<Error>& warnings, std::string& last, const std::string& who) {
    std::string joined;
    for (const auto& w : warnings) joined += (joined.empty() ? "" : "; ") + w.message;
    if (joined != last) {
      if (!joined.empty()) log_warning("probe could not read everything", {{"probe", who}, {"error", joined}});
      last = joined;
    }
  }

  void problem(TargetState& t, std::string text) {
    if (text == t.last_problem) return;
    t.last_problem = std::move(text);
    if (!t.last_problem.empty()) log_warning(t.last_problem, {{"target", t.cfg.name}});
  }

  std::vector<int> find_roots(TargetState& t) {
    auto alive = [&](int pid) {
      const ProcessEntry* e = processes.find(pid);
      return e != nullptr && e->stat.state != 'Z';
    };
    if (!t.cfg.start.empty() || t.cfg.systemd_unit) {
      ServiceController* c = t.controller();
      const int pid = c != nullptr ? c->main_pid() : 0;
      if (pid != 0 && alive(pid)) {
        problem(t, {});
        if (t.unit) return unit_roots(t, pid);
        return {pid};
      }
      if (t.unit && !t.unit->problem().empty()) {
        problem(t, t.unit->problem());
      } else if (t.unit && !t.unit->state().known) {
        problem(t, "unit " + *t.cfg.systemd_unit + ": waiting for systemd's answer over D-Bus");
      } else if (t.unit) {
        problem(t, "unit " + *t.cfg.systemd_unit + " has no main process (" + t.unit->state().active_state + "/" +
                       t.unit->state().sub_state + ")");
      } else {
        problem(t, "the process vigild starts for it is not running");
      }
      return {};
    }
    if (t.cfg.pid) {
      if (alive(*t.cfg.pid)) return {*t.cfg.pid};
      problem(t, "process " + std::to_string(*t.cfg.pid) + " is not running");
      return {};
    }
    if (t.cfg.pidfile) {
      auto pid = read_pidfile(*t.cfg.pidfile);
      if (!pid) {
        t.read_failed = pid.error().kind != ErrorKind::kNotFound;
        problem(t, "cannot read the pidfile (" + pid.error().message +
                       "): the target counts as not running until it can");
        return {};
      }
      if (!alive(*pid)) {
        problem(t, "pidfile " + *t.cfg.pidfile + " names PID " + std::to_string(*pid) + ", which is not running");
        return {};
      }
      problem(t, {});
      return {*pid};
    }
    auto roots = roots_of(processes, t.matcher->matching(processes));
    if (roots.empty()) {
      problem(t, "no process matches /" + *t.cfg.match + "/");
    } else {
      problem(t, {});
    }
    return roots;
  }

  // A unit's process tree is its cgroup: the main process first, then the
  // roots of every other process in the unit's cgroup (a helper the unit
  // started that is not the main process's child).
  std::vector<int> unit_roots(const TargetState& t, int main_pid) {
    std::vector<int> roots = {main_pid};
    const std::string& cg = t.unit->state().control_group;
    if (cg.empty()) return roots;
    for (const char* h : {"unified", "", "systemd"}) {
      fs::path procs = fs::path(cfg.daemon.cgroup_root) / h;
      procs += cg;
      auto text = read_file((procs / "cgroup.procs").string(), 1 << 20);
      if (!text) continue;
      std::vector<int> pids;
      for (auto line : split(*text, '\n')) {
        if (auto p = to_u64(trim(line)); p && *p > 0 && static_cast<int>(*p) != main_pid) {
          pids.push_back(static_cast<int>(*p));
        }
      }
      pids.push_back(main_pid);
      for (int r : roots_of(processes, pids)) {
        if (r != main_pid) roots.push_back(r);
      }
      break;
    }
    return roots;
  }

  void refresh_processes() {
    std::uint64_t now = mono_now_usec();
    if (table_refreshed_usec != 0 && now - table_refreshed_usec < table_max_age_usec) return;
    Collection out;
    auto refreshed = processes.refresh();
    std::string problem_now = refreshed ? std::string() : refreshed.error().message;
    if (problem_now != table_problem) {
      if (!problem_now.empty()) log_warning("cannot list processes", {{"error", problem_now}});
      table_problem = std::move(problem_now);
    }
    table_refreshed_usec = now;
    probe_result(out, "process_table", {}, now, refreshed.has_value(), wall_now_ms());
    out.add("vigil_processes_scanned", {}, static_cast<double>(processes.entries().size()), wall_now_ms());
    publish(out.samples);
  }

  void sample_target(TargetState& t) {
    refresh_processes();
    std::uint64_t started = mono_now_usec();
    WallMs now = wall_now_ms();
    Collection out;
    TargetObservation seen;
    t.read_failed = false;
    std::vector<int> roots = find_roots(t);
    if (!roots.empty()) {
      std::vector<int> pids = processes.tree(roots);
      processes.mark_hot(pids);
      TreeStats stats = collect_tree(processes, pids, roots.size());
      if (stats.processes > 0) {
        seen = TargetObservation{true, stats.main_pid, stats.main_start_ms};
        append_tree_samples(stats, t.cfg.name, now, out);
        sample_cgroup(t, stats.main_pid, now, out);
      }
    }
    if (!seen.present) out.add("process_count", {{"target", t.cfg.name}}, 0, now);
    watch_main(t, seen);
    note_transition(t, seen, now);
    probe_result(out, "process", t.cfg.name, started, !t.read_failed, now);
    publish(out.samples);
  }

  // A target vigild only finds (pid, pidfile, match): a pidfd on its main
  // process, so that its exit is seen at once rather than at the next round.
  void watch_main(TargetState& t, const TargetObservation& seen) {
    if (t.controller() != nullptr) return;  // their services watch their own
    if (!seen.present) {
      t.watch.reset();
      return;
    }
    if (t.watch && t.watch->pid() == seen.main_pid) return;
    TargetState* tp = &t;
    auto w = PidWatch::open(event.get(), seen.main_pid, false,
                            [this, tp](const ExitInfo& info) { main_exited(*tp, info); });
    if (w) {
      t.watch = std::move(*w);
    } else {
      t.watch.reset();
    }
  }

  void sample_cgroup(TargetState& t, int main_pid, WallMs now, Collection& out) {
    CgroupPaths paths;
    if (t.cfg.cgroup) {
      paths = cgroup_paths_everywhere(*t.cfg.cgroup);
    } else {
      auto text = processes.read_pid_file(main_pid, PidFile::kCgroup);
      if (!text) return;  // the process just exited
      auto lines = procfs::parse_pid_cgroup(*text);
      if (!lines) return;
      paths = cgroup_paths_from(*lines);
      // The root cgroup's counters are the whole host's, not the target's.
      if (paths.v2 == "/") paths.v2.reset();
      std::erase_if(paths.v1, [](const auto& kv) { return kv.second == "/"; });
    }
    if (paths.empty()) return;
    t.last_paths = paths;
    auto stats = cgroups.read(paths);
    if (!stats) {
      if (stats.error().kind != ErrorKind::kNotFound) {
        t.read_failed = true;
        problem(t, "cgroup: " + stats.error().message);
      }
      return;
    }
    append_cgroup_samples(*stats, t.cfg.name, now, out);
  }

  void note_transition(TargetState& t, const TargetObservation& seen, WallMs now) {
    TargetTransition tr = classify_transition(t.last, seen);
    if (tr != TargetTransition::kNone) {
      Event e;
      e.ts_ms = now;
      e.kind = std::string(event_kind_of(tr));
      e.target = t.cfg.name;
      std::string pid = std::to_string(seen.main_pid);
      std::string started = format_rfc3339_ms(seen.main_start_ms);
      switch (tr) {
        case TargetTransition::kAppeared:
          e.message = "target " + t.cfg.name + ": process " + pid + " found (started " + started + ")";
          break;
        case TargetTransition::kRestarted:
          e.severity = Severity::kWarning;
          e.message = "target " + t.cfg.name + " restarted: process " + std::to_string(t.last->main_pid) +
                      " replaced by " + pid + " (started " + started + ")";
          break;
        case TargetTransition::kVanished:
          e.severity = Severity::kWarning;
          e.message = "target " + t.cfg.name + ": process " + std::to_string(t.last->main_pid) + " is gone";
          break;
        case TargetTransition::kNone: break;
      }
      e.details = "{\"pid\":" + std::to_string(seen.present ? seen.main_pid : t.last->main_pid);
      if (t.last && t.last->present) e.details += ",\"previous_pid\":" + std::to_string(t.last->main_pid);
      if (seen.present) e.details += ",\"start_time\":" + json_string(started);
      e.details += "}";
      record(std::move(e));
      if (remediator && seen.present) remediator->running(t.cfg.name, now);
      if (alerts && seen.present) {
        alerts->target_started(t.cfg.name, seen.main_start_ms);
        if (tr == TargetTransition::kAppeared) backfill_growth(t.cfg.name, seen.main_start_ms, now);
      }
    }
    t.last = seen;
  }

  void record_lag(double seconds) {
    std::size_t i = 0;
    while (i < kLagBounds.size() && seconds > kLagBounds[i]) ++i;
    ++lag_buckets[i];
    ++lag_count;
    lag_sum_seconds += seconds;
  }

  void sample_self() {
    WallMs now = wall_now_ms();
    WriterStats s = store->stats();
    Collection out;
    out.add("vigil_samples_dropped_total", {}, static_cast<double>(s.samples_dropped), now);
    out.add("vigil_store_queued_samples", {}, static_cast<double>(s.queued), now);
    out.add("vigil_store_commits_total", {}, static_cast<double>(s.commits), now);
    out.add("vigil_store_commit_failures_total", {}, static_cast<double>(s.commit_failures), now);
    out.add("vigil_store_last_commit_duration_seconds", {}, s.last_commit_seconds, now);
    out.add("vigil_loop_lag_max_seconds", {}, static_cast<double>(max_lag_usec) / 1e6, now);
    out.add("vigil_ticks_skipped_total", {}, static_cast<double>(ticks_skipped), now);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < lag_buckets.size(); ++i) {
      cumulative += lag_buckets[i];
      std::string le = i < kLagBounds.size() ? format_value_text(kLagBounds[i]) : "+Inf";
      out.add("vigil_loop_lag_seconds_bucket", {{"le", le}}, static_cast<double>(cumulative), now);
    }
    out.add("vigil_loop_lag_seconds_sum", {}, lag_sum_seconds, now);
    out.add("vigil_loop_lag_seconds_count", {}, static_cast<double>(lag_count), now);
    max_lag_usec = 0;
    if (alerts) {
      std::size_t firing = 0;
      for (const auto& a : alerts->alerts()) firing += a.status.phase == AlertPhase::kFiring ? 1 : 0;
      out.add("vigil_alerts_firing", {}, static_cast<double>(firing), now);
      for (const auto& q : alerts->queues()) {
        QueueStats qs = q.stats();
        Labels l{{"receiver", q.name()}};
        out.add("vigil_alert_queue_pending", l, static_cast<double>(qs.pending), now);
        out.add("vigil_alert_queue_oldest_age_seconds", l,
                qs.oldest_created_ms == 0 ? 0.0 : static_cast<double>(now - qs.oldest_created_ms) / 1000, now);
        out.add("vigil_alert_delivered_total", l, static_cast<double>(qs.delivered), now);
        out.add("vigil_alert_delivery_failures_total", l, static_cast<double>(qs.failed_attempts), now);
        out.add("vigil_alert_dropped_total", l, static_cast<double>(qs.dropped), now);
      }
    }
    if (remediator) out.add("vigil_incidents_open", {}, static_cast<double>(remediator->open_incidents()), now);
    publish(out.samples);
    cgroups.forget_unused();
    if (s.samples_dropped > dropped_reported) {
      std::uint64_t lost = s.samples_dropped - dropped_reported;
      dropped_reported = s.samples_dropped;
      record(Event{now, std::string(event_kind::kSamplesDropped), {}, {}, Severity::kWarning,
                   std::to_string(lost) + " samples dropped: the store writer is not keeping up (" +
                       (s.last_error.empty() ? std::string("queue full") : s.last_error) + ")",
                   "{\"dropped\":" + std::to_string(lost) + "}"});
    }
    notify_status(s);
  }

  void notify_status(const WriterStats& s) {
    std::size_t running = 0;
    for (const auto& t : targets) running += (t.last && t.last->present) ? 1 : 0;
    std::string status = "STATUS=watching " + std::to_string(targets.size()) + " targets (" +
                         std::to_string(running) + " running); " + std::to_string(s.series) + " series, " +
                         std::to_string(s.samples_committed) + " samples stored, " +
                         std::to_string(s.samples_dropped) + " dropped";
    sd_notify(0, status.c_str());
  }

  // ---- the loop -----------------------------------------------------------

  struct Timer {
    Impl* daemon;
    Millis interval;
    std::function<void()> run;
  };
  std::vector<std::unique_ptr<Timer>> timers;

  static int on_timer(sd_event_source* source, std::uint64_t due, void* userdata) {
    auto* timer = static_cast<Timer*>(userdata);
    Impl* d = timer->daemon;
    std::uint64_t now = mono_now_usec();
    if (now > due) d->max_lag_usec = std::max(d->max_lag_usec, now - due);
    d->record_lag(now > due ? static_cast<double>(now - due) / 1e6 : 0.0);
    timer->run();
    // Next due time keeps the phase; a round that overran is skipped, not
    // run twice in a row.
    std::uint64_t step = usec(timer->interval);
    std::uint64_t next = due + step;
    now = mono_now_usec();
    if (next <= now) {
      std::uint64_t behind = (now - next) / step + 1;
      d->ticks_skipped += behind;
      next += behind * step;
    }
    sd_event_source_set_time(source, next);
    sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
    return 0;
  }

  bool add_timer(Millis interval, Millis first_delay, std::function<void()> run) {
    timers.push_back(std::make_unique<Timer>(Timer{this, interval, std::move(run)}));
    int r = sd_event_add_time(event.get(), nullptr, CLOCK_MONOTONIC, mono_now_usec() + usec(first_delay),
                              kTimerAccuracyUsec, &Impl::on_timer, timers.back().get());
    if (r < 0) {
      log_error("cannot add timer", {{"error", std::strerror(-r)}});
      return false;
    }
    return true;
  }

  static int on_signal(sd_event_source* source, const struct signalfd_siginfo* si, void*) {
    if (si->ssi_signo == SIGHUP) {
      log_info("SIGHUP: configuration reload is not supported yet; restart vigild to apply changes");
      return 0;
    }
    log_info("stopping", {{"signal", strsignal(static_cast<int>(si->ssi_signo))}});
    sd_event_exit(sd_event_source_get_event(source), 0);
    return 0;
  }

  int run() {
    // Signals must be blocked before any thread starts (the store writer),
    // so that only the loop's signalfd sees them.
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    if (!lock_state_dir() || !open_store()) return 1;
    prepare_targets();

    sd_event* e = nullptr;
    int r = sd_event_new(&e);
    if (r < 0) {
      log_error("cannot create the event loop", {{"error", std::strerror(-r)}});
      return 1;
    }
    event.reset(e);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) {
      r = sd_event_add_signal(e, nullptr, s, &Impl::on_signal, nullptr);
      if (r < 0) {
        log_error("cannot watch signal", {{"signal", strsignal(s)}, {"error", std::strerror(-r)}});
        return 1;
      }
    }
    // Pings WATCHDOG=1 at half of WATCHDOG_USEC while the loop turns; a no-op
    // when systemd did not ask for it.
    r = sd_event_set_watchdog(e, 1);
    if (r < 0) log_warning("cannot enable the systemd watchdog", {{"error", std::strerror(-r)}});
    prepare_checks();  // their sources live on the loop
    prepare_alerts();
    prepare_services();
    prepare_remediation();
    // The start-up reads of the store (alert state, outbox, incidents) left
    // freed heap behind (SQLite's page cache): give it back to the system,
    // since the loop itself needs far less.
    malloc_trim(0);

    std::string targets_json = "[";
    for (const auto& t : targets) targets_json += (targets_json.size() > 1 ? "," : "") + json_string(t.cfg.name);
    targets_json += "]";
    record(Event{wall_now_ms(), std::string(event_kind::kDaemonStart), {}, {}, Severity::kInfo,
                 "vigild " + std::string(kVersion) + " started (PID " + std::to_string(getpid()) + ")",
                 "{\"pid\":" + std::to_string(getpid()) + ",\"version\":" + json_string(kVersion) +
                     ",\"targets\":" + targets_json + "}"});

    // The first round runs now, so READY=1 means samples are on their way.
    if (cfg.host.enabled) {
      sample_host();
      if (!add_timer(cfg.host_interval(), cfg.host_interval(), [this] { sample_host(); })) return 1;
    }
    for (auto& t : targets) {
      sample_target(t);
      if (!add_timer(t.interval, t.interval + splay_for(t.cfg.name, std::min(t.interval / 10, kMaxSplay)), [this, &t] { sample_target(t); })) {
        return 1;
      }
    }
    for (auto& c : checks) {
      CheckRun* run = c.get();
      // The first run waits for the check's offset too (within 2 s), so that
      // start-up is not a burst of every check at once.
      const Millis offset = splay_for(run->cfg.target + "/" + run->cfg.name, std::min(run->interval, Millis(2000)));
      if (!add_timer(run->interval, offset,
                     [this, run] { start_check(*run); })) {
        return 1;
      }
    }
    if (!add_timer(cfg.daemon.status_interval, Millis(1000), [this] { sample_self(); })) return 1;
    if (!add_timer(Millis(1000), Millis(0), [this] { alert_tick(); })) return 1;

    WriterStats s = store->stats();
    sd_notify(0, "READY=1");
    notify_status(s);
    log_info("ready", {{"targets", static_cast<std::int64_t>(targets.size())},
                       {"store", cfg.store_path()},
                       {"interval", format_duration(cfg.daemon.interval)}});

    r = sd_event_loop(e);
    sd_notify(0, "STOPPING=1");
    if (r < 0) log_error("event loop failed", {{"error", std::strerror(-r)}});
    record(Event{wall_now_ms(), std::string(event_kind::kDaemonStop), {}, {}, Severity::kInfo,
                 "vigild stopped", "{\"pid\":" + std::to_string(getpid()) + "}"});
    store->close();
    WriterStats final_stats = store->stats();
    log_info("stopped", {{"samples_stored", final_stats.samples_committed},
                         {"samples_dropped", final_stats.samples_dropped}});
    return r < 0 ? 1 : 0;
  }
};

Daemon::Daemon(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Daemon::~Daemon() = default;
int Daemon::run() { return impl_->run(); }

}  // namespace vigil
