#include "watchdog/daemon.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "alerting/engine.hpp"
#include "alerting/from_config.hpp"
#include "alerting/sender.hpp"
#include "config/targets.hpp"
#include "core/file_trust.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/unique_fd.hpp"
#include "core/version.hpp"
#include "heal/remediator.hpp"
#include "heal/service.hpp"
#include "heal/targets.hpp"
#include "probes/checks/check.hpp"
#include "probes/docker/facts.hpp"
#include "store/store.hpp"
#include "watchdog/backfill.hpp"
#include "watchdog/checks.hpp"
#include "watchdog/loop.hpp"
#include "watchdog/recorder.hpp"
#include "watchdog/sampler.hpp"
#include "watchdog/self_metrics.hpp"

namespace vigil {

namespace {

namespace fs = std::filesystem;

constexpr Millis kMaxSplay{200};
// After a restart, each check of the target runs this much later (a fresh
// process listens within milliseconds), then on its schedule.
constexpr Millis kCheckSoon{200};

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
  const rlim_t want = std::min<rlim_t>(rl.rlim_max, 65536);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// <state_dir>/vigild.pid, locked for as long as vigild runs. A POSIX record
// lock rather than flock(): `vigil status` can ask who holds it with
// F_GETLK without taking it, so it never makes a starting vigild fail.
Result<UniqueFd> lock_state_dir(const std::string& state_dir) {
  std::error_code ec;
  // Made private (0700) when vigild makes it; an existing one keeps the
  // mode its owner gave it, unless any user could plant files there.
  const bool existed = fs::exists(state_dir, ec);
  fs::create_directories(state_dir, ec);
  if (ec) return fail(ErrorKind::kIo, "cannot create state directory " + state_dir + ": " + ec.message());
  if (!existed) ::chmod(state_dir.c_str(), 0700);
  struct stat st {};
  if (::stat(state_dir.c_str(), &st) != 0) {
    return fail(ErrorKind::kIo, "cannot examine state directory " + state_dir + ": " + errno_text(errno));
  }
  if (!S_ISDIR(st.st_mode)) return fail(ErrorKind::kInvalid, "state directory " + state_dir + " is not a directory");
  if (auto why = untrusted_mode(st.st_mode)) {
    return fail(ErrorKind::kPermission, "state directory " + state_dir + " " + *why +
                                            ": any local user could plant files or symbolic links there; run "
                                            "chmod o-w " +
                                            state_dir + " (vigild makes it 0700 itself)");
  }
  const std::string path = (fs::path(state_dir) / "vigild.pid").string();
  // Never through a symbolic link planted in its place (O_NOFOLLOW), and
  // readable by its owner only.
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP) {
      return fail(ErrorKind::kInvalid,
                  "pid file " + path + " is a symbolic link; vigild does not follow it: remove it");
    }
    return fail(ErrorKind::kIo, "cannot open pid file " + path + ": " + std::strerror(err));
  }
  if (::fstat(fd.get(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return fail(ErrorKind::kInvalid, "pid file " + path + " is not a regular file: remove it");
  }
  ::fchmod(fd.get(), 0600);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (fcntl(fd.get(), F_SETLK, &lock) != 0) {
    auto other = read_file(path, 64);
    return fail(ErrorKind::kInvalid, "another vigild (PID " + (other ? std::string(trim(*other)) : std::string("?")) +
                                         ") already uses " + path + "; stop it or set another daemon.state_dir");
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    log_warning("cannot write pid file", {{"path", path}, {"error", std::strerror(errno)}});
  }
  return fd;
}

std::string hostname() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string();
}

}  // namespace

