#define BOOST_TEST_MODULE probes_exec
#include "probes/checks/exec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <thread>

#include "core/text.hpp"

using namespace vigil;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Drives an attempt the way the daemon's event loop does: poll() on its two
// fds until the nearest deadline; on_timeout() at started + timeout,
// on_kill_deadline() when that is due. False if it is not finished within
// `limit` (the test then fails instead of hanging).
bool drive(ExecAttempt& attempt, Clock::time_point started, std::chrono::milliseconds timeout,
           std::chrono::milliseconds limit = 20s) {
  const auto give_up = Clock::now() + limit;
  while (!attempt.finished()) {
    auto now = Clock::now();
    if (now >= give_up) return false;
    if (!attempt.done() && now >= started + timeout) {
      attempt.on_timeout(timeout, now);
      continue;
    }
    if (auto kill_at = attempt.kill_deadline(); kill_at && now >= *kill_at) {
      attempt.on_kill_deadline();
      continue;
    }
    auto wake = give_up;
    if (!attempt.done()) wake = std::min(wake, started + timeout);
    if (auto kill_at = attempt.kill_deadline()) wake = std::min(wake, *kill_at);

    std::array<pollfd, 2> fds{};
    nfds_t count = 0;
    if (attempt.output_fd() >= 0) fds[count++] = pollfd{attempt.output_fd(), POLLIN, 0};
    if (attempt.pid_fd() >= 0) fds[count++] = pollfd{attempt.pid_fd(), POLLIN, 0};
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    if (::poll(fds.data(), count, static_cast<int>(wait_ms)) < 0 && errno != EINTR) {
      BOOST_FAIL("poll: " << std::strerror(errno));
    }
    now = Clock::now();
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == attempt.output_fd()) {
        attempt.on_output(now);
      } else if (fds[i].fd == attempt.pid_fd()) {
        attempt.on_exit(now);
      }
    }
  }
  return true;
}

struct Run {
  ExecResult result;
  pid_t pid = 0;
  double wall_seconds = 0;
};

Run run(const ExecSpec& spec, std::chrono::milliseconds timeout = 10s) {
  const auto started = Clock::now();
  ExecAttempt attempt(spec, started);
  Run out;
  out.pid = attempt.pid();
  BOOST_TEST_REQUIRE(drive(attempt, started, timeout), "the attempt did not finish");
  BOOST_TEST_REQUIRE(attempt.done().has_value());
  BOOST_TEST(attempt.output_fd() == -1);
  BOOST_TEST(attempt.pid_fd() == -1);
  out.result = *attempt.done();
  out.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return out;
}

ExecSpec command(std::vector<std::string> argv) {
  ExecSpec spec;
  spec.argv = std::move(argv);
  return spec;
}

ExecSpec shell(std::string line) {
  ExecSpec spec;
  spec.argv = {std::move(line)};
  spec.shell = true;
  return spec;
}

// The state letter in /proc/PID/stat, or nullopt when the process is gone.
std::optional<char> process_state(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return std::nullopt;
  return (*stat)[close + 2];
}

// Whether the process dies within `limit`. A process killed after its parent
// died is reparented to PID 1; in this container PID 1 is not an init that
// reaps, so a killed orphan can stay a zombie (state Z) for good. A zombie
// runs nothing and holds no pipe: it counts as dead.
bool dies_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto give_up = Clock::now() + limit;
  while (Clock::now() < give_up) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    auto state = process_state(pid);
    if (!state || *state == 'Z') return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// Field "Name:  value kB" of /proc/self/status, in bytes.
