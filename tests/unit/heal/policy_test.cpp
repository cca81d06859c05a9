// The pure parts of remediation: the root-cause classifier over evidence,
// and the safety rules (rate limit, backoff, escalation, dependencies).
#define BOOST_TEST_MODULE remediation
#include "heal/policy.hpp"

#include <signal.h>

#include <boost/test/unit_test.hpp>

#include "heal/root_cause.hpp"

using namespace vigil;

namespace {

constexpr WallMs kT0 = 1'800'000'000'000;
constexpr double kMiB = 1024.0 * 1024.0;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

// ---- root cause ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(an_exit_code_or_signal_is_a_crash) {
  Evidence e;
  e.process_alive = false;
  e.exit_code = 3;
  auto c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kCrashed));
  BOOST_TEST(contains(c.summary, "code 3"), c.summary);
  e.exit_code.reset();
  e.exit_signal = SIGSEGV;
  c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kCrashed));
  BOOST_TEST(contains(c.summary, "SIGSEGV"), c.summary);
  Evidence gone;
  gone.process_alive = false;
  BOOST_TEST((classify_root_cause(gone).cause == RootCause::kCrashed));
}

BOOST_AUTO_TEST_CASE(a_process_that_could_not_be_started_is_a_start_failure) {
  Evidence e;
  e.process_alive = false;
  e.start_error = "cannot start /nonexistent/worker: No such file or directory (ENOENT)";
  auto c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kStartFailed));
  BOOST_TEST(c.summary == "could not be started: " + e.start_error);
  BOOST_TEST(!contains(c.summary, "gone"));
}

BOOST_AUTO_TEST_CASE(a_rising_oom_counter_or_a_sigkill_at_the_limit_is_an_oom_kill) {
  Evidence e;
  e.process_alive = false;
  e.exit_signal = SIGKILL;
  e.oom_kills_before = 0;
  e.oom_kills_after = 1;
  e.memory_bytes = 63 * kMiB;
  e.memory_limit_bytes = 64 * kMiB;
  auto c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kOomKilled));
  BOOST_TEST(contains(c.summary, "0 -> 1"), c.summary);
  BOOST_TEST(contains(c.summary, "64 MiB"), c.summary);
  // No counter (an old v1 kernel): SIGKILL with memory at the limit.
  e.oom_kills_before.reset();
  e.oom_kills_after.reset();
  BOOST_TEST((classify_root_cause(e).cause == RootCause::kOomKilled));
  // SIGKILL far from the limit is someone's kill -9: a crash.
  e.memory_bytes = 10 * kMiB;
  BOOST_TEST((classify_root_cause(e).cause == RootCause::kCrashed));
  // An unlimited cgroup ("max" read as a huge number) is no limit.
  e.memory_bytes = 10 * kMiB;
  e.memory_limit_bytes = 9.2e18;
  BOOST_TEST((classify_root_cause(e).cause == RootCause::kCrashed));
  // The counter alone suffices, whatever the exit.
  Evidence alive;
  alive.oom_kills_before = 2;
  alive.oom_kills_after = 3;
  BOOST_TEST((classify_root_cause(alive).cause == RootCause::kOomKilled));
}

BOOST_AUTO_TEST_CASE(limits_near_exhaustion_are_resource_exhaustion) {
  Evidence e;
  e.open_fds = 1020;
  e.max_fds = 1024;
  e.check_timed_out = true;  // exhaustion wins over the timeout it causes
  auto c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kResourceExhausted));
  BOOST_TEST(contains(c.summary, "1020 of 1024"), c.summary);
  e.open_fds = 900;  // 88 %: not yet
  BOOST_TEST((classify_root_cause(e).cause == RootCause::kHung));
  Evidence threads;
  threads.threads = 99;
  threads.max_threads = 100;
  BOOST_TEST((classify_root_cause(threads).cause == RootCause::kResourceExhausted));
  Evidence memory;
  memory.memory_bytes = 61 * kMiB;
  memory.memory_limit_bytes = 64 * kMiB;
  c = classify_root_cause(memory);
  BOOST_TEST((c.cause == RootCause::kResourceExhausted));
  BOOST_TEST(contains(c.summary, "memory"), c.summary);
}