struct Daemon::Impl {
  Config cfg;
  UniqueFd pid_lock;
  std::unique_ptr<Loop> loop;
  std::unique_ptr<StoreWriter> store;
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<CheckContext> check_context;
  std::unique_ptr<TargetContext> target_context;
  std::unique_ptr<LeftoverChildren> leftovers;  // processes of `start` targets no longer configured
  std::unique_ptr<AlertEngine> alerts;
  std::unique_ptr<Backfill> backfill;
  std::unique_ptr<Remediator> remediator;
  std::unique_ptr<CheckScheduler> checks;  // after the remediator and alerts: its results go there
  std::unique_ptr<AlertSender> sender;
  // Keyed by name: a reload can replace one without touching the others.
  std::map<std::string, std::unique_ptr<WatchedTarget>> targets;
  std::set<std::string> trigger_rules;                     // rule names some [target.remediate] `on` lists
  std::map<std::string, std::string> followed_containers;  // container targets: the id followed last
  std::set<std::string> discovered;                        // targets of [docker] auto (now)
  std::set<std::string> not_discovered;                    // containers [docker] auto cannot watch (said once)
  std::unique_ptr<SelfMetrics> self;
  std::unique_ptr<Timer> host_timer, self_timer, tick_timer;

  explicit Impl(Config c) : cfg(std::move(c)) {}

  // ---- start-up, in order --------------------------------------------------

  bool open_store() {
    OpenReport report;
    StoreOptions options;
    options.path = cfg.store_path();
    options.flush_interval = cfg.daemon.flush_interval;
    options.queue_capacity = cfg.store.queue_capacity;
    options.retention.raw = cfg.store.retention_raw;
    options.retention.rollup_1m = cfg.store.retention_1m;
    options.retention.rollup_1h = cfg.store.retention_1h;
    options.retention.events = cfg.store.retention_events;
    options.retention.incidents = cfg.store.retention_incidents;
    options.retention.max_bytes = cfg.store.max_size;
    options.retention.min_free_fraction = cfg.store.min_free_disk / 100.0;
    auto opened = StoreWriter::open(options, &report);
    if (!opened) {
      log_error("cannot open the store", {{"path", options.path}, {"error", opened.error().message}});
      return false;
    }
    store = std::move(*opened);
    recorder = std::make_unique<Recorder>(*store);
    if (report.recovered) {
      // The event is the one log line (the recorder logs every event).
      recorder->record(Event{
          wall_now_ms(),
          EventKind::kStoreRecovered,
          {},
          {},
          Severity::kCritical,
          "store " + options.path + " was corrupt (" + report.corrupt_reason + "); moved to " + report.moved_to +
              " and started a new one",
          "{\"moved_to\":" + json_string(report.moved_to) + ",\"reason\":" + json_string(report.corrupt_reason) + "}"});
    }
    return true;
  }

  void make_rooms() {
    check_context = std::make_unique<CheckContext>(loop->event());
    target_context = std::make_unique<TargetContext>(loop->event(), cfg.daemon.state_dir, cfg.daemon.proc_root,
                                                     cfg.daemon.cgroup_root);
    target_context->set_docker(docker_setup());
    check_context->set_container_lookup([this](const std::string& target) -> ContainerLookup {
      auto it = targets.find(target);
      if (it == targets.end()) return {nullptr, "no target " + target};
      return it->second->processes->container();
    });
    sampler = std::make_unique<Sampler>(
        cfg, *recorder, [this](WatchedTarget& t, TargetTransition tr, const TargetObservation& seen, WallMs now) {
          target_seen(t, tr, seen, now);
        });
    checks = std::make_unique<CheckScheduler>(*loop, *check_context, *recorder);
    self = std::make_unique<SelfMetrics>(*loop, *recorder);
  }

  // The engine the container targets are watched through ([docker]).
  TargetContext::DockerSetup docker_setup() {
    TargetContext::DockerSetup s;
    auto socket = docker::engine_socket(cfg.docker.socket, std::getenv("DOCKER_HOST"));
    if (!socket) {
      log_warning("ignoring DOCKER_HOST", {{"error", socket.error().message}, {"socket", docker::kDefaultSocket}});
    }
    s.client.socket = socket ? *socket : docker::kDefaultSocket;
    s.client.timeout = cfg.docker.timeout;
    s.curl = [this]() -> CurlLoop& { return check_context->curl(); };
    s.callbacks.on_availability = [](bool up, const std::string& why) {
      // Once per change, not per attempt: the watcher retries with backoff.
      if (up) {
        log_info("Docker answers", {{"engine", why}});
      } else {
        log_warning("Docker is not available; container targets wait for it (retrying with backoff)", {{"error", why}});
      }
    };
    s.callbacks.on_problem = [](const Error& e) { log_debug("Docker", {{"problem", e.message}}); };
    s.callbacks.on_change = [this](const docker::ContainerChange& change) { container_changed(change); };
    return s;
  }

