// Remediation latency (issue 5). Prints figures; never fails on timing, only
// when remediation itself breaks (no incident, no restart, no recovery).
//
// vigild starts vigil-test-svc itself (`start = [...]`, crash detection through
// a pidfd) with one http check of /health (interval 1s, timeout 5s,
// fail_after 2, recover_after 1) and [target.remediate] on = ["health",
// "crash"], actions = ["restart"], max 1000 per 10m, backoff 0s, grace 3s
// (an incident recovers once the service stayed healthy for the grace).
// flap_threshold is raised to 100: the benchmark breaks the service on
// purpose every few seconds, and the flap guard (more than 6 state changes in
// 5 min blocks remediation, by design) would stop the hang trials at the third.
// Times are wall-clock milliseconds on both sides (vigild stores
// system_clock ms), so differences of stored times have a 1 ms resolution.
//
// Crash trials (20; VIGIL_BENCH_TRIALS changes it), each after a random
// 0..999 ms pause so that the crash falls at a random point of the 1 s check
// interval: T0 is taken just before the benchmark sends SIGKILL with kill(2)
// to the pid in the service's ready file.
//   crash_detect_*        target_crashed event ts - T0 (the pidfd wake-up)
//   crash_to_restart_*    the restart action's started_ms - T0
//   crash_to_healthy_*    incident recovered_ms - T0: the first passing
//                         health result after the restart, so with a 1 s
//                         interval mostly the wait for the next check run
//   crash_to_serving_*    the benchmark's own GET /health, at once after the
//                         kill and then every 5 ms, first answered 200 - T0
//                         (a SIGKILLed process never runs again, so any answer
//                         is the new process's); resolution ~5 ms
// min / median / p99 (nearest rank: with 20 trials the p99 is the maximum)
// each; the next trial starts once the incident is recovered and the new
// process has written its ready file.
//
// Hang trials (5; VIGIL_BENCH_HANG_TRIALS changes it; fewer when the time
// budget would run out, see hang_trials): each starts at least 4 s after the
// previous restart finished, past its 3 s grace (in the grace vigild does not
// judge failing results, so a hang there would be seen only when it ends),
// plus a random 0..999 ms. T0 is taken just before GET /control/hang.
//   hang_to_healthy_*     incident recovered_ms - T0 (min / median / max).
// The path: the next check run waits 5 s for its timeout, a second run times
// out too (fail_after 2) -> incident -> restart (SIGTERM, the service exits)
// -> the next check passes. The issue's target is <= 15 s.
//
// Stopped trials (3; VIGIL_BENCH_STOPPED_TRIALS), a vigild of their own with
// the health check at timeout 2s, fail_after 2, and the target's default
// stop_timeout (10s): T0 just before GET /control/signal?sig=STOP (the
// service stops itself: state T, deaf to SIGTERM until continued).
//   hang_stopped_to_restart_ms  median of the restart action's finished_ms
//                               - T0 (the old process gone, the new one
//                               started). Target <= 6 s.
#define BOOST_TEST_MODULE bench_remediation
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>

#include "tests/integration/harness.hpp"

using namespace harness;
using nlohmann::json;

namespace {

constexpr std::int64_t kGraceMs = 3'000;
// The whole benchmark within meson's 600 s timeout, with room to stop vigild.
constexpr auto kBudget = std::chrono::seconds(400);
// What one hang trial takes at most, roughly: the grace wait and ~13 s.
constexpr auto kHangTrialCost = std::chrono::seconds(25);

// One figure alone on a line: "figure NAME VALUE UNIT".
void figure(const std::string& name, double value, int decimals, const std::string& unit) {
  std::printf("figure %s %.*f%s%s\n", name.c_str(), decimals, value, unit.empty() ? "" : " ", unit.c_str());
}

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t wall_ms() {
  return wall_us() / 1000;
}

// Nearest rank.
double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void min_median_p99(const std::string& name, const std::vector<double>& v, int decimals) {
  figure(name + "_min_ms", *std::min_element(v.begin(), v.end()), decimals, "ms");
  figure(name + "_median_ms", percentile(v, 0.5), decimals, "ms");
  figure(name + "_p99_ms", percentile(v, 0.99), decimals, "ms");
}

std::string with_log(const std::string& what, const Vigil& v) {
  return what + "\nvigild's log:\n" + v.log();
}

// The status code of one GET with "Connection: close", or 0 when nothing
// answered within `timeout` (refused, reset, a listener that never accepts).
// Unlike harness::http_request it never fails the test: a service that is
// down is what the benchmark waits out.
int http_status(int port, const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return 0;
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  auto ready = [&](short events) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    return poll(&p, 1, static_cast<int>(left)) == 1;
  };
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) return 0;
  if (!ready(POLLOUT)) return 0;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return 0;
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return 0;
  std::string head;
  while (head.find("\r\n") == std::string::npos) {
    if (!ready(POLLIN)) return 0;
    char buf[256];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return 0;
    head.append(buf, static_cast<std::size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) return 0;
  return std::atoi(head.c_str() + 9);
}

