// [[target]] start/systemd_unit/depends_on and [target.remediate]: defaults,
// the escalation keys, and every refusal with its kind, line and key.
#define BOOST_TEST_MODULE config_remediation
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "config/config.hpp"
#include "config/targets.hpp"
#include "tests/unit/config/config_helpers.hpp"

using namespace vigil;
using namespace vigil::config_test;

namespace {

LoadResult load(const std::string& toml) {
  return load_toml(toml);
}

const TargetConfig& target(const LoadResult& r, const std::string& name) {
  for (const auto& t : r.config.targets) {
    if (t.name == name) return t;
  }
  BOOST_FAIL("no target " << name);
  return r.config.targets.front();
}

// Line 1-4: a started target with one check (line 5-9), then line 10+: the test's own lines.
const std::string kWorker =
    "[[target]]\n"
    "name = \"worker\"\n"
    "start = [\"/usr/local/bin/worker\", \"--port\", \"9000\"]\n"
    "stop_signal = \"SIGINT\"\n"
    "  [[target.check]]\n"
    "  name = \"health\"\n"
    "  kind = \"http\"\n"
    "  url = \"http://127.0.0.1:9000/health\"\n"
    "\n";

}  // namespace

BOOST_AUTO_TEST_CASE(the_issue_example_loads_with_its_values) {
  auto r = load(
      "[[target]]\nname = \"postgres\"\nmatch = \"postgres\"\n"
      "[[target]]\nname = \"gateway\"\nsystemd_unit = \"gateway.service\"\ndepends_on = [\"postgres\"]\n"
      "  [[target.check]]\n  name = \"health\"\n  kind = \"http\"\n  url = \"http://127.0.0.1:8080/health\"\n"
      "  [target.remediate]\n  on = [\"health\"]\n  actions = [\"restart\"]\n  max = 5\n  window = \"10m\"\n"
      "  backoff = \"10s\"\n  max_backoff = \"5m\"\n  grace = \"30s\"\n  dry_run = false\n" +
      kWorker + "  [target.remediate]\n  on = [\"health\", \"crash\"]\n  actions = [\"restart\"]\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  const auto& gw = target(r, "gateway");
  BOOST_TEST(gw.finder.as<UnitTarget>().unit == "gateway.service");
  BOOST_TEST(gw.depends_on == std::vector<std::string>{"postgres"});
  BOOST_REQUIRE(gw.remediate.has_value());
  BOOST_TEST(gw.remediate->max == 5);
  BOOST_TEST(gw.remediate->window.count() == 600'000);
  BOOST_TEST(gw.remediate->backoff.count() == 10'000);
  BOOST_TEST(gw.remediate->max_backoff.count() == 300'000);
  BOOST_TEST(gw.remediate->grace.count() == 30'000);
  BOOST_TEST(!gw.remediate->dry_run);
  BOOST_TEST(gw.can_restart());
  const auto& w = target(r, "worker");
  BOOST_TEST(w.finder.as<StartTarget>().argv.size() == 3u);
  BOOST_TEST(w.finder.as<StartTarget>().stop_signal == SIGINT);
  BOOST_TEST(w.remediate->on == (std::vector<std::string>{"health", "crash"}));
  BOOST_TEST(!target(r, "postgres").can_restart());
}

BOOST_AUTO_TEST_CASE(on_defaults_to_every_check_and_crash_when_restartable) {
  auto r = load(kWorker + "  [target.remediate]\n  actions = [\"signal\", \"restart\"]\n  signal = \"usr1\"\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  const auto& w = target(r, "worker");
  BOOST_TEST(w.remediate->on == (std::vector<std::string>{"health", "crash"}));
  BOOST_TEST(w.remediate->signal == SIGUSR1);
  BOOST_TEST(w.remediate->timeout.count() == 60'000);  // default
  // A process vigild only finds: no crash trigger by default, and nothing
  // to trigger when it has no check.
  auto found = load(
      "[[target]]\nname = \"p\"\nmatch = \"x\"\n  [target.remediate]\n  actions = [\"signal\"]\n"
      "  signal = \"SIGHUP\"\n");
  BOOST_TEST(has_error(found, ConfigErrorKind::kMissingKey, 0, "target[p].remediate.on"), dump(found));
}

// A container target judges its HEALTHCHECK with an implicit docker_health
// check, and its crashes trigger remediation unless Docker restarts it
// (crash implied, decided at the time).
BOOST_AUTO_TEST_CASE(container_targets_get_a_docker_health_check_and_an_implied_crash_trigger) {
  auto r = load(
      "[[target]]\nname = \"web\"\ncontainer = \"shop-web-1\"\ninterval = \"2s\"\n"
      "  [[target.check]]\n  name = \"http\"\n  kind = \"http\"\n  url = \"http://127.0.0.1:8080/\"\n"
      "  [target.remediate]\n"
      "[[target]]\nname = \"own\"\ncompose_service = \"shop/db\"\n"
      "  [[target.check]]\n  name = \"health\"\n  kind = \"docker_health\"\n  fail_after = 3\n"
      "  [target.remediate]\n  on = [\"crash\", \"health\"]\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  std::vector<std::string> checks;
  for (const auto& c : r.config.checks) checks.push_back(c.display_name() + ":" + std::string(to_string(c.kind)));
  BOOST_TEST(checks == (std::vector<std::string>{"web/http:http", "own/health:docker_health",
                                                 "web/docker_health:docker_health"}),
             boost::test_tools::per_element());
  const auto& implicit = r.config.checks.back();
  BOOST_TEST(implicit.fail_after == 1);
  BOOST_TEST(implicit.recover_after == 1);
  // Events run it at once: its own schedule is a 30 s safety net (or the
  // target's interval, if longer).
  BOOST_TEST(implicit.interval.value_or(Millis(0)).count() == 30000);
  auto slow = load("[[target]]\nname = \"web\"\ncontainer = \"web-1\"\ninterval = \"1m\"\n");
  BOOST_REQUIRE_MESSAGE(slow.ok(), dump(slow));
  BOOST_TEST(slow.config.checks.back().interval.value_or(Millis(0)).count() == 60000);
  const auto& web = target(r, "web");
  BOOST_TEST(web.remediate->on == (std::vector<std::string>{"http", "docker_health", "crash"}),
             boost::test_tools::per_element());
  BOOST_TEST(web.remediate->crash_implied);
  const auto& own = target(r, "own");
  BOOST_TEST(!own.remediate->crash_implied);  // written: restarted even when Docker would
  // Not on another kind of target, nor on a check of its own.
  auto bad = load(
      "[[target]]\nname = \"p\"\nmatch = \"x\"\n  [[target.check]]\n  name = \"h\"\n"
      "  kind = \"docker_health\"\n"
      "[[check]]\nname = \"lone\"\nkind = \"docker_health\"\n");
  BOOST_TEST(has_error(bad, ConfigErrorKind::kBadValue, 6, "check[h].kind"), dump(bad));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kMissingKey, 7, "check[lone].target"), dump(bad));
}

// [docker] auto: a boolean or "all"; anything else is refused with the key
// named. A container it finds becomes a container target by name, with the
// same implicit docker_health check, unless its name cannot be a target's
// or is a configured target's.
BOOST_AUTO_TEST_CASE(docker_auto_and_the_targets_it_makes) {
  BOOST_TEST((load("").config.docker.auto_targets == DockerAuto::kOff));
  BOOST_TEST((load("[docker]\nauto = true\n").config.docker.auto_targets == DockerAuto::kLabelled));
  BOOST_TEST((load("[docker]\nauto = false\n").config.docker.auto_targets == DockerAuto::kOff));
  BOOST_TEST((load("[docker]\nauto = \"all\"\n").config.docker.auto_targets == DockerAuto::kAll));
  BOOST_TEST((load_toml("", {"VIGIL_DOCKER_AUTO=true"}).config.docker.auto_targets == DockerAuto::kLabelled));
  auto bad = load("[docker]\nauto = \"everything\"\n");
  BOOST_TEST(has_error(bad, ConfigErrorKind::kBadValue, 2, "docker.auto"), dump(bad));
  auto number = load("[docker]\nauto = 1\n");
  BOOST_TEST(has_error(number, ConfigErrorKind::kWrongType, 2, "docker.auto"), dump(number));

  auto r = load("[daemon]\ninterval = \"2s\"\n[[target]]\nname = \"db\"\nmatch = \"postgres\"\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  auto web = discovered_container_target(r.config, "shop-web-1");
  BOOST_REQUIRE(web.has_value());
  BOOST_TEST(web->name == "shop-web-1");
  BOOST_TEST((web->kind == TargetKind::kContainer));
  BOOST_TEST(web->finder.as<ContainerTarget>().selector == "shop-web-1");
  BOOST_TEST(r.config.target_interval(*web).count() == 2000);
  const CheckConfig health = docker_health_check(r.config, *web);
  BOOST_TEST(health.display_name() == "shop-web-1/docker_health");
  BOOST_TEST((health.kind == CheckKind::kDockerHealth));
  BOOST_TEST(health.interval.value_or(Millis(0)).count() == 30000);
  auto taken = discovered_container_target(r.config, "db");
  BOOST_REQUIRE(!taken.has_value());
  BOOST_TEST(taken.error().message.find("configured target") != std::string::npos, taken.error().message);
  BOOST_TEST(!discovered_container_target(r.config, std::string(65, 'a')).has_value());
  BOOST_TEST(!discovered_container_target(r.config, "a b").has_value());
}

BOOST_AUTO_TEST_CASE(signal_names_and_numbers) {
  BOOST_TEST(signal_number("SIGTERM") == SIGTERM);
  BOOST_TEST(signal_number("term") == SIGTERM);
  BOOST_TEST(signal_number(" USR2 ") == SIGUSR2);
  BOOST_TEST(signal_number("9") == SIGKILL);
  BOOST_TEST(signal_number("SIGNOPE") == 0);
  BOOST_TEST(signal_number("0") == 0);
  BOOST_TEST(signal_number("") == 0);
  BOOST_TEST(signal_name(SIGUSR1) == "SIGUSR1");
}

BOOST_AUTO_TEST_CASE(bad_remediation_configs_name_kind_line_and_key) {
  struct Case {
    std::string toml;
    ConfigErrorKind kind;
    int line;
    std::string key;
  };
  const std::string rem = "  [target.remediate]\n";  // line 10
  const std::vector<Case> cases = {
      {kWorker + rem + "  actions = [\"reboot\"]\n", ConfigErrorKind::kBadValue, 11,
       "target[worker].remediate.actions"},
      {kWorker + rem + "  actions = [\"signal\"]\n", ConfigErrorKind::kMissingKey, 10,
       "target[worker].remediate.signal"},
      {kWorker + rem + "  actions = [\"exec\"]\n", ConfigErrorKind::kMissingKey, 10, "target[worker].remediate.exec"},
      {kWorker + rem + "  actions = [\"http\"]\n", ConfigErrorKind::kMissingKey, 10, "target[worker].remediate.url"},
      {kWorker + rem + "  signal = \"SIGFOO\"\n", ConfigErrorKind::kBadValue, 11, "target[worker].remediate.signal"},
      {kWorker + rem + "  on = [\"helth\"]\n", ConfigErrorKind::kBadValue, 11, "target[worker].remediate.on"},
      {kWorker + rem + "  max = 0\n", ConfigErrorKind::kOutOfRange, 11, "target[worker].remediate.max"},
      {kWorker + rem + "  backoff = \"10m\"\n  max_backoff = \"1m\"\n", ConfigErrorKind::kOutOfRange, 11,
       "target[worker].remediate.backoff"},
      {kWorker + rem + "  grace = 30\n", ConfigErrorKind::kWrongType, 11, "target[worker].remediate.grace"},
      {kWorker + rem + "  retries = 3\n", ConfigErrorKind::kUnknownKey, 11, "target[worker].remediate.retries"},
      {"[[target]]\nname = \"p\"\nmatch = \"x\"\nremediate = true\n", ConfigErrorKind::kWrongType, 4,
       "target[p].remediate"},
      {kWorker + rem + "  url = \"ftp://x\"\n", ConfigErrorKind::kBadValue, 11, "target[worker].remediate.url"},
      // restart of a process vigild cannot start again
      {"[[target]]\nname = \"p\"\nmatch = \"x\"\n  [target.remediate]\n  on = [\"crash\"]\n",
       ConfigErrorKind::kConflict, 4, "target[p].remediate.actions"},
      // two ways to find one target
      {"[[target]]\nname = \"p\"\nmatch = \"x\"\nstart = [\"/bin/true\"]\n", ConfigErrorKind::kConflict, 1,
       "target[p]"},
      {"[[target]]\nname = \"p\"\nstart = []\n", ConfigErrorKind::kBadValue, 3, "target[p].start"},
      {"[[target]]\nname = \"p\"\nstart = [\"\"]\n", ConfigErrorKind::kBadValue, 3, "target[p].start"},
      {kWorker + rem + "  on = []\n", ConfigErrorKind::kBadValue, 11, "target[worker].remediate.on"},
      {"[[target]]\nname = \"u\"\nsystemd_unit = \"gateway\"\n", ConfigErrorKind::kBadValue, 3,
       "target[u].systemd_unit"},
      {"[[target]]\nname = \"p\"\nmatch = \"x\"\nstop_signal = \"NOPE\"\n", ConfigErrorKind::kBadValue, 4,
       "target[p].stop_signal"},
      {"[[target]]\nname = \"p\"\nmatch = \"x\"\nstop_timeout = \"1ms\"\n", ConfigErrorKind::kOutOfRange, 4,
       "target[p].stop_timeout"},
      // at the key's line, not the [[target]] header's
      {"[[target]]\nname = \"p\"\nmatch = \"x\"\ndepends_on = [\"dbb\"]\n[[target]]\nname = \"db\"\nmatch = \"y\"\n",
       ConfigErrorKind::kBadValue, 4, "target[p].depends_on"},
      {"[[target]]\nname = \"p\"\nmatch = \"x\"\ndepends_on = [\"p\"]\n", ConfigErrorKind::kBadValue, 4,
       "target[p].depends_on"},
      {"[[target]]\nname = \"a\"\nmatch = \"x\"\ndepends_on = [\"b\"]\n[[target]]\nname = \"b\"\nmatch = \"y\"\n"
       "depends_on = [\"a\"]\n",
       ConfigErrorKind::kBadValue, 0, ""},
  };
  for (const auto& c : cases) {
    auto r = load(c.toml);
    BOOST_TEST(!r.ok(), c.toml);
    BOOST_TEST(has_error(r, c.kind, c.line, c.key), "expected " << to_string(c.kind) << " at line " << c.line << " for "
                                                                << c.key << " in:\n"
                                                                << c.toml << "got:\n"
                                                                << dump(r));
  }
}

BOOST_AUTO_TEST_CASE(did_you_mean_for_triggers_and_dependencies) {
  auto r = load(kWorker + "  [target.remediate]\n  on = [\"helth\"]\n");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(dump(r).find("health") != std::string::npos, dump(r));
  auto d = load(
      "[[target]]\nname = \"p\"\nmatch = \"x\"\ndepends_on = [\"dbb\"]\n[[target]]\nname = \"db\"\nmatch = \"y\"\n");
  BOOST_TEST(dump(d).find("\"db\"") != std::string::npos, dump(d));
}

BOOST_AUTO_TEST_CASE(rule_names_are_triggers) {
  auto r = load(kWorker +
                "  [target.remediate]\n  on = [\"MemoryHigh\"]\n  actions = [\"signal\", \"restart\"]\n"
                "  signal = \"SIGUSR1\"\n"
                "[[rule]]\nname = \"MemoryHigh\"\nkind = \"threshold\"\nmetric = \"cgroup_memory_usage_bytes\"\n"
                "target = \"worker\"\nop = \">\"\nvalue = 1000\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  BOOST_TEST(target(r, "worker").remediate->on == std::vector<std::string>{"MemoryHigh"});
}

BOOST_AUTO_TEST_CASE(stop_keys_on_a_target_vigild_does_not_start_are_a_warning) {
  auto r = load("[[target]]\nname = \"p\"\nmatch = \"x\"\nstop_timeout = \"5s\"\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  bool warned = false;
  for (const auto& w : r.warnings) warned = warned || (w.key == "target[p].stop_timeout" && w.where.line == 4);
  BOOST_TEST(warned, dump(r));
}