  std::unique_ptr<WatchedTarget> make_watched(const TargetConfig& tc) {
    auto t = std::make_unique<WatchedTarget>();
    t->cfg = tc;
    t->interval = cfg.target_interval(tc);
    WatchedTarget* tp = t.get();
    t->processes = make_target_processes(
        tc, *target_context, [this, tp](const ExitInfo& info) { main_exited(*tp, info); },
        [this, tp](const UnitState& before, const UnitState& now) { unit_changed(*tp, before, now); });
    sampler->set_table_max_age(std::min(t->interval / 10, kMaxSplay) + Millis(20), t->interval);
    return t;
  }

  void prepare_targets() {
    for (const auto& tc : cfg.targets) targets[tc.name] = make_watched(tc);
    for (const auto& c : cfg.checks) checks->add(c, cfg.check_interval(c));
  }

  // The store as the last vigild left it: firing alerts and undelivered
  // transitions, open incidents. Read once, before the loop turns (the
  // writer has committed everything the previous vigild wrote: it opened
  // the same file). A watchdog that cannot read them still watches: it
  // starts without them, and says so.
  struct Restored {
    std::vector<AlertRow> alerts;
    std::vector<OutboxRow> outbox;
    std::vector<IncidentRow> incidents;
    std::int64_t max_incident_id = 0;
  };
  Restored read_restored() {
    Restored r;
    auto reader = StoreReader::open(cfg.store_path());
    if (!reader) {
      log_error("cannot read the store back: starting with no firing alert, an empty outbox and no open incident",
                {{"error", reader.error().message}});
      return r;
    }
    auto stored = reader->alerts();
    auto queued = reader->outbox();
    if (stored && queued) {
      r.alerts = std::move(*stored);
      r.outbox = std::move(*queued);
    } else {
      log_error("cannot read the alert state back: starting with no firing alert and an empty outbox",
                {{"error", !stored ? stored.error().message : queued.error().message}});
    }
    IncidentQuery q;
    q.open_only = true;
    auto rows = reader->incidents(q);
    auto id = reader->max_incident_id();
    if (rows) r.incidents = std::move(*rows);
    if (id) r.max_incident_id = *id;
    if (!rows || !id) {
      log_error("cannot read the open incidents back: numbering continues after the newest readable one",
                {{"error", !rows ? rows.error().message : id.error().message}});
    }
    return r;
  }

  void prepare_alerts(const Restored& restored) {
    std::vector<RuleSpec> rules;
    for (const auto& r : cfg.rules) rules.push_back(rule_spec(r));
    alerts = std::make_unique<AlertEngine>(
        engine_options(cfg.alerting, hostname()), std::move(rules), receiver_specs(cfg.receivers),
        [this](AlertOp op) { store->enqueue(std::move(op)); }, [this](Event e) { recorder->record(std::move(e)); });
    const WallMs now = wall_now_ms();
    alerts->restore(restored.alerts, restored.outbox, now);
    const auto firing = std::count_if(restored.alerts.begin(), restored.alerts.end(),
                                      [](const AlertRow& a) { return a.phase == AlertPhase::kFiring; });
    if (!restored.outbox.empty() || firing > 0) {
      log_info("alert state restored", {{"firing", static_cast<std::int64_t>(firing)},
                                        {"undelivered", static_cast<std::int64_t>(restored.outbox.size())}});
    }
    checks->for_each([&](const ScheduledCheck& c) {
      if (c.spec().alert) alerts->check_state(c.spec().target, c.spec().name, CheckAlertState::kUnknown, {}, now);
    });
    // Likewise each target's TargetDown: a restored one stays as it was until
    // the target's first round says, instead of resolving at the first tick.
    for (const auto& t : cfg.targets) {
      if (t.alert) alerts->target_watched(t.name, now);
    }
    if (!cfg.receivers.empty()) {
      sender = std::make_unique<AlertSender>(loop->event(), check_context->curl(), *alerts, cfg,
                                             [this](AlertOp op) { store->enqueue(std::move(op)); });
      alerts->on_queued([this] { sender->pump(); });
    }
    backfill = std::make_unique<Backfill>(*loop, cfg.store_path(), cfg.rules, *alerts);
    recorder->set_alerts(alerts.get());
  }

