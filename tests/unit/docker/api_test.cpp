// probes/docker/api: the Engine API's answers into typed values, over
// answers captured from Debian's dockerd 20.10 (tests/fixtures/docker/:
// a busybox httpd with a HEALTHCHECK made unhealthy, a container killed by
// its 32 MiB memory limit, one in an on-failure restart loop, and the
// events stream of all that) and over broken ones.
#define BOOST_TEST_MODULE docker_api
#include "probes/docker/api.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <map>
#include <ostream>
#include <string>

#include "core/text.hpp"
#include "tests/unit/docker/print.hpp"

using namespace vigil;
using namespace vigil::docker;

namespace {

std::string fixture(const std::string& name) {
  const char* dir = std::getenv("VIGIL_TEST_FIXTURES");
  BOOST_TEST_REQUIRE(dir != nullptr, "VIGIL_TEST_FIXTURES is not set (run through meson test)");
  auto text = read_file(std::string(dir) + "/docker/" + name);
  BOOST_TEST_REQUIRE(text.has_value(), name);
  return *text;
}

std::string label(const Labels& labels, const std::string& name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return "(absent)";
}

// A minimal inspect answer with `state` as its State object.
std::string inspect_with(const std::string& state, const std::string& more = "") {
  return R"({"Id":"1f6abff95f8fbd3e40604e3bd2cc1ac10dc22f878aa0fa5a7d00d802ec19f237","Name":"/web1","State":)" + state +
         more + "}";
}

}  // namespace

BOOST_AUTO_TEST_CASE(version_and_negotiation) {
  auto v = parse_version(fixture("version.json"));
  BOOST_TEST_REQUIRE(v.has_value(), (v ? "" : v.error().message));
  BOOST_TEST(v->version == "20.10.24+dfsg1");
  BOOST_TEST(v->api.text() == "1.41");
  BOOST_TEST(v->min_api.text() == "1.12");
  BOOST_TEST(v->os == "linux");
  BOOST_TEST(negotiate(*v)->text() == "1.41");

  EngineVersion newer{"27.0", {1, 46}, {1, 24}, "linux"};
  BOOST_TEST(negotiate(newer)->text() == kNewestApi.text());
  EngineVersion old{"1.12", {1, 24}, {1, 12}, "linux"};
  BOOST_TEST(negotiate(old).error().kind == ErrorKind::kNotAvailable);
  BOOST_TEST(negotiate(old).error().message.find("1.24") != std::string::npos);
  EngineVersion future{"99", {1, 60}, {1, 50}, "linux"};
  BOOST_TEST(!negotiate(future).has_value());

  for (const char* bad : {"", "1", "1.", ".4", "a.b", "1.41.2", "-1.4", "1.4x"}) {
    BOOST_TEST(!parse_api_version(bad).has_value(), bad);
  }
  BOOST_TEST(parse_version(R"({"Version":"x"})").error().message.find("no ApiVersion") != std::string::npos);
  BOOST_TEST(
      parse_version(R"({"ApiVersion":141})").error().message.find("ApiVersion: a string was expected, got a number") !=
      std::string::npos);
}

BOOST_AUTO_TEST_CASE(container_list) {
  auto list = parse_container_list(fixture("containers.json"));
  BOOST_TEST_REQUIRE(list.has_value(), (list ? "" : list.error().message));
  BOOST_TEST_REQUIRE(list->size() == 2u);
  std::map<std::string, ContainerSummary> by_name;
  for (const auto& c : *list) by_name[c.names.at(0)] = c;
  BOOST_TEST(by_name.at("web1").state == ContainerState::kRunning);
  BOOST_TEST(by_name.at("oomer").state == ContainerState::kExited);
  BOOST_TEST(by_name.at("web1").id == "1f6abff95f8fbd3e40604e3bd2cc1ac10dc22f878aa0fa5a7d00d802ec19f237");
  BOOST_TEST(label(by_name.at("web1").labels, "com.docker.compose.service") == "web");
  BOOST_TEST(label(by_name.at("web1").labels, "vigil.enable") == "true");
  BOOST_TEST(by_name.at("oomer").labels.empty());
  BOOST_TEST(parse_container_list("[]")->empty());
}

