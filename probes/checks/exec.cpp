#include "probes/checks/exec.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37): without it
// C++ would look for mangled pidfd_open.
extern "C" {
#include <sys/pidfd.h>
}

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "core/file_trust.hpp"
#include "core/spawn.hpp"
#include "core/text.hpp"
#include "probes/checks/kinds.hpp"
#include "probes/checks/nagios.hpp"
#include "probes/checks/runner_util.hpp"

namespace vigil {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// At most this much per on_output() call, so that a plugin printing without
// end cannot keep the daemon's loop in one callback; the fd stays readable
// and the loop comes back.
constexpr std::size_t kReadBudget = 4 * 1024 * 1024;

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int wait_pidfd(int pidfd, siginfo_t& info, int options) {
  info = siginfo_t{};  // si_pid stays 0 when WNOHANG finds no exit
  return ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, options);
}

// posix_spawnp searches the PATH of the calling process, not the one in the
// envp it is given; a check that sets PATH expects its own to be searched,
// as a shell would.
std::optional<std::string> find_in_path(const std::string& name, std::string_view path) {
  for (std::string_view dir : split(path, ':')) {
    std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

// What passes of vigild's environment (core/file_trust.hpp: PATH, HOME,
// the locale and a few more, never its secrets) with spec.env laid over it,
// and LC_ALL=C unless the check sets LC_ALL: plugins then print the same
// decimal points and messages whatever locale the daemon was started in.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  auto overridden = [&](std::string_view name) {
    if (name == "LC_ALL") return true;
    for (const auto& [key, value] : overrides) {
      if (key == name) return true;
    }
    return false;
  };
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (passed_to_children(entry) && !overridden(entry.substr(0, entry.find('=')))) out.emplace_back(entry);
  }
  bool sets_lc_all = false;
  for (const auto& [key, value] : overrides) {
    out.push_back(key + "=" + value);
    sets_lc_all = sets_lc_all || key == "LC_ALL";
  }
  if (!sets_lc_all) out.emplace_back("LC_ALL=C");
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The program to run: with PATH in the check's env, a bare name is looked
// up there (posix_spawnp would use vigild's own PATH); `search_path` says
// whether posix_spawnp must still search.
Result<std::string> resolve_program(const std::string& program, const ExecSpec& spec, bool* search_path) {
  *search_path = program.find('/') == std::string::npos;
  if (!*search_path) return program;
  for (const auto& [key, value] : spec.env) {
    if (key != "PATH") continue;
    auto found = find_in_path(program, value);
    if (!found) {
      return fail(ErrorKind::kNotFound,
                  "cannot run " + program + ": " + errno_text(ENOENT) + " (searched PATH=" + value + ")");
    }
    *search_path = false;
    return *found;
  }
  return program;
}

struct OutputPipe {
  UniqueFd read_end, write_end;
};

