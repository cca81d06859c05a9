// Data survives kill -9 of vigild; a corrupt store does not wedge start-up.
#define BOOST_TEST_MODULE integration_durability
#include <functional>
#include <set>

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

std::set<std::pair<long long, double>> points(Vigil& v, const std::string& metric) {
  std::set<std::pair<long long, double>> out;
  auto j = v.cli_json({"query", metric, "--since", "1h"});
  for (const auto& s : j) {
    for (const auto& p : s["points"]) out.emplace(p["ts"].get<long long>(), p["value"].get<double>());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(committed_samples_survive_kill_9) {
  Vigil v("[[target]]\nname = \"self\"\npid = 1\n");
  v.start();
  BOOST_REQUIRE(wait_for(5s, [&] { return points(v, "host_load1").size() >= 3; }));
  // Everything the reader sees is committed; then kill without warning.
  auto committed_load = points(v, "host_load1");
  auto committed_mem = points(v, "host_memory_available_bytes");
  v.daemon.signal(SIGKILL);
  BOOST_REQUIRE(v.daemon.wait(2s).has_value());

  // Post-mortem: the CLI works with vigild dead, and status says it did not stop cleanly.
  auto after_kill = points(v, "host_load1");
  for (const auto& p : committed_load) BOOST_TEST(after_kill.count(p) == 1u);
  RunResult status = v.cli({"status"});
  BOOST_TEST(status.exit_code == 1);
  BOOST_TEST(status.out.find("did not stop cleanly") != std::string::npos);

  // A restart opens the same store and keeps everything.
  v.start();
  BOOST_REQUIRE(wait_for(5s, [&] { return v.events("daemon_start").size() == 2u; }));
  BOOST_REQUIRE(v.stop().has_value());
  auto load = points(v, "host_load1");
  auto mem = points(v, "host_memory_available_bytes");
  for (const auto& p : committed_load) BOOST_TEST(load.count(p) == 1u);
  for (const auto& p : committed_mem) BOOST_TEST(mem.count(p) == 1u);
  BOOST_TEST(load.size() > committed_load.size());
}

BOOST_AUTO_TEST_CASE(corrupt_store_is_moved_aside_and_start_up_goes_on) {
  Vigil v("");
  v.start();
  BOOST_REQUIRE(wait_for(5s, [&] { return !points(v, "host_load1").empty(); }));
  BOOST_REQUIRE(v.stop().has_value());
  // A vigil store whose SQLite header was overwritten: its application id
  // (offset 68) still says whose it is.
  std::string bytes = slurp(v.db());
  BOOST_REQUIRE(bytes.size() > 100);
  bytes.replace(0, 16, std::string(16, 'x'));
  write_file(v.db(), bytes);
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !v.events("store_recovered").empty(); }), v.log());
  auto e = v.events("store_recovered").front();
  BOOST_TEST(e["severity"] == "critical");
  std::string moved = e["details"]["moved_to"];
  BOOST_TEST(fs::exists(moved));
  BOOST_TEST(slurp(moved) == bytes);
  BOOST_TEST(wait_for(5s, [&] { return !points(v, "host_load1").empty(); }));
  v.stop();
  // Said once in the log, not once per layer.
  const std::string log = v.log();
  std::size_t said = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) said += line.find("was corrupt") != std::string::npos;
  BOOST_TEST(said == 1u, log);
}

// [store] path at someone else's file: vigild refuses to start and the file
// keeps every byte (no tables added, no WAL, no rename).
void refuses_foreign_store(const std::string& content_kind, const std::function<void(const std::string&)>& make,
                           const std::string& expected_words) {
  Vigil v("");
  fs::create_directories(v.dir / "state");
  make(v.db());
  const std::string before = slurp(v.db());
  RunResult r = run({env_path("VIGILD"), "--config", v.config_path});
  BOOST_TEST_MESSAGE(content_kind << ": " << r.err);
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find(v.db() + " is not a vigil store") != std::string::npos, r.err);
  BOOST_TEST(r.err.find(expected_words) != std::string::npos, r.err);
  BOOST_TEST(slurp(v.db()) == before);
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(v.dir / "state")) {
    if (e.path().filename() != "vigild.pid") entries.push_back(e.path().filename().string());
  }
  BOOST_TEST(entries == std::vector<std::string>{"vigil.db"}, "state holds: " << entries.size() << " entries");
  // The CLI says the same and touches nothing either.
  RunResult q = v.cli({"events"});
  BOOST_TEST(q.exit_code != 0);
  BOOST_TEST(q.err.find("is not a vigil store") != std::string::npos, q.err);
  BOOST_TEST(slurp(v.db()) == before);
}

BOOST_AUTO_TEST_CASE(text_file_as_the_store_is_refused_and_left_untouched) {
  refuses_foreign_store("text", [](const std::string& p) { write_file(p, "my notes\nkeep these\n"); },
                        "not a SQLite database: text starting");
}

BOOST_AUTO_TEST_CASE(another_applications_database_as_the_store_is_refused_and_left_untouched) {
  refuses_foreign_store(
      "sqlite",
      [](const std::string& p) {
        RunResult made = run({"sqlite3", p, "CREATE TABLE accounts(name TEXT); INSERT INTO accounts VALUES('x');"});
        BOOST_REQUIRE_MESSAGE(made.exit_code == 0, made.err);
      },
      "another application (tables: accounts)");
}

BOOST_AUTO_TEST_CASE(second_vigild_on_the_same_state_dir_refuses) {
  Vigil v("");
  v.start();
  BOOST_REQUIRE(wait_for(5s, [&] { return !v.events("daemon_start").empty(); }));
  RunResult second = run({env_path("VIGILD"), "--config", v.config_path});
  BOOST_TEST(second.exit_code == 1);
  BOOST_TEST(second.err.find("another vigild") != std::string::npos);
  RunResult status = v.cli({"status"});
  BOOST_TEST(status.exit_code == 0);
  BOOST_TEST(status.out.find("running (PID " + std::to_string(v.daemon.pid()) + ")") != std::string::npos);
  v.stop();
}
