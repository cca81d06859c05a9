#include "heal/targets.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>

#include "config/targets.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "probes/docker/facts.hpp"

namespace vigil {

namespace fs = std::filesystem;

TargetContext::TargetContext(sd_event* event, std::string state_dir, std::string proc_root, std::string cgroup_root)
    : event_(event),
      state_dir_(std::move(state_dir)),
      proc_root_(std::move(proc_root)),
      cgroup_root_(std::move(cgroup_root)) {}

Result<SystemdBus*> TargetContext::bus() {
  if (!bus_) {
    auto opened = SystemdBus::open(event_);
    if (!opened) return tl::unexpected(opened.error());
    bus_ = std::move(*opened);
  }
  return bus_.get();
}

void TargetContext::make_docker() {
  if (docker_watcher_) return;
  CurlLoop* curl = nullptr;
  if (docker_setup_.curl) {
    curl = &docker_setup_.curl();
  } else {
    own_curl_ = std::make_unique<CurlLoop>(event_);  // no one shares one (tests)
    curl = own_curl_.get();
  }
  docker_client_ = std::make_unique<docker::Client>(event_, *curl, docker_setup_.client);
  docker_watcher_ = std::make_unique<docker::Watcher>(event_, *docker_client_, docker_setup_.callbacks);
  docker_watcher_->start();
}

docker::Watcher& TargetContext::docker_watcher() {
  make_docker();
  return *docker_watcher_;
}

docker::Client& TargetContext::docker_client() {
  make_docker();
  return *docker_client_;
}

namespace {

bool alive(const ProcessTable& table, int pid) {
  const ProcessEntry* e = table.find(pid);
  return e != nullptr && e->stat.state != 'Z';
}

// pid, pidfile and match targets: vigild only finds their processes. A
// pidfd on the main process reports its exit at once rather than at the
// next round.
class FoundProcesses : public TargetProcesses {
 public:
  FoundProcesses(sd_event* event, OnExit on_exit) : event_(event), on_exit_(std::move(on_exit)) {}

  void seen(int main_pid) override {
    if (main_pid == 0) {
      watch_.reset();
      return;
    }
    if (watch_ && watch_->pid() == main_pid && !watch_->exited()) return;
    auto w = PidWatch::open(event_, main_pid, false, [this](const ExitInfo& info) {
      OnExit cb = on_exit_;
      watch_.reset();  // the watch goes; `info` is a copy held by the caller's frame
      cb(info);
    });
    watch_ = w ? std::move(*w) : nullptr;
  }

  int main_pid() const override { return watch_ && !watch_->exited() ? watch_->pid() : 0; }

  Result<int> signal(int sig) override {
    if (watch_ && !watch_->exited() && watch_->send(sig)) return watch_->pid();
    return fail(ErrorKind::kNotFound, "not running: no process to signal");
  }

 private:
  sd_event* event_;
  OnExit on_exit_;
  std::unique_ptr<PidWatch> watch_;
};

class PidProcesses : public FoundProcesses {
 public:
  PidProcesses(sd_event* event, OnExit on_exit, int pid) : FoundProcesses(event, std::move(on_exit)), pid_(pid) {}
  FoundRoots roots(ProcessTable& table) override {
    if (alive(table, pid_)) return {{pid_}, {}, false};
    return {{}, "process " + std::to_string(pid_) + " is not running", false};
  }

 private:
  int pid_;
};

class PidfileProcesses : public FoundProcesses {
 public:
  PidfileProcesses(sd_event* event, OnExit on_exit, std::string path)
      : FoundProcesses(event, std::move(on_exit)), path_(std::move(path)) {}
  FoundRoots roots(ProcessTable& table) override {
    auto pid = read_pidfile(path_);
    if (!pid) {
      return {{},
              "cannot read the pidfile (" + pid.error().message + "): the target counts as not running until it can",
              pid.error().kind != ErrorKind::kNotFound};
    }
    if (!alive(table, *pid)) {
      return {{}, "pidfile " + path_ + " names PID " + std::to_string(*pid) + ", which is not running", false};
    }
    return {{*pid}, {}, false};
  }

