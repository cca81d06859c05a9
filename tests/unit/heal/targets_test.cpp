#define BOOST_TEST_MODULE heal_targets
#include "config/targets.hpp"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "heal/targets.hpp"

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
}

BOOST_AUTO_TEST_CASE(transition_events_name_the_processes) {
  const WallMs now = 1'800'000'000'000;
  TargetObservation a{true, 100, now - 5000};
  TargetObservation b{true, 101, now - 10};
  auto appeared = transition_event("gw", TargetTransition::kAppeared, std::nullopt, a, now);
  BOOST_REQUIRE(appeared);
  BOOST_TEST((appeared->kind == EventKind::kTargetAppeared));
  BOOST_TEST(appeared->target == "gw");
  auto restarted = transition_event("gw", TargetTransition::kRestarted, a, b, now);
  BOOST_REQUIRE(restarted);
  BOOST_TEST((restarted->kind == EventKind::kTargetRestarted));
  BOOST_TEST((restarted->severity == Severity::kWarning));
  BOOST_TEST(restarted->details.find("\"previous_pid\":100") != std::string::npos, restarted->details);
  auto vanished = transition_event("gw", TargetTransition::kVanished, b, TargetObservation{}, now);
  BOOST_REQUIRE(vanished);
  BOOST_TEST((vanished->kind == EventKind::kTargetVanished));
  BOOST_TEST(vanished->details.find("\"pid\":101") != std::string::npos, vanished->details);
  BOOST_TEST(!transition_event("gw", TargetTransition::kNone, a, a, now));
}

// ---- target resolution, over the fixture /proc -------------------------------

namespace {

std::string fixtures() {
  const char* dir = std::getenv("VIGIL_TEST_FIXTURES");
  BOOST_TEST_REQUIRE(dir != nullptr, "VIGIL_TEST_FIXTURES is not set (run through meson test)");
  return dir;
}

struct Resolution {
  SdEventPtr event;
  std::unique_ptr<TargetContext> context;
  ProcessTable table{fixtures() + "/proc"};
  std::filesystem::path dir;

  Resolution() {
    sd_event* e = nullptr;
    BOOST_TEST_REQUIRE(sd_event_new(&e) >= 0);
    event.reset(e);
    dir = std::filesystem::temp_directory_path() / ("vigil-targets-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    context = std::make_unique<TargetContext>(event.get(), dir.string(), fixtures() + "/proc", "/nonexistent");
    BOOST_TEST_REQUIRE(table.refresh().has_value());
  }
  ~Resolution() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  FoundRoots roots(TargetKind kind, KindSettings finder) {
    TargetConfig t;
    t.name = "gw";
    t.kind = kind;
    t.finder = std::move(finder);
    auto p = make_target_processes(
        t, *context, [](const ExitInfo&) {}, nullptr);
    BOOST_TEST_REQUIRE(p != nullptr);
    return p->roots(table);
  }
  std::string pidfile(const std::string& content) {
    const auto path = dir / ("pid-" + std::to_string(++n));
    std::ofstream(path) << content;
    return path.string();
  }
  int n = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_pid_target_is_found_while_its_process_lives) {
  Resolution r;
  auto found = r.roots(TargetKind::kPid, KindSettings::of(PidTarget{100}));
  BOOST_TEST(found.roots == std::vector<int>({100}));
  BOOST_TEST(found.problem.empty());
  // A zombie and a missing PID are not running, and say so.
  for (int pid : {103, 999}) {
    auto gone = r.roots(TargetKind::kPid, KindSettings::of(PidTarget{pid}));
    BOOST_TEST(gone.roots.empty());
    BOOST_TEST(!gone.problem.empty());
    BOOST_TEST(!gone.read_failed);
  }
}

BOOST_AUTO_TEST_CASE(a_pidfile_target_reads_its_file_each_round) {
  Resolution r;
  auto found = r.roots(TargetKind::kPidfile, KindSettings::of(PidfileTarget{r.pidfile("100\n")}));
  BOOST_TEST(found.roots == std::vector<int>({100}));
  // Missing: not running, not a read failure. Garbage: a read failure.
  auto missing = r.roots(TargetKind::kPidfile, KindSettings::of(PidfileTarget{(r.dir / "none.pid").string()}));
  BOOST_TEST(missing.roots.empty());
  BOOST_TEST(!missing.read_failed);
  auto garbage = r.roots(TargetKind::kPidfile, KindSettings::of(PidfileTarget{r.pidfile("abc\n")}));
  BOOST_TEST(garbage.roots.empty());
  BOOST_TEST(garbage.read_failed);
  BOOST_TEST(!garbage.problem.empty());
  auto dead = r.roots(TargetKind::kPidfile, KindSettings::of(PidfileTarget{r.pidfile("999\n")}));
  BOOST_TEST(dead.roots.empty());
  BOOST_TEST(!dead.read_failed);
}

BOOST_AUTO_TEST_CASE(a_match_target_roots_are_matches_whose_parent_does_not_match) {
  Resolution r;
  // 100 (gateway --port) and its child 101 (gateway --worker) both match:
  // the child belongs to 100's tree.
  auto found = r.roots(TargetKind::kMatch, KindSettings::of(MatchTarget{"gateway"}));
  BOOST_TEST(found.roots == std::vector<int>({100}));
  auto worker = r.roots(TargetKind::kMatch, KindSettings::of(MatchTarget{"--worker"}));
  BOOST_TEST(worker.roots == std::vector<int>({101}));
  auto none = r.roots(TargetKind::kMatch, KindSettings::of(MatchTarget{"no-such-program"}));
  BOOST_TEST(none.roots.empty());
  BOOST_TEST(!none.problem.empty());
}
