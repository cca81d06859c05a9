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
//
// Then a server whose process is killed (issue 14): the test server is the
// target (a pidfile), its http check (interval 1s, fail_after 1) watches
// it, and it is killed (SIGKILL) at a random point of the interval; the
// time until the webhook receives the firing CheckFailed:
//   figure endpoint_process_killed_to_alert_ms (median; target <= 100)
//   figure endpoint_process_killed_to_alert_max_ms
// vigild sees the exit through the process's pidfd and runs the target's
// checks at once, rather than at the check's next interval. Each trial has
// an Alertmanager of its own (restarted on the same port), so that its
// notification is the first of its group (see below).
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
  Vigil v(stand_in_target("gw") + "[alerting]\nheartbeat = false\n[[alertmanager]]\nurl = \"" + am.url() +
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

// Picks out, from the webhook's log, when the first firing CheckFailed
// after the first `before` ones arrived (0: none yet).
namespace {
long long first_new_firing(const Httpd& sink, std::size_t before) {
  std::size_t seen = 0;
  for (const auto& hk : hooks(sink)) {
    if (hk.status >= 300 || !hk.body.is_object()) continue;
    for (const auto& a : hk.body["alerts"]) {
      if (a["labels"].value("alertname", "") != "CheckFailed") continue;
      if (++seen > before && a.value("status", "") == "firing") return hk.ms;
    }
  }
  return 0;
}
}  // namespace

BOOST_AUTO_TEST_CASE(endpoint_process_killed_to_alert) {
  if (!fs::exists(kAlertmanager)) {
    std::printf("skipped: %s is not installed\n", kAlertmanager);
    return;
  }
  int trials = 20;
  if (const char* t = std::getenv("VIGIL_BENCH_TRIALS")) trials = std::max(1, std::atoi(t));
  Httpd sink;
  const int am_port = free_port();
  auto am = std::make_unique<Alertmanager>(sink.url("/hook"), am_port);
  TempDir dir;
  const std::string pidfile = dir / "server.pid";
  const int port = free_port();
  auto server = std::make_unique<Httpd>(std::vector<std::string>{"--port", std::to_string(port)});
  write_file(pidfile, std::to_string(server->child.pid()) + "\n");
  Vigil v("[alerting]\nheartbeat = false\n[[alertmanager]]\nurl = \"" + am->url() +
          "\"\n[[target]]\nname = \"web\"\npidfile = \"" + pidfile +
          "\"\nalert = false\n  [[target.check]]\n  name = \"health\"\n  kind = \"http\"\n  url = \"http://127.0.0.1:" +
          std::to_string(port) +
          "/health\"\n  fail_after = 1\n  recover_after = 1\n  interval = \"1s\"\n  timeout = \"500ms\"\n");
  v.start();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> offset(0, 999);
  std::vector<double> latencies;
  for (int i = 0; i < trials; ++i) {
    // vigild watches this server's process (the pidfile is read every
    // round) and its check passes.
    BOOST_REQUIRE_MESSAGE(wait_for(15s,
                                   [&] {
                                     // (a restart when no round saw it absent)
                                     return static_cast<int>(target_events(v, "target_appeared", "web").size() +
                                                             target_events(v, "target_restarted", "web").size()) ==
                                            i + 1;
                                   }),
                          v.log());
    BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return static_cast<int>(v.events("check_ok").size()) == i + 1; }),
                          v.log());
    // A fresh Alertmanager on the same port: the alert is the first of its
    // group, notified at once (group_wait 0s). In one that notified this
    // group before, a new firing waits for the group's next flush
    // (group_interval), which is Alertmanager's time, not vigild's.
    am.reset();
    am = std::make_unique<Alertmanager>(sink.url("/hook"), am_port);
    const std::size_t before = accepted_alerts(sink, "CheckFailed").size();
    std::this_thread::sleep_for(std::chrono::milliseconds(offset(rng)));  // a random point of the interval
    const long long killed = now_ms();
    server->child.signal(SIGKILL);
    BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return first_new_firing(sink, before) > 0; }), v.log());
    const long long received = first_new_firing(sink, before);
    latencies.push_back(static_cast<double>(received - killed));
    std::printf("trial %d: %lld ms\n", i + 1, received - killed);
    // The next server on the same port: the check recovers, the alert
    // resolves, Alertmanager's group_interval (1s) passes.
    server->child.wait(5s);
    server = std::make_unique<Httpd>(std::vector<std::string>{"--port", std::to_string(port)});
    write_file(pidfile, std::to_string(server->child.pid()) + "\n");
    const std::size_t with_resolved = accepted_alerts(sink, "CheckFailed").size() + 1;
    BOOST_REQUIRE(wait_for(15s, [&] { return accepted_alerts(sink, "CheckFailed").size() >= with_resolved; }));
  }
  BOOST_REQUIRE(v.stop() == 0);
  figure("endpoint_process_killed_to_alert_ms", percentile(latencies, 0.5), 0, "ms");
  figure("endpoint_process_killed_to_alert_max_ms", *std::max_element(latencies.begin(), latencies.end()), 0, "ms");
}
