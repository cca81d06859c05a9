#define BOOST_TEST_MODULE watchdog_decisions
#include <boost/test/unit_test.hpp>

#include "watchdog/targets.hpp"
#include "watchdog/timearg.hpp"

using namespace vigil;

BOOST_AUTO_TEST_CASE(transitions) {
  TargetObservation absent;
  TargetObservation a{true, 100, 5000};
  TargetObservation same{true, 100, 5000};
  TargetObservation new_pid{true, 101, 6000};
  TargetObservation reused_pid{true, 100, 7000};  // same PID, different process
  auto is = [](TargetTransition t, TargetTransition want) { return t == want; };
  BOOST_TEST(is(classify_transition(std::nullopt, a), TargetTransition::kAppeared));
  BOOST_TEST(is(classify_transition(std::nullopt, absent), TargetTransition::kNone));
  BOOST_TEST(is(classify_transition(absent, a), TargetTransition::kAppeared));
  BOOST_TEST(is(classify_transition(a, same), TargetTransition::kNone));
  BOOST_TEST(is(classify_transition(a, new_pid), TargetTransition::kRestarted));
  BOOST_TEST(is(classify_transition(a, reused_pid), TargetTransition::kRestarted));
  BOOST_TEST(is(classify_transition(a, absent), TargetTransition::kVanished));
  BOOST_TEST(is(classify_transition(absent, absent), TargetTransition::kNone));
  BOOST_TEST(event_kind_of(TargetTransition::kRestarted) == "target_restarted");
}

BOOST_AUTO_TEST_CASE(time_arguments) {
  const WallMs now = 1795336553123;
  BOOST_TEST(*parse_time_arg("now", now) == now);
  BOOST_TEST(*parse_time_arg("30m", now) == now - 30 * 60 * 1000);
  BOOST_TEST(*parse_time_arg("2026-11-22T08:35:53Z", now) == 1795336553000);
  BOOST_TEST(*parse_time_arg("1795336553", now) == 1795336553000);
  for (const char* bad : {"30", "yesterday", "2026-11-31x", "-5m", ""}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!parse_time_arg(bad, now).has_value());
  }
}
