// The loader keeps the README's promise of a strict config: every name of a
// target must name one, every problem points at the line of its key, and
// problems are listed in file order.
#define BOOST_TEST_MODULE config_strict
#include <boost/test/unit_test.hpp>
#include <string>

#include "config/config.hpp"
#include "config/targets.hpp"
#include "probes/checks/exec.hpp"
#include "tests/unit/config/config_helpers.hpp"

using namespace vigil;
using namespace vigil::config_test;

namespace {

const std::string kTwoTargets =
    "[[target]]\n"             // 1
    "name = \"web\"\n"         // 2
    "match = \"nginx\"\n"      // 3
    "[[target]]\n"             // 4
    "name = \"db\"\n"          // 5
    "match = \"postgres\"\n";  // 6

// The one error's text, or a dump of all.
std::string only_error(const LoadResult& r) {
  if (r.errors.size() != 1) return "expected one error, got:\n" + dump(r);
  return r.errors.front().describe();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_check_naming_no_target_is_an_error_at_its_key) {
  auto r = load_toml(kTwoTargets +
                     "[[check]]\n"                     // 7
                     "name = \"alive\"\n"              // 8
                     "kind = \"tcp\"\n"                // 9
                     "target = \"wbe\"\n"              // 10
                     "address = \"127.0.0.1:80\"\n");  // 11
  BOOST_TEST(!r.ok());
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 10, "check[alive].target"), dump(r));
  BOOST_TEST(only_error(r).find("no target named \"wbe\" (did you mean \"web\"?)") != std::string::npos, only_error(r));
}

BOOST_AUTO_TEST_CASE(a_check_naming_a_target_when_none_is_configured) {
  auto r = load_toml("[[check]]\nname = \"alive\"\nkind = \"tcp\"\ntarget = \"zzz\"\naddress = \"127.0.0.1:80\"\n");
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 4, "check[alive].target"), dump(r));
  BOOST_TEST(dump(r).find("no [[target]] is configured") != std::string::npos, dump(r));
}

BOOST_AUTO_TEST_CASE(a_rule_naming_no_target_is_an_error_at_its_key) {
  auto r = load_toml(kTwoTargets +
                     "[[rule]]\n"                                    // 7
                     "name = \"Big\"\n"                              // 8
                     "kind = \"threshold\"\n"                        // 9
                     "metric = \"process_resident_memory_bytes\"\n"  // 10
                     "value = 1\n"                                   // 11
                     "target = \"zzz\"\n");                          // 12
  BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 12, "rule[Big].target"), dump(r));

  auto sel = load_toml(kTwoTargets +
                       "[[rule]]\nname = \"Big\"\nkind = \"threshold\"\nmetric = \"m\"\nvalue = 1\n"
                       "select = { target = \"dbb\" }\n");  // 12
  BOOST_TEST(has_error(sel, ConfigErrorKind::kBadValue, 12, "rule[Big].select"), dump(sel));
  BOOST_TEST(dump(sel).find("did you mean \"db\"") != std::string::npos, dump(sel));
}

BOOST_AUTO_TEST_CASE(names_of_existing_targets_pass) {
  auto r = load_toml(kTwoTargets +
                     "depends_on = [\"web\"]\n"
                     "[[check]]\nname = \"alive\"\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\ntarget = \"web\"\n"
                     "[[rule]]\nname = \"Big\"\nkind = \"threshold\"\nmetric = \"m\"\nvalue = 1\ntarget = \"db\"\n");
  BOOST_TEST(r.ok(), dump(r));
}

BOOST_AUTO_TEST_CASE(problems_point_at_the_key_not_the_header) {
  // A duplicate target name: at the second name = line.
  auto dup = load_toml(kTwoTargets + "[[target]]\nname = \"web\"\nmatch = \"x\"\n");
  BOOST_TEST(has_error(dup, ConfigErrorKind::kDuplicateName, 8, "target[web].name"), dump(dup));
  // A relative cgroup: at the cgroup = line.
  auto cg = load_toml("[[target]]\nname = \"a\"\nmatch = \"x\"\ncgroup = \"system.slice\"\n");
  BOOST_TEST(has_error(cg, ConfigErrorKind::kBadValue, 4, "target[a].cgroup"), dump(cg));
  // A duplicate check: at its name = line.
  auto check = load_toml(kTwoTargets +
                         "[[check]]\nname = \"c\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n"    // 7-10
                         "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:2\"\nname = \"c\"\n");  // 11-14
  BOOST_TEST(has_error(check, ConfigErrorKind::kDuplicateName, 14, "check[c].name"), dump(check));
}

