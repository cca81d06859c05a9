#define BOOST_TEST_MODULE config
#include "config/config.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "config/targets.hpp"
#include "probes/checks/exec.hpp"
#include "probes/checks/postgres.hpp"
#include "probes/checks/prometheus.hpp"
#include "probes/checks/redis.hpp"
#include "probes/checks/tcp.hpp"
#include "tests/requirements.hpp"
#include "tests/unit/config/config_helpers.hpp"

using namespace vigil;
using namespace vigil::config_test;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& rel) {
  const char* root = std::getenv("VIGIL_TEST_FIXTURES");
  BOOST_REQUIRE_MESSAGE(root != nullptr, "VIGIL_TEST_FIXTURES is not set (run through meson test)");
  return std::string(root) + "/config/" + rel;
}

// A NULL-terminated environment block from strings.
struct Env {
  std::vector<std::string> vars;
  std::vector<char*> ptrs;
  explicit Env(std::vector<std::string> v) : vars(std::move(v)) {
    for (auto& s : vars) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  char** get() { return ptrs.data(); }
};

LoadResult load(const std::string& path, std::vector<std::string> env = {}) {
  static std::vector<std::unique_ptr<Env>> keep;
  keep.push_back(std::make_unique<Env>(std::move(env)));
  return load_config(LoadOptions{path, keep.back()->get()});
}

}  // namespace

BOOST_AUTO_TEST_CASE(full_config_is_read) {
  auto r = load(fixture("good/full.toml"));
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  const Config& c = r.config;
  BOOST_TEST(c.daemon.interval.count() == 2000);
  BOOST_TEST(c.daemon.state_dir == "/tmp/vigil-test-state");
  BOOST_TEST(c.daemon.flush_interval.count() == 500);
  BOOST_TEST(static_cast<int>(c.daemon.log_level) == static_cast<int>(LogLevel::kDebug));
  BOOST_TEST(c.store.queue_capacity == 5000u);
  BOOST_TEST(c.store_path() == "/tmp/vigil-test-state/vigil.db");
  BOOST_TEST(!c.host.enabled);
  BOOST_TEST(c.host_interval().count() == 10000);
  BOOST_REQUIRE(c.targets.size() == 3u);
  BOOST_TEST(c.targets[0].finder.as<PidfileTarget>().path == "/run/gateway.pid");
  BOOST_TEST(*c.targets[0].cgroup == "/system.slice/gateway.service");
  BOOST_TEST(c.target_interval(c.targets[0]).count() == 2000);
  BOOST_TEST(c.targets[1].finder.as<MatchTarget>().pattern == "worker --id [0-9]+");
  BOOST_TEST(c.target_interval(c.targets[1]).count() == 500);
  BOOST_TEST(c.targets[2].finder.as<PidTarget>().pid == 1);
  BOOST_TEST(c.targets[1].where.line == 20);
  BOOST_TEST(!c.defaults_only);
}

BOOST_AUTO_TEST_CASE(drop_ins_apply_in_lexical_order) {
  auto r = load(fixture("good/with-dropins/vigil.toml"));
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.config.files.size() == 3u);
  BOOST_TEST(r.config.daemon.interval.count() == 5000);  // 20-more.toml wins over 10-interval.toml
  BOOST_REQUIRE(r.config.targets.size() == 2u);
  BOOST_TEST(r.config.targets[1].name == "db");
}

BOOST_AUTO_TEST_CASE(missing_explicit_file_is_an_error) {
  auto r = load(fixture("good/does-not-exist.toml"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kFile, 0, ""));
}

