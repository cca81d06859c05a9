// vigild against a real systemd: a Debian container (systemd-nspawn, from the
// rootfs that tests/nspawn/rootfs.sh caches) runs vigil-test-svc as a unit,
// and vigild inside restarts it over D-Bus when its health check hangs.
//
// The container shares the host's network, so the test reaches the service
// on 127.0.0.1 too. Skipped, with the reason, when containers cannot run
// here (not root, no systemd-nspawn, the rootfs cannot be built).
#define BOOST_TEST_MODULE integration_nspawn
#include "tests/integration/nspawn.hpp"

#include <map>

using namespace harness;
using nlohmann::json;

namespace {

const std::string kUnit = "vigil-test-svc.service";

}  // namespace

VIGIL_REQUIREMENT("containers", [] { return Container::unavailable(); });

namespace {

// The status code of GET `path` ("HTTP/1.x NNN ..."), or 0 without an answer.
int http_status(int port, const std::string& path) {
  auto answer = http_get(port, path);
  return answer ? std::atoi(answer->c_str() + 9) : 0;
}

// `systemctl show -p` of `props` (comma-separated) as key -> value.
std::map<std::string, std::string> unit_show(Container& c, const std::string& props) {
  RunResult r = c.run({"systemctl", "show", "-p", props, kUnit});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "systemctl show failed: " << r.err);
  std::map<std::string, std::string> out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::string unit_journal(Container& c, const std::string& unit) {
  // journald takes messages in asynchronously: without --sync the last ones
  // (a crash a few ms ago) may not be readable yet.
  c.run({"journalctl", "--sync"});
  return c.run({"journalctl", "-u", unit, "--no-pager", "-o", "short-precise"}).out;
}

// Copies vigil-test-svc in, installs it as a unit listening on `port`,
// starts it and waits until its /health answers 200 on the host's loopback.
void start_test_service(Container& c, int port) {
  c.copy_in(env_path("VIGIL_TEST_SVC"), "/usr/local/bin/vigil-test-svc");
  c.write_file("/etc/systemd/system/" + kUnit,
               "[Unit]\nDescription=Vigil test service\n\n[Service]\nExecStart=/usr/local/bin/vigil-test-svc --port " +
                   std::to_string(port) + "\nRestart=no\n");
  RunResult reload = c.run({"systemctl", "daemon-reload"});
  BOOST_REQUIRE_MESSAGE(reload.exit_code == 0, "daemon-reload: " << reload.err);
  RunResult start = c.run({"systemctl", "start", kUnit});
  bool up = start.exit_code == 0 && wait_for(10s, [&] { return http_status(port, "/health") == 200; });
  if (!up) {
    // Read before logging: a Boost check inside a BOOST_TEST_MESSAGE expression swallows the message.
    std::string journal = unit_journal(c, kUnit);
    BOOST_TEST_MESSAGE("systemctl start: exit " << start.exit_code << " " << start.err << "\njournal:\n" << journal);
    BOOST_FAIL(kUnit << " did not answer 200 on 127.0.0.1:" << port << "/health within 10 s");
  }
}

// The PID that vigil-test-svc reports on /stats (its own getpid(), inside the
// container's PID namespace); -1 when it does not answer.
long reported_pid(int port) {
  auto answer = http_get(port, "/stats");
  auto body = answer ? answer->find("\r\n\r\n") : std::string::npos;
  if (body == std::string::npos) return -1;
  auto j = json::parse(answer->substr(body + 4), nullptr, false);
  if (!j.is_object() || !j["pid"].is_number_integer()) return -1;
  return j["pid"].get<long>();
}

// vigild's config: the unit as a target, its health over HTTP, restarted
// after two failed checks.
std::string vigil_toml(int port, const std::string& on = "\"health\"") {
  std::string toml = R"([daemon]
interval = "1s"
state_dir = "/var/lib/vigil"

[[target]]
name = "svc"
systemd_unit = "vigil-test-svc.service"
  [[target.check]]
  name = "health"
  kind = "http"
  url = "http://127.0.0.1:PORT/health"
  timeout = "1s"
  fail_after = 2
  [target.remediate]
  on = [ON]
  actions = ["restart"]
  backoff = "1s"
  grace = "5s"
)";
  toml.replace(toml.find("PORT"), 4, std::to_string(port));
  toml.replace(toml.find("ON"), 2, on);
  return toml;
}

}  // namespace