// The child's stdout and stderr: a pipe whose read end is non-blocking.
Result<OutputPipe> output_pipe(const std::string& shown) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fail(ErrorKind::kIo, "cannot create a pipe to run " + shown + ": " + errno_text(errno));
  }
  OutputPipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  // A daemon started with fd 1 or 2 closed could get the write end there:
  // dup2 onto itself would keep its close-on-exec flag and the child would
  // start with no stdout. Move it out of the way.
  if (p.write_end.get() <= STDERR_FILENO) {
    p.write_end.reset(::fcntl(p.write_end.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!p.write_end) return fail(ErrorKind::kIo, "cannot create a pipe to run " + shown + ": " + errno_text(errno));
  }
  const int flags = ::fcntl(p.read_end.get(), F_GETFL);
  if (flags < 0 || ::fcntl(p.read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return fail(ErrorKind::kIo, "cannot make the output pipe of " + shown + " non-blocking: " + errno_text(errno));
  }
  return p;
}

// How the child starts; returns 0 or the first error.
int prepare_spawn(SpawnAttr& attr, SpawnActions& actions, int output_fd, const std::string& cwd) {
  // The daemon blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD to receive them
  // through sd-event (signalfd), and a spawned child inherits both the mask
  // and ignored dispositions: a plugin with SIGTERM blocked could not be
  // terminated at its timeout. Start it with an empty mask and every
  // catchable signal at its default.
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  // Its own process group (pgid = its pid), so that one kill(-pid) reaches
  // every descendant that stays in it. posix_spawn returns only after the
  // exec (it waits, vfork-style), so the group exists before we can signal it.
  int err =
      posix_spawnattr_setflags(&attr.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (err == 0) err = posix_spawnattr_setpgroup(&attr.attr, 0);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr.attr, &empty);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr.attr, &all);
  if (err == 0) err = posix_spawn_file_actions_addopen(&actions.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (err == 0) err = posix_spawn_file_actions_adddup2(&actions.actions, output_fd, STDOUT_FILENO);
  if (err == 0) err = posix_spawn_file_actions_adddup2(&actions.actions, output_fd, STDERR_FILENO);
  if (err == 0) err = posix_spawn_file_actions_addchdir_np(&actions.actions, cwd.c_str());
  // The daemon's own descriptors (the database, sockets, other checks'
  // pipes) must not leak into plugins, whether or not whoever opened them
  // remembered O_CLOEXEC.
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&actions.actions, STDERR_FILENO + 1);
  return err;
}

// Why posix_spawn failed with `err`: a failed chdir and a missing
// executable both come back as ENOENT, so the directory is looked at to
// tell which one to name.
Error spawn_failure(int err, const std::string& cwd, const std::string& shown) {
  int cwd_err = 0;
  struct stat st {};
  if (::stat(cwd.c_str(), &st) != 0) {
    cwd_err = errno;
  } else if (!S_ISDIR(st.st_mode)) {
    cwd_err = ENOTDIR;
  } else if (::access(cwd.c_str(), X_OK) != 0) {
    cwd_err = errno;
  }
  if (cwd_err != 0) {
    return Error{errno_kind(cwd_err),
                 "cannot change to directory \"" + cwd + "\" to run " + shown + ": " + errno_text(cwd_err)};
  }
  return Error{errno_kind(err), "cannot run " + shown + ": " + errno_text(err)};
}

}  // namespace

ExecAttempt::ExecAttempt(const ExecSpec& spec, std::chrono::steady_clock::time_point now)
    : max_output_(spec.max_output), kill_grace_(spec.kill_grace), started_(now) {
  if (auto spawned = spawn(spec); !spawned) {
    ExecResult result;
    result.spawn_error = std::move(spawned.error().message);
    done_ = std::move(result);
  }
}

