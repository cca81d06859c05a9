// A dead process is news: every crash of every kind of target opens an
// incident and raises the built-in TargetDown alert at a receiver (a webhook
// served by vigil-test-httpd); a `start` target is restarted on crash without
// any [target.remediate]; why a target has no process (a missing pidfile, a
// program that cannot run, no system bus) is an event once per change.
#define BOOST_TEST_MODULE integration_dead_process
#include <sys/stat.h>

#include "tests/integration/alertmanager.hpp"

using namespace harness;
using nlohmann::json;

namespace {

std::string webhook(const Httpd& h) {
  return "[alerting]\nheartbeat = false\nresend_interval = \"2s\"\n[[webhook]]\nurl = \"" + h.url("/hook") + "\"\n";
}

// The TargetDown alerts the webhook accepted for `target`: (status, summary).
std::vector<std::pair<std::string, std::string>> target_down(const Httpd& h, const std::string& target) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& hk : hooks(h)) {
    if (hk.status >= 300 || !hk.body.is_object()) continue;
    for (const auto& a : hk.body["alerts"]) {
      if (a["labels"].value("alertname", "") != "TargetDown" || a["labels"].value("target", "") != target) continue;
      out.emplace_back(a.value("status", ""), a["annotations"].value("summary", ""));
    }
  }
  return out;
}

bool has_status(const std::vector<std::pair<std::string, std::string>>& v, const std::string& status) {
  return std::any_of(v.begin(), v.end(), [&](const auto& p) { return p.first == status; });
}

// A process the test runs and names in a pidfile.
struct Sleeper {
  TempDir dir;
  std::string pidfile = dir / "app.pid";
  Child child = Child::start({"/bin/sleep", "600"});
  Sleeper() { write_file(pidfile, std::to_string(child.pid()) + "\n"); }
  void kill() {
    child.signal(SIGKILL);
    BOOST_REQUIRE(child.wait(5s).has_value());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_killed_pidfile_process_opens_an_incident_and_alerts) {
  Httpd hook;
  Sleeper app;
  Vigil v(webhook(hook) + "[[target]]\nname = \"app\"\npidfile = \"" + app.pidfile + "\"\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !target_events(v, "target_appeared", "app").empty(); }), v.log());
  app.kill();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !target_events(v, "target_crashed", "app").empty(); }), v.log());
  // An incident, though vigild cannot restart a process it only finds.
  json inc;
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return (inc = incident_of(v, "app")).is_object(); }), v.log());
  BOOST_TEST(inc.value("trigger", "") == "crash");
  BOOST_TEST(inc.value("root_cause", "") == "crashed");
  BOOST_TEST(inc["recovered_ms"].is_null());
  // The built-in alert reaches the receiver, saying why.
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return has_status(target_down(hook, "app"), "firing"); }), v.log());
  const auto alerts = target_down(hook, "app");
  BOOST_TEST(alerts.front().second.rfind("app is down: ", 0) == 0, alerts.front().second);
  // The pidfile names a dead process from now on: said once, not per round.
  BOOST_REQUIRE(wait_for(10s, [&] { return !target_events(v, "target_problem", "app").empty(); }));
  const auto samples_before = v.cli_json({"query", "process_count", "--target", "app", "--since", "1h"});
  BOOST_REQUIRE(wait_for(10s, [&] {
    auto now = v.cli_json({"query", "process_count", "--target", "app", "--since", "1h"});
    return now.is_array() && !now.empty() && now[0]["points"].size() >= samples_before[0]["points"].size() + 3;
  }));
  BOOST_TEST(target_events(v, "target_problem", "app").size() == 1u);
  BOOST_REQUIRE(v.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_start_target_is_restarted_on_crash_without_remediate) {
  Httpd hook;
  TempDir svc;
  const int port = free_port();
  const std::string state = svc / "state";
  Vigil v(webhook(hook) + "[[target]]\nname = \"svc\"\nstart = [\"" + env_path("VIGIL_TEST_SVC") +
          "\", \"--port\", \"" + std::to_string(port) + "\", \"--state-file\", \"" + state + "\"]\n");
  v.start();
  auto started = [&] {
    std::size_t n = 0;
    std::istringstream in(slurp(state));
    for (std::string line; std::getline(in, line);) n += line.rfind("start ", 0) == 0;
    return n;
  };
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return http_get(port, "/health").has_value(); }), v.log());
  BOOST_REQUIRE(http_request(port, "GET", "/control/exit?code=3").find(" 200 ") != std::string::npos);
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return started() == 2u; }), v.log());
  json inc;
  // Recovered once it stayed up through the stability period (grace, 30s).
  BOOST_REQUIRE_MESSAGE(wait_for(60s,
                                 [&] {
                                   inc = incident_of(v, "svc");
                                   return inc.is_object() && !inc["recovered_ms"].is_null();
                                 }),
                        v.log() << "\n"
                                << inc.dump(2));
  BOOST_TEST(inc.value("summary", "") == "exited with code 3");
  BOOST_REQUIRE(inc["actions"].size() == 1u);
  BOOST_TEST(inc["actions"][0].value("action", "") == "restart");
  BOOST_TEST(inc["actions"][0].value("result", "") == "ok");
  // Down, then up again: both reach the receiver.
  BOOST_TEST(wait_for(10s, [&] { return has_status(target_down(hook, "svc"), "resolved"); }), v.log());
  BOOST_TEST(has_status(target_down(hook, "svc"), "firing"));
  BOOST_REQUIRE(v.stop() == 0);
  // vigild's started services outlive it by design.
  std::istringstream in(slurp(state));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("start ", 0) == 0) ::kill(std::atoi(line.c_str() + 6), SIGKILL);
  }
}