// The pid in the service's ready file ("PID PORT"), 0 before it exists.
int ready_pid(const std::string& ready_file) {
  std::istringstream in(slurp(ready_file));
  int pid = 0;
  in >> pid;
  return pid;
}

std::optional<std::int64_t> ms_field(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<std::int64_t>();
}

// The incident of `target` that started at or after `since_ms` (the oldest
// such), or null.
json incident_since(Vigil& v, std::int64_t since_ms) {
  json found;
  auto all = v.cli_json({"incidents", "--target", "svc"});
  if (!all.is_array()) return found;
  for (const auto& i : all) {
    const auto started = ms_field(i, "started_ms");
    if (!started || *started < since_ms) continue;
    if (found.is_null() || i["id"].get<std::int64_t>() < found["id"].get<std::int64_t>()) found = i;
  }
  return found;
}

bool recovered(const json& incident) {
  return incident.is_object() && ms_field(incident, "recovered_ms").has_value();
}

// The first restart action of an incident (its started_ms and finished_ms), required to have succeeded.
std::pair<std::int64_t, std::int64_t> restart_of(const json& incident) {
  for (const auto& a : incident["actions"]) {
    if (a.value("action", "") != "restart") continue;
    BOOST_REQUIRE_MESSAGE(a.value("result", "") == "ok", "the restart did not succeed: " << a.dump());
    const auto started = ms_field(a, "started_ms");
    const auto finished = ms_field(a, "finished_ms");
    BOOST_REQUIRE(started && finished);
    return {*started, *finished};
  }
  BOOST_FAIL("incident " << incident.value("id", 0) << " has no restart action: " << incident.dump());
  return {0, 0};
}

// vigild leaves the processes it started running when it stops (a new vigild
// adopts them), so the benchmark ends the last one itself: declared before
// the Vigil, this runs after vigild is gone and cannot restart it.
struct ServiceReaper {
  std::string ready_file;
  ~ServiceReaper() {
    const int pid = ready_pid(ready_file);
    if (pid <= 0) return;
    ::kill(-pid, SIGKILL);  // vigild starts it as the leader of its own process group
    ::kill(pid, SIGKILL);
  }
};

