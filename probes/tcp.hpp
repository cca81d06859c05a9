// probes/tcp.hpp: the tcp check kind, as a non-blocking state machine.
//
// The probe owns a socket and says which readiness it waits for; the
// caller (the daemon's event loop) polls the fd and calls on_ready(), or
// on_timeout() at the deadline. Nothing here blocks or sleeps. Addresses are
// numeric (127.0.0.1:5432, [::1]:6379) or "localhost": resolving other host
// names would block the loop (getaddrinfo), so they are refused for now.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace vigil {

struct TcpAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // as configured, for messages
};
Result<TcpAddress> parse_tcp_address(std::string_view host_port);

struct TcpOutcome {
  bool ok = false;
  std::string reason;  // for people: "connection refused", "timed out after 5s (connected, no banner)"
  std::optional<double> connect_seconds;
  double total_seconds = 0;
};

class TcpAttempt {
 public:
  // Starts a non-blocking connect. An immediate failure (no route, bad
  // address family) is returned as a finished outcome in `done`.
  TcpAttempt(const TcpAddress& address, std::string send, std::string expect,
             std::chrono::steady_clock::time_point now);

  int fd() const { return fd_.get(); }
  bool want_write() const { return phase_ == Phase::kConnecting || phase_ == Phase::kSending; }
  // Set once the attempt is over; the socket is closed then.
  const std::optional<TcpOutcome>& done() const { return done_; }

  void on_ready(bool readable, bool writable, bool error, std::chrono::steady_clock::time_point now);
  void on_timeout(std::chrono::milliseconds timeout, std::chrono::steady_clock::time_point now);

 private:
  enum class Phase { kConnecting, kSending, kExpecting, kDone };
  void finish(bool ok, std::string reason, std::chrono::steady_clock::time_point now);

  UniqueFd fd_;
  std::string address_text_;
  std::string send_;
  std::size_t sent_ = 0;
  std::string expect_;
  std::string received_;
  Phase phase_ = Phase::kConnecting;
  std::chrono::steady_clock::time_point started_;
  std::optional<double> connect_seconds_;
  std::optional<TcpOutcome> done_;
};

}  // namespace vigil