BOOST_AUTO_TEST_CASE(a_program_that_cannot_run_is_a_start_failure_with_its_errno) {
  Vigil v("[alerting]\nheartbeat = false\n[[target]]\nname = \"ghost\"\nstart = [\"/nonexistent/ghostd\"]\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !target_events(v, "target_start_failed", "ghost").empty(); }),
                        v.log());
  const std::string message = target_events(v, "target_start_failed", "ghost").front().value("message", "");
  BOOST_TEST(message.find("No such file or directory (ENOENT)") != std::string::npos, message);
  json inc;
  BOOST_REQUIRE(wait_for(10s, [&] { return (inc = incident_of(v, "ghost")).is_object(); }));
  BOOST_TEST(inc.value("root_cause", "") == "start_failed");
  BOOST_TEST(inc.value("summary", "").rfind("could not be started: ", 0) == 0, inc.dump(2));
  BOOST_TEST(target_events(v, "target_crashed", "ghost").empty());
  const auto opened = target_events(v, "incident_opened", "ghost");
  BOOST_REQUIRE(!opened.empty());
  BOOST_TEST(opened.front().value("message", "").find("gone") == std::string::npos);
  // `vigil status` says why it has no process (the failure of this run's start).
  const json st = v.cli_json({"status"});
  BOOST_TEST(st["targets"]["ghost"]["problem"].is_string(), st.dump(2));
  if (st["targets"]["ghost"]["problem"].is_string()) {
    BOOST_TEST(st["targets"]["ghost"]["problem"].get<std::string>().find("ENOENT") != std::string::npos, st.dump(2));
  }
  // vigild runs on, and its alert is pending in `vigil alerts` (no receiver).
  json alerts = v.cli_json({"alerts"});
  bool down = false;
  for (const auto& a : alerts) down = down || a.value("alertname", "") == "TargetDown";
  BOOST_TEST(down, alerts.dump(2));
  BOOST_REQUIRE(v.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_missing_or_bad_pidfile_is_an_event_once_per_change) {
  TempDir dir;
  const std::string pidfile = dir / "app.pid";
  Vigil v("[alerting]\nheartbeat = false\n[[target]]\nname = \"app\"\npidfile = \"" + pidfile + "\"\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return target_events(v, "target_problem", "app").size() == 1u; }), v.log());
  BOOST_TEST(target_events(v, "target_problem", "app")[0].value("message", "").find(pidfile) != std::string::npos);
  write_file(pidfile, "abc\n");
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return target_events(v, "target_problem", "app").size() == 2u; }), v.log());
  const std::string bad = target_events(v, "target_problem", "app")[1].value("message", "");
  BOOST_TEST(bad.find("abc") != std::string::npos, bad);
  BOOST_REQUIRE(v.stop() == 0);
}

BOOST_AUTO_TEST_CASE(alert_false_opts_a_target_out_of_target_down) {
  Httpd hook;
  Sleeper app;
  Vigil v(webhook(hook) + "[[target]]\nname = \"app\"\nalert = false\npidfile = \"" + app.pidfile +
          "\"\n[[target]]\nname = \"gone\"\npidfile = \"" + (app.dir / "none.pid") + "\"\n");
  v.start();
  // The other target, whose pidfile is missing, shows that alerts are sent.
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return has_status(target_down(hook, "gone"), "firing"); }), v.log());
  app.kill();
  BOOST_REQUIRE(wait_for(10s, [&] { return !target_events(v, "target_crashed", "app").empty(); }));
  // Three rounds later (TargetDown fires at once by default), still nothing for app.
  auto rounds = [&] {
    auto q = v.cli_json({"query", "process_count", "--target", "app", "--since", "1h"});
    return q.is_array() && !q.empty() ? q[0]["points"].size() : 0u;
  };
  const std::size_t before = rounds();
  BOOST_REQUIRE(wait_for(10s, [&] { return rounds() >= before + 3; }));
  BOOST_TEST(target_down(hook, "app").empty());
  BOOST_REQUIRE(v.stop() == 0);
}

VIGIL_REQUIREMENT("no_system_bus", []() -> std::optional<std::string> {
  struct stat st {};
  if (::stat("/run/dbus/system_bus_socket", &st) == 0) {
    return std::string(
        "this machine has a system bus (/run/dbus/system_bus_socket): a unit without one cannot be "
        "shown here");
  }
  return std::nullopt;
});

BOOST_AUTO_TEST_CASE(a_unit_without_a_system_bus_says_so_and_is_no_start_failure,
                     *boost::unit_test::label("no_system_bus")) {
  Vigil v("[alerting]\nheartbeat = false\n[[target]]\nname = \"web\"\nsystemd_unit = \"nginx.service\"\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !target_events(v, "target_problem", "web").empty(); }), v.log());
  const std::string why = target_events(v, "target_problem", "web").front().value("message", "");
  BOOST_TEST(why.find("D-Bus is unavailable") != std::string::npos, why);
  BOOST_TEST(why.find("retrying every 5s") != std::string::npos, why);
  BOOST_TEST(why.find("vigild starts") == std::string::npos, why);
  BOOST_TEST(target_events(v, "target_start_failed", "web").empty());
  BOOST_TEST(incident_of(v, "web").is_null());
  // The retry is tried, and said again when its interval doubles.
  BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return target_events(v, "target_problem", "web").size() >= 2u; }), v.log());
  BOOST_TEST(target_events(v, "target_problem", "web")[1].value("message", "").find("retrying every 10s") !=
             std::string::npos);
  BOOST_REQUIRE(v.stop() == 0);
}
