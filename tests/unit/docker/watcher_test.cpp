// probes/docker/watcher: the containers kept current from the events stream
// and re-listed on every connection, against Debian's real dockerd (label
// dockerd): a container killed, an engine that stops (a container dies
// with it) and comes back, an engine that is not there yet.
#define BOOST_TEST_MODULE docker_watcher
#include "probes/docker/watcher.hpp"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

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

VIGIL_REQUIREMENT("dockerd", [] { return harness::DockerEngine::why_not(); });

namespace {

// What the callbacks said, in order.
struct Seen {
  std::vector<std::pair<bool, std::string>> availability;
  struct Change {
    std::optional<ContainerInfo> before, now;
    std::optional<ContainerEvent> event;
  };
  std::vector<Change> changes;
  std::vector<std::string> problems;

  Watcher::Callbacks callbacks() {
    return {[this](bool up, const std::string& why) {
              BOOST_TEST_MESSAGE("availability " << up << ": " << why);
              availability.emplace_back(up, why);
            },
            [this](const ContainerChange& c) {
              BOOST_TEST_MESSAGE("change " << (c.now ? c.now->name : c.before->name) << " "
                                           << (c.event ? std::string(to_string(c.event->action)) : "-") << " "
                                           << (c.now ? std::string(to_string(c.now->state)) : "gone"));
              changes.push_back({c.before ? std::optional(*c.before) : std::nullopt,
                                 c.now ? std::optional(*c.now) : std::nullopt, c.event});
            },
            [this](const Error& e) {
              BOOST_TEST_MESSAGE("problem: " << e.message);
              problems.push_back(e.message);
            }};
  }

