#define BOOST_TEST_MODULE check_state
#include "probes/checks/hysteresis.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace vigil;

namespace {

// Feeds results ("+" ok, "-" failed), one per second from t=1000, and
// returns the state after each as a string such as "ok failing failed".
std::string run(const std::string& results, Hysteresis h = {}) {
  CheckStatus s;
  std::string out;
  WallMs t = 1000;
  for (char c : results) {
    observe(s, h, c == '+', t);
    t += 1000;
    if (!out.empty()) out += ' ';
    out += to_string(s.state);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(first_result_decides_from_unknown) {
  BOOST_TEST(run("+") == "ok");
  BOOST_TEST(run("-") == "failing");
  BOOST_TEST(run("-", Hysteresis{1, 2, std::chrono::minutes(5), 6}) == "failed");
}

BOOST_AUTO_TEST_CASE(fail_after_and_recover_after) {
  BOOST_TEST(run("+--") == "ok failing failed");
  BOOST_TEST(run("+-+") == "ok failing ok");  // one failure is not enough
  BOOST_TEST(run("+---++") == "ok failing failed failed recovering ok");
  BOOST_TEST(run("--+-") == "failing failed recovering failed");  // a relapse during recovery
  Hysteresis three{3, 3, std::chrono::minutes(5), 100};
  BOOST_TEST(run("---+++", three) == "failing failing failed recovering recovering ok");
  Hysteresis one{1, 1, std::chrono::minutes(5), 100};
  BOOST_TEST(run("+-+-", one) == "ok failed ok failed");
}

BOOST_AUTO_TEST_CASE(transitions_report_from_to_and_time) {
  CheckStatus s;
  Hysteresis h;
  auto t1 = observe(s, h, true, 1000);
  BOOST_REQUIRE(t1.has_value());
  BOOST_TEST(t1->state_changed);
  BOOST_TEST((t1->from == CheckState::kUnknown && t1->to == CheckState::kOk));
  BOOST_TEST(!observe(s, h, true, 2000).has_value());  // ok stays ok: nothing to report
  BOOST_TEST(s.since_ms == 1000);
  observe(s, h, false, 3000);
  auto t4 = observe(s, h, false, 4000);
  BOOST_REQUIRE(t4.has_value());
  BOOST_TEST((t4->from == CheckState::kFailing && t4->to == CheckState::kFailed));
  BOOST_TEST(s.since_ms == 4000);
  BOOST_TEST(s.consecutive_failures == 2);
}

BOOST_AUTO_TEST_CASE(flapping_starts_and_stops_with_the_window) {
  Hysteresis h{1, 1, std::chrono::seconds(60), 4};
  CheckStatus s;
  WallMs t = 0;
  observe(s, h, true, t);  // unknown -> ok: not a change of mind
  bool started = false;
  for (int i = 0; i < 5; ++i) {  // 5 changes in 5 s: more than 4
    t += 1000;
    auto tr = observe(s, h, i % 2 == 1, t);
    BOOST_REQUIRE(tr.has_value());
    if (tr->flapping_changed) started = true;
  }
  BOOST_TEST(started);
  BOOST_TEST(s.flapping);
  // A stable minute later the changes have left the window.
  t += 61'000;
  auto tr = observe(s, h, true, t);
  BOOST_REQUIRE(tr.has_value());
  BOOST_TEST(tr->flapping_changed);
  BOOST_TEST(!s.flapping);
}

BOOST_AUTO_TEST_CASE(a_steady_failure_is_not_flapping) {
  Hysteresis h{2, 2, std::chrono::seconds(60), 2};
  CheckStatus s;
  for (int i = 0; i < 100; ++i) observe(s, h, false, 1000 + i * 1000);
  BOOST_TEST(to_string(s.state) == "failed");
  BOOST_TEST(!s.flapping);
}
