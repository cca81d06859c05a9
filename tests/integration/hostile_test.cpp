// Hostile endpoints with the real vigild (issue 13; tests/integration/
// hostile.hpp lists them): every check ends at its deadline or its bound with
// a reason that says what went wrong, vigild's memory stays under a stated
// bound, and it stops cleanly afterwards. The loop's lag is a figure of the
// `hostile` benchmark (tests/bench/hostile.cpp), not asserted here.
#define BOOST_TEST_MODULE integration_hostile
#include "tests/integration/hostile.hpp"

using namespace harness;
using nlohmann::json;

namespace {

std::string reason_of(const json& event) {
  const auto& d = event["details"];
  return d.is_object() && d.contains("reason") && d["reason"].is_string() ? d["reason"].get<std::string>() : "";
}

// What each check's failure must say (a part of its reason).
const std::map<std::string, std::vector<std::string>> kExpected = {
    {"slowloris", {"timed out after 2s", "receiving the body"}},
    {"gigabyte", {"larger than max_body"}},
    {"endless_chunked", {"larger than max_body"}},
    {"redirect_loop", {"more than 10 redirects"}},
    {"tls_stall", {"timed out after 2s", "TLS handshake not done"}},
    {"never_answers", {"timed out after 2s", "no first byte"}},
    {"http_garbage", {"HTTP/0.9"}},
    {"endless_exposition", {"larger than"}},
    {"tcp_never_answers", {"timed out after 2s"}},
    {"tcp_garbage", {"did not receive \"PONG\""}},
    {"redis_garbage", {"not a Redis reply"}},
    {"redis_never_answers", {"timed out after 2s"}},
    {"postgres_garbage", {"not a PostgreSQL reply"}},
    {"postgres_never_answers", {"timed out after 2s"}},
};

// The stated bound of vigild's peak RSS with all of them at once.
constexpr double kRssBoundMiB = 64;

}  // namespace

BOOST_AUTO_TEST_CASE(every_check_ends_with_a_reason_and_memory_stays_bounded) {
  HostileSetup setup;
  Vigil v(setup.config());
  v.start();
  std::map<std::string, std::string> reasons;
  BOOST_REQUIRE_MESSAGE(wait_for(30s,
                                 [&] {
                                   for (const auto& e : v.events("check_failed")) {
                                     reasons.emplace(e.value("check", ""), reason_of(e));
                                   }
                                   return reasons.size() >= hostile_checks().size();
                                 }),
                        "not every check failed: " << reasons.size() << " of " << hostile_checks().size() << "\n"
                                                   << v.log());
  for (const auto& name : hostile_checks()) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_REQUIRE(reasons.count(name) == 1u);
      const std::string& reason = reasons.at(name);
      BOOST_TEST_MESSAGE(name << ": " << reason);
      BOOST_TEST(!reason.empty());
      BOOST_TEST(reason.size() <= 1024u);  // a sentence, not the peer's bytes
      for (const auto& part : kExpected.at(name)) BOOST_TEST(reason.find(part) != std::string::npos, reason);
    }
  }
  // Several rounds of each, so that an unbounded buffer or a leak would show.
  BOOST_REQUIRE_MESSAGE(wait_for(60s,
                                 [&] {
                                   auto runs = v.cli_json({"query", "check_up", "--target", "edge", "--since", "10m"});
                                   if (!runs.is_array() || runs.size() < hostile_checks().size()) return false;
                                   for (const auto& s : runs) {
                                     if (s["points"].size() < 4) return false;
                                   }
                                   return true;
                                 }),
                        v.log());
  // The loop measured its turns (the figure itself is the benchmark's).
  auto turns = v.cli_json({"query", "vigil_loop_turn_max_seconds", "--since", "10m"});
  BOOST_REQUIRE_MESSAGE(turns.is_array() && !turns.empty() && !turns[0]["points"].empty(), turns.dump());
  BOOST_TEST(turns[0]["points"].back()["value"].get<double>() > 0.0);
  const double peak_mib = status_kib(v.daemon.pid(), "VmHWM") / 1024.0;
  BOOST_TEST_MESSAGE("vigild VmHWM " << peak_mib << " MiB");
  BOOST_TEST(peak_mib < kRssBoundMiB);
  BOOST_TEST(v.stop().value_or(-1) == 0, v.log());
}
