// The remediator's decisions over fake hooks and a fake service: the time
// is passed in (and the clock that stamps an action's end is the test's), so
// every decision is checked without a process or a loop.
#define BOOST_TEST_MODULE heal_remediator
#include "heal/remediator.hpp"

#include <signal.h>

#include <boost/test/unit_test.hpp>

#include "config/targets.hpp"
#include "probes/cgroup.hpp"
#include "probes/checks/kinds.hpp"

using namespace vigil;

namespace {

constexpr WallMs kT0 = 1'800'000'000'000;

// A service whose restart succeeds at once with a new main PID.
struct FakeService : ServiceController {
  int pid = 100;
  int restarts = 0;
  int main_pid() const override { return pid; }
  void restart(Millis, ActionDone done) override {
    ++restarts;
    pid = 100 + restarts;
    done({ActionStatus::kOk, "restarted"});
  }
  std::string what() const override { return "svc"; }
};

struct Harness {
  WallMs now = kT0;
  std::map<std::int64_t, IncidentRow> incidents;
  std::vector<Event> events;
  std::vector<std::pair<bool, std::string>> given_up;  // (active, reason)
  FakeService service;
  std::optional<double> oom_kills_now;
  bool stopped = false;
  Remediator r;

  Harness()
      : r(nullptr,
          Remediator::Sinks{[this](IncidentRow row) { incidents[row.id] = std::move(row); },
                            [this](Event e) { events.push_back(std::move(e)); },
                            [this](const std::string&, bool active, const std::string& reason, WallMs) {
                              given_up.emplace_back(active, reason);
                            },
                            nullptr},
          [this] { return now; }) {}

  Remediator::TargetHooks hooks(bool controlled) {
    Remediator::TargetHooks h;
    h.controller = controlled ? &service : nullptr;
    h.main_pid = [this] { return service.pid; };
    h.signal = [this](int) -> Result<int> { return service.pid; };
    h.cgroup_now = [this] {
      Remediator::TargetHooks::CgroupNow c;
      c.oom_kills = oom_kills_now;
      return c;
    };
    h.main_stopped = [this] { return stopped; };
    return h;
  }

  // A `start` target with [target.remediate] triggered by `on`.
  void add_started(RemediateConfig rem, std::vector<Trigger> on = {{TriggerKind::kCrash, {}}}) {
    TargetConfig t;
    t.name = "svc";
    t.kind = TargetKind::kStart;
    t.finder = KindSettings::of(StartTarget{{"/bin/svc"}});
    rem.triggers = std::move(on);
    t.remediate = std::move(rem);
    r.add_target(t, hooks(true));
  }

  // A container target "svc" with on = ["crash"] (written, or implied as
  // by default), its manager (Docker) as `manager` says, running.
  void add_container(bool crash_implied, std::function<Remediator::TargetHooks::ManagerNow()> manager) {
    TargetConfig t;
    t.name = "svc";
    t.kind = TargetKind::kContainer;
    t.finder = KindSettings::of(ContainerTarget{"web1"});
    RemediateConfig rem;
    rem.backoff = Millis(1000);
    rem.grace = Millis(5000);
    rem.triggers = {{TriggerKind::kCrash, {}}};
    rem.crash_implied = crash_implied;
    t.remediate = rem;
    auto h = hooks(true);
    h.manager = std::move(manager);
    r.add_target(t, h);
    r.running("svc", now);
  }
  void check(const std::string& target, const std::string& name, Millis flap_window = Millis(300'000)) {
    CheckSpec c = default_check(CheckKind::kTcp);
    c.target = target;
    c.name = name;
    c.flap_window = flap_window;
    r.add_check(c);
  }

  void result(const std::string& target, const std::string& name, CheckState state, bool ok, bool flapping = false,
              bool timed_out = false) {
    CheckStatus status;
    status.state = state;
    status.flapping = flapping;
    r.check_result(target, name, status, {ok, ok ? "HTTP 200" : "timed out after 2s", timed_out, now}, now);
  }

  void crash(int code = 1) {
    ExitInfo exit;
    exit.pid = service.pid;
    exit.status_known = true;
    exit.code = code;
    r.crashed("svc", exit, now);
  }

  std::size_t count(EventKind kind) const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const Event& e) { return e.kind == kind; }));
  }
};