  Remediator::TargetHooks hooks_for(WatchedTarget& t) {
    WatchedTarget* tp = &t;
    Remediator::TargetHooks hooks;
    hooks.controller = t.processes->controller();
    hooks.main_pid = [tp] { return tp->processes->main_pid(); };
    hooks.signal = [tp](int sig) { return tp->processes->signal(sig); };
    hooks.cgroup_now = [this, tp] { return sampler->cgroup_now(*tp); };
    hooks.main_stopped = [tp] { return tp->main_state == 'T' || tp->main_state == 't'; };
    if (target_kind(t.cfg.kind).container) {
      hooks.manager = [tp] {
        Remediator::TargetHooks::ManagerNow m;
        const ContainerLookup found = tp->processes->container();
        // No engine to ask (or no such container): an action could only
        // fail and spend the rate limit; the incident waits, and the
        // re-listing when the engine is back tells what happened meanwhile.
        if (found.container == nullptr) {
          m.hold = found.problem;
          return m;
        }
        m.hold = docker::restart_hold(*found.container, wall_now_ms()).value_or("");
        // Its process is gone and the engine has not said so yet (its die
        // event follows within milliseconds): what Docker does next is
        // not known until then.
        m.settling = found.container->state == docker::ContainerState::kRunning && tp->processes->main_pid() == 0;
        m.restarts_itself = docker::restarted_by_docker(*found.container).value_or("");
        return m;
      };
    }
    return hooks;
  }

  void prepare_remediation(const Restored& restored) {
    Remediator::Sinks sinks;
    sinks.incident = [this](IncidentRow row) { store->enqueue(std::move(row)); };
    sinks.event = [this](Event e) { recorder->record(std::move(e)); };
    sinks.given_up = [this](const std::string& target, bool active, const std::string& reason, WallMs now) {
      alerts->given_up(target, active, reason, now);
    };
    sinks.restarted = [this](const std::string& target) { checks->run_soon(target, kCheckSoon); };
    remediator = std::make_unique<Remediator>(check_context.get(), std::move(sinks));
    for (auto& [name, t] : targets) {
      remediator->add_target(t->cfg, hooks_for(*t));
      if (!t->cfg.remediate) continue;
      for (const auto& trigger : t->cfg.remediate->triggers) {
        if (trigger.kind == TriggerKind::kRule) trigger_rules.insert(trigger.name);
      }
    }
    for (const auto& c : cfg.checks) remediator->add_check(c);
    remediator->restore(restored.incidents, restored.max_incident_id, wall_now_ms());
    if (!restored.incidents.empty()) {
      log_info("open incidents continue", {{"count", static_cast<std::int64_t>(restored.incidents.size())}});
    }
    recorder->set_remediator(remediator.get());
    checks->wire(alerts.get(), remediator.get());
  }

  // `start` targets are started (or adopted), `systemd_unit` targets looked
  // up over D-Bus; both report their main process's exit at once. A target
  // that could not be started is down: its remediation retries.
  void start_targets() {
    for (auto& [name, t] : targets) {
      auto started = t->processes->start();
      if (!started && started.error().kind == ErrorKind::kNotAvailable) {
        // Nothing to start and nothing seen to fail: the target cannot be
        // watched yet (no system bus). Its rounds say so (target_problem,
        // TargetDown) and retry.
        continue;
      }
      if (!started) {
        log_error("cannot start watching the target", {{"target", name}, {"error", started.error().message}});
        ExitInfo info;
        info.start_error = started.error().message;
        remediator->crashed(name, info, wall_now_ms());
      } else if (!started->empty()) {
        log_info(*started, {{"target", name}});
      }
    }
  }

