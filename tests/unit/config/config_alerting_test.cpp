#define BOOST_TEST_MODULE config_alerting

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/help.hpp"
#include "tests/unit/config/config_helpers.hpp"

using namespace vigil;
using namespace vigil::config_test;

namespace {

const std::string kRuleA = "[[rule]]\nname = \"A\"\n";  // lines 1 and 2 of many configs below

LoadResult load(const std::string& toml, std::vector<std::string> env = {}) {
  return load_toml(toml, std::move(env));
}

// The rule or receiver called `name`.
template <typename T>
const T& by_name(const std::vector<T>& all, const std::string& name) {
  for (const auto& x : all) {
    if (x.name == name) return x;
  }
  BOOST_FAIL("nothing called " << name);
  return all.front();
}

using Pairs = std::vector<std::pair<std::string, std::string>>;
bool has_pair(const Pairs& v, const std::string& k, const std::string& val) {
  return std::find(v.begin(), v.end(), std::make_pair(k, val)) != v.end();
}

// The line of keys_help() that starts with `prefix`.
std::string help_line(const std::string& prefix) {
  const std::string help = keys_help();
  std::size_t at = help.find(prefix);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no help line " << prefix << " in\n" << help);
  return help.substr(at, help.find('\n', at) - at) + " ";  // a trailing blank for " key " searches
}

bool lists(const std::string& line, const std::string& key) {
  return line.find(" " + key + " ") != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(issue_example_is_read) {
  auto r = load(R"([alerting]
resend_interval = "30s"

[[alertmanager]]
url = "http://127.0.0.1:9093"

[[webhook]]
url = "https://hooks.example.com/vigil"

[[rule]]
name = "GatewayMemoryLeak"
kind = "growth"
metric = "process_resident_memory_bytes"
target = "gateway"
baseline = "30m"
max_growth = "10%"
for = "5m"
severity = "warning"

[[target]]
name = "gateway"
pid = 1
)");
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.warnings.empty());
  const Config& c = r.config;
  BOOST_TEST(c.alerting.resend_interval.count() == 30000);
  BOOST_TEST(c.alerting.heartbeat);  // defaults
  BOOST_TEST(c.alerting.timeout.count() == 10000);
  BOOST_REQUIRE(c.receivers.size() == 2u);
  const auto& am = by_name(c.receivers, "alertmanager-1");  // default names: <kind>-<n>
  BOOST_TEST((am.kind == ReceiverKind::kAlertmanager));
  BOOST_TEST(am.url == "http://127.0.0.1:9093");
  BOOST_TEST(am.resends());
  BOOST_TEST(am.where.line == 4);
  const auto& hook = by_name(c.receivers, "webhook-1");
  BOOST_TEST((hook.kind == ReceiverKind::kWebhook));
  BOOST_TEST(!hook.resends());
  BOOST_REQUIRE(c.rules.size() == 1u);
  const RuleConfig& g = c.rules[0];
  BOOST_TEST(g.name == "GatewayMemoryLeak");
  BOOST_TEST((g.kind == RuleKind::kGrowth));
  BOOST_TEST(g.metric == "process_resident_memory_bytes");
  BOOST_TEST(g.target == "gateway");
  BOOST_TEST(g.baseline.count() == 30 * 60 * 1000);
  BOOST_TEST(g.max_growth_percent == 10.0);
  BOOST_TEST(g.for_duration.count() == 5 * 60 * 1000);
  BOOST_TEST(g.severity == "warning");
  BOOST_TEST(g.where.line == 10);
}

BOOST_AUTO_TEST_CASE(alerting_and_receiver_keys_are_read) {
  auto r = load(R"([alerting]
heartbeat = false
instance = "web-1"
external_url = "http://web-1:9105"
stale_after = "20m"
timeout = "3s"

[[webhook]]
url = "http://127.0.0.1:8000/hook"
resend = true
bearer_token_file = "/etc/vigil/token"
insecure = true

[[webhook]]
url = "http://127.0.0.1:8000/b"

[[alertmanager]]
name = "primary"
url = "https://am.example.com"
timeout = "2s"
resend = false
username = "vigil"
password_file = "/etc/vigil/am.pass"
client_cert = "/etc/vigil/c.pem"
client_key = "/etc/vigil/c.key"

[[alertmanager]]
url = "http://127.0.0.1:9093"
)");
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  const Config& c = r.config;
  BOOST_TEST(!c.alerting.heartbeat);
  BOOST_TEST(c.alerting.instance == "web-1");
  BOOST_TEST(c.alerting.external_url == "http://web-1:9105");
  BOOST_TEST(c.alerting.stale_after.count() == 1'200'000);
  BOOST_TEST(c.alerting.timeout.count() == 3000);
  BOOST_REQUIRE(c.receivers.size() == 4u);
  auto receiver = [&](const std::string& name) -> const ReceiverConfig& { return by_name(c.receivers, name); };
  const auto& am = receiver("primary");
  BOOST_TEST(am.timeout->count() == 2000);
  BOOST_TEST(!am.resends());
  BOOST_TEST(am.username == "vigil");
  BOOST_TEST(am.password_file == "/etc/vigil/am.pass");
  BOOST_TEST(am.client_key == "/etc/vigil/c.key");
  // Default names count each kind from 1 in the order written, named ones included.
  BOOST_TEST(receiver("alertmanager-2").url == "http://127.0.0.1:9093");
  BOOST_TEST(!receiver("alertmanager-2").timeout.has_value());
  BOOST_TEST(receiver("webhook-2").url == "http://127.0.0.1:8000/b");
  const auto& hook = receiver("webhook-1");
  BOOST_TEST(hook.resends());
  BOOST_TEST(hook.bearer_token_file == "/etc/vigil/token");
  BOOST_TEST(hook.insecure);
}

BOOST_AUTO_TEST_CASE(every_rule_kind_reads_its_keys) {
  auto r = load(R"toml([[webhook]]
url = "http://127.0.0.1:8000/hook"
[[rule]]
name = "HighLoad"
kind = "threshold"
metric = "host_load1"
op = ">="
value = 0.9
max_age = "2m"
select = { cpu = "all" }
labels = { team = "web", page = "no" }
annotations = { summary = "{{target}} at {{ value }} (limit {{threshold}})", runbook_url = "http://wiki/x" }
[[rule]]
name = "FewFds"
kind = "threshold"
metric = "process_open_fds"
op = "<"
value = -5
[[rule]]
name = "DiskFull"
kind = "forecast"
metric = "host_filesystem_used_bytes"
select = { mountpoint = "/" }
limit = "disk_size"
window = "6h"
horizon = "7d"
[[rule]]
name = "FdsRunOut"
kind = "forecast"
metric = "process_open_fds"
limit = "process_max_fds"
[[rule]]
name = "Silent"
kind = "absence"
metric = "up"
target = "gateway"
for = "10m"
[[rule]]
name = "GatewayDown"
kind = "check"
target = "gateway"
check = "health"
for = "1m"
[[rule]]
name = "CheckFailed"
kind = "check"
severity = "page"
[[target]]
name = "gateway"
pid = 1
)toml");
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.warnings.empty());
  const Config& c = r.config;
  BOOST_REQUIRE(c.rules.size() == 7u);
  const auto& high = by_name(c.rules, "HighLoad");
  BOOST_TEST((high.op == Comparison::kGe));
  BOOST_TEST(*high.value == 0.9);
  BOOST_TEST(high.max_age.count() == 120'000);
  BOOST_TEST(has_pair(high.select, "cpu", "all"));
  BOOST_TEST(high.labels.size() == 2u);
  BOOST_TEST(has_pair(high.labels, "team", "web"));
  BOOST_TEST(has_pair(high.annotations, "runbook_url", "http://wiki/x"));
  BOOST_TEST(high.severity == "warning");
  const auto& few = by_name(c.rules, "FewFds");
  BOOST_TEST(*few.value == -5.0);             // an integer is a number too
  BOOST_TEST(few.max_age.count() == 60'000);  // default
  const auto& disk = by_name(c.rules, "DiskFull");
  BOOST_TEST(disk.limit == "disk_size");
  BOOST_TEST(disk.window.count() == 6 * 3'600'000);
  BOOST_TEST(disk.horizon.count() == 7 * 86'400'000ll);
  BOOST_TEST(has_pair(disk.select, "mountpoint", "/"));
  const auto& fds = by_name(c.rules, "FdsRunOut");
  BOOST_TEST(fds.limit == "process_max_fds");   // a metric name
  BOOST_TEST(fds.window.count() == 3'600'000);  // defaults
  BOOST_TEST(fds.horizon.count() == 86'400'000);
  const auto& silent = by_name(c.rules, "Silent");
  BOOST_TEST(silent.for_duration.count() == 600'000);
  BOOST_TEST(silent.target == "gateway");
  const auto& down = by_name(c.rules, "GatewayDown");
  BOOST_TEST(down.check == "health");
  BOOST_TEST(down.target == "gateway");
  BOOST_TEST(down.severity == "critical");  // check rules default to critical
  BOOST_TEST(down.where.line == 38);
  BOOST_TEST(by_name(c.rules, "CheckFailed").severity == "page");  // a check rule restyling the built-in alert
}

// A numeric limit, written as a TOML number or a string, is range-checked
// (>= 0) and kept as text for the daemon to read back.
BOOST_AUTO_TEST_CASE(forecast_limit_may_be_a_number) {
  const std::string head = kRuleA + "kind = \"forecast\"\nmetric = \"m\"\n";
  for (const auto& [written, kept] : {std::pair{"1000", "1000"}, std::pair{"\"5e9\"", "5e9"}}) {
    auto r = load(head + "limit = " + written + "\n");
    BOOST_TEST_INFO(written << "\n" << dump(r));
    BOOST_TEST(r.ok());
    BOOST_TEST((r.config.rules.size() == 1u && r.config.rules[0].limit == kept));
  }
  BOOST_TEST(has_error(load(head + "limit = -1\n"), ConfigErrorKind::kOutOfRange, 5, "rule[A].limit"));
}

BOOST_AUTO_TEST_CASE(each_mistake_is_reported_once_with_kind_line_and_key) {
  struct Case {
    const char* toml;
    ConfigErrorKind kind;
    int line;
    const char* key;
    const char* says;  // a fact the message must name; "" for none
  };
  using K = ConfigErrorKind;
  const Case cases[] = {
      // rules
      {"kind = \"treshold\"\nmetric = \"m\"\nop = \"<\"\nvalue = 1\n", K::kBadValue, 3, "rule[A].kind",
       "\"threshold\""},
      {"kind = \"growth\"\n", K::kMissingKey, 1, "rule[A].metric", ""},
      {"kind = \"threshold\"\nmetric = \"m\"\n", K::kMissingKey, 1, "rule[A].value", ""},
      {"kind = \"threshold\"\nop = \"=>\"\nmetric = \"m\"\nvalue = 1\n", K::kBadValue, 4, "rule[A].op", "=>"},
      {"kind = \"threshold\"\nmetric = \"m\"\nvalue = 1\nbaseline = \"30m\"\n", K::kConflict, 6, "rule[A].baseline",
       "growth"},
      {"kind = \"check\"\nmetric = \"m\"\n", K::kConflict, 4, "rule[A].metric", ""},
      {"kind = \"threshold\"\nmetric = \"m\"\nvalue = \"high\"\n", K::kBadValue, 5, "rule[A].value", "high"},
      {"kind = \"threshold\"\nmetric = \"m\"\nvalue = nan\n", K::kBadValue, 5, "rule[A].value", ""},
      {"kind = \"threshold\"\nmetric = \"m\"\nvalue = 1\nmax_age = \"500ms\"\n", K::kOutOfRange, 6, "rule[A].max_age",
       ""},
      {"kind = \"threshold\"\nmetric = \"m\"\nvalue = 1\nfor = \"8d\"\n", K::kOutOfRange, 6, "rule[A].for", ""},
      {"kind = \"threshold\"\nmetric = \"cpu usage\"\nvalue = 1\n", K::kBadValue, 4, "rule[A].metric", ""},
      {"kind = \"growth\"\nmetric = \"m\"\nmax_growth = \"ten\"\n", K::kBadValue, 5, "rule[A].max_growth", "ten"},
      {"kind = \"growth\"\nmetric = \"m\"\nmax_growth = \"-5%\"\n", K::kOutOfRange, 5, "rule[A].max_growth", ""},
      {"kind = \"growth\"\nmetric = \"m\"\nmax_growth = 200000\n", K::kOutOfRange, 5, "rule[A].max_growth", ""},
      {"kind = \"forecast\"\nmetric = \"m\"\n", K::kMissingKey, 1, "rule[A].limit", ""},
      {"kind = \"forecast\"\nmetric = \"m\"\nlimit = \"disk-size\"\n", K::kBadValue, 5, "rule[A].limit", "disk-size"},
      {"kind = \"forecast\"\nmetric = \"m\"\nlimit = \"fd_limit\"\nhorizon = \"400d\"\n", K::kOutOfRange, 6,
       "rule[A].horizon", ""},
      {"kind = \"absence\"\nmetric = \"up\"\n", K::kMissingKey, 1, "rule[A].for", ""},
      {"kind = \"absence\"\nmetric = \"up\"\nfor = \"0s\"\n", K::kBadValue, 5, "rule[A].for", ""},
      {"kind = \"absence\"\nmetric = \"up\"\nfor = \"1m\"\ntarget = \"gw\"\nselect = { target = \"gw\" }\n",
       K::kBadValue, 7, "rule[A].select", ""},
      {"kind = \"check\"\nseverity = \"page me\"\n", K::kBadValue, 4, "rule[A].severity", ""},
      {"kind = \"check\"\nannotations = { summary = \"{{ .Value }}\" }\n", K::kBadValue, 4, "rule[A].annotations",
       ".Value"},
      {"kind = \"check\"\nannotations = { summary = \"at {{valu}}\" }\n", K::kBadValue, 4, "rule[A].annotations",
       "valu"},
      {"kind = \"check\"\nannotations = { summary = \"{{value\" }\n", K::kBadValue, 4, "rule[A].annotations", ""},
      {"", K::kMissingKey, 1, "rule[A].kind", ""},
      {"kind = \"absence\"\nmetric = \"up\"\nfor = \"1m\"\n\n[[rule]]\nname = \"A\"\nkind = \"check\"\n",
       K::kDuplicateName, 8, "rule[A].name", ":1:"},  // names the first one's line
      // a check rule may restyle the built-in CheckFailed; no rule may take VigilHeartbeat
      {"[[rule]]\nname = \"CheckFailed\"\nkind = \"absence\"\nmetric = \"up\"\nfor = \"1m\"\n", K::kBadValue, 2,
       "rule[CheckFailed].name", "built-in"},
      {"[[rule]]\nname = \"VigilHeartbeat\"\nkind = \"check\"\n", K::kBadValue, 2, "rule[VigilHeartbeat].name", ""},
      // receivers
      {"[[alertmanager]]\nname = \"am\"\nurl = \"http://127.0.0.1:9093\"\n\n"
       "[[alertmanager]]\nname = \"am\"\nurl = \"http://127.0.0.2:9093\"\n",
       K::kDuplicateName, 5, "alertmanager[am].name", ":1:"},
      {"[[webhook]]\nname = \"hook\"\n", K::kMissingKey, 1, "webhook[hook].url", ""},
      {"[[alertmanager]]\nurl = \"http://127.0.0.1:9093\"\nusername = \"u\"\n", K::kMissingKey, 1,
       "alertmanager[alertmanager-1].password_file", ""},
      {"[[alertmanager]]\nurl = \"http://127.0.0.1:9093\"\nusername = \"u\"\npassword_file = \"/p\"\n"
       "bearer_token_file = \"/t\"\n",
       K::kConflict, 1, "alertmanager[alertmanager-1]", "bearer_token_file"},
      {"[[alertmanager]]\nurl = \"ftp://127.0.0.1:9093\"\n", K::kBadValue, 2, "alertmanager.url", "http"},
      {"[[webhook]]\nurl = \"http://\"\n", K::kBadValue, 2, "webhook.url", ""},
      {"[[webhook]]\nurl = \"http://127.0.0.1/\"\ntimout = \"5s\"\n", K::kUnknownKey, 3, "webhook.timout",
       "\"timeout\""},
      {"[[webhook]]\nurl = \"http://127.0.0.1/\"\ntimeout = \"50ms\"\n", K::kOutOfRange, 3, "webhook.timeout", ""},
      {"[alerting]\nresend_interval = \"2h\"\n", K::kOutOfRange, 2, "alerting.resend_interval", ""},
      {"[alerting]\nresend = \"30s\"\n", K::kUnknownKey, 2, "alerting.resend", "resend_interval"},
      {"[alerting]\nexternal_url = \"localhost:9105\"\n", K::kBadValue, 2, "alerting.external_url", ""},
      // the check key `alert`
      {"[[target]]\nname = \"gw\"\npid = 1\n[[target.check]]\nname = \"port\"\nkind = \"tcp\"\n"
       "address = \"127.0.0.1:22\"\nalert = \"no\"\n",
       K::kWrongType, 8, "check[port].alert", "boolean"},
  };
  for (const auto& c : cases) {
    std::string toml = c.toml[0] == '[' ? std::string(c.toml) : kRuleA + c.toml;
    // The target the rules name, after them (their lines stay).
    if (toml.find("name = \"gw\"") == std::string::npos) toml += "\n[[target]]\nname = \"gw\"\npid = 1\n";
    auto r = load(toml);
    BOOST_TEST_INFO(toml << "----\n" << dump(r));
    BOOST_TEST(r.errors.size() == 1u);
    BOOST_TEST(has_error(r, c.kind, c.line, c.key));
    if (r.errors.size() == 1u) {
      BOOST_TEST(r.errors[0].message.find(c.says) != std::string::npos);
      BOOST_TEST(r.errors[0].describe().find(":" + std::to_string(c.line) + ":") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(labels_set_by_vigild_or_not_label_names_are_refused) {
  for (const char* name : {"alertname", "severity", "instance", "job", "team-name", "\"9lives\"", "\"\""}) {
    auto r = load(kRuleA + "kind = \"check\"\nlabels = { " + name + " = \"x\" }\n");
    BOOST_TEST_INFO(name << "\n" << dump(r));
    BOOST_TEST(r.errors.size() == 1u);
    BOOST_TEST(has_error(r, ConfigErrorKind::kBadValue, 4, "rule[A].labels"));
  }
  auto ok = load(kRuleA + "kind = \"check\"\nlabels = { team = \"x\", _tier2 = \"y\" }\n");
  BOOST_TEST_MESSAGE(dump(ok));
  BOOST_TEST(ok.ok());
}

BOOST_AUTO_TEST_CASE(check_alert_key) {
  const std::string check = "[[target.check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:22\"\n";
  const std::string toml = "[[target]]\nname = \"gw\"\npid = 1\n" + check + "name = \"port\"\n" + check +
                           "name = \"quiet\"\nalert = false\n";
  auto r = load(toml);
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r.config.checks.size() == 2u);
  BOOST_TEST(r.config.checks[0].alert);  // the default
  BOOST_TEST(!r.config.checks[1].alert);
  auto env = load(toml, {"VIGIL_CHECK_GW_PORT_ALERT=false", "VIGIL_CHECK_GW_QUIET_ALERT=yes"});
  BOOST_TEST_MESSAGE(dump(env));
  BOOST_REQUIRE(env.ok());
  BOOST_TEST(!env.config.checks[0].alert);
  BOOST_TEST(env.config.checks[1].alert);
}

BOOST_AUTO_TEST_CASE(alerting_from_the_environment) {
  const char* toml = "[alerting]\nresend_interval = \"30s\"\n[[webhook]]\nurl = \"http://a/\"\n";
  auto r = load(toml, {"VIGIL_ALERTING_RESEND_INTERVAL=45s", "VIGIL_ALERTING_HEARTBEAT=false"});
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.config.alerting.resend_interval.count() == 45000);
  BOOST_TEST(!r.config.alerting.heartbeat);

  auto bad = load(
      toml, {"VIGIL_RULE_GATEWAYMEMORYLEAK_FOR=10m", "VIGIL_WEBHOOK_URL=http://b/",
             "VIGIL_ALERTMANAGER_1_URL=http://c/", "VIGIL_ALERTING_RESEND_INTERVAL=soon", "VIGIL_ALERTING_RESEND=1s"});
  BOOST_TEST_MESSAGE(dump(bad));
  BOOST_TEST(bad.errors.size() == 5u);
  BOOST_TEST(has_error(bad, ConfigErrorKind::kUnknownKey, 0, "rule"));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kUnknownKey, 0, "webhook"));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kUnknownKey, 0, "alertmanager"));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kBadValue, 0, "alerting.resend_interval"));
  BOOST_TEST(has_error(bad, ConfigErrorKind::kUnknownKey, 0, "alerting.resend"));
  for (const auto& e : bad.errors) BOOST_TEST(e.where.describe().find("VIGIL_") != std::string::npos);
  BOOST_TEST(bad.config.alerting.resend_interval.count() == 30000);  // the file's value stands
}

