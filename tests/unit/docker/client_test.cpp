// probes/docker/client: requests to the engine on a real sd-event loop and
// libcurl, over a unix socket.
//
// Against a peer of the test's own on a unix socket (what a real engine
// never does on purpose: stalls, endless or truncated answers, garbage in
// the events stream, an API from 2015) and against Debian's real dockerd,
// started by the test in its own directories (label "dockerd").
#define BOOST_TEST_MODULE docker_client
#include "probes/docker/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/sd_handles.hpp"
#include "core/text.hpp"
#include "tests/docker_engine.hpp"
#include "tests/unit/docker/fake_engine.hpp"
#include "tests/unit/docker/loop.hpp"
#include "tests/unit/docker/print.hpp"

using namespace vigil;
using namespace vigil::docker;
using vigil::testing::chunk;
using vigil::testing::FakeEngine;
using vigil::testing::kVersion141;
using vigil::testing::Loop;
using vigil::testing::temp_dir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

VIGIL_REQUIREMENT("dockerd", [] { return harness::DockerEngine::why_not(); });

BOOST_AUTO_TEST_CASE(negotiates_once_then_asks_under_the_version) {
  FakeEngine engine([](const std::string& line) -> FakeEngine::Reply {
    if (line.rfind("GET /version ", 0) == 0) return {FakeEngine::json_answer(200, kVersion141)};
    if (line.rfind("GET /v1.41/containers/json", 0) == 0) return {FakeEngine::json_answer(200, "[]")};
    return {FakeEngine::json_answer(404, R"({"message":"page not found"})")};
  });
  Loop loop(engine.path());
  // Three requests before any answer: one /version, then all three.
  int answered = 0;
  for (int i = 0; i < 3; ++i) {
    loop.client->get("/containers/json?all=1", [&](Result<std::string> r) {
      BOOST_TEST(r.has_value(), (r ? "" : r.error().message));
      if (r) BOOST_TEST(*r == "[]");
      ++answered;
    });
  }
  loop.until([&] { return answered == 3; });
  BOOST_TEST_REQUIRE(loop.client->api().has_value());
  BOOST_TEST(loop.client->api()->text() == "1.41");
  BOOST_TEST(loop.client->engine().version == "20.10.24+dfsg1");
  const auto requests = engine.requests();
  BOOST_TEST(std::count(requests.begin(), requests.end(), "GET /version HTTP/1.1") == 1);
  BOOST_TEST(std::count(requests.begin(), requests.end(), "GET /v1.41/containers/json?all=1 HTTP/1.1") == 3);
}

BOOST_AUTO_TEST_CASE(errors_name_the_endpoint_and_say_why) {
  FakeEngine engine([](const std::string& line) -> FakeEngine::Reply {
    if (line.rfind("GET /version ", 0) == 0) return {FakeEngine::json_answer(200, kVersion141)};
    if (line.find("/containers/nope/json") != std::string::npos) {
      return {FakeEngine::json_answer(404, R"({"message":"No such container: nope"})")};
    }
    if (line.find("/containers/paused/restart") != std::string::npos) {
      return {FakeEngine::json_answer(409, R"({"message":"Container paused is paused, unpause it first"})")};
    }
    if (line.find("/containers/boom/json") != std::string::npos) {
      return {FakeEngine::json_answer(500, "runtime exploded\n")};
    }
    if (line.find("/containers/slow/json") != std::string::npos) return FakeEngine::Reply();  // never answers
    if (line.find("/containers/huge/json") != std::string::npos) {
      return {"HTTP/1.1 200 OK\r\nContent-Length: 4000000\r\n\r\n" + std::string(4000000, 'x')};
    }
    if (line.find("/containers/cut/json") != std::string::npos) {
      return {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Id\":", true};
    }
    return {FakeEngine::json_answer(404, "{}")};
  });
  Loop loop(engine.path(), 300ms);

  auto r = loop.get("/containers/nope/json");
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().kind == ErrorKind::kNotFound);
  BOOST_TEST(r.error().message == "GET /containers/nope/json: 404 Not Found: No such container: nope");

  std::optional<Result<std::string>> posted;
  loop.client->post("/containers/paused/restart?t=10", [&](Result<std::string> x) { posted = std::move(x); });
  loop.until([&] { return posted.has_value(); });
  BOOST_TEST_REQUIRE(!posted->has_value());
  BOOST_TEST(posted->error().message ==
             "POST /containers/paused/restart?t=10: 409 Conflict: Container paused is paused, unpause it first");

  r = loop.get("/containers/boom/json");
  BOOST_TEST(r.error().kind == ErrorKind::kIo);
  BOOST_TEST(r.error().message == "GET /containers/boom/json: 500 Internal Server Error: runtime exploded");

  r = loop.get("/containers/slow/json");
  BOOST_TEST(r.error().kind == ErrorKind::kIo);
  BOOST_TEST(r.error().message.find("GET /containers/slow/json: timed out after 300ms") == 0, r.error().message);

  r = loop.get("/containers/huge/json");
  BOOST_TEST(r.error().message.find("body larger than max_body 1MiB") != std::string::npos, r.error().message);

  r = loop.get("/containers/cut/json");
  BOOST_TEST(r.error().message.find("connection closed mid-response") != std::string::npos, r.error().message);
  // The client goes on after all that.
  r = loop.get("/containers/nope/json");
  BOOST_TEST(r.error().kind == ErrorKind::kNotFound);
}

