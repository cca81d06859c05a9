// tcp checks run by the real vigild against a listener the test opens and closes.
#define BOOST_TEST_MODULE integration_checks

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

std::string check_config(int port, const std::string& extra = "", const std::string& timeout = "1s") {
  return "[[target]]\nname = \"svc\"\npid = 1\n\n  [[target.check]]\n  name = \"port\"\n  kind = \"tcp\"\n"
         "  address = \"127.0.0.1:" +
         std::to_string(port) + "\"\n  interval = \"200ms\"\n  timeout = \"" + timeout +
         "\"\n  fail_after = 1\n  recover_after = 2\n" + extra;
}

}  // namespace

BOOST_AUTO_TEST_CASE(port_down_fails_and_back_up_recovers) {
  auto listener = std::make_unique<Listener>();
  const int port = listener->port;
  Vigil v(check_config(port));
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !v.events("check_ok").empty(); }), v.log());
  auto up = v.values("check_up", "svc");
  BOOST_REQUIRE(!up.empty());
  BOOST_TEST(up.back() == 1);
  BOOST_TEST(!v.values("tcp_connect_seconds", "svc").empty());
  BOOST_TEST(v.values("check_state", "svc").back() == 1);  // CheckState::kOk, after the result it came with

  listener.reset();  // nothing listens: connection refused
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !v.events("check_failed").empty(); }), v.log());
  auto failed = v.events("check_failed").front();
  BOOST_TEST(failed["target"] == "svc");
  BOOST_TEST(failed["check"] == "port");
  BOOST_TEST(failed["severity"] == "critical");
  BOOST_TEST(failed["details"]["from"] == "ok");

  listener = std::make_unique<Listener>(port);
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return v.events("check_ok").size() == 2u; }), v.log());
  BOOST_TEST(v.events("check_recovering").size() == 1u);  // recover_after = 2
  auto st = v.stop();
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}

// When a target's main process exits, its checks run at once. With a 1 h
// interval the only run after the first is the one the exit starts, so a
// check_failed at all proves it (no clock is read).
BOOST_AUTO_TEST_CASE(checks_run_at_once_when_the_main_process_exits) {
  Httpd server;
  Vigil v("[[target]]\nname = \"web\"\npid = " + std::to_string(server.child.pid()) +
          "\nalert = false\n\n  [[target.check]]\n  name = \"health\"\n  kind = \"http\"\n  url = \"" +
          server.url("/health") + "\"\n  interval = \"1h\"\n  timeout = \"2s\"\n  fail_after = 1\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !v.events("check_ok").empty(); }), v.log());
  server.child.signal(SIGKILL);
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !v.events("check_failed").empty(); }), v.log());
  const auto failed = v.events("check_failed").front();
  BOOST_TEST(failed["target"] == "web");
  const std::string reason = failed["details"]["reason"];
  BOOST_TEST(reason.find("connection refused") != std::string::npos, reason);
  BOOST_TEST(v.events("check_ok").size() == 1u);  // one scheduled run, one started by the exit
  v.stop();
}

BOOST_AUTO_TEST_CASE(silent_server_with_expect_times_out) {
  Listener listener;  // accepts (in the backlog) but never answers
  Vigil v(check_config(listener.port, "  send = \"PING\\r\\n\"\n  expect = \"+PONG\"\n", "300ms"));
  v.start();
  BOOST_REQUIRE_MESSAGE(
      wait_for(5s, [&] { return !v.events("check_failing").empty() || !v.events("check_failed").empty(); }), v.log());
  auto failed = v.events("check_failed");
  BOOST_REQUIRE(!failed.empty());
  std::string reason = failed.front()["details"]["reason"];
  BOOST_TEST(reason.find("timed out") != std::string::npos, reason);
  v.stop();
}

// `vigil checks` reads each check's state from the store; `vigil check test`
// runs a configured check once in the CLI.
BOOST_AUTO_TEST_CASE(cli_checks_and_check_test) {
  auto listener = std::make_unique<Listener>();
  const int port = listener->port;
  Vigil v(check_config(port) + stand_in_target("svc2") +
          "\n[[check]]\nname = \"other\"\ntarget = \"svc2\"\nkind = \"tcp\"\n"
          "address = \"127.0.0.1:" +
          std::to_string(port) + "\"\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return v.events("check_ok").size() == 2u; }), v.log());
  listener.reset();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return v.events("check_failed").size() == 2u; }), v.log());

  auto j = v.cli_json({"checks", "--target", "svc"});
  BOOST_REQUIRE_MESSAGE(j.is_array() && j.size() == 1u, j.dump());
  BOOST_TEST(j[0]["check"] == "port");
  BOOST_TEST(j[0]["state"] == "failed");
  BOOST_TEST(j[0]["last_result"] == "failed");
  BOOST_TEST(j[0]["reason"].get<std::string>().find("connection refused") != std::string::npos, j.dump());
  BOOST_TEST(j[0]["since_ms"].is_number());
  BOOST_TEST(j[0]["runs_last_hour"].get<int>() >= 2);
  BOOST_TEST(j[0]["latency_p99_seconds"].get<double>() >= j[0]["latency_p50_seconds"].get<double>());
  BOOST_TEST(v.cli_json({"checks"}).size() == 2u);
  auto table = v.cli({"checks"});
  BOOST_TEST(table.exit_code == 0);
  BOOST_TEST(table.out.find("connection refused") != std::string::npos, table.out);

  // check test: 1 while nothing listens, 0 once something does; 2 for an unknown name.
  auto test = run({env_path("VIGIL"), "check", "test", "svc/port", "--config", v.config_path});
  BOOST_TEST(test.exit_code == 1, test.out << test.err);
  BOOST_TEST(test.out.find("connection refused") != std::string::npos, test.out);
  listener = std::make_unique<Listener>(port);
  test = run({env_path("VIGIL"), "check", "test", "port", "--config", v.config_path, "--format", "json"});
  BOOST_TEST(test.exit_code == 0, test.out << test.err);
  auto result = nlohmann::json::parse(test.out, nullptr, false);
  BOOST_REQUIRE(result.is_object());
  BOOST_TEST(result["ok"] == true);
  BOOST_TEST(result["kind"] == "tcp");
  test = run({env_path("VIGIL"), "check", "test", "prot", "--config", v.config_path});
  BOOST_TEST(test.exit_code == 2);
  BOOST_TEST(test.err.find("did you mean \"port\"") != std::string::npos, test.err);
  v.stop();
}

// libcurl (and the thirty libraries under it) is loaded only when a check
// needs it: a vigild without http checks does not map it (probes/curl_api.hpp).
BOOST_AUTO_TEST_CASE(libcurl_is_loaded_only_for_http_checks) {
  auto maps_curl = [](Vigil& v) {
    return slurp("/proc/" + std::to_string(v.daemon.pid()) + "/maps").find("libcurl") != std::string::npos;
  };
  Listener listener;
  Vigil plain(check_config(listener.port));
  plain.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !plain.events("check_ok").empty(); }), plain.log());
  BOOST_TEST(!maps_curl(plain));
  plain.stop();

  Vigil http(stand_in_target("svc") +
             "[[check]]\nname = \"web\"\ntarget = \"svc\"\nkind = \"http\"\nurl = \"http://127.0.0.1:" +
             std::to_string(listener.port) + "/\"\ninterval = \"200ms\"\ntimeout = \"300ms\"\n");
  http.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !http.values("check_up", "svc").empty(); }), http.log());
  BOOST_TEST(maps_curl(http));
  http.stop();
}
