// heal/service.hpp: the processes of a target, as vigild sees and controls them.
//
// - PidWatch: one process's exit, seen at once through a pidfd that sd-event
//   polls (the kernel makes it readable when the process exits), whatever
//   the sampling interval. When vigild is the parent it reaps the child and
//   knows the exit code or signal; for any other process only the exit.
// - ServiceController: what remediation needs from a target it may restart:
//   its main PID and an asynchronous restart with a timeout. ChildService
//   implements it for `start = [argv]` targets; UnitService
//   (heal/systemd_unit.hpp) for `systemd_unit` targets.
// - ChildService starts argv detached in its own session (a process group
//   of its own, no controlling terminal, stdin /dev/null, stdout and stderr
//   appended to a log file under the state directory, default signal
//   dispositions, no inherited descriptors), and stops it with its stop
//   signal sent to the whole group, then SIGCONT (a stopped process acts on
//   the signal only once continued, as systemd does), then SIGKILL after
//   stop_timeout. It
//   writes "<pid> <start time>" to a run file, so that a restarted vigild
//   adopts the running process instead of starting a second one (it then
//   sees the exit but not the status: it is no longer the parent).
// - LeftoverChildren: at vigild's start, the run files of `start` targets no
//   longer configured. The process an earlier vigild started for such a
//   target is stopped (SIGTERM to its group, SIGCONT, SIGKILL after 10 s:
//   its own stop_signal and stop_timeout went with its config), and its run
//   file removed; nothing vigild started is left running unwatched. A name
//   still configured (of any kind) keeps its run file.
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/kinds.hpp"
#include "core/result.hpp"
#include "core/sd_handles.hpp"
#include "core/time.hpp"
#include "core/unique_fd.hpp"
#include "probes/docker/api.hpp"

namespace vigil {

struct ExitInfo {
  int pid = 0;
  bool status_known = false;  // vigild was the parent (or systemd told)
  std::optional<int> code;    // exited with this code
  std::optional<int> signal;  // killed by this signal
  std::string start_error;    // not an exit: it could not be (re)started at all
  bool oom_killed = false;    // its manager says the OOM killer ended it (Docker's OOMKilled)
  // "exited with code 3", "killed by SIGKILL", "exited (status unknown: not vigild's child)"
  std::string describe() const;
};

class PidWatch {
 public:
  using OnExit = std::function<void(const ExitInfo&)>;
  // `child`: vigild is the parent and reaps it (waitid on the pidfd).
  static Result<std::unique_ptr<PidWatch>> open(sd_event* event, int pid, bool child, OnExit on_exit);
  ~PidWatch() = default;
  PidWatch(const PidWatch&) = delete;
  PidWatch& operator=(const PidWatch&) = delete;

  int pid() const { return pid_; }
  bool exited() const { return exited_; }
  // Sends `sig` to the process (through the pidfd: never to a recycled PID).
  bool send(int sig) const;
  // A child leading its own process group: at its exit, SIGKILL the rest of
  // the group before reaping it.
  void kill_group_on_exit() { kill_group_ = true; }

 private:
  PidWatch() = default;
  static int on_io(sd_event_source* source, int fd, std::uint32_t revents, void* self);

