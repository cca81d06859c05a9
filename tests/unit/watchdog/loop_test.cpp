// The loop's timers and the check scheduler, on a real sd-event loop: a
// timer keeps its phase and skips the rounds its work overran; a check
// whose run is still in flight is not started again on top of itself; a
// timer's owner going away cancels it.
#define BOOST_TEST_MODULE watchdog_loop
#include "watchdog/loop.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "probes/checks/exec.hpp"
#include "probes/checks/kinds.hpp"
#include "watchdog/checks.hpp"

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

// A check scheduler on a real loop, with a store in a temporary directory
// and an exec check named `name` to configure.
class SchedulerBench {
 public:
  explicit SchedulerBench(const std::string& name)
      : loop_(make_loop()),
        dir_(std::filesystem::temp_directory_path() / ("vigil-loop-test-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
    OpenReport report;
    StoreOptions options;
    options.path = (dir_ / "vigil.db").string();
    options.queue_capacity = 1000;
    auto store = StoreWriter::open(options, &report);
    BOOST_TEST_REQUIRE(store.has_value());
    store_ = std::move(*store);
    recorder_ = std::make_unique<Recorder>(*store_);
    context_ = std::make_unique<CheckContext>(loop_->event());
    scheduler_ = std::make_unique<CheckScheduler>(*loop_, *context_, *recorder_);
    static_cast<CheckSpec&>(check_) = default_check(CheckKind::kExec);
    check_.name = name;
  }
  ~SchedulerBench() {
    scheduler_.reset();
    store_->close();
    std::filesystem::remove_all(dir_);
  }
  struct Parts {
    Loop& loop;
    const std::filesystem::path& dir;
    CheckScheduler& scheduler;
    CheckConfig& check;
  };
  Parts parts() { return {*loop_, dir_, *scheduler_, check_}; }

 private:
  std::unique_ptr<Loop> loop_;
  std::filesystem::path dir_;
  std::unique_ptr<StoreWriter> store_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<CheckContext> context_;
  std::unique_ptr<CheckScheduler> scheduler_;
  CheckConfig check_;
};

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
  SchedulerBench b("slow");
  // Named references, not a structured binding: clang 14 (the fuzz and
  // sanitizer build) cannot capture a binding in a lambda.
  Loop& loop = b.parts().loop;
  const std::filesystem::path& dir = b.parts().dir;
  CheckScheduler& scheduler = b.parts().scheduler;
  CheckConfig& check = b.parts().check;
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
  run_until(loop, [&] { return loop.stats().ticks_skipped >= 4; });
  // Every started run is in the file; at 100 ms with runs of 300 ms, at
  // least two of every three rounds were skipped.
  const int started = lines();
  BOOST_TEST(started >= 1);
  BOOST_TEST(static_cast<int>(loop.stats().ticks_skipped) >= 2 * (started - 1));
}

// A run asked for while one is in flight (the early check after a restart)
// is not dropped: it starts as soon as the stale run returns. The interval
// is an hour, so no scheduled round can stand in for it.
BOOST_AUTO_TEST_CASE(a_run_asked_for_while_one_is_out_follows_it) {
  SchedulerBench b("held");
  // Named references, not a structured binding: clang 14 (the fuzz and
  // sanitizer build) cannot capture a binding in a lambda.
  Loop& loop = b.parts().loop;
  const std::filesystem::path& dir = b.parts().dir;
  CheckScheduler& scheduler = b.parts().scheduler;
  CheckConfig& check = b.parts().check;
  check.target = "svc";
  check.timeout = Millis(60'000);
  // The first run waits until the test releases it; later runs return at once.
  const std::string runs_file = (dir / "runs").string(), release = (dir / "release").string();
  check.settings.as<ExecSettings>().command = {"/bin/sh", "-c",
                                               "echo run >> " + runs_file + "; [ \"$(wc -l < " + runs_file +
                                                   ")\" -gt 1 ] && exit 0; while [ ! -e " + release +
                                                   " ]; do sleep 0.01; done"};
  scheduler.add(check, Millis(3'600'000));
  BOOST_REQUIRE(scheduler.schedule());
  auto lines = [&] {
    std::ifstream in(runs_file);
    return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
  };
  run_until(
      loop, [&] { return lines() == 1; }, 60);  // the first round started (within its 2 s splay)
  scheduler.run_soon("svc", Millis(0));
  // The request meets the run in flight and waits for it.
  run_until(
      loop,
      [&] {
        bool pending = false;
        scheduler.for_each([&](const ScheduledCheck& c) { pending = c.catch_up_pending(); });
        return pending;
      },
      60);
  BOOST_TEST(lines() == 1);
  std::ofstream(release).put('\n');
  run_until(
      loop, [&] { return lines() == 2; }, 60);
}
