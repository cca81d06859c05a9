// vigil-test-httpd: the HTTP/1.1 server that the integration tests and benchmarks of Vigil's
// http and prometheus checks start on loopback. One instance serves every case: the behaviour
// is chosen by the request path and query, so a test suite starts it once and runs many cases.
//
//   vigil-test-httpd [--port-file PATH] [--port N] [--tls CERT KEY] [--bind ADDR]
//
// It binds ADDR (default 127.0.0.1; IPv6 literals work too) on a kernel-chosen port (or on
// --port N, for a benchmark that kills and restarts the server), prints
// "port N" on stdout (flushed) once listening and, with --port-file, writes N to PATH atomically
// (PATH.tmp, then rename), so a test can wait for the file instead of sleeping. It runs until
// SIGTERM or SIGINT, then exits 0. With --tls every connection is TLS (PEM certificate chain and
// key), e.g. from
//   openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1
//     -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost
//
// Paths (query values are URL-decoded; any method unless stated; HEAD sends headers only):
//   /status/NNN                  status NNN (200..599), body "status NNN\n" (none for 204, 304)
//   /body?text=T                 200, body T
//   /health                      200 "ok\n" in mode ok (the default); see /control/health
//   POST /control/health?mode=M  sets the /health mode, answers "mode M\n". M is one of
//                                  ok          200 "ok\n"
//                                  status-503  503 "unhealthy\n"
//                                  hang        reads the request and never answers
//                                  close       closes the connection without answering
//   GET /control/health          200, the current mode and "\n"
//   /delay?ms=N                  waits N ms before the first byte, then 200 "delayed\n"
//   /drip?bytes=N&interval_ms=M  headers (Content-Length N) at once, then one byte every M ms
//   /big?bytes=N                 200 with an N-byte body of 'x', streamed (N may be 100 MiB+)
//   /big?bytes=N&chunked=1       the same with chunked transfer encoding, no Content-Length
//   /close                       status line, headers with Content-Length 1000, 10 bytes of body,
//                                then closes (curl: error 18, partial file)
//   /hang                        reads the request and never answers (until the client leaves)
//   /redirect-loop               302, Location: /redirect-loop (curl -L: error 47)
//   /redirect?to=P               302, Location: P
//   /header?name=X&value=Y       200 "ok\n" with the response header "X: Y" added
//   /metrics                     a Prometheus text exposition (text/plain; version=0.0.4):
//                                  test_requests_total   counter, requests parsed so far
//                                                        (this one included)
//                                  test_up 1             gauge
//                                  test_latency_seconds  histogram with fixed values: buckets
//                                                        0.1:5 0.5:8 1:9 +Inf:10, sum 3.5,
//                                                        count 10
//                                  test_http_responses_total{code="C"}  counter, responses sent
//                                                        per status code; code="200" is always
//                                                        present
//   /metrics-bad                 an exposition with a syntax error on line 3 (unclosed label set)
//   /metrics-file?path=P         200 with the contents of file P as an exposition; 404 if
//                                unreadable
//   /echo                        200, body: the request line, the headers as received
//                                ("Name: value" each), an empty line, then the request body;
//                                lines end in "\n"
//   POST /hook                   a webhook receiver: records the body with the time it arrived
//                                and answers the hook status (200 "recorded\n" by default)
//   POST /control/hook?status=N  sets the status /hook answers (200..599)
//   GET /hooks                   200, one line per body recorded, in arrival order:
//                                "<ms since the epoch> <status answered> <Authorization header,
//                                spaces as _, or -> <body, newlines as spaces>\n"
//   anything else                404 "not found\n"
//
// Protocol limits: request head up to 64 KiB (else 431), Content-Length bodies up to 1 MiB (else
// 413), chunked request bodies are not supported (501), malformed requests get 400 and a close.
// Keep-alive is the default for HTTP/1.1; "Connection: close" is honoured; HTTP/1.0 needs
// "Connection: keep-alive". "Expect: 100-continue" is answered. A missing or malformed query
// parameter gets 400 (numbers: /delay and /drip waits up to 86400000 ms). One detached thread
// serves each connection, with no idle timeout (the client decides when to leave); a client that
// disconnects at any point only ends its own thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t kMaxHeadBytes = 64 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 1024 * 1024;
constexpr std::uint64_t kMaxWaitMs = 24ULL * 3600 * 1000;
constexpr std::size_t kStreamChunkBytes = 64 * 1024;