std::uint64_t self_status_bytes(const std::string& field) {
  auto status = read_file("/proc/self/status");
  BOOST_TEST_REQUIRE(status.has_value());
  for (auto line : lines(*status)) {
    if (line.substr(0, field.size() + 1) != field + ":") continue;
    auto parts = split_ws(line.substr(field.size() + 1));
    BOOST_TEST_REQUIRE(!parts.empty());
    auto kib = to_u64(parts[0]);
    BOOST_TEST_REQUIRE(kib.has_value());
    return *kib * 1024;
  }
  BOOST_FAIL("no " << field << " in /proc/self/status");
  return 0;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vigil-exec-XXXXXX").string();
    BOOST_TEST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_file(const std::string& path, const std::string& content, mode_t mode) {
  {
    std::ofstream out(path);
    out << content;
  }
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// Blocks signals in this (single-threaded) test process as vigild does for
// sd-event, and restores the mask at the end of the scope.
class BlockedSignals {
 public:
  explicit BlockedSignals(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : signals) sigaddset(&set, sig);
    BOOST_TEST_REQUIRE(::sigprocmask(SIG_BLOCK, &set, &old_) == 0);
  }
  ~BlockedSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;

 private:
  sigset_t old_;
};

class IgnoredSignal {
 public:
  explicit IgnoredSignal(int sig) : sig_(sig) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    BOOST_TEST_REQUIRE(::sigaction(sig, &ignore, &old_) == 0);
  }
  ~IgnoredSignal() { ::sigaction(sig_, &old_, nullptr); }
  IgnoredSignal(const IgnoredSignal&) = delete;
  IgnoredSignal& operator=(const IgnoredSignal&) = delete;

 private:
  int sig_;
  struct sigaction old_ {};
};

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(nagios_exit_codes_and_output) {
  for (int code : {0, 1, 2, 3}) {
    BOOST_TEST_CONTEXT("exit " << code) {
      auto r =
          run(command({"sh", "-c", "echo 'STATUS " + std::to_string(code) + " | t=1s'; exit " + std::to_string(code)}));
      BOOST_TEST(r.result.spawned);
      BOOST_TEST(r.result.spawn_error.empty());
      BOOST_TEST_REQUIRE(r.result.exit_code.has_value());
      BOOST_TEST(*r.result.exit_code == code);
      BOOST_TEST(!r.result.signal.has_value());
      BOOST_TEST(!r.result.timed_out);
      BOOST_TEST(r.result.output == "STATUS " + std::to_string(code) + " | t=1s\n");
      BOOST_TEST(r.result.output_bytes == r.result.output.size());
      BOOST_TEST(r.result.seconds > 0.0);
      BOOST_TEST(r.result.seconds < 5.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(stdout_and_stderr_share_one_pipe) {
  auto r = run(command({"sh", "-c", "echo to-stdout; echo to-stderr >&2; echo again"}));
  BOOST_TEST(r.result.output == "to-stdout\nto-stderr\nagain\n");
  BOOST_TEST(*r.result.exit_code == 0);
}

BOOST_AUTO_TEST_CASE(argv_is_passed_verbatim_without_a_shell) {
  auto r = run(command({"printf", "[%s]\\n", "a b", "  two  spaces ", "$HOME", "*", "'q'", ""}));
  BOOST_TEST(r.result.output == "[a b]\n[  two  spaces ]\n[$HOME]\n[*]\n['q']\n[]\n");
  BOOST_TEST(*r.result.exit_code == 0);
}

BOOST_AUTO_TEST_CASE(shell_runs_one_string_with_pipes) {
  auto r = run(shell("printf 'b\\na\\n' | sort | tr a-z A-Z; exit 4"));
  BOOST_TEST(r.result.output == "A\nB\n");
  BOOST_TEST(*r.result.exit_code == 4);

  ExecSpec two = shell("echo");
  two.argv.push_back("extra");
  auto bad = run(two);
  BOOST_TEST(!bad.result.spawned);
  BOOST_TEST(bad.result.spawn_error.find("one string") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(environment_overrides_and_lc_all) {
  ScopedEnv inherited("TZ", "from-daemon");              // passes (core/file_trust.hpp)
  ScopedEnv secret("VIGIL_EXEC_SECRET", "s3cret");       // stays with vigild
  ScopedEnv overridden("VIGIL_EXEC_OVERRIDDEN", "old");  // does not pass, but the check sets it
  ScopedEnv daemon_locale("LC_ALL", "de_DE.UTF-8");      // replaced by C unless the check sets LC_ALL

  ExecSpec spec = shell(
      "echo \"$TZ|$VIGIL_EXEC_SECRET|$VIGIL_EXEC_OVERRIDDEN|$VIGIL_EXEC_NEW|$LC_ALL\"; env | "
      "grep -c '^VIGIL_EXEC_OVERRIDDEN='");
  spec.env = {{"VIGIL_EXEC_OVERRIDDEN", "new value"}, {"VIGIL_EXEC_NEW", "a=b"}};
  auto r = run(spec);
  BOOST_TEST(r.result.output == "from-daemon||new value|a=b|C\n1\n");

  spec.env.emplace_back("LC_ALL", "POSIX");
  r = run(spec);
  BOOST_TEST(r.result.output == "from-daemon||new value|a=b|POSIX\n1\n");
}

BOOST_AUTO_TEST_CASE(path_from_the_check_environment_is_searched) {
  TempDir dir;
  write_file(dir / "vigil-test-plugin", "#!/bin/sh\necho \"from path $1\"\nexit 2\n", 0755);
  ExecSpec spec = command({"vigil-test-plugin", "x y"});
  spec.env = {{"PATH", "/nonexistent:" + dir.path() + ":/usr/bin:/bin"}};
  auto r = run(spec);
  BOOST_TEST(r.result.spawned);
  BOOST_TEST(r.result.output == "from path x y\n");
  BOOST_TEST(*r.result.exit_code == 2);

  // Not in the daemon's PATH, and not in a check PATH that lacks the dir.
  auto missing = run(command({"vigil-test-plugin"}));
  BOOST_TEST(!missing.result.spawned);
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  missing = run(spec);
  BOOST_TEST(!missing.result.spawned);
  BOOST_TEST(missing.result.spawn_error.find("vigil-test-plugin") != std::string::npos);
  BOOST_TEST(missing.result.spawn_error.find("/usr/bin:/bin") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(working_directory) {
  TempDir dir;
  ExecSpec spec = command({"pwd"});
  spec.cwd = dir.path();
  auto r = run(spec);
  BOOST_TEST(r.result.output == std::filesystem::canonical(dir.path()).string() + "\n");

  auto by_default = run(command({"pwd"}));
  BOOST_TEST(by_default.result.output == "/\n");
}

BOOST_AUTO_TEST_CASE(missing_executable_is_a_clear_spawn_error) {
  for (const std::string& name : {std::string("/no/such/check_plugin"), std::string("vigil-no-such-plugin")}) {
    BOOST_TEST_CONTEXT(name) {
      const auto started = Clock::now();
      ExecAttempt attempt(command({name, "-w", "1"}), started);
      BOOST_TEST(attempt.finished());
      BOOST_TEST_REQUIRE(attempt.done().has_value());
      BOOST_TEST(attempt.output_fd() == -1);
      BOOST_TEST(attempt.pid_fd() == -1);
      BOOST_TEST(!attempt.kill_deadline().has_value());
      const ExecResult& r = *attempt.done();
      BOOST_TEST(!r.spawned);
      BOOST_TEST(!r.exit_code.has_value());
      BOOST_TEST(r.spawn_error.find(name) != std::string::npos, r.spawn_error);
      BOOST_TEST(r.spawn_error.find(std::strerror(ENOENT)) != std::string::npos, r.spawn_error);
      // The owner may still call everything; nothing happens.
      attempt.on_output(started);
      attempt.on_exit(started);
      attempt.on_timeout(1s, started);
      BOOST_TEST(!attempt.done()->timed_out);
    }
  }
}

BOOST_AUTO_TEST_CASE(not_executable_and_empty_commands) {
  TempDir dir;
  write_file(dir / "plugin", "#!/bin/sh\necho hi\n", 0644);
  auto r = run(command({dir / "plugin"}));
  BOOST_TEST(!r.result.spawned);
  BOOST_TEST(r.result.spawn_error.find(dir / "plugin") != std::string::npos);
  BOOST_TEST(r.result.spawn_error.find(std::strerror(EACCES)) != std::string::npos, r.result.spawn_error);

  BOOST_TEST(!run(command({})).result.spawned);
  BOOST_TEST(!run(command({""})).result.spawned);
}

BOOST_AUTO_TEST_CASE(bad_working_directory_names_the_directory) {
  TempDir dir;
  write_file(dir / "file", "", 0644);
  for (const std::string& cwd : {std::string("/no/such/dir"), dir / "file"}) {
    BOOST_TEST_CONTEXT(cwd) {
      ExecSpec spec = command({"true"});
      spec.cwd = cwd;
      auto r = run(spec);
      BOOST_TEST(!r.result.spawned);
      BOOST_TEST(r.result.spawn_error.find("\"" + cwd + "\"") != std::string::npos, r.result.spawn_error);
      BOOST_TEST(r.result.spawn_error.find("true") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(stdin_is_dev_null_and_no_descriptor_leaks) {
  // A descriptor without O_CLOEXEC, as careless daemon code might leave one.
  const int stray = ::open("/dev/null", O_RDONLY);
  BOOST_TEST_REQUIRE(stray > 2);
  auto r = run(shell("readlink /proc/$$/fd/0; ls /proc/$$/fd | tr '\\n' ' '; cat"));
  ::close(stray);
  BOOST_TEST(r.result.output == "/dev/null\n0 1 2 ");
  BOOST_TEST(*r.result.exit_code == 0);
}

BOOST_AUTO_TEST_CASE(output_beyond_the_cap_is_counted_and_dropped) {
  ExecSpec spec = shell("printf 'hello world\\nsecond line\\n'");
  spec.max_output = 5;
  auto r = run(spec);
  BOOST_TEST(r.result.output == "hello\n[output truncated: 19 bytes dropped]");
  BOOST_TEST(r.result.output_bytes == 24u);

  spec.max_output = 12;  // the kept part ends with a newline: no extra one
  r = run(spec);
  BOOST_TEST(r.result.output == "hello world\n[output truncated: 12 bytes dropped]");

  spec.max_output = 24;  // exactly full: no marker
  r = run(spec);
  BOOST_TEST(r.result.output == "hello world\nsecond line\n");
}

BOOST_AUTO_TEST_CASE(hundred_mebibytes_of_output_stay_bounded) {
  constexpr std::uint64_t kPrinted = 104857600;
  const std::uint64_t rss_before = self_status_bytes("VmRSS");
  auto r = run(command({"head", "-c", std::to_string(kPrinted), "/dev/zero"}), 30s);
  const std::uint64_t rss_after = self_status_bytes("VmRSS");
  const auto rss_growth = rss_after > rss_before ? rss_after - rss_before : 0;
  BOOST_TEST_MESSAGE("figure exec_100MiB_seconds " << r.wall_seconds << " s");
  BOOST_TEST_MESSAGE("figure exec_100MiB_rss_growth " << rss_growth / 1024 << " KiB");

  BOOST_TEST(!r.result.timed_out);
  BOOST_TEST(*r.result.exit_code == 0);
  BOOST_TEST(r.result.output_bytes == kPrinted);
  const std::string marker = "\n[output truncated: " + std::to_string(kPrinted - 65536) + " bytes dropped]";
  BOOST_TEST_REQUIRE(r.result.output.size() == 65536 + marker.size());
  BOOST_TEST(r.result.output.substr(65536) == marker);
  BOOST_TEST(std::all_of(r.result.output.begin(), r.result.output.begin() + 65536, [](char c) { return c == 0; }));
  BOOST_TEST(rss_growth < 16u * 1024 * 1024);
  BOOST_TEST(r.wall_seconds < 20.0);
}

BOOST_AUTO_TEST_CASE(timeout_terminates_the_child) {
  ExecSpec spec = shell("echo started; exec sleep 100");
  spec.kill_grace = 5s;
  const auto started = Clock::now();
  ExecAttempt attempt(spec, started);
  const pid_t pid = attempt.pid();
  BOOST_TEST_REQUIRE(pid > 0);
  BOOST_TEST_REQUIRE(drive(attempt, started, 300ms));
  const auto ended = Clock::now();
  const ExecResult& r = *attempt.done();
  BOOST_TEST(r.timed_out);
  BOOST_TEST(r.spawned);
  BOOST_TEST(!r.exit_code.has_value());
  BOOST_TEST(r.output == "started\n");
  BOOST_TEST(r.seconds >= 0.3);
  BOOST_TEST(r.seconds < 2.0);
  // SIGTERM was enough: reaped long before the 5 s kill deadline.
  BOOST_TEST(std::chrono::duration<double>(ended - started).count() < 3.0);
  BOOST_TEST(!attempt.kill_deadline().has_value());
  // We reaped it ourselves: the pid is gone entirely, not even a zombie.
  BOOST_TEST((::kill(pid, 0) != 0 && errno == ESRCH));
}

BOOST_AUTO_TEST_CASE(child_ignoring_term_is_killed_at_the_kill_deadline) {
  ExecSpec spec = shell("trap '' TERM; sleep 1000; echo survived");
  spec.kill_grace = 300ms;
  const auto started = Clock::now();
  ExecAttempt attempt(spec, started);
  const pid_t pid = attempt.pid();
  // Let the shell reach its trap before the timeout.
  BOOST_TEST_REQUIRE(drive(attempt, started, 200ms));
  const double total = std::chrono::duration<double>(Clock::now() - started).count();
  BOOST_TEST(attempt.done()->timed_out);
  BOOST_TEST(total >= 0.2 + 0.3);  // survived the TERM until the kill deadline
  BOOST_TEST(total < 3.0);
  BOOST_TEST((::kill(pid, 0) != 0 && errno == ESRCH));
}

BOOST_AUTO_TEST_CASE(grandchild_ignoring_term_does_not_outlive_the_check) {
  TempDir dir;
  const std::string pidfile = dir / "grandchild.pid";
  // The subshell ignores TERM and execs sleep, which keeps the ignore.
  ExecSpec spec = shell("(trap '' TERM; exec sleep 1000) & echo $! > " + pidfile + "; wait");
  spec.kill_grace = 300ms;
  const auto started = Clock::now();
  ExecAttempt attempt(spec, started);
  BOOST_TEST_REQUIRE(attempt.pid() > 0);

  // Wait for the grandchild to be sleep with TERM ignored, so the test
  // really exercises a TERM-proof grandchild.
  pid_t grandchild = 0;
  bool ignores_term = false;
  const auto give_up = Clock::now() + 5s;
  while (Clock::now() < give_up && !ignores_term) {
    std::this_thread::sleep_for(5ms);
    auto text = read_file(pidfile);
    if (!text) continue;
    auto pid = to_u64(trim(*text));
    if (!pid) continue;
    grandchild = static_cast<pid_t>(*pid);
    auto comm = read_file("/proc/" + std::to_string(grandchild) + "/comm");
    auto status = read_file("/proc/" + std::to_string(grandchild) + "/status");
    if (!comm || trim(*comm) != "sleep" || !status) continue;
    for (auto line : lines(*status)) {
      if (line.substr(0, 7) != "SigIgn:") continue;
      const auto mask = std::stoull(std::string(trim(line.substr(7))), nullptr, 16);
      ignores_term = (mask & (1ull << (SIGTERM - 1))) != 0;
    }
  }
  BOOST_TEST_REQUIRE(ignores_term, "the grandchild did not come up ignoring SIGTERM");

  BOOST_TEST_REQUIRE(drive(attempt, started, 100ms));  // the timeout is already past: TERM at once
  BOOST_TEST(attempt.done()->timed_out);
  const bool dead = dies_within(grandchild, 2s);
  BOOST_TEST(dead);
  if (!dead) ::kill(grandchild, SIGKILL);  // leave no sleep 1000 behind a failed run
}

BOOST_AUTO_TEST_CASE(child_gets_an_empty_signal_mask_and_default_dispositions) {
  // vigild blocks these for sd-event; a child inheriting the mask could not
  // be stopped with SIGTERM.
  BlockedSignals blocked({SIGTERM, SIGINT, SIGHUP, SIGCHLD});
  auto r = run(shell("kill -TERM $$; exit 7"));
  BOOST_TEST(!r.result.exit_code.has_value());
  BOOST_TEST_REQUIRE(r.result.signal.has_value());
  BOOST_TEST(*r.result.signal == SIGTERM);

  {
    IgnoredSignal ignored(SIGTERM);
    r = run(shell("kill -TERM $$; exit 7"));
    BOOST_TEST_REQUIRE(r.result.signal.has_value());
    BOOST_TEST(*r.result.signal == SIGTERM);
  }

  // The timeout path: TERM ends it well before the 10 s kill deadline.
  ExecSpec spec = command({"sleep", "100"});
  spec.kill_grace = 10s;
  const auto started = Clock::now();
  ExecAttempt attempt(spec, started);
  BOOST_TEST_REQUIRE(drive(attempt, started, 200ms));
  BOOST_TEST(attempt.done()->timed_out);
  BOOST_TEST(std::chrono::duration<double>(Clock::now() - started).count() < 3.0);
}

BOOST_AUTO_TEST_CASE(killed_by_a_signal) {
  auto r = run(shell("echo before; kill -KILL $$"));
  BOOST_TEST(r.result.output == "before\n");
  BOOST_TEST(!r.result.exit_code.has_value());
  BOOST_TEST_REQUIRE(r.result.signal.has_value());
  BOOST_TEST(*r.result.signal == SIGKILL);
}

BOOST_AUTO_TEST_CASE(exit_while_a_grandchild_holds_the_pipe) {
  auto r = run(shell("sleep 100 & echo $!; echo hi; exit 0"), 10s);
  BOOST_TEST(!r.result.timed_out);
  BOOST_TEST(*r.result.exit_code == 0);
  BOOST_TEST(r.wall_seconds < 2.0);
  auto out = lines(r.result.output);
  BOOST_TEST_REQUIRE(out.size() == 2u);
  BOOST_TEST(out[1] == "hi");
  auto grandchild = to_u64(out[0]);
  BOOST_TEST_REQUIRE(grandchild.has_value());
  const bool dead = dies_within(static_cast<pid_t>(*grandchild), 2s);
  BOOST_TEST(dead);
  if (!dead) ::kill(static_cast<pid_t>(*grandchild), SIGKILL);  // leave no sleep behind a failed run
}

BOOST_AUTO_TEST_CASE(exit_seen_before_the_output_still_collects_it) {
  // sd-event may dispatch the pidfd before the pipe: on_exit() must take
  // what is already in the pipe, without waiting for an EOF that the
  // background sleep would hold off.
  const auto started = Clock::now();
  ExecAttempt attempt(shell("sleep 100 & echo last words; exit 3"), started);
  pollfd exited{attempt.pid_fd(), POLLIN, 0};
  BOOST_TEST_REQUIRE(::poll(&exited, 1, 5000) == 1);
  attempt.on_exit(Clock::now());
  BOOST_TEST(attempt.finished());
  BOOST_TEST(attempt.output_fd() == -1);
  BOOST_TEST_REQUIRE(attempt.done().has_value());
  BOOST_TEST(attempt.done()->output == "last words\n");
  BOOST_TEST(*attempt.done()->exit_code == 3);
}

BOOST_AUTO_TEST_CASE(destroying_an_unfinished_attempt_kills_without_hanging) {
  pid_t pid = 0;
  const auto before = Clock::now();
  {
    ExecAttempt attempt(shell("sleep 100 & sleep 100"), Clock::now());
    pid = attempt.pid();
    BOOST_TEST_REQUIRE(pid > 0);
    BOOST_TEST(!attempt.finished());
  }
  BOOST_TEST(std::chrono::duration<double>(Clock::now() - before).count() < 1.0);
  // Killed; perhaps not reaped yet (the destructor cannot wait), so this
  // test process, its parent, reaps it now.
  BOOST_TEST(dies_within(pid, 2s));
  int status = 0;
  const pid_t waited = ::waitpid(pid, &status, 0);
  if (waited == pid) {
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST(WTERMSIG(status) == SIGKILL);
  } else {
    BOOST_TEST((waited == -1 && errno == ECHILD));  // the destructor's own reap got it
  }
}
