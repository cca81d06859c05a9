#include "probes/tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/text.hpp"
#include "core/time.hpp"

namespace vigil {

namespace {

constexpr std::size_t kMaxBanner = 4096;  // what `expect` may need to see

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

Result<TcpAddress> parse_tcp_address(std::string_view host_port) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorKind::kInvalid, "\"" + std::string(host_port) + "\": " + why +
                                         " (write HOST:PORT with a numeric host, e.g. 127.0.0.1:5432 or [::1]:6379)");
  };
  std::string host;
  std::string_view port_text;
  if (!host_port.empty() && host_port.front() == '[') {
    auto close = host_port.find(']');
    if (close == std::string_view::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':') {
      return bad("an IPv6 address needs [ADDRESS]:PORT");
    }
    host = std::string(host_port.substr(1, close - 1));
    port_text = host_port.substr(close + 2);
  } else {
    auto colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = std::string(host_port.substr(0, colon));
    port_text = host_port.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
  }
  auto port = to_u64(port_text);
  if (!port || *port == 0 || *port > 65535) return bad("the port must be 1 to 65535");
  if (host == "localhost") host = "127.0.0.1";
  TcpAddress out;
  out.text = std::string(host_port);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(*port));
    out.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(*port));
    out.len = sizeof(sockaddr_in6);
  } else if (host.empty()) {
    return bad("no host");
  } else {
    return bad("\"" + host + "\" is not a numeric address; resolving host names is not supported yet");
  }
  return out;
}

ReplyJudge expect_substring(std::string expect) {
  return [expect = std::move(expect)](std::string_view received) {
    if (received.find(expect) != std::string_view::npos) {
      return Reply::ok("connected, got \"" + printable_excerpt(expect, 40) + "\"");
    }
    if (received.size() >= kMaxBanner) {
      return Reply::fail("did not receive \"" + printable_excerpt(expect, 40) + "\" in the first " +
                         std::to_string(kMaxBanner) + " bytes (first 80 bytes: \"" + printable_excerpt(received) +
                         "\")");
    }
    return Reply::need_more();
  };
}

TcpAttempt::TcpAttempt(const TcpAddress& address, TcpDialog dialog, std::chrono::steady_clock::time_point now)
    : dialog_(std::move(dialog)), started_(now) {
  fd_.reset(::socket(address.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) {
    finish(false, std::string("cannot create a socket: ") + std::strerror(errno), now);
    return;
  }
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address.addr), address.len) == 0) {
    on_ready(false, true, false, now);
  } else if (errno != EINPROGRESS) {
    finish(false, errno_reason(errno), now);
  }
}

void TcpAttempt::finish(bool ok, std::string reason, std::chrono::steady_clock::time_point now) {
  phase_ = Phase::kDone;
  fd_.reset();
  CheckOutcome out;
  out.ok = ok;
  out.reason = std::move(reason);
  out.total_seconds = seconds_between(started_, now);
  if (connect_seconds_) out.values.push_back({"tcp_connect_seconds", {}, *connect_seconds_});
  done_ = std::move(out);
}

void TcpAttempt::on_ready(bool readable, bool writable, bool error, std::chrono::steady_clock::time_point now) {
  if (phase_ == Phase::kConnecting) {
    if (!writable && !error) return;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      finish(false, errno_reason(err), now);  // "connection refused", "no route to host"
      return;
    }
    connect_seconds_ = seconds_between(started_, now);
    phase_ = Phase::kSending;
  }
  if (phase_ == Phase::kSending) {
    const std::string& request = dialog_.request;
    while (sent_ < request.size()) {
      ssize_t n = ::send(fd_.get(), request.data() + sent_, request.size() - sent_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        finish(false, "send failed: " + errno_reason(errno), now);
        return;
      }
      sent_ += static_cast<std::size_t>(n);
    }
    if (!dialog_.judge) {
      finish(true, "connected", now);
      return;
    }
    phase_ = Phase::kExpecting;
    return;  // wait for readability
  }
  if (phase_ == Phase::kExpecting && (readable || error)) {
    char buf[4096];
    while (true) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0) {
        // Bounded whatever the peer sends: the judge never sees more.
        std::size_t room = kMaxTcpReply - received_.size();
        received_.append(buf, std::min(room, static_cast<std::size_t>(n)));
        Reply r = dialog_.judge(received_);
        if (r.verdict == Reply::Verdict::kOk) return finish(true, std::move(r.reason), now);
        if (r.verdict == Reply::Verdict::kFail) return finish(false, std::move(r.reason), now);
        if (received_.size() >= kMaxTcpReply) {
          return finish(false, "no complete reply in the first " + std::to_string(kMaxTcpReply) + " bytes", now);
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      std::string how = n == 0 ? "closed by the server" : "connection error: " + errno_reason(errno);
      finish(false,
             how + " with " + dialog_.awaiting + " (got " + std::to_string(received_.size()) + " bytes: \"" +
                 printable_excerpt(received_) + "\")",
             now);
      return;
    }
  }
}

void TcpAttempt::on_timeout(std::chrono::milliseconds timeout, std::chrono::steady_clock::time_point now) {
  if (done_) return;
  std::string where = phase_ == Phase::kConnecting ? "not connected"
                      : phase_ == Phase::kSending  ? "connected, sending"
                                                   : "connected, " + dialog_.awaiting;
  finish(false, "timed out after " + format_duration(timeout) + " (" + where + ")", now);
}

}  // namespace vigil
