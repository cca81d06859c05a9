// tests/integration/harness.hpp: real processes for integration tests.
//
// Starts the real vigild and vigil binaries (paths from the environment that
// meson sets: VIGILD, VIGIL, MEMHOG), in temporary directories, and waits
// for conditions by polling with a deadline, never by fixed sleeps.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/requirements.hpp"

extern char** environ;

namespace harness {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::string env_path(const char* name) {
  const char* v = std::getenv(name);
  BOOST_REQUIRE_MESSAGE(v != nullptr && *v != '\0', name << " is not set (run through meson test)");
  return v;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-test-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  BOOST_REQUIRE(f.good());
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Polls `done` every 50 ms until it is true or `timeout` passed.
// A loopback port the kernel chose, closed again: nothing listens on it
// when this returns (a server started on it may still lose a race for it).
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A listening socket on 127.0.0.1 (port 0: the kernel picks one). It
// accepts in the kernel's backlog and never answers.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(int want_port = 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(want_port));
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(listen(fd, 512) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener() { close(fd); }
};

inline bool wait_for(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

// A child process with optional stdin/stdout pipes; killed on destruction.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept { *this = std::move(o); }
  Child& operator=(Child&& o) noexcept {
    std::swap(pid_, o.pid_);
    std::swap(in_, o.in_);
    std::swap(out_, o.out_);
    std::swap(status_, o.status_);
    return *this;
  }
  ~Child() {
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
    if (in_ >= 0) close(in_);
    if (out_ >= 0) close(out_);
  }

  // argv[0] is a path. `env` entries are added to (or replace) this
  // process's environment. stderr goes to `stderr_path` when given.
  static Child start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                     const std::string& stderr_path = "", bool pipes = false) {
    std::map<std::string, std::string> merged;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string s(*e);
      auto eq = s.find('=');
      if (eq != std::string::npos) merged[s.substr(0, eq)] = s.substr(eq + 1);
    }
    for (const auto& [k, v] : env) {
      if (v.empty()) {
        merged.erase(k);
      } else {
        merged[k] = v;
      }
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& s : argv_copy) args.push_back(s.data());
    args.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    if (pipes) {
      BOOST_REQUIRE(pipe2(in_pipe, O_CLOEXEC) == 0);
      BOOST_REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
      posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
      posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    }
    if (!stderr_path.empty()) {
      posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    Child c;
    int r = posix_spawn(&c.pid_, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    BOOST_REQUIRE_MESSAGE(r == 0, "cannot start " << argv[0] << ": " << std::strerror(r));
    if (pipes) {
      close(in_pipe[0]);
      close(out_pipe[1]);
      c.in_ = in_pipe[1];
      c.out_ = out_pipe[0];
    }
    return c;
  }

  pid_t pid() const { return pid_; }

  void send_line(const std::string& line) {
    std::string l = line + "\n";
    BOOST_REQUIRE(::write(in_, l.data(), l.size()) == static_cast<ssize_t>(l.size()));
  }
  // Reads one line from the child's stdout, waiting at most `timeout`.
  std::string read_line(std::chrono::milliseconds timeout = 10s) {
    std::string line;
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      char c;
      fd_set set;
      FD_ZERO(&set);
      FD_SET(out_, &set);
      timeval tv{0, 50'000};
      if (select(out_ + 1, &set, nullptr, nullptr, &tv) <= 0) continue;
      if (::read(out_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    BOOST_FAIL("no line from child " << pid_ << " within the timeout (got \"" << line << "\")");
    return line;
  }

  void signal(int sig) { ::kill(pid_, sig); }

  // The exit status (as from waitpid) if the child ended within `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (status_ >= 0) return status_;
    auto deadline = Clock::now() + timeout;
    do {
      int st;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = st;
        return st;
      }
      std::this_thread::sleep_for(10ms);
    } while (Clock::now() < deadline);
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int status_ = -1;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (at most 30 s) and captures its output.
inline RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {}) {
  TempDir tmp;
  std::string out_path = tmp / "out", err_path = tmp / "err";
  std::vector<std::string> sh = {"/bin/sh", "-c", "exec \"$@\" >" + out_path + " 2>" + err_path, "sh"};
  sh.insert(sh.end(), argv.begin(), argv.end());
  Child c = Child::start(sh, env);
  auto st = c.wait(30s);
  BOOST_REQUIRE_MESSAGE(st.has_value(), "command did not finish in 30 s: " << argv[0]);
  RunResult r;
  r.exit_code = WIFEXITED(*st) ? WEXITSTATUS(*st) : 128 + WTERMSIG(*st);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

// utime+stime of /proc/PID/stat, in seconds (10 ms ticks).
inline double tick_cpu_seconds(pid_t pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto after = stat.rfind(')');
  std::istringstream in(stat.substr(after + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU time of a process in seconds: the scheduler's own count of the
// nanoseconds each of its threads ran (/proc/PID/task/*/schedstat), which
// is exact, unlike utime+stime (sampled at each 10 ms tick: at 0.3 % of a
// core a 20 s window is six ticks, so one tick more or less moved a
// benchmark's figure by 17 %). A thread that exited between two readings
// is missing from the second; the benchmarks' daemons keep theirs. Without
// schedstat, utime+stime.
inline double cpu_seconds(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  unsigned long long ns = 0;
  bool read_any = false;
  for (const auto& t : fs::directory_iterator(tasks, ec)) {
    std::istringstream in(slurp(t.path() / "schedstat"));
    unsigned long long on_cpu = 0;
    if (in >> on_cpu) {
      ns += on_cpu;
      read_any = true;
    }
  }
  if (read_any) return static_cast<double>(ns) / 1e9;
  return tick_cpu_seconds(pid);
}

// A "Key:  123 kB" field of /proc/PID/status (VmHWM, VmRSS), in KiB; 0 when absent.
inline double status_kib(pid_t pid, const std::string& key) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1));
  }
  return 0;
}

// One vigil-test-httpd on a kernel-chosen loopback port, stopped on destruction.
struct Httpd {
  TempDir dir;
  Child child;
  int port = 0;

  explicit Httpd(const std::vector<std::string>& extra_args = {}) {
    std::string port_file = dir / "port";
    std::vector<std::string> argv = {env_path("VIGIL_TEST_HTTPD"), "--port-file", port_file};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    // Its stdout ("port N") goes to a pipe that nobody reads: the port file is what counts.
    child = Child::start(argv, {}, dir / "httpd.log", true);
    BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return fs::exists(port_file); }),
                          "the test server wrote no port file: " << slurp(dir / "httpd.log"));
    port = std::stoi(slurp(port_file));
    BOOST_REQUIRE(port > 0);
  }
  ~Httpd() {
    child.signal(SIGTERM);
    child.wait(2s);  // the Child's destructor kills it if it did not stop
  }