BOOST_AUTO_TEST_CASE(alive_and_timing_out_is_a_hang_with_its_cpu_state) {
  Evidence e;
  e.check_timed_out = true;
  e.check_reason = "timed out after 5s (connected, no first byte)";
  e.cpu_percent = 0.5;
  auto c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kHung));
  BOOST_TEST(contains(c.summary, "no first byte"), c.summary);
  BOOST_TEST(contains(c.summary, "idle"), c.summary);
  e.cpu_percent = 99;
  BOOST_TEST(contains(classify_root_cause(e).summary, "spinning"));
  // A 503 is no hang: nothing points to a cause.
  Evidence refused;
  refused.check_reason = "HTTP 503 from http://127.0.0.1/health";
  c = classify_root_cause(refused);
  BOOST_TEST((c.cause == RootCause::kUnknown));
  BOOST_TEST(c.summary == refused.check_reason);
}

BOOST_AUTO_TEST_CASE(a_failed_dependency_comes_first) {
  Evidence e;
  e.process_alive = false;
  e.exit_code = 1;
  e.dependencies_down = {"postgres"};
  auto c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kDependencyDown));
  BOOST_TEST(contains(c.summary, "postgres"), c.summary);
  BOOST_TEST(to_string(c.cause) == "dependency_down");
}

