#include "watchdog/sampler.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "probes/docker/facts.hpp"
#include "probes/procfs.hpp"

namespace vigil {

Sampler::Sampler(const Config& cfg, Recorder& recorder, Listener listener)
    : recorder_(recorder),
      listener_(std::move(listener)),
      host_(cfg.daemon.proc_root, cfg.host.rootfs),
      processes_(cfg.daemon.proc_root),
      cgroups_(cfg.daemon.cgroup_root) {
  // Processes outside every target's tree are re-read every 10th refresh
  // (see ProcessTable::refresh): the scan of every stat file was half of
  // vigild's CPU on a host of ~270 processes.
  processes_.set_cold_every(10);
}

void Sampler::set_table_max_age(Millis window, Millis interval) {
  widest_window_ = std::max(widest_window_, window);
  shortest_interval_ = std::min(shortest_interval_, interval);
  const Millis age = std::min(widest_window_, shortest_interval_ / 2);
  table_max_age_usec_ = static_cast<std::uint64_t>(age.count()) * 1000;
}

void Sampler::probe_result(Collection& out, std::string_view probe, const std::string& target,
                           std::uint64_t started_usec, bool ok, WallMs now) {
  Labels labels{{"probe", std::string(probe)}};
  if (!target.empty()) labels.emplace_back("target", target);
  const double seconds = static_cast<double>(mono_now_usec() - started_usec) / 1e6;
  out.add("vigil_probe_duration_seconds", labels, seconds, now);
  out.add("vigil_probe_success", std::move(labels), ok ? 1 : 0, now);
}

void Sampler::sample_host() {
  const std::uint64_t started = mono_now_usec();
  const WallMs now = wall_now_ms();
  auto collected = host_.collect(now);
  Collection out;
  std::string problem_now;
  if (collected) {
    out = std::move(*collected);
    for (const auto& w : out.warnings) problem_now += (problem_now.empty() ? "" : "; ") + w.message;
  } else {
    problem_now = collected.error().message;
  }
  if (problem_now != host_problem_) {
    if (!problem_now.empty()) log_warning("the host probe could not read everything", {{"error", problem_now}});
    host_problem_ = std::move(problem_now);
  }
  probe_result(out, "host", {}, started, collected.has_value(), now);
  recorder_.publish(std::move(out.samples));
}

void Sampler::refresh_processes() {
  const std::uint64_t now = mono_now_usec();
  if (table_refreshed_usec_ != 0 && now - table_refreshed_usec_ < table_max_age_usec_) return;
  Collection out;
  auto refreshed = processes_.refresh();
  std::string problem_now = refreshed ? std::string() : refreshed.error().message;
  if (problem_now != table_problem_) {
    if (!problem_now.empty()) log_warning("cannot list processes", {{"error", problem_now}});
    table_problem_ = std::move(problem_now);
  }
  table_refreshed_usec_ = now;
  cgroup_round_.clear();
  const WallMs wall = wall_now_ms();
  probe_result(out, "process_table", {}, now, refreshed.has_value(), wall);
  out.add("vigil_processes_scanned", {}, static_cast<double>(processes_.entries().size()), wall);
  recorder_.publish(std::move(out.samples));
}

// Why a target has no process (a missing pidfile, no system bus), recorded
// as a target_problem event (which the log shows) once per change.
void Sampler::problem(WatchedTarget& t, std::string text) {
  if (text == t.last_problem) return;
  t.last_problem = std::move(text);
  if (t.last_problem.empty()) return;
  recorder_.record(Event{wall_now_ms(),
                         EventKind::kTargetProblem,
                         t.cfg.name,
                         {},
                         Severity::kWarning,
                         "target " + t.cfg.name + ": " + t.last_problem,
                         "{}"});
}

void Sampler::sample_target(WatchedTarget& t) {
  refresh_processes();
  const std::uint64_t started = mono_now_usec();
  const WallMs now = wall_now_ms();
  Collection out;
  TargetObservation seen;
  FoundRoots found = t.processes->roots(processes_);
  problem(t, found.problem);
  bool read_failed = found.read_failed;
  t.main_state = 0;
  // A container's facts as the engine last told them (no request here).
  const docker::ContainerInfo* container = t.processes->container().container;
  if (container != nullptr) docker::append_container_samples(*container, t.cfg.name, now, out);
  if (!found.roots.empty()) {
    std::vector<int> pids = processes_.tree(found.roots);
    processes_.mark_hot(pids);
    TreeStats stats = collect_tree(processes_, pids, found.roots.size());
    if (stats.processes > 0) {
      seen = TargetObservation{true, stats.main_pid, stats.main_start_ms};
      t.main_state = stats.main_state;
      append_tree_samples(stats, t.cfg.name, now, out);
      sample_cgroup(t, stats.main_pid, stats.main_start_ms, now, out, read_failed);
      if (container != nullptr) sample_network(t, stats.main_pid, now, out, read_failed);
    }
  }
  if (!seen.present) out.add("process_count", {{"target", t.cfg.name}}, 0, now);
  t.processes->seen(seen.present ? seen.main_pid : 0);
  note_transition(t, seen, now);
  probe_result(out, "process", t.cfg.name, started, !read_failed, now);
  recorder_.publish(std::move(out.samples));
}

void Sampler::sample_cgroup(WatchedTarget& t, int main_pid, WallMs main_start_ms, WallMs now, Collection& out,
                            bool& read_failed) {
  // Where its cgroup is: the same as last round for the same main process
  // (reading and parsing /proc/PID/cgroup every round costs as much as the
  // counters themselves), looked up again every kPathsRounds rounds.
  constexpr int kPathsRounds = 30;
  CgroupPaths paths;
  if (t.cfg.cgroup) {
    paths = cgroup_paths_everywhere(*t.cfg.cgroup);
  } else if (t.paths_of == std::pair{main_pid, main_start_ms} && ++t.paths_rounds < kPathsRounds) {
    paths = t.cgroup_paths;
  } else {
    auto text = processes_.read_pid_file(main_pid, PidFile::kCgroup);
    if (!text) return;  // the process just exited
    auto lines = procfs::parse_pid_cgroup(*text);
    if (!lines) return;
    paths = cgroup_paths_from(*lines);
    // The root cgroup's counters are the whole host's, not the target's.
    if (paths.v2 == "/") paths.v2.reset();
    std::erase_if(paths.v1, [](const auto& kv) { return kv.second == "/"; });
    t.cgroup_paths = paths;
    t.paths_of = {main_pid, main_start_ms};
    t.paths_rounds = 0;
  }
  if (paths.empty()) return;
  t.last_paths = paths;
  auto round = cgroup_round_.find(paths);
  if (round == cgroup_round_.end()) round = cgroup_round_.emplace(paths, cgroups_.read(paths)).first;
  const Result<CgroupStats>& stats = round->second;
  // No hierarchy here to read, or not ours to read: the engine's reading
  // stands in for a container. (Not found with hierarchies there is a
  // container that just stopped: nothing to read anywhere.)
  const bool unreadable =
      !stats && ((!cgroups_.has_v1() && !cgroups_.has_v2()) || stats.error().kind == ErrorKind::kPermission);
  if (unreadable && t.processes->container_controller() != nullptr) {
    sample_engine_stats(t, stats.error().message);
    return;
  }
  if (!stats) {
    if (stats.error().kind != ErrorKind::kNotFound) {
      read_failed = true;
      problem(t, "cgroup: " + stats.error().message);
    }
    return;
  }
  append_cgroup_samples(*stats, t.cfg.name, now, out);
}

// A container's own network namespace, through its init process.
void Sampler::sample_network(WatchedTarget& t, int main_pid, WallMs now, Collection& out, bool& read_failed) {
  auto text = processes_.read_pid_file(main_pid, PidFile::kNetDev);
  if (!text) return;  // the process just exited
  auto devs = procfs::parse_net_dev(*text);
  if (!devs) {
    read_failed = true;
    problem(t, "/proc/" + std::to_string(main_pid) + "/net/dev: " + devs.error().message);
    return;
  }
  append_network_samples(*devs, "container", {{"target", t.cfg.name}}, now, out);
}

namespace {

// The engine's reading as the cgroup reader's: the same series either way.
// Its memory limit is the container's own (HostConfig.Memory): the engine
// reports the host's memory as the limit of a container without one.
CgroupStats from_engine(const docker::EngineStats& s, std::int64_t memory_limit) {
  CgroupStats out;
  out.memory_usage_bytes = s.memory_usage;
  if (memory_limit > 0) out.memory_limit_bytes = static_cast<std::uint64_t>(memory_limit);
  out.memory_max_usage_bytes = s.memory_max_usage;
  out.memory_failcnt = s.memory_failcnt;
  if (s.cpu_usage_ns) out.cpu_usage_seconds = static_cast<double>(*s.cpu_usage_ns) / 1e9;
  out.cpu_periods = s.cpu_periods;
  out.cpu_throttled_periods = s.cpu_throttled_periods;
  if (s.cpu_throttled_ns) out.cpu_throttled_seconds = static_cast<double>(*s.cpu_throttled_ns) / 1e9;
  out.pids_current = s.pids_current;
  out.pids_max = s.pids_limit;
  if (s.read_bytes || s.write_bytes || s.reads || s.writes) {
    out.block_io =
        BlockIo{s.read_bytes.value_or(0), s.write_bytes.value_or(0), s.reads.value_or(0), s.writes.value_or(0)};
  }
  return out;
}

}  // namespace

// A container whose cgroup cannot be read here (vigild in a container
// without the host's /sys/fs/cgroup, a cgroup_root elsewhere): the engine
// reads it instead, one request at a time per target, and that is said once.
void Sampler::sample_engine_stats(WatchedTarget& t, const std::string& why) {
  ContainerController* controller = t.processes->container_controller();
  const docker::ContainerInfo* container = t.processes->container().container;
  if (controller == nullptr || container == nullptr || t.engine_stats_in_flight) return;
  if (!t.engine_stats_said) {
    t.engine_stats_said = true;
    log_warning("target " + t.cfg.name + ": its cgroup cannot be read here (" + why +
                    "); its cgroup_* series come from the engine's /containers/ID/stats instead",
                {{"target", t.cfg.name}});
  }
  t.engine_stats_in_flight = true;
  const std::int64_t limit = container->memory_limit;
  WatchedTarget* tp = &t;
  controller->engine_stats(std::max(t.interval, Millis(2000)), [this, tp, limit, alive = t.alive](
                                                                   Result<docker::EngineStats> s) {
    if (!*alive) return;
    tp->engine_stats_in_flight = false;
    if (!s) {
      log_debug("engine stats", {{"target", tp->cfg.name}, {"error", s.error().message}});
      return;
    }
    Collection out;
    append_cgroup_samples(from_engine(*s, limit), tp->cfg.name, wall_now_ms(), out);
    recorder_.publish(std::move(out.samples));
  });
}

void Sampler::note_transition(WatchedTarget& t, const TargetObservation& seen, WallMs now) {
  const TargetTransition tr = classify_transition(t.last, seen);
  if (auto e = transition_event(t.cfg.name, tr, t.last, seen, now)) recorder_.record(std::move(*e));
  t.last = seen;
  listener_(t, tr, seen, now);
}

Remediator::TargetHooks::CgroupNow Sampler::cgroup_now(const WatchedTarget& t) const {
  Remediator::TargetHooks::CgroupNow out;
  if (t.last_paths.empty()) return out;
  auto stats = cgroups_.read(t.last_paths);
  if (!stats) return out;
  if (stats->oom_kill_events) out.oom_kills = static_cast<double>(*stats->oom_kill_events);
  if (stats->memory_max_usage_bytes) out.memory_peak_bytes = static_cast<double>(*stats->memory_max_usage_bytes);
  return out;
}

}  // namespace vigil