// The test service, started by vigild, with an http health check of
// `timeout` at 1 s and restarts without backoff or rate limit.
std::string service_config(const std::string& svc, int port, const std::string& ready_file,
                           const std::string& timeout) {
  const std::string p = std::to_string(port);
  return "[[target]]\nname = \"svc\"\nstart = [\"" + svc + "\", \"--port\", \"" + p + "\", \"--ready-file\", \"" +
         ready_file +
         "\"]\n"
         "  [[target.check]]\n  name = \"health\"\n  kind = \"http\"\n  url = \"http://127.0.0.1:" +
         p + "/health\"\n  interval = \"1s\"\n  timeout = \"" + timeout +
         "\"\n  fail_after = 2\n  recover_after = 1\n"
         "  flap_threshold = 100\n"
         "  [target.remediate]\n  on = [\"health\", \"crash\"]\n  actions = [\"restart\"]\n  max = 1000\n"
         "  window = \"10m\"\n  backoff = \"0s\"\n  max_backoff = \"0s\"\n  grace = \"3s\"\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(remediation_latency) {
  const auto bench_start = Clock::now();
  int crash_trials = 20, hang_trials = 5;
  if (const char* t = std::getenv("VIGIL_BENCH_TRIALS")) crash_trials = std::max(1, std::atoi(t));
  if (const char* t = std::getenv("VIGIL_BENCH_HANG_TRIALS")) hang_trials = std::max(0, std::atoi(t));

  TempDir work;
  const std::string ready_file = work / "ready";
  ServiceReaper reaper{ready_file};
  const int port = free_port();
  const std::string svc = env_path("VIGIL_TEST_SVC");
  Vigil v(service_config(svc, port, ready_file, "5s"));
  v.start();
  BOOST_REQUIRE_MESSAGE(
      wait_for(10s, [&] { return ready_pid(ready_file) > 0 && http_status(port, "/health", 1s) == 200; }),
      with_log("vigild did not start the service", v));
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !v.events("check_ok").empty(); }),
                        with_log("the health check never passed", v));

  std::mt19937 rng(42);
  std::uniform_int_distribution<int> offset(0, 999);

  // ---- Crash trials
  std::vector<double> detect, to_restart, to_healthy, to_serving;
  std::int64_t last_restart_end = 0;
  for (int i = 0; i < crash_trials; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(offset(rng)));
    const int pid = ready_pid(ready_file);
    BOOST_REQUIRE_MESSAGE(pid > 0 && ::kill(pid, 0) == 0, "no running service to crash (pid " << pid << ")");
    const std::int64_t t0_us = wall_us();
    const std::int64_t t0_ms = t0_us / 1000;
    BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
    std::int64_t serving_us = 0;
    const auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline) {
      if (http_status(port, "/health", 100ms) == 200) {
        serving_us = wall_us();
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    BOOST_REQUIRE_MESSAGE(serving_us != 0, with_log("the service was not restarted within 20 s", v));
    json incident;
    BOOST_REQUIRE_MESSAGE(
        wait_for(20s,
                 [&] {
                   incident = incident_since(v, t0_ms);
                   return recovered(incident) && ready_pid(ready_file) != pid;
                 }),
        with_log("no recovered incident after the crash at " + std::to_string(t0_ms) + ": " + incident.dump(), v));
    BOOST_REQUIRE_EQUAL(incident.value("trigger", ""), "crash");
    std::int64_t crashed_ms = 0;
    for (const auto& e : v.events("target_crashed")) {
      const auto ts = ms_field(e, "ts");
      if (ts && *ts >= t0_ms && (crashed_ms == 0 || *ts < crashed_ms)) crashed_ms = *ts;
    }
    BOOST_REQUIRE_MESSAGE(crashed_ms != 0, "no target_crashed event after " << t0_ms);
    const auto [restart_start, restart_end] = restart_of(incident);
    last_restart_end = restart_end;
    const std::int64_t healthy_ms = *ms_field(incident, "recovered_ms");
    detect.push_back(static_cast<double>(crashed_ms - t0_ms));
    to_restart.push_back(static_cast<double>(restart_start - t0_ms));
    to_healthy.push_back(static_cast<double>(healthy_ms - t0_ms));
    to_serving.push_back(static_cast<double>(serving_us - t0_us) / 1000.0);
    std::printf("crash trial %d: detected %lld ms, restart %lld ms, serving %.1f ms, healthy %lld ms\n", i + 1,
                static_cast<long long>(crashed_ms - t0_ms), static_cast<long long>(restart_start - t0_ms),
                to_serving.back(), static_cast<long long>(healthy_ms - t0_ms));
    std::fflush(stdout);
  }

  // ---- Hang trials
  std::vector<double> hang_healthy;
  for (int i = 0; i < hang_trials; ++i) {
    const std::int64_t grace_over = last_restart_end + kGraceMs + 1000;
    const auto wait = std::chrono::milliseconds(std::max<std::int64_t>(0, grace_over - wall_ms()) + offset(rng));
    if (Clock::now() + wait + kHangTrialCost > bench_start + kBudget) {
      std::printf("hang trials stopped after %d of %d: the time budget would run out\n", i, hang_trials);
      break;
    }
    std::this_thread::sleep_for(wait);
    const std::int64_t t0 = wall_ms();
    const std::string answer = http_request(port, "GET", "/control/hang");
    BOOST_REQUIRE_MESSAGE(answer.find("hanging") != std::string::npos, answer);
    json incident;
    BOOST_REQUIRE_MESSAGE(
        wait_for(60s,
                 [&] {
                   incident = incident_since(v, t0);
                   return recovered(incident);
                 }),
        with_log("no recovered incident after the hang at " + std::to_string(t0) + ": " + incident.dump(), v));
    BOOST_REQUIRE_EQUAL(incident.value("trigger", ""), "check:health");
    const auto [restart_start, restart_end] = restart_of(incident);
    last_restart_end = restart_end;
    const std::int64_t healthy_ms = *ms_field(incident, "recovered_ms");
    const std::int64_t detected_ms = ms_field(incident, "detected_ms").value_or(0);
    hang_healthy.push_back(static_cast<double>(healthy_ms - t0));
    std::printf("hang trial %d: detected %lld ms, restart %lld ms, healthy %lld ms (root cause %s)\n", i + 1,
                static_cast<long long>(detected_ms - t0), static_cast<long long>(restart_start - t0),
                static_cast<long long>(healthy_ms - t0), incident.value("root_cause", "").c_str());
    std::fflush(stdout);
  }

  BOOST_REQUIRE(v.stop() == 0);

  std::printf("crash trials: %d (check interval 1s)\n", crash_trials);
  min_median_p99("crash_detect", detect, 0);
  min_median_p99("crash_to_restart", to_restart, 0);
  min_median_p99("crash_to_healthy", to_healthy, 0);
  min_median_p99("crash_to_serving", to_serving, 1);
  figure("hang_trials", static_cast<double>(hang_healthy.size()), 0, "trials");
  if (!hang_healthy.empty()) {
    figure("hang_to_healthy_min_ms", *std::min_element(hang_healthy.begin(), hang_healthy.end()), 0, "ms");
    figure("hang_to_healthy_median_ms", percentile(hang_healthy, 0.5), 0, "ms");
    figure("hang_to_healthy_max_ms", *std::max_element(hang_healthy.begin(), hang_healthy.end()), 0, "ms");
  }
}