BOOST_AUTO_TEST_CASE(environment_overrides_and_is_validated) {
  auto r =
      load(fixture("good/full.toml"), {"VIGIL_DAEMON_INTERVAL=7s", "VIGIL_HOST_ENABLED=true",
                                       "VIGIL_TARGET_WORKER_1_INTERVAL=3s", "VIGIL_TEST_FIXTURES=/x", "UNRELATED=1"});
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.config.daemon.interval.count() == 7000);
  BOOST_TEST(r.config.host.enabled);
  BOOST_TEST(r.config.targets[1].interval->count() == 3000);

  auto bad = load(fixture("good/full.toml"), {"VIGIL_DAEMON_INTERVAL=soon", "VIGIL_DAEMON_INTERVL=1s",
                                              "VIGIL_STORE_QUEUE_CAPACITY=ten", "VIGIL_TARGET_NOPE_PID=3"});
  BOOST_TEST(bad.errors.size() == 4u);
  BOOST_TEST(has_error(bad, ConfigErrorKind::kBadValue, 0, "daemon.interval"));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kUnknownKey, 0, "daemon.intervl"));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kBadValue, 0, "store.queue_capacity"));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kUnknownKey, 0, "target"));
  for (const auto& e : bad.errors) BOOST_TEST(!e.where.env_var.empty());
  BOOST_TEST(bad.errors[0].where.describe().find("VIGIL_DAEMON_INTERVAL") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_key_has_location_and_suggestion) {
  auto r = load(fixture("bad/unknown-key.toml"));
  BOOST_REQUIRE(r.errors.size() == 1u);
  const auto& e = r.errors[0];
  BOOST_TEST(static_cast<int>(e.kind) == static_cast<int>(ConfigErrorKind::kUnknownKey));
  BOOST_TEST(e.where.line == 2);
  BOOST_TEST(e.where.column == 1);
  BOOST_TEST(e.key == "daemon.intervall");
  BOOST_TEST(e.message.find("\"interval\"") != std::string::npos);  // the suggestion names the key
}

BOOST_AUTO_TEST_CASE(each_bad_fixture_reports_its_kind) {
  struct Case {
    const char* file;
    ConfigErrorKind kind;
    int line;
    const char* key;
  };
  const Case cases[] = {
      {"bad/unknown-section.toml", ConfigErrorKind::kUnknownKey, 1, "deamon"},
      {"bad/wrong-type.toml", ConfigErrorKind::kWrongType, 2, "daemon.interval"},
      {"bad/bad-duration.toml", ConfigErrorKind::kBadValue, 2, "daemon.interval"},
      {"bad/out-of-range.toml", ConfigErrorKind::kOutOfRange, 2, "daemon.interval"},
      {"bad/duplicate-target.toml", ConfigErrorKind::kDuplicateName, 6, "target[gateway].name"},
      {"bad/syntax.toml", ConfigErrorKind::kSyntax, 1, ""},
      {"bad/target-conflict.toml", ConfigErrorKind::kConflict, 1, "target[gateway]"},
      {"bad/target-missing-finder.toml", ConfigErrorKind::kMissingKey, 1, "target[gateway]"},
      {"bad/bad-regex.toml", ConfigErrorKind::kBadValue, 3, "target[gateway].match"},
  };
  for (const auto& c : cases) {
    auto r = load(fixture(c.file));
    BOOST_TEST_INFO(c.file << "\n" << dump(r));
    BOOST_TEST(r.errors.size() == 1u);
    BOOST_TEST(has_error(r, c.kind, c.line, c.key));
    for (const auto& e : r.errors) BOOST_TEST(e.where.file == fixture(c.file));
  }
}

BOOST_AUTO_TEST_CASE(all_errors_are_reported_not_only_the_first) {
  auto r = load(fixture("bad/many.toml"));
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 2, "daemon.interval"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kUnknownKey, 3, "daemon.flush_intervl"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 4, "daemon.log_level"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kOutOfRange, 7, "store.queue_capacity"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kOutOfRange, 10, "target.pid"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kMissingKey, 0, "target.name"));
  BOOST_TEST(r.errors.size() >= 6u);
}

VIGIL_REQUIREMENT("no_system_config", []() -> std::optional<std::string> {
  if (!fs::exists(kDefaultConfigPath)) return std::nullopt;
  return std::string(kDefaultConfigPath) + " exists on this machine, so built-in defaults cannot be seen";
});

