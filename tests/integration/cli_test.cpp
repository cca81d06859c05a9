// vigild --check-config and the vigil CLI's errors.
#define BOOST_TEST_MODULE integration_cli
#include "tests/integration/harness.hpp"

using namespace harness;

namespace {
std::string fixture(const std::string& rel) {
  return env_path("VIGIL_TEST_FIXTURES") + "/config/" + rel;
}
}  // namespace

BOOST_AUTO_TEST_CASE(check_config_good) {
  RunResult r = run({env_path("VIGILD"), "--check-config", "--config", fixture("good/full.toml")});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out == "config OK: 3 targets, 0 checks\n");
}

BOOST_AUTO_TEST_CASE(check_config_bad_lists_every_error) {
  RunResult r = run({env_path("VIGILD"), "--check-config", "--config", fixture("bad/many.toml")});
  BOOST_TEST(r.exit_code == 1);
  // One line per error, each naming file:line:column.
  int located = 0;
  std::istringstream lines(r.err);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("many.toml:") != std::string::npos) ++located;
  }
  BOOST_TEST(located >= 6, r.err);
}

BOOST_AUTO_TEST_CASE(check_config_counts_in_words) {
  TempDir tmp;
  write_file(tmp / "one.toml",
             "[[target]]\nname = \"a\"\npid = 1\n[[check]]\nname = \"c\"\nkind = \"tcp\"\n"
             "address = \"127.0.0.1:1\"\n");
  RunResult r = run({env_path("VIGILD"), "--check-config", "--config", tmp / "one.toml"});
  BOOST_TEST(r.out == "config OK: 1 target, 1 check\n");
}