 private:
  std::string path_;
};

class MatchProcesses : public FoundProcesses {
 public:
  MatchProcesses(sd_event* event, OnExit on_exit, const std::string& pattern)
      : FoundProcesses(event, std::move(on_exit)),
        pattern_(pattern),
        matcher_(std::regex(pattern, std::regex::ECMAScript | std::regex::optimize)) {}
  FoundRoots roots(ProcessTable& table) override {
    auto found = roots_of(table, matcher_.matching(table));
    if (found.empty()) return {{}, "no process matches /" + pattern_ + "/", false};
    return {std::move(found), {}, false};
  }

 private:
  std::string pattern_;
  ProcessMatcher matcher_;
};

// container, container_label, compose_service: a Docker container, found
// in the engine's containers as the watcher keeps them (probes/docker/).
// Its main process is the container's init process on the host, watched
// through a pidfd like any found process; restarted through the engine.
class ContainerProcesses : public FoundProcesses, public ServiceController, public ContainerController {
 public:
  ContainerProcesses(const TargetConfig& t, TargetContext& context, OnExit on_exit)
      : FoundProcesses(context.event(), std::move(on_exit)),
        kind_(t.kind),
        selector_(t.finder.as<ContainerTarget>().selector),
        context_(context) {}

  Result<std::string> start() override {
    context_.docker_watcher();  // connects now: the first round finds the containers listed
    return std::string();
  }

  FoundRoots roots(ProcessTable& table) override {
    const ContainerLookup found = container();
    const docker::ContainerInfo* c = found.container;
    if (c == nullptr) {
      id_.clear();
      return {{}, found.problem, false};
    }
    id_ = c->id;
    name_ = c->name;
    if (c->state != docker::ContainerState::kRunning)
      return {{}, "container " + c->name + " is " + docker::describe_state(*c), false};
    if (c->pid <= 0 || !alive(table, c->pid)) {
      return {{}, "container " + c->name + ": its process " + std::to_string(c->pid) + " is not running", false};
    }
    return {{c->pid}, {}, false};
  }

  int main_pid() const override { return FoundProcesses::main_pid(); }
  ServiceController* controller() override { return this; }
  ContainerController* container_controller() override { return this; }

  ContainerLookup container() const override {
    const docker::Watcher& w = context_.docker_watcher();
    if (!w.up()) return {nullptr, "Docker is not available: " + w.why()};
    const docker::ContainerInfo* c = pick(w);
    // By name or id, the one found is the one; by label or service, a
    // better one may be still to come while the list is read.
    if (c != nullptr && kind_ == TargetKind::kContainer) return {c, {}};
    if (!w.synced()) return {nullptr, "Docker answers; its containers are being listed"};
    if (c == nullptr) return {nullptr, "no container " + describe()};
    return {c, {}};
  }

  void restart(Millis timeout, ActionDone done) override {
    act(docker::ContainerAction::kRestart, timeout, {}, std::move(done));
  }

  void engine_stats(Millis timeout, std::function<void(Result<docker::EngineStats>)> done) override {
    if (id_.empty()) return done(fail(ErrorKind::kNotFound, "no container " + describe()));
    auto path = docker::stats_path(id_);
    if (!path) return done(tl::unexpected(path.error()));
    context_.docker_client().get(
        *path,
        [done](Result<std::string> body) {
          if (!body) return done(tl::unexpected(body.error()));
          done(docker::parse_stats(*body));
        },
        timeout);
  }

