// probes/checks/exec.hpp: the process side of the exec check kind (Nagios plugins,
// scripts), as a non-blocking state machine.
//
// Like TcpAttempt, an ExecAttempt owns file descriptors and the caller's
// event loop (sd-event in the daemon) watches them: output_fd() for the
// child's stdout and stderr (one pipe), pid_fd() for its exit (a pidfd turns
// readable when the child exits), and the deadlines (the check's timeout,
// then kill_deadline()). Nothing here blocks or sleeps: reads stop at EAGAIN,
// waitid() is always WNOHANG. Watch the fds level-triggered: a call reads a
// bounded amount and relies on being called again while data is left.
//
// The child runs in a process group of its own. Whenever the attempt ends
// (exit, timeout, destruction) the whole group is killed, so a plugin's
// background children do not outlive its check. A descendant that leaves
// the group (setsid, setpgid) escapes this; only a cgroup would hold it.
//
// Lifetime: done() is set once the result is known (at exit, at the timeout,
// or at once when the spawn failed); finished() once the child has also been
// reaped and nothing is left to watch. Keep the attempt until finished(): to
// abandon one early, call on_timeout() and on_kill_deadline() and keep
// watching pid_fd(). Destroying an unfinished attempt SIGKILLs the group but
// cannot wait for the child, which may then stay a zombie.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/keys.hpp"
#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace vigil {

struct ExecSpec {
  // argv[0] is searched in PATH when it has no '/': the daemon's PATH, or
  // the PATH given in `env` when it sets one.
  std::vector<std::string> argv;
  // true: argv holds exactly one string, run as /bin/sh -c STRING.
  bool shell = false;
  // Added to, or overriding, the inherited environment. LC_ALL=C is set
  // unless this sets LC_ALL, so that plugins print numbers and messages the
  // same way whatever the daemon's locale.
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;                             // empty: "/"
  std::size_t max_output = 64 * 1024;          // stdout+stderr kept; the rest is read and dropped
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM -> SIGKILL after a timeout
};

struct ExecResult {
  bool spawned = false;
  // When not spawned, for people: "cannot run /no/such: No such file or
  // directory", "cannot change to directory \"/srv/x\" to run check_foo: ...".
  std::string spawn_error;
  std::optional<int> exit_code;  // when it exited
  std::optional<int> signal;     // when a signal ended it (not set after a timeout)
  bool timed_out = false;
  // The first max_output bytes, then, when more was printed, a line
  // "[output truncated: N bytes dropped]".
  std::string output;
  std::uint64_t output_bytes = 0;  // everything it printed, kept or not
  double seconds = 0;              // start to exit (or to the timeout)
};

class ExecAttempt {
 public:
  // Spawns the child. A spawn failure (missing executable, bad cwd) gives a
  // finished attempt with done()->spawned == false.
  ExecAttempt(const ExecSpec& spec, std::chrono::steady_clock::time_point now);
  ~ExecAttempt();
  // The event loop holds pointers to it while it watches the fds.
  ExecAttempt(const ExecAttempt&) = delete;
  ExecAttempt& operator=(const ExecAttempt&) = delete;

  // Non-blocking read end of the stdout+stderr pipe; -1 once closed (EOF,
  // exit, timeout).
  int output_fd() const { return output_.get(); }
  // Readable when the child exits; -1 once it is reaped.
  int pid_fd() const { return pidfd_.get(); }
  // For messages and tests; 0 when nothing was spawned. Only meaningful
  // while pid_fd() >= 0: after the reap the number may belong to another
  // process.
  pid_t pid() const { return pid_; }

  // output_fd() is readable (or hung up): reads until EAGAIN or a budget.
  void on_output(std::chrono::steady_clock::time_point now);
  // pid_fd() is readable: collects the exit status, kills the rest of the
  // group, reaps the child.
  void on_exit(std::chrono::steady_clock::time_point now);
  // The check's timeout passed: sets done() (timed_out), SIGTERMs the group
  // and starts the kill_grace; `timeout` is the one configured, for the
  // caller's reason text.
  void on_timeout(std::chrono::milliseconds timeout, std::chrono::steady_clock::time_point now);
  // After a timeout, while the child lives: when to call on_kill_deadline().
  std::optional<std::chrono::steady_clock::time_point> kill_deadline() const { return kill_deadline_; }
  // SIGKILLs the group; the reap follows when pid_fd() turns readable.
  void on_kill_deadline();

  const std::optional<ExecResult>& done() const { return done_; }
  // done() and the child reaped: nothing left to watch.
  bool finished() const { return done_.has_value() && pid_ == 0; }

 private:
  Result<void> spawn(const ExecSpec& spec);
  void drain();
  void keep(const char* data, std::size_t n);
  void signal_group(int sig) const;
  ExecResult result_so_far(std::chrono::steady_clock::time_point now);
  void forget_child();

  UniqueFd output_;
  UniqueFd pidfd_;
  pid_t pid_ = 0;  // also the process group id; 0 when not spawned or reaped
  std::string kept_;
  std::uint64_t output_bytes_ = 0;
  std::size_t max_output_;
  std::chrono::milliseconds kill_grace_;
  std::chrono::steady_clock::time_point started_;
  std::optional<std::chrono::steady_clock::time_point> kill_deadline_;
  std::optional<ExecResult> done_;
};

// ---- the exec kind -------------------------------------------------------

// The Nagios plugin convention: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN;
// the first output line is the status text; perfdata become samples.
struct ExecSettings {
  std::vector<std::string> command;  // argv; with shell = true, one string for /bin/sh -c
  bool command_is_text = false;      // written as one string, not an array (only a shell takes that)
  bool shell = false;
  StringPairs env;
  std::string cwd;
  std::uint64_t max_output = 64 * 1024;
  Millis kill_grace{2000};
  bool warning_is_failure = false;
  bool operator==(const ExecSettings&) const = default;
};

}  // namespace vigil
