// The loop's timers and the check scheduler, on a real sd-event loop: a
// timer keeps its phase and skips the rounds its work overran; a check
// whose run is still in flight is not started again on top of itself; a
// timer's owner going away cancels it.
#define BOOST_TEST_MODULE watchdog_loop
#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "probes/checks/exec.hpp"
#include "probes/checks/kinds.hpp"
#include "watchdog/checks.hpp"
#include "watchdog/loop.hpp"

using namespace vigil;

namespace {

std::unique_ptr<Loop> make_loop() {
  auto loop = Loop::make();
  BOOST_TEST_REQUIRE(loop.has_value());
  return std::move(*loop);
}

// Runs the loop until `done` holds (the condition is the event that proves
// what is tested); fails after `max_iterations` turns.
template <class F>
void run_until(Loop& loop, F done, int max_iterations = 100000) {
  for (int i = 0; i < max_iterations && !done(); ++i) BOOST_REQUIRE(sd_event_run(loop.event(), 1'000'000) >= 0);
  BOOST_REQUIRE(done());
}

void busy_for(Millis d) {
  const auto until = mono_now() + d;
  while (mono_now() < until) {
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_timer_that_overran_skips_rounds_instead_of_running_them_back_to_back) {
  auto loop = make_loop();
  int runs = 0;
  Timer timer(*loop, Millis(10), Millis(0), [&] {
    ++runs;
    if (runs == 2) busy_for(Millis(35));  // misses about three rounds
  });
  BOOST_REQUIRE(!timer.failed());
  run_until(*loop, [&] { return runs >= 4; });
  BOOST_TEST(loop->stats().ticks_skipped >= 2u);
  BOOST_TEST(loop->stats().lag_count >= 4u);
}

BOOST_AUTO_TEST_CASE(a_destroyed_timer_never_runs) {
  auto loop = make_loop();
  int cancelled = 0, other = 0;
  auto timer = std::make_unique<Timer>(*loop, Millis(5), Millis(0), [&] { ++cancelled; });
  Timer witness(*loop, Millis(5), Millis(0), [&] { ++other; });
  timer.reset();
  run_until(*loop, [&] { return other >= 3; });
  BOOST_TEST(cancelled == 0);
}

BOOST_AUTO_TEST_CASE(splay_is_stable_and_inside_its_window) {
  BOOST_TEST(splay_for("web/health", Millis(1000)) == splay_for("web/health", Millis(1000)));
  BOOST_TEST(splay_for("web/health", Millis(1000)).count() < 1000);
  BOOST_TEST(splay_for("x", Millis(0)).count() == 0);
}

// A check that takes longer than its interval: the runs due meanwhile are
// skipped and counted, and only one child runs at a time.
BOOST_AUTO_TEST_CASE(a_check_still_running_is_not_started_again) {
  auto loop = make_loop();
  const auto dir = std::filesystem::temp_directory_path() / ("vigil-loop-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  OpenReport report;
  auto store = StoreWriter::open(StoreOptions{(dir / "vigil.db").string(), Millis(1000), 1000}, &report);
  BOOST_REQUIRE(store.has_value());
  Recorder recorder(**store);
  CheckContext context(loop->event());
  CheckScheduler scheduler(*loop, context, recorder);
  CheckConfig check;
  static_cast<CheckSpec&>(check) = default_check(CheckKind::kExec);
  check.name = "slow";
  check.timeout = Millis(10'000);
  // Each run appends a line, then takes 300 ms.
  const std::string runs_file = (dir / "runs").string();
  check.settings.as<ExecSettings>().command = {"/bin/sh", "-c", "echo run >> " + runs_file + "; sleep 0.3"};
  scheduler.add(check, Millis(100));
  BOOST_REQUIRE(scheduler.schedule());
  auto lines = [&] {
    std::ifstream in(runs_file);
    return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
  };
  run_until(*loop, [&] { return loop->stats().ticks_skipped >= 4; });
  // Every started run is in the file; at 100 ms with runs of 300 ms, at
  // least two of every three rounds were skipped.
  const int started = lines();
  BOOST_TEST(started >= 1);
  BOOST_TEST(static_cast<int>(loop->stats().ticks_skipped) >= 2 * (started - 1));
  (*store)->close();
  std::filesystem::remove_all(dir);
}