  void act(docker::ContainerAction action, Millis timeout, std::string signal, ActionDone done) override {
    // (verb, done): "stop", "stopped"
    const auto [verb, did] = [action]() -> std::pair<const char*, const char*> {
      switch (action) {
        case docker::ContainerAction::kStart:
          return {"start", "started"};
        case docker::ContainerAction::kStop:
          return {"stop", "stopped"};
        case docker::ContainerAction::kRestart:
          return {"restart", "restarted"};
        case docker::ContainerAction::kPause:
          return {"pause", "paused"};
        case docker::ContainerAction::kUnpause:
          return {"unpause", "unpaused"};
        case docker::ContainerAction::kKill:
          return {"signal", "signalled"};
      }
      return {"act on", "acted on"};
    }();
    // The container as the engine says now (the last round may have been
    // while the engine was away, or before it was recreated).
    if (const docker::ContainerInfo* c = container().container) {
      id_ = c->id;
      name_ = c->name;
    }
    if (id_.empty()) {
      return done(ActionResult{ActionStatus::kFailed, "no container " + describe() + " to " + verb});
    }
    // Stop and restart: the engine sends the stop signal, then SIGKILL
    // after t seconds.
    const auto t =
        std::clamp<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(timeout).count() / 2, 1, 10);
    auto path = docker::action_path(id_, action, static_cast<int>(t), signal);
    if (!path) return done(ActionResult{ActionStatus::kFailed, path.error().message});
    const std::string name = name_;
    const std::string what = action == docker::ContainerAction::kKill
                                 ? std::string("signalled container ") + name + " (" +
                                       (signal.empty() ? std::string("SIGKILL") : signal) + ")"
                                 : std::string(did) + " container " + name;
    context_.docker_client().post(
        *path,
        [done, name, what, verb = std::string(verb)](Result<std::string> r) {
          if (r) return done(ActionResult{ActionStatus::kOk, what});
          // With the engine's own words when it answered (409 Conflict: ...
          // is paused), else why nothing answered.
          done(ActionResult{ActionStatus::kFailed, "Docker did not " + verb + " " + name + ": " + r.error().message});
        },
        timeout);
  }
  std::string what() const override { return "container " + (name_.empty() ? selector_ : name_); }

 private:
  std::string describe() const {
    switch (kind_) {
      case TargetKind::kContainerLabel:
        return "with the label " + selector_;
      case TargetKind::kComposeService:
        return "of the Compose service " + selector_;
      default:
        return "named " + selector_;
    }
  }

  // The container this target is: by name or id, or the running one
  // (else any) with the label or of the service, the most recently started
  // first.
  const docker::ContainerInfo* pick(const docker::Watcher& w) const {
    if (kind_ == TargetKind::kContainer) return w.find(selector_);
    std::vector<const docker::ContainerInfo*> found;
    for (const auto& [id, c] : w.containers()) {
      if (docker::selected_by(c, kind_, selector_)) found.push_back(&c);
    }
    const docker::ContainerInfo* best = nullptr;
    for (const auto* c : found) {
      const bool running = c->state == docker::ContainerState::kRunning;
      const bool best_running = best != nullptr && best->state == docker::ContainerState::kRunning;
      if (best == nullptr || (running && !best_running) ||
          (running == best_running && c->started_at.value_or(0) > best->started_at.value_or(0))) {
        best = c;
      }
    }
    return best;
  }

  TargetKind kind_;
  std::string selector_;
  TargetContext& context_;
  std::string id_, name_;  // of the container the last round found
};

// start = [argv]: vigild runs it (heal/service.hpp ChildService).
class StartedProcesses : public TargetProcesses {
 public:
  StartedProcesses(const TargetConfig& t, TargetContext& context, OnExit on_exit) {
    const StartTarget& s = t.finder.as<StartTarget>();
    ChildSpec spec;
    spec.target = t.name;
    spec.argv = s.argv;
    spec.log_path = (fs::path(context.state_dir()) / "logs" / (t.name + ".log")).string();
    spec.run_path = (fs::path(context.state_dir()) / "run" / (t.name + ".pid")).string();
    spec.proc_root = context.proc_root();
    spec.stop_signal = s.stop_signal;
    spec.stop_timeout = s.stop_timeout;
    if (t.cgroup) {
      // v1 controllers under <root>/<controller>, v2 at <root> or <root>/unified (hybrid).
      for (const char* h : {"memory", "pids", "cpu", "cpuacct", "unified", ""}) {
        fs::path dir = fs::path(context.cgroup_root()) / h;
        dir += *t.cgroup;
        spec.cgroup_dirs.push_back(dir.lexically_normal().string());
      }
    }
    log_path_ = spec.log_path;
    child_ = std::make_unique<ChildService>(context.event(), std::move(spec), std::move(on_exit));
  }