// ---- policy ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_its_cap) {
  RemediationRules r;  // 10s doubling to 5m
  BOOST_TEST(backoff_before(0, r).count() == 0);
  BOOST_TEST(backoff_before(1, r).count() == 10'000);
  BOOST_TEST(backoff_before(2, r).count() == 20'000);
  BOOST_TEST(backoff_before(5, r).count() == 160'000);
  BOOST_TEST(backoff_before(6, r).count() == 300'000);
  BOOST_TEST(backoff_before(60, r).count() == 300'000);
}

BOOST_AUTO_TEST_CASE(acts_then_backs_off_then_gives_up_and_resumes_after_the_window) {
  RemediationRules r;
  r.max = 3;
  r.window = Millis(600'000);
  RemediationState s;
  WallMs now = kT0;
  auto d = decide_remediation(s, r, {}, now);
  BOOST_REQUIRE((d.verdict == RemediationVerdict::kAct));
  BOOST_TEST((d.action == ActionKind::kRestart));
  remediation_started(s, r, now);
  BOOST_TEST((decide_remediation(s, r, {}, now + 1).verdict == RemediationVerdict::kBusy));
  remediation_finished(s, r, now + 2000);
  BOOST_TEST(in_grace(s, now + 2000 + 29'999));
  BOOST_TEST(!in_grace(s, now + 2000 + 30'000));
  d = decide_remediation(s, r, {}, now + 5000);
  BOOST_TEST((d.verdict == RemediationVerdict::kBackoff));
  BOOST_TEST(d.not_before == now + 10'000);
  // The second after 10 s, the third after 20 s more.
  now += 10'000;
  BOOST_REQUIRE((decide_remediation(s, r, {}, now).verdict == RemediationVerdict::kAct));
  remediation_started(s, r, now);
  remediation_finished(s, r, now);
  BOOST_TEST((decide_remediation(s, r, {}, now + 19'999).verdict == RemediationVerdict::kBackoff));
  now += 20'000;
  BOOST_REQUIRE((decide_remediation(s, r, {}, now).verdict == RemediationVerdict::kAct));
  remediation_started(s, r, now);
  remediation_finished(s, r, now);
  // Three in the window: given up, once announced.
  now += 40'000;
  d = decide_remediation(s, r, {}, now);
  BOOST_TEST((d.verdict == RemediationVerdict::kGivenUp));
  BOOST_TEST(d.gave_up_now);
  BOOST_TEST(d.not_before == kT0 + 600'000);
  BOOST_TEST(contains(d.reason, "max 3"), d.reason);
  d = decide_remediation(s, r, {}, now + 1000);
  BOOST_TEST((d.verdict == RemediationVerdict::kGivenUp));
  BOOST_TEST(!d.gave_up_now);
  // The first action leaves the window: it acts again (after its backoff).
  d = decide_remediation(s, r, {}, kT0 + 600'000);
  BOOST_TEST((d.verdict == RemediationVerdict::kAct));
  BOOST_TEST(!s.given_up);
}

BOOST_AUTO_TEST_CASE(escalates_through_the_list_and_a_healthy_stretch_starts_over) {
  RemediationRules r;
  r.actions = {ActionKind::kSignal, ActionKind::kRestart};
  r.reset_after = Millis(60'000);
  RemediationState s;
  WallMs now = kT0;
  auto run = [&](ActionKind expected) {
    auto d = decide_remediation(s, r, {}, now);
    BOOST_REQUIRE((d.verdict == RemediationVerdict::kAct));
    BOOST_TEST((d.action == expected));
    remediation_started(s, r, now);
    remediation_finished(s, r, now);
    now += 400'000;  // past any backoff
  };
  run(ActionKind::kSignal);
  run(ActionKind::kRestart);
  run(ActionKind::kRestart);  // the last one repeats
  // Healthy, but not long enough: the episode goes on.
  remediation_healthy(s, r, now);
  remediation_healthy(s, r, now + 59'999);
  BOOST_TEST(s.consecutive == 3);
  // A failure interrupts the stretch; then healthy for a full minute resets.
  decide_remediation(s, r, {}, now + 60'000);
  s.in_flight = false;
  remediation_healthy(s, r, now + 70'000);
  remediation_healthy(s, r, now + 130'000);
  BOOST_TEST(s.consecutive == 0);
  now += 130'000;
  run(ActionKind::kSignal);
  BOOST_TEST(backoff_before(s.consecutive, r).count() == 10'000);
}

BOOST_AUTO_TEST_CASE(a_manager_at_work_holds_actions_and_its_own_restarts_are_left_to_it) {
  RemediationRules r;
  RemediationState s;
  RemediationSituation held;
  held.held = "Docker is restarting it";
  held.left_to_manager = "Docker restarts it (restart policy always)";
  // Left to it says more than "it is at it now".
  auto d = decide_remediation(s, r, held, kT0);
  BOOST_TEST((d.verdict == RemediationVerdict::kLeftToManager));
  held.left_to_manager.clear();
  d = decide_remediation(s, r, held, kT0);
  BOOST_TEST((d.verdict == RemediationVerdict::kHeld));
  BOOST_TEST(d.reason == "not now: Docker is restarting it");
  RemediationSituation left;
  left.left_to_manager = "Docker restarts it (restart policy always)";
  left.flapping = true;
  d = decide_remediation(s, r, left, kT0);
  BOOST_TEST((d.verdict == RemediationVerdict::kLeftToManager));
  BOOST_TEST(contains(d.reason, "restart policy always"), d.reason);
  BOOST_TEST(contains(d.reason, "write \"crash\" in on"), d.reason);
  BOOST_TEST(s.recent.empty());  // nothing counted
  // Its exit not reported by the manager yet: busy (no event), whatever else holds.
  RemediationSituation settling;
  settling.settling = true;
  settling.held = "Docker is restarting it";
  BOOST_TEST((decide_remediation(s, r, settling, kT0).verdict == RemediationVerdict::kBusy));
  BOOST_TEST((decide_remediation(s, r, {}, kT0).verdict == RemediationVerdict::kAct));
}

BOOST_AUTO_TEST_CASE(an_oom_kill_its_manager_reports_is_an_oom_kill) {
  Evidence e;
  e.process_alive = false;
  e.exit_signal = SIGKILL;
  e.oom_reported = true;
  auto c = classify_root_cause(e);
  BOOST_TEST((c.cause == RootCause::kOomKilled));
  BOOST_TEST(contains(c.summary, "Docker: OOMKilled"), c.summary);
  e.oom_reported = false;
  BOOST_TEST((classify_root_cause(e).cause == RootCause::kCrashed));
}

BOOST_AUTO_TEST_CASE(flapping_and_failed_dependencies_block_actions) {
  RemediationRules r;
  RemediationState s;
  RemediationSituation flapping;
  flapping.flapping = true;
  BOOST_TEST((decide_remediation(s, r, flapping, kT0).verdict == RemediationVerdict::kFlapping));
  RemediationSituation deps;
  deps.dependencies_down = {"db", "cache"};
  auto d = decide_remediation(s, r, deps, kT0);
  BOOST_TEST((d.verdict == RemediationVerdict::kDependencyDown));
  BOOST_TEST(contains(d.reason, "db, cache"), d.reason);
  BOOST_TEST(s.recent.empty());  // nothing counted
  BOOST_TEST((decide_remediation(s, r, {}, kT0).verdict == RemediationVerdict::kAct));
}