BOOST_AUTO_TEST_CASE(a_list_of_valid_values_is_given_once) {
  TempDir tmp;
  write_file(tmp / "two.toml",
             "[[target]]\nname = \"a\"\nstart = [\"/bin/sleep\", \"9\"]\n[target.remediate]\nactions = [\"reboot\"]\n"
             "[[target]]\nname = \"b\"\nstart = [\"/bin/sleep\", \"9\"]\n[target.remediate]\nactions = [\"kill\"]\n");
  RunResult r = run({env_path("VIGILD"), "--check-config", "--config", tmp / "two.toml"});
  BOOST_TEST(r.exit_code == 1);
  std::size_t lists = 0;
  for (std::size_t at = 0; (at = r.err.find("valid: restart, signal, exec, http", at)) != std::string::npos; ++at) {
    ++lists;
  }
  BOOST_TEST(lists == 1u, r.err);
  BOOST_TEST(r.err.find("\"kill\" is unknown; valid: as above") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(check_config_refuses_a_directory) {
  TempDir tmp;
  for (const std::string& dir : {std::string("/etc"), tmp.path.string()}) {
    RunResult r = run({env_path("VIGILD"), "--check-config", "--config", dir});
    BOOST_TEST(r.exit_code == 1, dir);
    BOOST_TEST(r.out.find("config OK") == std::string::npos, r.out);
    BOOST_TEST(r.err.find(dir + ": is a directory, not a config file") != std::string::npos, r.err);
  }
  RunResult dev = run({env_path("VIGILD"), "--check-config", "--config", "/dev/null"});
  BOOST_TEST(dev.exit_code == 1);
  BOOST_TEST(dev.err.find("/dev/null: is not a regular file") != std::string::npos, dev.err);
}

BOOST_AUTO_TEST_CASE(check_config_environment_error_names_the_variable) {
  RunResult r = run({env_path("VIGILD"), "--check-config", "--config", fixture("good/full.toml")},
                    {{"VIGIL_DAEMON_INTERVAL", "2 seconds"}});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("VIGIL_DAEMON_INTERVAL") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_config_does_not_start) {
  RunResult r = run({env_path("VIGILD"), "--config", fixture("bad/unknown-key.toml")});
  BOOST_TEST(r.exit_code == 1);
}

BOOST_AUTO_TEST_CASE(cli_errors_exit_2) {
  TempDir tmp;
  RunResult no_db = run({env_path("VIGIL"), "series", "--db", tmp / "missing.db"});
  BOOST_TEST(no_db.exit_code == 2);
  BOOST_TEST(no_db.err.find("missing.db") != std::string::npos);

  RunResult bad_args = run({env_path("VIGIL"), "query"});
  BOOST_TEST(bad_args.exit_code == 2);
  RunResult unknown_cmd = run({env_path("VIGIL"), "frobnicate"});
  BOOST_TEST(unknown_cmd.exit_code == 2);
  BOOST_TEST(unknown_cmd.err.find("vigil: unknown subcommand \"frobnicate\"; the subcommands are series, query,") == 0,
             unknown_cmd.err);
  // A misspelled one is named, with the one that was meant.
  RunResult typo = run({env_path("VIGIL"), "--db", tmp / "missing.db", "stauts"});
  BOOST_TEST(typo.exit_code == 2);
  BOOST_TEST(typo.err.find("vigil: unknown subcommand \"stauts\", did you mean status?") == 0, typo.err);
  // csv is refused where it is not written, not ignored.
  for (std::vector<std::string> cmd : {std::vector<std::string>{"status"}, {"check", "test", "web/health"}}) {
    cmd.insert(cmd.begin(), env_path("VIGIL"));
    for (const char* a : {"--format", "csv", "--db"}) cmd.push_back(a);
    cmd.push_back(tmp / "missing.db");
    RunResult csv = run(cmd);
    BOOST_TEST(csv.exit_code == 2);
    BOOST_TEST(csv.err.find("--format: this command writes table, json, not csv") != std::string::npos, csv.err);
  }
  // --limit: 0 is all, a negative is refused (not read as "no limit").
  for (const char* cmd : {"events", "incidents"}) {
    RunResult negative = run({env_path("VIGIL"), cmd, "--limit", "-1", "--db", tmp / "missing.db"});
    BOOST_TEST(negative.exit_code == 2);
    BOOST_TEST(
        negative.err.find("--limit: \"-1\" is not a count: write 0 (all, the default) or more") != std::string::npos,
        negative.err);
  }
}

BOOST_AUTO_TEST_CASE(cli_against_a_real_store) {
  Vigil v("");
  v.start();
  BOOST_REQUIRE(wait_for(5s, [&] { return !v.cli_json({"query", "host_load1"}).empty(); }));
  BOOST_REQUIRE(v.stop().has_value());

  RunResult unknown = v.cli({"query", "host_lod1"});
  BOOST_TEST(unknown.exit_code == 2);
  BOOST_TEST(unknown.err.find("host_load1") != std::string::npos);  // the close match is offered

  RunResult bad_time = v.cli({"query", "host_load1", "--since", "yesterday"});
  BOOST_TEST(bad_time.exit_code == 2);
  RunResult bad_format = v.cli({"series", "--format", "xml"});
  BOOST_TEST(bad_format.exit_code == 2);
  RunResult bad_label = v.cli({"query", "host_load1", "--label", "novalue"});
  BOOST_TEST(bad_label.exit_code == 2);

  RunResult series = v.cli({"series", "--match", "host_load*"});
  BOOST_TEST(series.exit_code == 0);
  BOOST_TEST(series.out == "host_load1\nhost_load15\nhost_load5\n");

  RunResult csv = v.cli({"query", "host_load1", "--format", "csv"});
  BOOST_TEST(csv.exit_code == 0);
  BOOST_TEST(csv.out.rfind("metric,labels,ts_ms,time,value\nhost_load1,,", 0) == 0);

  auto events = v.cli_json({"events", "--since", "1h"});
  BOOST_REQUIRE(events.is_array());
  BOOST_TEST(events.front()["kind"] == "daemon_start");
  BOOST_TEST(events.back()["kind"] == "daemon_stop");

  // Finding the database through the configuration instead of --db.
  RunResult via_config = run({env_path("VIGIL"), "events", "--config", v.config_path, "--kind", "daemon_stop"});
  BOOST_TEST(via_config.exit_code == 0);
  BOOST_TEST(via_config.out.find("daemon_stop") != std::string::npos);
  // The same VIGIL_ overrides as vigild: pointing the state dir elsewhere finds no store.
  RunResult overridden =
      run({env_path("VIGIL"), "events", "--config", v.config_path}, {{"VIGIL_DAEMON_STATE_DIR", v.dir / "elsewhere"}});
  BOOST_TEST(overridden.exit_code == 2);
}

VIGIL_REQUIREMENT("no_system_config", []() -> std::optional<std::string> {
  if (!fs::exists("/etc/vigil/vigil.toml")) return std::nullopt;
  return std::string("/etc/vigil/vigil.toml exists on this machine, so built-in defaults cannot be seen");
});

BOOST_AUTO_TEST_CASE(defaults_without_a_config_file, *boost::unit_test::label("no_system_config")) {
  TempDir tmp;
  Child d = Child::start({env_path("VIGILD")}, {{"VIGIL_DAEMON_STATE_DIR", tmp / "state"}}, tmp / "log");
  BOOST_REQUIRE(wait_for(5s, [&] { return fs::exists(tmp / "state/vigil.db"); }));
  d.signal(SIGTERM);
  BOOST_REQUIRE(d.wait(3s).has_value());
  std::string first_line = slurp(tmp / "log").substr(0, slurp(tmp / "log").find('\n'));
  auto j = nlohmann::json::parse(first_line);
  BOOST_TEST(j["msg"].get<std::string>().find("built-in defaults") != std::string::npos);
}