  // The first change to container `name` from index `from` on that `pred` accepts.
  const Change* find(const std::string& name, std::size_t from, const std::function<bool(const Change&)>& pred) const {
    for (std::size_t i = from; i < changes.size(); ++i) {
      const auto& c = changes[i];
      const std::string n = c.now ? c.now->name : c.before ? c.before->name : "";
      if (n == name && pred(c)) return &c;
    }
    return nullptr;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(retry_delays_double_up_to_30s) {
  BOOST_TEST(retry_delay(0).count() == 0);
  BOOST_TEST(retry_delay(1).count() == 250);
  BOOST_TEST(retry_delay(2).count() == 500);
  BOOST_TEST(retry_delay(5).count() == 4000);
  BOOST_TEST(retry_delay(8).count() == 30000);
  BOOST_TEST(retry_delay(1000).count() == 30000);
}

BOOST_AUTO_TEST_CASE(what_counts_as_a_change) {
  ContainerInfo a;
  a.id = "1f6abff95f8f";
  a.state = ContainerState::kRunning;
  a.pid = 10;
  ContainerInfo b = a;
  b.labels = {{"x", "y"}};  // not watched
  b.error = "n/a";
  BOOST_TEST(!differs(a, b));
  for (auto change : std::vector<std::function<void(ContainerInfo&)>>{
           [](ContainerInfo& c) { c.state = ContainerState::kExited; },
           [](ContainerInfo& c) { c.health = HealthStatus::kUnhealthy; }, [](ContainerInfo& c) { c.pid = 11; },
           [](ContainerInfo& c) { c.started_at = 5; }, [](ContainerInfo& c) { c.finished_at = 5; },
           [](ContainerInfo& c) { c.restart_count = 1; }, [](ContainerInfo& c) { c.oom_killed = true; },
           [](ContainerInfo& c) { c.exit_code = 1; }}) {
    ContainerInfo c = a;
    change(c);
    BOOST_TEST(differs(a, c));
  }
}

// A restart brings die and start at once; their inspects run side by side
// and the engine may answer the older one last. The watcher keeps the
// newer facts (the container runs) and still reports both events.
BOOST_AUTO_TEST_CASE(an_older_inspect_answered_last_does_not_undo_a_newer_one) {
  const std::string id = "1f6abff95f8fbd3e40604e3bd2cc1ac10dc22f878aa0fa5a7d00d802ec19f237";
  auto inspect = [&](const std::string& state) {
    return FakeEngine::json_answer(200, R"({"Id":")" + id + R"(","Name":"/web1","State":)" + state + "}");
  };
  auto event = [&](const std::string& action, const std::string& attributes) {
    return R"({"Type":"container","Action":")" + action + R"(","Actor":{"ID":")" + id + R"(","Attributes":{)" +
           attributes + R"(}},"timeNano":1796611723509189832})" + "\n";
  };
  std::atomic<int> inspects{0};
  FakeEngine engine([&](const std::string& line) -> FakeEngine::Reply {
    if (line.rfind("GET /version ", 0) == 0) return {FakeEngine::json_answer(200, kVersion141)};
    if (line.rfind("GET /v1.41/containers/json?all=1 ", 0) == 0)
      return {FakeEngine::json_answer(200, R"([{"Id":")" + id + R"(","Names":["/web1"],"State":"running"}])")};
    if (line.rfind("GET /v1.41/events?", 0) == 0) {
      FakeEngine::Reply r("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
      r.pieces = {chunk(event("die", R"("exitCode":"137","name":"web1")") + event("start", R"("name":"web1")"))};
      return r;  // held open
    }
    if (line.rfind("GET /v1.41/containers/" + id + "/json ", 0) == 0) {
      switch (++inspects) {
        case 1:  // the listing's
          return {inspect(R"({"Status":"running","Pid":100,"StartedAt":"2026-12-07T10:00:00Z"})")};
        case 2: {  // the die's: the older facts, answered last
          FakeEngine::Reply r(inspect(
              R"({"Status":"exited","Pid":0,"ExitCode":137,"StartedAt":"2026-12-07T10:00:00Z","FinishedAt":"2026-12-07T10:01:00Z"})"));
          r.after = std::chrono::milliseconds(300);
          return r;
        }
        default:  // the start's
          return {inspect(R"({"Status":"running","Pid":200,"StartedAt":"2026-12-07T10:01:01Z"})")};
      }
    }
    return {FakeEngine::json_answer(404, R"({"message":"page not found"})")};
  });
  Loop loop(engine.path());
  Seen seen;
  Watcher watcher(loop.event.get(), *loop.client, seen.callbacks());
  watcher.start();
  auto with_event = [&](EventAction action) {
    return seen.find("web1", 0, [action](const auto& c) { return c.event && c.event->action == action; });
  };
  loop.until([&] { return with_event(EventAction::kDie) != nullptr && with_event(EventAction::kStart) != nullptr; });
  BOOST_TEST(inspects.load() == 3);
  const ContainerInfo* web1 = watcher.find("web1");
  BOOST_TEST_REQUIRE(web1 != nullptr);
  BOOST_TEST(web1->state == ContainerState::kRunning);
  BOOST_TEST(web1->pid == 200);
  // The die was reported after the start, with the facts then current.
  BOOST_TEST(with_event(EventAction::kStart) < with_event(EventAction::kDie));
  BOOST_TEST(with_event(EventAction::kDie)->now->pid == 200);
}

BOOST_AUTO_TEST_CASE(follows_containers_and_the_engine, *boost::unit_test::label("dockerd")) {
  harness::DockerEngine engine;
  const std::string keeper = engine.run_container({"--name", "keeper", harness::DockerEngine::kImage, "sleep", "600"});
  engine.stop();  // first, a watcher that finds no engine

  Loop loop(engine.socket());
  Seen seen;
  Watcher watcher(loop.event.get(), *loop.client, seen.callbacks());
  watcher.start();
  loop.until([&] { return !seen.availability.empty(); });
  BOOST_TEST(!seen.availability[0].first);
  BOOST_TEST(seen.availability[0].second.find("no such file or directory") != std::string::npos,
             seen.availability[0].second);
  BOOST_TEST(!watcher.up());

  // The engine appears: the watcher connects by itself (backoff) and
  // finds the stopped container.
  engine.start();
  loop.until([&] { return watcher.up() && watcher.find("keeper") != nullptr; });
  BOOST_TEST_REQUIRE(seen.availability.size() == 2u);  // once down, once up: no repeats
  BOOST_TEST(seen.availability[1].first);
  BOOST_TEST(watcher.find("keeper")->id == keeper);
  BOOST_TEST(watcher.find(keeper.substr(0, 12)) == watcher.find("keeper"));
  BOOST_TEST(watcher.find("keeper")->state == ContainerState::kExited);  // the engine's stop stopped it

  // Started: an event, inspected.
  std::size_t from = seen.changes.size();
  engine.docker({"start", "keeper"});
  loop.until([&] {
    return seen.find("keeper", from, [](const auto& c) {
      return c.event && c.event->action == EventAction::kStart && c.now && c.now->state == ContainerState::kRunning;
    }) != nullptr;
  });
  const int pid = watcher.find("keeper")->pid;
  BOOST_TEST(pid > 0);

  // Killed: a die event with its exit code, the state after it.
  from = seen.changes.size();
  engine.docker({"kill", "keeper"});
  loop.until([&] {
    return seen.find("keeper", from, [](const auto& c) { return c.event && c.event->action == EventAction::kDie; }) !=
           nullptr;
  });
  const auto* died =
      seen.find("keeper", from, [](const auto& c) { return c.event && c.event->action == EventAction::kDie; });
  BOOST_TEST(died->event->exit_code.value_or(-1) == 137);
  BOOST_TEST(died->now->state == ContainerState::kExited);
  BOOST_TEST(died->now->exit_code == 137);
  // The kill's own inspect may already see it dead: some change from here
  // on goes from the running process to none.
  BOOST_TEST(seen.find("keeper", from, [&](const auto& c) {
    return c.before && c.before->pid == pid && c.now && c.now->pid == 0;
  }) != nullptr);

  // The engine stops while the container runs (it dies with the engine)
  // and comes back: the death is noticed (by the re-list; or by an event,
  // should the engine answer one more list as it stops).
  engine.docker({"start", "keeper"});
  loop.until([&] { return watcher.find("keeper")->state == ContainerState::kRunning; });
  from = seen.changes.size();
  const std::size_t availability_before = seen.availability.size();
  const auto reconnects = watcher.reconnects();
  engine.stop();
  loop.until([&] { return watcher.reconnects() > reconnects; });
  engine.start();
  loop.until([&] {
    return seen.find("keeper", from, [](const auto& c) {
      return c.before && c.before->state == ContainerState::kRunning && c.now &&
             c.now->state == ContainerState::kExited;
    }) != nullptr;
  });
  BOOST_TEST(watcher.up());
  // Down at most once and up once around the restart.
  BOOST_TEST(seen.availability.size() - availability_before <= 2u);

  // Removed: gone.
  from = seen.changes.size();
  engine.docker({"rm", "-f", "keeper"});
  loop.until([&] { return watcher.find("keeper") == nullptr; });
  const auto* gone = seen.find("keeper", from, [](const auto& c) { return !c.now; });
  BOOST_TEST_REQUIRE(gone != nullptr);
  BOOST_TEST(gone->before->id == keeper);
  BOOST_TEST(watcher.events_seen() > 0u);
}

BOOST_AUTO_TEST_CASE(labels_and_ids, *boost::unit_test::label("dockerd")) {
  harness::DockerEngine engine;
  engine.run_container({"--name", "web-a", "--label", "com.docker.compose.project=shop", "--label",
                        "com.docker.compose.service=web", "--label", "vigil.enable=true", harness::DockerEngine::kImage,
                        "sleep", "600"});
  engine.run_container({"--name", "db-a", "--label", "com.docker.compose.project=shop", "--label",
                        "com.docker.compose.service=db", harness::DockerEngine::kImage, "sleep", "600"});
  Loop loop(engine.socket());
  Seen seen;
  Watcher watcher(loop.event.get(), *loop.client, seen.callbacks());
  watcher.start();
  loop.until([&] { return watcher.containers().size() == 2; });
  BOOST_TEST(watcher.with_label("com.docker.compose.project", "shop").size() == 2u);
  BOOST_TEST_REQUIRE(watcher.with_label("vigil.enable", "true").size() == 1u);
  BOOST_TEST(watcher.with_label("vigil.enable", "true")[0]->name == "web-a");
  BOOST_TEST(watcher.with_label("vigil.enable", std::nullopt).size() == 1u);
  BOOST_TEST(watcher.with_label("vigil.enable", "false").empty());
  BOOST_TEST(watcher.find("no-such") == nullptr);
  for (const auto& p : seen.problems) BOOST_TEST_MESSAGE("problem: " << p);
  BOOST_TEST(seen.problems.empty());
}