// Validates the harness: the container boots, a unit installed from the host
// runs and is reachable on the shared loopback, and a restart gives it a new
// main process.
BOOST_AUTO_TEST_CASE(a_unit_in_the_container_starts_answers_and_restarts, *boost::unit_test::label("containers")) {
  auto t0 = Clock::now();
  Container c;
  c.boot();
  BOOST_TEST(c.leader() > 1);
  int port = free_port();
  start_test_service(c, port);

  auto before = unit_show(c, "NRestarts,MainPID,ActiveState,InvocationID");
  BOOST_TEST(before["ActiveState"] == "active");
  BOOST_TEST(before["NRestarts"] == "0");
  BOOST_REQUIRE(std::atol(before["MainPID"].c_str()) > 0);
  // What answers on the host's 127.0.0.1 is the unit's own main process.
  BOOST_TEST(reported_pid(port) == std::atol(before["MainPID"].c_str()));
  // And the rootfs has curl, reaching the same service from inside.
  RunResult inside = c.run({"curl", "-fsS", "-m", "5", "http://127.0.0.1:" + std::to_string(port) + "/health"});
  BOOST_TEST(inside.exit_code == 0, inside.err);
  BOOST_TEST(inside.out == "ok\n");

  RunResult restart = c.run({"systemctl", "restart", kUnit});
  BOOST_REQUIRE_MESSAGE(restart.exit_code == 0, restart.err);
  BOOST_REQUIRE(wait_for(10s, [&] { return http_status(port, "/health") == 200; }));
  auto after = unit_show(c, "NRestarts,MainPID,ActiveState,InvocationID");
  BOOST_TEST(after["ActiveState"] == "active");
  BOOST_TEST(after["MainPID"] != before["MainPID"]);
  BOOST_TEST(after["InvocationID"] != before["InvocationID"]);
  // NRestarts counts only systemd's own Restart= restarts, not a requested restart.
  BOOST_TEST(after["NRestarts"] == "0");
  BOOST_TEST(reported_pid(port) == std::atol(after["MainPID"].c_str()));
  BOOST_TEST_MESSAGE("case took " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
                                  << " ms");
}

// The real thing: vigild, itself a unit inside the container, watches
// vigil-test-svc.service by its unit name; the service hangs (alive, not
// answering); vigild detects it, restarts the unit over D-Bus, sees it
// recover, and records one incident with the restart.
BOOST_AUTO_TEST_CASE(vigild_restarts_a_hung_systemd_unit, *boost::unit_test::label("containers")) {
  auto t0 = Clock::now();
  Container c;
  c.boot();
  int port = free_port();
  start_test_service(c, port);
  c.copy_in(env_path("VIGILD"), "/usr/local/sbin/vigild");
  c.copy_in(env_path("VIGIL"), "/usr/local/bin/vigil");
  c.write_file("/etc/vigil/vigil.toml", vigil_toml(port));
  const std::string db = "/var/lib/vigil/vigil.db";

  // On any failure below: vigild's and the service's journals say why.
  auto require = [&](bool ok, const std::string& what) {
    if (ok) return;
    std::string vigild_journal = unit_journal(c, "vigild-test"), service_journal = unit_journal(c, kUnit);
    BOOST_TEST_MESSAGE("vigild's journal:\n" << vigild_journal << "\n" << kUnit << "'s journal:\n" << service_journal);
    BOOST_FAIL(what);
  };

  RunResult check = c.run({"/usr/local/sbin/vigild", "--check-config", "--config", "/etc/vigil/vigil.toml"});
  require(check.exit_code == 0, "vigild --check-config refused the config: " + check.out + check.err);
  RunResult started =
      c.run({"systemd-run", "--unit=vigild-test", "/usr/local/sbin/vigild", "--config", "/etc/vigil/vigil.toml"});
  require(started.exit_code == 0, "systemd-run vigild failed: " + started.err);

  auto check_state = [&]() -> std::string {
    RunResult r = c.run({"vigil", "checks", "--target", "svc", "--format", "json", "--db", db});
    auto j = json::parse(r.out, nullptr, false);
    if (!j.is_array()) return "";
    for (const auto& row : j) {
      if (row.value("check", "") == "health") return row.value("state", "");
    }
    return "";
  };
  // Stops waiting as soon as vigild's unit failed (a crash at start, a refused config).
  std::string vigild_state;
  bool healthy = wait_for(20s, [&] {
    vigild_state = trimmed(c.run({"systemctl", "is-active", "vigild-test"}).out);
    return vigild_state == "failed" || check_state() == "ok";
  });
  require(vigild_state != "failed", "vigild-test.service failed (see its journal)");
  require(healthy, "vigild never reported svc/health ok within 20 s (vigild-test.service: " + vigild_state + ")");

  auto before = unit_show(c, "NRestarts,MainPID,InvocationID");
  std::string hang = http_request(port, "GET", "/control/hang");
  require(hang.find("hanging") != std::string::npos, "the service did not accept /control/hang: " + hang);
  auto hung_at = Clock::now();

  // A restart over D-Bus (RestartUnit) gives the unit a new main process and
  // invocation; systemd's NRestarts counts only its own Restart= restarts,
  // so it must stay as it was: the restart came from vigild.
  std::map<std::string, std::string> after;
  bool restarted = wait_for(60s, [&] {
    after = unit_show(c, "NRestarts,MainPID,InvocationID,ActiveState");
    return after["InvocationID"] != before["InvocationID"] && after["ActiveState"] == "active" &&
           after["MainPID"] != "0" && http_status(port, "/health") == 200;
  });
  require(restarted, "the hung unit was not restarted within 60 s (MainPID " + before["MainPID"] + " -> " +
                         after["MainPID"] + ", ActiveState " + after["ActiveState"] + ")");
  BOOST_TEST_MESSAGE("restarted and healthy "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - hung_at).count()
                     << " ms after the hang");
  BOOST_TEST(after["MainPID"] != before["MainPID"]);
  BOOST_TEST(after["NRestarts"] == before["NRestarts"]);
  BOOST_TEST(reported_pid(port) == std::atol(after["MainPID"].c_str()));

  // The incident: one, for svc, recovered, with a restart that succeeded.
  json incidents;
  bool recovered = wait_for(30s, [&] {
    incidents = json::parse(c.run({"vigil", "incidents", "--format", "json", "--db", db}).out, nullptr, false);
    if (!incidents.is_array()) return false;
    for (const auto& i : incidents) {
      if (i.value("target", "") == "svc" && !i.value("open", true)) return true;
    }
    return false;
  });
  require(recovered, "no recovered incident for svc within 30 s; vigil incidents: " + incidents.dump());
  BOOST_TEST_MESSAGE("incidents: " << incidents.dump());
  require(incidents.size() == 1, "expected exactly one incident, got " + std::to_string(incidents.size()));
  const json& incident = incidents[0];
  BOOST_TEST(incident["recovered_ms"].is_number());
  bool restart_ok = false;
  for (const auto& a : incident["actions"]) {
    if (a.value("action", "") == "restart" && a.value("result", "") == "ok") restart_ok = true;
  }
  require(restart_ok, "no restart with result ok among the incident's actions: " + incident["actions"].dump());
  BOOST_TEST_MESSAGE("case took " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
                                  << " ms");
}