BOOST_AUTO_TEST_CASE(healthy_container) {
  auto c = parse_container(fixture("inspect_healthy.json"));
  BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().message));
  BOOST_TEST(c->name == "web1");
  BOOST_TEST(c->image == "vigil-test:local");
  BOOST_TEST(c->state == ContainerState::kRunning);
  BOOST_TEST(c->pid > 0);
  BOOST_TEST(!c->oom_killed);
  BOOST_TEST(c->started_at.has_value());
  BOOST_TEST(!c->finished_at.has_value());  // Docker's 0001-01-01: never
  BOOST_TEST(c->has_healthcheck);
  BOOST_TEST(c->health == HealthStatus::kHealthy);
  BOOST_TEST(c->health_start_period.count() == 2000);
  BOOST_TEST(c->health_interval.count() == 1000);
  BOOST_TEST(c->restart_policy == RestartPolicy::kNo);
  BOOST_TEST(c->memory_limit == 0);
  BOOST_TEST(label(c->labels, "com.docker.compose.project") == "demo");
  BOOST_TEST_REQUIRE(c->last_health.has_value());
  BOOST_TEST(c->last_health->exit_code == 0);
  BOOST_TEST(c->last_health->output == "ok\n");
}

BOOST_AUTO_TEST_CASE(unhealthy_container_keeps_the_last_health_output) {
  auto c = parse_container(fixture("inspect_unhealthy.json"));
  BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().message));
  BOOST_TEST(c->state == ContainerState::kRunning);
  BOOST_TEST(c->health == HealthStatus::kUnhealthy);
  BOOST_TEST(c->failing_streak == 2);
  BOOST_TEST_REQUIRE(c->last_health.has_value());
  BOOST_TEST(c->last_health->exit_code == 1);
  BOOST_TEST(c->last_health->output == "wget: server returned error: HTTP/1.1 404 Not Found\n");
  BOOST_TEST(c->last_health->end.has_value());
}

BOOST_AUTO_TEST_CASE(oom_killed_and_restarting_containers) {
  auto oom = parse_container(fixture("inspect_oomkilled.json"));
  BOOST_TEST_REQUIRE(oom.has_value(), (oom ? "" : oom.error().message));
  BOOST_TEST(oom->state == ContainerState::kExited);
  BOOST_TEST(oom->oom_killed);
  BOOST_TEST(oom->exit_code == 137);
  BOOST_TEST(oom->pid == 0);
  BOOST_TEST(oom->memory_limit == 32 * 1024 * 1024);
  BOOST_TEST(oom->finished_at.has_value());
  BOOST_TEST(*oom->finished_at >= *oom->started_at);

  auto loop = parse_container(fixture("inspect_restarting.json"));
  BOOST_TEST_REQUIRE(loop.has_value(), (loop ? "" : loop.error().message));
  BOOST_TEST(loop->restart_policy == RestartPolicy::kOnFailure);
  BOOST_TEST(loop->restart_count == 2);
  BOOST_TEST(loop->health == HealthStatus::kStarting);
  BOOST_TEST(!loop->last_health.has_value());  // an empty log
}