BOOST_AUTO_TEST_CASE(no_engine_is_not_available) {
  const std::string dir = temp_dir();
  Loop loop(dir + "/docker.sock");
  auto r = loop.get("/containers/json");
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().kind == ErrorKind::kNotAvailable);
  BOOST_TEST(r.error().message == "GET /version: no such file or directory: " + dir + "/docker.sock");
  BOOST_TEST(!loop.client->api().has_value());

  // A socket file nobody listens on: refused, also not available.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s/docker.sock", dir.c_str());
  BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  r = loop.get("/containers/json");
  BOOST_TEST(r.error().kind == ErrorKind::kNotAvailable);
  BOOST_TEST(r.error().message == "GET /version: connection refused: " + dir + "/docker.sock");
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(an_engine_too_old_or_not_an_engine) {
  std::string version = R"({"ApiVersion":"1.20"})";
  FakeEngine engine([&](const std::string& line) -> FakeEngine::Reply {
    if (line.rfind("GET /version ", 0) == 0) return {FakeEngine::json_answer(200, version)};
    return {FakeEngine::json_answer(200, "[]")};
  });
  Loop loop(engine.path());
  auto r = loop.get("/containers/json");
  BOOST_TEST(r.error().kind == ErrorKind::kNotAvailable);
  BOOST_TEST(r.error().message == "the engine speaks API 1.20, older than 1.25, the oldest vigild speaks");
  version = "<html>hello</html>";
  r = loop.get("/containers/json");
  BOOST_TEST(r.error().kind == ErrorKind::kParse);
  BOOST_TEST(r.error().message.find("GET /version: not valid JSON at byte 1") == 0, r.error().message);
  version = kVersion141;  // the engine was upgraded: the next request asks again
  r = loop.get("/containers/json");
  BOOST_TEST(r.has_value());
}

