// Data survives kill -9 of vigild; a corrupt store does not wedge start-up.
#define BOOST_TEST_MODULE integration_durability
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
  fs::create_directories(v.dir / "state");
  std::string garbage(64 * 1024, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919) % 251);
  write_file(v.db(), garbage);
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return !v.events("store_recovered").empty(); }), v.log());
  auto e = v.events("store_recovered").front();
  BOOST_TEST(e["severity"] == "critical");
  std::string moved = e["details"]["moved_to"];
  BOOST_TEST(fs::exists(moved));
  BOOST_TEST(fs::file_size(moved) == garbage.size());
  BOOST_TEST(wait_for(5s, [&] { return !points(v, "host_load1").empty(); }));
  v.stop();
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