  Result<std::string> start() override {
    auto r = child_->start_or_adopt();
    if (r) return *r + " (output in " + log_path_ + ")";
    return r;
  }
  FoundRoots roots(ProcessTable& table) override {
    const int pid = child_->main_pid();
    if (pid != 0 && alive(table, pid)) return {{pid}, {}, false};
    if (!child_->last_start_error().empty())
      return {{}, "vigild cannot start it: " + child_->last_start_error(), false};
    return {{}, "the process vigild starts for it is not running", false};
  }
  int main_pid() const override { return child_->main_pid(); }
  Result<int> signal(int sig) override {
    const int pid = child_->main_pid();
    if (pid != 0 && child_->send(sig)) return pid;
    return fail(ErrorKind::kNotFound, "not running: no process to signal");
  }
  ServiceController* controller() override { return child_.get(); }

 private:
  std::string log_path_;
  std::unique_ptr<ChildService> child_;
};

// systemd_unit = "...": systemd runs it; vigild reads it over D-Bus.
class UnitProcesses : public TargetProcesses {
 public:
  UnitProcesses(const TargetConfig& t, TargetContext& context, OnExit on_exit, OnUnitChange on_change)
      : unit_name_(t.finder.as<UnitTarget>().unit),
        cgroup_root_(context.cgroup_root()),
        context_(context),
        on_exit_(std::move(on_exit)),
        on_change_(std::move(on_change)) {
    connect();
  }

  Result<std::string> start() override {
    if (!unit_) return fail(ErrorKind::kNotAvailable, bus_problem_);
    unit_->start();
    return std::string();
  }

  FoundRoots roots(ProcessTable& table) override {
    if (!unit_) {
      // No system bus (yet): try again, less often the longer it lasts.
      const std::uint64_t now = mono_now_usec();
      if (now >= next_connect_usec_ && connect()) {
        unit_->start();
        return {{}, "unit " + unit_name_ + ": the system bus is reachable now; waiting for systemd's answer", false};
      }
      if (!unit_) return {{}, bus_problem_, false};
    }
    const int pid = unit_->main_pid();
    if (pid != 0 && alive(table, pid)) return {cgroup_roots(table, pid), {}, false};
    if (!unit_->problem().empty()) return {{}, unit_->problem(), false};
    if (!unit_->state().known) return {{}, "unit " + unit_name_ + ": waiting for systemd's answer over D-Bus", false};
    return {{},
            "unit " + unit_name_ + " has no main process (" + unit_->state().active_state + "/" +
                unit_->state().sub_state + ")",
            false};
  }
  int main_pid() const override { return unit_ ? unit_->main_pid() : 0; }
  Result<int> signal(int sig) override {
    const int pid = main_pid();  // systemd's, kept current by PropertiesChanged
    if (pid == 0) return fail(ErrorKind::kNotFound, "not running: no process to signal");
    if (auto r = send_signal(pid, sig); !r) return tl::unexpected(r.error());
    return pid;
  }
  ServiceController* controller() override { return unit_.get(); }

 private:
  // A unit's process tree is its cgroup: the main process first, then the
  // roots of every other process in the unit's cgroup (a helper the unit
  // started that is not the main process's child).
  std::vector<int> cgroup_roots(const ProcessTable& table, int main_pid) const {
    std::vector<int> roots = {main_pid};
    const std::string& cg = unit_->state().control_group;
    if (cg.empty()) return roots;
    for (const char* h : {"unified", "", "systemd"}) {
      fs::path procs = fs::path(cgroup_root_) / h;
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
      for (int r : roots_of(table, pids)) {
        if (r != main_pid) roots.push_back(r);
      }
      break;
    }
    return roots;
  }

  // The unit's watcher over the system bus; false (and bus_problem_ says
  // why, the next attempt scheduled) when the bus cannot be reached.
  bool connect() {
    auto bus = context_.bus();
    if (!bus) {
      retry_usec_ = retry_usec_ == 0 ? kFirstRetryUsec : std::min(retry_usec_ * 2, kMaxRetryUsec);
      next_connect_usec_ = mono_now_usec() + retry_usec_;
      bus_problem_ = "D-Bus is unavailable, so the unit cannot be watched: " + bus.error().message +
                     " (retrying every " + format_duration(Millis(static_cast<std::int64_t>(retry_usec_ / 1000))) + ")";
      return false;
    }
    unit_ = std::make_unique<UnitService>(**bus, unit_name_, on_exit_, on_change_);
    return true;
  }

