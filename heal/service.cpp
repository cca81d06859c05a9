#include "heal/service.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (see probes/exec.cpp).
extern "C" {
#include <sys/pidfd.h>
}

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/file_trust.hpp"
#include "core/log.hpp"
#include "core/spawn.hpp"
#include "core/text.hpp"
#include "core/unique_fd.hpp"
#include "probes/procfs.hpp"

namespace vigil {

namespace {

namespace fs = std::filesystem;

std::string shown(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::optional<std::uint64_t> start_ticks(const std::string& proc_root, int pid) {
  auto text = read_file(proc_root + "/" + std::to_string(pid) + "/stat", 4096);
  if (!text) return std::nullopt;
  auto st = procfs::parse_pid_stat(*text);
  if (!st || st->state == 'Z') return std::nullopt;
  return st->starttime_ticks;
}

}  // namespace

std::string ExitInfo::describe() const {
  if (!start_error.empty()) return "could not be started: " + start_error;
  if (!status_known) return "exited (status unknown: vigild is not its parent)";
  const std::string oom = oom_killed ? " (the OOM killer)" : "";
  if (signal) return "killed by " + signal_name(*signal) + oom;
  if (code) return "exited with code " + std::to_string(*code) + oom;
  return "exited" + oom;
}

// ---- PidWatch ---------------------------------------------------------------

Result<std::unique_ptr<PidWatch>> PidWatch::open(sd_event* event, int pid, bool child, OnExit on_exit) {
  UniqueFd fd(::pidfd_open(pid, 0));
  if (!fd) {
    return fail(errno == ESRCH ? ErrorKind::kNotFound : ErrorKind::kIo,
                "cannot watch process " + std::to_string(pid) + " (pidfd_open): " + errno_text(errno));
  }
  std::unique_ptr<PidWatch> w(new PidWatch());
  w->pid_ = pid;
  w->child_ = child;
  w->on_exit_ = std::move(on_exit);
  sd_event_source* source = nullptr;
  int r = sd_event_add_io(event, &source, fd.get(), EPOLLIN, &PidWatch::on_io, w.get());
  if (r < 0) return fail(ErrorKind::kIo, "cannot watch process " + std::to_string(pid) + ": " + errno_text(-r));
  w->source_.reset(source);
  w->pidfd_ = std::move(fd);
  return w;
}

bool PidWatch::send(int sig) const {
  if (exited_ || !pidfd_) return false;
  return ::pidfd_send_signal(pidfd_.get(), sig, nullptr, 0) == 0;
}

int PidWatch::on_io(sd_event_source* source, int, std::uint32_t, void* self) {
  auto* w = static_cast<PidWatch*>(self);
  ExitInfo info;
  info.pid = w->pid_;
  if (w->child_) {
    siginfo_t peek{};
    // Kill what the child left in its group before reaping it: until the
    // reap, the group id cannot be reused.
    if (w->kill_group_ &&
        ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(w->pidfd_.get()), &peek,
                 WEXITED | WNOHANG | WNOWAIT) == 0 &&
        peek.si_pid != 0) {
      ::kill(-w->pid_, SIGKILL);
    }
    siginfo_t si{};
    const int r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(w->pidfd_.get()), &si, WEXITED | WNOHANG);
    if (r == 0 && si.si_pid != 0) {
      info.status_known = true;
      if (si.si_code == CLD_EXITED) {
        info.code = si.si_status;
      } else {
        info.signal = si.si_status;
      }
    } else if (r == 0 || errno == EINTR) {
      return 0;  // not yet reapable: the fd stays readable and the loop calls again
    }
    // ECHILD: someone else reaped it; the exit is all we know.
  }
  w->exited_ = true;
  sd_event_source_set_enabled(source, SD_EVENT_OFF);
  // The callback may destroy this watch: nothing below it may touch `w`.
  OnExit cb = w->on_exit_;
  cb(info);
  return 0;
}

Result<void> send_signal(int pid, int sig) {
  UniqueFd fd(::pidfd_open(pid, 0));
  if (!fd || ::pidfd_send_signal(fd.get(), sig, nullptr, 0) != 0) {
    return fail(errno == ESRCH ? ErrorKind::kNotFound : ErrorKind::kIo,
                "process " + std::to_string(pid) + ": " + errno_text(errno));
  }
  return {};
}

// ---- spawning ---------------------------------------------------------------

