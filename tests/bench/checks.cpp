// Benchmarks of the checks (issue 3). Prints figures; never fails on timing.
//
// http_500: 500 http checks at a 1 s interval against the local test
// server for 60 s (VIGIL_BENCH_SECONDS shortens it), with a new connection
// per run (the default; figures http_500_*) and again with
// reuse_connection = true (http_500_reuse_*):
//   figure http_500_cpu_percent        vigild's CPU, % of one core
//   figure http_500_rss_mib            vigild's peak RSS (VmHWM)
//   figure http_500_loop_lag_p50_ms    timer lag (callback time - due time),
//   figure http_500_loop_lag_p99_ms      from vigild's vigil_loop_lag_seconds histogram
//   figure http_500_checks_per_second  check results stored per second
//   figure http_500_ok_ratio           share of those results that passed
//   figure http_500_cpu_ms_per_probe   vigild's CPU per check run (ms), every
//                                      sample stored; checks_cpu_ms_per_probe
//                                      is that figure for the default settings
// detect: the endpoint's server is killed at a random point of the 1 s
// interval (fail_after = 1); time from the kill to the check_failed event,
// 20 trials:
//   figure http_detect_min_ms / http_detect_median_ms / http_detect_p99_ms
#define BOOST_TEST_MODULE bench_checks
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

// One figure alone on a line: "figure NAME VALUE UNIT".
void figure(const std::string& name, double value, int decimals, const std::string& unit) {
  std::printf("figure %s %.*f%s%s\n", name.c_str(), decimals, value, unit.empty() ? "" : " ", unit.c_str());
}

struct Server {
  Child child;
  int port = 0;
  static Server start(const TempDir& dir, int port = 0) {
    Server s;
    std::string port_file = dir / "httpd.port";
    ::unlink(port_file.c_str());
    std::vector<std::string> argv = {env_path("VIGIL_TEST_HTTPD"), "--port-file", port_file};
    if (port != 0) {
      argv.push_back("--port");
      argv.push_back(std::to_string(port));
    }
    s.child = Child::start(argv, {}, dir / "httpd.log");
    BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !slurp(port_file).empty(); }), slurp(dir / "httpd.log"));
    s.port = std::stoi(slurp(port_file));
    return s;
  }
};

// The newest value of each bucket of vigild's loop-lag histogram, by le.
std::map<double, double> lag_buckets(Vigil& v) {
  std::map<double, double> out;
  auto j = v.cli_json({"query", "vigil_loop_lag_seconds_bucket", "--since", "30s"});
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    if (s["points"].empty()) continue;
    std::string le = s["labels"]["le"].get<std::string>();
    double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le);
    out[bound] = s["points"].back()["value"].get<double>();
  }
  return out;
}

// histogram_quantile() as Prometheus computes it: linear within the bucket.
double quantile(double q, const std::map<double, double>& cumulative) {
  if (cumulative.empty()) return std::numeric_limits<double>::quiet_NaN();
  double total = cumulative.rbegin()->second;
  if (total <= 0) return std::numeric_limits<double>::quiet_NaN();
  double rank = q * total, lower = 0, below = 0;
  for (const auto& [bound, count] : cumulative) {
    if (count >= rank) {
      if (std::isinf(bound)) return lower;  // beyond the last finite bound
      return lower + (bound - lower) * (count - below > 0 ? (rank - below) / (count - below) : 0);
    }
    lower = bound;
    below = count;
  }
  return lower;
}

double sum_latest(Vigil& v, const std::string& metric, const std::string& since) {
  double n = 0;
  auto j = v.cli_json({"query", metric, "--since", since});
  if (!j.is_array()) return 0;
  for (const auto& s : j) n += static_cast<double>(s["points"].size());
  return n;
}

}  // namespace