  // ---- what the rooms report ---------------------------------------------

  void target_seen(WatchedTarget& t, TargetTransition tr, const TargetObservation& seen, WallMs now) {
    if (alerts && t.cfg.alert) {
      alerts->target_state(t.cfg.name, seen.present,
                           t.last_problem.empty() ? "its main process is not running" : t.last_problem, now);
    }
    if (tr == TargetTransition::kNone || !seen.present) return;
    if (remediator) remediator->running(t.cfg.name, now);
    if (alerts) alerts->target_started(t.cfg.name, seen.main_start_ms);
    if (backfill && tr == TargetTransition::kAppeared) backfill->request(t.cfg.name, seen.main_start_ms, now);
  }

  void unit_changed(WatchedTarget& t, const UnitState& before, const UnitState& now) {
    if (before.active_state != now.active_state || before.sub_state != now.sub_state ||
        before.main_pid != now.main_pid) {
      log_info("unit state", {{"target", t.cfg.name},
                              {"state", now.active_state + "/" + now.sub_state},
                              {"main_pid", static_cast<std::int64_t>(now.main_pid)},
                              {"restarts", static_cast<std::int64_t>(now.n_restarts)}});
    }
    if (now.main_pid != 0 && remediator) remediator->running(t.cfg.name, wall_now_ms());
  }

  // The main process of a target exited (pidfd, or systemd's signal).
  void main_exited(WatchedTarget& t, const ExitInfo& exited) {
    ExitInfo info = exited;
    // A container's exit status is the engine's, when it knows already
    // (else its die event brings it: container_changed).
    if (const ContainerLookup found = t.processes->container();
        found.container != nullptr && found.container->state != docker::ContainerState::kRunning &&
        found.container->pid == 0) {
      fill_exit(info, *found.container);
    }
    // vigild's own restart stopped it: the remediator knows; no alert.
    if (remediator && remediator->restarting(t.cfg.name)) {
      remediator->crashed(t.cfg.name, info, wall_now_ms());
      return;
    }
    // At once, not at the next round.
    if (alerts && t.cfg.alert) {
      alerts->target_state(t.cfg.name, false, "main process " + std::to_string(info.pid) + " " + info.describe(),
                           wall_now_ms());
    }
    if (remediator) remediator->crashed(t.cfg.name, info, wall_now_ms());
    // Its checks judge the endpoint now (in milliseconds, not up to an
    // interval later): an endpoint whose process died is down.
    if (checks) checks->run_soon(t.cfg.name, Millis(0));
  }

  static void fill_exit(ExitInfo& info, const docker::ContainerInfo& c) {
    const docker::ExitFacts f = docker::exit_facts(c);
    info.status_known = true;
    info.code = f.code;
    info.signal = f.signal;
    info.oom_killed = f.oom_killed;
  }