RemediateConfig rules(int max, Millis window, Millis backoff, Millis grace) {
  RemediateConfig rem;
  rem.max = max;
  rem.window = window;
  rem.backoff = backoff;
  rem.max_backoff = Millis(300'000);
  rem.grace = grace;
  return rem;
}

}  // namespace

// The last sample before the exit was read after the kernel's OOM kill but
// before the process was gone: the counter in it had already risen. The
// comparison is with the count when the process started.
BOOST_AUTO_TEST_CASE(an_oom_kill_is_compared_with_the_count_at_the_start) {
  Harness h;
  h.add_started(rules(5, Millis(600'000), Millis(1000), Millis(5000)));
  h.oom_kills_now = 0;
  h.r.running("svc", h.now);  // the process starts: 0 kills so far
  h.now += 1000;
  h.r.observe(Sample{SeriesKey(kOomKillMetric, {{"target", "svc"}}), h.now, 1});  // read just after the kill
  h.now += 100;
  h.oom_kills_now = 1;
  ExitInfo exit;
  exit.pid = 100;
  exit.status_known = true;
  exit.signal = SIGKILL;
  h.r.crashed("svc", exit, h.now);
  BOOST_REQUIRE(h.incidents.size() == 1u);
  const IncidentRow& inc = h.incidents.begin()->second;
  BOOST_TEST((inc.root_cause == RootCause::kOomKilled), inc.summary);
  BOOST_TEST(inc.summary.find("0 -> 1") != std::string::npos, inc.summary);
}

BOOST_AUTO_TEST_CASE(the_first_sample_is_the_baseline_when_the_start_could_not_be_read) {
  Harness h;
  h.add_started(rules(5, Millis(600'000), Millis(1000), Millis(5000)));
  h.r.running("svc", h.now);                                                      // no cgroup reading at the start
  h.r.observe(Sample{SeriesKey(kOomKillMetric, {{"target", "svc"}}), h.now, 3});  // three kills long ago
  h.now += 1000;
  h.oom_kills_now = 3;  // no new one: a plain SIGKILL
  ExitInfo exit;
  exit.pid = 100;
  exit.status_known = true;
  exit.signal = SIGKILL;
  h.r.crashed("svc", exit, h.now);
  BOOST_REQUIRE(h.incidents.size() == 1u);
  BOOST_TEST((h.incidents.begin()->second.root_cause == RootCause::kCrashed));
}

// A service that exits 0.5 s after every start, remediation max 5 in 10m,
// backoff 1s, grace 5s: each crash is restarted, the crashes continue one
// incident (none recovers inside the stability period), and the sixth crash
// ends in give-up with the alert.
BOOST_AUTO_TEST_CASE(a_crash_loop_continues_one_incident_and_gives_up) {
  Harness h;
  h.add_started(rules(5, Millis(600'000), Millis(1000), Millis(5000)));
  h.check("svc", "health");
  h.r.running("svc", h.now);
  for (int i = 0; i < 12 && h.given_up.empty(); ++i) {
    h.result("svc", "health", CheckState::kOk, true);
    h.now += 500;
    h.crash();
    // Ticks every second until the backoff lets it restart (or it gives up).
    for (int t = 0; t < 40 && h.service.restarts == i && h.given_up.empty(); ++t) {
      h.now += 1000;
      h.r.tick(h.now);
    }
    h.now += 200;
  }
  BOOST_TEST(h.service.restarts == 5);
  BOOST_REQUIRE(h.given_up.size() == 1u);
  BOOST_TEST(h.given_up[0].first);
  BOOST_TEST(h.count(EventKind::kRemediationGivenUp) == 1u);
  BOOST_TEST(h.count(EventKind::kIncidentOpened) == 1u);
  BOOST_TEST(h.count(EventKind::kIncidentRecovered) == 0u);
  BOOST_REQUIRE(h.incidents.size() == 1u);
  const IncidentRow& inc = h.incidents.begin()->second;
  BOOST_TEST(inc.recovered_ms == 0);
  BOOST_TEST(inc.given_up);
  BOOST_TEST(inc.actions.size() == 5u);
}

// A container: its exit status arrives after the pidfd said it exited (the
// engine's die event), and Docker's own restart policy is let be unless
// "crash" was written.
BOOST_AUTO_TEST_CASE(a_late_exit_status_reclassifies_and_a_self_restarting_service_is_left_to_its_manager) {
  Harness h;
  Remediator::TargetHooks::ManagerNow manager;
  h.add_container(true, [&] { return manager; });

  manager.restarts_itself = "Docker restarts it (restart policy always)";
  ExitInfo unknown;
  unknown.pid = h.service.pid;
  h.r.crashed("svc", unknown, h.now);
  BOOST_REQUIRE(h.incidents.size() == 1u);
  BOOST_TEST((h.incidents.begin()->second.root_cause == RootCause::kCrashed));
  BOOST_TEST(h.incidents.begin()->second.summary == "the process is gone (exit status unknown)");
  BOOST_TEST(h.service.restarts == 0);  // left to Docker
  BOOST_TEST(h.count(EventKind::kRemediationWaiting) == 1u);
  BOOST_TEST(h.events.back().message.find("left to its manager: Docker restarts it") != std::string::npos,
             h.events.back().message);

  ExitInfo known = unknown;
  known.status_known = true;
  known.signal = SIGKILL;
  known.oom_killed = true;
  h.r.exit_known("svc", known, h.now + 5);
  const IncidentRow& inc = h.incidents.begin()->second;
  BOOST_TEST((inc.root_cause == RootCause::kOomKilled));
  BOOST_TEST(inc.summary.find("Docker: OOMKilled") != std::string::npos, inc.summary);
  BOOST_TEST(inc.evidence.find("\"oom_killed\":true") != std::string::npos, inc.evidence);
  BOOST_TEST(h.count(EventKind::kTargetCrashed) == 1u);  // not recorded twice

  // Docker holds it (restarting), then does not restart it after all: vigild acts.
  manager.restarts_itself.clear();
  manager.hold = "Docker is restarting it";
  h.now += 1000;
  h.r.tick(h.now);
  BOOST_TEST(h.service.restarts == 0);
  manager.hold.clear();
  h.now += 1000;
  h.r.tick(h.now);
  BOOST_TEST(h.service.restarts == 1);
}

BOOST_AUTO_TEST_CASE(crash_written_in_on_restarts_what_its_manager_would_restart) {
  Harness h;
  h.add_container(false, [] {
    return Remediator::TargetHooks::ManagerNow{"", "Docker restarts it (restart policy always)", false};
  });
  h.crash(3);
  BOOST_TEST(h.service.restarts == 1);
}

// Flapping that vigild's restarts caused does not block the next restart;
// flapping with no action of vigild's in the window does.
BOOST_AUTO_TEST_CASE(flapping_blocks_only_when_it_is_not_our_own) {
  Harness h;
  h.add_started(rules(10, Millis(600'000), Millis(0), Millis(0)), {{TriggerKind::kCheck, "health"}});
  h.check("svc", "health", Millis(60'000));
  h.result("svc", "health", CheckState::kFailed, false, /*flapping=*/true);
  BOOST_TEST(h.service.restarts == 0);  // nobody acted: the service flaps on its own
  BOOST_TEST(h.count(EventKind::kRemediationWaiting) == 1u);

  Harness own;
  own.add_started(rules(10, Millis(600'000), Millis(0), Millis(0)), {{TriggerKind::kCheck, "health"}});
  own.check("svc", "health", Millis(60'000));
  own.result("svc", "health", CheckState::kFailed, false);
  BOOST_TEST(own.service.restarts == 1);
  own.now += 2000;
  own.result("svc", "health", CheckState::kFailed, false, /*flapping=*/true);  // flipped by our restart
  BOOST_TEST(own.service.restarts == 2);
}

// Healthy again is not recovered yet: the checks must keep passing, with
// no crash, for the grace. A crash inside it continues the incident.
BOOST_AUTO_TEST_CASE(recovery_needs_a_stable_stretch) {
  Harness h;
  h.add_started(rules(5, Millis(600'000), Millis(0), Millis(5000)));
  h.check("svc", "health");
  h.r.running("svc", h.now);
  h.result("svc", "health", CheckState::kOk, true);
  h.now += 1000;
  h.crash();
  BOOST_REQUIRE(h.service.restarts == 1);
  const WallMs restarted = h.now;
  h.now += 200;
  h.result("svc", "health", CheckState::kOk, true);
  const WallMs healthy = h.now;
  h.now += 4000;
  h.r.tick(h.now);
  BOOST_TEST(h.count(EventKind::kIncidentRecovered) == 0u);  // 4 s of 5
  h.now += 500;
  h.crash();  // inside the stability period: the same incident
  BOOST_TEST(h.count(EventKind::kIncidentOpened) == 1u);
  BOOST_TEST(h.service.restarts == 2);
  h.now += 200;
  h.result("svc", "health", CheckState::kOk, true);
  const WallMs healthy_again = h.now;
  h.now += 5000;
  h.r.tick(h.now);
  BOOST_TEST(h.count(EventKind::kIncidentRecovered) == 1u);
  const IncidentRow& inc = h.incidents.begin()->second;
  BOOST_TEST(inc.recovered_ms == healthy_again);  // when the stable stretch began
  BOOST_TEST(inc.recovered_ms != healthy);
  BOOST_TEST(restarted < healthy);
  BOOST_TEST(inc.actions.size() == 2u);
}

// A check of its own (a remote endpoint): its incident is the check's, it
// recovers after the stability period, and nothing is acted on.
BOOST_AUTO_TEST_CASE(a_check_without_a_target_has_incidents_of_its_own) {
  Harness h;
  h.check("", "api");
  h.result("", "api", CheckState::kFailing, false);
  h.now += 1000;
  h.result("", "api", CheckState::kFailed, false, false, /*timed_out=*/true);
  BOOST_REQUIRE(h.incidents.size() == 1u);
  const IncidentRow& inc = h.incidents.begin()->second;
  BOOST_TEST(inc.target.empty());
  BOOST_TEST(inc.check == "api");
  BOOST_TEST((inc.trigger == Trigger{TriggerKind::kCheck, "api"}));
  BOOST_TEST(inc.actions.empty());
  BOOST_TEST(h.r.open_incidents() == 1u);
  h.now += 1000;
  h.result("", "api", CheckState::kOk, true);
  h.now += 30'000;
  h.r.tick(h.now);
  BOOST_TEST(h.incidents.begin()->second.recovered_ms != 0);
  BOOST_TEST(h.r.open_incidents() == 0u);
}

// A check that timed out on a live process is a hang; a stopped one says so.
BOOST_AUTO_TEST_CASE(a_timeout_on_a_stopped_process_is_a_hang_that_says_stopped) {
  Harness h;
  h.add_started(rules(5, Millis(600'000), Millis(0), Millis(5000)), {{TriggerKind::kCheck, "health"}});
  h.check("svc", "health");
  h.stopped = true;
  h.result("svc", "health", CheckState::kFailed, false, false, /*timed_out=*/true);
  BOOST_REQUIRE(h.incidents.size() == 1u);
  const IncidentRow& inc = h.incidents.begin()->second;
  BOOST_TEST((inc.root_cause == RootCause::kHung));
  BOOST_TEST(inc.summary.find("stopped") != std::string::npos, inc.summary);
  BOOST_TEST(inc.evidence.find("\"process_stopped\":true") != std::string::npos, inc.evidence);
}

BOOST_AUTO_TEST_CASE(a_dry_run_records_what_it_would_do) {
  Harness h;
  auto rem = rules(5, Millis(600'000), Millis(0), Millis(5000));
  rem.dry_run = true;
  h.add_started(rem);
  h.crash();
  BOOST_TEST(h.service.restarts == 0);
  BOOST_REQUIRE(h.incidents.size() == 1u);
  const IncidentRow& inc = h.incidents.begin()->second;
  BOOST_TEST(inc.dry_run);
  BOOST_REQUIRE(inc.actions.size() == 1u);
  BOOST_TEST((inc.actions[0].result == ActionStatus::kWould));
  BOOST_TEST((inc.actions[0].action == ActionKind::kRestart));
}