namespace {

void http_500(const std::string& name, bool reuse) {
  const int seconds = std::getenv("VIGIL_BENCH_SECONDS") ? std::atoi(std::getenv("VIGIL_BENCH_SECONDS")) : 60;
  TempDir tmp;
  Server server = Server::start(tmp);
  std::string checks;
  for (int i = 0; i < 500; ++i) {
    checks += "[[check]]\nname = \"h" + std::to_string(i) +
              "\"\ntarget = \"bench\"\nkind = \"http\"\n"
              "url = \"http://127.0.0.1:" +
              std::to_string(server.port) +
              "/health\"\ninterval = \"1s\"\n"
              "timeout = \"5s\"\n" +
              (reuse ? "reuse_connection = true\n" : "");
  }
  Vigil v(checks, "status_interval = \"1s\"\n[host]\nenabled = false\n");
  v.start({{"VIGIL_DAEMON_FLUSH_INTERVAL", "1s"}, {"MALLOC_PERTURB_", ""}});
  BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return sum_latest(v, "check_up", "5s") > 500; }),
                        "vigild did not run the checks\n"
                            << v.log());
  std::this_thread::sleep_for(3s);  // past start-up
  auto lag0 = lag_buckets(v);
  double cpu0 = cpu_seconds(v.daemon.pid());
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double cpu1 = cpu_seconds(v.daemon.pid());
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(1500ms);  // the next self-metrics round and flush
  auto lag1 = lag_buckets(v);
  double hwm_mib = status_kib(v.daemon.pid(), "VmHWM") / 1024.0;
  // Results of the measured window (check_up points), and how many passed.
  double results = 0, passed = 0;
  auto j = v.cli_json({"query", "check_up", "--since", std::to_string(seconds) + "s"});
  if (j.is_array()) {
    for (const auto& s : j) {
      for (const auto& p : s["points"]) {
        results += 1;
        passed += p["value"].get<double>();
      }
    }
  }
  v.stop();
  std::map<double, double> window;
  for (const auto& [bound, count] : lag1) window[bound] = count - (lag0.count(bound) ? lag0.at(bound) : 0);

  std::printf("measured %d s: 500 http checks at 1s against 127.0.0.1:%d/health, %s\n", seconds, server.port,
              reuse ? "reusing connections" : "a new connection per run (the default)");
  std::printf("lag histogram (le: timers in window):");
  for (const auto& [bound, count] : window) std::printf(" %g:%.0f", bound, count);
  std::printf("\n");
  figure(name + "_cpu_percent", (cpu1 - cpu0) / elapsed * 100.0, 2, "%");
  figure(name + "_rss_mib", hwm_mib, 2, "MiB");
  figure(name + "_loop_lag_p50_ms", quantile(0.5, window) * 1000, 3, "ms");
  figure(name + "_loop_lag_p99_ms", quantile(0.99, window) * 1000, 3, "ms");
  figure(name + "_checks_per_second", results / static_cast<double>(seconds), 0, "checks/s");
  figure(name + "_ok_ratio", results > 0 ? passed / results : 0.0, 4, "");
  // vigild's CPU per check run: every result stored, the default settings.
  const double ms_per_probe = results > 0 ? (cpu1 - cpu0) * 1000.0 / (results * elapsed / seconds) : 0.0;
  figure(name + "_cpu_ms_per_probe", ms_per_probe, 4, "ms");
  if (!reuse) figure("checks_cpu_ms_per_probe", ms_per_probe, 4, "ms");
  std::fflush(stdout);
  BOOST_TEST(results > 0);  // it ran at all: a broken daemon is not a fast one
}

}  // namespace

BOOST_AUTO_TEST_CASE(http_500_new_connections) {
  http_500("http_500", false);
}

// The same with reuse_connection = true: the cost of opening a connection per run.
BOOST_AUTO_TEST_CASE(http_500_reused_connections) {
  http_500("http_500_reuse", true);
}

BOOST_AUTO_TEST_CASE(detect) {
  const int trials = std::getenv("VIGIL_BENCH_TRIALS") ? std::atoi(std::getenv("VIGIL_BENCH_TRIALS")) : 20;
  TempDir tmp;
  Server server = Server::start(tmp);
  const int port = server.port;
  Vigil v("[[check]]\nname = \"health\"\ntarget = \"gw\"\nkind = \"http\"\nurl = \"http://127.0.0.1:" +
              std::to_string(port) +
              "/health\"\ninterval = \"1s\"\ntimeout = \"900ms\"\nfail_after = 1\n"
              "recover_after = 1\n",
          "[host]\nenabled = false\n");
  v.start({{"MALLOC_PERTURB_", ""}});
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return v.events("check_ok").size() == 1; }), v.log());
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> phase(0, 999);
  std::vector<double> latencies;
  for (int t = 0; t < trials; ++t) {
    std::size_t failed_before = v.events("check_failed").size();
    std::size_t ok_before = v.events("check_ok").size();
    std::this_thread::sleep_for(std::chrono::milliseconds(phase(rng)));
    auto wall_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
    const auto killed_ms = wall_ms();
    server.child.signal(SIGKILL);
    server.child.wait(2s);
    BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return v.events("check_failed").size() > failed_before; }), v.log());
    auto ev = v.events("check_failed").back();
    latencies.push_back(static_cast<double>(ev["ts"].get<long long>() - killed_ms));
    server = Server::start(tmp, port);
    BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return v.events("check_ok").size() > ok_before; }), v.log());
  }
  v.stop();
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencies.size())));
    return latencies[std::min(latencies.size() - 1, i == 0 ? 0 : i - 1)];
  };
  std::printf("detection latencies (ms):");
  for (double l : latencies) std::printf(" %.0f", l);
  std::printf("\n");
  std::printf("figure http_detect_min_ms %.0f ms\n", latencies.front());
  std::printf("figure http_detect_median_ms %.0f ms\n", at(0.5));
  std::printf("figure http_detect_p99_ms %.0f ms\n", at(0.99));
  std::fflush(stdout);
  BOOST_TEST(latencies.size() == static_cast<std::size_t>(trials));
}
