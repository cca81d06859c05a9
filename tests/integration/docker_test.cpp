// Docker containers as targets (issue 14), with the real vigild against
// Debian's dockerd, started by the test in its own directories
// (tests/docker_engine.hpp): a container found by name, label and Compose
// service, sampled like any target, its death seen at once (its checks run
// then), restarted through the engine; and a vigild whose engine is not
// there, which keeps running and says so once.
#define BOOST_TEST_MODULE integration_docker

#include "tests/docker_engine.hpp"
#include "tests/integration/harness.hpp"

using namespace harness;

VIGIL_REQUIREMENT("dockerd", [] { return DockerEngine::why_not(); });

namespace {

// A container serving /health on `port` of the host's network.
std::string web_container(DockerEngine& engine, const std::string& name, int port,
                          const std::vector<std::string>& labels = {}) {
  std::vector<std::string> args = {"--name", name, "--network", "host"};
  for (const auto& l : labels) {
    args.push_back("--label");
    args.push_back(l);
  }
  args.insert(args.end(), {DockerEngine::kImage, "/bin/httpd", "-f", "-p", std::to_string(port), "-h", "/www"});
  return engine.run_container(args);
}

std::string docker_section(const DockerEngine& engine) {
  return "[docker]\nsocket = \"" + engine.socket() + "\"\n";
}

std::string health_check(int port) {
  return "  [[target.check]]\n  name = \"health\"\n  kind = \"http\"\n  url = \"http://127.0.0.1:" +
         std::to_string(port) + "/health\"\n  interval = \"1h\"\n  timeout = \"2s\"\n  fail_after = 1\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_container_by_name_is_sampled_seen_dying_and_restarted, *boost::unit_test::label("dockerd")) {
  DockerEngine engine;
  const int port = free_port();
  web_container(engine, "web1", port);
  Vigil v(docker_section(engine) + "[[target]]\nname = \"web\"\ncontainer = \"web1\"\ninterval = \"500ms\"\n" +
          health_check(port) + "  [target.remediate]\n  on = [\"crash\"]\n  actions = [\"restart\"]\n" +
          "  backoff = \"1s\"\n  grace = \"3s\"\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return !target_events(v, "target_appeared", "web").empty(); }), v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return !v.events("check_ok").empty(); }), v.log());
  // Sampled like any target: its process tree's memory.
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return !v.values("process_resident_memory_bytes", "web").empty(); }),
                        v.log());
  const std::string pid_before = engine.docker({"inspect", "-f", "{{.State.Pid}}", "web1"});

  // Killed: seen at once (its checks run then: the interval is 1 h), and
  // restarted through the engine.
  engine.docker({"kill", "web1"});
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return !v.events("check_failed").empty(); }), v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(30s,
                                 [&] {
                                   return engine.docker({"inspect", "-f", "{{.State.Running}}", "web1"}) == "true" &&
                                          engine.docker({"inspect", "-f", "{{.State.Pid}}", "web1"}) != pid_before;
                                 }),
                        v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(30s,
                                 [&] {
                                   auto inc = incident_of(v, "web");
                                   return inc.is_object() && !inc["actions"].empty() &&
                                          inc["actions"][0].value("result", "") == "ok";
                                 }),
                        v.log());
  const auto inc = incident_of(v, "web");
  BOOST_TEST(inc.value("trigger", "") == "crash");
  BOOST_TEST(inc["actions"][0].dump().find("restarted container web1") != std::string::npos, inc.dump(2));
  BOOST_TEST(v.stop().has_value());
}

BOOST_AUTO_TEST_CASE(by_label_and_by_compose_service, *boost::unit_test::label("dockerd")) {
  DockerEngine engine;
  const int port_a = free_port(), port_b = free_port();
  web_container(engine, "shop-web-1", port_a,
                {"com.docker.compose.project=shop", "com.docker.compose.service=web", "app=gateway"});
  web_container(engine, "shop-db-1", port_b, {"com.docker.compose.project=shop", "com.docker.compose.service=db"});
  Vigil v(docker_section(engine) + "[[target]]\nname = \"gw\"\ncontainer_label = \"app=gateway\"\n" +
              "[[target]]\nname = \"db\"\ncompose_service = \"shop/db\"\n" +
              "[[target]]\nname = \"none\"\ncompose_service = \"shop/cache\"\nalert = false\n",
          "status_interval = \"1s\"\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(20s,
                                 [&] {
                                   return !target_events(v, "target_appeared", "gw").empty() &&
                                          !target_events(v, "target_appeared", "db").empty();
                                 }),
                        v.log());
  // Each found its own container: the main PIDs are the containers' init processes.
  const auto gw = target_events(v, "target_appeared", "gw").front();
  const auto db = target_events(v, "target_appeared", "db").front();
  BOOST_TEST(gw["details"]["pid"].get<long long>() ==
             std::stoll(engine.docker({"inspect", "-f", "{{.State.Pid}}", "shop-web-1"})));
  BOOST_TEST(db["details"]["pid"].get<long long>() ==
             std::stoll(engine.docker({"inspect", "-f", "{{.State.Pid}}", "shop-db-1"})));
  BOOST_TEST(target_events(v, "target_appeared", "none").empty());
  BOOST_REQUIRE_MESSAGE(wait_for(20s,
                                 [&] {
                                   const auto up = v.cli_json({"query", "vigil_docker_up", "--since", "5m"});
                                   return up.is_array() && !up.empty() && !up[0]["points"].empty() &&
                                          up[0]["points"].back()["value"].get<double>() == 1.0;
                                 }),
                        v.log());
  BOOST_TEST(v.stop().has_value());
}

BOOST_AUTO_TEST_CASE(no_engine_means_not_available_said_once, *boost::unit_test::label("dockerd")) {
  TempDir nowhere;
  Vigil v("[docker]\nsocket = \"" + (nowhere / "docker.sock") +
              "\"\n[[target]]\nname = \"web\"\ncontainer = \"web1\"\n" + "interval = \"200ms\"\n",
          "status_interval = \"1s\"\n");
  v.start();
  // The target says why it has no process (first that no answer came yet,
  // then the engine's absence, with why).
  auto not_available = [&] {
    for (const auto& e : target_events(v, "target_problem", "web")) {
      if (e.value("message", "").find("no such file or directory") != std::string::npos) return true;
    }
    return false;
  };
  BOOST_REQUIRE_MESSAGE(wait_for(20s, not_available), v.log());
  const std::size_t problems = target_events(v, "target_problem", "web").size();
  const std::size_t rounds = v.values("vigil_probe_success", "web").size();
  // vigild goes on, round after round (every 200 ms), and says it once,
  // not per round or per attempt.
  BOOST_REQUIRE_MESSAGE(wait_for(30s, [&] { return v.values("vigil_probe_success", "web").size() >= rounds + 10; }),
                        v.log());
  BOOST_TEST(target_events(v, "target_problem", "web").size() == problems);
  // And its own metric says so.
  BOOST_REQUIRE_MESSAGE(wait_for(30s,
                                 [&] {
                                   const auto up = v.cli_json({"query", "vigil_docker_up", "--since", "5m"});
                                   return up.is_array() && !up.empty() && !up[0]["points"].empty() &&
                                          up[0]["points"].back()["value"].get<double>() == 0.0;
                                 }),
                        v.log());
  std::size_t said = 0;
  const std::string log = v.log();
  for (auto at = log.find("Docker is not available;"); at != std::string::npos;
       at = log.find("Docker is not available;", at + 1)) {
    ++said;
  }
  BOOST_TEST(said == 1u, log);
  auto st = v.stop();
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}
