// Old state is labelled as old: after vigild stops, `vigil status`, `checks`
// and `alerts` say their states are as of its last sample, the heartbeat is
// not shown as firing, and a dead process has no memory, threads or fds
// beside it; targets and checks a later configuration dropped are history,
// shown only with --all; the process vigild started for a `start` target
// that was removed is stopped at the next start, logged and recorded.
#define BOOST_TEST_MODULE integration_history
#include <signal.h>

#include "tests/integration/harness.hpp"

using namespace harness;
using nlohmann::json;

namespace {

std::string exec_check(const std::string& target, const std::string& name) {
  return "[[check]]\ntarget = \"" + target + "\"\nname = \"" + name +
         "\"\nkind = \"exec\"\ninterval = \"500ms\"\nfail_after = 1\nrecover_after = 1\ncommand = [\"/bin/true\"]\n";
}

// Whether the checks of `target` have a result in the store.
bool check_ran(Vigil& v, const std::string& target, const std::string& check) {
  const json rows = v.cli_json({"checks", "--all"});
  if (!rows.is_array()) return false;
  for (const auto& r : rows) {
    if (r.value("target", "") == target && r.value("check", "") == check && !r["last_result"].is_null()) return true;
  }
  return false;
}

bool has_row(const json& rows, const std::string& target, const std::string& check) {
  if (!rows.is_array()) return false;
  return std::any_of(rows.begin(), rows.end(),
                     [&](const json& r) { return r.value("target", "") == target && r.value("check", "") == check; });
}

// Gone, or a zombie nobody reaped yet (the test is not its parent).
bool process_gone(int pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  const auto after = stat.rfind(')');
  return after != std::string::npos && after + 2 < stat.size() && stat[after + 2] == 'Z';
}

}  // namespace

BOOST_AUTO_TEST_CASE(after_vigild_stops_its_states_are_labelled_as_of_the_last_sample) {
  TempDir tmp;
  const std::string pidfile = tmp / "app.pid";
  Child app = Child::start({"/bin/sleep", "600"});
  write_file(pidfile, std::to_string(app.pid()) + "\n");
  // The heartbeat is on by default; no receiver is needed for the alert states.
  Vigil v("[[target]]\nname = \"app\"\npidfile = \"" + pidfile + "\"\n" + exec_check("app", "alive"));
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !target_events(v, "target_appeared", "app").empty(); }), v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return check_ran(v, "app", "alive"); }), v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(10s,
                                 [&] {
                                   const json a = v.cli_json({"alerts"});
                                   return a.is_array() && std::any_of(a.begin(), a.end(), [](const json& r) {
                                            return r.value("alertname", "") == "VigilHeartbeat";
                                          });
                                 }),
                        v.log());
  // While it runs: the heartbeat fires, no header says anything is old.
  RunResult live = v.cli({"alerts"});
  BOOST_TEST(live.out.find("VigilHeartbeat") != std::string::npos, live.out);
  BOOST_TEST(live.out.find("not running") == std::string::npos, live.out);
  // The process dies; vigild sees it gone (its pidfile names a dead PID).
  app.signal(SIGKILL);
  BOOST_REQUIRE(app.wait(5s).has_value());
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !target_events(v, "target_problem", "app").empty(); }), v.log());
  BOOST_REQUIRE(v.stop() == 0);

  RunResult alerts = v.cli({"alerts"});
  BOOST_TEST(alerts.exit_code == 0);
  BOOST_TEST(alerts.out.find("vigild is not running: alert states are as of its last sample, ") == 0, alerts.out);
  BOOST_TEST(alerts.out.find("VigilHeartbeat firing") == std::string::npos, alerts.out);
  const json alerts_json = v.cli_json({"alerts"});
  BOOST_TEST(alerts_json.is_array());
  for (const auto& a : alerts_json) BOOST_TEST(a.value("alertname", "") != "VigilHeartbeat");

  RunResult checks = v.cli({"checks"});
  BOOST_TEST(checks.out.find("vigild is not running: check states are as of its last sample, ") == 0, checks.out);

  RunResult status = v.cli({"status"});
  BOOST_TEST(status.exit_code == 1);
  BOOST_TEST(
      status.out.find("vigild is not running: the values below are as of its last sample, ") != std::string::npos,
      status.out);
  // The row of the dead process: 0 processes, nothing else, and why.
  std::string row;
  std::istringstream lines(status.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("app ", 0) == 0) row = line;
  }
  BOOST_TEST(row.find(" MiB") == std::string::npos, status.out);
  BOOST_TEST(row.find(" KiB") == std::string::npos, status.out);
  BOOST_TEST(row.find(pidfile) != std::string::npos, status.out);
  const json st = v.cli_json({"status"});
  BOOST_TEST(st["running"] == false);
  BOOST_TEST(st["targets"]["app"]["values"] == json({{"process_count", 0}}), st.dump(2));
  BOOST_TEST(st["targets"]["app"]["problem"].get<std::string>().find(pidfile) != std::string::npos, st.dump(2));
  BOOST_TEST(st["targets"]["app"]["removed"] == false);
  // csv is not one of status's formats: refused, not ignored.
  RunResult csv = v.cli({"status", "--format", "csv"});
  BOOST_TEST(csv.exit_code == 2);
  BOOST_TEST(csv.err.find("this command writes table, json, not csv") != std::string::npos, csv.err);
}

