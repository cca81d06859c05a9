// diff(old, new): added, removed, changed and unchanged, entry by entry.
#define BOOST_TEST_MODULE config_diff
#include "config/diff.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "tests/unit/config/config_helpers.hpp"

using namespace vigil;
using namespace vigil::config_test;

namespace {

Config load_ok(const std::string& toml) {
  auto r = load_toml(toml);
  BOOST_TEST_REQUIRE(r.ok(), dump(r));
  return r.config;
}

const char* kBefore = R"(
[daemon]
interval = "1s"
[[target]]
name = "web"
pidfile = "/run/web.pid"
[[target.check]]
name = "health"
kind = "http"
url = "http://127.0.0.1:8080/health"
[[target]]
name = "db"
pid = 1
[[check]]
name = "api"
kind = "tcp"
address = "127.0.0.1:443"
[[rule]]
name = "WebMemory"
kind = "threshold"
metric = "process_resident_memory_bytes"
target = "web"
value = 1e9
[[webhook]]
name = "hook"
url = "http://127.0.0.1:9999/"
)";

}  // namespace

BOOST_AUTO_TEST_CASE(the_same_config_is_unchanged_even_moved_to_other_lines) {
  const Config a = load_ok(kBefore);
  const Config b = load_ok(std::string("\n\n\n# moved down\n") + kBefore);
  const ConfigDiff d = diff(a, b);
  BOOST_TEST(d.empty());
  auto unchanged = ConfigDiff::names(d.checks, Change::kUnchanged);
  std::sort(unchanged.begin(), unchanged.end());
  BOOST_TEST(unchanged == std::vector<std::string>({"api", "web/health"}));
}

BOOST_AUTO_TEST_CASE(each_entry_is_added_removed_changed_or_unchanged) {
  const Config a = load_ok(kBefore);
  std::string after = kBefore;
  after.replace(after.find("http://127.0.0.1:8080/health"), 28, "http://127.0.0.1:8081/health");  // check changed
  after.replace(after.find("name = \"db\"\npid = 1\n"), 19, "name = \"cache\"\npid = 2\n");       // db -> cache
  after.replace(after.find("value = 1e9"), 11, "value = 2e9");                                    // rule changed
  after += "[[alertmanager]]\nurl = \"http://127.0.0.1:9093\"\n";                                 // receiver added
  after.replace(after.find("interval = \"1s\""), 15, "interval = \"2s\"");                        // daemon changed
  const ConfigDiff d = diff(a, load_ok(after));
  BOOST_TEST(!d.empty());
  BOOST_TEST(d.daemon);
  BOOST_TEST(!d.store);
  BOOST_TEST(ConfigDiff::names(d.targets, Change::kUnchanged) == std::vector<std::string>({"web"}));
  BOOST_TEST(ConfigDiff::names(d.targets, Change::kAdded) == std::vector<std::string>({"cache"}));
  BOOST_TEST(ConfigDiff::names(d.targets, Change::kRemoved) == std::vector<std::string>({"db"}));
  BOOST_TEST(ConfigDiff::names(d.checks, Change::kChanged) == std::vector<std::string>({"web/health"}));
  BOOST_TEST(ConfigDiff::names(d.checks, Change::kUnchanged) == std::vector<std::string>({"api"}));
  BOOST_TEST(ConfigDiff::names(d.rules, Change::kChanged) == std::vector<std::string>({"WebMemory"}));
  BOOST_TEST(ConfigDiff::names(d.receivers, Change::kAdded) == std::vector<std::string>({"alertmanager-1"}));
  BOOST_TEST(ConfigDiff::names(d.receivers, Change::kUnchanged) == std::vector<std::string>({"hook"}));
}

BOOST_AUTO_TEST_CASE(a_kind_setting_or_a_remediation_key_is_a_change) {
  const std::string base = "[[target]]\nname = \"w\"\nstart = [\"/bin/w\"]\n[target.remediate]\nbackoff = \"1s\"\n";
  const Config a = load_ok(base);
  const Config b = load_ok(base + "grace = \"3s\"\n");
  BOOST_TEST(ConfigDiff::names(diff(a, b).targets, Change::kChanged) == std::vector<std::string>({"w"}));
  const Config c =
      load_ok("[[target]]\nname = \"w\"\nstart = [\"/bin/w\", \"-v\"]\n[target.remediate]\nbackoff = \"1s\"\n");
  BOOST_TEST(ConfigDiff::names(diff(a, c).targets, Change::kChanged) == std::vector<std::string>({"w"}));
}
