// The key tables: every key of every table takes a valid value of its type
// (converted and stored without a type mismatch), and --help and the man
// page list every key the loader accepts.
#define BOOST_TEST_MODULE config_tables
#include <boost/test/unit_test.hpp>
#include <set>

#include "config/help.hpp"
#include "config/sections.hpp"
#include "config/targets.hpp"
#include "probes/checks/kinds.hpp"
#include "tests/unit/config/config_helpers.hpp"

using namespace vigil;
using namespace vigil::config_test;
using namespace vigil::config_detail;

namespace {

// A valid value of the key's type, inside its range, as TOML.
std::string sample(const KeyInfo& k) {
  const std::string name = k.name;
  if (name == "address") return "\"127.0.0.1:1\"";
  if (name == "systemd_unit") return "\"x.service\"";
  if (name == "container") return "\"shop-web-1\"";
  if (name == "compose_service") return "\"shop/web\"";
  if (name == "method") return "\"POST\"";
  if (name == "command" || name == "exec" || name == "start") return "[\"/bin/true\"]";
  auto clamp = [&](std::int64_t v) { return std::min(std::max(v, k.min), k.max); };
  switch (k.type) {
    case ValueType::kDuration:
      return "\"" + std::to_string(clamp(1000)) + "ms\"";
    case ValueType::kCount:
      return std::to_string(clamp(1));
    case ValueType::kBool:
      return "true";
    case ValueType::kName:
      return "\"x\"";
    case ValueType::kPath:
      return "\"/tmp/x\"";
    case ValueType::kRegex:
      return "\"x\"";
    case ValueType::kLogLevel:
      return "\"info\"";
    case ValueType::kText:
      return "\"x\"";
    case ValueType::kSize:
      return "\"" + std::to_string(clamp(1024)) + "\"";
    case ValueType::kStringList:
    case ValueType::kCommand:
      return "[\"x\"]";
    case ValueType::kStringMap:
      return "{ A = \"b\" }";
    case ValueType::kStatusList:
      return "[\"200\"]";
    case ValueType::kUrl:
      return "\"http://127.0.0.1:1/\"";
    case ValueType::kNumber:
      return "1.5";
    case ValueType::kPercent:
      return "\"10%\"";
    case ValueType::kLimit:
      return "\"100\"";
    case ValueType::kSignal:
      return "\"SIGUSR1\"";
    case ValueType::kChoice:
      return "\"" + std::string(k.choices.front()) + "\"";
    case ValueType::kChoiceList:
      return "[\"" + std::string(k.choices.front()) + "\"]";
  }
  return "\"x\"";
}

template <class H>
std::string lines(std::span<const Key<H>> keys, const std::set<std::string>& skip = {}) {
  std::string out;
  for (const auto& k : keys) {
    if (!skip.count(k.name)) out += std::string(k.name) + " = " + sample(k) + "\n";
  }
  return out;
}

// No error is about the value of a key written (a type or range problem).
void no_value_errors(const LoadResult& r) {
  for (const auto& e : r.errors) {
    const bool value_error = e.kind == ConfigErrorKind::kWrongType || e.kind == ConfigErrorKind::kBadValue ||
                             e.kind == ConfigErrorKind::kOutOfRange || e.kind == ConfigErrorKind::kUnknownKey ||
                             e.kind == ConfigErrorKind::kConflict;
    BOOST_TEST(!value_error, e.describe());
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_section_key_takes_a_value_of_its_type) {
  std::string toml = "[daemon]\n" + lines(daemon_keys(), {"flush_interval"}) + "[store]\n" + lines(store_keys()) +
                     "[host]\n" + lines(host_keys()) + "[docker]\n" + lines(docker_keys()) + "[alerting]\n" +
                     lines(alerting_keys()) + "[[webhook]]\n" + lines(receiver_keys(), {"username", "password_file"});
  no_value_errors(load_toml(toml));
}

BOOST_AUTO_TEST_CASE(every_check_key_of_every_kind_takes_a_value_of_its_type) {
  for (const auto& k : check_kinds()) {
    BOOST_TEST_CONTEXT(to_string(k.kind)) {
      const std::string toml = "[[check]]\nname = \"c\"\nkind = \"" + std::string(to_string(k.kind)) + "\"\n" +
                               lines(k.keys, {"username", "client_key"}) + "timeout = \"1s\"\nfail_after = 3\n";
      auto r = load_toml(toml);
      no_value_errors(r);
      BOOST_REQUIRE(r.config.checks.size() == 1u);
      BOOST_TEST((r.config.checks[0].kind == k.kind));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_target_kind_and_remediate_key_takes_a_value_of_its_type) {
  for (const auto& k : target_kinds()) {
    BOOST_TEST_CONTEXT(to_string(k.kind)) {
      std::string toml = "[[target]]\nname = \"t\"\n" + lines(common_target_keys(), {"name", "depends_on"}) +
                         lines(k.keys) + "[target.remediate]\n" + lines(remediate_keys(), {"on", "actions"}) +
                         "on = [\"crash\"]\nactions = [\"signal\"]\n";
      auto r = load_toml(toml);
      no_value_errors(r);
      BOOST_REQUIRE(r.config.targets.size() == 1u);
      BOOST_TEST((r.config.targets[0].kind == k.kind));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_rule_key_takes_a_value_of_its_type) {
  for (auto kind : kind_names<RuleKind>()) {
    BOOST_TEST_CONTEXT(kind) {
      std::string toml = "[[rule]]\nname = \"R\"\nkind = \"" + std::string(kind) + "\"\n";
      for (const auto& rk : rule_keys()) {
        const std::string name = rk.key.name;
        if (name == "name" || name == "kind" || !rk.applies_to(*parse_kind<RuleKind>(kind))) continue;
        toml += name + " = " +
                (name == "metric"        ? "\"m\""
                 : name == "annotations" ? "{ summary = \"x\" }"
                                         : sample(rk.key)) +
                "\n";
      }
      // The target its `target` key names ("x").
      no_value_errors(load_toml(toml + "[[target]]\nname = \"x\"\npid = 1\n"));
    }
  }
}

BOOST_AUTO_TEST_CASE(help_and_man_list_every_key) {
  const std::string help = keys_help();
  const std::string man = keys_man();
  auto listed = [&](const char* name) {
    BOOST_TEST(help.find(std::string(" ") + name) != std::string::npos, name << " missing from --help");
    BOOST_TEST(man.find(std::string(".B ") + name + "\n") != std::string::npos, name << " missing from the man page");
  };
  for (const auto& k : daemon_keys()) listed(k.name);
  for (const auto& k : store_keys()) listed(k.name);
  for (const auto& k : host_keys()) listed(k.name);
  for (const auto& k : alerting_keys()) listed(k.name);
  for (const auto& k : receiver_keys()) listed(k.name);
  for (const auto& k : remediate_keys()) listed(k.name);
  for (const auto& k : rule_keys()) listed(k.key.name);
  for (const auto& k : common_target_keys()) listed(k.name);
  for (const auto& t : target_kinds()) {
    for (const auto& k : t.keys) listed(k.name);
  }
  for (const auto& k : common_check_keys()) listed(k.name);
  for (const auto& c : check_kinds()) {
    for (const auto& k : c.keys) listed(k.name);
    BOOST_TEST(man.find(std::string("kind = \"") + std::string(to_string(c.kind)) + "\"") != std::string::npos);
  }
}