  // A container changed (the Docker watcher): for each target following
  // it, the event at once, and a death or a health change judged at once
  // (its checks run now) rather than at the next interval.
  void container_changed(const docker::ContainerChange& change) {
    const docker::ContainerInfo* c = change.now != nullptr ? change.now : change.before;
    if (c == nullptr) return;
    const WallMs now = wall_now_ms();
    for (auto& [name, t] : targets) {
      if (!target_kind(t->cfg.kind).container) continue;
      const ContainerLookup found = t->processes->container();
      const std::string id = found.container != nullptr ? found.container->id : std::string();
      std::string& followed = followed_containers[name];
      if (c->id != id && c->id != followed) continue;
      if (!id.empty() && !followed.empty() && id != followed) {
        recorder->record(Event{now,
                               EventKind::kContainerReplaced,
                               name,
                               {},
                               Severity::kWarning,
                               "target " + name + " follows container " + found.container->name + " (" +
                                   id.substr(0, 12) + ") instead of " + followed.substr(0, 12),
                               "{\"container\":" + json_string(id) + ",\"before\":" + json_string(followed) + "}"});
      }
      if (!id.empty()) followed = id;
      std::optional<docker::ContainerEvent> ev = change.event;
      // Died while the stream was away (the engine restarted): told as a die.
      if (!ev && change.before != nullptr && change.now != nullptr &&
          change.before->state == docker::ContainerState::kRunning &&
          change.now->state != docker::ContainerState::kRunning) {
        ev = docker::ContainerEvent{};
        ev->id = c->id;
        ev->action = docker::EventAction::kDie;
        ev->exit_code = change.now->exit_code;
      }
      if (!ev) {
        // Changed while the stream was away (a re-listing): judged now, as
        // after an event.
        if (checks && change.before != nullptr && change.now != nullptr) checks->run_soon(name, Millis(0));
        continue;
      }
      if (auto e = docker::container_event(*ev, change.now, now)) {
        e->target = name;
        recorder->record(std::move(*e));
      }
      switch (ev->action) {
        case docker::EventAction::kDie:
          if (change.now != nullptr && remediator) {
            ExitInfo info;
            info.pid = change.before != nullptr ? change.before->pid : 0;
            fill_exit(info, *change.now);
            // Before or after the init process's pidfd says it exited:
            // either way one crash, with the engine's exit code and OOMKilled.
            remediator->crashed(name, info, now);
          }
          [[fallthrough]];
        case docker::EventAction::kOom:
        case docker::EventAction::kHealthStatus:
        case docker::EventAction::kPause:
        case docker::EventAction::kUnpause:
        case docker::EventAction::kStart:
        case docker::EventAction::kRestart:
          if (checks) checks->run_soon(name, Millis(0));
          break;
        default:
          break;
      }
    }
    discover(change);
  }

  // ---- [docker] auto: containers as targets while vigild runs ----------------

  // A running container with the label (or any, with "all") becomes a
  // target of its own; it goes when the container is removed (or renamed:
  // the target follows a name).
  void discover(const docker::ContainerChange& change) {
    if (cfg.docker.auto_targets == DockerAuto::kOff) return;
    const WallMs now = wall_now_ms();
    if (change.before != nullptr && discovered.count(change.before->name) != 0) {
      if (change.now == nullptr) {
        // Gone, unless another container has its name by now (recreated).
        if (target_context->docker_watcher().find(change.before->name) == nullptr) {
          remove_discovered(change.before->name, "container " + change.before->name + " was removed", now);
        }
      } else if (change.now->name != change.before->name) {
        remove_discovered(change.before->name,
                          "container " + change.before->name + " was renamed " + change.now->name, now);
      }
    }
    if (change.now == nullptr || !docker::auto_discovered(*change.now, cfg.docker.auto_targets)) return;
    const std::string& name = change.now->name;
    if (discovered.count(name) != 0 || followed_by_configured(*change.now)) return;
    add_discovered(*change.now, now);
  }

  // A configured container target may follow it (under another name, by
  // its name, id, label or Compose service): it is not watched twice.
  bool followed_by_configured(const docker::ContainerInfo& c) const {
    for (const auto& t : cfg.targets) {
      if (t.finder.empty() || !target_kind(t.kind).container) continue;
      if (docker::selected_by(c, t.kind, t.finder.as<ContainerTarget>().selector)) return true;
    }
    return false;
  }

  void add_discovered(const docker::ContainerInfo& c, WallMs now) {
    auto tc = discovered_container_target(cfg, c.name);
    if (!tc) {
      if (not_discovered.insert(c.name).second) {
        log_warning("[docker] auto does not watch a container (said once)", {{"error", tc.error().message}});
      }
      return;
    }
    const CheckConfig health = docker_health_check(cfg, *tc);
    auto made = make_watched(*tc);
    WatchedTarget& t = *made;
    targets[tc->name] = std::move(made);
    discovered.insert(tc->name);
    recorder->record(Event{now,
                           EventKind::kTargetAdded,
                           tc->name,
                           {},
                           Severity::kInfo,
                           "target " + tc->name + " added: container " + c.name + " (" + c.id.substr(0, 12) +
                               ") found by [docker] auto",
                           "{\"container\":" + json_string(c.id) + ",\"checks\":[" + json_string(health.name) + "]}"});
    if (alerts && tc->alert) alerts->target_watched(tc->name, now);
    if (alerts && health.alert) alerts->check_state(tc->name, health.name, CheckAlertState::kUnknown, {}, now);
    t.processes->start();  // the watcher runs already: this finds nothing to start
    if (!schedule_target(t) || !checks->add_scheduled(health, cfg.check_interval(health))) {
      log_error("cannot schedule a target found by [docker] auto", {{"target", tc->name}});
    }
    checks->run_soon(tc->name, Millis(0));  // its HEALTHCHECK judged now, not in 30 s
  }

