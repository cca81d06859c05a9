// vigil-test-svc: the service that Vigil's remediation tests watch and then break on purpose.
// Integration tests start it directly, as a vigild `start = [argv]` target, or as a systemd unit
// inside a minimal container, so it depends on nothing beyond libc and libstdc++.
//
//   vigil-test-svc --port N [--host ADDR] [--ready-file PATH] [--max-fds N] [--fail-start CODE]
//                  [--start-delay MS] [--exit-after MS] [--ignore-term] [--state-file PATH]
//
// Start-up, in this order: --state-file is opened (appended to) and gets "start PID";
// --fail-start CODE prints why on stderr and exits CODE at once (a service that fails every
// start); --max-fds N lowers the RLIMIT_NOFILE soft limit to N (at least 10) so that an fd leak
// reaches it quickly; --start-delay MS waits that long (a slow start; SIGTERM still ends it);
// then it listens on ADDR:N (a numeric IPv4 or IPv6 address, default 127.0.0.1; port 0 asks the
// kernel for one) with SO_REUSEADDR, so that a restarted instance binds at once. Once listening
// it writes "PID PORT\n" to the --ready-file (with --exit-after MS it exits 1 that long
// after it listens, appending "exit-after" to the state file: a crash loop), (PATH.tmp, then rename: a reader never
// sees half a file), prints "vigil-test-svc pid P listening on HOST:PORT" on stdout (flushed: vigild keeps that log for
// the targets it starts) and appends "ready PORT" to the state file.
//
// One thread, one poll() loop. HTTP/1.0 style: the request head is read (partial reads are
// fine, headers are ignored, a body is not read), the answer carries "Connection: close" and the
// connection is closed after it. Any method; HEAD gets no body. Query values are not decoded.
//   /health                    200 "ok\n", or 503 "unhealthy\n" after /control/unhealthy
//   /stats                     200 {"pid":P,"usr1":N,"leaked_mib":N,"fds":N,"hung":false,
//                              "healthy":B}; fds is the open descriptor count (null if unknown)
//   /control/unhealthy         200; /health answers 503 from now on
//   /control/healthy           200; /health answers 200 again
//   /control/leak?mib=N[&rate=R]
//                              allocates N MiB and touches every page (resident, not just
//                              reserved), at once before answering, or at R MiB/s (R may be a
//                              decimal) after answering; never freed. A paced leak that arrives
//                              while one is running adds its MiB and sets the new rate.
//   /control/hang[?spin=1]     200 "hanging\n", then never answers again: stops calling accept()
//                              (connections pile up in the backlog and time out); sleeps, or with
//                              spin=1 busy-loops on one CPU. Signals still work as below.
//   /control/fds               200, then opens /dev/null until open() fails (EMFILE) and keeps
//                              every descriptor. accept() then fails with EMFILE too: the
//                              listener is left out of poll() and retried every 500 ms instead
//                              of spinning on it, so health requests time out at ~0% CPU.
//   /control/exit?code=N       200, then exit(N) (0..255)
//   /control/signal?sig=S      200, then raise(S), S one of SEGV, ABRT, KILL, STOP (case and a SIG
//                              prefix do not matter); core dumps are disabled first
//   /control/oom               200, then allocates and touches 1 MiB after another, with no
//                              limit, until the kernel kills it (tests run it in a memory cgroup)
//   anything else              404 "not found\n"; a malformed request line gets 400
//
// Signals: SIGUSR1 is counted (/stats "usr1"); SIGTERM exits 0 promptly, also while hung or
// leaking, unless --ignore-term, which ignores it (tests then expect SIGKILL after the stop
// timeout); SIGPIPE is ignored.
//
// State file: one line per event, appended with one write(2) each, so tests can see what
// happened even after the process died:
//   start PID | fail-start CODE | ready PORT | usr1 | term | unhealthy | healthy |
//   leak N [rate R] | leak-failed | hang [spin] | fds | fds-full OPENED ERRNO_TEXT | exit N |
//   signal SEGV|ABRT|KILL|STOP | oom
// Requests that change nothing (/health, /stats, 404s) are not logged: a watchdog polls them.
//
// Bad arguments: a message naming the argument on stderr, exit 2. An environment failure at
// start (cannot open the state file, bind, write the ready file): a message, exit 1.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kProgram = "vigil-test-svc";
constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::size_t kMaxHeadBytes = 8 * 1024;
// A client that connects and never finishes its request must not hold a descriptor forever.
constexpr auto kIdleTimeout = std::chrono::seconds(10);
constexpr auto kAcceptRetry = milliseconds(500);
constexpr auto kSendTimeout = milliseconds(1000);
constexpr std::uint64_t kMaxStartDelayMs = 24ULL * 3600 * 1000;
// stdin/out/err, the signal pipe (2), the state file, the listener, the ready file's temporary,
// one connection and the /proc/self/fd directory that /stats reads.
constexpr std::uint64_t kMinFds = 10;
// Far beyond any test, and small enough that N * kMiB cannot overflow.
constexpr std::uint64_t kMaxLeakMib = 1ULL << 30;