Result<Spawned> spawn_detached(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return fail(ErrorKind::kInvalid, "nothing to start: the command is empty");
  std::error_code ec;
  fs::create_directories(fs::path(log_path).parent_path(), ec);
  SpawnAttr spawn_attr;
  SpawnActions spawn_actions;
  posix_spawnattr_t& attr = spawn_attr.attr;
  posix_spawn_file_actions_t& actions = spawn_actions.actions;
  // Its own session: a process group of its own (one kill(-pgid) stops it
  // and what it forked) and no controlling terminal, so that it outlives a
  // vigild that stops or crashes. The loop's blocked signals are not its own.
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  int err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &empty);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
  if (err == 0) err = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (err == 0) {
    err = posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                           O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
                                           0640);  // no CLOEXEC: it is the child's stdout
  }
  if (err == 0) err = posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  if (err == 0) err = posix_spawn_file_actions_addchdir_np(&actions, "/");
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Only the variables a program needs to run as from a shell pass from
  // vigild's environment (core/file_trust.hpp): not its secrets, and not
  // what systemd handed to vigild itself (the service must not ping vigild's
  // watchdog or take its sockets).
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (passed_to_children(*e)) envp.push_back(*e);
  }
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (err == 0) {
    const bool search = argv[0].find('/') == std::string::npos;
    err = search ? posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), envp.data())
                 : posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), envp.data());
  }
  if (err != 0) {
    if (err == ELOOP) {
      return fail(ErrorKind::kInvalid, "cannot start " + shown(argv) + ": its log " + log_path +
                                           " is a symbolic link, which vigild does not follow: remove it");
    }
    return fail(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo,
                "cannot start " + shown(argv) + ": " + errno_text(err) + " (output goes to " + log_path + ")");
  }
  Spawned s;
  s.pid = pid;
  // Not reaped before we wait for it, so the PID cannot be reused in between.
  s.pidfd.reset(::pidfd_open(pid, 0));
  if (!s.pidfd) {
    const int open_err = errno;
    ::kill(-pid, SIGKILL);
    return fail(ErrorKind::kIo, "cannot watch " + shown(argv) + " (pidfd_open): " + errno_text(open_err));
  }
  return s;
}

// ---- ChildService -----------------------------------------------------------

ChildService::ChildService(sd_event* event, ChildSpec spec, OnExit on_exit)
    : event_(event), spec_(std::move(spec)), on_exit_(std::move(on_exit)) {}

ChildService::~ChildService() = default;

std::string ChildService::what() const {
  return shown(spec_.argv);
}

int ChildService::main_pid() const {
  return watch_ && !watch_->exited() ? watch_->pid() : 0;
}

Result<void> ChildService::spawn() {
  auto s = spawn_detached(spec_.argv, spec_.log_path);
  if (!s) {
    last_start_error_ = s.error().message;
    return tl::unexpected(s.error());
  }
  last_start_error_.clear();
  const int pid = s->pid;
  // The pidfd we hold is the one to watch; PidWatch::open makes its own.
  auto w = PidWatch::open(event_, pid, true, [this](const ExitInfo& info) { exited(info); });
  // Whatever the main process leaves in its group goes with it: a restart
  // must not find the port still held by an orphaned worker.
  if (w) (*w)->kill_group_on_exit();
  if (!w) {
    ::kill(-pid, SIGKILL);
    return tl::unexpected(w.error());
  }
  watch_ = std::move(*w);
  adopted_ = false;
  for (const auto& dir : spec_.cgroup_dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    const std::string procs = dir + "/cgroup.procs";
    if (FILE* f = std::fopen(procs.c_str(), "w")) {
      std::fprintf(f, "%d\n", pid);
      if (std::fclose(f) != 0) {
        log_warning("cannot move the started process into its cgroup",
                    {{"target", spec_.target}, {"cgroup", dir}, {"error", errno_text(errno)}});
      }
    }
  }
  auto ticks = start_ticks(spec_.proc_root, pid);
  std::error_code ec;
  fs::create_directories(fs::path(spec_.run_path).parent_path(), ec);
  const std::string tmp = spec_.run_path + ".tmp";
  // Not through a symbolic link planted at the temporary name; rename()
  // replaces one at run_path itself.
  ::unlink(tmp.c_str());
  if (UniqueFd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)}) {
    const std::string line =
        std::to_string(pid) + " " + std::to_string(static_cast<unsigned long long>(ticks.value_or(0))) + "\n";
    if (::write(f.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      std::rename(tmp.c_str(), spec_.run_path.c_str());
    }
  }
  return {};
}

Result<std::string> ChildService::start_or_adopt() {
  if (auto text = read_file(spec_.run_path, 256)) {
    auto parts = split(trim(*text), ' ');
    if (parts.size() == 2) {
      auto pid = to_u64(parts[0]);
      auto ticks = to_u64(parts[1]);
      if (pid && ticks && *pid > 0 && *pid < 4'194'304) {
        auto now_ticks = start_ticks(spec_.proc_root, static_cast<int>(*pid));
        if (now_ticks && *now_ticks == *ticks) {
          auto w =
              PidWatch::open(event_, static_cast<int>(*pid), false, [this](const ExitInfo& info) { exited(info); });
          if (w) {
            watch_ = std::move(*w);
            adopted_ = true;
            return "adopted process " + std::to_string(*pid) + " started by an earlier vigild";
          }
        }
      }
    }
  }
  if (auto r = spawn(); !r) return tl::unexpected(r.error());
  return "started process " + std::to_string(watch_->pid()) + ": " + what();
}

