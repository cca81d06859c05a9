// probes/checks/tcp.hpp: the tcp check kind, and the TCP side of redis and
// postgres, as a non-blocking state machine.
//
// The probe owns a socket and says which readiness it waits for; the
// caller (the daemon's event loop) polls the fd and calls on_ready(), or
// on_timeout() at the deadline. Nothing here blocks or sleeps. Addresses are
// numeric (127.0.0.1:5432, [::1]:6379) or "localhost": resolving other host
// names would block the loop (getaddrinfo), so they are refused for now.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/keys.hpp"
#include "core/result.hpp"
#include "core/unique_fd.hpp"
#include "probes/checks/check.hpp"
#include "probes/checks/outcome.hpp"

namespace vigil {

struct TcpAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // as configured, for messages
};
Result<TcpAddress> parse_tcp_address(std::string_view host_port);

// What to say once connected and how to judge the answer: a tcp banner, a
// Redis PING, a PostgreSQL startup message.
using ReplyJudge = std::function<Reply(std::string_view received)>;
struct TcpDialog {
  std::string request;   // sent once connected; may be empty
  ReplyJudge judge;      // called with everything received so far; empty: connecting is enough
  std::string awaiting;  // for reasons: "no \"+OK\" yet", "no PONG yet"
};

// The judge sees at most this much; a reply still undecided then fails.
inline constexpr std::size_t kMaxTcpReply = 64 * 1024;

// The tcp kind's `expect`: the banner contains the text.
ReplyJudge expect_substring(std::string expect);

class TcpAttempt {
 public:
  // Starts a non-blocking connect. An immediate failure (no route, bad
  // address family) is returned as a finished outcome in `done`.
  TcpAttempt(const TcpAddress& address, TcpDialog dialog, std::chrono::steady_clock::time_point now);

  int fd() const { return fd_.get(); }
  bool want_write() const { return phase_ == Phase::kConnecting || phase_ == Phase::kSending; }
  // Set once the attempt is over; the socket is closed then. Its values
  // hold tcp_connect_seconds once connected.
  const std::optional<CheckOutcome>& done() const { return done_; }

  void on_ready(bool readable, bool writable, bool error, std::chrono::steady_clock::time_point now);
  void on_timeout(std::chrono::milliseconds timeout, std::chrono::steady_clock::time_point now);

 private:
  enum class Phase { kConnecting, kSending, kExpecting, kDone };
  void finish(bool ok, std::string reason, std::chrono::steady_clock::time_point now);

  UniqueFd fd_;
  TcpDialog dialog_;
  std::size_t sent_ = 0;
  std::string received_;
  Phase phase_ = Phase::kConnecting;
  std::chrono::steady_clock::time_point started_;
  std::optional<double> connect_seconds_;
  std::optional<CheckOutcome> done_;
};

// ---- the tcp kind -------------------------------------------------------

struct TcpSettings {
  std::string address;  // HOST:PORT
  std::string send;     // sent once connected
  std::string expect;   // the answer must contain it
  bool operator==(const TcpSettings&) const = default;
};

// What tcp, redis and postgres checks share: the address key's validation,
// and a runner that builds each run's dialog with `make_dialog` (a redis
// password is read at each run, so that a rotated one is picked up).
void validate_tcp_address(const std::string& address, const char* kind, const char* example, KeyProblems& problems);
using DialogMaker = std::function<Result<TcpDialog>()>;
std::unique_ptr<CheckRunner> make_tcp_runner(CheckContext& context, const CheckSpec& check, const std::string& address,
                                             DialogMaker make_dialog);

}  // namespace vigil
