// The real vigild watching a real helper process.
#define BOOST_TEST_MODULE integration_daemon
#include <sys/wait.h>

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

std::string target_by_pidfile(const std::string& name, const std::string& pidfile) {
  return "[[target]]\nname = \"" + name + "\"\npidfile = \"" + pidfile + "\"\n";
}

Child start_memhog(const std::string& pidfile, const std::string& tag = "t") {
  Child c = Child::start({env_path("MEMHOG"), "--pidfile", pidfile, "--tag", tag}, {}, "", true);
  std::string ready = c.read_line();
  BOOST_REQUIRE(ready.rfind("ready ", 0) == 0);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(samples_appear_and_memory_rise_is_seen) {
  Vigil v("");
  std::string pidfile = v.dir / "app.pid";
  Child app = start_memhog(pidfile);
  write_file(v.config_path, slurp(v.config_path) + target_by_pidfile("app", pidfile));
  v.start();

  auto t0 = Clock::now();
  BOOST_REQUIRE_MESSAGE(wait_for(3s, [&] { return !v.values("process_resident_memory_bytes", "app").empty(); }),
                        "no process sample within 3 s\n"
                            << v.log());
  BOOST_TEST_MESSAGE("first sample visible after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count() << " ms");
  // Host samples too.
  BOOST_TEST(!v.cli_json({"query", "host_memory_total_bytes"}).empty());

  double before = v.values("process_resident_memory_bytes", "app").back();
  app.send_line("alloc 64");
  BOOST_REQUIRE(app.read_line() == "ok");
  bool rose = wait_for(5s, [&] {
    auto vals = v.values("process_resident_memory_bytes", "app");
    return !vals.empty() && vals.back() - before >= 60.0 * 1024 * 1024;
  });
  BOOST_TEST(rose, "RSS did not rise by 64 MiB: last " << v.values("process_resident_memory_bytes", "app").back()
                                                       << " before " << before);
  // The table form of the same query works and shows the target.
  RunResult table = v.cli({"query", "process_resident_memory_bytes", "--target", "app", "--since", "5m"});
  BOOST_TEST(table.exit_code == 0);
  BOOST_TEST(table.out.find("target=\"app\"") != std::string::npos);

  auto st = v.stop();
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WIFEXITED(*st));
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}

BOOST_AUTO_TEST_CASE(sigterm_stops_with_a_daemon_stop_event) {
  Vigil v("");
  v.start();
  BOOST_REQUIRE(wait_for(5s, [&] { return !v.events("daemon_start").empty(); }));
  auto t0 = Clock::now();
  auto st = v.stop(2s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  BOOST_REQUIRE_MESSAGE(st.has_value(), "vigild still running 2 s after SIGTERM\n" << v.log());
  BOOST_TEST_MESSAGE("stopped in " << took << " ms");
  BOOST_TEST(WIFEXITED(*st));
  BOOST_TEST(WEXITSTATUS(*st) == 0);
  BOOST_TEST(v.events("daemon_stop").size() == 1u);
  // Logs are JSON lines with ts, level and msg.
  std::istringstream lines(v.log());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    BOOST_TEST_INFO(line);
    BOOST_TEST((!j.is_discarded() && j.contains("ts") && j.contains("level") && j.contains("msg")));
    ++n;
  }
  BOOST_TEST(n >= 3);
  // status after a clean stop says so and exits 1 (not running).
  RunResult status = v.cli({"status"});
  BOOST_TEST(status.exit_code == 1);
  BOOST_TEST(status.out.find("stopped cleanly") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(target_restart_and_vanish_are_events) {
  Vigil v("");
  std::string pidfile = v.dir / "app.pid";
  write_file(v.config_path, slurp(v.config_path) + target_by_pidfile("app", pidfile));
  Child first = start_memhog(pidfile);
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !v.events("target_appeared").empty(); }), v.log());

  // A new process behind the same pidfile: a restart.
  first.signal(SIGKILL);
  first.wait(2s);
  Child second = start_memhog(pidfile);
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !v.events("target_restarted").empty(); }), v.log());
  auto restarted = v.events("target_restarted").front();
  BOOST_TEST(restarted["target"] == "app");
  BOOST_TEST(restarted["details"]["pid"] == second.pid());
  BOOST_TEST(restarted["details"]["previous_pid"] == first.pid());

  second.signal(SIGKILL);
  second.wait(2s);
  BOOST_TEST(wait_for(5s, [&] { return !v.events("target_vanished").empty(); }));
  BOOST_TEST(wait_for(3s, [&] {
    auto vals = v.values("process_count", "app", "1m");
    return !vals.empty() && vals.back() == 0;
  }));
  v.stop();
}

