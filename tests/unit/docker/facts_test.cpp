// probes/docker/facts: what a container's facts mean for vigild, over
// inspect answers captured from Debian's dockerd 20.10 (an httpd turned
// unhealthy, one killed by its 32 MiB limit, one in an on-failure restart
// loop) and over facts changed one at a time.
#define BOOST_TEST_MODULE docker_facts
#include "probes/docker/facts.hpp"

#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/text.hpp"
#include "tests/unit/docker/print.hpp"

using namespace vigil;
using namespace vigil::docker;

namespace {

ContainerInfo fixture(const std::string& name) {
  const char* dir = std::getenv("VIGIL_TEST_FIXTURES");
  BOOST_TEST_REQUIRE(dir != nullptr, "VIGIL_TEST_FIXTURES is not set (run through meson test)");
  auto text = read_file(std::string(dir) + "/docker/" + name);
  BOOST_TEST_REQUIRE(text.has_value(), name);
  auto info = parse_container(*text);
  BOOST_TEST_REQUIRE(info.has_value(), (info ? "" : info.error().message));
  return *info;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(health_is_judged_from_the_inspect) {
  const HealthVerdict healthy = judge_health(fixture("inspect_healthy.json"));
  BOOST_TEST(healthy.ok);
  BOOST_TEST(healthy.reason == "health: healthy");

  const HealthVerdict sick = judge_health(fixture("inspect_unhealthy.json"));
  BOOST_TEST(!sick.ok);
  BOOST_TEST(!sick.timed_out);
  BOOST_TEST(sick.reason ==
             "unhealthy (2 failed health checks in a row); last: exit code 1: wget: server returned error: HTTP/1.1 "
             "404 Not Found");

  // Dead for memory: not running says more than its last health status.
  const HealthVerdict dead = judge_health(fixture("inspect_oomkilled.json"));
  BOOST_TEST(!dead.ok);
  BOOST_TEST(contains(dead.reason, "is exited (exit code 137, killed for memory)"), dead.reason);
}

BOOST_AUTO_TEST_CASE(health_without_healthcheck_starting_paused_and_timeouts) {
  ContainerInfo c = fixture("inspect_healthy.json");
  c.health = HealthStatus::kNone;
  c.has_healthcheck = false;
  BOOST_TEST(judge_health(c).ok);
  BOOST_TEST(judge_health(c).reason == "running; it has no HEALTHCHECK");
  c.health = HealthStatus::kStarting;
  BOOST_TEST(judge_health(c).ok);
  c.state = ContainerState::kPaused;
  BOOST_TEST(!judge_health(c).ok);
  BOOST_TEST(judge_health(c).reason == "container " + c.name + " is paused");

  // Docker ends a health check at its timeout with exit code -1.
  c.state = ContainerState::kRunning;
  c.health = HealthStatus::kUnhealthy;
  c.failing_streak = 1;
  c.last_health = HealthLogEntry{-1, "Health check exceeded timeout (1s)", std::nullopt};
  const HealthVerdict v = judge_health(c);
  BOOST_TEST(!v.ok);
  BOOST_TEST(v.timed_out);
  BOOST_TEST(v.reason == "unhealthy (1 failed health check); last: exit code -1: Health check exceeded timeout (1s)");
  c.last_health = HealthLogEntry{1, "", std::nullopt};
  BOOST_TEST(!judge_health(c).timed_out);
  BOOST_TEST(judge_health(c).reason == "unhealthy (1 failed health check); last: exit code 1, no output");
}

BOOST_AUTO_TEST_CASE(a_restart_waits_while_docker_restarts_it_or_its_start_period_runs) {
  ContainerInfo c = fixture("inspect_healthy.json");
  BOOST_TEST(!restart_hold(c, *c.started_at + 60'000).has_value());
  c.state = ContainerState::kRestarting;
  BOOST_TEST(restart_hold(c, 0).value_or("") == "Docker is restarting it");

  // The fixture's start period is 2 s.
  c.state = ContainerState::kRunning;
  c.health = HealthStatus::kStarting;
  BOOST_TEST(c.health_start_period.count() == 2000);
  const auto inside = restart_hold(c, *c.started_at + 1999);
  BOOST_TEST_REQUIRE(inside.has_value());
  BOOST_TEST(contains(*inside, "start period runs until"), *inside);
  BOOST_TEST(!restart_hold(c, *c.started_at + 2000).has_value());
  // Unhealthy inside the start period is not starting: it may be restarted.
  c.health = HealthStatus::kUnhealthy;
  BOOST_TEST(!restart_hold(c, *c.started_at + 1000).has_value());
}

BOOST_AUTO_TEST_CASE(docker_restarts_what_its_policy_says) {
  // Captured between two runs of its on-failure loop.
  ContainerInfo c = fixture("inspect_restarting.json");
  BOOST_TEST(c.restart_policy == RestartPolicy::kOnFailure);
  BOOST_TEST(!restarted_by_docker(c).has_value());  // running now
  c.state = ContainerState::kExited;
  c.exit_code = 3;
  BOOST_TEST(restarted_by_docker(c).value_or("") ==
             "Docker restarts it (restart policy on-failure, 2 of unlimited restarts)");
  c.exit_code = 0;
  BOOST_TEST(!restarted_by_docker(c).has_value());  // on-failure: a clean exit stays down
  c.exit_code = 1;
  c.restart_max_retries = 2;
  BOOST_TEST(!restarted_by_docker(c).has_value());  // its retries are spent
  c.restart_max_retries = 5;
  BOOST_TEST(restarted_by_docker(c).has_value());

  c.restart_policy = RestartPolicy::kAlways;
  c.exit_code = 0;
  BOOST_TEST(restarted_by_docker(c).value_or("") == "Docker restarts it (restart policy always)");
  c.restart_policy = RestartPolicy::kUnlessStopped;
  BOOST_TEST(restarted_by_docker(c).has_value());
  c.restart_policy = RestartPolicy::kNo;
  BOOST_TEST(!restarted_by_docker(c).has_value());
}

// [docker] auto: running containers only; the label says yes (true) or no ("all").
BOOST_AUTO_TEST_CASE(auto_discovery_follows_the_label_and_the_state) {
  ContainerInfo c = fixture("inspect_restarting.json");
  c.state = ContainerState::kRunning;
  c.labels.clear();
  BOOST_TEST(!auto_discovered(c, DockerAuto::kOff));
  BOOST_TEST(!auto_discovered(c, DockerAuto::kLabelled));
  BOOST_TEST(auto_discovered(c, DockerAuto::kAll));
  c.labels = {{"com.docker.compose.service", "web"}, {"vigil.enable", "true"}};
  BOOST_TEST(!auto_discovered(c, DockerAuto::kOff));
  BOOST_TEST(auto_discovered(c, DockerAuto::kLabelled));
  BOOST_TEST(auto_discovered(c, DockerAuto::kAll));
  c.labels = {{"vigil.enable", "false"}};
  BOOST_TEST(!auto_discovered(c, DockerAuto::kLabelled));
  BOOST_TEST(!auto_discovered(c, DockerAuto::kAll));
  c.labels = {{"vigil.enable", "yes"}};  // only "true" enables
  BOOST_TEST(!auto_discovered(c, DockerAuto::kLabelled));
  BOOST_TEST(auto_discovered(c, DockerAuto::kAll));
  c.labels = {{"vigil.enable", "true"}};
  for (auto state : {ContainerState::kCreated, ContainerState::kExited, ContainerState::kPaused,
                     ContainerState::kRestarting}) {
    c.state = state;
    BOOST_TEST(!auto_discovered(c, DockerAuto::kLabelled));
    BOOST_TEST(!auto_discovered(c, DockerAuto::kAll));
  }
}

// Which containers a target of each container kind may follow (the
// target's own pick, and [docker] auto's "already followed" test).
BOOST_AUTO_TEST_CASE(selectors_by_name_id_label_and_compose_service) {
  ContainerInfo c = fixture("inspect_restarting.json");
  c.name = "shop-web-1";
  c.id = std::string(64, 'a');
  c.labels = {{"app", "gateway"}, {"com.docker.compose.project", "shop"}, {"com.docker.compose.service", "web"}};
  BOOST_TEST(selected_by(c, TargetKind::kContainer, "shop-web-1"));
  BOOST_TEST(selected_by(c, TargetKind::kContainer, c.id));
  BOOST_TEST(selected_by(c, TargetKind::kContainer, std::string(12, 'a')));
  BOOST_TEST(!selected_by(c, TargetKind::kContainer, std::string(11, 'a')));  // too short a prefix
  BOOST_TEST(!selected_by(c, TargetKind::kContainer, "shop-web"));
  BOOST_TEST(selected_by(c, TargetKind::kContainerLabel, "app=gateway"));
  BOOST_TEST(selected_by(c, TargetKind::kContainerLabel, "app"));
  BOOST_TEST(!selected_by(c, TargetKind::kContainerLabel, "app=db"));
  BOOST_TEST(!selected_by(c, TargetKind::kContainerLabel, "tier"));
  BOOST_TEST(selected_by(c, TargetKind::kComposeService, "shop/web"));
  BOOST_TEST(!selected_by(c, TargetKind::kComposeService, "shop/db"));
  BOOST_TEST(!selected_by(c, TargetKind::kComposeService, "other/web"));
  BOOST_TEST(!selected_by(c, TargetKind::kComposeService, "shop"));
  BOOST_TEST(!selected_by(c, TargetKind::kPid, "shop-web-1"));
}

BOOST_AUTO_TEST_CASE(exit_codes_above_128_are_signals) {
  const ExitFacts oom = exit_facts(fixture("inspect_oomkilled.json"));
  BOOST_TEST(oom.oom_killed);
  BOOST_TEST(!oom.code.has_value());
  BOOST_TEST(oom.signal.value_or(0) == SIGKILL);
  ContainerInfo c = fixture("inspect_healthy.json");
  c.exit_code = 3;
  BOOST_TEST(exit_facts(c).code.value_or(-1) == 3);
  BOOST_TEST(!exit_facts(c).signal.has_value());
  c.exit_code = 143;
  BOOST_TEST(exit_facts(c).signal.value_or(0) == SIGTERM);
  c.exit_code = 255;  // not a signal: 255 is a code of its own
  BOOST_TEST(exit_facts(c).code.value_or(-1) == 255);
}

BOOST_AUTO_TEST_CASE(engine_events_become_vigil_events) {
  const ContainerInfo sick = fixture("inspect_unhealthy.json");
  ContainerEvent e;
  e.id = sick.id;
  e.name = sick.name;
  e.action = EventAction::kHealthStatus;
  e.health = HealthStatus::kUnhealthy;
  auto ev = container_event(e, &sick, 1000);
  BOOST_TEST_REQUIRE(ev.has_value());
  BOOST_TEST((ev->kind == EventKind::kContainerHealth));
  BOOST_TEST((ev->severity == Severity::kCritical));
  BOOST_TEST(ev->ts_ms == 1000);
  BOOST_TEST(contains(ev->message, "container web1 is unhealthy (2 failed health checks in a row)"), ev->message);
  auto details = nlohmann::json::parse(ev->details);
  BOOST_TEST(details["health"] == "unhealthy");
  BOOST_TEST(details["output"] == "wget: server returned error: HTTP/1.1 404 Not Found\n");
  BOOST_TEST(details["container"] == sick.id);

  const ContainerInfo oom = fixture("inspect_oomkilled.json");
  e.id = oom.id;
  e.action = EventAction::kDie;
  e.exit_code = 137;
  ev = container_event(e, &oom, 2000);
  BOOST_TEST_REQUIRE(ev.has_value());
  BOOST_TEST((ev->kind == EventKind::kContainerDied));
  BOOST_TEST((ev->severity == Severity::kCritical));
  BOOST_TEST(contains(ev->message, "died (exit code 137, killed for memory)"), ev->message);
  BOOST_TEST(nlohmann::json::parse(ev->details)["oom_killed"] == true);

  // Gone: named from the event itself.
  e.action = EventAction::kDestroy;
  e.name = "web9";
  ev = container_event(e, nullptr, 3000);
  BOOST_TEST_REQUIRE(ev.has_value());
  BOOST_TEST((ev->kind == EventKind::kContainerDestroyed));
  BOOST_TEST(ev->message == "container web9 was removed");

  for (EventAction quiet : {EventAction::kCreate, EventAction::kKill, EventAction::kStop, EventAction::kRename}) {
    e.action = quiet;
    BOOST_TEST(!container_event(e, &oom, 0).has_value());
  }
  const std::pair<EventAction, EventKind> kinds[] = {{EventAction::kStart, EventKind::kContainerStarted},
                                                     {EventAction::kOom, EventKind::kContainerOom},
                                                     {EventAction::kRestart, EventKind::kContainerRestarted},
                                                     {EventAction::kPause, EventKind::kContainerPaused},
                                                     {EventAction::kUnpause, EventKind::kContainerUnpaused}};
  for (const auto& [action, kind] : kinds) {
    e.action = action;
    ev = container_event(e, &oom, 0);
    BOOST_TEST_REQUIRE(ev.has_value());
    BOOST_TEST((ev->kind == kind));
  }
}