// ---- Descriptors ---------------------------------------------------------------------------

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(int err) {
  return std::strerror(err);
}

// ---- Signals -------------------------------------------------------------------------------

// The handlers only count and wake the loop through a self-pipe; everything else (logging,
// exiting) happens in the main loop, where it is safe.
std::atomic<unsigned> g_usr1_count{0};
volatile std::sig_atomic_t g_term = 0;
int g_wake_write_fd = -1;

static_assert(std::atomic<unsigned>::is_always_lock_free, "the SIGUSR1 counter must be lock-free");

void wake_loop() {
  const int saved = errno;
  const char byte = 1;
  // A full pipe already guarantees a wake-up; the failed write is harmless.
  [[maybe_unused]] const ssize_t w = ::write(g_wake_write_fd, &byte, 1);
  errno = saved;
}

void on_usr1(int) {
  g_usr1_count.fetch_add(1, std::memory_order_relaxed);
  wake_loop();
}

void on_term(int) {
  g_term = 1;
  wake_loop();
}

void set_handler(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a signal interrupts poll() and the loop looks at the flags at once.
  ::sigaction(sig, &sa, nullptr);
}

// ---- Arguments -----------------------------------------------------------------------------

struct Options {
  std::uint16_t port = 0;
  std::string host = "127.0.0.1";
  std::string ready_file;
  std::optional<std::uint64_t> max_fds;
  std::optional<int> fail_start;
  milliseconds start_delay{0};
  std::optional<milliseconds> exit_after;
  bool ignore_term = false;
  std::string state_file;
};

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_positive_double(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

bool is_numeric_host(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

constexpr std::string_view kUsage =
    "usage: vigil-test-svc --port N [--host ADDR] [--ready-file PATH] [--max-fds N] [--fail-start CODE]\n"
    "                      [--start-delay MS] [--exit-after MS] [--ignore-term] [--state-file PATH]\n";

// Parses argv into `out`; on a bad argument returns the message that names it.
std::optional<std::string> parse_args(int argc, char** argv, Options& out) {
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--ignore-term") {
      out.ignore_term = true;
      continue;
    }
    const bool takes_value = flag == "--port" || flag == "--host" || flag == "--ready-file" || flag == "--max-fds" ||
                             flag == "--fail-start" || flag == "--start-delay" || flag == "--exit-after" ||
                             flag == "--state-file";
    if (!takes_value) return "unknown argument '" + std::string(flag) + "'";
    if (i + 1 >= argc) return std::string(flag) + " needs a value";
    const std::string_view value = argv[++i];
    const std::optional<std::uint64_t> number = parse_u64(value);
    if (flag == "--port") {
      if (!number || *number > 65535) return "--port '" + std::string(value) + "' is not a port number (0..65535)";
      out.port = static_cast<std::uint16_t>(*number);
      have_port = true;
    } else if (flag == "--host") {
      out.host = value;
      if (!is_numeric_host(out.host)) {
        return "--host '" + out.host + "' is not a numeric IPv4 or IPv6 address (e.g. 127.0.0.1, ::1)";
      }
    } else if (flag == "--ready-file") {
      if (value.empty()) return "--ready-file needs a path";
      out.ready_file = value;
    } else if (flag == "--state-file") {
      if (value.empty()) return "--state-file needs a path";
      out.state_file = value;
    } else if (flag == "--max-fds") {
      if (!number || *number < kMinFds) {
        return "--max-fds '" + std::string(value) + "' is not a number of at least " + std::to_string(kMinFds) +
               " (the descriptors the service needs itself)";
      }
      out.max_fds = *number;
    } else if (flag == "--fail-start") {
      if (!number || *number > 255) return "--fail-start '" + std::string(value) + "' is not an exit code (0..255)";
      out.fail_start = static_cast<int>(*number);
    } else if (flag == "--start-delay") {
      if (!number || *number > kMaxStartDelayMs) {
        return "--start-delay '" + std::string(value) + "' is not a number of milliseconds (0.." +
               std::to_string(kMaxStartDelayMs) + ")";
      }
      out.start_delay = milliseconds(*number);
    } else if (flag == "--exit-after") {
      if (!number || *number > kMaxStartDelayMs) {
        return "--exit-after '" + std::string(value) + "' is not a number of milliseconds (0.." +
               std::to_string(kMaxStartDelayMs) + ")";
      }
      out.exit_after = milliseconds(*number);
    }
  }
  if (!have_port) return "--port is required (0 for a port chosen by the kernel)";
  return std::nullopt;
}

