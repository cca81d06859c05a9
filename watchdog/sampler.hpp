// watchdog/sampler.hpp: one sampling round of the host or of a target.
//
// The sampler owns the readers (the process table, the cgroup reader, the
// host probe) and turns what they read into samples for the Recorder: a
// target's process tree (found the way its kind says, heal/targets.hpp),
// its cgroup, each probe's own duration and success. What the round saw of
// the main process is handed to the Listener (appeared, restarted, gone),
// which the daemon wires to the alert engine and the remediator.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "heal/remediator.hpp"
#include "heal/targets.hpp"
#include "probes/cgroup.hpp"
#include "probes/host.hpp"
#include "probes/process.hpp"
#include "watchdog/loop.hpp"
#include "watchdog/recorder.hpp"

namespace vigil {

// One watched target: its config, its processes and what the last round saw.
struct WatchedTarget {
  TargetConfig cfg;
  Millis interval{1000};
  std::unique_ptr<TargetProcesses> processes;
  std::optional<TargetObservation> last;
  std::string last_problem;  // logged once per change
  CgroupPaths last_paths;    // where its cgroup counters were read last
  // What the main process's /proc/PID/cgroup said (empty: the root cgroup,
  // not the target's), whose it was (PID and start time) and how many rounds
  // ago: read again for a new main process, or after kPathsRounds (a
  // process moved to another cgroup).
  CgroupPaths cgroup_paths;
  std::pair<int, WallMs> paths_of{0, 0};
  int paths_rounds = 0;
  // Its cgroup cannot be read here (a container target only): the engine's
  // /stats instead, one request at a time, said once.
  bool engine_stats_in_flight = false;
  bool engine_stats_said = false;
  char main_state = 0;  // the main process's state letter in the last round
  std::unique_ptr<Timer> timer;
  // False once it is gone (a target of [docker] auto removed while vigild
  // runs): what is still in flight for it (the engine's /stats) drops its answer.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  WatchedTarget() = default;
  WatchedTarget(const WatchedTarget&) = delete;
  WatchedTarget& operator=(const WatchedTarget&) = delete;
  ~WatchedTarget() { *alive = false; }
};

class Sampler {
 public:
  // Every round of a target: `transition` says whether its main process
  // changed (kNone: as the round before; also a first round without it).
  using Listener = std::function<void(WatchedTarget& target, TargetTransition transition, const TargetObservation& seen,
                                      WallMs now)>;

  Sampler(const Config& cfg, Recorder& recorder, Listener listener);

  void sample_host();
  void sample_target(WatchedTarget& t);
  // The target's cgroup now (at a crash): OOM kills and the memory peak.
  Remediator::TargetHooks::CgroupNow cgroup_now(const WatchedTarget& t) const;
  // A target's samples fall within `window` of the others' in a round:
  // the samples of a round share one refresh of the table (and one read of
  // each cgroup), but a refresh never serves two rounds of the fastest
  // target (the age is capped at half the shortest interval).
  void set_table_max_age(Millis window, Millis interval);
  // Closes the kept fds of cgroups no target reads any more.
  void forget_unused() { cgroups_.forget_unused(); }
  std::size_t processes_scanned() const { return processes_.entries().size(); }
  // /proc reads stuck past their deadline (ProcessTable::cmdline).
  std::size_t stalled_reads() const { return processes_.stalled_reads(); }

 private:
  void refresh_processes();
  void sample_cgroup(WatchedTarget& t, int main_pid, WallMs main_start_ms, WallMs now, Collection& out,
                     bool& read_failed);
  void sample_network(WatchedTarget& t, int main_pid, WallMs now, Collection& out, bool& read_failed);
  void sample_engine_stats(WatchedTarget& t, const std::string& why);
  void note_transition(WatchedTarget& t, const TargetObservation& seen, WallMs now);
  void problem(WatchedTarget& t, std::string text);
  void probe_result(Collection& out, std::string_view probe, const std::string& target, std::uint64_t started_usec,
                    bool ok, WallMs now);

  Recorder& recorder_;
  Listener listener_;
  HostProbe host_;
  ProcessTable processes_;
  CgroupReader cgroups_;
  std::uint64_t table_refreshed_usec_ = 0;
  std::uint64_t table_max_age_usec_ = 0;
  Millis widest_window_{0};
  Millis shortest_interval_ = Millis::max();
  // The cgroups read since the table's last refresh (this round), for
  // targets that share one (processes outside any service's cgroup, in one
  // session or container): each is read once per round, as the table is.
  std::map<CgroupPaths, Result<CgroupStats>> cgroup_round_;
  std::string host_problem_;  // the last one logged, so that each is logged once
  std::string table_problem_;
};

}  // namespace vigil
