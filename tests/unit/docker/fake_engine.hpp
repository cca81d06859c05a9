// tests/unit/docker/fake_engine.hpp: a peer of the test's own on a unix
// socket, for what a real engine never does on purpose (stalls, endless or
// truncated answers, garbage in the events stream, an API from 2015,
// answers that overtake one another).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/docker/loop.hpp"

namespace vigil::testing {

// A peer on a unix socket that answers HTTP/1.1 requests with what its
// handler says: the raw bytes to send (nullopt: say nothing, hold the
// connection open), after a delay if asked (answers then overtake one
// another, as a real engine's do when requests run side by side), then
// whether to close.
class FakeEngine {
 public:
  struct Reply {
    Reply(std::optional<std::string> b = std::nullopt, bool c = false) : bytes(std::move(b)), close(c) {}
    std::optional<std::string> bytes;
    bool close = false;
    std::vector<std::string> pieces;     // sent one at a time after `bytes` (a stream)
    std::chrono::milliseconds after{0};  // sent this long after the request came
  };
  using Handler = std::function<Reply(const std::string& request_line)>;

  explicit FakeEngine(Handler handler) : dir_(temp_dir()), path_(dir_ + "/engine.sock"), handler_(std::move(handler)) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    BOOST_TEST_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_TEST_REQUIRE(::listen(listener_, 16) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeEngine() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static std::string json_answer(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  const std::string& path() const { return path_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  struct Deferred {
    std::chrono::steady_clock::time_point due;
    int fd;
    Reply reply;
  };

  // Sends `reply` on `c`; false when it closed the connection.
  bool send_reply(int c, const Reply& reply) {
    write_all(c, *reply.bytes);
    for (const auto& piece : reply.pieces) write_all(c, piece);
    if (reply.close) ::close(c);
    return !reply.close;
  }

  void serve() {
    std::vector<int> conns;
    std::map<int, std::string> pending;
    std::vector<Deferred> deferred;
    while (!stop_) {
      const auto now = std::chrono::steady_clock::now();
      for (auto it = deferred.begin(); it != deferred.end();) {
        if (it->due > now) {
          ++it;
          continue;
        }
        if (!send_reply(it->fd, it->reply)) conns.erase(std::find(conns.begin(), conns.end(), it->fd));
        it = deferred.erase(it);
      }
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (int c : conns) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if ((fds[0].revents & POLLIN) != 0) conns.push_back(::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC));
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        const int c = fds[i].fd;
        char buf[4096];
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) {
          ::close(c);
          conns.erase(std::find(conns.begin(), conns.end(), c));
          deferred.erase(std::remove_if(deferred.begin(), deferred.end(), [c](const Deferred& d) { return d.fd == c; }),
                         deferred.end());
          continue;
        }
        std::string& p = pending[c];
        p.append(buf, static_cast<std::size_t>(n));
        const auto end = p.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        const std::string line = p.substr(0, p.find("\r\n"));
        p.erase(0, end + 4);
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(line);
        }
        Reply reply = handler_(line);
        if (!reply.bytes) continue;  // hold it, say nothing
        if (reply.after.count() > 0) {
          deferred.push_back({std::chrono::steady_clock::now() + reply.after, c, std::move(reply)});
          continue;
        }
        if (!send_reply(c, reply)) conns.erase(std::find(conns.begin(), conns.end(), c));
      }
    }
    for (int c : conns) ::close(c);
  }

  static void write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  std::string dir_, path_;
  Handler handler_;
  int listener_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

inline const std::string kVersion141 =
    R"({"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux"})";

// `data` as one chunk of a chunked body.
inline std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

}  // namespace vigil::testing