// ---- State file ----------------------------------------------------------------------------

// Opened once at start: after /control/fds no new descriptor can be had, and the lines that
// follow (a signal, "term") are the ones tests look for.
class StateLog {
 public:
  bool open(const std::string& path) {
    if (path.empty()) return true;
    fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    return fd_.valid();
  }

  // One write(2) per line: with O_APPEND, lines from several instances never interleave.
  void line(std::string_view text) const {
    if (!fd_.valid()) return;
    std::string buf(text);
    buf += '\n';
    [[maybe_unused]] const ssize_t w = ::write(fd_.get(), buf.data(), buf.size());
  }

 private:
  UniqueFd fd_;
};

// ---- HTTP ----------------------------------------------------------------------------------

struct Request {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;

  std::optional<std::string_view> param(std::string_view key) const {
    for (const auto& [k, v] : query) {
      if (k == key) return std::string_view(v);
    }
    return std::nullopt;
  }
};

// The end of the request head ("\r\n\r\n" or, from hand-typed clients, "\n\n"), or npos.
std::size_t head_end(std::string_view buf) {
  const std::size_t crlf = buf.find("\r\n\r\n");
  const std::size_t lf = buf.find("\n\n");
  return std::min(crlf, lf);
}

// "METHOD TARGET [VERSION]" from the first line of the head; nullopt if malformed.
std::optional<Request> parse_request_line(std::string_view head) {
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos) return std::nullopt;
  std::string_view target = line.substr(sp1 + 1);
  target = target.substr(0, target.find(' '));
  if (target.empty() || target.front() != '/') return std::nullopt;

  Request req;
  req.method = line.substr(0, sp1);
  const std::size_t q = target.find('?');
  req.path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    if (!part.empty()) {
      const std::size_t eq = part.find('=');
      req.query.emplace_back(std::string(part.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : std::string(part.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return req;
}

struct Response {
  int status = 200;
  std::string body;
  std::string_view content_type = "text/plain";
};

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// Sends all of `data` on a non-blocking socket, waiting at most kSendTimeout for room. The
// answers are small, so this normally is a single send().
void send_all(int fd, std::string_view data) {
  const auto deadline = Clock::now() + kSendTimeout;
  while (!data.empty()) {
    const ssize_t w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w > 0) {
      data.remove_prefix(static_cast<std::size_t>(w));
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return;
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left));
      continue;
    }
    return;  // the client left: nobody to answer
  }
}

void send_response(int fd, const Request* req, const Response& r) {
  std::string out = "HTTP/1.0 " + std::to_string(r.status) + " " + std::string(reason_phrase(r.status)) +
                    "\r\nContent-Type: " + std::string(r.content_type) +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n";
  if (req == nullptr || req->method != "HEAD") out += r.body;
  send_all(fd, out);
  // FIN after the answer; the whole head was read, so closing does not reset the connection.
  ::shutdown(fd, SHUT_WR);
}

// ---- Process facts -------------------------------------------------------------------------

// Open descriptors of this process, without the one used to count them; nullopt when even that
// one cannot be had (after /control/fds).
std::optional<std::size_t> open_fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  const std::string own = std::to_string(::dirfd(dir));
  std::size_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != ".." && name != own) ++n;
  }
  ::closedir(dir);
  return n;
}

