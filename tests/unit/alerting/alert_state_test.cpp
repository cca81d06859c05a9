// The alert state machine, with the time passed in.
#define BOOST_TEST_MODULE alerting_state
#include <boost/test/unit_test.hpp>

#include "alerting/alert_state.hpp"

using namespace vigil;
using namespace std::chrono_literals;

namespace {

constexpr WallMs kT0 = 1'795'000'000'000;

AlertPhase phase_after(AlertStatus& s, bool active, Millis for_d, WallMs now) {
  step(s, active, for_d, now);
  return s.phase;
}

}  // namespace

BOOST_AUTO_TEST_CASE(pending_until_for_then_firing_then_resolved) {
  AlertStatus s;
  auto t = step(s, true, Millis(5min), kT0);
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(static_cast<int>(t->to) == static_cast<int>(AlertPhase::kPending));
  BOOST_TEST(!t->notify());  // pending is not sent
  BOOST_TEST(!step(s, true, Millis(5min), kT0 + 299'999).has_value());
  t = step(s, true, Millis(5min), kT0 + 300'000);  // exactly `for` later
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(static_cast<int>(t->to) == static_cast<int>(AlertPhase::kFiring));
  BOOST_TEST(t->notify());
  BOOST_TEST(s.fired_ms == kT0 + 300'000);
  BOOST_TEST(!step(s, true, Millis(5min), kT0 + 400'000).has_value());
  t = step(s, false, Millis(5min), kT0 + 500'000);
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(static_cast<int>(t->from) == static_cast<int>(AlertPhase::kFiring));
  BOOST_TEST(static_cast<int>(t->to) == static_cast<int>(AlertPhase::kResolved));
  BOOST_TEST(t->notify());
  BOOST_TEST(s.resolved_ms == kT0 + 500'000);
}

BOOST_AUTO_TEST_CASE(a_blip_shorter_than_for_is_never_sent) {
  AlertStatus s;
  BOOST_TEST(static_cast<int>(phase_after(s, true, Millis(1min), kT0)) == static_cast<int>(AlertPhase::kPending));
  auto t = step(s, false, Millis(1min), kT0 + 30'000);
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(static_cast<int>(t->to) == static_cast<int>(AlertPhase::kInactive));
  BOOST_TEST(!t->notify());
  // pending starts over: the minute counts from the new start
  BOOST_TEST(static_cast<int>(phase_after(s, true, Millis(1min), kT0 + 40'000)) ==
             static_cast<int>(AlertPhase::kPending));
  BOOST_TEST(static_cast<int>(phase_after(s, true, Millis(1min), kT0 + 90'000)) ==
             static_cast<int>(AlertPhase::kPending));
  BOOST_TEST(static_cast<int>(phase_after(s, true, Millis(1min), kT0 + 100'000)) ==
             static_cast<int>(AlertPhase::kFiring));
}

BOOST_AUTO_TEST_CASE(for_zero_fires_at_once_and_refires_after_resolve) {
  AlertStatus s;
  auto t = step(s, true, Millis(0), kT0);
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(static_cast<int>(t->to) == static_cast<int>(AlertPhase::kFiring));
  step(s, false, Millis(0), kT0 + 1000);
  BOOST_TEST(static_cast<int>(s.phase) == static_cast<int>(AlertPhase::kResolved));
  BOOST_TEST(!step(s, false, Millis(0), kT0 + 2000).has_value());  // resolved stays, nothing new to send
  t = step(s, true, Millis(0), kT0 + 3000);
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(static_cast<int>(t->from) == static_cast<int>(AlertPhase::kResolved));
  BOOST_TEST(static_cast<int>(t->to) == static_cast<int>(AlertPhase::kFiring));
  BOOST_TEST(s.fired_ms == kT0 + 3000);
}

BOOST_AUTO_TEST_CASE(resend_and_ends_at) {
  AlertStatus s;
  step(s, true, Millis(0), kT0);
  s.last_sent_ms = kT0;
  BOOST_TEST(!resend_due(s, Millis(30s), kT0 + 29'999));
  BOOST_TEST(resend_due(s, Millis(30s), kT0 + 30'000));
  BOOST_TEST(ends_at(s, Millis(30s), kT0 + 10'000) == kT0 + 10'000 + 120'000);  // 4 x resend while firing
  step(s, false, Millis(0), kT0 + 50'000);
  BOOST_TEST(!resend_due(s, Millis(30s), kT0 + 100'000));  // resolved alerts are not re-sent
  BOOST_TEST(ends_at(s, Millis(30s), kT0 + 100'000) == kT0 + 50'000);  // the real end
}

BOOST_AUTO_TEST_CASE(phase_names_are_stable) {
  BOOST_TEST(to_string(AlertPhase::kInactive) == "inactive");
  BOOST_TEST(to_string(AlertPhase::kPending) == "pending");
  BOOST_TEST(to_string(AlertPhase::kFiring) == "firing");
  BOOST_TEST(to_string(AlertPhase::kResolved) == "resolved");
  BOOST_TEST(static_cast<int>(AlertPhase::kResolved) == 3);  // stored: never renumber
}