// A crash of the unit's main process is seen through its PropertiesChanged
// signal with systemd's exit status, and, with "crash" in `on`, vigild
// restarts the unit at once (Restart=no: systemd itself would not).
BOOST_AUTO_TEST_CASE(a_crashed_unit_is_seen_over_dbus_and_restarted, *boost::unit_test::label("containers")) {
  Container c;
  c.boot();
  int port = free_port();
  start_test_service(c, port);
  c.copy_in(env_path("VIGILD"), "/usr/local/sbin/vigild");
  c.copy_in(env_path("VIGIL"), "/usr/local/bin/vigil");
  c.write_file("/etc/vigil/vigil.toml", vigil_toml(port, "\"health\", \"crash\""));
  const std::string db = "/var/lib/vigil/vigil.db";
  RunResult started =
      c.run({"systemd-run", "--unit=vigild-test", "/usr/local/sbin/vigild", "--config", "/etc/vigil/vigil.toml"});
  BOOST_REQUIRE_MESSAGE(started.exit_code == 0, "systemd-run vigild failed: " << started.err);
  // vigild knows the unit's main process once its first round saw it.
  BOOST_REQUIRE(wait_for(20s, [&] {
    auto j = json::parse(c.run({"vigil", "events", "--kind", "target_appeared", "--format", "json", "--db", db}).out,
                         nullptr, false);
    return j.is_array() && !j.empty();
  }));
  auto before = unit_show(c, "MainPID,InvocationID");
  http_request(port, "GET", "/control/signal?sig=SEGV");

  json crash;
  bool seen = wait_for(20s, [&] {
    auto j = json::parse(c.run({"vigil", "events", "--kind", "target_crashed", "--format", "json", "--db", db}).out,
                         nullptr, false);
    if (!j.is_array() || j.empty()) return false;
    crash = j[0];
    return true;
  });
  std::string journal = seen ? std::string() : unit_journal(c, "vigild-test");
  BOOST_REQUIRE_MESSAGE(seen, "no target_crashed event; vigild's journal:\n" << journal);
  BOOST_TEST(crash.value("message", "").find("killed by SIGSEGV") != std::string::npos, crash.dump());

  std::map<std::string, std::string> after;
  bool restarted = wait_for(30s, [&] {
    after = unit_show(c, "MainPID,InvocationID,ActiveState");
    return after["InvocationID"] != before["InvocationID"] && after["ActiveState"] == "active" &&
           http_status(port, "/health") == 200;
  });
  journal = restarted ? std::string() : unit_journal(c, "vigild-test");
  BOOST_REQUIRE_MESSAGE(restarted, "the crashed unit was not restarted; vigild's journal:\n" << journal);
  json incidents;
  BOOST_REQUIRE(wait_for(20s, [&] {
    incidents = json::parse(c.run({"vigil", "incidents", "--format", "json", "--db", db}).out, nullptr, false);
    return incidents.is_array() && incidents.size() == 1 && !incidents[0].value("open", true);
  }));
  BOOST_TEST(incidents[0].value("trigger", "") == "crash");
  BOOST_TEST(incidents[0].value("root_cause", "") == "crashed");
  BOOST_TEST(incidents[0].value("summary", "").find("SIGSEGV") != std::string::npos, incidents.dump());
  BOOST_TEST(incidents[0]["actions"][0].value("result", "") == "ok", incidents.dump());
}
