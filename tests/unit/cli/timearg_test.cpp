#define BOOST_TEST_MODULE cli_timearg
#include "cli/timearg.hpp"

#include <boost/test/unit_test.hpp>

using namespace vigil;

BOOST_AUTO_TEST_CASE(time_arguments) {
  const WallMs now = 1795336553123;
  BOOST_TEST(*parse_time_arg("now", now) == now);
  BOOST_TEST(*parse_time_arg("30m", now) == now - 30 * 60 * 1000);
  BOOST_TEST(*parse_time_arg("2026-11-22T08:35:53Z", now) == 1795336553000);
  BOOST_TEST(*parse_time_arg("1795336553", now) == 1795336553000);
  // ts_ms as the output prints it, and weeks.
  BOOST_TEST(*parse_time_arg("1795336553123", now) == 1795336553123);
  BOOST_TEST(*parse_time_arg("1w", now) == now - 7 * 86'400'000LL);
  BOOST_TEST(*parse_time_arg("1w2d", now) == now - 9 * 86'400'000LL);
  for (const char* bad : {"30", "yesterday", "2026-11-31x", "-5m", "", "100000000000000"}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!parse_time_arg(bad, now).has_value());
  }
}