  static constexpr std::uint64_t kFirstRetryUsec = 5'000'000;
  static constexpr std::uint64_t kMaxRetryUsec = 300'000'000;

  std::string unit_name_;
  std::string cgroup_root_;
  TargetContext& context_;
  OnExit on_exit_;
  OnUnitChange on_change_;
  std::string bus_problem_;
  std::uint64_t next_connect_usec_ = 0;
  std::uint64_t retry_usec_ = 0;
  std::unique_ptr<UnitService> unit_;
};

}  // namespace

std::unique_ptr<TargetProcesses> make_target_processes(const TargetConfig& t, TargetContext& context,
                                                       TargetProcesses::OnExit on_exit,
                                                       TargetProcesses::OnUnitChange on_unit_change) {
  switch (t.kind) {
    case TargetKind::kPid:
      return std::make_unique<PidProcesses>(context.event(), std::move(on_exit), t.finder.as<PidTarget>().pid);
    case TargetKind::kPidfile:
      return std::make_unique<PidfileProcesses>(context.event(), std::move(on_exit), t.finder.as<PidfileTarget>().path);
    case TargetKind::kMatch:
      return std::make_unique<MatchProcesses>(context.event(), std::move(on_exit), t.finder.as<MatchTarget>().pattern);
    case TargetKind::kStart:
      return std::make_unique<StartedProcesses>(t, context, std::move(on_exit));
    case TargetKind::kSystemdUnit:
      return std::make_unique<UnitProcesses>(t, context, std::move(on_exit), std::move(on_unit_change));
    case TargetKind::kContainer:
    case TargetKind::kContainerLabel:
    case TargetKind::kComposeService:
      return std::make_unique<ContainerProcesses>(t, context, std::move(on_exit));
  }
  return nullptr;
}

TargetTransition classify_transition(const std::optional<TargetObservation>& previous,
                                     const TargetObservation& current) {
  const bool was_present = previous && previous->present;
  if (!was_present) return current.present ? TargetTransition::kAppeared : TargetTransition::kNone;
  if (!current.present) return TargetTransition::kVanished;
  if (previous->main_pid != current.main_pid || previous->main_start_ms != current.main_start_ms) {
    return TargetTransition::kRestarted;
  }
  return TargetTransition::kNone;
}

std::optional<Event> transition_event(const std::string& target, TargetTransition tr,
                                      const std::optional<TargetObservation>& previous, const TargetObservation& seen,
                                      WallMs now) {
  if (tr == TargetTransition::kNone) return std::nullopt;
  Event e;
  e.ts_ms = now;
  e.target = target;
  const std::string pid = std::to_string(seen.main_pid);
  const std::string started = format_rfc3339_ms(seen.main_start_ms);
  const int previous_pid = previous ? previous->main_pid : 0;
  switch (tr) {
    case TargetTransition::kAppeared:
      e.kind = EventKind::kTargetAppeared;
      e.message = "target " + target + ": process " + pid + " found (started " + started + ")";
      break;
    case TargetTransition::kRestarted:
      e.kind = EventKind::kTargetRestarted;
      e.severity = Severity::kWarning;
      e.message = "target " + target + " restarted: process " + std::to_string(previous_pid) + " replaced by " + pid +
                  " (started " + started + ")";
      break;
    case TargetTransition::kVanished:
      e.kind = EventKind::kTargetVanished;
      e.severity = Severity::kWarning;
      e.message = "target " + target + ": process " + std::to_string(previous_pid) + " is gone";
      break;
    case TargetTransition::kNone:
      break;
  }
  std::string details = "{\"pid\":" + std::to_string(seen.present ? seen.main_pid : previous_pid);
  if (previous && previous->present) details += ",\"previous_pid\":" + std::to_string(previous_pid);
  if (seen.present) {
    details += ",\"start_time\":\"";
    append_json_escaped(details, started);
    details += "\"";
  }
  e.details = details + "}";
  return e;
}

}  // namespace vigil