  std::string url(const std::string& path, const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port) + path;
  }
};

// The whole answer to GET `path` on 127.0.0.1:`port`, or nullopt when there
// is none within `timeout` (refused, or a hung server that accepts in the
// kernel's backlog and never answers). Unlike harness::http_request, no
// answer is an expected outcome (a hung service), not a failed test.
inline std::optional<std::string> http_get(int port, const std::string& path, std::chrono::milliseconds timeout = 1s) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[1024];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  if (answer.size() < 12 || answer.compare(0, 5, "HTTP/") != 0) return std::nullopt;
  return answer;
}

// Sends one raw HTTP/1.1 request with "Connection: close" and returns the whole answer.
inline std::string http_request(int port, const std::string& method, const std::string& target) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  BOOST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  BOOST_REQUIRE(::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return answer;
}

// A vigild with its own state dir and config, and the vigil CLI against it.
// A target for checks that only need one to be labelled by (a check names
// a configured target): PID 1, which is always there.
inline std::string stand_in_target(const std::string& name) {
  return "[[target]]\nname = \"" + name + "\"\npid = 1\n";
}

struct Vigil {
  TempDir dir;
  std::string config_path;
  std::string log_path;
  Child daemon;

  explicit Vigil(const std::string& extra_config, const std::string& daemon_section = "") {
    config_path = dir / "vigil.toml";
    log_path = dir / "vigild.log";
    write_file(config_path, "[daemon]\ninterval = \"1s\"\nflush_interval = \"500ms\"\nstate_dir = \"" +
                                dir.path.string() + "/state\"\n" + daemon_section + "\n" + extra_config);
  }

  std::string db() const { return dir.path.string() + "/state/vigil.db"; }

  void start(const std::map<std::string, std::string>& env = {}) {
    daemon = Child::start({env_path("VIGILD"), "--config", config_path}, env, log_path);
  }

  // Sends SIGTERM and returns the exit status (nullopt if still running after `timeout`).
  std::optional<int> stop(std::chrono::milliseconds timeout = 5s) {
    daemon.signal(SIGTERM);
    return daemon.wait(timeout);
  }

  RunResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), env_path("VIGIL"));
    args.push_back("--db");
    args.push_back(db());
    return run(args);
  }

  nlohmann::json cli_json(std::vector<std::string> args) {
    args.push_back("--format");
    args.push_back("json");
    RunResult r = cli(args);
    if (r.exit_code != 0 && r.exit_code != 1) return nlohmann::json();
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j;
  }

  // Values of `metric` for `target` over the last `since`, oldest first.
  std::vector<double> values(const std::string& metric, const std::string& target, const std::string& since = "10m") {
    std::vector<double> out;
    auto j = cli_json({"query", metric, "--target", target, "--since", since});
    if (!j.is_array()) return out;
    for (const auto& s : j) {
      for (const auto& p : s["points"]) out.push_back(p["value"].get<double>());
    }
    return out;
  }

  std::vector<nlohmann::json> events(const std::string& kind) {
    std::vector<nlohmann::json> out;
    auto j = cli_json({"events", "--kind", kind, "--since", "1h"});
    if (j.is_array()) {
      for (const auto& e : j) out.push_back(e);
    }
    return out;
  }

  std::string log() const { return slurp(log_path); }
};

// The events of `kind` recorded for `target`.
inline std::vector<nlohmann::json> target_events(Vigil& v, const std::string& kind, const std::string& target) {
  std::vector<nlohmann::json> out;
  for (auto& e : v.events(kind)) {
    if (e.value("target", "") == target) out.push_back(std::move(e));
  }
  return out;
}

// The newest incident of `target` (vigil incidents --target), or null.
inline nlohmann::json incident_of(Vigil& v, const std::string& target) {
  nlohmann::json all = v.cli_json({"incidents", "--target", target});
  nlohmann::json newest;
  if (!all.is_array()) return newest;
  for (const auto& i : all) {
    if (newest.is_null() || i["id"].get<long long>() > newest["id"].get<long long>()) newest = i;
  }
  return newest;
}

// A v1 memory cgroup of its own ("/vigil-test-PID-N" under
// /sys/fs/cgroup/memory) with a memory limit (and no swap), removed at the
// end, after the processes in it were killed: declare it first. Cases that
// make one carry a requirement label (root and a writable v1 memory
// hierarchy; see memory_cgroup_problem()).
struct MemoryCgroup {
  std::string name;  // "/vigil-test-...": a target's `cgroup`
  std::string dir;
  explicit MemoryCgroup(const std::string& limit) {
    static int made = 0;
    name = "/vigil-test-" + std::to_string(getpid()) + "-" + std::to_string(++made);
    dir = "/sys/fs/cgroup/memory" + name;
    BOOST_REQUIRE_MESSAGE(::mkdir(dir.c_str(), 0755) == 0, "mkdir " << dir << ": " << std::strerror(errno));
    std::ofstream file(dir + "/memory.limit_in_bytes");
    file << limit << "\n";
    file.close();
    if (!file.good()) {
      ::rmdir(dir.c_str());  // the destructor does not run for a failed constructor
      BOOST_FAIL("cannot set " << dir << "/memory.limit_in_bytes");
    }
    // Without swap the limit is reached at once; these files may be
    // missing (no swap accounting) or read-only: then the limit alone holds.
    if (fs::exists(dir + "/memory.memsw.limit_in_bytes")) {
      std::ofstream(dir + "/memory.memsw.limit_in_bytes") << limit << "\n";
    }
    std::ofstream(dir + "/memory.swappiness") << "0\n";
  }
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;
  ~MemoryCgroup() {
    // The kernel refuses rmdir until the last task left (EBUSY for a moment).
    wait_for(std::chrono::seconds(5), [&] { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT; });
  }
  // Moves a process in.
  void add(int pid) const {
    std::ofstream procs(dir + "/cgroup.procs");
    procs << pid << "\n";
    procs.close();
    BOOST_REQUIRE_MESSAGE(procs.good(), "cannot move " << pid << " into " << dir);
  }
};

// Why a MemoryCgroup cannot be made here, or nullopt.
inline std::optional<std::string> memory_cgroup_problem() {
  const char* root = "/sys/fs/cgroup/memory";
  if (fs::exists(std::string(root) + "/cgroup.procs") && ::access(root, W_OK) == 0) return std::nullopt;
  return std::string(root) + " is not a writable cgroup v1 memory hierarchy (needs root and cgroup v1 memory)";
}

}  // namespace harness