BOOST_AUTO_TEST_CASE(rules_without_receivers_warn) {
  const std::string rule_toml = kRuleA + "kind = \"check\"\n";
  auto r = load(rule_toml);
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r.warnings.size() == 1u);
  BOOST_TEST(static_cast<int>(r.warnings[0].kind) == static_cast<int>(ConfigErrorKind::kMissingKey));
  BOOST_TEST(r.warnings[0].key == "alertmanager");
  BOOST_TEST(r.warnings[0].message.find("[[webhook]]") != std::string::npos);
  BOOST_TEST(load(rule_toml + "[[webhook]]\nurl = \"http://a/\"\n").warnings.empty());
  BOOST_TEST(load("[alerting]\nheartbeat = true\n").warnings.empty());  // no rules: nothing to send
  // A horizon over 100 windows (window under 1m) warns where horizon is written.
  auto noisy = load("[[webhook]]\nurl = \"http://a/\"\n" + kRuleA +
                    "kind = \"forecast\"\nmetric = \"m\"\nlimit = \"fd_limit\"\nwindow = \"30s\"\nhorizon = \"1h\"\n");
  BOOST_TEST_MESSAGE(dump(noisy));
  BOOST_REQUIRE(noisy.ok());
  BOOST_REQUIRE(noisy.warnings.size() == 1u);
  BOOST_TEST(noisy.warnings[0].key == "rule[A].horizon");
  BOOST_TEST(noisy.warnings[0].where.line == 9);
}

