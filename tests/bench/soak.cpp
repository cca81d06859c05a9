// Soak (issue 13): vigild with 20 targets, 50 checks and the alert engine at
// the shortest interval (100 ms: sampling, checks and rules), for
// VIGIL_SOAK_SECONDS (default 1800: 18,000 cycles; 100,000 cycles are
// VIGIL_SOAK_SECONDS=10000). vigild's RSS, open fds and threads are read after
// a warm-up (a tenth of the run, at least 60 s) and at the end. Prints, never
// fails on a figure:
//   figure soak_cycles N count                 host samples taken (one per cycle)
//   figure soak_rss_warm_mib N MiB             VmRSS after the warm-up (the median of 60
//                                              reads over 30 s: the sample queue fills and
//                                              empties once per flush)
//   figure soak_rss_end_mib N MiB              VmRSS at the end, likewise
//   figure soak_rss_growth_percent N %         end over warm-up; target < 1 %
//   figure soak_heap_warm_mib, soak_heap_end_mib, soak_heap_growth_percent
//                                              malloc's heap in use (vigild's own
//                                              vigil_heap_in_use_bytes, the least of the
//                                              last 5 min): a leak shows here first
//   figure soak_fds_growth N count             open fds, end minus warm-up, without the
//                                              /proc/PID/stat fds kept per host process;
//                                              each the fewest of 20 reads over 2 s (fds of
//                                              checks in flight come and go)
//   figure soak_fds_growth_percent N %         the same over the warm-up count; target < 1 %
//   figure soak_threads_growth N count         threads, end minus warm-up
// Half the checks fail and recover in turn (the test server's /health flips
// every 10 s), so alerts fire and resolve into a webhook throughout.
#define BOOST_TEST_MODULE bench_soak
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

// vigild's open fds, without the /proc/PID/stat files it keeps open for
// every process of the host (their number follows the host's processes,
// not vigild's health): (others, kept /proc fds).
std::pair<std::size_t, std::size_t> open_fds(pid_t pid) {
  std::size_t others = 0, proc = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string target = fs::read_symlink(it->path(), ec).string();
    (target.rfind("/proc/", 0) == 0 ? proc : others) += 1;
  }
  return {others, proc};
}

// The fewest of open_fds() over 2 s (20 reads): fds of checks in flight
// come and go (50 checks every 100 ms), what stays is what was kept.
std::pair<std::size_t, std::size_t> kept_fds(pid_t pid) {
  auto least = open_fds(pid);
  for (int i = 1; i < 20; ++i) {
    std::this_thread::sleep_for(100ms);  // the sampling period, not a sync
    const auto now = open_fds(pid);
    least = {std::min(least.first, now.first), std::min(least.second, now.second)};
  }
  return least;
}

// VmRSS in MiB, the median of 60 readings over 30 s: the sample queue fills
// and empties once per flush (a second here) and free heap is given back
// every 10 s, so one reading would land anywhere in that swing; 30 s spans
// both cycles.
double rss_mib(pid_t pid) {
  std::vector<double> r;
  for (int i = 0; i < 60; ++i) {
    if (i > 0) std::this_thread::sleep_for(500ms);  // the sampling period, not a sync
    r.push_back(status_kib(pid, "VmRSS") / 1024.0);
  }
  std::sort(r.begin(), r.end());
  return r[r.size() / 2];
}

// vigild's heap in use (its own vigil_heap_in_use_bytes, every 10 s): the
// least of the last 5 minutes, in MiB: what it holds with the sample queue
// at its emptiest, which a leak raises and the queue's swing does not.
double heap_mib(Vigil& v) {
  double least = 0;
  const auto j = v.cli_json({"query", "vigil_heap_in_use_bytes", "--since", "5m"});
  if (j.is_array()) {
    for (const auto& series : j) {
      for (const auto& p : series["points"]) {
        const double mib = p["value"].get<double>() / (1024.0 * 1024.0);
        if (least == 0 || mib < least) least = mib;
      }
    }
  }
  return least;
}

}  // namespace