BOOST_AUTO_TEST_CASE(problems_are_listed_in_file_order) {
  // Found by different passes (a value while reading, a dependency while
  // validating, a name while reading): listed by line.
  auto r = load_toml(
      "[[target]]\n"                   // 1
      "name = \"a\"\n"                 // 2
      "match = \"x\"\n"                // 3
      "depends_on = [\"nope\"]\n"      // 4: found when validating
      "[daemon]\n"                     // 5
      "interval = \"soon\"\n"          // 6: found when reading
      "[[check]]\n"                    // 7
      "name = \"c\"\n"                 // 8
      "kind = \"tcp\"\n"               // 9
      "target = \"b\"\n"               // 10: found when validating
      "address = \"127.0.0.1:1\"\n");  // 11
  BOOST_REQUIRE_MESSAGE(r.errors.size() == 3u, dump(r));
  BOOST_TEST(r.errors[0].where.line == 4);
  BOOST_TEST(r.errors[1].where.line == 6);
  BOOST_TEST(r.errors[2].where.line == 10);
}

BOOST_AUTO_TEST_CASE(a_directory_is_not_an_empty_config) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  std::vector<char*> env{nullptr};
  auto r = load_config(LoadOptions{dir, env.data()});
  BOOST_TEST(!r.ok());
  BOOST_TEST(has_error(r, ConfigErrorKind::kFile, 0, ""), dump(r));
  BOOST_TEST(dump(r).find("is a directory, not a config file") != std::string::npos, dump(r));
  BOOST_TEST(r.config.files.empty());
}

// Warnings at a key's line, by its dotted name.
bool has_warning(const LoadResult& r, int line, const std::string& key, const std::string& says) {
  for (const auto& w : r.warnings) {
    if (w.where.line == line && w.key == key && w.message.find(says) != std::string::npos) return true;
  }
  return false;
}

BOOST_AUTO_TEST_CASE(a_start_program_that_cannot_run_is_a_warning) {
  auto missing = load_toml("[[target]]\nname = \"w\"\nstart = [\"/nonexistent/worker\", \"--port\", \"1\"]\n");
  BOOST_TEST(missing.ok(), dump(missing));  // it may be installed later: vigild retries
  BOOST_TEST(has_warning(missing, 3, "target[w].start",
                         "\"/nonexistent/worker\" cannot be run now: No such file or "
                         "directory (ENOENT)"),
             dump(missing));
  auto not_exec = load_toml("[[target]]\nname = \"w\"\nstart = [\"/etc/passwd\"]\n");
  BOOST_TEST(has_warning(not_exec, 3, "target[w].start", "(EACCES)"), dump(not_exec));
  auto dir = load_toml("[[target]]\nname = \"w\"\nstart = [\"/usr/bin\"]\n");
  BOOST_TEST(has_warning(dir, 3, "target[w].start", "(EISDIR)"), dump(dir));
  auto bare = load_toml("[[target]]\nname = \"w\"\nstart = [\"no-such-program-vigil\"]\n");
  BOOST_TEST(has_warning(bare, 3, "target[w].start", "is not in vigild's PATH"), dump(bare));
  // What exists draws no warning, by path or by name.
  auto good = load_toml(
      "[[target]]\nname = \"w\"\nstart = [\"/bin/sleep\", \"1\"]\n[[target]]\nname = \"x\"\n"
      "start = [\"sleep\", \"1\"]\n");
  BOOST_TEST(good.ok());
  BOOST_TEST(good.warnings.empty(), dump(good));
}

