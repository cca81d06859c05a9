// tests/integration/nspawn.hpp: a Debian container booting systemd, for the
// integration tests that need a real systemd as PID 1 (this host's PID 1 is
// not systemd).
//
// The container boots from the rootfs that tests/nspawn/rootfs.sh builds once
// and caches (/var/cache/vigil-tests/bookworm-systemd, or VIGIL_NSPAWN_ROOTFS).
// It shares the host's network namespace, so the test reaches services inside
// on 127.0.0.1 and the other way round. Commands run inside through
// `nsenter -t <container PID 1> -a`: machinectl and `systemd-run -M` do not
// work from this host (PLATFORM.md).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <optional>

#include "tests/integration/harness.hpp"

namespace harness {

// Runs `argv` with stdin from `stdin_path`, stdout and stderr captured.
// nullopt when it did not finish within `timeout` (it is killed then).
inline std::optional<RunResult> run_with_deadline(const std::vector<std::string>& argv,
                                                  std::chrono::milliseconds timeout,
                                                  const std::string& stdin_path = "/dev/null") {
  TempDir tmp;
  std::string out_path = tmp / "out", err_path = tmp / "err";
  std::vector<std::string> sh = {
      "/bin/sh", "-c",    "in=$1 out=$2 err=$3; shift 3; exec \"$@\" <\"$in\" >\"$out\" 2>\"$err\"", "sh", stdin_path,
      out_path,  err_path};
  sh.insert(sh.end(), argv.begin(), argv.end());
  Child c = Child::start(sh);
  auto st = c.wait(timeout);
  if (!st) return std::nullopt;  // ~Child kills it
  RunResult r;
  r.exit_code = WIFEXITED(*st) ? WEXITSTATUS(*st) : 128 + WTERMSIG(*st);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

// The last `max_lines` lines of `text`.
inline std::string tail_lines(const std::string& text, std::size_t max_lines) {
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (std::size_t n = 0; n < max_lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? text : text.substr(pos + 1);
}

// `s` without leading and trailing whitespace (a command's output line).
inline std::string trimmed(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

inline std::optional<std::string> find_in_path(const std::string& name) {
  for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    fs::path p = fs::path(dir) / name;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return std::nullopt;
}

class Container {
 public:
  static constexpr auto kBootTimeout = std::chrono::seconds(60);

  Container() = default;
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  ~Container() { poweroff(); }

  // Why containers cannot run here, or nullopt when they can: not root, the
  // rootfs could not be built (rootfs.sh's reason and the tail of its
  // stderr), systemd-nspawn or nsenter missing. Runs rootfs.sh once per
  // process; the first build on a machine takes about 2 minutes, later calls
  // about a second (it then only installs libraries that new builds of the
  // binaries in VIGILD, VIGIL and VIGIL_TEST_SVC link).
  static std::optional<std::string> unavailable() { return probe().reason; }

  // The cached rootfs (valid when unavailable() is nullopt).
  static std::string rootfs() { return probe().rootfs; }

  // Boots systemd in a fresh container and waits until
  // `systemctl is-system-running` says running or degraded. Fails the test
  // (with the container's console output) when it does not within `timeout`.
  //
  // The rootfs is mounted with --volatile=overlay: the cached tree is the
  // read-only lower layer and every write (units in /etc/systemd/system,
  // binaries in /usr/local) goes to a tmpfs that vanishes with the container.
  // Measured here: the boot takes about 1 s and needs nothing afterwards;
  // a private copy (cp -a of the 245 MB tree; ext4 has no reflinks) adds
  // 1-4 s per boot plus its removal, and a host-side overlay mount would be
  // left behind by a test that is killed. The host writes into the container
  // through nsenter (copy_in), never through /proc/PID/root, where absolute
  // symlinks of the container would resolve on the host.
  void boot(std::chrono::seconds timeout = kBootTimeout) {
    BOOST_REQUIRE_MESSAGE(!booted_, "Container::boot called twice");
    auto reason = unavailable();
    BOOST_REQUIRE_MESSAGE(!reason, "containers cannot run here: " << reason.value_or(""));
    static std::atomic<int> serial{0};
    machine_ = "vigil-test-" + std::to_string(getpid()) + "-" + std::to_string(serial++);
    console_path_ = dir_ / "console.log";
    auto started = Clock::now();
    // setsid: meson's kill of the test's process group on a timeout does not
    // reach systemd-nspawn; --pdeathsig: when the test dies anyway,
    // systemd-nspawn gets SIGTERM and shuts the container down in order
    // instead of leaving its systemd running (and holding ports).
    // --console=read-only: the console goes to the log, never to the terminal
    // a developer runs the test from. --keep-unit: there is no host systemd
    // to make a scope (PLATFORM.md).
    std::vector<std::string> argv = {"/bin/sh",
                                     "-c",
                                     "log=$1; shift; exec \"$@\" </dev/null >\"$log\" 2>&1",
                                     "sh",
                                     console_path_,
                                     "setsid",
                                     "setpriv",
                                     "--pdeathsig",
                                     "TERM",
                                     "--",
                                     "systemd-nspawn",
                                     "--directory=" + rootfs(),
                                     "--machine=" + machine_,
                                     "--boot",
                                     "--register=no",
                                     "--keep-unit",
                                     "--volatile=overlay",
                                     "--console=read-only"};
    nspawn_ = Child::start(argv);
    booted_ = true;

    std::string state;
    bool up = wait_for(timeout, [&] {
      if (nspawn_.wait(0ms)) return true;  // exited: reported below
      if (leader_ <= 0) leader_ = find_leader(nspawn_.pid());
      if (leader_ <= 0) return false;
      auto r = run_with_deadline(nsenter({"systemctl", "is-system-running"}), 5s);
      state = r ? trimmed(r->out) : "(systemctl did not answer in 5 s)";
      return state == "running" || state == "degraded";
    });
    BOOST_REQUIRE_MESSAGE(!nspawn_.wait(0ms), "systemd-nspawn exited while booting " << machine_ << "; console:\n"
                                                                                     << tail_lines(console(), 40));
    BOOST_REQUIRE_MESSAGE(up, "container " << machine_ << " was not up within " << timeout.count()
                                           << " s (systemctl is-system-running: \"" << state
                                           << "\", container PID 1 on the host: " << leader_ << "); console:\n"
                                           << tail_lines(console(), 40));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    BOOST_TEST_MESSAGE("container " << machine_ << " up (" << state << ") in " << ms
                                    << " ms, PID 1 on the host: " << leader_);
    if (state == "degraded") {
      // Run before logging: a Boost check inside a BOOST_TEST_MESSAGE expression swallows the message.
      std::string failed = run({"systemctl", "--failed", "--no-pager"}).out;
      BOOST_TEST_MESSAGE("failed units:\n" << failed);
    }
  }

  // The container's PID 1 as the host sees it.
  pid_t leader() const { return leader_; }
  const std::string& machine() const { return machine_; }

  // Runs `argv` inside the container (all its namespaces and its root) with a
  // clean environment; fails the test if it does not finish within `timeout`.
  RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 30s) {
    return run_in(argv, timeout, "/dev/null");
  }

  // Copies a host file to `container_path` (parent directories created, the
  // host file's mode kept). Writes beside the target and renames, so it may
  // replace a binary that is running.
  void copy_in(const std::string& host_path, const std::string& container_path) {
    struct stat st {};
    BOOST_REQUIRE_MESSAGE(::stat(host_path.c_str(), &st) == 0,
                          "cannot copy " << host_path << " into the container: " << std::strerror(errno));
    char mode[8];
    std::snprintf(mode, sizeof mode, "%o", st.st_mode & 07777);
    RunResult r = run_in({"/bin/sh", "-c",
                          "set -e; mkdir -p -- \"$(dirname -- \"$1\")\"; cat >\"$1.vigil-new\"; "
                          "chmod \"$2\" \"$1.vigil-new\"; mv -f -- \"$1.vigil-new\" \"$1\"",
                          "sh", container_path, mode},
                         60s, host_path);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "copying " << host_path << " to " << container_path << " in " << machine_
                                                       << " failed (exit " << r.exit_code << "): " << r.err);
  }

  // Writes `text` to `container_path` (parent directories created).
  void write_file(const std::string& container_path, const std::string& text, mode_t mode = 0644) {
    std::string staged = dir_ / "staged";
    harness::write_file(staged, text);
    BOOST_REQUIRE(::chmod(staged.c_str(), mode) == 0);
    copy_in(staged, container_path);
  }

  // What the container wrote to its console so far (systemd's boot and
  // shutdown messages, nspawn's own errors).
  std::string console() const { return console_path_.empty() ? "" : slurp(console_path_); }

  // Shuts the container down: systemd's poweroff (SIGRTMIN+4 to its PID 1,
  // what machinectl poweroff sends), then SIGTERM to systemd-nspawn, then
  // SIGKILL to both; killing PID 1 of the container's PID namespace takes
  // every process inside with it. Never fails: it runs from the destructor.
  void poweroff() noexcept {
    if (!booted_) return;
    booted_ = false;
    if (leader_ > 0) ::kill(leader_, SIGRTMIN + 4);
    if (nspawn_.wait(20s)) return;
    nspawn_.signal(SIGTERM);
    if (nspawn_.wait(5s)) return;
    if (leader_ > 0) ::kill(leader_, SIGKILL);
    nspawn_.signal(SIGKILL);
    nspawn_.wait(5s);
  }

 private:
  struct Probe {
    std::optional<std::string> reason;
    std::string rootfs;
  };

  static const Probe& probe() {
    static const Probe p = make_probe();
    return p;
  }

  static Probe make_probe() {
    Probe p;
    if (geteuid() != 0) {
      p.reason = "needs root for systemd-nspawn and nsenter (running as uid " + std::to_string(geteuid()) + ")";
      return p;
    }
    const char* src = std::getenv("VIGIL_SOURCE_ROOT");
    if (src == nullptr || *src == '\0') {
      p.reason = "VIGIL_SOURCE_ROOT is not set (run through meson test): cannot find tests/nspawn/rootfs.sh";
      return p;
    }
    std::string script = (fs::path(src) / "tests" / "nspawn" / "rootfs.sh").string();
    const char* cache = std::getenv("VIGIL_NSPAWN_ROOTFS");
    std::vector<std::string> argv = {"/bin/bash", script, cache != nullptr ? cache : ""};
    // The binaries the tests copy in: their libraries must be in the rootfs.
    for (const char* var : {"VIGILD", "VIGIL", "VIGIL_TEST_SVC"}) {
      const char* v = std::getenv(var);
      if (v != nullptr && *v != '\0') argv.emplace_back(v);
    }
    auto r = run_with_deadline(argv, std::chrono::minutes(10));
    if (!r) {
      p.reason = script + " did not finish within 10 minutes";
      return p;
    }
    if (r->exit_code != 0) {
      p.reason = script + " failed (exit " + std::to_string(r->exit_code) + "):\n" + tail_lines(r->err, 15);
      return p;
    }
    p.rootfs = trimmed(r->out);
    if (!fs::is_directory(p.rootfs + "/usr/lib/systemd")) {
      p.reason = script + " printed \"" + p.rootfs + "\", which holds no systemd";
      return p;
    }
    for (const char* tool : {"systemd-nspawn", "nsenter", "setpriv", "setsid"}) {
      if (!find_in_path(tool)) {
        p.reason = std::string(tool) + " is not installed (apt install systemd-container util-linux)";
        return p;
      }
    }
    return p;
  }

  // The container's PID 1: the child of systemd-nspawn that lives in another
  // PID namespace (nspawn's short-lived helper child stays in ours).
  static pid_t find_leader(pid_t nspawn) {
    std::error_code ec;
    std::string own_ns = fs::read_symlink("/proc/self/ns/pid", ec).string();
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string stat = slurp(entry.path().string() + "/stat");
      auto paren = stat.rfind(')');
      if (paren == std::string::npos) continue;
      std::istringstream in(stat.substr(paren + 1));
      std::string state;
      pid_t ppid = 0;
      in >> state >> ppid;
      if (ppid != nspawn) continue;
      std::error_code ns_ec;
      std::string ns = fs::read_symlink(entry.path() / "ns" / "pid", ns_ec).string();
      if (!ns_ec && ns != own_ns) return std::stoi(name);
    }
    return 0;
  }

  // nsenter into every namespace of the container, then a clean environment:
  // the test's own variables (VIGIL_*, PATH of the build) must not leak in.
  std::vector<std::string> nsenter(const std::vector<std::string>& argv) const {
    std::vector<std::string> full = {"nsenter",
                                     "--target",
                                     std::to_string(leader_),
                                     "--all",
                                     "--",
                                     "/usr/bin/env",
                                     "-i",
                                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                     "LANG=C.UTF-8",
                                     "SYSTEMD_COLORS=0",
                                     "SYSTEMD_PAGER=",
                                     "TERM=dumb"};
    full.insert(full.end(), argv.begin(), argv.end());
    return full;
  }

  RunResult run_in(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                   const std::string& stdin_path) {
    BOOST_REQUIRE_MESSAGE(booted_ && leader_ > 0, "the container is not booted");
    auto r = run_with_deadline(nsenter(argv), timeout, stdin_path);
    BOOST_REQUIRE_MESSAGE(r.has_value(), "command did not finish within "
                                             << std::chrono::duration_cast<std::chrono::seconds>(timeout).count()
                                             << " s in " << machine_ << ": " << argv.front());
    return *r;
  }

  TempDir dir_;
  Child nspawn_;
  pid_t leader_ = 0;
  bool booted_ = false;
  std::string machine_;
  std::string console_path_;
};

}  // namespace harness