Result<void> ExecAttempt::spawn(const ExecSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return fail(ErrorKind::kInvalid, "no command to run");
  if (spec.shell && spec.argv.size() != 1) {
    return fail(ErrorKind::kInvalid, "a shell command must be one string, got " + std::to_string(spec.argv.size()));
  }
  std::vector<std::string> args = spec.shell ? std::vector<std::string>{"/bin/sh", "-c", spec.argv[0]} : spec.argv;
  const std::string shown = spec.shell ? "/bin/sh -c \"" + spec.argv[0] + "\"" : spec.argv[0];
  const std::string cwd = spec.cwd.empty() ? "/" : spec.cwd;
  bool search_path = false;
  auto program = resolve_program(args[0], spec, &search_path);
  if (!program) return tl::unexpected(program.error());
  auto pipe = output_pipe(shown);
  if (!pipe) return tl::unexpected(pipe.error());

  SpawnAttr attr;
  SpawnActions actions;
  int err = prepare_spawn(attr, actions, pipe->write_end.get(), cwd);
  if (err != 0) return fail(ErrorKind::kIo, "cannot prepare to run " + shown + ": " + errno_text(err));
  std::vector<std::string> env = child_environment(spec.env);
  std::vector<char*> argv = c_strings(args);
  std::vector<char*> envp = c_strings(env);
  pid_t pid = 0;
  err = search_path ? posix_spawnp(&pid, program->c_str(), &actions.actions, &attr.attr, argv.data(), envp.data())
                    : posix_spawn(&pid, program->c_str(), &actions.actions, &attr.attr, argv.data(), envp.data());
  pipe->write_end.reset();  // our copy of the write end must go, or EOF would never come
  if (err != 0) return tl::unexpected(spawn_failure(err, cwd, shown));

  // The child cannot be reaped before we call waitid, so until then its pid
  // stays taken (at worst by a zombie) and pidfd_open cannot pick up a
  // stranger that reused the number.
  pid_ = pid;
  pidfd_.reset(::pidfd_open(pid, 0));
  if (!pidfd_) {
    const int open_err = errno;
    signal_group(SIGKILL);
    ::waitpid(pid, nullptr, WNOHANG);  // may be too early: then a zombie is left
    pid_ = 0;
    return fail(ErrorKind::kIo, "cannot watch " + shown + " (pidfd_open): " + errno_text(open_err));
  }
  output_ = std::move(pipe->read_end);
  return {};
}

void ExecAttempt::keep(const char* data, std::size_t n) {
  output_bytes_ += n;
  if (kept_.size() < max_output_) kept_.append(data, std::min(n, max_output_ - kept_.size()));
}

void ExecAttempt::drain() {
  std::array<char, kReadChunk> buffer;
  std::size_t read_now = 0;
  while (output_ && read_now < kReadBudget) {
    const ssize_t n = ::read(output_.get(), buffer.data(), buffer.size());
    if (n > 0) {
      keep(buffer.data(), static_cast<std::size_t>(n));
      read_now += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      output_.reset();  // EOF: every writer is gone (or a read error: nothing more to get)
    }
  }
}

void ExecAttempt::on_output(std::chrono::steady_clock::time_point /*now*/) {
  drain();
}

ExecResult ExecAttempt::result_so_far(std::chrono::steady_clock::time_point now) {
  ExecResult result;
  result.spawned = true;
  result.output = std::move(kept_);
  result.output_bytes = output_bytes_;
  if (output_bytes_ > result.output.size()) {
    const std::uint64_t dropped = output_bytes_ - result.output.size();
    if (!result.output.empty() && result.output.back() != '\n') result.output += '\n';
    result.output += "[output truncated: " + std::to_string(dropped) + " bytes dropped]";
  }
  result.seconds = seconds_between(started_, now);
  return result;
}

void ExecAttempt::signal_group(int sig) const {
  // Only while the child is unreaped: its pid, which is the group id, is then
  // still held (by the zombie if it has exited), so -pid_ is our group and
  // cannot have been handed to someone else's processes.
  if (pid_ > 0) ::kill(-pid_, sig);
}

void ExecAttempt::forget_child() {
  pid_ = 0;
  pidfd_.reset();
  kill_deadline_.reset();
  output_.reset();
}