BOOST_AUTO_TEST_CASE(removed_targets_and_checks_are_history_and_their_process_is_stopped) {
  const std::string kept = stand_in_target("kept") + exec_check("kept", "alive");
  Vigil v(kept + "[[target]]\nname = \"gone\"\nstart = [\"/bin/sleep\", \"600\"]\n" + exec_check("gone", "alive"));
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return check_ran(v, "gone", "alive") && check_ran(v, "kept", "alive"); }),
                        v.log());
  const std::string run_dir = v.dir.path.string() + "/state/run";
  const std::string run_file = run_dir + "/gone.pid";
  const int pid = std::atoi(slurp(run_file).c_str());
  BOOST_REQUIRE(pid > 0);
  BOOST_REQUIRE(v.stop() == 0);
  BOOST_REQUIRE(!process_gone(pid));  // a started service outlives vigild by design

  // The next configuration drops `gone` and its check; two run files left
  // by earlier runs name no process (a dead one, and junk).
  write_file(run_dir + "/ghost.pid", "4000000 12345\n");
  write_file(run_dir + "/junk.pid", "abc\n");
  write_file(v.config_path, slurp(v.config_path).substr(0, slurp(v.config_path).find("[[target]]")) + kept);
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return !target_events(v, "target_removed", "gone").empty(); }), v.log());
  const std::string message = target_events(v, "target_removed", "gone").front().value("message", "");
  BOOST_TEST(message.find("target gone is no longer configured: stopped process " + std::to_string(pid)) == 0, message);
  BOOST_TEST(wait_for(5s, [&] { return process_gone(pid); }));
  BOOST_TEST(!std::filesystem::exists(run_file));
  BOOST_TEST(v.log().find("target gone is no longer configured") != std::string::npos, v.log());
  BOOST_REQUIRE(wait_for(5s, [&] { return target_events(v, "target_removed", "junk").size() == 1u; }));
  BOOST_REQUIRE(target_events(v, "target_removed", "junk").size() == 1u);
  BOOST_TEST(target_events(v, "target_removed", "junk")[0].value("message", "").find("does not name a process") !=
             std::string::npos);
  BOOST_REQUIRE(target_events(v, "target_removed", "ghost").size() == 1u);
  BOOST_TEST(target_events(v, "target_removed", "ghost")[0].value("message", "").find("is gone") != std::string::npos);
  BOOST_TEST(!std::filesystem::exists(run_dir + "/ghost.pid"));
  BOOST_TEST(!std::filesystem::exists(run_dir + "/junk.pid"));
  BOOST_TEST(target_events(v, "target_removed", "kept").empty());

  // Only what is configured now, unless --all.
  const json st = v.cli_json({"status"});
  BOOST_TEST(st["targets"].contains("kept"), st.dump(2));
  BOOST_TEST(!st["targets"].contains("gone"), st.dump(2));
  const json st_all = v.cli_json({"status", "--all"});
  BOOST_TEST(st_all["targets"]["gone"]["removed"] == true, st_all.dump(2));
  BOOST_TEST(v.cli({"status", "--all"}).out.find("no longer watched") != std::string::npos);
  BOOST_TEST(v.cli({"status"}).out.find("removed") == std::string::npos);

  const json checks = v.cli_json({"checks"});
  BOOST_TEST(has_row(checks, "kept", "alive"), checks.dump(2));
  BOOST_TEST(!has_row(checks, "gone", "alive"), checks.dump(2));
  const json checks_all = v.cli_json({"checks", "--all"});
  BOOST_REQUIRE(has_row(checks_all, "gone", "alive"));
  for (const auto& r : checks_all) {
    BOOST_TEST(r["removed"] == (r.value("target", "") == "gone"));
  }
  RunResult table = v.cli({"checks", "--all"});
  BOOST_TEST(table.out.find("removed (was ok)") != std::string::npos, table.out);
  BOOST_REQUIRE(v.stop() == 0);
}