BOOST_AUTO_TEST_CASE(the_events_of_a_real_stream) {
  const std::string stream = fixture("events.jsonl");
  std::map<EventAction, int> seen;
  std::vector<int> die_codes;
  int ignored = 0;
  for (auto line : lines(stream)) {
    if (line.empty()) continue;
    auto ev = parse_event(line);
    BOOST_TEST_REQUIRE(ev.has_value(), (ev ? "" : ev.error().message));
    if (!ev->has_value()) {
      ++ignored;  // exec_create, exec_start, exec_die
      continue;
    }
    const ContainerEvent& e = **ev;
    BOOST_TEST(is_container_id(e.id));
    BOOST_TEST(!e.name.empty());
    BOOST_TEST(e.time_nano > 1'700'000'000'000'000'000);
    seen[e.action] += 1;
    if (e.action == EventAction::kDie) die_codes.push_back(e.exit_code.value_or(-1));
    if (e.action == EventAction::kHealthStatus) BOOST_TEST(e.health != HealthStatus::kNone);
    BOOST_TEST(label(e.attributes, "image") == "vigil-test:local");
    BOOST_TEST(label(e.attributes, "name") == "(absent)");  // taken into `name`
  }
  BOOST_TEST(ignored == 3);
  BOOST_TEST(seen[EventAction::kOom] == 1);
  BOOST_TEST(seen[EventAction::kHealthStatus] == 3);
  BOOST_TEST(seen[EventAction::kPause] == 1);
  BOOST_TEST(seen[EventAction::kUnpause] == 1);
  BOOST_TEST(seen[EventAction::kDestroy] == 1);
  BOOST_TEST(seen[EventAction::kRestart] == 1);
  std::sort(die_codes.begin(), die_codes.end());
  BOOST_TEST(die_codes == std::vector<int>({3, 3, 137, 137, 137, 137}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(broken_answers_name_the_field) {
  struct Case {
    std::string body, expect;
  };
  for (const auto& [body, expect] : std::vector<Case>{
           {R"({"Id":"1f6abff95f8f","State":{"Status":"running","Pid":"12"}})",
            "State.Pid: a whole number was expected, got a string"},
           {R"({"Id":"1f6abff95f8f","State":{"Status":"zombie"}})", "State.Status: \"zombie\" is not one of created"},
           {R"({"Id":"1f6abff95f8f","State":{"Pid":99999999999}})", "State.Pid: 99999999999 is out of range"},
           {R"({"Id":"1f6abff95f8f","State":{"Health":{"Status":"healthy","Log":{}}}})",
            "State.Health.Log: an array was expected, got an object"},
           {R"({"Id":"1f6abff95f8f","State":{"StartedAt":"yesterday"}})", "State.StartedAt: invalid timestamp"},
           {R"({"Id":"1f6abff95f8f","Config":{"Labels":{"a":1}}})",
            "Config.Labels.a: a string was expected, got a number"},
           {R"({"Id":"1f6abff95f8f","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}})",
            "HostConfig.RestartPolicy.Name: \"sometimes\" is not one of no, always"},
           {R"({"Id":"../../images/create?fromImage=evil"})", "is not a container id"},
           {R"({"Name":"/x"})", "Id is missing"},
           {R"({"Id":"1f6abff95f8f","State":)", "not valid JSON at byte"},
           {R"([1,2])", "an object was expected, got an array"},
           // nlohmann throws out_of_range, not parse_error, for this one
           // (found by tests/fuzz/docker.cpp).
           {R"({"Id":"1f6abff95f8f","RestartCount":179661173359127058e678})", "not valid JSON ("},
           {"", "not valid JSON at byte"},
       }) {
    auto c = parse_container(body);
    BOOST_TEST_REQUIRE(!c.has_value(), body);
    BOOST_TEST(c.error().kind == ErrorKind::kParse);
    BOOST_TEST(c.error().message.find(expect) != std::string::npos, c.error().message << " lacks: " << expect);
    BOOST_TEST(c.error().message.rfind("/containers/ID/json: ", 0) == 0, c.error().message);
  }
  // Unknown fields and nulls are no error.
  auto c = parse_container(inspect_with(R"({"Status":"paused","Pid":null,"Future":{"x":[1,2]}})", R"(,"New":true)"));
  BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().message));
  BOOST_TEST(c->state == ContainerState::kPaused);
  BOOST_TEST(!c->has_healthcheck);
  BOOST_TEST(c->health == HealthStatus::kNone);

  // What is kept of a long string is bounded.
  const std::string huge(100000, 'x');
  c = parse_container(inspect_with(R"({"Status":"running","Error":")" + huge +
                                   R"(","Health":{"Status":"unhealthy","Log":[{"ExitCode":1,"Output":")" + huge +
                                   R"("}]}})"));
  BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().message));
  BOOST_TEST(c->error.size() == kMaxField);
  BOOST_TEST(c->last_health->output.size() == kMaxHealthOutput);

  // A healthcheck of ["NONE"] is none.
  c = parse_container(inspect_with(R"({"Status":"running"})", R"(,"Config":{"Healthcheck":{"Test":["NONE"]}})"));
  BOOST_TEST(!c->has_healthcheck);

  auto list = parse_container_list(R"([{"Id":"1f6abff95f8f","Names":"/web1"}])");
  BOOST_TEST(list.error().message == "/containers/json[0].Names: an array was expected, got a string");
  list = parse_container_list(R"({"message":"page not found"})");
  BOOST_TEST(list.error().message == "/containers/json: an array was expected, got an object");
}