  void remove_discovered(const std::string& name, const std::string& why, WallMs now) {
    auto it = targets.find(name);
    if (it == targets.end()) return;
    checks->remove_target(name);
    targets.erase(it);  // its timer, its process watch and what is in flight for it go
    discovered.erase(name);
    followed_containers.erase(name);
    const std::string message = "target " + name + " is no longer watched: " + why;
    if (alerts) alerts->target_removed(name, message, now);
    recorder->record(Event{now, EventKind::kTargetRemoved, name, {}, Severity::kInfo, message,
                           "{\"reason\":" + json_string(why) + "}"});
  }

  // Every second: alert rules' time-based conditions, remediation triggers.
  void tick() {
    const WallMs now = wall_now_ms();
    alerts->tick(now);
    // Rules named in a remediate `on`: their alerts' state.
    if (!trigger_rules.empty()) {
      for (const auto& a : alerts->alerts()) {
        if (!trigger_rules.count(a.rule)) continue;
        auto target =
            std::find_if(a.labels.begin(), a.labels.end(), [](const Label& l) { return l.first == "target"; });
        if (target == a.labels.end()) continue;
        remediator->rule_state(target->second, a.rule, a.status.phase == AlertPhase::kFiring, a.reason, now);
      }
    }
    remediator->tick(now);
    if (sender) sender->pump();
  }

  std::size_t running_targets() const {
    return static_cast<std::size_t>(std::count_if(
        targets.begin(), targets.end(), [](const auto& kv) { return kv.second->last && kv.second->last->present; }));
  }

  void sample_self() {
    self->sample(alerts.get(), remediator.get(), targets.size(), running_targets(), sampler->stalled_reads(),
                 target_context->docker_if_used());
    sampler->forget_unused();
  }

  // A `start` target removed from the config leaves no process behind: the
  // one an earlier vigild started for it is stopped (heal/service.hpp).
  void stop_leftovers() {
    // Any target still configured keeps its run file: one switched from
    // `start` to a pidfile or a match may be watching that very process.
    std::set<std::string> keep;
    for (const auto& t : cfg.targets) keep.insert(t.name);
    const std::string run_dir = (fs::path(cfg.daemon.state_dir) / "run").string();
    leftovers = std::make_unique<LeftoverChildren>(
        loop->event(), run_dir, cfg.daemon.proc_root, keep, [this](const LeftoverChildren::Outcome& o) {
          const std::string message = "target " + o.target + " is no longer configured: " + o.message;
          log_info(message, {{"target", o.target}});
          recorder->record(
              Event{wall_now_ms(),
                    EventKind::kTargetRemoved,
                    o.target,
                    {},
                    Severity::kInfo,
                    message,
                    "{\"pid\":" + std::to_string(o.pid) + ",\"stopped\":" + (o.stopped ? "true" : "false") + "}"});
        });
  }

  // ---- the loop -------------------------------------------------------------

  void record_start() {
    std::string names = "[";
    for (const auto& [name, t] : targets) names += (names.size() > 1 ? "," : "") + json_string(name);
    names += "]";
    // What is configured now: `vigil status` and `vigil checks` show what
    // the store holds of anything else as removed.
    std::string check_names = "[";
    for (const auto& c : cfg.checks) {
      check_names += (check_names.size() > 1 ? "," : "") + std::string("{\"target\":") + json_string(c.target) +
                     ",\"check\":" + json_string(c.name) + "}";
    }
    check_names += "]";
    recorder->record(Event{wall_now_ms(),
                           EventKind::kDaemonStart,
                           {},
                           {},
                           Severity::kInfo,
                           "vigild " + std::string(kVersion) + " started (PID " + std::to_string(getpid()) + ")",
                           "{\"pid\":" + std::to_string(getpid()) + ",\"version\":" + json_string(kVersion) +
                               ",\"state_dir\":" + json_string(fs::absolute(cfg.daemon.state_dir).string()) +
                               ",\"targets\":" + names + ",\"checks\":" + check_names + "}"});
  }

