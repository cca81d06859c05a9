// Alert latency (issue 4). Prints figures; never fails on timing.
//
// An http check (interval 1s, fail_after 1) watches the test server's
// /health; the endpoint is switched to 503 at a random point of the check
// interval, and the time until Alertmanager's webhook receives the firing
// CheckFailed notification is measured (Alertmanager: group_wait 0s, no
// grouping). 20 trials (VIGIL_BENCH_TRIALS changes it):
//   figure alert_latency_min_ms
//   figure alert_latency_median_ms
//   figure alert_latency_p99_ms
// The path: the next check run sees the 503 -> the check fails -> the rule
// fires -> the outbox row is posted to Alertmanager -> Alertmanager posts
// its webhook. The first step alone averages half an interval (0.5 s).
#define BOOST_TEST_MODULE bench_alerting
#include <algorithm>
#include <cstdio>
#include <random>

#include "tests/integration/alertmanager.hpp"

using namespace harness;

namespace {

void figure(const std::string& name, double value, int decimals, const std::string& unit) {
  std::printf("figure %s %.*f%s%s\n", name.c_str(), decimals, value, unit.empty() ? "" : " ", unit.c_str());
}

void set_health_mode(const Httpd& h, const std::string& mode) {
  std::string answer = http_request(h.port, "POST", "/control/health?mode=" + mode);
  BOOST_REQUIRE_MESSAGE(answer.find("mode " + mode) != std::string::npos, answer);
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Nearest rank.
double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

BOOST_AUTO_TEST_CASE(alert_latency) {
  if (!fs::exists(kAlertmanager)) {
    std::printf("skipped: %s is not installed\n", kAlertmanager);
    return;
  }
  int trials = 20;
  if (const char* t = std::getenv("VIGIL_BENCH_TRIALS")) trials = std::max(1, std::atoi(t));
  Httpd service, sink;
  Alertmanager am(sink.url("/hook"));
  Vigil v("[alerting]\nheartbeat = false\n[[alertmanager]]\nurl = \"" + am.url() +
          "\"\n[[check]]\nname = \"web\"\ntarget = \"gw\"\nkind = \"http\"\nurl = \"" + service.url("/health") +
          "\"\nfail_after = 1\nrecover_after = 1\ninterval = \"1s\"\ntimeout = \"500ms\"\n");
  v.start();
  std::this_thread::sleep_for(2s);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> offset(0, 999);
  std::vector<double> latencies;
  for (int i = 0; i < trials; ++i) {
    std::size_t before = accepted_alerts(sink, "CheckFailed").size();
    std::this_thread::sleep_for(std::chrono::milliseconds(offset(rng)));
    const long long down = now_ms();
    set_health_mode(service, "status-503");
    BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return accepted_alerts(sink, "CheckFailed").size() > before; }), v.log());
    // The receive time of the first new firing notification.
    auto all = hooks(sink);
    long long received = 0;
    std::size_t seen = 0;
    for (const auto& hk : all) {
      if (hk.status >= 300 || !hk.body.is_object()) continue;
      for (const auto& a : hk.body["alerts"]) {
        if (a["labels"].value("alertname", "") != "CheckFailed") continue;
        if (++seen > before && received == 0 && a.value("status", "") == "firing") received = hk.ms;
      }
    }
    BOOST_REQUIRE(received > 0);
    latencies.push_back(static_cast<double>(received - down));
    std::printf("trial %d: %lld ms\n", i + 1, received - down);
    set_health_mode(service, "ok");
    // Resolved, and past Alertmanager's group_interval (1s) before the next trial.
    const std::size_t with_resolved = accepted_alerts(sink, "CheckFailed").size() + 1;
    BOOST_REQUIRE(wait_for(15s, [&] { return accepted_alerts(sink, "CheckFailed").size() >= with_resolved; }));
    std::this_thread::sleep_for(1200ms);
  }
  BOOST_REQUIRE(v.stop() == 0);
  figure("alert_latency_min_ms", *std::min_element(latencies.begin(), latencies.end()), 0, "ms");
  figure("alert_latency_median_ms", percentile(latencies, 0.5), 0, "ms");
  figure("alert_latency_p99_ms", percentile(latencies, 0.99), 0, "ms");
}