void ChildService::exited(const ExitInfo& info) {
  kill_timer_.reset();
  if (stopping_after_timeout_) {
    // The stop outlived the restart's timeout (reported then); it is over
    // now: start the replacement, as the restart meant to.
    stopping_after_timeout_ = false;
    auto r = spawn();
    if (r) {
      log_info("the process that did not stop in time is gone: started its replacement",
               {{"target", spec_.target}, {"pid", static_cast<std::int64_t>(watch_->pid())}});
    } else {
      ExitInfo failed = info;
      failed.start_error = r.error().message;
      on_exit_(failed);
    }
    return;
  }
  if (restart_done_) {
    // The stop of a restart completed: start the new one.
    auto r = spawn();
    if (!r) {
      // Down, and nothing will start it: the remediator must know.
      ExitInfo failed = info;
      failed.start_error = r.error().message;
      finish_restart(ActionResult{ActionStatus::kFailed, r.error().message});
      on_exit_(failed);
      return;
    }
    finish_restart(r ? ActionResult{ActionStatus::kOk, "stopped process " + std::to_string(info.pid) + " (" +
                                                           info.describe() + "), started process " +
                                                           std::to_string(watch_->pid())}
                     : ActionResult{ActionStatus::kFailed, r.error().message});
    return;
  }
  on_exit_(info);
}

void ChildService::finish_restart(ActionResult r) {
  restart_timer_.reset();
  kill_timer_.reset();
  ActionDone done = std::move(restart_done_);
  restart_done_ = nullptr;
  if (done) done(std::move(r));
}

void ChildService::restart(Millis timeout, ActionDone done) {
  if (restart_done_ || stopping_after_timeout_) {
    done(ActionResult{ActionStatus::kFailed, "a restart is already running"});
    return;
  }
  if (main_pid() == 0) {
    auto r = spawn();
    done(r ? ActionResult{ActionStatus::kOk, "started process " + std::to_string(watch_->pid())}
           : ActionResult{ActionStatus::kFailed, r.error().message});
    return;
  }
  restart_done_ = std::move(done);
  const int pid = watch_->pid();
  // The stop signal to the whole group (the session leader's pgid is its pid),
  // then SIGCONT: a stopped (hung by SIGSTOP, or traced) process acts on the
  // stop signal only once it runs again.
  if (::kill(-pid, spec_.stop_signal) != 0) watch_->send(spec_.stop_signal);
  if (spec_.stop_signal != SIGKILL && spec_.stop_signal != SIGCONT && ::kill(-pid, SIGCONT) != 0) {
    watch_->send(SIGCONT);
  }
  sd_event_source* s = nullptr;
  sd_event_add_time_relative(event_, &s, CLOCK_MONOTONIC, static_cast<std::uint64_t>(spec_.stop_timeout.count()) * 1000,
                             1000, &ChildService::on_kill_timer, this);
  kill_timer_.reset(s);
  s = nullptr;
  sd_event_add_time_relative(event_, &s, CLOCK_MONOTONIC, static_cast<std::uint64_t>(timeout.count()) * 1000, 1000,
                             &ChildService::on_restart_timeout, this);
  restart_timer_.reset(s);
}

int ChildService::on_kill_timer(sd_event_source*, std::uint64_t, void* self) {
  auto* c = static_cast<ChildService*>(self);
  if (c->watch_ && !c->watch_->exited()) {
    log_warning("the process did not stop in time: killing it",
                {{"target", c->spec_.target},
                 {"pid", static_cast<std::int64_t>(c->watch_->pid())},
                 {"stop_timeout", format_duration(c->spec_.stop_timeout)}});
    ::kill(-c->watch_->pid(), SIGKILL);
    c->watch_->send(SIGKILL);
  }
  return 0;
}

int ChildService::on_restart_timeout(sd_event_source*, std::uint64_t, void* self) {
  auto* c = static_cast<ChildService*>(self);
  const int pid = c->main_pid();
  // Out of time: no more waiting for a polite stop. Its exit (soon) starts
  // the replacement; it is not reported as a crash.
  if (pid != 0) {
    ::kill(-pid, SIGKILL);
    c->watch_->send(SIGKILL);
    c->stopping_after_timeout_ = true;
  }
  c->restart_timer_.reset();
  ActionDone done = std::move(c->restart_done_);
  c->restart_done_ = nullptr;
  if (done)
    done(ActionResult{ActionStatus::kTimeout, "process " + std::to_string(pid) + " did not stop in time; killed it"});
  return 0;
}