BOOST_AUTO_TEST_CASE(a_dropped_client_calls_nobody) {
  FakeEngine engine([](const std::string& line) -> FakeEngine::Reply {
    if (line.rfind("GET /version ", 0) == 0) return {FakeEngine::json_answer(200, kVersion141)};
    return FakeEngine::Reply();  // holds every other request
  });
  Loop loop(engine.path());
  bool called = false;
  loop.client->get("/containers/json", [&](Result<std::string>) { called = true; });
  loop.until([&] { return engine.requests().size() == 2; });  // /version, then this one
  BOOST_TEST(loop.client->in_flight() == 1u);
  loop.client.reset();
  for (int i = 0; i < 5; ++i) sd_event_run(loop.event.get(), 10'000);  // what would have run, would run now
  BOOST_TEST(!called);
}

BOOST_AUTO_TEST_CASE(events_stream_in_pieces_with_garbage_then_closed) {
  const std::string id = "1f6abff95f8fbd3e40604e3bd2cc1ac10dc22f878aa0fa5a7d00d802ec19f237";
  const std::string die = R"({"Type":"container","Action":"die","Actor":{"ID":")" + id +
                          R"(","Attributes":{"exitCode":"137","name":"web1"}},"timeNano":1796611723509189832})" + "\n";
  const std::string unhealthy = R"({"Type":"container","Action":"health_status: unhealthy","Actor":{"ID":")" + id +
                                R"(","Attributes":{"name":"web1"}},"timeNano":1796611733509189832})" + "\n";
  FakeEngine engine([&](const std::string& line) -> FakeEngine::Reply {
    if (line.rfind("GET /version ", 0) == 0) return {FakeEngine::json_answer(200, kVersion141)};
    if (line.rfind("GET /v1.41/_ping ", 0) == 0) return {FakeEngine::json_answer(200, "OK")};
    if (line.rfind("GET /v1.41/events?", 0) == 0) {
      FakeEngine::Reply r;
      r.bytes = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      // An event cut across chunks, garbage, an overlong line, another event.
      r.pieces = {chunk(die.substr(0, 40)), chunk(die.substr(40)),
                  chunk("{not json\n"),     chunk(std::string(9000, 'z') + "\n"),
                  chunk(unhealthy),         "0\r\n\r\n"};
      r.close = true;
      return r;
    }
    return {FakeEngine::json_answer(404, "{}")};
  });
  Loop loop(engine.path());
  BOOST_TEST_REQUIRE(!loop.client->events(0, {}, {}, {}).has_value());  // the version is not known yet
  BOOST_TEST_REQUIRE(loop.get("/_ping").has_value());
  std::vector<ContainerEvent> events;
  std::vector<std::string> bad;
  std::optional<Error> ended;
  // Each event asks the engine something at once, from inside the
  // stream's own callback (curl refuses handles added there: CurlLoop
  // adds them when curl returns).
  int pinged = 0;
  auto stream = loop.client->events(
      1796611700,
      [&](ContainerEvent e) {
        events.push_back(std::move(e));
        loop.client->get("/_ping", [&](Result<std::string> r) {
          BOOST_TEST(r.has_value(), (r ? "" : r.error().message));
          ++pinged;
        });
      },
      [&](Error e) { bad.push_back(e.message); }, [&](Error e) { ended = std::move(e); });
  BOOST_TEST_REQUIRE(stream.has_value(), (stream ? "" : stream.error().message));
  loop.until([&] { return ended.has_value() && pinged == 2; });
  BOOST_TEST_REQUIRE(events.size() == 2u);
  BOOST_TEST(events[0].action == EventAction::kDie);
  BOOST_TEST(events[0].exit_code.value_or(-1) == 137);
  BOOST_TEST(events[1].action == EventAction::kHealthStatus);
  BOOST_TEST(events[1].health == HealthStatus::kUnhealthy);
  BOOST_TEST_REQUIRE(bad.size() == 2u);
  BOOST_TEST(bad[0].find("/events: not valid JSON") == 0, bad[0]);
  BOOST_TEST(bad[1] == "GET /events: a line of 9000 bytes, longer than 4096, skipped");
  BOOST_TEST(ended->message == "GET /events: the engine closed the stream");
  const auto requests = engine.requests();
  BOOST_TEST(std::count_if(requests.begin(), requests.end(), [](const std::string& r) {
               return r.rfind("GET /v1.41/events?", 0) == 0 && r.find("&since=1796611700 ") != std::string::npos;
             }) == 1);
}

BOOST_AUTO_TEST_CASE(docker_host_and_the_socket) {
  BOOST_TEST(*engine_socket("", nullptr) == "/var/run/docker.sock");
  BOOST_TEST(*engine_socket("", "") == "/var/run/docker.sock");
  BOOST_TEST(*engine_socket("", "unix:///run/podman/podman.sock") == "/run/podman/podman.sock");
  BOOST_TEST(*engine_socket("/srv/d.sock", "unix:///run/podman/podman.sock") == "/srv/d.sock");
  auto bad = engine_socket("", "tcp://10.0.0.1:2375");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().message.find("DOCKER_HOST=tcp://10.0.0.1:2375: vigild talks to a local engine") == 0);
  BOOST_TEST(!engine_socket("", "unix://relative.sock").has_value());
}