// A process that ignores SIGTERM is killed after 10 s; one of a target still
// configured (under another kind) is left alone.
BOOST_AUTO_TEST_CASE(a_leftover_that_ignores_sigterm_is_killed_and_a_kept_name_is_left_alone) {
  const std::string stubborn =
      "[[target]]\nname = \"stubborn\"\nstart = [\"/bin/sh\", \"-c\", \"trap '' TERM; while :; do sleep 1; done\"]\n";
  const std::string renamed = "[[target]]\nname = \"switched\"\nstart = [\"/bin/sleep\", \"600\"]\n";
  Vigil v(stand_in_target("kept") + stubborn + renamed);
  v.start();
  const std::string run_dir = v.dir.path.string() + "/state/run";
  BOOST_REQUIRE_MESSAGE(wait_for(10s,
                                 [&] {
                                   return std::filesystem::exists(run_dir + "/stubborn.pid") &&
                                          std::filesystem::exists(run_dir + "/switched.pid");
                                 }),
                        v.log());
  const int stubborn_pid = std::atoi(slurp(run_dir + "/stubborn.pid").c_str());
  const int switched_pid = std::atoi(slurp(run_dir + "/switched.pid").c_str());
  BOOST_REQUIRE(stubborn_pid > 0 && switched_pid > 0);
  BOOST_REQUIRE(v.stop() == 0);
  // `stubborn` goes; `switched` is now watched by its PID, not started.
  write_file(v.config_path, slurp(v.config_path).substr(0, slurp(v.config_path).find("[[target]]")) +
                                stand_in_target("kept") +
                                "[[target]]\nname = \"switched\"\npid = " + std::to_string(switched_pid) + "\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(30s, [&] { return !target_events(v, "target_removed", "stubborn").empty(); }),
                        v.log());
  const std::string message = target_events(v, "target_removed", "stubborn").front().value("message", "");
  BOOST_TEST(message.find("stopped process " + std::to_string(stubborn_pid)) != std::string::npos, message);
  BOOST_TEST(message.find("(killed: it did not stop within 10s of SIGTERM)") != std::string::npos, message);
  BOOST_TEST(wait_for(5s, [&] { return process_gone(stubborn_pid); }));
  BOOST_TEST(!process_gone(switched_pid));
  BOOST_TEST(std::filesystem::exists(run_dir + "/switched.pid"));
  BOOST_TEST(target_events(v, "target_removed", "switched").empty());
  BOOST_REQUIRE(v.stop() == 0);
  ::kill(switched_pid, SIGKILL);
}