// ---- LeftoverChildren -------------------------------------------------------

struct LeftoverChildren::Stopping {
  std::string target;
  std::string run_file;
  int pid = 0;
  bool killed = false;
  std::unique_ptr<PidWatch> watch;
  SdEventSourcePtr kill_timer;
};

LeftoverChildren::LeftoverChildren(sd_event* event, const std::string& run_dir, const std::string& proc_root,
                                   const std::set<std::string>& keep, OnOutcome done)
    : event_(event), done_(std::move(done)) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
    const fs::path& p = entry.path();
    if (p.extension() != ".pid" || keep.count(p.stem().string())) continue;
    files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& p : files) {
    Outcome out;
    out.target = p.stem().string();
    const std::string file = p.string();
    auto text = read_file(file, 256);
    auto parts = text ? split(trim(*text), ' ') : std::vector<std::string_view>{};
    auto pid = parts.size() == 2 ? to_u64(parts[0]) : std::nullopt;
    auto ticks = parts.size() == 2 ? to_u64(parts[1]) : std::nullopt;
    if (!pid || !ticks || *pid == 0 || *pid >= 4'194'304) {
      out.message = "its run file " + file + " does not name a process (\"<pid> <start time>\"); removed it";
    } else {
      out.pid = static_cast<int>(*pid);
      auto s = std::make_unique<Stopping>();
      s->target = out.target;
      s->run_file = file;
      s->pid = out.pid;
      Stopping* raw = s.get();
      // The pidfd first, then the start time: a PID reused in between is
      // then seen as another process, never signalled.
      auto w = PidWatch::open(event_, out.pid, false, [this, raw](const ExitInfo&) { exited(raw); });
      auto now_ticks = w ? start_ticks(proc_root, out.pid) : std::nullopt;
      if (!w && w.error().kind != ErrorKind::kNotFound) {
        out.message = "cannot stop process " + std::to_string(out.pid) +
                      " an earlier vigild started for it: " + w.error().message + "; it is left running";
        done_(out);
        continue;  // the run file stays: the next start tries again
      }
      if (!w || !now_ticks || *now_ticks != *ticks) {
        out.message = "the process " + std::to_string(out.pid) + " an earlier vigild started for it is gone";
      } else {
        s->watch = std::move(*w);
        // Its group, as ChildService stops it, then SIGCONT for a stopped one.
        s->watch->send(SIGTERM);
        ::kill(-out.pid, SIGTERM);
        s->watch->send(SIGCONT);
        ::kill(-out.pid, SIGCONT);
        sd_event_source* t = nullptr;
        const int r = sd_event_add_time_relative(event_, &t, CLOCK_MONOTONIC,
                                                 static_cast<std::uint64_t>(kStopTimeout.count()) * 1000, 1000,
                                                 &LeftoverChildren::on_kill_timer, raw);
        if (r < 0) {
          // No timer, no patience: a process that ignores SIGTERM must not stay.
          log_warning("cannot arm the stop timer; killing at once",
                      {{"target", out.target}, {"error", errno_text(-r)}});
          raw->killed = true;
          s->watch->send(SIGKILL);
          ::kill(-out.pid, SIGKILL);
        }
        s->kill_timer.reset(t);
        stopping_.push_back(std::move(s));
        continue;
      }
    }
    std::error_code rm;
    fs::remove(p, rm);
    done_(out);
  }
}

LeftoverChildren::~LeftoverChildren() = default;

int LeftoverChildren::on_kill_timer(sd_event_source*, std::uint64_t, void* self) {
  auto* s = static_cast<Stopping*>(self);
  s->killed = true;
  ::kill(-s->pid, SIGKILL);
  if (s->watch) s->watch->send(SIGKILL);
  s->kill_timer.reset();
  return 0;
}

void LeftoverChildren::exited(Stopping* s) {
  s->kill_timer.reset();  // it is gone: nothing to kill 10 s from now
  Outcome out;
  out.target = s->target;
  out.pid = s->pid;
  out.stopped = true;
  out.message =
      "stopped process " + std::to_string(s->pid) + " that an earlier vigild started for it" +
      (s->killed ? " (killed: it did not stop within " + format_duration(kStopTimeout) + " of SIGTERM)" : " (SIGTERM)");
  // The rest of its group goes with it, as with a target vigild stops.
  ::kill(-s->pid, SIGKILL);
  std::error_code rm;
  fs::remove(s->run_file, rm);
  auto it = std::find_if(stopping_.begin(), stopping_.end(), [s](const auto& p) { return p.get() == s; });
  // Not freed here: the PidWatch calling us is inside it. Freed with the set.
  if (it != stopping_.end()) {
    finished_.push_back(std::move(*it));
    stopping_.erase(it);
  }
  done_(out);
}

}  // namespace vigil