void ExecAttempt::on_exit(std::chrono::steady_clock::time_point now) {
  if (!pidfd_) return;
  // WNOWAIT: look at the exit but leave the zombie, which keeps the pid and
  // so the process group id from being reused while we kill the group.
  siginfo_t info;
  if (wait_pidfd(pidfd_.get(), info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return;  // the fd stays readable; the loop calls again
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, a stray
    // waitpid(-1)). The group id may already be reused: do not signal it.
    if (!done_) {
      drain();
      done_ = result_so_far(now);  // neither exit_code nor signal: unknown
    }
    forget_child();
    return;
  }
  if (info.si_pid == 0) return;  // not exited after all

  if (!done_) {
    // Take what it printed before exiting (it is in the pipe now), but do
    // not wait for EOF: a background grandchild may hold the write end open
    // for as long as it lives.
    drain();
  }
  // No grandchild outlives its check, including one that ignores SIGTERM
  // after a timeout.
  signal_group(SIGKILL);
  siginfo_t reaped;
  wait_pidfd(pidfd_.get(), reaped, WEXITED | WNOHANG);
  if (!done_) {
    ExecResult result = result_so_far(now);
    if (info.si_code == CLD_EXITED) {
      result.exit_code = info.si_status;
    } else {
      result.signal = info.si_status;  // CLD_KILLED, CLD_DUMPED
    }
    done_ = std::move(result);
  }
  forget_child();
}

void ExecAttempt::on_timeout(std::chrono::milliseconds /*timeout*/, std::chrono::steady_clock::time_point now) {
  if (done_) return;
  drain();
  ExecResult result = result_so_far(now);
  result.timed_out = true;
  done_ = std::move(result);
  // Nothing more is read: a child that writes while dying gets EPIPE.
  output_.reset();
  signal_group(SIGTERM);
  kill_deadline_ = now + kill_grace_;
}

void ExecAttempt::on_kill_deadline() {
  if (!kill_deadline_) return;
  kill_deadline_.reset();
  signal_group(SIGKILL);
}

ExecAttempt::~ExecAttempt() {
  if (pid_ == 0) return;
  signal_group(SIGKILL);
  // Reaps only if it is already dead; otherwise it stays a zombie until the
  // daemon exits (see the header: keep attempts until finished()).
  siginfo_t info;
  wait_pidfd(pidfd_.get(), info, WEXITED | WNOHANG);
}

// ---- runs on the loop ---------------------------------------------------

namespace {

using checks_detail::add_deadline;
using checks_detail::failed_outcome;
using checks_detail::watch_fd;

ExecSpec exec_spec(const ExecSettings& s) {
  ExecSpec spec;
  spec.argv = s.command;
  spec.shell = s.shell;
  spec.env = s.env;
  spec.cwd = s.cwd;
  spec.max_output = static_cast<std::size_t>(s.max_output);
  spec.kill_grace = s.kill_grace;
  return spec;
}

// The Nagios plugin convention: exit 0 OK, 1 WARNING, 2 CRITICAL, 3
// UNKNOWN; the first line is the status text; perfdata become samples.
CheckOutcome nagios_outcome(const ExecResult& r, Millis timeout, bool warning_is_failure) {
  CheckOutcome out;
  out.total_seconds = r.seconds;
  if (!r.spawned) {
    out.reason = r.spawn_error;
    return out;
  }
  PluginOutput parsed = parse_plugin_output(r.output);
  std::string text = parsed.status_text.empty() ? std::string("no output") : printable_excerpt(parsed.status_text, 200);
  out.values.push_back({"exec_output_bytes", {}, static_cast<double>(r.output_bytes)});
  if (r.timed_out) {
    out.reason = "timed out after " + format_duration(timeout) + "; process group killed (output so far: " + text + ")";
    out.timed_out = true;
    return out;
  }
  if (r.signal) {
    out.reason = "killed by " + signal_name(*r.signal) + " (" + text + ")";
    return out;
  }
  int code = r.exit_code.value_or(-1);
  out.values.push_back({"exec_exit_code", {}, static_cast<double>(code)});
  out.ok = code == 0 || (code == 1 && !warning_is_failure);
  out.reason = "exit " + std::to_string(code) + ": " + text;
  for (const auto& d : parsed.perfdata) {
    PerfSample p = to_base_units(d);
    Labels labels{{"label", p.metric_label}};
    if (!p.unit.empty()) labels.push_back({"unit", p.unit});
    out.values.push_back({"check_perfdata", std::move(labels), p.value});
  }
  for (auto& e : parsed.perfdata_errors) out.warnings.push_back(std::move(e));
  return out;
}

class ExecRunner : public CheckRunner {
 public:
  ExecRunner(sd_event* event, Millis timeout, ExecSettings settings)
      : event_(event), timeout_(timeout), settings_(std::move(settings)), spec_(exec_spec(settings_)) {}

  // A run is over for the scheduler only when its child is gone too: a
  // plugin that ignores SIGTERM is not started again on top of itself.
  bool busy() const override { return attempt_ && !attempt_->finished(); }

  void start(Done done) override {
    done_ = std::move(done);
    delivered_ = false;
    attempt_ = std::make_unique<ExecAttempt>(spec_, mono_now());
    std::optional<std::string> problem;
    if (attempt_->output_fd() >= 0) {
      problem = watch_fd(event_, output_, attempt_->output_fd(), EPOLLIN, &ExecRunner::on_output, this);
    }
    if (!problem && attempt_->pid_fd() >= 0) {
      problem = watch_fd(event_, exit_, attempt_->pid_fd(), EPOLLIN, &ExecRunner::on_exit, this);
    }
    if (!problem && !attempt_->done()) {
      problem = add_deadline(event_, timeout_source_, mono_now() + timeout_, &ExecRunner::on_timeout, this);
    }
    if (problem) {
      attempt_->on_timeout(Millis(0), mono_now());
      attempt_->on_kill_deadline();
      problem_ = std::move(problem);
    }
    after_change();  // delivers last: `done` may destroy this runner
  }

 private:
  static int on_output(sd_event_source*, int, std::uint32_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_output(mono_now());
    self.after_change();
    return 0;
  }
  static int on_exit(sd_event_source*, int, std::uint32_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_exit(mono_now());
    self.after_change();
    return 0;
  }
  static int on_timeout(sd_event_source*, std::uint64_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_timeout(self.timeout_, mono_now());
    self.after_change();
    return 0;
  }
  static int on_kill(sd_event_source*, std::uint64_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_kill_deadline();
    self.after_change();
    return 0;
  }

  // After any call into the attempt: drop the sources of closed fds before
  // a new fd can take their number, arm the kill deadline, deliver once.
  void after_change() {
    if (attempt_->output_fd() < 0) output_.reset();
    if (attempt_->pid_fd() < 0) exit_.reset();
    if (attempt_->pid_fd() >= 0 && !exit_) {
      // start() could not watch it (fd exhaustion): retry, or the child
      // would never be reaped and the check never run again.
      watch_fd(event_, exit_, attempt_->pid_fd(), EPOLLIN, &ExecRunner::on_exit, this);
    }
    if (attempt_->done()) timeout_source_.reset();
    if (auto when = attempt_->kill_deadline(); when && !kill_ && !attempt_->finished()) {
      add_deadline(event_, kill_, *when, &ExecRunner::on_kill, this);
    }
    if (attempt_->finished()) kill_.reset();
    if (attempt_->done() && !delivered_) {
      CheckOutcome out = problem_ ? failed_outcome(*problem_)
                                  : nagios_outcome(*attempt_->done(), timeout_, settings_.warning_is_failure);
      problem_.reset();
      deliver(std::move(out));
    }
  }

  void deliver(CheckOutcome out) {
    delivered_ = true;
    Done done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(out));
  }

  sd_event* event_;
  Millis timeout_;
  ExecSettings settings_;
  ExecSpec spec_;
  std::unique_ptr<ExecAttempt> attempt_;
  SdEventSourcePtr output_, exit_, timeout_source_, kill_;
  Done done_;
  bool delivered_ = false;
  std::optional<std::string> problem_;  // start() could not watch the child
};

const ExecSettings& exec_settings(const CheckSpec& c) {
  return c.settings.as<ExecSettings>();
}

void validate_exec(const CheckSpec& c, KeyProblems& p) {
  const ExecSettings& s = exec_settings(c);
  if (s.command.empty() && p.written("command")) {
    p.bad("command", "an empty argv: write the program and its arguments, e.g. [\"/usr/bin/true\"]");
  } else if (s.command.empty()) {
    p.missing("command",
              "an exec check needs a command: a non-empty argv list, e.g. "
              "[\"/usr/lib/nagios/plugins/check_disk\", \"-w\", \"10%\", \"-p\", \"/\"]");
  } else if (s.command_is_text && !s.shell) {
    p.bad("command", "one string is a shell command: set shell = true to run it with /bin/sh -c, or write the argv "
                     "as an array, e.g. [\"" + s.command.front().substr(0, s.command.front().find(' ')) + "\", ...]");
  } else if (s.command.front().empty()) {
    p.bad("command", s.shell ? "an empty shell command" : "the program (the first element) is empty");
  } else if (s.shell && s.command.size() != 1) {
    p.bad("command", "with shell = true, write the command as one string: command = \"a | b\"");
  } else if (!s.shell && s.command.front().find('/') != std::string::npos &&
             ::access(s.command.front().c_str(), X_OK) != 0) {
    p.warn("command", "\"" + s.command.front() + "\" is not an executable file now: the check fails until it is");
  }
  if (!s.cwd.empty() && s.cwd.front() != '/') p.bad("cwd", "\"" + s.cwd + "\" must be an absolute path");
}

}  // namespace