struct SignalName {
  int number;
  std::string_view name;
};

// SEGV, ABRT, KILL or STOP (a hang that ignores everything but SIGKILL and
// SIGCONT), in any case, with or without the SIG prefix.
std::optional<SignalName> parse_signal_name(std::string_view s) {
  std::string upper;
  for (char c : s) upper += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  std::string_view name = upper;
  if (name.substr(0, 3) == "SIG") name.remove_prefix(3);
  for (const SignalName known : {SignalName{SIGSEGV, "SEGV"}, SignalName{SIGABRT, "ABRT"}, SignalName{SIGKILL, "KILL"},
                                 SignalName{SIGSTOP, "STOP"}}) {
    if (name == known.name) return known;
  }
  return std::nullopt;
}

// ---- The service ---------------------------------------------------------------------------

// What the loop does once the answer is out and the connection closed.
enum class After { nothing, hang_idle, hang_spin, fill_fds, exit, raise_signal, oom };

struct Outcome {
  Response response;
  After after = After::nothing;
  int arg = 0;  // exit code or signal number
};

struct Connection {
  UniqueFd fd;
  std::string head;
  Clock::time_point deadline;
};

class Service {
 public:
  Service(Options opts, StateLog& log, UniqueFd wake_read)
      : opts_(std::move(opts)), log_(log), wake_read_(std::move(wake_read)) {}

  // Sleeps for --start-delay while still obeying signals.
  void delay_start() {
    const auto until = Clock::now() + opts_.start_delay;
    for (;;) {
      handle_signals();
      const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
      if (left <= 0) return;
      wait_for_wake(static_cast<int>(std::min<long long>(left, 1000)));
    }
  }

