// The catalogue of kinds: names round-trip, stored numbers stay, triggers parse.
#define BOOST_TEST_MODULE core_kinds
#include "core/kinds.hpp"

#include <boost/test/unit_test.hpp>

using namespace vigil;

namespace {

template <Kind E>
void round_trips() {
  for (auto name : kind_names<E>()) {
    auto k = parse_kind<E>(name);
    BOOST_REQUIRE(k.has_value());
    BOOST_TEST(to_string(*k) == name);
  }
  BOOST_TEST(!parse_kind<E>("no such kind"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_kind_round_trips_through_its_name) {
  round_trips<CheckKind>();
  round_trips<CheckState>();
  round_trips<TargetKind>();
  round_trips<ActionKind>();
  round_trips<ActionStatus>();
  round_trips<RootCause>();
  round_trips<TriggerKind>();
  round_trips<AlertPhase>();
  round_trips<RuleKind>();
  round_trips<ReceiverKind>();
  round_trips<Comparison>();
  round_trips<Severity>();
  round_trips<EventKind>();
  round_trips<Aggregation>();
}

// Stored names and numbers never change: these are what old stores hold.
BOOST_AUTO_TEST_CASE(stored_names_and_numbers_are_stable) {
  BOOST_TEST(static_cast<int>(AlertPhase::kFiring) == 2);
  BOOST_TEST(static_cast<int>(CheckState::kRecovering) == 4);
  BOOST_TEST(to_string(EventKind::kTargetStartFailed) == "target_start_failed");
  BOOST_TEST(to_string(EventKind::kAlertDeliveryDropped) == "alert_delivery_dropped");
  BOOST_TEST(to_string(RootCause::kOomKilled) == "oom_killed");
  BOOST_TEST(to_string(check_event_kind(CheckState::kFailed)) == "check_failed");
  BOOST_TEST(kind_list<ActionKind>() == "restart, signal, exec, http");
}

BOOST_AUTO_TEST_CASE(triggers_are_stored_as_text) {
  BOOST_TEST(Trigger{}.text() == "crash");
  BOOST_TEST((Trigger{TriggerKind::kCheck, "health"}.text() == "check:health"));
  BOOST_TEST((Trigger::parse("rule:MemoryHigh") == Trigger{TriggerKind::kRule, "MemoryHigh"}));
  BOOST_TEST((Trigger::parse("crash") == Trigger{TriggerKind::kCrash, ""}));
  for (const char* bad : {"", "check:", "crash:x", "disk:full", "check"}) BOOST_TEST(!Trigger::parse(bad), bad);
}