BOOST_AUTO_TEST_CASE(no_file_at_default_path_means_defaults, *boost::unit_test::label("no_system_config")) {
  auto r = load_config(LoadOptions{std::nullopt, nullptr});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.config.defaults_only);
  BOOST_TEST(r.config.targets.empty());
  BOOST_TEST(r.config.host.enabled);
  BOOST_TEST(r.config.store_path() == "/var/lib/vigil/vigil.db");
}

BOOST_AUTO_TEST_CASE(env_name_spelling) {
  BOOST_TEST(env_name_for("web-gw.1") == "WEB_GW_1");
}

BOOST_AUTO_TEST_CASE(checks_are_read_with_defaults) {
  auto r = load(fixture("good/checks.toml"));
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r.config.checks.size() == 2u);
  auto by_name = [&](const std::string& n) -> const CheckConfig& {
    for (const auto& c : r.config.checks) {
      if (c.name == n) return c;
    }
    BOOST_FAIL("no check " << n);
    return r.config.checks.front();
  };
  const auto& port = by_name("port");
  BOOST_TEST(port.target == "gateway");
  BOOST_TEST((port.kind == CheckKind::kTcp));
  BOOST_TEST(port.fail_after == 3);
  BOOST_TEST(port.recover_after == 1);
  BOOST_TEST(port.where.line == 5);
  const auto& redis = by_name("redis-port");
  BOOST_TEST(redis.target == "cache");
  BOOST_TEST(redis.settings.as<TcpSettings>().send == "PING\r\n");
  BOOST_TEST(redis.timeout.count() == 5000);  // default
  BOOST_TEST(redis.flap_threshold == 4);
  BOOST_TEST(r.config.check_interval(redis).count() == 1000);
  BOOST_TEST(r.config.checks.size() == 2u);
  // A timeout (5s, also the default) longer than the interval (1s) is
  // allowed, with a warning naming the check.
  // allowed, with a warning naming the check (only where one of them was
  // written: redis-port, on defaults, gets none).
  BOOST_REQUIRE(r.warnings.size() == 1u);
  BOOST_TEST(r.warnings[0].key == "check.timeout");
  BOOST_TEST(r.warnings[0].message.find("port") != std::string::npos, r.warnings[0].message);
  BOOST_TEST(r.warnings[0].where.line == 10);
}

BOOST_AUTO_TEST_CASE(bad_checks_each_reported) {
  auto r = load(fixture("bad/checks.toml"));
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 7, "check[health].kind"));     // unknown kind
  BOOST_TEST(has_error(r, ConfigErrorKind::kMissingKey, 9, "check[web].url"));       // http needs a url
  BOOST_TEST(has_error(r, ConfigErrorKind::kUnknownKey, 16, "check[port].target"));  // nested check names no target
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 17, "check[port].address"));   // a host name
  BOOST_TEST(has_error(r, ConfigErrorKind::kDuplicateName, 20, "check[port].name"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kMissingKey, 19, "check[port].address"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 26, "check[orphan].address"));  // port 99999
  BOOST_TEST(r.errors.size() == 7u);
}

