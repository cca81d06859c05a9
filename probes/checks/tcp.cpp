#include "probes/checks/tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/text.hpp"
#include "core/time.hpp"
#include "probes/checks/kinds.hpp"
#include "probes/checks/runner_util.hpp"

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
  done_->timed_out = true;
}

// ---- runs on the loop ---------------------------------------------------

namespace {

using checks_detail::add_deadline;
using checks_detail::failed_outcome;
using checks_detail::watch_fd;

class TcpRunner : public CheckRunner {
 public:
  TcpRunner(sd_event* event, Millis timeout, TcpAddress address, DialogMaker maker)
      : event_(event), timeout_(timeout), address_(std::move(address)), maker_(std::move(maker)) {}

  bool busy() const override { return attempt_.has_value() && !attempt_->done(); }

  void start(Done done) override {
    done_ = std::move(done);
    auto dialog = maker_();
    if (!dialog) return deliver(failed_outcome(dialog.error().message));
    attempt_.emplace(address_, std::move(*dialog), mono_now());
    if (attempt_->done()) return deliver(*attempt_->done());
    auto problem =
        watch_fd(event_, io_, attempt_->fd(), attempt_->want_write() ? EPOLLOUT : EPOLLIN, &TcpRunner::on_io, this);
    if (!problem) problem = add_deadline(event_, deadline_, mono_now() + timeout_, &TcpRunner::on_deadline, this);
    if (problem) {
      attempt_->on_timeout(Millis(0), mono_now());
      CheckOutcome out = *attempt_->done();
      out.reason = *problem;
      out.timed_out = false;
      deliver(std::move(out));
    }
  }

 private:
  static int on_io(sd_event_source* source, int, std::uint32_t revents, void* userdata) {
    auto& self = *static_cast<TcpRunner*>(userdata);
    self.attempt_->on_ready((revents & EPOLLIN) != 0, (revents & EPOLLOUT) != 0, (revents & (EPOLLERR | EPOLLHUP)) != 0,
                            mono_now());
    if (self.attempt_->done()) {
      self.deliver(*self.attempt_->done());
    } else {
      sd_event_source_set_io_events(source, self.attempt_->want_write() ? EPOLLOUT : EPOLLIN);
    }
    return 0;
  }

  static int on_deadline(sd_event_source*, std::uint64_t, void* userdata) {
    auto& self = *static_cast<TcpRunner*>(userdata);
    self.attempt_->on_timeout(self.timeout_, mono_now());
    self.deliver(*self.attempt_->done());
    return 0;
  }

  void deliver(CheckOutcome out) {
    // Disabling a source from its own callback is allowed: sd-event holds a
    // reference while it dispatches.
    io_.reset();
    deadline_.reset();
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(out));
  }

  sd_event* event_;
  Millis timeout_;
  TcpAddress address_;
  DialogMaker maker_;
  std::optional<TcpAttempt> attempt_;
  SdEventSourcePtr io_, deadline_;
  Done done_;
};

const TcpSettings& tcp(const CheckSpec& c) {
  return c.settings.as<TcpSettings>();
}

}  // namespace

void validate_tcp_address(const std::string& address, const char* kind, const char* example, KeyProblems& problems) {
  if (address.empty()) {
    problems.missing("address", std::string("a ") + kind + " check needs an address, e.g. \"" + example + "\"");
  } else if (auto a = parse_tcp_address(address); !a) {
    problems.bad("address", a.error().message);
  }
}

std::unique_ptr<CheckRunner> make_tcp_runner(CheckContext& context, const CheckSpec& check, const std::string& address,
                                             DialogMaker make_dialog) {
  // The address was validated with the config.
  return std::make_unique<TcpRunner>(context.event(), check.timeout, *parse_tcp_address(address),
                                     std::move(make_dialog));
}

const CheckKindInfo& tcp_check_kind() {
  static const std::array<Key<KindSettings>, 3> keys = {
      kind_key<&TcpSettings::address>("address", ValueType::kText, 0, 0,
                                      "HOST:PORT with a numeric host or localhost, e.g. \"127.0.0.1:22\""),
      kind_key<&TcpSettings::send>("send", ValueType::kText, 0, 0, "text to send once connected"),
      kind_key<&TcpSettings::expect>("expect", ValueType::kText, 0, 0, "text the answer must contain"),
  };
  static const CheckKindInfo info{
      CheckKind::kTcp,
      "Connects to address; with send, sends it; with expect, passes when the answer contains it, else when "
      "the connection is made. Samples tcp_connect_seconds.",
      keys,
      [] { return KindSettings::of(TcpSettings{}); },
      [](const CheckSpec& c, KeyProblems& p) { validate_tcp_address(tcp(c).address, "tcp", "127.0.0.1:22", p); },
      [](CheckContext& context, const CheckSpec& c) {
        TcpDialog dialog;
        dialog.request = tcp(c).send;
        if (!tcp(c).expect.empty()) {
          dialog.judge = expect_substring(tcp(c).expect);
          dialog.awaiting = "no \"" + printable_excerpt(tcp(c).expect, 40) + "\" yet";
        }
        return make_tcp_runner(context, c, tcp(c).address, [dialog] { return Result<TcpDialog>(dialog); });
      },
  };
  return info;
}

}  // namespace vigil