// The real thing: Debian's dockerd, started for this case.
BOOST_AUTO_TEST_CASE(against_a_real_dockerd, *boost::unit_test::label("dockerd")) {
  harness::DockerEngine engine;
  Loop loop(engine.socket());
  auto list = loop.get("/containers/json?all=1");
  BOOST_TEST_REQUIRE(list.has_value(), (list ? "" : list.error().message));
  BOOST_TEST(parse_container_list(*list).has_value());
  BOOST_TEST_REQUIRE(loop.client->api().has_value());
  BOOST_TEST(*loop.client->api() >= kOldestApi);

  std::vector<ContainerEvent> events;
  std::optional<Error> ended;
  // From a second ago: the engine replays what happened since (the
  // request may reach it after the container started), then goes on live.
  const std::int64_t since =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() - 1;
  auto stream = loop.client->events(
      since, [&](ContainerEvent e) { events.push_back(std::move(e)); },
      [](Error e) { BOOST_TEST(false, "a bad line from dockerd: " << e.message); }, [&](Error e) { ended = e; });
  BOOST_TEST_REQUIRE(stream.has_value(), (stream ? "" : stream.error().message));
  const std::string id =
      engine.run_container({"--name", "client-test", harness::DockerEngine::kImage, "sh", "-c", "exit 3"});
  loop.until([&] {
    return std::any_of(events.begin(), events.end(),
                       [&](const ContainerEvent& e) { return e.id == id && e.action == EventAction::kDie; });
  });
  const auto die =
      std::find_if(events.begin(), events.end(), [](const auto& e) { return e.action == EventAction::kDie; });
  BOOST_TEST(die->name == "client-test");
  BOOST_TEST(die->exit_code.value_or(-1) == 3);
  BOOST_TEST(std::any_of(events.begin(), events.end(),
                         [&](const auto& e) { return e.id == id && e.action == EventAction::kStart; }));

  auto inspect = loop.get("/containers/client-test/json");
  BOOST_TEST_REQUIRE(inspect.has_value(), (inspect ? "" : inspect.error().message));
  auto info = parse_container(*inspect);
  BOOST_TEST_REQUIRE(info.has_value(), (info ? "" : info.error().message));
  BOOST_TEST(info->id == id);
  BOOST_TEST(info->state == ContainerState::kExited);
  BOOST_TEST(info->exit_code == 3);

  auto missing = loop.get("/containers/no-such-container/json");
  BOOST_TEST(missing.error().kind == ErrorKind::kNotFound);
  BOOST_TEST(missing.error().message.find("No such container: no-such-container") != std::string::npos,
             missing.error().message);

  // The engine goes away: the stream ends, and requests find no engine.
  engine.stop();
  loop.until([&] { return ended.has_value(); });
  BOOST_TEST(ended->message.find("GET /events") == 0, ended->message);
  auto gone = loop.get("/containers/json");
  BOOST_TEST(gone.error().kind == ErrorKind::kNotAvailable, gone.error().message);
}

// Every container action the engine offers, on a real engine: pause and
// unpause, kill with a signal, start, stop (again: 304, done as asked),
// restart; each state checked with an inspect.
BOOST_AUTO_TEST_CASE(container_actions_on_a_real_dockerd, *boost::unit_test::label("dockerd")) {
  harness::DockerEngine engine;
  Loop loop(engine.socket(), 20000ms);
  const std::string id = engine.run_container({"--name", "acted", "--network", "none", harness::DockerEngine::kImage});
  auto state = [&] {
    auto body = loop.get("/containers/" + id + "/json");
    BOOST_TEST_REQUIRE(body.has_value(), (body ? "" : body.error().message));
    auto info = parse_container(*body);
    BOOST_TEST_REQUIRE(info.has_value());
    return info->state;
  };
  auto act = [&](ContainerAction action, std::optional<int> t = std::nullopt, std::string_view signal = {}) {
    auto path = action_path(id, action, t, signal);
    BOOST_TEST_REQUIRE(path.has_value(), (path ? "" : path.error().message));
    auto r = loop.post(*path);
    BOOST_TEST(r.has_value(), *path << ": " << (r ? "" : r.error().message));
  };
  BOOST_TEST((state() == ContainerState::kRunning));
  act(ContainerAction::kPause);
  BOOST_TEST((state() == ContainerState::kPaused));
  // Paused again: refused, in the engine's words.
  auto refused = loop.post(*action_path(id, ContainerAction::kPause));
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().message.find("409") != std::string::npos, refused.error().message);
  BOOST_TEST(refused.error().message.find("already paused") != std::string::npos, refused.error().message);
  act(ContainerAction::kUnpause);
  BOOST_TEST((state() == ContainerState::kRunning));
  act(ContainerAction::kKill, std::nullopt, "SIGKILL");
  loop.until([&] { return state() == ContainerState::kExited; });
  act(ContainerAction::kStop, 1);  // already stopped: 304, as asked
  act(ContainerAction::kStart);
  BOOST_TEST((state() == ContainerState::kRunning));
  act(ContainerAction::kStart);  // already started: 304, as asked
  act(ContainerAction::kRestart, 1);
  BOOST_TEST((state() == ContainerState::kRunning));
  act(ContainerAction::kStop, 1);  // httpd as PID 1 ignores SIGTERM: killed after 1 s
  BOOST_TEST((state() == ContainerState::kExited));
}