BOOST_AUTO_TEST_CASE(a_shell_command_is_one_string_as_documented) {
  auto r = load_toml("[[check]]\nname = \"c\"\nkind = \"exec\"\nshell = true\ncommand = \"echo hi; exit 2\"\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  const auto& s = r.config.checks.at(0).settings.as<ExecSettings>();
  BOOST_TEST(s.shell);
  BOOST_TEST(s.command == std::vector<std::string>{"echo hi; exit 2"});

  // As an array of one string it is the same.
  auto one = load_toml("[[check]]\nname = \"c\"\nkind = \"exec\"\nshell = true\ncommand = [\"echo hi\"]\n");
  BOOST_TEST(one.ok(), dump(one));

  // A string without shell = true says what to write.
  auto no_shell = load_toml("[[check]]\nname = \"c\"\nkind = \"exec\"\ncommand = \"/bin/echo hi\"\n");
  BOOST_TEST(has_error(no_shell, ConfigErrorKind::kBadValue, 4, "check[c].command"), dump(no_shell));
  BOOST_TEST(dump(no_shell).find("set shell = true") != std::string::npos, dump(no_shell));
  BOOST_TEST(dump(no_shell).find("[\"/bin/echo\", ...]") != std::string::npos, dump(no_shell));

  // shell = true with several strings.
  auto many = load_toml("[[check]]\nname = \"c\"\nkind = \"exec\"\nshell = true\ncommand = [\"echo\", \"hi\"]\n");
  BOOST_TEST(dump(many).find("command = \"a | b\"") != std::string::npos, dump(many));

  // From the environment: a string, or an array as TOML text.
  auto env = load_toml("[[check]]\nname = \"c\"\nkind = \"exec\"\nshell = true\ncommand = \"true\"\n",
                       {"VIGIL_CHECK_C_COMMAND=df -P / | tail -1"});
  BOOST_REQUIRE_MESSAGE(env.ok(), dump(env));
  BOOST_TEST(env.config.checks.at(0).settings.as<ExecSettings>().command ==
             std::vector<std::string>{"df -P / | tail -1"});
}

BOOST_AUTO_TEST_CASE(every_target_key_is_overridable_from_the_environment) {
  const std::string worker =
      "[[target]]\nname = \"worker\"\nstart = [\"/bin/sleep\", \"100\"]\n[target.remediate]\non = [\"crash\"]\n";
  auto r = load_toml(worker, {"VIGIL_TARGET_WORKER_REMEDIATE_DRY_RUN=true", "VIGIL_TARGET_WORKER_REMEDIATE_MAX=7",
                              "VIGIL_TARGET_WORKER_STOP_TIMEOUT=3s", "VIGIL_TARGET_WORKER_INTERVAL=2s"});
  BOOST_REQUIRE_MESSAGE(r.ok(), dump(r));
  const TargetConfig& t = r.config.targets.at(0);
  BOOST_REQUIRE(t.remediate);
  BOOST_TEST(t.remediate->dry_run);
  BOOST_TEST(t.remediate->max == 7);
  BOOST_TEST(t.interval->count() == 2000);

  // A bad value names the variable.
  auto bad = load_toml(worker, {"VIGIL_TARGET_WORKER_REMEDIATE_MAX=lots"});
  BOOST_TEST(!bad.ok());
  BOOST_TEST(dump(bad).find("environment variable VIGIL_TARGET_WORKER_REMEDIATE_MAX") != std::string::npos, dump(bad));

  // No [target.remediate] in the file: the environment does not add one.
  auto none = load_toml("[[target]]\nname = \"worker\"\nstart = [\"/bin/sleep\", \"100\"]\n",
                        {"VIGIL_TARGET_WORKER_REMEDIATE_DRY_RUN=true"});
  BOOST_TEST(!none.ok());
  BOOST_TEST(dump(none).find("has no [target.remediate] to override") != std::string::npos, dump(none));

  // The name is what the variable names.
  auto name = load_toml(worker, {"VIGIL_TARGET_WORKER_NAME=x"});
  BOOST_TEST(dump(name).find("a name cannot be overridden") != std::string::npos, dump(name));
}

BOOST_AUTO_TEST_CASE(names_that_the_environment_cannot_tell_apart_are_refused) {
  auto r = load_toml("[[target]]\nname = \"my-web\"\npid = 1\n[[target]]\nname = \"my_web\"\npid = 2\n");
  BOOST_TEST(has_error(r, ConfigErrorKind::kDuplicateName, 5, "target[my_web].name"), dump(r));
  BOOST_TEST(dump(r).find("both VIGIL_TARGET_MY_WEB_...") != std::string::npos, dump(r));

  auto checks = load_toml(
      "[[check]]\nname = \"a.b\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n"
      "[[check]]\nname = \"a-b\"\nkind = \"tcp\"\naddress = \"127.0.0.1:2\"\n");
  BOOST_TEST(has_error(checks, ConfigErrorKind::kDuplicateName, 6, "check[a-b].name"), dump(checks));
}

// libstdc++'s std::regex reads the numbers of a pattern into a long without
// an overflow check (undefined behaviour; found by tests/fuzz/config.cpp),
// and a count of millions builds millions of states: such patterns are
// refused before std::regex sees them.
BOOST_AUTO_TEST_CASE(patterns_with_numbers_too_large_are_refused) {
  for (const auto& [pattern, why] : std::vector<std::pair<std::string, std::string>>{
           {R"(worker \\5666666666666666666666)", "the back reference at byte 8 is too large"},
           {R"(a{5000})", "the count at byte 3 is larger than 1000"},
           {R"(a{2,99999999999999999999})", "the count at byte 5 is larger than 1000"},
       }) {
    auto r = load_toml("[[target]]\nname = \"w\"\nmatch = \"" + pattern + "\"\n");
    BOOST_TEST(only_error(r).find("is not a valid regular expression (" + why + ")") != std::string::npos,
               only_error(r));
  }
  // What stays allowed: small counts and back references, escaped digits
  // after an escaped backslash, digits elsewhere.
  for (const std::string pattern : {R"(a{2,5}b{1000})", R"((x)\\1)", R"(\\\\12345)", R"(worker --id 123456789)"}) {
    auto r = load_toml("[[target]]\nname = \"w\"\nmatch = \"" + pattern + "\"\n");
    BOOST_TEST(r.errors.empty(), pattern << ": " << dump(r));
  }
}
