// Crash survival, long version (issue 13): 200 kills of vigild at random
// points (tests/integration/kill9.hpp says what runs and what is checked).
// VIGIL_KILL9_ROUNDS changes the number. Prints, never fails on a figure:
//   figure kill9_kills N count
//   figure kill9_corrupt_dbs N count
//   figure kill9_lost_alerts N count                  (of kill9_alert_transitions)
//   figure kill9_lost_samples_beyond_flush N count    (committed, then missing)
//   figure kill9_duplicate_samples N count
//   figure kill9_inconsistent_incidents N count
#define BOOST_TEST_MODULE bench_survival
#include <cstdlib>

#include "tests/integration/kill9.hpp"

using namespace harness;

BOOST_AUTO_TEST_CASE(kill9_loop) {
  if (auto missing = alertmanager_missing()) {
    std::printf("SKIP kill9_loop: %s\n", missing->c_str());
    return;
  }
  const char* rounds_env = std::getenv("VIGIL_KILL9_ROUNDS");
  const int rounds = rounds_env != nullptr ? std::atoi(rounds_env) : 200;
  const unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  const Kill9Figures f = run_kill9(rounds, seed);
  std::printf("figure kill9_kills %d count\n", f.kills);
  std::printf("figure kill9_corrupt_dbs %d count\n", f.corrupt_dbs);
  std::printf("figure kill9_lost_alerts %ld count\n", f.lost_alerts);
  std::printf("figure kill9_alert_transitions %ld count\n", f.transitions);
  std::printf("figure kill9_lost_samples_beyond_flush %ld count\n", f.lost_samples_beyond_flush);
  std::printf("figure kill9_duplicate_samples %ld count\n", f.duplicate_samples);
  std::printf("figure kill9_inconsistent_incidents %d count\n", f.inconsistent_incidents);
  std::printf("outbox drained: %s\n", f.outbox_drained ? "yes" : "no");
}