BOOST_AUTO_TEST_CASE(soak) {
  const char* env = std::getenv("VIGIL_SOAK_SECONDS");
  const int seconds = env != nullptr ? std::atoi(env) : 1800;
  const int warmup = std::max(60, seconds / 10);
  Httpd steady, flapping, hook;
  TempDir tmp;
  std::vector<Child> workers;
  std::string config = "[host]\ninterval = \"100ms\"\n[alerting]\nresend_interval = \"5s\"\n[[webhook]]\nurl = \"" +
                       hook.url("/hook") + "\"\n";
  for (int i = 0; i < 20; ++i) {
    const std::string name = "w" + std::to_string(i);
    const std::string pidfile = tmp / (name + ".pid");
    workers.push_back(Child::start({env_path("MEMHOG"), "--pidfile", pidfile, "--tag", name, "--idle"}));
    config += "[[target]]\nname = \"" + name + "\"\npidfile = \"" + pidfile + "\"\ninterval = \"100ms\"\n";
    // 50 checks: 2 or 3 per target, http and tcp, half of them on the
    // flapping server.
    const int checks = i < 10 ? 3 : 2;
    for (int c = 0; c < checks; ++c) {
      const Httpd& server = c == 0 ? steady : flapping;
      config +=
          "  [[target.check]]\n  name = \"c" + std::to_string(c) + "\"\n  interval = \"100ms\"\n  timeout = \"1s\"\n";
      if (c == 2) {
        config += "  kind = \"tcp\"\n  address = \"127.0.0.1:" + std::to_string(server.port) + "\"\n";
      } else {
        config += "  kind = \"http\"\n  url = \"" + server.url("/health") + "\"\n";
      }
    }
  }
  Vigil v(config);
  v.start({{"VIGIL_DAEMON_FLUSH_INTERVAL", "1s"}, {"MALLOC_PERTURB_", ""}});
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return !v.events("check_ok").empty(); }), v.log());

  // Flip the flapping server every 10 s for the whole run.
  auto flip = [&](int n) {
    http_request(flapping.port, "POST", n % 2 == 0 ? "/control/health?mode=status-503" : "/control/health?mode=ok");
  };
  const auto started = Clock::now();
  int flips = 0;
  auto run_until = [&](Clock::time_point end) {
    while (Clock::now() < end) {
      flip(flips++);
      std::this_thread::sleep_until(std::min(end, Clock::now() + 10s));  // the flapping period, not a sync
    }
  };
  run_until(started + std::chrono::seconds(warmup));
  const pid_t pid = v.daemon.pid();
  const double rss_warm = rss_mib(pid);
  const double heap_warm = heap_mib(v);
  const double threads_warm = status_kib(pid, "Threads");
  const auto fds_warm = kept_fds(pid);
  run_until(started + std::chrono::seconds(seconds));
  const double rss_end = rss_mib(pid);
  const double heap_end = heap_mib(v);
  const double threads_end = status_kib(pid, "Threads");
  const auto fds_end = kept_fds(pid);
  auto status = v.cli_json({"status"});
  const double samples = status.is_object() ? status.value("samples", 0.0) : 0.0;
  auto load = v.cli_json({"query", "host_load1", "--since", "24h"});
  std::size_t cycles = 0;
  if (load.is_array()) {
    for (const auto& s : load) cycles += s["points"].size();
  }
  std::printf("samples stored %.0f, health flips %d\n", samples, flips);
  std::printf("figure soak_cycles %zu count\n", cycles);
  std::printf("figure soak_rss_warm_mib %.2f MiB\n", rss_warm);
  std::printf("figure soak_rss_end_mib %.2f MiB\n", rss_end);
  std::printf("figure soak_rss_growth_percent %.2f %%\n", (rss_end - rss_warm) / rss_warm * 100);
  std::printf("figure soak_heap_warm_mib %.2f MiB\n", heap_warm);
  std::printf("figure soak_heap_end_mib %.2f MiB\n", heap_end);
  std::printf("figure soak_heap_growth_percent %.2f %%\n",
              heap_warm > 0 ? (heap_end - heap_warm) / heap_warm * 100 : 0.0);
  const long fds_growth = static_cast<long>(fds_end.first) - static_cast<long>(fds_warm.first);
  std::printf("open fds (fewest over 2 s, without kept /proc fds): %zu after the warm-up, %zu at the end\n",
              fds_warm.first, fds_end.first);
  std::printf("figure soak_fds_growth %ld count\n", fds_growth);
  std::printf("figure soak_fds_growth_percent %.2f %%\n",
              fds_warm.first > 0 ? 100.0 * static_cast<double>(fds_growth) / static_cast<double>(fds_warm.first) : 0.0);
  std::printf("kept /proc fds: %zu after the warm-up, %zu at the end (they follow the host's processes)\n",
              fds_warm.second, fds_end.second);
  std::printf("figure soak_threads_growth %.0f count\n", threads_end - threads_warm);
  BOOST_TEST(v.stop(30s).value_or(-1) == 0);
}