  int pid_ = 0;
  bool child_ = false;
  bool exited_ = false;
  bool kill_group_ = false;
  UniqueFd pidfd_;
  SdEventSourcePtr source_;
  OnExit on_exit_;
};

struct ActionResult {
  ActionStatus status = ActionStatus::kFailed;  // ok, failed, timeout (would: a dry run's)
  std::string message;                          // for people
  bool ok() const { return status == ActionStatus::kOk; }
};
using ActionDone = std::function<void(ActionResult)>;

class ServiceController {
 public:
  virtual ~ServiceController() = default;
  // The main process now; 0 when it is not running.
  virtual int main_pid() const = 0;
  // Stops (if running) and starts it again; `done` runs once, on the loop.
  virtual void restart(Millis timeout, ActionDone done) = 0;
  // For messages: the unit name, or the command.
  virtual std::string what() const = 0;
};

// A container, through its engine: every action the Docker API offers on
// it, with the same deadline and error reporting as a restart (the
// engine's own words when it refuses). Remediation restarts through
// ServiceController; chaos stops, starts, pauses and signals through this.
class ContainerController {
 public:
  virtual ~ContainerController() = default;
  // `signal` for kKill ("" is the engine's default, SIGKILL). Stop and
  // restart give the container half of `timeout` (1 to 10 s) between the
  // stop signal and SIGKILL.
  virtual void act(docker::ContainerAction action, Millis timeout, std::string signal, ActionDone done) = 0;
  // The engine's own reading of its cgroup (/containers/ID/stats), for
  // where vigild cannot read the cgroup itself; `done` runs once, on the loop.
  virtual void engine_stats(Millis timeout, std::function<void(Result<docker::EngineStats>)> done) = 0;
};

struct ChildSpec {
  std::string target;
  std::vector<std::string> argv;
  std::string log_path;  // stdout and stderr, appended
  std::string run_path;  // "<pid> <start time in clock ticks>"
  std::string proc_root = "/proc";
  int stop_signal = 15;
  Millis stop_timeout{10'000};
  // The target's `cgroup`: each started process is moved into it (its
  // cgroup.procs) in every hierarchy where that directory exists.
  std::vector<std::string> cgroup_dirs;
};

class ChildService : public ServiceController {
 public:
  using OnExit = std::function<void(const ExitInfo&)>;
  ChildService(sd_event* event, ChildSpec spec, OnExit on_exit);
  ~ChildService() override;

  // At vigild's start: adopts the process the run file names when it still
  // runs (same PID, same start time), else starts one. Returns what it did,
  // for the log; an error when it could not start it.
  Result<std::string> start_or_adopt();

  int main_pid() const override;
  void restart(Millis timeout, ActionDone done) override;
  std::string what() const override;
  bool adopted() const { return adopted_; }
  // Why the last start failed; "" once one succeeded.
  const std::string& last_start_error() const { return last_start_error_; }
  // `sig` to the main process, through its pidfd.
  bool send(int sig) const { return watch_ && watch_->send(sig); }

 private:
  Result<void> spawn();
  void exited(const ExitInfo& info);
  void finish_restart(ActionResult r);
  static int on_kill_timer(sd_event_source*, std::uint64_t, void* self);
  static int on_restart_timeout(sd_event_source*, std::uint64_t, void* self);

  sd_event* event_;
  ChildSpec spec_;
  OnExit on_exit_;
  std::unique_ptr<PidWatch> watch_;
  bool adopted_ = false;
  std::string last_start_error_;
  bool stopping_after_timeout_ = false;  // a restart timed out; SIGKILLed, waiting for its exit
  // A restart in flight: waiting for the old process to exit.
  ActionDone restart_done_;
  SdEventSourcePtr kill_timer_;
  SdEventSourcePtr restart_timer_;
};

// `sig` to `pid` through a pidfd opened now (for a PID that is current:
// systemd's MainPID as just read). Returns an error for people.
Result<void> send_signal(int pid, int sig);

// Spawns argv detached (see ChildService). Returns the PID and its pidfd.
struct Spawned {
  pid_t pid = 0;
  UniqueFd pidfd;
};
Result<Spawned> spawn_detached(const std::vector<std::string>& argv, const std::string& log_path);

class LeftoverChildren {
 public:
  // What became of one removed target's process, for the log and its event.
  struct Outcome {
    std::string target;
    int pid = 0;
    bool stopped = false;  // it ran and was stopped (else it was gone already, or the file unreadable)
    std::string message;
  };
  using OnOutcome = std::function<void(const Outcome&)>;
  static constexpr Millis kStopTimeout{10'000};

  // Looks at every NAME.pid in `run_dir` whose NAME is not in `keep`.
  // `done` runs once per file: at once when no process runs, else on the
  // loop when it exited.
  LeftoverChildren(sd_event* event, const std::string& run_dir, const std::string& proc_root,
                   const std::set<std::string>& keep, OnOutcome done);
  ~LeftoverChildren();
  LeftoverChildren(const LeftoverChildren&) = delete;
  LeftoverChildren& operator=(const LeftoverChildren&) = delete;
  // Processes being stopped (for tests and the log).
  std::size_t stopping() const { return stopping_.size(); }

 private:
  struct Stopping;
  static int on_kill_timer(sd_event_source*, std::uint64_t, void* self);
  void exited(Stopping* s);

  sd_event* event_;
  OnOutcome done_;
  std::vector<std::unique_ptr<Stopping>> stopping_;
  std::vector<std::unique_ptr<Stopping>> finished_;  // kept: their watches may be mid-callback
};

}  // namespace vigil
