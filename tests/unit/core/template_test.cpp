// Annotation templates: {{name}} placeholders (core/template.hpp).
#define BOOST_TEST_MODULE core_template
#include "core/template.hpp"

#include <boost/test/unit_test.hpp>

using namespace vigil;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(templates)

const std::map<std::string, std::string> kVars = {
    {"value", "93.5"}, {"threshold", "90"}, {"target", "gateway"}, {"check", "rss"}, {"reason", "too big"}};

BOOST_AUTO_TEST_CASE(replaces_with_and_without_spaces) {
  std::vector<std::string> unknown{"stale"};
  BOOST_TEST(render_template("{{target}} {{ check }} at {{  value\t}} > {{threshold }}: {{reason}}", kVars, &unknown) ==
             "gateway rss at 93.5 > 90: too big");
  BOOST_TEST(unknown.empty());  // cleared first
}

BOOST_AUTO_TEST_CASE(other_keys_and_repeats) {
  std::map<std::string, std::string> vars = kVars;
  vars["host_name"] = "web1";
  BOOST_TEST(render_template("{{host_name}}/{{value}}/{{value}}{{value}}", vars) == "web1/93.5/93.593.5");
  // A value that looks like a placeholder is not expanded again.
  BOOST_TEST(render_template("{{a}}", {{"a", "{{b}}"}, {"b", "no"}}) == "{{b}}");
}

BOOST_AUTO_TEST_CASE(unknown_names_are_kept_and_reported_once) {
  std::vector<std::string> unknown;
  BOOST_TEST(render_template("{{ valu }} and {{valu}} and {{ .Value }} and {{}} is {{value}}", kVars, &unknown) ==
             "{{ valu }} and {{valu}} and {{ .Value }} and {{}} is 93.5");
  BOOST_TEST_REQUIRE(unknown.size() == 3u);
  BOOST_TEST(unknown[0] == "valu");
  BOOST_TEST(unknown[1] == ".Value");
  BOOST_TEST(unknown[2] == "");
}

BOOST_AUTO_TEST_CASE(unclosed_and_plain_text) {
  std::vector<std::string> unknown;
  BOOST_TEST(render_template("{{value}} then {{ target", kVars, &unknown) == "93.5 then {{ target");
  BOOST_TEST(unknown.empty());
  BOOST_TEST(render_template("a } b { c }} d", kVars) == "a } b { c }} d");
  BOOST_TEST(render_template("", kVars) == "");
  BOOST_TEST(render_template("{{", kVars) == "{{");
}

BOOST_AUTO_TEST_CASE(empty_vars) {
  std::vector<std::string> unknown;
  BOOST_TEST(render_template("{{value}} over {{ threshold }}", {}, &unknown) == "{{value}} over {{ threshold }}");
  BOOST_TEST_REQUIRE(unknown.size() == 2u);
  BOOST_TEST(unknown[0] == "value");
  BOOST_TEST(unknown[1] == "threshold");
  BOOST_TEST(render_template("no placeholders", {}) == "no placeholders");
}

BOOST_AUTO_TEST_CASE(validate_accepts_known) {
  const std::set<std::string> known = {"value", "threshold", "target", "check", "reason"};
  BOOST_TEST(validate_template("{{ target }} {{value}} > {{threshold}}", known).has_value());
  BOOST_TEST(validate_template("plain } text {", known).has_value());
  BOOST_TEST(validate_template("", known).has_value());
}

BOOST_AUTO_TEST_CASE(validate_reports_unknown_with_offset) {
  const std::set<std::string> known = {"value", "threshold"};
  auto r = validate_template("ok {{value}} {{ treshold }}", known);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().kind == ErrorKind::kInvalid));
  BOOST_TEST(contains(r.error().message, "treshold"));
  BOOST_TEST(contains(r.error().message, "offset 13"));
  BOOST_TEST(contains(r.error().message, "threshold"));  // the known names help spot the typo

  auto dot = validate_template("{{ .Value }}", known);
  BOOST_TEST_REQUIRE(!dot.has_value());
  BOOST_TEST(contains(dot.error().message, ".Value"));
  BOOST_TEST(contains(dot.error().message, "offset 0"));
}

BOOST_AUTO_TEST_CASE(validate_reports_unclosed) {
  auto r = validate_template("{{value}} then {{ value", {"value"});
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().kind == ErrorKind::kParse));
  BOOST_TEST(contains(r.error().message, "offset 15"));
}

BOOST_AUTO_TEST_SUITE_END()