  // Returns the exit status for main when listening or the ready file fails.
  int listen_and_announce() {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(opts_.host.c_str(), std::to_string(opts_.port).c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
      std::cerr << kProgram << ": cannot resolve --host " << opts_.host << ": " << ::gai_strerror(rc) << "\n";
      return 1;
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
    listener_.reset(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    const int one = 1;
    if (!listener_.valid() || ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(listener_.get(), found->ai_addr, found->ai_addrlen) != 0 || ::listen(listener_.get(), SOMAXCONN) != 0) {
      std::cerr << kProgram << ": cannot listen on " << endpoint(opts_.port) << ": " << errno_text(errno) << "\n";
      return 1;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);

    if (!opts_.ready_file.empty() && !write_ready_file()) return 1;
    std::printf("%s pid %d listening on %s\n", std::string(kProgram).c_str(), static_cast<int>(::getpid()),
                endpoint(port_).c_str());
    std::fflush(stdout);
    log_.line("ready " + std::to_string(port_));
    return 0;
  }

  [[noreturn]] void run() {
    std::vector<pollfd> fds;
    std::optional<Clock::time_point> exit_at;
    if (opts_.exit_after) exit_at = Clock::now() + *opts_.exit_after;
    for (;;) {
      handle_signals();
      const auto now = Clock::now();
      if (exit_at && now >= *exit_at) {
        log_.line("exit-after");
        std::exit(1);
      }
      advance_paced_leak(now);
      expire_idle_connections(now);

      Clock::time_point wake = now + std::chrono::hours(1);
      const bool poll_listener = now >= listener_paused_until_;
      if (!poll_listener) wake = std::min(wake, listener_paused_until_);
      if (paced_.remaining_mib > 0) wake = std::min(wake, paced_next_due());
      if (exit_at) wake = std::min(wake, *exit_at);
      for (const Connection& c : conns_) wake = std::min(wake, c.deadline);

      fds.clear();
      fds.push_back({wake_read_.get(), POLLIN, 0});
      fds.push_back({poll_listener ? listener_.get() : -1, POLLIN, 0});  // a negative fd is skipped
      for (const Connection& c : conns_) fds.push_back({c.fd.get(), POLLIN, 0});

      const auto wait = std::chrono::ceil<milliseconds>(wake - now).count();
      const int r = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait, 0)));
      if (r < 0) continue;  // EINTR: a signal, handled at the top
      if (fds[0].revents != 0) drain_wake_pipe();
      // Connections first: the vector only grows in accept_one, after this loop.
      for (std::size_t i = 0; i < conns_.size(); ++i) {
        if (fds[i + 2].revents != 0) serve_readable(conns_[i]);
      }
      std::erase_if(conns_, [](const Connection& c) { return !c.fd.valid(); });
      if (poll_listener && (fds[1].revents & POLLIN) != 0) accept_one();
    }
  }

 private:
  struct PacedLeak {
    std::uint64_t remaining_mib = 0;
    double rate_mib_per_s = 1;
    Clock::time_point anchor;
    std::uint64_t done_since_anchor = 0;
  };

  std::string endpoint(std::uint16_t port) const {
    const bool v6 = opts_.host.find(':') != std::string::npos;
    return (v6 ? "[" + opts_.host + "]" : opts_.host) + ":" + std::to_string(port);
  }

  bool write_ready_file() const {
    const std::string tmp = opts_.ready_file + ".tmp";
    const std::string text = std::to_string(::getpid()) + " " + std::to_string(port_) + "\n";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid() || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      std::cerr << kProgram << ": cannot write the ready file " << tmp << ": " << errno_text(errno) << "\n";
      return false;
    }
    fd.reset();
    if (std::rename(tmp.c_str(), opts_.ready_file.c_str()) != 0) {
      std::cerr << kProgram << ": cannot rename " << tmp << " to " << opts_.ready_file << ": " << errno_text(errno)
                << "\n";
      return false;
    }
    return true;
  }

  // ---- Signals and waiting

  void drain_wake_pipe() const {
    char buf[64];
    while (::read(wake_read_.get(), buf, sizeof buf) > 0) {
    }
  }

  void wait_for_wake(int timeout_ms) const {
    pollfd p{wake_read_.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) > 0) drain_wake_pipe();
  }

  void handle_signals() {
    const unsigned usr1 = g_usr1_count.load(std::memory_order_relaxed);
    for (; usr1_logged_ < usr1; ++usr1_logged_) log_.line("usr1");
    if (g_term != 0) {
      log_.line("term");
      std::fflush(stdout);
      // _exit: prompt, and skips freeing what the leaks hold.
      ::_exit(0);
    }
  }

  // ---- Connections

  void accept_one() {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      accept_failing_ = false;
      conns_.push_back({UniqueFd(fd), std::string(), Clock::now() + kIdleTimeout});
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
    // EMFILE (after /control/fds), ENFILE, ENOBUFS, ENOMEM: the pending connection stays in the
    // backlog and the listener stays readable, so polling it now would spin. Look again later.
    if (!accept_failing_) {
      std::cerr << kProgram << ": accept on " << endpoint(port_) << ": " << errno_text(errno) << "; retrying every "
                << kAcceptRetry.count() << " ms\n";
      accept_failing_ = true;
    }
    listener_paused_until_ = Clock::now() + kAcceptRetry;
  }

  void expire_idle_connections(Clock::time_point now) {
    std::erase_if(conns_, [now](const Connection& c) { return c.deadline <= now; });
  }

  void serve_readable(Connection& c) {
    char buf[4096];
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n > 0) c.head.append(buf, static_cast<std::size_t>(n));
    const bool eof = n <= 0;
    const std::size_t end = head_end(c.head);
    if (end == std::string::npos) {
      if (c.head.size() > kMaxHeadBytes) {
        send_response(c.fd.get(), nullptr, {400, "request head over 8 KiB\n"});
        c.fd.reset();
        return;
      }
      // A client that sent its request line and then closed its side still gets an answer.
      if (!eof) return;
      if (c.head.find('\n') == std::string::npos) {
        c.fd.reset();
        return;
      }
    }
    const std::optional<Request> req = parse_request_line(c.head);
    if (!req) {
      send_response(c.fd.get(), nullptr, {400, "malformed request line\n"});
      c.fd.reset();
      return;
    }
    const Outcome out = route(*req);
    send_response(c.fd.get(), &*req, out.response);
    c.fd.reset();
    act(out);
  }

  // ---- Requests

  Outcome route(const Request& req) {
    const std::string& path = req.path;
    if (path == "/health") {
      return {healthy_ ? Response{200, "ok\n"} : Response{503, "unhealthy\n"}};
    }
    if (path == "/stats") {
      return {stats()};
    }
    if (path == "/control/unhealthy" || path == "/control/healthy") {
      healthy_ = path == "/control/healthy";
      log_.line(healthy_ ? "healthy" : "unhealthy");
      return {{200, healthy_ ? "/health now answers 200\n" : "/health now answers 503\n"}};
    }
    if (path == "/control/leak") return leak(req);
    if (path == "/control/hang") {
      const std::string_view spin = req.param("spin").value_or("0");
      if (spin != "0" && spin != "1") return {{400, "spin must be 0 or 1\n"}};
      log_.line(spin == "1" ? "hang spin" : "hang");
      return {{200, "hanging\n"}, spin == "1" ? After::hang_spin : After::hang_idle};
    }
    if (path == "/control/fds") {
      log_.line("fds");
      return {{200, "opening /dev/null until EMFILE\n"}, After::fill_fds};
    }
    if (path == "/control/exit") {
      const std::optional<std::uint64_t> code = parse_u64(req.param("code").value_or(""));
      if (!code || *code > 255) return {{400, "code must be an exit code (0..255)\n"}};
      log_.line("exit " + std::to_string(*code));
      return {{200, "exiting with " + std::to_string(*code) + "\n"}, After::exit, static_cast<int>(*code)};
    }
    if (path == "/control/signal") {
      const std::optional<SignalName> sig = parse_signal_name(req.param("sig").value_or(""));
      if (!sig) return {{400, "sig must be SEGV, ABRT, KILL or STOP\n"}};
      log_.line("signal " + std::string(sig->name));
      return {{200, "raising SIG" + std::string(sig->name) + "\n"}, After::raise_signal, sig->number};
    }
    if (path == "/control/oom") {
      log_.line("oom");
      return {{200, "allocating until killed\n"}, After::oom};
    }
    return {{404, "not found\n"}};
  }

  Response stats() const {
    const std::optional<std::size_t> fds = open_fd_count();
    std::string body = "{\"pid\":" + std::to_string(::getpid()) +
                       ",\"usr1\":" + std::to_string(g_usr1_count.load(std::memory_order_relaxed)) +
                       ",\"leaked_mib\":" + std::to_string(leaked_.size()) +
                       ",\"fds\":" + (fds ? std::to_string(*fds) : std::string("null")) +
                       ",\"hung\":false,\"healthy\":" + (healthy_ ? "true" : "false") + "}\n";
    return {200, std::move(body), "application/json"};
  }

  Outcome leak(const Request& req) {
    const std::optional<std::uint64_t> mib = parse_u64(req.param("mib").value_or(""));
    if (!mib || *mib > kMaxLeakMib) return {{400, "mib must be a number of MiB\n"}};
    const std::optional<std::string_view> rate_text = req.param("rate");
    if (!rate_text) {
      log_.line("leak " + std::to_string(*mib));
      for (std::uint64_t i = 0; i < *mib; ++i) {
        if (!leak_one_mib()) return {{503, "allocation failed after " + std::to_string(i) + " MiB\n"}};
      }
      return {{200, "leaked " + std::to_string(*mib) + " MiB, " + std::to_string(leaked_.size()) + " MiB in all\n"}};
    }
    const std::optional<double> rate = parse_positive_double(*rate_text);
    if (!rate) return {{400, "rate must be a positive number of MiB/s\n"}};
    log_.line("leak " + std::to_string(*mib) + " rate " + std::string(*rate_text));
    paced_.remaining_mib += *mib;
    paced_.rate_mib_per_s = *rate;
    paced_.anchor = Clock::now();
    paced_.done_since_anchor = 0;
    return {{200, "leaking " + std::to_string(*mib) + " MiB at " + std::string(*rate_text) + " MiB/s\n"}};
  }

  Clock::time_point paced_next_due() const {
    const double seconds = static_cast<double>(paced_.done_since_anchor + 1) / paced_.rate_mib_per_s;
    return paced_.anchor + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  void advance_paced_leak(Clock::time_point now) {
    while (paced_.remaining_mib > 0 && paced_next_due() <= now) {
      if (!leak_one_mib()) {
        log_.line("leak-failed");
        paced_.remaining_mib = 0;
        return;
      }
      --paced_.remaining_mib;
      ++paced_.done_since_anchor;
    }
  }

  bool leak_one_mib() {
    std::unique_ptr<char[]> block(new (std::nothrow) char[kMiB]);
    if (!block) return false;
    // Touch every page: resident memory, not just reserved address space.
    std::memset(block.get(), 0x5a, kMiB);
    leaked_.push_back(std::move(block));
    return true;
  }

  // ---- Breaking

  void act(const Outcome& out) {
    switch (out.after) {
      case After::nothing:
        return;
      case After::hang_idle:
        hang_idle();
      case After::hang_spin:
        hang_spin();
      case After::fill_fds:
        fill_fds();
        return;
      case After::exit:
        std::fflush(stdout);
        std::exit(out.arg);
      case After::raise_signal:
        raise_signal(out.arg);
      case After::oom:
        oom();
    }
  }

  // Never returns to the loop, so nothing is accepted or answered again; only signals count.
  [[noreturn]] void hang_idle() {
    for (;;) {
      wait_for_wake(-1);
      handle_signals();
    }
  }

  [[noreturn]] void hang_spin() {
    volatile std::uint64_t spins = 0;
    for (;;) {
      for (int i = 0; i < 1'000'000; ++i) spins = spins + 1;
      drain_wake_pipe();
      handle_signals();
    }
  }

  void fill_fds() {
    // Deliberately never closed: this is the leak under test.
    std::size_t opened = 0;
    while (::open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0) ++opened;
    log_.line("fds-full " + std::to_string(opened) + " " + errno_text(errno));
  }

  [[noreturn]] void raise_signal(int sig) {
    // A crash test must not leave a core file (or a systemd-coredump entry) behind.
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    std::fflush(stdout);
    if (sig == SIGSTOP) {
      ::raise(sig);  // stopped until a SIGCONT; then still hung, answering only signals
      hang_idle();
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    ::_exit(128 + sig);  // not reached: the default action of these signals ends the process
  }

  [[noreturn]] void oom() {
    for (;;) {
      if (!leak_one_mib()) ::usleep(10'000);  // no overcommit: keep asking, the kernel decides
      drain_wake_pipe();
      handle_signals();
    }
  }

  Options opts_;
  StateLog& log_;
  UniqueFd wake_read_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::vector<Connection> conns_;
  Clock::time_point listener_paused_until_{};
  bool accept_failing_ = false;
  bool healthy_ = true;
  unsigned usr1_logged_ = 0;
  std::vector<std::unique_ptr<char[]>> leaked_;
  PacedLeak paced_;
};

int bad_arguments(const std::string& why) {
  std::cerr << kProgram << ": " << why << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  if (const std::optional<std::string> error = parse_args(argc, argv, opts)) return bad_arguments(*error);

  StateLog log;
  if (!log.open(opts.state_file)) {
    std::cerr << kProgram << ": cannot open the state file " << opts.state_file << ": " << errno_text(errno) << "\n";
    return 1;
  }
  log.line("start " + std::to_string(::getpid()));

  if (opts.fail_start) {
    log.line("fail-start " + std::to_string(*opts.fail_start));
    std::cerr << kProgram << ": failing on purpose at start (--fail-start " << *opts.fail_start << ")\n";
    return *opts.fail_start;
  }

  if (opts.max_fds) {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = *opts.max_fds;
    // Root may raise the hard limit too; anyone may lower the soft one.
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < lim.rlim_cur) lim.rlim_max = lim.rlim_cur;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      std::cerr << kProgram << ": cannot set the open file limit to " << *opts.max_fds
                << " (--max-fds): " << errno_text(errno) << "\n";
      return 1;
    }
  }

  int wake[2] = {-1, -1};
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::cerr << kProgram << ": pipe2: " << errno_text(errno) << "\n";
    return 1;
  }
  UniqueFd wake_read(wake[0]);
  g_wake_write_fd = wake[1];  // kept open for the life of the process: the handlers write to it

  // A client that leaves mid-answer must cost one failed send, not the process.
  ::signal(SIGPIPE, SIG_IGN);
  set_handler(SIGUSR1, on_usr1);
  if (opts.ignore_term) {
    ::signal(SIGTERM, SIG_IGN);
  } else {
    set_handler(SIGTERM, on_term);
  }

  Service svc(std::move(opts), log, std::move(wake_read));
  svc.delay_start();
  if (const int rc = svc.listen_and_announce(); rc != 0) return rc;
  svc.run();
}