BOOST_AUTO_TEST_CASE(help_lists_keys_per_kind) {
  struct Line {
    const char* prefix;
    std::vector<const char*> listed, not_listed;
  };
  const Line lines[] = {
      {"[alerting]:", {"resend_interval", "heartbeat", "stale_after"}, {"url"}},
      {"[[alertmanager]], [[webhook]]:",
       {"name", "url", "timeout", "resend", "password_file", "bearer_token_file"},
       {"kind"}},
      {"[[rule]], every kind:", {"name", "kind", "target", "for", "severity", "labels", "annotations"}, {"metric"}},
      {"    check:", {"check"}, {"metric", "op"}},
      {"    threshold:", {"metric", "select", "op", "value", "max_age"}, {"baseline", "check"}},
      {"    growth:", {"metric", "select", "baseline", "max_growth"}, {"op", "limit"}},
      {"    forecast:", {"metric", "select", "window", "horizon", "limit"}, {"value"}},
      {"    absence:", {"metric", "select"}, {"value", "baseline"}},
  };
  for (const auto& l : lines) {
    const std::string text = help_line(l.prefix);
    for (const char* k : l.listed) BOOST_TEST(lists(text, k), l.prefix << " lists " << k);
    for (const char* k : l.not_listed) BOOST_TEST(!lists(text, k), l.prefix << " does not list " << k);
  }
}