BOOST_AUTO_TEST_CASE(match_target_covers_the_process_tree) {
  // A tag unique to this run: no other memhog can match.
  std::string tag = "tree-test-" + std::to_string(getpid());
  Vigil v("[[target]]\nname = \"tree\"\nmatch = \"memhog --pidfile \\\\S+ --tag " + tag + "$\"\n");
  std::string pidfile = v.dir / "tree.pid";
  Child app = start_memhog(pidfile, tag);
  app.send_line("child");
  BOOST_REQUIRE(app.read_line() == "ok");
  app.send_line("child");
  BOOST_REQUIRE(app.read_line() == "ok");
  v.start();
  BOOST_TEST(wait_for(5s,
                      [&] {
                        auto n = v.values("process_count", "tree", "1m");
                        auto kids = v.values("process_children", "tree", "1m");
                        return !n.empty() && n.back() == 3 && !kids.empty() && kids.back() == 2;
                      }),
             v.log());
  v.stop();
}

BOOST_AUTO_TEST_CASE(unreadable_pidfile_is_a_probe_failure_not_running_is_not) {
  Vigil v("");
  std::string good = v.dir / "good.pid", garbage = v.dir / "garbage.pid";
  write_file(garbage, "not a pid\n");
  Child app = start_memhog(good);
  write_file(v.config_path, slurp(v.config_path) + target_by_pidfile("good", good) + target_by_pidfile("bad", garbage) +
                                target_by_pidfile("stopped", v.dir / "absent.pid"));
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s,
                                 [&] {
                                   return !v.values("vigil_probe_success", "good").empty() &&
                                          !v.values("vigil_probe_success", "bad").empty() &&
                                          !v.values("vigil_probe_success", "stopped").empty();
                                 }),
                        v.log());
  BOOST_TEST(v.values("vigil_probe_success", "good").back() == 1);
  BOOST_TEST(v.values("vigil_probe_success", "bad").back() == 0);      // malformed pidfile
  BOOST_TEST(v.values("vigil_probe_success", "stopped").back() == 1);  // absent: nothing running, read fine
  BOOST_TEST(v.values("process_count", "stopped").back() == 0);
  v.stop();
}

VIGIL_REQUIREMENT("memory_cgroup", []() -> std::optional<std::string> {
  if (auto problem = memory_cgroup_problem()) return *problem + ": the test cannot put targets in cgroups of their own";
  return std::nullopt;
});

// Targets whose processes share a cgroup (one session, one container)
// each carry its counters, read once per round for all of them; a target in
// another cgroup carries that one's. Told apart by their memory limits.
BOOST_AUTO_TEST_CASE(targets_sharing_a_cgroup_each_carry_its_counters, *boost::unit_test::label("memory_cgroup")) {
  MemoryCgroup shared("96M");  // first: removed after the processes are killed
  MemoryCgroup own("48M");
  Vigil v("");
  const std::string a_pid = v.dir / "a.pid", b_pid = v.dir / "b.pid", c_pid = v.dir / "c.pid";
  Child a = start_memhog(a_pid, "a"), b = start_memhog(b_pid, "b"), c = start_memhog(c_pid, "c");
  shared.add(a.pid());
  shared.add(b.pid());
  own.add(c.pid());
  write_file(v.config_path, slurp(v.config_path) + target_by_pidfile("a", a_pid) + target_by_pidfile("b", b_pid) +
                                target_by_pidfile("c", c_pid));
  v.start();
  auto limit_of = [&](const std::string& target) {
    auto vals = v.values("cgroup_memory_limit_bytes", target);
    return vals.empty() ? 0.0 : vals.back();
  };
  BOOST_REQUIRE_MESSAGE(wait_for(10s,
                                 [&] {
                                   return limit_of("a") > 0 && limit_of("b") > 0 && limit_of("c") > 0 &&
                                          !v.values("cgroup_memory_usage_bytes", "b").empty();
                                 }),
                        "no cgroup samples for all three targets\n"
                            << v.log());
  BOOST_TEST(limit_of("a") == 96.0 * 1024 * 1024);
  BOOST_TEST(limit_of("b") == 96.0 * 1024 * 1024);
  BOOST_TEST(limit_of("c") == 48.0 * 1024 * 1024);
  // Memory charged to the shared cgroup shows in both of its targets.
  const double before = v.values("cgroup_memory_usage_bytes", "b").back();
  a.send_line("alloc 32");
  BOOST_REQUIRE(a.read_line() == "ok");
  BOOST_TEST(wait_for(10s,
                      [&] {
                        auto vals = v.values("cgroup_memory_usage_bytes", "b");
                        return !vals.empty() && vals.back() - before >= 30.0 * 1024 * 1024;
                      }),
             "b's cgroup usage did not show a's 32 MiB\n"
                 << v.log());
  a.signal(SIGKILL);
  b.signal(SIGKILL);
  c.signal(SIGKILL);
  a.wait(5s);
  b.wait(5s);
  c.wait(5s);
  v.stop();
}