const CheckKindInfo& exec_check_kind() {
  using S = ExecSettings;
  static const std::array<Key<KindSettings>, 7> keys = {
      make_key<KindSettings>(
          "command", ValueType::kCommand, 0, 0,
          "the argv as a list, e.g. [\"/usr/lib/nagios/plugins/check_disk\", \"-w\", \"10%\"]; with shell = true, "
          "one string, e.g. \"df -P / | tail -1\"",
          +[](KindSettings& k, const Value& v) {
            S& s = k.as<S>();
            s.command_is_text = std::holds_alternative<std::string>(v);
            s.command = s.command_is_text ? std::vector<std::string>{std::get<std::string>(v)}
                                          : std::get<std::vector<std::string>>(v);
          }),
      kind_key<&S::shell>("shell", ValueType::kBool, 0, 0, "true to run command (one string) with /bin/sh -c"),
      kind_key<&S::env>("env", ValueType::kStringMap, 0, 0,
                        "a table of environment variables, e.g. { LC_ALL = \"C\" } (LC_ALL=C unless set)"),
      kind_key<&S::cwd>("cwd", ValueType::kPath, 0, 0, "the working directory (default /)"),
      kind_key<&S::max_output>("max_output", ValueType::kSize, 1024, 16ll << 20,
                               "a size from 1KiB to 16MiB, e.g. \"64KiB\" (default 64KiB)"),
      kind_key<&S::kill_grace>("kill_grace", ValueType::kDuration, 0, 60'000,
                               "a duration from 0s to 1m between SIGTERM and SIGKILL (default 2s)"),
      kind_key<&S::warning_is_failure>("warning_is_failure", ValueType::kBool, 0, 0,
                                       "true to count exit 1 (WARNING) as a failure"),
  };
  static const CheckKindInfo info{
      CheckKind::kExec,
      "Runs a program (a Nagios plugin or any script) in a process group of its own: exit 0 OK, 1 WARNING (a "
      "pass unless warning_is_failure), 2 CRITICAL, 3 UNKNOWN. The first output line is the reason; performance "
      "data become check_perfdata{label,unit} in base units. At the timeout the group gets SIGTERM, then SIGKILL "
      "after kill_grace. Samples exec_exit_code and exec_output_bytes.",
      keys,
      [] { return KindSettings::of(ExecSettings{}); },
      &validate_exec,
      [](CheckContext& context, const CheckSpec& c) -> std::unique_ptr<CheckRunner> {
        return std::make_unique<ExecRunner>(context.event(), c.timeout, exec_settings(c));
      },
  };
  return info;
}

}  // namespace vigil