BOOST_AUTO_TEST_CASE(events_that_are_not_ours_or_are_broken) {
  const std::string id = "1f6abff95f8fbd3e40604e3bd2cc1ac10dc22f878aa0fa5a7d00d802ec19f237";
  auto ev = parse_event(R"({"Type":"network","Action":"connect","Actor":{"ID":"abc"}})");
  BOOST_TEST_REQUIRE(ev.has_value());
  BOOST_TEST(!ev->has_value());
  ev = parse_event(R"({"Type":"container","Action":"attach","Actor":{"ID":")" + id + R"("}})");
  BOOST_TEST(!ev->has_value());
  ev = parse_event(R"({"Type":"container","Action":"die","Actor":{"ID":")" + id +
                   R"(","Attributes":{"exitCode":"143","name":"web1"}},"time":1796611723})");
  BOOST_TEST_REQUIRE(ev->has_value());
  BOOST_TEST((*ev)->exit_code.value() == 143);
  BOOST_TEST((*ev)->time_nano == 1796611723LL * 1'000'000'000);

  for (const auto& [line, expect] : std::vector<std::pair<std::string, std::string>>{
           {R"({"Type":"container","Action":"health_status: sideways","Actor":{"ID":")" + id + R"("}})",
            "names no health status"},
           {R"({"Type":"container","Action":"health_status","Actor":{"ID":")" + id + R"("}})",
            "names no health status"},
           {R"({"Type":"container","Action":"die","Actor":{"ID":")" + id + R"(","Attributes":{"exitCode":"-1"}}})",
            "is not an exit code"},
           {R"({"Type":"container","Action":"start","Actor":{"ID":"web1/../x"}})", "is not a container id"},
           {R"({"Type":"container","Action":"start","Actor":[]})", "Actor: an object was expected, got an array"},
           {R"({"Type":"container","Action":"start","Actor":{"ID":")" + id + R"("},"timeNano":"now"})",
            "timeNano: a whole number was expected"},
           {R"({"Type":"container","Act)", "not valid JSON"},
       }) {
    auto bad = parse_event(line);
    BOOST_TEST_REQUIRE(!bad.has_value(), line);
    BOOST_TEST(bad.error().message.find(expect) != std::string::npos, bad.error().message << " lacks: " << expect);
  }
}

BOOST_AUTO_TEST_CASE(splitter_gives_the_same_lines_whatever_the_pieces) {
  const std::string stream = fixture("events.jsonl");
  std::vector<std::string> whole;
  for (auto l : lines(stream)) {
    if (!l.empty()) whole.emplace_back(l);
  }
  for (std::size_t piece : {1, 2, 7, 100, 4096, 1 << 20}) {
    EventSplitter split;
    std::vector<std::string> got;
    for (std::size_t i = 0; i < stream.size(); i += piece) {
      split.feed(
          std::string_view(stream).substr(i, piece), [&](std::string_view l) { got.emplace_back(l); },
          [](std::size_t) { BOOST_FAIL("no line is too long"); });
    }
    BOOST_TEST(got == whole, "pieces of " << piece);
    BOOST_TEST(split.pending() == 0u);
  }
}