BOOST_AUTO_TEST_CASE(every_kind_reads_its_keys) {
  auto r = load(fixture("good/check_kinds.toml"));
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r.config.checks.size() == 6u);
  auto by_name = [&](const std::string& n) -> const CheckConfig& {
    for (const auto& c : r.config.checks) {
      if (c.name == n) return c;
    }
    BOOST_FAIL("no check " << n);
    return r.config.checks.front();
  };
  const auto& health = by_name("health").settings.as<HttpCheckSettings>();
  BOOST_TEST(health.url == "http://127.0.0.1:8080/health");
  BOOST_TEST(health.expect_body == "ok");
  BOOST_REQUIRE(health.expect_status.size() == 1u);
  BOOST_TEST(health.expect_status[0].first == 200);
  BOOST_TEST(health.expect_status[0].second == 299);
  BOOST_TEST(health.max_body == 1024u * 1024u);  // the default
  BOOST_TEST(health.follow_redirects == 0);      // off unless asked
  BOOST_TEST(!health.insecure);
  const auto& metrics = by_name("metrics").settings.as<PrometheusSettings>();
  BOOST_TEST(metrics.metrics.size() == 2u);
  BOOST_TEST(metrics.max_body == 4u * 1024u * 1024u);
  const auto& db = by_name("db").settings.as<PostgresSettings>();
  BOOST_TEST(db.user == "vigil");
  BOOST_TEST(db.database == "postgres");
  BOOST_TEST(by_name("cache").settings.as<RedisSettings>().password_file == "/etc/vigil/redis.pass");
  const auto& disk = by_name("disk").settings.as<ExecSettings>();
  BOOST_TEST(disk.command.size() == 7u);
  BOOST_TEST(disk.command[2] == "10%");
  BOOST_REQUIRE(disk.env.size() == 1u);
  BOOST_TEST(disk.env[0].first == "LC_ALL");
  BOOST_TEST(disk.max_output == 64u * 1024u);
  const auto& api = by_name("api").settings.as<HttpCheckSettings>();
  BOOST_TEST(api.method == "POST");
  BOOST_TEST(api.headers.size() == 2u);
  BOOST_REQUIRE(api.expect_status.size() == 3u);
  BOOST_TEST(api.expect_status[0].first == 200);
  BOOST_TEST(api.expect_status[1].first == 300);
  BOOST_TEST(api.expect_status[1].second == 399);
  BOOST_TEST(api.expect_status[2].second == 410);
  BOOST_TEST(api.expect_header.size() == 2u);
  BOOST_TEST(api.follow_redirects == 3);
  BOOST_TEST(api.connect_timeout->count() == 1000);
}

BOOST_AUTO_TEST_CASE(bad_kind_keys_each_reported) {
  auto r = load(fixture("bad/check_kinds.toml"));
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 5, "check[a].url"));             // not http(s)
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 12, "check[b].expect_status"));  // 200-199
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 18, "check[c].command"));        // empty argv
  BOOST_TEST(has_error(r, ConfigErrorKind::kConflict, 25, "check[d].url"));            // not a tcp key
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 32, "check[e].expect_body_regex"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kMissingKey, 34, "check[f].metrics"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 44, "check[g].command"));  // shell needs one string
  BOOST_TEST(has_error(r, ConfigErrorKind::kOutOfRange, 52, "check[h].max_body"));
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 58, "check[i].url"));      // no host
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 65, "check[j].headers"));  // an empty value
  BOOST_TEST(r.errors.size() == 10u);
}

BOOST_AUTO_TEST_CASE(check_keys_from_the_environment) {
  auto r = load(fixture("good/check_kinds.toml"),
                {"VIGIL_CHECK_GATEWAY_HEALTH_TIMEOUT=2s", "VIGIL_CHECK_GATEWAY_HEALTH_EXPECT_STATUS=[\"200\", \"204\"]",
                 "VIGIL_CHECK_DISK_COMMAND=[\"/bin/true\"]"});
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  for (const auto& c : r.config.checks) {
    if (c.name == "health") {
      BOOST_TEST(c.timeout.count() == 2000);
      BOOST_TEST(c.settings.as<HttpCheckSettings>().expect_status.size() == 2u);
    }
    if (c.name == "disk") BOOST_TEST(c.settings.as<ExecSettings>().command.size() == 1u);
  }
  auto r2 = load(fixture("good/check_kinds.toml"),
                 {"VIGIL_CHECK_GATEWAY_HEALTH_COMMAND=[\"x\"]", "VIGIL_CHECK_NOPE_X_TIMEOUT=1s",
                  "VIGIL_CHECK_GATEWAY_HEALTH_MAX_BODY=lots"});
  BOOST_TEST_MESSAGE(dump(r2));
  BOOST_TEST(has_error(r2, ConfigErrorKind::kConflict, 0, "check[health].command"));  // an exec key on http
  BOOST_TEST(has_error(r2, ConfigErrorKind::kUnknownKey, 0, "check"));
  BOOST_TEST(has_error(r2, ConfigErrorKind::kBadValue, 0, "check[health].max_body"));
}
