// Hostile endpoints (issue 13), shared by tests/integration/hostile_test.cpp
// and tests/bench/hostile.cpp: one vigild with a check of every network kind
// against a peer that misbehaves, all at once.
//
//   http        slowloris (a byte a second), a 1 GB body, an endless chunked
//               body, a redirect loop, a TLS handshake that stalls, a server
//               that accepts and never answers, a server that sends garbage
//   prometheus  an endless chunked exposition
//   tcp         a peer that never answers `send`, one that streams garbage
//   redis       a peer that sends garbage, one that never answers
//   postgres    the same
//
// The test server (tests/helpers/httpd.cpp) serves the HTTP cases;
// HostilePeer below serves the raw ones.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <random>
#include <thread>

#include "tests/integration/harness.hpp"

namespace harness {

// A loopback server that accepts every connection and then either never
// writes a byte (kSilent: a stalled TLS handshake, a hung server) or writes
// pseudo-random bytes as fast as the peer reads them (kGarbage), reading and
// discarding what it is sent, until the peer closes.
class HostilePeer {
 public:
  enum class Mode { kSilent, kGarbage };
  explicit HostilePeer(Mode mode) : mode_(mode) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    BOOST_REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(fd_, 128) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HostilePeer() {
    stop_ = true;
    thread_.join();
    for (int c : clients_) ::close(c);
    ::close(fd_);
  }
  HostilePeer(const HostilePeer&) = delete;
  HostilePeer& operator=(const HostilePeer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  int port = 0;

 private:
  void serve() {
    std::mt19937 rng(42);
    std::vector<char> junk(16 * 1024);
    for (auto& c : junk) c = static_cast<char>(rng());
    std::vector<char> sink(64 * 1024);
    while (!stop_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (int c : clients_) {
        fds.push_back({c, static_cast<short>(POLLIN | (mode_ == Mode::kGarbage ? POLLOUT : 0)), 0});
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      std::vector<int> keep;
      for (std::size_t i = 1; i < fds.size(); ++i) {
        const int c = fds[i].fd;
        bool open = (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
        if (open && (fds[i].revents & POLLIN) != 0) {
          const ssize_t n = ::read(c, sink.data(), sink.size());
          if (n == 0 || (n < 0 && errno != EAGAIN)) open = false;
        }
        if (open && (fds[i].revents & POLLOUT) != 0) {
          const ssize_t n = ::send(c, junk.data(), junk.size(), MSG_NOSIGNAL);
          if (n < 0 && errno != EAGAIN) open = false;
        }
        if (open) {
          keep.push_back(c);
        } else {
          ::close(c);
        }
      }
      if ((fds[0].revents & POLLIN) != 0) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) keep.push_back(c);
      }
      clients_ = std::move(keep);
    }
  }

  Mode mode_;
  int fd_ = -1;
  std::vector<int> clients_;  // owned by the serving thread until it stops
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The hostile checks: (name, what the reason must say). Every check's
// timeout is 2 s.
struct HostileSetup {
  Httpd http;
  HostilePeer silent{HostilePeer::Mode::kSilent};
  HostilePeer garbage{HostilePeer::Mode::kGarbage};

  std::string config() const {
    auto check = [](const std::string& name, const std::string& kind, const std::string& keys) {
      return "[[check]]\ntarget = \"edge\"\nname = \"" + name + "\"\nkind = \"" + kind +
             "\"\ninterval = \"2s\"\ntimeout = \"2s\"\nfail_after = 1\nrecover_after = 1\n" + keys + "\n";
    };
    auto url = [](const std::string& u) { return "url = \"" + u + "\"\n"; };
    auto address = [](const HostilePeer& p) { return "address = \"" + p.address() + "\"\n"; };
    return stand_in_target("edge") +  //
           check("slowloris", "http", url(http.url("/drip?bytes=100000&interval_ms=1000"))) +
           check("gigabyte", "http", url(http.url("/big?bytes=1073741824"))) +
           check("endless_chunked", "http", url(http.url("/big?bytes=1099511627776&chunked=1"))) +
           check("redirect_loop", "http", url(http.url("/redirect-loop")) + "follow_redirects = 10\n") +
           check("tls_stall", "http", url("https://" + silent.address() + "/health")) +
           check("never_answers", "http", url("http://" + silent.address() + "/health")) +
           check("http_garbage", "http", url("http://" + garbage.address() + "/health")) +
           check("endless_exposition", "prometheus",
                 url(http.url("/big?bytes=1099511627776&chunked=1")) + "metrics = [\"*\"]\n") +
           check("tcp_never_answers", "tcp", address(silent) + "send = \"PING\\r\\n\"\nexpect = \"PONG\"\n") +
           check("tcp_garbage", "tcp", address(garbage) + "send = \"PING\\r\\n\"\nexpect = \"PONG\"\n") +
           check("redis_garbage", "redis", address(garbage)) + check("redis_never_answers", "redis", address(silent)) +
           check("postgres_garbage", "postgres", address(garbage)) +
           check("postgres_never_answers", "postgres", address(silent));
  }
};

inline const std::vector<std::string>& hostile_checks() {
  static const std::vector<std::string> names = {"slowloris",         "gigabyte",
                                                 "endless_chunked",   "redirect_loop",
                                                 "tls_stall",         "never_answers",
                                                 "http_garbage",      "endless_exposition",
                                                 "tcp_never_answers", "tcp_garbage",
                                                 "redis_garbage",     "redis_never_answers",
                                                 "postgres_garbage",  "postgres_never_answers"};
  return names;
}

}  // namespace harness