BOOST_AUTO_TEST_CASE(splitter_drops_an_overlong_line_and_goes_on) {
  EventSplitter split(100);
  std::vector<std::string> got;
  std::vector<std::size_t> overlong;
  auto feed = [&](std::string_view s) {
    split.feed(
        s, [&](std::string_view l) { got.emplace_back(l); }, [&](std::size_t n) { overlong.push_back(n); });
    BOOST_TEST(split.pending() <= 100u);
  };
  feed("first\n");
  for (int i = 0; i < 50; ++i) feed(std::string(37, 'y'));  // 1850 bytes without a newline
  feed("yy\nsecond\n\nthird");
  feed("\n");
  BOOST_TEST(got == std::vector<std::string>({"first", "second", "third"}), boost::test_tools::per_element());
  BOOST_TEST(overlong == std::vector<std::size_t>({1852}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(events_query_asks_for_container_events_we_act_on) {
  const std::string q = events_query(0);
  BOOST_TEST(q.find("since=") == std::string::npos);
  BOOST_TEST(q.find("%22type%22%3A%5B%22container%22%5D") != std::string::npos);
  for (auto name : kind_names<EventAction>()) {
    BOOST_TEST(q.find("%22" + std::string(name) + "%22") != std::string::npos, name);
  }
  BOOST_TEST(events_query(1796611723).find("&since=1796611723") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(engine_messages) {
  BOOST_TEST(engine_message(R"({"message":"No such container: web1"})") == "No such container: web1");
  BOOST_TEST(engine_message(R"({"message":""})") == "(no message)");
  BOOST_TEST(engine_message("  \n") == "(no message)");
  BOOST_TEST(engine_message("page not found\n") == "page not found");
  // Bytes that are not text are shown escaped, and an excerpt only.
  const std::string binary(5000, '\xff');
  const std::string m = engine_message(binary);
  BOOST_TEST(m.rfind("\\xff\\xff", 0) == 0);
  BOOST_TEST(m.size() <= 1024u);
}

// Podman 4.3's Docker-compatible service (podman system service), as
// captured here: the same API version, an empty health status and restart
// policy name, a null health log, and "init" and "cleanup" events of its own.
BOOST_AUTO_TEST_CASE(podman_answers) {
  auto v = parse_version(fixture("podman_version.json"));
  BOOST_TEST_REQUIRE(v.has_value(), (v ? "" : v.error().message));
  BOOST_TEST(v->version == "4.3.1");
  BOOST_TEST(negotiate(*v)->text() == "1.41");

  auto list = parse_container_list(fixture("podman_containers.json"));
  BOOST_TEST_REQUIRE(list.has_value(), (list ? "" : list.error().message));
  BOOST_TEST_REQUIRE(list->size() == 1u);
  BOOST_TEST(list->at(0).names.at(0) == "pm1");
  BOOST_TEST(label(list->at(0).labels, "vigil.enable") == "true");

  auto c = parse_container(fixture("podman_inspect_exited.json"));
  BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().message));
  BOOST_TEST(c->name == "pm1");
  BOOST_TEST(c->state == ContainerState::kExited);
  BOOST_TEST(c->exit_code == 137);
  BOOST_TEST(c->health == HealthStatus::kNone);
  BOOST_TEST(!c->last_health.has_value());
  BOOST_TEST(c->restart_policy == RestartPolicy::kNo);

  std::map<EventAction, int> seen;
  const std::string stream = fixture("podman_events.jsonl");  // lines() views it
  for (auto line : lines(stream)) {
    if (line.empty()) continue;
    auto ev = parse_event(line);
    BOOST_TEST_REQUIRE(ev.has_value(), (ev ? "" : ev.error().message));
    if (!ev->has_value()) continue;  // init, cleanup
    seen[(*ev)->action] += 1;
    if ((*ev)->action == EventAction::kDie) BOOST_TEST((*ev)->exit_code.value_or(-1) == 137);
  }
  BOOST_TEST(seen[EventAction::kStart] == 1);
  BOOST_TEST(seen[EventAction::kKill] == 1);
  BOOST_TEST(seen[EventAction::kDie] == 1);
}

// Action paths: the id checked before it goes into a path, the stop
// timeout and the signal only where they belong and only of their shape.
BOOST_AUTO_TEST_CASE(container_action_paths) {
  const std::string id = "1f6abff95f8fbd3e40604e3bd2cc1ac10dc22f878aa0fa5a7d00d802ec19f237";
  const std::string base = "/containers/" + id + "/";
  BOOST_TEST(action_path(id, ContainerAction::kStart).value() == base + "start");
  BOOST_TEST(action_path(id, ContainerAction::kStop, 10).value() == base + "stop?t=10");
  BOOST_TEST(action_path(id, ContainerAction::kStop).value() == base + "stop");
  BOOST_TEST(action_path(id, ContainerAction::kRestart, 1).value() == base + "restart?t=1");
  BOOST_TEST(action_path(id, ContainerAction::kPause, 5).value() == base + "pause");  // no timeout to give
  BOOST_TEST(action_path(id, ContainerAction::kUnpause).value() == base + "unpause");
  BOOST_TEST(action_path(id, ContainerAction::kKill).value() == base + "kill");
  BOOST_TEST(action_path(id, ContainerAction::kKill, std::nullopt, "SIGUSR1").value() == base + "kill?signal=SIGUSR1");
  BOOST_TEST(action_path(id, ContainerAction::kKill, std::nullopt, "9").value() == base + "kill?signal=9");
  auto bad_signal = action_path(id, ContainerAction::kKill, std::nullopt, "TERM&x=../../x");
  BOOST_TEST_REQUIRE(!bad_signal.has_value());
  BOOST_TEST((bad_signal.error().kind == ErrorKind::kInvalid));
  BOOST_TEST(bad_signal.error().message == "\"TERM&x=../../x\" is not a signal name or number");
  auto bad_id = action_path("../../images/x", ContainerAction::kStart);
  BOOST_TEST_REQUIRE(!bad_id.has_value());
  BOOST_TEST(bad_id.error().message.find("is not a container id") != std::string::npos, bad_id.error().message);
  BOOST_TEST(!action_path(id, ContainerAction::kStop, -1).has_value());
}

// /containers/ID/stats (the fallback where vigild cannot read a cgroup):
// the shape of Debian's dockerd 20.10 on cgroup v1 (stats.json), block I/O
// summed over devices (Sync, Async and Total count the same bytes again),
// an unlimited pids limit absent; v2's lowercase ops; what is missing stays
// missing; a field of another type names itself.
BOOST_AUTO_TEST_CASE(engine_stats) {
  auto s = parse_stats(fixture("stats.json"));
  BOOST_TEST_REQUIRE(s.has_value(), (s ? "" : s.error().message));
  BOOST_TEST(s->memory_usage.value() == 1048576u);
  BOOST_TEST(s->memory_max_usage.value() == 2097152u);
  BOOST_TEST(s->memory_failcnt.value() == 0u);
  BOOST_TEST(s->cpu_usage_ns.value() == 2500000000u);
  BOOST_TEST(s->cpu_periods.value() == 40u);
  BOOST_TEST(s->cpu_throttled_periods.value() == 4u);
  BOOST_TEST(s->cpu_throttled_ns.value() == 250000000u);
  BOOST_TEST(s->pids_current.value() == 3u);
  BOOST_TEST(!s->pids_limit.has_value());  // 2^64-1: none
  BOOST_TEST(s->read_bytes.value() == 4196u);
  BOOST_TEST(s->write_bytes.value() == 8192u);
  BOOST_TEST(s->reads.value() == 1u);
  BOOST_TEST(s->writes.value() == 2u);

  auto v2 = parse_stats(
      R"({"blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"read","value":7},)"
      R"({"major":8,"minor":0,"op":"write","value":9}],"io_serviced_recursive":null},"pids_stats":{"current":1,"limit":64}})");
  BOOST_TEST_REQUIRE(v2.has_value(), (v2 ? "" : v2.error().message));
  BOOST_TEST(v2->read_bytes.value() == 7u);
  BOOST_TEST(v2->write_bytes.value() == 9u);
  BOOST_TEST(!v2->reads.has_value());
  BOOST_TEST(v2->pids_limit.value() == 64u);
  BOOST_TEST(!v2->memory_usage.has_value());

  auto bad = parse_stats(R"({"memory_stats":{"usage":"lots"}})");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().message ==
             "/containers/ID/stats: memory_stats.usage: a whole number was expected, got a string");
  auto bad_list = parse_stats(R"({"blkio_stats":{"io_service_bytes_recursive":{"op":"Read"}}})");
  BOOST_TEST_REQUIRE(!bad_list.has_value());
  BOOST_TEST(bad_list.error().message.find("blkio_stats.io_service_bytes_recursive: an array was expected") !=
                 std::string::npos,
             bad_list.error().message);
  BOOST_TEST(!parse_stats("[]").has_value());
  BOOST_TEST(!parse_stats("{\"memory_stats\":").has_value());
  BOOST_TEST(stats_path("1f6abff95f8f").value() == "/containers/1f6abff95f8f/stats?stream=false&one-shot=true");
  BOOST_TEST(!stats_path("../x").has_value());
}