using Headers = std::vector<std::pair<std::string, std::string>>;

// ---- Shared state -------------------------------------------------------------------------

enum class HealthMode : int { ok, status_503, hang, close };

std::atomic<HealthMode> g_health_mode{HealthMode::ok};
std::atomic<int> g_hook_status{200};
std::mutex g_hooks_mutex;
std::vector<std::string> g_hooks;  // "<ms> <body>"
std::atomic<std::uint64_t> g_requests{0};
std::array<std::atomic<std::uint64_t>, 600> g_responses_by_code{};
int g_stop_pipe[2] = {-1, -1};

std::string_view health_mode_name(HealthMode m) {
  switch (m) {
    case HealthMode::ok:
      return "ok";
    case HealthMode::status_503:
      return "status-503";
    case HealthMode::hang:
      return "hang";
    case HealthMode::close:
      return "close";
  }
  return "ok";
}

std::optional<HealthMode> parse_health_mode(std::string_view s) {
  for (HealthMode m :
       {HealthMode::ok, HealthMode::status_503, HealthMode::hang, HealthMode::close}) {
    if (s == health_mode_name(m)) return m;
  }
  return std::nullopt;
}

void record_status(int status) {
  if (status >= 0 && status < static_cast<int>(g_responses_by_code.size())) {
    g_responses_by_code[static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  }
}

// ---- Small text helpers -------------------------------------------------------------------

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 tchar: what header names and methods may contain.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// A header value must not smuggle in a line break or NUL.
bool is_safe_value(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX and '+' (form encoding, which is what curl --data-urlencode and most tests write).
std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Reason {
  int status;
  std::string_view phrase;
};

constexpr Reason kReasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {417, "Expectation Failed"},
    {418, "I'm a teapot"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

std::string_view reason_phrase(int status) {
  for (const Reason& r : kReasons) {
    if (r.status == status) return r.phrase;
  }
  return "Unknown";
}

// ---- Connection: one socket, plain or TLS ---------------------------------------------------

class Connection {
 public:
  Connection(int fd, SSL_CTX* tls) : fd_(fd) {
    if (tls != nullptr) ssl_ = SSL_new(tls);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ::close(fd_);
    // Failed handshakes and reads leave errors in this thread's queue; drop them.
    ERR_clear_error();
  }

  bool is_tls() const { return ssl_ != nullptr; }

  // False if TLS was asked for and the handshake failed (or SSL_new did).
  bool start(bool tls_required) {
    if (!tls_required) return true;
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return false;
    if (SSL_accept(ssl_) != 1) {
      broken_ = true;
      return false;
    }
    return true;
  }

  // Up to n bytes; 0 means end of stream or an error (either way: stop reading).
  std::size_t read_some(char* buf, std::size_t n) {
    if (broken_) return 0;
    if (ssl_ != nullptr) {
      std::size_t got = 0;
      if (SSL_read_ex(ssl_, buf, n, &got) != 1) {
        if (SSL_get_error(ssl_, 0) != SSL_ERROR_ZERO_RETURN) broken_ = true;
        return 0;
      }
      return got;
    }
    for (;;) {
      const ssize_t r = ::recv(fd_, buf, n, 0);
      if (r > 0) return static_cast<std::size_t>(r);
      if (r < 0 && errno == EINTR) continue;
      return 0;
    }
  }

  bool write_all(std::string_view data) {
    if (broken_) return false;
    while (!data.empty()) {
      if (ssl_ != nullptr) {
        std::size_t put = 0;
        if (SSL_write_ex(ssl_, data.data(), data.size(), &put) != 1) {
          broken_ = true;
          return false;
        }
        data.remove_prefix(put);
      } else {
        const ssize_t w = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          broken_ = true;
          return false;
        }
        data.remove_prefix(static_cast<std::size_t>(w));
      }
    }
    return true;
  }

  // An orderly close: TLS close_notify, FIN, then read and discard what the client still sends
  // for a moment. Closing with unread input makes the kernel send RST, which can destroy a
  // response (431, 413, 400) the client has not read yet.
  void finish() {
    if (ssl_ != nullptr && !broken_) SSL_shutdown(ssl_);
    ::shutdown(fd_, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    char sink[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      const ssize_t got = ::recv(fd_, sink, sizeof sink, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
    }
  }

 private:
  int fd_;
  SSL* ssl_ = nullptr;
  bool broken_ = false;
};

// ---- Requests ------------------------------------------------------------------------------

struct Request {
  std::string method;
  std::string target;
  std::string path;
  std::string raw_query;
  Headers query;
  int minor_version = 1;
  Headers headers;
  std::uint64_t content_length = 0;
  bool expect_continue = false;
  bool keep_alive = true;
  std::string body;

  bool is_head() const { return method == "HEAD"; }

  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (iequals(k, name)) return &v;
    }
    return nullptr;
  }

  std::optional<std::string> param(std::string_view key) const {
    for (const auto& [k, v] : query) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
};

struct ParseResult {
  Request request;
  int error_status = 0;  // 0: request is valid
  std::string error;
};

ParseResult parse_error(int status, std::string message) {
  ParseResult r;
  r.error_status = status;
  r.error = std::move(message);
  return r;
}

bool parse_query(std::string_view q, Headers& out) {
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    auto key = url_decode(part.substr(0, eq));
    auto value =
        url_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!key || !value) return false;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return true;
}

// Connection is a comma-separated token list; look for one token in it.
bool connection_has(const Request& r, std::string_view token) {
  for (const auto& [k, v] : r.headers) {
    if (!iequals(k, "Connection")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      if (iequals(trim_ows(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

// Parses the request head: everything before the blank line, without the final CRLFCRLF.
ParseResult parse_head(std::string_view head) {
  ParseResult out;
  Request& r = out.request;

  const std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);

  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return parse_error(400, "request line is not METHOD TARGET VERSION");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return parse_error(400, "bad method");
  if (version == "HTTP/1.1") {
    r.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    r.minor_version = 0;
  } else if (version.substr(0, 5) == "HTTP/" && version.size() == 8) {
    return parse_error(505, "only HTTP/1.0 and HTTP/1.1 are served");
  } else {
    return parse_error(400, "bad HTTP version");
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return parse_error(400, "control character in request target");
    }
  }
  r.method = std::string(method);
  r.target = std::string(target);
  // Absolute form (what a proxy gets): drop scheme and authority.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.substr(0, scheme.size()) == scheme) {
      const std::size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  if (target.empty() || target.front() != '/')
    return parse_error(400, "request target is not a path");
  const std::size_t qm = target.find('?');
  r.path = std::string(target.substr(0, qm));
  if (qm != std::string_view::npos) {
    r.raw_query = std::string(target.substr(qm + 1));
    if (!parse_query(r.raw_query, r.query)) return parse_error(400, "bad %-escape in query");
  }

  std::optional<std::uint64_t> content_length;
  while (!head.empty()) {
    const std::size_t end = head.find("\r\n");
    std::string_view field = head.substr(0, end);
    head = end == std::string_view::npos ? std::string_view() : head.substr(end + 2);
    if (!field.empty() && (field.front() == ' ' || field.front() == '\t')) {
      return parse_error(400, "obsolete header line folding");
    }
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return parse_error(400, "header line without a colon");
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim_ows(field.substr(colon + 1));
    if (!is_token(name)) return parse_error(400, "bad header name");
    for (char c : value) {
      if (c == '\0' || c == '\r' || c == '\n') return parse_error(400, "bad byte in header value");
    }
    if (iequals(name, "Content-Length")) {
      const auto n = to_u64(value);
      if (!n) return parse_error(400, "Content-Length is not a number");
      if (content_length && *content_length != *n) {
        return parse_error(400, "conflicting Content-Length headers");
      }
      content_length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      return parse_error(501, "request bodies with Transfer-Encoding are not supported");
    } else if (iequals(name, "Expect")) {
      if (!iequals(value, "100-continue")) return parse_error(417, "unknown expectation");
      r.expect_continue = true;
    }
    r.headers.emplace_back(std::string(name), std::string(value));
  }
  r.content_length = content_length.value_or(0);
  if (r.content_length > kMaxBodyBytes) return parse_error(413, "request body over 1 MiB");
  r.keep_alive =
      r.minor_version == 1 ? !connection_has(r, "close") : connection_has(r, "keep-alive");
  return out;
}

// ---- Responses -----------------------------------------------------------------------------

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  Headers headers;
  std::string body;
};

// The status line and headers. content_length nullopt: none is sent (chunked or close-delimited).
std::string response_head(const Request& req, int status, std::string_view content_type,
                          std::optional<std::uint64_t> content_length, const Headers& extra,
                          bool chunked, bool keep_alive) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
                  "\r\nServer: vigil-test-httpd\r\n";
  if (!content_type.empty()) h += "Content-Type: " + std::string(content_type) + "\r\n";
  if (content_length) h += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  if (chunked) h += "Transfer-Encoding: chunked\r\n";
  for (const auto& [k, v] : extra) h += k + ": " + v + "\r\n";
  if (!keep_alive) {
    h += "Connection: close\r\n";
  } else if (req.minor_version == 0) {
    h += "Connection: keep-alive\r\n";
  }
  h += "\r\n";
  return h;
}

// Sends a complete response; returns whether the connection can serve another request.
bool send_response(Connection& conn, const Request& req, const Response& resp) {
  const bool no_body = resp.status == 204 || resp.status == 304;
  std::optional<std::uint64_t> length;
  if (resp.status != 204) length = no_body ? 0 : resp.body.size();
  if (resp.status == 304) length = std::nullopt;
  std::string out = response_head(req, resp.status, no_body ? "" : resp.content_type, length,
                                  resp.headers, false, req.keep_alive);
  if (!no_body && !req.is_head()) out += resp.body;
  record_status(resp.status);
  return conn.write_all(out) && req.keep_alive;
}

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Waits for the client to leave (or the server to stop). Input is read and dropped so a client
// that keeps talking does not fill the buffers.
void hang(Connection& conn) {
  char sink[4096];
  while (conn.read_some(sink, sizeof sink) > 0) {
  }
}

// ---- Path handlers -------------------------------------------------------------------------

// Pulls a required numeric query parameter; nullopt (and a 400 sent) when missing or bad.
std::optional<std::uint64_t> number_param(const Request& req, std::string_view key,
                                          std::uint64_t max, Response& error) {
  const auto raw = req.param(key);
  const auto n = raw ? to_u64(*raw) : std::nullopt;
  if (!n || *n > max) {
    error = text(400, "query parameter " + std::string(key) + " must be a number up to " +
                          std::to_string(max) + "\n");
    return std::nullopt;
  }
  return n;
}

std::string metrics_text() {
  std::string m;
  m += "# HELP test_requests_total Requests served by vigil-test-httpd.\n";
  m += "# TYPE test_requests_total counter\n";
  m += "test_requests_total " + std::to_string(g_requests.load()) + "\n";
  m += "# HELP test_up Whether the test target is up.\n";
  m += "# TYPE test_up gauge\n";
  m += "test_up 1\n";
  m += "# HELP test_latency_seconds Request latency (fixed values, for parser tests).\n";
  m += "# TYPE test_latency_seconds histogram\n";
  m += "test_latency_seconds_bucket{le=\"0.1\"} 5\n";
  m += "test_latency_seconds_bucket{le=\"0.5\"} 8\n";
  m += "test_latency_seconds_bucket{le=\"1\"} 9\n";
  m += "test_latency_seconds_bucket{le=\"+Inf\"} 10\n";
  m += "test_latency_seconds_sum 3.5\n";
  m += "test_latency_seconds_count 10\n";
  m += "# HELP test_http_responses_total Responses sent, by status code.\n";
  m += "# TYPE test_http_responses_total counter\n";
  for (std::size_t code = 100; code < g_responses_by_code.size(); ++code) {
    const std::uint64_t n = g_responses_by_code[code].load();
    if (n == 0 && code != 200) continue;
    m += "test_http_responses_total{code=\"" + std::to_string(code) + "\"} " + std::to_string(n) +
         "\n";
  }
  return m;
}

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4";

bool serve_big(Connection& conn, const Request& req) {
  Response error;
  const auto bytes = number_param(req, "bytes", UINT64_MAX, error);
  if (!bytes) return send_response(conn, req, error);
  const bool chunked_param = req.param("chunked").value_or("0") == "1";
  // HTTP/1.0 has no chunked encoding: there the end of the body is the end of the connection.
  const bool chunked = chunked_param && req.minor_version == 1;
  const bool keep_alive = req.keep_alive && !(chunked_param && !chunked);
  // Assigned rather than built with ?: : GCC 12 at -O2 reports the latter as
  // maybe-uninitialized (a false positive that -Werror turns into an error).
  std::optional<std::uint64_t> length;
  if (!chunked_param) length.emplace(*bytes);
  record_status(200);
  if (!conn.write_all(
          response_head(req, 200, "application/octet-stream", length, {}, chunked, keep_alive))) {
    return false;
  }
  if (req.is_head()) return keep_alive;
  static const std::string block(kStreamChunkBytes, 'x');
  std::uint64_t left = *bytes;
  while (left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
    std::string_view piece(block.data(), n);
    if (chunked) {
      char size_line[32];
      const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      if (!conn.write_all(std::string_view(size_line, static_cast<std::size_t>(len))) ||
          !conn.write_all(piece) || !conn.write_all("\r\n")) {
        return false;
      }
    } else if (!conn.write_all(piece)) {
      return false;
    }
    left -= n;
  }
  if (chunked && !conn.write_all("0\r\n\r\n")) return false;
  return keep_alive;
}

bool serve_drip(Connection& conn, const Request& req) {
  Response error;
  const auto bytes = number_param(req, "bytes", UINT64_MAX, error);
  if (!bytes) return send_response(conn, req, error);
  const auto interval = number_param(req, "interval_ms", kMaxWaitMs, error);
  if (!interval) return send_response(conn, req, error);
  record_status(200);
  if (!conn.write_all(response_head(req, 200, "text/plain", *bytes, {}, false, req.keep_alive))) {
    return false;
  }
  if (req.is_head()) return req.keep_alive;
  for (std::uint64_t i = 0; i < *bytes; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(*interval));
    if (!conn.write_all(".")) return false;
  }
  return req.keep_alive;
}

// The whole file, or nullopt if it cannot be opened or read (missing, a directory, no access).
std::optional<std::string> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;  // for the caller's message, past close()
      ::close(fd);
      errno = saved;
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

bool serve_metrics_file(Connection& conn, const Request& req) {
  const auto path = req.param("path");
  if (!path) return send_response(conn, req, text(400, "query parameter path is required\n"));
  auto content = read_file(*path);
  if (!content) {
    return send_response(conn, req,
                         text(404, "cannot read " + *path + ": " + std::strerror(errno) + "\n"));
  }
  Response r = text(200, std::move(*content));
  r.content_type = std::string(kMetricsContentType);
  return send_response(conn, req, r);
}

// Serves one parsed request; returns whether to read another from this connection.
bool handle(Connection& conn, const Request& req) {
  const std::string& path = req.path;

  if (path.rfind("/status/", 0) == 0) {
    const auto code = to_u64(std::string_view(path).substr(8));
    // 1xx are interim responses, not an answer a client can finish on.
    if (!code || *code < 200 || *code > 599) {
      return send_response(conn, req, text(400, "status must be 200..599\n"));
    }
    const int status = static_cast<int>(*code);
    return send_response(conn, req, text(status, "status " + std::to_string(status) + "\n"));
  }
  if (path == "/body") return send_response(conn, req, text(200, req.param("text").value_or("")));
  if (path == "/hook" && req.method == "POST") {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const int status = g_hook_status.load();
    const std::string* auth = req.header("Authorization");
    std::string auth_field = auth == nullptr || auth->empty() ? std::string("-") : *auth;
    for (char& c : auth_field) {
      if (c == ' ') c = '_';
    }
    std::string line = std::to_string(now) + " " + std::to_string(status) + " " + auth_field + " " + req.body;
    for (char& c : line) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    {
      std::lock_guard<std::mutex> lock(g_hooks_mutex);
      g_hooks.push_back(std::move(line));
    }
    return send_response(conn, req, text(status, status < 300 ? "recorded\n" : "refused\n"));
  }
  if (path == "/control/hook" && req.method == "POST") {
    const auto code = to_u64(req.param("status").value_or(""));
    if (!code || *code < 200 || *code > 599) return send_response(conn, req, text(400, "status must be 200..599\n"));
    g_hook_status.store(static_cast<int>(*code));
    return send_response(conn, req, text(200, "hook status " + std::to_string(*code) + "\n"));
  }
  if (path == "/hooks") {
    std::string body;
    {
      std::lock_guard<std::mutex> lock(g_hooks_mutex);
      for (const auto& h : g_hooks) body += h + "\n";
    }
    return send_response(conn, req, text(200, std::move(body)));
  }
  if (path == "/health") {
    switch (g_health_mode.load()) {
      case HealthMode::ok:
        return send_response(conn, req, text(200, "ok\n"));
      case HealthMode::status_503:
        return send_response(conn, req, text(503, "unhealthy\n"));
      case HealthMode::hang:
        hang(conn);
        return false;
      case HealthMode::close:
        return false;
    }
  }
  if (path == "/control/health") {
    if (req.method == "GET" || req.method == "HEAD") {
      return send_response(conn, req,
                           text(200, std::string(health_mode_name(g_health_mode.load())) + "\n"));
    }
    if (req.method != "POST") {
      Response r = text(405, "use GET or POST\n");
      r.headers.emplace_back("Allow", "GET, HEAD, POST");
      return send_response(conn, req, r);
    }
    const auto mode = parse_health_mode(req.param("mode").value_or(""));
    if (!mode)
      return send_response(conn, req, text(400, "mode must be ok, status-503, hang or close\n"));
    g_health_mode.store(*mode);
    return send_response(conn, req,
                         text(200, "mode " + std::string(health_mode_name(*mode)) + "\n"));
  }
  if (path == "/delay") {
    Response error;
    const auto ms = number_param(req, "ms", kMaxWaitMs, error);
    if (!ms) return send_response(conn, req, error);
    std::this_thread::sleep_for(std::chrono::milliseconds(*ms));
    return send_response(conn, req, text(200, "delayed\n"));
  }
  if (path == "/drip") return serve_drip(conn, req);
  if (path == "/big") return serve_big(conn, req);
  if (path == "/close") {
    record_status(200);
    conn.write_all(response_head(req, 200, "text/plain", 1000, {}, false, true) + "0123456789");
    return false;
  }
  if (path == "/hang") {
    hang(conn);
    return false;
  }
  if (path == "/redirect-loop") {
    Response r = text(302, "redirect\n");
    r.headers.emplace_back("Location", "/redirect-loop");
    return send_response(conn, req, r);
  }
  if (path == "/redirect") {
    const auto to = req.param("to");
    if (!to || to->empty() || !is_safe_value(*to)) {
      return send_response(conn, req, text(400, "query parameter to is required\n"));
    }
    Response r = text(302, "redirect\n");
    r.headers.emplace_back("Location", *to);
    return send_response(conn, req, r);
  }
  if (path == "/header") {
    const auto name = req.param("name");
    const auto value = req.param("value").value_or("");
    if (!name || !is_token(*name) || !is_safe_value(value)) {
      return send_response(conn, req, text(400, "name must be a header name, value one line\n"));
    }
    Response r = text(200, "ok\n");
    r.headers.emplace_back(*name, value);
    return send_response(conn, req, r);
  }
  if (path == "/metrics") {
    Response r = text(200, metrics_text());
    r.content_type = std::string(kMetricsContentType);
    return send_response(conn, req, r);
  }
  if (path == "/metrics-bad") {
    Response r = text(200,
                      "# HELP test_up Whether the test target is up.\n"
                      "# TYPE test_up gauge\n"
                      "test_up{job=\"broken\" 1\n"
                      "test_other 2\n");
    r.content_type = std::string(kMetricsContentType);
    return send_response(conn, req, r);
  }
  if (path == "/metrics-file") return serve_metrics_file(conn, req);
  if (path == "/echo") {
    std::string body =
        req.method + " " + req.target + " HTTP/1." + std::to_string(req.minor_version) + "\n";
    for (const auto& [k, v] : req.headers) body += k + ": " + v + "\n";
    body += "\n";
    body += req.body;
    return send_response(conn, req, text(200, std::move(body)));
  }
  return send_response(conn, req, text(404, "not found\n"));
}

// Answers a request that could not be parsed; the connection is closed afterwards because the
// framing of whatever follows is unknown.
void reject(Connection& conn, int status, const std::string& why) {
  Request dummy;
  dummy.keep_alive = false;
  send_response(conn, dummy, text(status, why + "\n"));
}

void serve_connection(Connection& conn) {
  std::string buf;
  char chunk[16 * 1024];
  for (;;) {
    // Head: read until the blank line, at most kMaxHeadBytes.
    std::size_t head_end = std::string::npos;
    std::size_t searched = 0;
    for (;;) {
      // RFC 9112 2.2: ignore empty lines before a request line (some clients send a CRLF after
      // a POST body).
      while (buf.size() >= 2 && buf[0] == '\r' && buf[1] == '\n') {
        buf.erase(0, 2);
        searched = 0;
      }
      head_end = buf.find("\r\n\r\n", searched);
      if (head_end != std::string::npos) break;
      searched = buf.size() < 3 ? 0 : buf.size() - 3;
      if (buf.size() > kMaxHeadBytes) {
        reject(conn, 431, "request head over 64 KiB");
        return;
      }
      const std::size_t n = conn.read_some(chunk, sizeof chunk);
      if (n == 0) return;  // the client left, possibly mid-request: nobody to answer
      buf.append(chunk, n);
    }
    if (head_end + 4 > kMaxHeadBytes) {
      reject(conn, 431, "request head over 64 KiB");
      return;
    }
    ParseResult parsed = parse_head(std::string_view(buf).substr(0, head_end));
    if (parsed.error_status != 0) {
      reject(conn, parsed.error_status, parsed.error);
      return;
    }
    Request& req = parsed.request;
    buf.erase(0, head_end + 4);

    // Body: exactly Content-Length bytes; what follows belongs to the next request.
    if (req.content_length > 0) {
      if (req.expect_continue && buf.size() < req.content_length &&
          !conn.write_all("HTTP/1.1 100 Continue\r\n\r\n")) {
        return;
      }
      while (buf.size() < req.content_length) {
        const std::size_t n = conn.read_some(chunk, sizeof chunk);
        if (n == 0) return;
        buf.append(chunk, n);
      }
      req.body = buf.substr(0, req.content_length);
      buf.erase(0, req.content_length);
    }
    g_requests.fetch_add(1, std::memory_order_relaxed);
    if (!handle(conn, req)) return;
  }
}

void connection_thread(int fd, SSL_CTX* tls) {
  // Nothing may escape a connection thread: an exception here would terminate the server.
  try {
    Connection conn(fd, tls);
    if (conn.start(tls != nullptr)) {
      serve_connection(conn);
      conn.finish();
    }
  } catch (...) {
  }
}

// ---- Process setup -------------------------------------------------------------------------

void on_stop_signal(int) {
  const int saved = errno;
  const char byte = 1;
  [[maybe_unused]] ssize_t w = ::write(g_stop_pipe[1], &byte, 1);
  errno = saved;
}

std::string openssl_error() {
  char buf[256] = "unknown error";
  const unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

SSL_CTX* make_tls_context(const std::string& cert, const std::string& key) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    std::cerr << "vigil-test-httpd: SSL_CTX_new: " << openssl_error() << "\n";
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    std::cerr << "vigil-test-httpd: cannot load certificate " << cert << ": " << openssl_error()
              << "\n";
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::cerr << "vigil-test-httpd: cannot load key " << key << ": " << openssl_error() << "\n";
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    std::cerr << "vigil-test-httpd: key " << key << " does not match certificate " << cert << "\n";
  } else {
    return ctx;
  }
  SSL_CTX_free(ctx);
  return nullptr;
}

// Returns the listening socket, or -1 after printing why not.
// `port` 0 asks the kernel for one; a benchmark that restarts the server
// passes the previous one (SO_REUSEADDR lets it rebind at once).
int listen_on(const std::string& address, std::uint16_t& port) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    std::cerr << "vigil-test-httpd: --bind " << address
              << " is not a numeric address: " << ::gai_strerror(rc) << "\n";
    return -1;
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    std::cerr << "vigil-test-httpd: cannot listen on " << address << ": " << std::strerror(errno)
              << "\n";
    ::freeaddrinfo(found);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

bool write_port_file(const std::string& path, std::uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    out.flush();
    if (!out) {
      std::cerr << "vigil-test-httpd: cannot write " << tmp << "\n";
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::cerr << "vigil-test-httpd: cannot rename " << tmp << " to " << path << ": "
              << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

int usage() {
  std::cerr << "usage: vigil-test-httpd [--port-file PATH] [--port N] [--tls CERT KEY] [--bind ADDR]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_file, cert, key, address = "127.0.0.1";
  std::uint16_t requested_port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--port-file" && i + 1 < argc) {
      port_file = argv[++i];
    } else if (a == "--tls" && i + 2 < argc) {
      cert = argv[++i];
      key = argv[++i];
    } else if (a == "--bind" && i + 1 < argc) {
      address = argv[++i];
    } else if (a == "--port" && i + 1 < argc) {
      requested_port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    } else {
      std::cerr << "vigil-test-httpd: unknown or incomplete argument " << a << "\n";
      return usage();
    }
  }

  // A client that leaves mid-response must cost one failed write, not the process.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, nullptr);

  if (::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::cerr << "vigil-test-httpd: pipe2: " << std::strerror(errno) << "\n";
    return 1;
  }
  struct sigaction stop {};
  stop.sa_handler = on_stop_signal;
  sigemptyset(&stop.sa_mask);
  ::sigaction(SIGTERM, &stop, nullptr);
  ::sigaction(SIGINT, &stop, nullptr);

  SSL_CTX* tls = nullptr;
  if (!cert.empty()) {
    tls = make_tls_context(cert, key);
    if (tls == nullptr) return 1;
  }

  std::uint16_t port = requested_port;
  const int listener = listen_on(address, port);
  if (listener < 0) return 1;
  if (!port_file.empty() && !write_port_file(port_file, port)) return 1;
  std::cout << "port " << port << std::endl;

  for (;;) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {g_stop_pipe[0], POLLIN, 0}};
    const int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::cerr << "vigil-test-httpd: poll: " << std::strerror(errno) << "\n";
      return 1;
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors or memory: back off instead of spinning; the client retries.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      continue;
    }
    // Small responses go out as they are written (drip bytes, headers before a delay).
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    try {
      std::thread(connection_thread, fd, tls).detach();
    } catch (...) {
      ::close(fd);  // no thread to be had: drop this client, keep serving the others
    }
  }
  // Connection threads may still be blocked in hang or delay; _exit does not wait for them, and
  // skipping static destructors keeps them from running under live threads.
  ::close(listener);
  std::cout.flush();
  std::_Exit(0);
}