BOOST_AUTO_TEST_CASE(limit_names_map_to_metrics) {
  BOOST_TEST(std::string(limit_metric_for("cgroup_memory_limit")) == "cgroup_memory_limit_bytes");
  BOOST_TEST(std::string(limit_metric_for("fd_limit")) == "process_max_fds");
  BOOST_TEST(std::string(limit_metric_for("disk_size")) == "host_filesystem_size_bytes");
  BOOST_TEST(limit_metric_for("disk") == nullptr);
  BOOST_TEST(limit_metric_for("") == nullptr);
  BOOST_TEST(limit_metric_for("process_max_fds") == nullptr);  // a metric name, not a limit name
}

// Credential and TLS files are read at each send: one that cannot be read
// now is a warning at its key's line (the delivery then fails saying why).
BOOST_AUTO_TEST_CASE(receiver_files_that_cannot_be_read_warn_at_their_key) {
  auto r = load(
      "[[webhook]]\nurl = \"http://a/\"\nbearer_token_file = \"/nonexistent/token\"\n"
      "[[alertmanager]]\nurl = \"http://b/\"\nusername = \"u\"\npassword_file = \"/\"\n"
      "ca_file = \"/dev/null\"\nclient_cert = \"/nonexistent/cert\"\nclient_key = \"/dev/null\"\n");
  BOOST_TEST_MESSAGE(dump(r));
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r.warnings.size() == 3u);
  BOOST_TEST(r.warnings[0].key == "webhook.bearer_token_file");
  BOOST_TEST(r.warnings[0].where.line == 3);
  BOOST_TEST(r.warnings[0].message ==
             "cannot read \"/nonexistent/token\": No such file or directory (ENOENT): every delivery to this "
             "receiver fails, saying so, until it can be read");
  BOOST_TEST(r.warnings[1].key == "alertmanager.password_file");
  BOOST_TEST(r.warnings[1].where.line == 7);
  BOOST_TEST(r.warnings[1].message.find("\"/\" is a directory, not a file") == 0u, r.warnings[1].message);
  BOOST_TEST(r.warnings[2].key == "alertmanager.client_cert");
  BOOST_TEST(r.warnings[2].message ==
             "cannot read \"/nonexistent/cert\": No such file or directory (ENOENT): TLS connections to this "
             "receiver fail until it can be read");
}
