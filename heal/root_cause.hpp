// heal/root_cause.hpp: why a target failed, from the evidence kept with its incident.
//
// A pure function over plain data, so that every rule is a unit test: the
// loop records the evidence (the target's last samples before the failure,
// the check's reason, the exit status, the cgroup's OOM counters before and
// after, the state of its dependencies) and asks for the classification.
//
// Precedence, first match wins:
//   dependency_down     a target in depends_on was failed when this one failed
//   oom_killed          the cgroup's oom_kill count (v2 memory.events) or, on
//                       v1, the OOM-control kill count rose; or its manager
//                       says so (Docker's OOMKilled); or the process died of
//                       SIGKILL with memory at its limit
//   crashed             the main process exited (a code or a signal)
//   resource_exhausted  open fds, threads (pids.max) or memory at >= 95 % of
//                       their limit while the process is alive
//   hung                alive, and the check timed out (the CPU state tells
//                       a spin from a deadlock, and a stopped process says
//                       so: both are part of the summary)
//   unknown             none of the above
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kinds.hpp"

namespace vigil {

struct Evidence {
  // The main process at detection time.
  bool process_alive = true;
  std::optional<int> exit_code;    // it exited with this code
  std::optional<int> exit_signal;  // or was killed by this signal
  // cgroup OOM counters: the newest sample before the failure and at detection.
  std::optional<double> oom_kills_before, oom_kills_after;
  // Its manager says the OOM killer ended it (Docker's State.OOMKilled).
  bool oom_reported = false;
  // The newest samples before the failure.
  std::optional<double> open_fds, max_fds;
  std::optional<double> threads, max_threads;  // max: cgroup pids.max
  std::optional<double> memory_bytes, memory_limit_bytes;
  std::optional<double> cpu_percent;  // of one core, over the last minute
  // The check that failed: its reason, and whether its deadline ended it.
  std::string check_reason;
  bool check_timed_out = false;
  // The main process was stopped (state T: SIGSTOP, a debugger) when the
  // failure was seen.
  bool process_stopped = false;
  // depends_on targets that were failed.
  std::vector<std::string> dependencies_down;
  // vigild could not start the process at all (spawn's error, with errno).
  std::string start_error;
};

struct Classification {
  RootCause cause = RootCause::kUnknown;
  // For people: "exited with code 3", "killed by the OOM killer (oom_kill 0 -> 1,
  // memory 64 MiB of 64 MiB)", "open fds 1021 of 1024".
  std::string summary;
};

Classification classify_root_cause(const Evidence& e);

}  // namespace vigil