BOOST_AUTO_TEST_CASE(hang_stopped_to_restart) {
  int trials = 3;
  if (const char* t = std::getenv("VIGIL_BENCH_STOPPED_TRIALS")) trials = std::max(1, std::atoi(t));
  TempDir work;
  const std::string ready_file = work / "ready";
  ServiceReaper reaper{ready_file};
  const int port = free_port();
  const std::string svc = env_path("VIGIL_TEST_SVC");
  Vigil v(service_config(svc, port, ready_file, "2s"));
  v.start();
  BOOST_REQUIRE_MESSAGE(
      wait_for(10s, [&] { return ready_pid(ready_file) > 0 && http_status(port, "/health", 1s) == 200; }),
      with_log("vigild did not start the service", v));
  std::vector<double> to_restart;
  std::int64_t last_incident = 0;
  for (int i = 0; i < trials; ++i) {
    // Healthy, and the previous incident closed: a new one is this trial's.
    BOOST_REQUIRE_MESSAGE(wait_for(30s,
                                   [&] {
                                     auto all = v.cli_json({"incidents", "--open"});
                                     return all.is_array() && all.empty() && http_status(port, "/health", 1s) == 200;
                                   }),
                          with_log("the service did not recover before the next trial", v));
    const std::int64_t t0 = wall_ms();
    const std::string answer = http_request(port, "GET", "/control/signal?sig=STOP");
    BOOST_REQUIRE_MESSAGE(answer.find("raising") != std::string::npos, answer);
    json incident;
    BOOST_REQUIRE_MESSAGE(wait_for(60s,
                                   [&] {
                                     incident = incident_since(v, t0);
                                     if (!incident.is_object() || incident["actions"].empty()) return false;
                                     return incident["actions"][0].value("result", "") != "running";
                                   }),
                          with_log("no finished restart after the stop at " + std::to_string(t0), v));
    BOOST_REQUIRE(incident["id"].get<std::int64_t>() > last_incident);
    last_incident = incident["id"].get<std::int64_t>();
    const auto [restart_start, restart_end] = restart_of(incident);
    to_restart.push_back(static_cast<double>(restart_end - t0));
    std::printf("stopped trial %d: detected %lld ms, restart done %lld ms (root cause %s)\n", i + 1,
                static_cast<long long>(ms_field(incident, "detected_ms").value_or(0) - t0),
                static_cast<long long>(restart_end - t0), incident.value("root_cause", "").c_str());
    std::fflush(stdout);
  }
  BOOST_REQUIRE(v.stop() == 0);
  figure("hang_stopped_to_restart_ms", percentile(to_restart, 0.5), 0, "ms");
}
