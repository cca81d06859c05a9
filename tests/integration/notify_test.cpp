// The sd_notify protocol, read from a unix datagram socket set as NOTIFY_SOCKET.
#define BOOST_TEST_MODULE integration_notify
#include <sys/socket.h>
#include <sys/un.h>

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

struct NotifySocket {
  int fd = -1;
  std::string path;
  explicit NotifySocket(const std::string& p) : path(p) {
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    BOOST_REQUIRE(path.size() < sizeof addr.sun_path);
    std::strcpy(addr.sun_path, path.c_str());
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() { close(fd); }

  // All datagrams until `until` is seen (inclusive) or the timeout passes.
  std::vector<std::string> read_until(const std::string& until, std::chrono::milliseconds timeout) {
    std::vector<std::string> out;
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      fd_set set;
      FD_ZERO(&set);
      FD_SET(fd, &set);
      timeval tv{0, 50'000};
      if (select(fd + 1, &set, nullptr, nullptr, &tv) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string msg(buf, static_cast<std::size_t>(n));
      out.push_back(msg);
      if (msg.find(until) != std::string::npos) break;
    }
    return out;
  }
};

bool contains(const std::vector<std::string>& msgs, const std::string& what) {
  for (const auto& m : msgs) {
    if (m.find(what) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ready_watchdog_status_stopping) {
  Vigil v("");
  NotifySocket sock(v.dir / "notify.sock");
  v.start({{"NOTIFY_SOCKET", sock.path}, {"WATCHDOG_USEC", "400000"}});

  auto first = sock.read_until("READY=1", 5s);
  BOOST_REQUIRE_MESSAGE(contains(first, "READY=1"), "no READY=1 within 5 s\n" << v.log());
  // READY comes after the store is open and the first samples are queued:
  // they are readable right after the next flush.
  BOOST_TEST(wait_for(2s, [&] { return !v.cli_json({"query", "host_load1"}).empty(); }));

  // sd-event pings at half of WATCHDOG_USEC, again and again while the loop turns.
  std::vector<std::string> later;
  int pings = 0;
  for (int i = 0; i < 2; ++i) {
    auto got = sock.read_until("WATCHDOG=1", 10s);
    for (const auto& m : got) pings += m.find("WATCHDOG=1") != std::string::npos ? 1 : 0;
    later.insert(later.end(), got.begin(), got.end());
  }
  BOOST_TEST(pings >= 2, "only " << pings << " WATCHDOG=1 in 20 s");
  std::vector<std::string> all = first;
  all.insert(all.end(), later.begin(), later.end());
  BOOST_TEST(contains(all, "STATUS=watching 0 targets"));

  v.daemon.signal(SIGTERM);
  auto last = sock.read_until("STOPPING=1", 3s);
  BOOST_TEST(contains(last, "STOPPING=1"));
  auto st = v.daemon.wait(3s);
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}

BOOST_AUTO_TEST_CASE(without_notify_socket_it_runs_the_same) {
  Vigil v("");
  v.start({{"NOTIFY_SOCKET", ""}, {"WATCHDOG_USEC", ""}});
  BOOST_TEST(wait_for(3s, [&] { return !v.cli_json({"query", "host_load1"}).empty(); }));
  auto st = v.stop();
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}