  // The target's first round now, then every interval.
  bool schedule_target(WatchedTarget& t) {
    sampler->sample_target(t);
    WatchedTarget* tp = &t;
    // Targets' samples line up into rounds: a small offset each, as a name's hash.
    const Millis first = t.interval + splay_for(t.cfg.name, std::min(t.interval / 10, kMaxSplay));
    t.timer = std::make_unique<Timer>(*loop, t.interval, first, [this, tp] { sampler->sample_target(*tp); });
    return !t.timer->failed();
  }

  // The first round runs now, so READY=1 means samples are on their way.
  bool schedule() {
    if (cfg.host.enabled) {
      sampler->sample_host();
      host_timer =
          std::make_unique<Timer>(*loop, cfg.host_interval(), cfg.host_interval(), [this] { sampler->sample_host(); });
      if (host_timer->failed()) return false;
    }
    for (auto& [name, t] : targets) {
      if (!schedule_target(*t)) return false;
    }
    if (!checks->schedule()) return false;
    self_timer = std::make_unique<Timer>(*loop, cfg.daemon.status_interval, Millis(1000), [this] { sample_self(); });
    tick_timer = std::make_unique<Timer>(*loop, Millis(1000), Millis(0), [this] { tick(); });
    return !self_timer->failed() && !tick_timer->failed();
  }

  bool start_up() {
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    auto made = Loop::make();  // before the store: it blocks the signals every thread inherits
    if (!made) {
      log_error("cannot start the event loop", {{"error", made.error().message}});
      return false;
    }
    loop = std::move(*made);
    auto locked = lock_state_dir(cfg.daemon.state_dir);
    if (!locked) {
      log_error(locked.error().message, {{"state_dir", cfg.daemon.state_dir}});
      return false;
    }
    pid_lock = std::move(*locked);
    if (!open_store()) return false;
    make_rooms();
    prepare_targets();
    {
      const Restored restored = read_restored();
      prepare_alerts(restored);
      prepare_remediation(restored);
    }
    // Before the targets start: what starting them records (a program that
    // cannot run, a leftover process stopped) belongs to this run.
    record_start();
    // [docker] auto: the engine's containers are listed now (without a
    // container target of the config, nothing else would connect).
    if (cfg.docker.auto_targets != DockerAuto::kOff) target_context->docker_watcher();
    start_targets();
    stop_leftovers();
    // The start-up reads of the store left freed heap behind (SQLite's page
    // cache): give it back, since the loop itself needs far less.
    malloc_trim(0);
    return schedule();
  }

  int run() {
    if (!start_up()) return 1;
    sd_notify(0, "READY=1");
    self->notify_status(targets.size(), running_targets());
    log_info("ready", {{"targets", static_cast<std::int64_t>(targets.size())},
                       {"store", cfg.store_path()},
                       {"interval", format_duration(cfg.daemon.interval)}});
    const int r = loop->run();
    sd_notify(0, "STOPPING=1");
    if (r < 0) log_error("event loop failed", {{"error", std::strerror(-r)}});
    recorder->record(Event{wall_now_ms(),
                           EventKind::kDaemonStop,
                           {},
                           {},
                           Severity::kInfo,
                           "vigild stopped",
                           "{\"pid\":" + std::to_string(getpid()) + "}"});
    store->close();
    const WriterStats final_stats = store->stats();
    log_info("stopped",
             {{"samples_stored", final_stats.samples_committed}, {"samples_dropped", final_stats.samples_dropped}});
    return r < 0 ? 1 : 0;
  }
};

Daemon::Daemon(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Daemon::~Daemon() = default;
int Daemon::run() {
  return impl_->run();
}

}  // namespace vigil
