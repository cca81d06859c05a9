#include "watchdog/config.hpp"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <regex.h>
#include <unistd.h>
#include <toml++/toml.h>
#include <variant>

#include "alerting/delivery.hpp"
#include "alerting/rules.hpp"
#include "core/text.hpp"
#include "probes/curl_api.hpp"
#include "probes/tcp.hpp"

namespace vigil {

namespace fs = std::filesystem;

std::string ConfigLocation::describe() const {
  if (!env_var.empty()) return "environment variable " + env_var;
  if (file.empty()) return "built-in default";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const char* to_string(ConfigErrorKind kind) {
  switch (kind) {
    case ConfigErrorKind::kFile: return "file";
    case ConfigErrorKind::kSyntax: return "syntax";
    case ConfigErrorKind::kUnknownKey: return "unknown_key";
    case ConfigErrorKind::kWrongType: return "wrong_type";
    case ConfigErrorKind::kBadValue: return "bad_value";
    case ConfigErrorKind::kOutOfRange: return "out_of_range";
    case ConfigErrorKind::kDuplicateName: return "duplicate_name";
    case ConfigErrorKind::kMissingKey: return "missing_key";
    case ConfigErrorKind::kConflict: return "conflict";
  }
  return "unknown";
}

std::string ConfigError::describe() const {
  std::string out = where.describe() + ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

std::string Config::store_path() const {
  if (!store.path.empty()) return store.path;
  return (fs::path(daemon.state_dir) / "vigil.db").string();
}

int signal_number(std::string_view name) {
  std::string n(trim(name));
  if (n.empty()) return 0;
  if (auto num = to_u64(n)) return *num >= 1 && *num < 65 ? static_cast<int>(*num) : 0;
  for (auto& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  for (int s = 1; s < 32; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev != nullptr && n == abbrev) return s;
  }
  return 0;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string env_name_for(std::string_view target_name) {
  std::string out;
  for (char c : target_name) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
  }
  return out;
}

namespace {

// Sizes ("512MiB", core/time.hpp parse_size) join when the first size key does.
enum class Type {
  kDuration, kCount, kBool, kString, kPath, kRegex, kLogLevel,
  kText,        // any non-empty string without NUL (headers, bodies, commands)
  kSize,        // "1MiB", "64KiB", or an integer number of bytes
  kStringList,  // ["a", "b"]
  kStringMap,   // { Name = "value" }
  kStatusList,  // ["200", "200-299", "2xx"]
  kUrl,         // http:// or https://
  kNumber,      // an integer or a float (a string from the environment)
  kPercent,     // "10%", or a number meaning percent
  kLimit,       // a number, or a name (forecast limits); kept as text
};

using StringPairs = std::vector<std::pair<std::string, std::string>>;
using StatusRanges = std::vector<std::pair<int, int>>;
using Value = std::variant<Millis, std::int64_t, bool, std::string, LogLevel, std::vector<std::string>, StringPairs,
                           StatusRanges, std::uint64_t, double>;

struct KeySpec {
  const char* name;
  Type type;
  std::int64_t min;  // ms for durations, bytes for sizes
  std::int64_t max;
  const char* valid;  // what a valid value looks like, for messages
  std::function<void(Config&, const Value&)> set_global;
  std::function<void(TargetConfig&, const Value&)> set_target;
  std::function<void(CheckConfig&, const Value&)> set_check = nullptr;
  const char* kinds = nullptr;  // check and rule keys: the kinds it applies to ("http,prometheus"); nullptr: all
  std::function<void(ReceiverConfig&, const Value&)> set_receiver = nullptr;
  std::function<void(RuleConfig&, const Value&)> set_rule = nullptr;
  std::function<void(RemediateConfig&, const Value&)> set_remediate = nullptr;
};

constexpr std::int64_t kNoMax = INT64_MAX;

template <typename T>
const T& as(const Value& v) {
  return std::get<T>(v);
}

const std::vector<KeySpec>& daemon_keys() {
  static const std::vector<KeySpec> keys = {
      {"interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"1s\"",
       [](Config& c, const Value& v) { c.daemon.interval = as<Millis>(v); }, nullptr},
      {"state_dir", Type::kPath, 0, 0, "a directory path, e.g. \"/var/lib/vigil\"",
       [](Config& c, const Value& v) { c.daemon.state_dir = as<std::string>(v); }, nullptr},
      {"flush_interval", Type::kDuration, 100, 60'000, "a duration from 100ms to 1m, e.g. \"1s\"",
       [](Config& c, const Value& v) { c.daemon.flush_interval = as<Millis>(v); }, nullptr},
      {"status_interval", Type::kDuration, 1000, 3'600'000,
       "a duration from 1s to 1h, e.g. \"10s\"",
       [](Config& c, const Value& v) { c.daemon.status_interval = as<Millis>(v); }, nullptr},
      {"log_level", Type::kLogLevel, 0, 0, "one of \"debug\", \"info\", \"warning\", \"error\"",
       [](Config& c, const Value& v) { c.daemon.log_level = as<LogLevel>(v); }, nullptr},
      {"proc_root", Type::kPath, 0, 0, "a directory path, normally \"/proc\"",
       [](Config& c, const Value& v) { c.daemon.proc_root = as<std::string>(v); }, nullptr},
      {"cgroup_root", Type::kPath, 0, 0, "a directory path, normally \"/sys/fs/cgroup\"",
       [](Config& c, const Value& v) { c.daemon.cgroup_root = as<std::string>(v); }, nullptr},
  };
  return keys;
}

const std::vector<KeySpec>& store_keys() {
  static const std::vector<KeySpec> keys = {
      {"path", Type::kPath, 0, 0, "a file path; default <state_dir>/vigil.db",
       [](Config& c, const Value& v) { c.store.path = as<std::string>(v); }, nullptr},
      {"queue_capacity", Type::kCount, 1000, 100'000'000, "an integer from 1000 to 100000000 (samples)",
       [](Config& c, const Value& v) { c.store.queue_capacity = static_cast<std::uint64_t>(as<std::int64_t>(v)); },
       nullptr},
  };
  return keys;
}

const std::vector<KeySpec>& host_keys() {
  static const std::vector<KeySpec> keys = {
      {"enabled", Type::kBool, 0, 0, "true or false",
       [](Config& c, const Value& v) { c.host.enabled = as<bool>(v); }, nullptr},
      {"interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"5s\"",
       [](Config& c, const Value& v) { c.host.interval = as<Millis>(v); }, nullptr},
      {"rootfs", Type::kPath, 0, 0, "a directory path, normally \"/\"",
       [](Config& c, const Value& v) { c.host.rootfs = as<std::string>(v); }, nullptr},
  };
  return keys;
}

const std::vector<KeySpec>& target_keys() {
  static const std::vector<KeySpec> keys = {
      {"name", Type::kString, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]", nullptr,
       [](TargetConfig& t, const Value& v) { t.name = as<std::string>(v); }},
      {"pidfile", Type::kPath, 0, 0, "a file path, e.g. \"/run/gateway.pid\"", nullptr,
       [](TargetConfig& t, const Value& v) { t.pidfile = as<std::string>(v); }},
      {"match", Type::kRegex, 0, 0, "an ECMAScript regular expression over the command line",
       nullptr, [](TargetConfig& t, const Value& v) { t.match = as<std::string>(v); }},
      {"pid", Type::kCount, 1, 4'194'304, "a process ID from 1 to 4194304", nullptr,
       [](TargetConfig& t, const Value& v) { t.pid = static_cast<int>(as<std::int64_t>(v)); }},
      {"cgroup", Type::kPath, 0, 0, "a cgroup path such as \"/system.slice/gateway.service\"",
       nullptr, [](TargetConfig& t, const Value& v) { t.cgroup = as<std::string>(v); }},
      {"interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"1s\"",
       nullptr, [](TargetConfig& t, const Value& v) { t.interval = as<Millis>(v); }},
      {"systemd_unit", Type::kText, 0, 0, "a unit name, e.g. \"gateway.service\"", nullptr,
       [](TargetConfig& t, const Value& v) { t.systemd_unit = as<std::string>(v); }},
      {"start", Type::kStringList, 0, 0, "a command as an array, e.g. [\"/usr/local/bin/worker\", \"--port\", \"9000\"]",
       nullptr, [](TargetConfig& t, const Value& v) { t.start = as<std::vector<std::string>>(v); }},
      {"stop_signal", Type::kText, 0, 0, "a signal name, e.g. \"SIGTERM\"", nullptr,
       [](TargetConfig& t, const Value& v) { t.stop_signal = signal_number(as<std::string>(v)); }},
      {"stop_timeout", Type::kDuration, 100, 3'600'000, "a duration from 100ms to 1h, e.g. \"10s\"", nullptr,
       [](TargetConfig& t, const Value& v) { t.stop_timeout = as<Millis>(v); }},
      {"depends_on", Type::kStringList, 0, 0, "a list of target names, e.g. [\"postgres\"]", nullptr,
       [](TargetConfig& t, const Value& v) { t.depends_on = as<std::vector<std::string>>(v); }},
  };
  return keys;
}

// [target.remediate]
template <typename F>
KeySpec remediate_key(const char* name, Type type, std::int64_t min, std::int64_t max, const char* valid, F set) {
  KeySpec k{name, type, min, max, valid, nullptr, nullptr};
  k.set_remediate = set;
  return k;
}

const std::vector<KeySpec>& remediate_keys() {
  static const std::vector<KeySpec> keys = {
      remediate_key("on", Type::kStringList, 0, 0, "a list of \"crash\", check names of the target and rule names",
                    [](RemediateConfig& r, const Value& v) {
                      r.on = as<std::vector<std::string>>(v);
                      r.written_on = true;
                    }),
      remediate_key("actions", Type::kStringList, 0, 0,
                    "a list of \"restart\", \"signal\", \"exec\", \"http\" (tried in order, the last repeats)",
                    [](RemediateConfig& r, const Value& v) { r.actions = as<std::vector<std::string>>(v); }),
      remediate_key("max", Type::kCount, 1, 1000, "an integer from 1 to 1000 (actions per window)",
                    [](RemediateConfig& r, const Value& v) { r.max = static_cast<int>(as<std::int64_t>(v)); }),
      remediate_key("window", Type::kDuration, 1000, 86'400'000, "a duration from 1s to 24h, e.g. \"10m\"",
                    [](RemediateConfig& r, const Value& v) { r.window = as<Millis>(v); }),
      remediate_key("backoff", Type::kDuration, 0, 86'400'000, "a duration up to 24h, e.g. \"10s\"",
                    [](RemediateConfig& r, const Value& v) { r.backoff = as<Millis>(v); }),
      remediate_key("max_backoff", Type::kDuration, 0, 86'400'000, "a duration up to 24h, e.g. \"5m\"",
                    [](RemediateConfig& r, const Value& v) { r.max_backoff = as<Millis>(v); }),
      remediate_key("grace", Type::kDuration, 0, 3'600'000, "a duration up to 1h, e.g. \"30s\"",
                    [](RemediateConfig& r, const Value& v) { r.grace = as<Millis>(v); }),
      remediate_key("reset_after", Type::kDuration, 0, 86'400'000, "a duration up to 24h, e.g. \"5m\"",
                    [](RemediateConfig& r, const Value& v) { r.reset_after = as<Millis>(v); }),
      remediate_key("dry_run", Type::kBool, 0, 0, "true or false",
                    [](RemediateConfig& r, const Value& v) { r.dry_run = as<bool>(v); }),
      remediate_key("signal", Type::kText, 0, 0, "a signal name, e.g. \"SIGUSR1\"",
                    [](RemediateConfig& r, const Value& v) { r.signal = signal_number(as<std::string>(v)); }),
      remediate_key("exec", Type::kStringList, 0, 0, "a command as an array, e.g. [\"/usr/local/bin/dump-heap\"]",
                    [](RemediateConfig& r, const Value& v) { r.exec = as<std::vector<std::string>>(v); }),
      remediate_key("url", Type::kUrl, 0, 0, "an http:// or https:// URL, POSTed by the http action",
                    [](RemediateConfig& r, const Value& v) { r.url = as<std::string>(v); }),
      remediate_key("timeout", Type::kDuration, 100, 3'600'000, "a duration from 100ms to 1h, e.g. \"60s\"",
                    [](RemediateConfig& r, const Value& v) { r.timeout = as<Millis>(v); }),
  };
  return keys;
}

// Shorthands for the check table: every check key has only a set_check.
template <typename F>
KeySpec check_key(const char* name, Type type, std::int64_t min, std::int64_t max, const char* valid, F set,
                  const char* kinds = nullptr) {
  return KeySpec{name, type, min, max, valid, nullptr, nullptr, std::function<void(CheckConfig&, const Value&)>(set),
                 kinds};
}

const std::vector<KeySpec>& check_keys() {
  static const std::vector<KeySpec> keys = {
      check_key("name", Type::kString, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]",
                [](CheckConfig& c, const Value& v) { c.name = as<std::string>(v); }),
      check_key("target", Type::kString, 1, 64, "a target name: 1 to 64 characters of [A-Za-z0-9_.-]",
                [](CheckConfig& c, const Value& v) { c.target = as<std::string>(v); }),
      check_key("kind", Type::kString, 1, 64, "one of tcp, http, exec, redis, postgres, prometheus",
                [](CheckConfig& c, const Value& v) { c.kind = as<std::string>(v); }),
      check_key("interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"1s\"",
                [](CheckConfig& c, const Value& v) { c.interval = as<Millis>(v); }),
      check_key("timeout", Type::kDuration, 10, 600'000, "a duration from 10ms to 10m, e.g. \"5s\"",
                [](CheckConfig& c, const Value& v) { c.timeout = as<Millis>(v); }),
      check_key("fail_after", Type::kCount, 1, 100, "an integer from 1 to 100 (consecutive failures)",
                [](CheckConfig& c, const Value& v) { c.fail_after = static_cast<int>(as<std::int64_t>(v)); }),
      check_key("recover_after", Type::kCount, 1, 100, "an integer from 1 to 100 (consecutive successes)",
                [](CheckConfig& c, const Value& v) { c.recover_after = static_cast<int>(as<std::int64_t>(v)); }),
      check_key("flap_window", Type::kDuration, 1000, 86'400'000, "a duration from 1s to 24h, e.g. \"5m\"",
                [](CheckConfig& c, const Value& v) { c.flap_window = as<Millis>(v); }),
      check_key("flap_threshold", Type::kCount, 1, 1000, "an integer from 1 to 1000 (state changes in flap_window)",
                [](CheckConfig& c, const Value& v) { c.flap_threshold = static_cast<int>(as<std::int64_t>(v)); }),
      // tcp, redis, postgres
      check_key("address", Type::kText, 0, 0, "HOST:PORT with a numeric host, e.g. \"127.0.0.1:5432\"",
                [](CheckConfig& c, const Value& v) { c.address = as<std::string>(v); }, "tcp,redis,postgres"),
      check_key("send", Type::kText, 0, 0, "text to send once connected",
                [](CheckConfig& c, const Value& v) { c.send = as<std::string>(v); }, "tcp"),
      check_key("expect", Type::kText, 0, 0, "text the answer must contain",
                [](CheckConfig& c, const Value& v) { c.expect = as<std::string>(v); }, "tcp"),
      // http, prometheus
      check_key("url", Type::kUrl, 0, 0, "an http:// or https:// URL, e.g. \"http://127.0.0.1:8080/health\"",
                [](CheckConfig& c, const Value& v) { c.url = as<std::string>(v); }, "http,prometheus"),
      check_key("method", Type::kString, 1, 16, "an HTTP method such as \"GET\", \"HEAD\" or \"POST\"",
                [](CheckConfig& c, const Value& v) { c.method = as<std::string>(v); }, "http"),
      check_key("headers", Type::kStringMap, 0, 0, "a table of header names and values, e.g. { Authorization = \"...\" }",
                [](CheckConfig& c, const Value& v) { c.headers = as<StringPairs>(v); }, "http,prometheus"),
      check_key("body", Type::kText, 0, 0, "the request body",
                [](CheckConfig& c, const Value& v) { c.body = as<std::string>(v); }, "http"),
      check_key("expect_status", Type::kStatusList, 0, 0,
                "a list of status codes and ranges, e.g. [\"200-299\", \"301\", \"4xx\"]",
                [](CheckConfig& c, const Value& v) { c.expect_status = as<StatusRanges>(v); }, "http"),
      check_key("expect_body", Type::kText, 0, 0, "text the response body must contain",
                [](CheckConfig& c, const Value& v) { c.expect_body = as<std::string>(v); }, "http"),
      check_key("expect_body_regex", Type::kText, 0, 0,
                "a POSIX extended regular expression the response body must match",
                [](CheckConfig& c, const Value& v) { c.expect_body_regex = as<std::string>(v); }, "http"),
      check_key("expect_header", Type::kStringList, 0, 0,
                "a list of \"Name\" (present) or \"Name: text\" (its value contains text)",
                [](CheckConfig& c, const Value& v) { c.expect_header = as<std::vector<std::string>>(v); }, "http"),
      check_key("connect_timeout", Type::kDuration, 10, 600'000, "a duration from 10ms to 10m; default: timeout",
                [](CheckConfig& c, const Value& v) { c.connect_timeout = as<Millis>(v); }, "http,prometheus"),
      check_key("follow_redirects", Type::kCount, 0, 20, "an integer from 0 (do not follow) to 20",
                [](CheckConfig& c, const Value& v) { c.follow_redirects = static_cast<int>(as<std::int64_t>(v)); },
                "http,prometheus"),
      check_key("reuse_connection", Type::kBool, 0, 0,
                "true to keep the connection open between runs (default false: a new one each run)",
                [](CheckConfig& c, const Value& v) { c.reuse_connection = as<bool>(v); }, "http,prometheus"),
      check_key("insecure", Type::kBool, 0, 0, "true to skip TLS certificate verification (default false)",
                [](CheckConfig& c, const Value& v) { c.insecure = as<bool>(v); }, "http,prometheus"),
      check_key("ca_file", Type::kPath, 0, 0, "a PEM file of CA certificates",
                [](CheckConfig& c, const Value& v) { c.ca_file = as<std::string>(v); }, "http,prometheus"),
      check_key("client_cert", Type::kPath, 0, 0, "a PEM client certificate",
                [](CheckConfig& c, const Value& v) { c.client_cert = as<std::string>(v); }, "http,prometheus"),
      check_key("client_key", Type::kPath, 0, 0, "a PEM private key for client_cert",
                [](CheckConfig& c, const Value& v) { c.client_key = as<std::string>(v); }, "http,prometheus"),
      check_key("max_body", Type::kSize, 1, 256ll << 20, "a size from 1B to 256MiB, e.g. \"1MiB\"",
                [](CheckConfig& c, const Value& v) { c.max_body = as<std::uint64_t>(v); }, "http,prometheus"),
      // prometheus
      check_key("metrics", Type::kStringList, 0, 0, "a list of metric names or globs, e.g. [\"http_*\", \"up\"]",
                [](CheckConfig& c, const Value& v) { c.metrics = as<std::vector<std::string>>(v); }, "prometheus"),
      check_key("max_samples", Type::kCount, 1, 1'000'000, "an integer from 1 to 1000000 (samples kept per scrape)",
                [](CheckConfig& c, const Value& v) { c.max_samples = as<std::int64_t>(v); }, "prometheus"),
      // exec
      check_key("command", Type::kStringList, 0, 0,
                "the argv as a list, e.g. [\"/usr/lib/nagios/plugins/check_disk\", \"-w\", \"10%\"]",
                [](CheckConfig& c, const Value& v) { c.command = as<std::vector<std::string>>(v); }, "exec"),
      check_key("shell", Type::kBool, 0, 0, "true to run command (one string) with /bin/sh -c",
                [](CheckConfig& c, const Value& v) { c.shell = as<bool>(v); }, "exec"),
      check_key("env", Type::kStringMap, 0, 0, "a table of environment variables, e.g. { LC_ALL = \"C\" }",
                [](CheckConfig& c, const Value& v) { c.env = as<StringPairs>(v); }, "exec"),
      check_key("cwd", Type::kPath, 0, 0, "the working directory (default /)",
                [](CheckConfig& c, const Value& v) { c.cwd = as<std::string>(v); }, "exec"),
      check_key("max_output", Type::kSize, 1024, 16ll << 20, "a size from 1KiB to 16MiB, e.g. \"64KiB\"",
                [](CheckConfig& c, const Value& v) { c.max_output = as<std::uint64_t>(v); }, "exec"),
      check_key("kill_grace", Type::kDuration, 0, 60'000, "a duration from 0s to 1m between SIGTERM and SIGKILL",
                [](CheckConfig& c, const Value& v) { c.kill_grace = as<Millis>(v); }, "exec"),
      check_key("warning_is_failure", Type::kBool, 0, 0, "true to count exit 1 (WARNING) as a failure",
                [](CheckConfig& c, const Value& v) { c.warning_is_failure = as<bool>(v); }, "exec"),
      // redis
      check_key("username", Type::kText, 0, 0, "an ACL user name for AUTH",
                [](CheckConfig& c, const Value& v) { c.username = as<std::string>(v); }, "redis"),
      check_key("password_file", Type::kPath, 0, 0, "a file holding the password for AUTH (read at each run)",
                [](CheckConfig& c, const Value& v) { c.password_file = as<std::string>(v); }, "redis"),
      // postgres
      check_key("user", Type::kText, 0, 0, "the user name in the startup message (default \"vigil\")",
                [](CheckConfig& c, const Value& v) { c.user = as<std::string>(v); }, "postgres"),
      check_key("database", Type::kText, 0, 0, "the database in the startup message (default \"postgres\")",
                [](CheckConfig& c, const Value& v) { c.database = as<std::string>(v); }, "postgres"),
      check_key("alert", Type::kBool, 0, 0, "true (default) to raise an alert while the check is failed",
                [](CheckConfig& c, const Value& v) { c.alert = as<bool>(v); }),
  };
  return keys;
}

const std::vector<KeySpec>& alerting_keys() {
  static const std::vector<KeySpec> keys = {
      {"resend_interval", Type::kDuration, 1000, 3'600'000, "a duration from 1s to 1h, e.g. \"30s\"",
       [](Config& c, const Value& v) { c.alerting.resend_interval = as<Millis>(v); }, nullptr},
      {"heartbeat", Type::kBool, 0, 0, "true (default) to send the always-firing VigilHeartbeat alert",
       [](Config& c, const Value& v) { c.alerting.heartbeat = as<bool>(v); }, nullptr},
      {"instance", Type::kText, 0, 0, "the instance label of every alert; default: the host name",
       [](Config& c, const Value& v) { c.alerting.instance = as<std::string>(v); }, nullptr},
      {"external_url", Type::kUrl, 0, 0, "the base of generatorURL, e.g. \"http://host:9105\"",
       [](Config& c, const Value& v) { c.alerting.external_url = as<std::string>(v); }, nullptr},
      {"stale_after", Type::kDuration, 10'000, 86'400'000, "a duration from 10s to 24h, e.g. \"10m\"",
       [](Config& c, const Value& v) { c.alerting.stale_after = as<Millis>(v); }, nullptr},
      {"timeout", Type::kDuration, 100, 600'000, "a duration from 100ms to 10m, e.g. \"10s\"",
       [](Config& c, const Value& v) { c.alerting.timeout = as<Millis>(v); }, nullptr},
  };
  return keys;
}

template <typename F>
KeySpec receiver_key(const char* name, Type type, std::int64_t min, std::int64_t max, const char* valid, F set) {
  KeySpec k{name, type, min, max, valid, nullptr, nullptr};
  k.set_receiver = set;
  return k;
}

const std::vector<KeySpec>& receiver_keys() {
  static const std::vector<KeySpec> keys = {
      receiver_key("name", Type::kString, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]; default: <kind>-<n>",
                   [](ReceiverConfig& r, const Value& v) { r.name = as<std::string>(v); }),
      receiver_key("url", Type::kUrl, 0, 0, "an http:// or https:// URL, e.g. \"http://127.0.0.1:9093\"",
                   [](ReceiverConfig& r, const Value& v) { r.url = as<std::string>(v); }),
      receiver_key("timeout", Type::kDuration, 100, 600'000, "a duration from 100ms to 10m; default: alerting.timeout",
                   [](ReceiverConfig& r, const Value& v) { r.timeout = as<Millis>(v); }),
      receiver_key("resend", Type::kBool, 0, 0,
                   "true to re-send firing alerts every resend_interval (default: alertmanager true, webhook false)",
                   [](ReceiverConfig& r, const Value& v) { r.resend = as<bool>(v); }),
      receiver_key("username", Type::kText, 0, 0, "a user name for basic auth (with password_file)",
                   [](ReceiverConfig& r, const Value& v) { r.username = as<std::string>(v); }),
      receiver_key("password_file", Type::kPath, 0, 0, "a file holding the basic auth password (read at each send)",
                   [](ReceiverConfig& r, const Value& v) { r.password_file = as<std::string>(v); }),
      receiver_key("bearer_token_file", Type::kPath, 0, 0, "a file holding a bearer token (read at each send)",
                   [](ReceiverConfig& r, const Value& v) { r.bearer_token_file = as<std::string>(v); }),
      receiver_key("insecure", Type::kBool, 0, 0, "true to skip TLS certificate verification (default false)",
                   [](ReceiverConfig& r, const Value& v) { r.insecure = as<bool>(v); }),
      receiver_key("ca_file", Type::kPath, 0, 0, "a PEM file of CA certificates",
                   [](ReceiverConfig& r, const Value& v) { r.ca_file = as<std::string>(v); }),
      receiver_key("client_cert", Type::kPath, 0, 0, "a PEM client certificate",
                   [](ReceiverConfig& r, const Value& v) { r.client_cert = as<std::string>(v); }),
      receiver_key("client_key", Type::kPath, 0, 0, "a PEM private key for client_cert",
                   [](ReceiverConfig& r, const Value& v) { r.client_key = as<std::string>(v); }),
  };
  return keys;
}

template <typename F>
KeySpec rule_key(const char* name, Type type, std::int64_t min, std::int64_t max, const char* valid, F set,
                 const char* kinds = nullptr) {
  KeySpec k{name, type, min, max, valid, nullptr, nullptr};
  k.kinds = kinds;
  k.set_rule = set;
  return k;
}

const std::vector<KeySpec>& rule_keys() {
  static const std::vector<KeySpec> keys = {
      rule_key("name", Type::kString, 1, 64, "the alertname: 1 to 64 characters of [A-Za-z0-9_.-]",
               [](RuleConfig& r, const Value& v) { r.name = as<std::string>(v); }),
      rule_key("kind", Type::kString, 1, 64, "one of check, threshold, growth, forecast, absence",
               [](RuleConfig& r, const Value& v) { r.kind = as<std::string>(v); }),
      rule_key(
          "metric", Type::kString, 1, 200, "a metric name, e.g. \"process_resident_memory_bytes\"",
          [](RuleConfig& r, const Value& v) { r.metric = as<std::string>(v); }, "threshold,growth,forecast,absence"),
      rule_key("target", Type::kString, 1, 64, "a target name: only its series (or checks)",
               [](RuleConfig& r, const Value& v) { r.target = as<std::string>(v); }),
      rule_key(
          "check", Type::kString, 1, 64, "a check name: only that check",
          [](RuleConfig& r, const Value& v) { r.check = as<std::string>(v); }, "check"),
      rule_key(
          "select", Type::kStringMap, 0, 0,
          "a table of label values the series must carry, e.g. { mountpoint = \"/\" }",
          [](RuleConfig& r, const Value& v) { r.select = as<StringPairs>(v); }, "threshold,growth,forecast,absence"),
      rule_key(
          "op", Type::kText, 0, 0, "one of \">\", \">=\", \"<\", \"<=\", \"==\", \"!=\"",
          [](RuleConfig& r, const Value& v) { r.op = as<std::string>(v); }, "threshold"),
      rule_key(
          "value", Type::kNumber, INT64_MIN, kNoMax, "a number to compare with, e.g. 0.9",
          [](RuleConfig& r, const Value& v) { r.value = as<double>(v); }, "threshold"),
      rule_key("for", Type::kDuration, 0, 7 * 86'400'000ll,
               "a duration from 0s to 7d: how long the condition holds before firing (absence: the silence)",
               [](RuleConfig& r, const Value& v) { r.for_duration = as<Millis>(v); }),
      rule_key(
          "max_age", Type::kDuration, 1000, 86'400'000, "a duration from 1s to 24h; default 1m",
          [](RuleConfig& r, const Value& v) { r.max_age = as<Millis>(v); }, "threshold"),
      rule_key(
          "baseline", Type::kDuration, 1000, 7 * 86'400'000ll,
          "a duration from 1s to 7d: the window after a (re)start whose median is the baseline",
          [](RuleConfig& r, const Value& v) { r.baseline = as<Millis>(v); }, "growth"),
      rule_key(
          "max_growth", Type::kPercent, 0, 100'000, "a percentage over the baseline, e.g. \"10%\"",
          [](RuleConfig& r, const Value& v) { r.max_growth_percent = as<double>(v); }, "growth"),
      rule_key(
          "window", Type::kDuration, 10'000, 30 * 86'400'000ll, "a duration from 10s to 30d: the points fitted",
          [](RuleConfig& r, const Value& v) { r.window = as<Millis>(v); }, "forecast"),
      rule_key(
          "horizon", Type::kDuration, 1000, 365 * 86'400'000ll,
          "a duration from 1s to 365d: fire when the limit is reached within it",
          [](RuleConfig& r, const Value& v) { r.horizon = as<Millis>(v); }, "forecast"),
      rule_key(
          "limit", Type::kLimit, 0, kNoMax,
          "a number, or cgroup_memory_limit, fd_limit, disk_size, or a metric name (its newest value)",
          [](RuleConfig& r, const Value& v) { r.limit = as<std::string>(v); }, "forecast"),
      rule_key("severity", Type::kString, 1, 32, "e.g. \"critical\", \"warning\", \"info\"",
               [](RuleConfig& r, const Value& v) { r.severity = as<std::string>(v); }),
      rule_key("labels", Type::kStringMap, 0, 0, "a table of labels added to the alert, e.g. { team = \"web\" }",
               [](RuleConfig& r, const Value& v) { r.labels = as<StringPairs>(v); }),
      rule_key("annotations", Type::kStringMap, 0, 0,
               "a table such as { summary = \"...\", description = \"...\", runbook_url = \"...\" } with "
               "{{value}}, {{threshold}}, {{target}}, {{check}}, {{reason}}",
               [](RuleConfig& r, const Value& v) { r.annotations = as<StringPairs>(v); }),
  };
  return keys;
}

struct Section {
  const char* name;
  const std::vector<KeySpec>& (*keys)();
  bool array;  // [[name]] rather than [name]
};

const Section kSections[] = {
    {"daemon", daemon_keys, false},        {"store", store_keys, false},     {"host", host_keys, false},
    {"target", target_keys, true},         {"check", check_keys, true},      {"alerting", alerting_keys, false},
    {"alertmanager", receiver_keys, true}, {"webhook", receiver_keys, true}, {"rule", rule_keys, true},
};

std::vector<std::string> names_of(const std::vector<KeySpec>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.emplace_back(k.name);
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto close = close_matches(word, candidates, 1);
  std::string out;
  if (!close.empty()) out = " (did you mean \"" + close.front() + "\"?)";
  std::string all;
  for (const auto& c : candidates) all += (all.empty() ? "" : ", ") + c;
  return out + "; valid: " + all;
}

const KeySpec* find_key(const std::vector<KeySpec>& keys, std::string_view name) {
  for (const auto& k : keys) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

ConfigLocation location_of(const std::string& file, const toml::source_region& src) {
  return ConfigLocation{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column), {}};
}

// A value as written: a TOML node, or an environment variable's text.
struct Raw {
  const toml::node* node = nullptr;
  std::string text;  // when node == nullptr
};

class Loader {
 public:
  LoadResult result;

  void error(ConfigErrorKind kind, ConfigLocation where, std::string key, std::string message) {
    result.errors.push_back({kind, std::move(where), std::move(key), std::move(message)});
  }

  // Converts and range-checks one value; reports and returns nullopt when bad.
  std::optional<Value> convert(const KeySpec& spec, const Raw& raw, const ConfigLocation& where,
                               const std::string& key) {
    auto wrong_type = [&](const char* got) {
      error(ConfigErrorKind::kWrongType, where, key,
            std::string("expected ") + expected_type(spec.type) + ", got " + got + "; valid: " + spec.valid);
      return std::nullopt;
    };
    const bool from_env = raw.node == nullptr;
    if (is_structured(spec.type)) {
      if (!from_env) return convert_structured(spec, *raw.node, where, key);
      // From the environment, a list or table is written as TOML:
      // VIGIL_CHECK_..._COMMAND='["/bin/check", "-w", "5"]'.
      toml::table parsed;
      try {
        parsed = toml::parse("v = " + raw.text);
      } catch (const toml::parse_error& e) {
        error(ConfigErrorKind::kBadValue, where, key,
              "\"" + raw.text + "\" is not a TOML value (" + std::string(e.description()) + "); valid: " + spec.valid);
        return std::nullopt;
      }
      return convert_structured(spec, *parsed.get("v"), where, key);
    }
    if (spec.type == Type::kSize && !from_env && raw.node->is_integer()) {
      std::int64_t n = *raw.node->value<std::int64_t>();
      return check_range(spec, where, key, Value(static_cast<std::uint64_t>(std::max<std::int64_t>(n, 0))), n);
    }
    const bool numeric = spec.type == Type::kNumber || spec.type == Type::kPercent || spec.type == Type::kLimit;
    if (numeric && !from_env && (raw.node->is_integer() || raw.node->is_floating_point())) {
      double d = raw.node->is_integer() ? static_cast<double>(*raw.node->value<std::int64_t>())
                                        : *raw.node->value<double>();
      if (spec.type == Type::kLimit) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", d);
        return check_number(spec, where, key, Value(std::string(buf)), d, true);
      }
      return check_number(spec, where, key, Value(d), d, spec.type == Type::kPercent);
    }
    std::string text;
    if (!from_env) {
      if (spec.type == Type::kBool) {
        if (auto b = raw.node->value<bool>(); raw.node->is_boolean()) return Value(*b);
        return wrong_type(toml_type_name(*raw.node));
      }
      if (spec.type == Type::kCount) {
        if (!raw.node->is_integer()) return wrong_type(toml_type_name(*raw.node));
        std::int64_t n = *raw.node->value<std::int64_t>();
        return check_range(spec, where, key, Value(n), n);
      }
      if (!raw.node->is_string()) return wrong_type(toml_type_name(*raw.node));
      text = *raw.node->value<std::string>();
    } else {
      text = raw.text;
    }
    switch (spec.type) {
      case Type::kBool: {
        if (text == "true" || text == "1" || text == "yes") return Value(true);
        if (text == "false" || text == "0" || text == "no") return Value(false);
        error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not a boolean; valid: " + spec.valid);
        return std::nullopt;
      }
      case Type::kCount: {
        auto n = to_i64(trim(text));
        if (!n) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not an integer; valid: " + spec.valid);
          return std::nullopt;
        }
        return check_range(spec, where, key, Value(*n), *n);
      }
      case Type::kDuration: {
        auto d = parse_duration(text);
        if (!d) {
          error(ConfigErrorKind::kBadValue, where, key, d.error().message + "; valid: " + spec.valid);
          return std::nullopt;
        }
        return check_range(spec, where, key, Value(*d), d->count());
      }
      case Type::kLogLevel: {
        LogLevel level;
        if (!parse_log_level(text, &level)) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not a log level; valid: " + spec.valid);
          return std::nullopt;
        }
        return Value(level);
      }
      case Type::kRegex: {
        try {
          std::regex re(text, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          error(ConfigErrorKind::kBadValue, where, key,
                "\"" + text + "\" is not a valid regular expression (" + e.what() + "); valid: " + spec.valid);
          return std::nullopt;
        }
        if (text.empty()) {
          error(ConfigErrorKind::kBadValue, where, key, "an empty pattern matches every process; valid: " + std::string(spec.valid));
          return std::nullopt;
        }
        return Value(text);
      }
      case Type::kPath:
      case Type::kText:
        if (text.empty()) {
          error(ConfigErrorKind::kBadValue, where, key, std::string("empty; valid: ") + spec.valid);
          return std::nullopt;
        }
        if (text.find('\0') != std::string::npos) {
          error(ConfigErrorKind::kBadValue, where, key, "contains a NUL byte");
          return std::nullopt;
        }
        return Value(text);
      case Type::kSize: {
        auto n = parse_size(text);
        if (!n) {
          error(ConfigErrorKind::kBadValue, where, key, n.error().message + "; valid: " + spec.valid);
          return std::nullopt;
        }
        return check_range(spec, where, key, Value(static_cast<std::uint64_t>(*n)), static_cast<std::int64_t>(*n));
      }
      case Type::kUrl: {
        if (auto problem = url_problem(text)) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\": " + *problem + "; valid: " + spec.valid);
          return std::nullopt;
        }
        return Value(text);
      }
      case Type::kNumber:
      case Type::kPercent: {
        std::string_view t = trim(text);
        if (spec.type == Type::kPercent && !t.empty() && t.back() == '%') t = trim(t.substr(0, t.size() - 1));
        auto d = parse_number(t);
        if (!d) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not a number; valid: " + spec.valid);
          return std::nullopt;
        }
        return check_number(spec, where, key, Value(*d), *d, spec.type == Type::kPercent);
      }
      case Type::kLimit: {
        std::string t(trim(text));
        if (t.empty()) {
          error(ConfigErrorKind::kBadValue, where, key, std::string("empty; valid: ") + spec.valid);
          return std::nullopt;
        }
        if (auto d = parse_number(t)) return check_number(spec, where, key, Value(t), *d, true);
        return Value(t);
      }
      case Type::kStringList:
      case Type::kStringMap:
      case Type::kStatusList:
        break;  // handled above
      case Type::kString: {
        auto len = static_cast<std::int64_t>(text.size());
        bool chars_ok = std::all_of(text.begin(), text.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        });
        if (len < spec.min || len > spec.max || !chars_ok) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not allowed; valid: " + spec.valid);
          return std::nullopt;
        }
        return Value(text);
      }
    }
    return std::nullopt;
  }

  void read_file(const std::string& path, bool required) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (required) error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", "no such file");
      return;
    }
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      error(ConfigErrorKind::kSyntax, location_of(path, e.source()), "",
            std::string(e.description()));
      return;
    } catch (const std::exception& e) {
      error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", e.what());
      return;
    }
    result.config.files.push_back(path);
    for (auto&& [k, node] : root) {
      std::string name(k.str());
      const Section* section = nullptr;
      for (const auto& s : kSections) {
        if (name == s.name) section = &s;
      }
      if (section == nullptr) {
        std::vector<std::string> names;
        for (const auto& s : kSections) names.emplace_back(s.name);
        error(ConfigErrorKind::kUnknownKey, location_of(path, k.source()), name,
              "unknown section" + did_you_mean(name, names));
        continue;
      }
      if (section->array) {
        const toml::array* arr = node.as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) {
          error(ConfigErrorKind::kWrongType, location_of(path, node.source()), name,
                std::string("expected an array of tables ([[") + name + "]]), got " + toml_type_name(node));
          continue;
        }
        for (const auto& element : *arr) {
          if (name == "check") {
            read_check(path, *element.as_table(), nullptr);
          } else if (name == "alertmanager" || name == "webhook") {
            read_receiver(path, *element.as_table(), name);
          } else if (name == "rule") {
            read_rule(path, *element.as_table());
          } else {
            read_target(path, *element.as_table());
          }
        }
      } else {
        const toml::table* table = node.as_table();
        if (table == nullptr) {
          error(ConfigErrorKind::kWrongType, location_of(path, node.source()), name,
                std::string("expected a table ([") + name + "]), got " + toml_type_name(node));
          continue;
        }
        for (auto&& [key, value] : *table) {
          std::string key_name(key.str());
          std::string dotted = name + "." + key_name;
          const KeySpec* spec = find_key(section->keys(), key_name);
          if (spec == nullptr) {
            error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
                  "unknown key" + did_you_mean(key_name, names_of(section->keys())));
            continue;
          }
          if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
            spec->set_global(result.config, *v);
          }
        }
      }
    }
  }

  void read_target(const std::string& path, const toml::table& table) {
    TargetConfig target;
    target.where = location_of(path, table.source());
    std::string label = "target";
    if (auto n = table["name"].value<std::string>()) label = "target[" + *n + "]";
    for (auto&& [key, value] : table) {
      std::string key_name(key.str());
      std::string dotted = label + "." + key_name;
      if (key_name == "check") {
        const toml::array* arr = value.as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) {
          error(ConfigErrorKind::kWrongType, location_of(path, value.source()), dotted,
                std::string("expected an array of tables ([[target.check]]), got ") + toml_type_name(value));
          continue;
        }
        const std::string target_name = table["name"].value_or(std::string());
        for (const auto& element : *arr) read_check(path, *element.as_table(), &target_name);
        continue;
      }
      if (key_name == "remediate") {
        const toml::table* sub = value.as_table();
        if (sub == nullptr) {
          error(ConfigErrorKind::kWrongType, location_of(path, value.source()), dotted,
                std::string("expected a table ([target.remediate]), got ") + toml_type_name(value));
          continue;
        }
        RemediateConfig rem;
        rem.where = location_of(path, sub->source());
        for (auto&& [rkey, rvalue] : *sub) {
          std::string rname(rkey.str());
          const KeySpec* spec = find_key(remediate_keys(), rname);
          if (spec == nullptr) {
            error(ConfigErrorKind::kUnknownKey, location_of(path, rkey.source()), dotted + "." + rname,
                  "unknown key" + did_you_mean(rname, names_of(remediate_keys())));
            continue;
          }
          if (auto v = convert(*spec, Raw{&rvalue, {}}, location_of(path, rvalue.source()), dotted + "." + rname)) {
            if ((rname == "signal") && signal_number(as<std::string>(*v)) == 0) {
              error(ConfigErrorKind::kBadValue, location_of(path, rvalue.source()), dotted + "." + rname,
                    "\"" + as<std::string>(*v) + "\" is not a signal; valid: " + spec->valid);
              continue;
            }
            spec->set_remediate(rem, *v);
          }
        }
        target.remediate = std::move(rem);
        continue;
      }
      const KeySpec* spec = find_key(target_keys(), key_name);
      if (spec == nullptr) {
        error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
              "unknown key" + did_you_mean(key_name, with_check(names_of(target_keys()))));
        continue;
      }
      if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
        if (key_name == "stop_signal" && signal_number(as<std::string>(*v)) == 0) {
          error(ConfigErrorKind::kBadValue, location_of(path, value.source()), dotted,
                "\"" + as<std::string>(*v) + "\" is not a signal; valid: " + spec->valid);
          continue;
        }
        spec->set_target(target, *v);
      }
    }
    if (!table.contains("name")) {
      error(ConfigErrorKind::kMissingKey, target.where, "target.name",
            "every [[target]] needs a name (1 to 64 characters of [A-Za-z0-9_.-])");
    }
    // A finder key that was written but invalid already has its error; do
    // not add "says nothing about how to find its processes" on top.
    if (table.contains("start")) table_wrote_start_.insert(result.config.targets.size());
    for (const char* key : {"stop_signal", "stop_timeout"}) {
      if (table.contains(key) && !table.contains("start")) {
        result.warnings.push_back({ConfigErrorKind::kConflict, location_of(path, table[key].node()->source()),
                                   label + "." + key,
                                   "has no effect: vigild stops only the processes it starts (start = [...])"});
      }
    }
    bool wrote_finder = table.contains("pidfile") || table.contains("match") || table.contains("pid") ||
                        table.contains("systemd_unit") || table.contains("start");
    if (wrote_finder && !target.pidfile && !target.match && !target.pid && !target.systemd_unit &&
        target.start.empty()) {
      invalid_finder_.insert(result.config.targets.size());
    }
    result.config.targets.push_back(std::move(target));
  }

  // `[[check]]` (target_name null: `target` is required) or
  // `[[target.check]]` (the enclosing target's name; `target` not allowed).
  void read_check(const std::string& path, const toml::table& table, const std::string* target_name) {
    CheckConfig check;
    check.where = location_of(path, table.source());
    std::map<std::string, ConfigLocation> written;  // every key written, valid or not
    if (target_name != nullptr) check.target = *target_name;
    std::string label = "check";
    if (auto n = table["name"].value<std::string>()) label = "check[" + *n + "]";
    for (auto&& [key, value] : table) {
      std::string key_name(key.str());
      std::string dotted = label + "." + key_name;
      const KeySpec* spec = find_key(check_keys(), key_name);
      if (spec == nullptr || (target_name != nullptr && key_name == "target")) {
        error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
              spec == nullptr ? "unknown key" + did_you_mean(key_name, names_of(check_keys()))
                              : "a [[target.check]] belongs to its target: remove \"target\"");
        continue;
      }
      const std::string kind = table["kind"].value_or(std::string());
      if (!applies(*spec, kind)) {
        error(ConfigErrorKind::kConflict, location_of(path, key.source()), dotted,
              "\"" + key_name + "\" does not apply to kind " + kind + " (it is for " + spec->kinds + ")");
        continue;
      }
      written[key_name] = location_of(path, key.source());
      if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
        spec->set_check(check, *v);
      }
    }
    for (const char* required : {"name", "kind"}) {
      if (!table.contains(required)) {
        error(ConfigErrorKind::kMissingKey, check.where, label + "." + required,
              std::string("every check needs a ") + required);
      }
    }
    if (target_name == nullptr && !table.contains("target")) {
      error(ConfigErrorKind::kMissingKey, check.where, label + ".target",
            "a [[check]] names the target it belongs to (or write it as [[target.check]])");
    }
    result.config.checks.push_back(std::move(check));
    check_keys_at_.push_back(std::move(written));
  }

  void read_receiver(const std::string& path, const toml::table& table, const std::string& kind) {
    ReceiverConfig r;
    r.kind = kind;
    r.where = location_of(path, table.source());
    std::string label = kind;
    if (auto n = table["name"].value<std::string>()) label = kind + "[" + *n + "]";
    for (auto&& [key, value] : table) {
      std::string key_name(key.str());
      std::string dotted = label + "." + key_name;
      const KeySpec* spec = find_key(receiver_keys(), key_name);
      if (spec == nullptr) {
        error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
              "unknown key" + did_you_mean(key_name, names_of(receiver_keys())));
        continue;
      }
      if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
        spec->set_receiver(r, *v);
      }
    }
    if (!table.contains("url")) {
      error(ConfigErrorKind::kMissingKey, r.where, label + ".url",
            kind == "alertmanager" ? "an [[alertmanager]] needs its url, e.g. \"http://127.0.0.1:9093\""
                                   : "a [[webhook]] needs the url to post to");
    }
    result.config.receivers.push_back(std::move(r));
  }

  void read_rule(const std::string& path, const toml::table& table) {
    RuleConfig r;
    r.where = location_of(path, table.source());
    std::map<std::string, ConfigLocation> written;
    std::string label = "rule";
    if (auto n = table["name"].value<std::string>()) label = "rule[" + *n + "]";
    const std::string kind = table["kind"].value_or(std::string());
    for (auto&& [key, value] : table) {
      std::string key_name(key.str());
      std::string dotted = label + "." + key_name;
      const KeySpec* spec = find_key(rule_keys(), key_name);
      if (spec == nullptr) {
        error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
              "unknown key" + did_you_mean(key_name, names_of(rule_keys())));
        continue;
      }
      if (!applies_to_rule(*spec, kind)) {
        error(ConfigErrorKind::kConflict, location_of(path, key.source()), dotted,
              "\"" + key_name + "\" does not apply to kind " + kind + " (it is for " + spec->kinds + ")");
        continue;
      }
      written[key_name] = location_of(path, value.source());
      if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
        spec->set_rule(r, *v);
      }
    }
    for (const char* required : {"name", "kind"}) {
      if (!table.contains(required)) {
        error(ConfigErrorKind::kMissingKey, r.where, label + "." + required,
              std::string("every [[rule]] needs a ") + required);
      }
    }
    result.config.rules.push_back(std::move(r));
    rule_keys_at_.push_back(std::move(written));
  }

  static bool applies_to_rule(const KeySpec& spec, const std::string& kind) {
    static const std::set<std::string> kKnown = {"check", "threshold", "growth", "forecast", "absence"};
    if (spec.kinds == nullptr || !kKnown.count(kind)) return true;
    for (auto k : split(spec.kinds, ',')) {
      if (k == kind) return true;
    }
    return false;
  }

  static bool is_label_name(std::string_view s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  }

  static bool is_metric_name(std::string_view s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; });
  }

  void validate_alerting() {
    auto& cfg = result.config;
    std::map<std::string, int> per_kind;
    std::map<std::string, const ReceiverConfig*> names;
    for (auto& r : cfg.receivers) {
      const int n = ++per_kind[r.kind];
      if (r.name.empty()) r.name = r.kind + "-" + std::to_string(n);
      const std::string label = r.kind + "[" + r.name + "]";
      auto [it, inserted] = names.emplace(r.name, &r);
      if (!inserted) {
        error(ConfigErrorKind::kDuplicateName, r.where, label + ".name",
              "receiver name \"" + r.name + "\" is already used at " + it->second->where.describe() +
                  "; set name = \"...\" on one of them");
      }
      if (!r.username.empty() && r.password_file.empty()) {
        error(ConfigErrorKind::kMissingKey, r.where, label + ".password_file",
              "username is set but password_file is not");
      }
      if (!r.password_file.empty() && r.username.empty()) {
        error(ConfigErrorKind::kMissingKey, r.where, label + ".username", "password_file is set but username is not");
      }
      if (!r.username.empty() && !r.bearer_token_file.empty()) {
        error(ConfigErrorKind::kConflict, r.where, label,
              "basic auth (username) and bearer_token_file exclude each other");
      }
      if (!r.client_key.empty() && r.client_cert.empty()) {
        error(ConfigErrorKind::kMissingKey, r.where, label + ".client_cert",
              "client_key is set but client_cert is not");
      }
    }
    static const std::vector<std::string> kKinds = {"check", "threshold", "growth", "forecast", "absence"};
    static const std::set<std::string> kTemplateNames = {"value",  "threshold", "target",   "check",
                                                         "reason", "metric",    "instance", "alertname"};
    std::map<std::string, const RuleConfig*> rule_names;
    for (std::size_t i = 0; i < cfg.rules.size(); ++i) {
      RuleConfig& r = cfg.rules[i];
      const auto& written = rule_keys_at_[i];
      const std::string label = r.name.empty() ? std::string("rule") : "rule[" + r.name + "]";
      auto at = [&](const std::string& key) {
        auto it = written.find(key);
        return it == written.end() ? r.where : it->second;
      };
      auto bad = [&](const std::string& key, std::string message) {
        error(ConfigErrorKind::kBadValue, at(key), label + "." + key, std::move(message));
      };
      auto missing = [&](const std::string& key, std::string message) {
        if (!written.count(key)) error(ConfigErrorKind::kMissingKey, r.where, label + "." + key, std::move(message));
      };
      if (!r.name.empty()) {
        if (r.name == kCheckRuleNameForConfig || r.name == kHeartbeatNameForConfig) {
          // A check rule may take the built-in name to restyle it; the heartbeat's is reserved.
          if (r.name == kHeartbeatNameForConfig || r.kind != "check") {
            bad("name", "\"" + r.name + "\" is the name of a built-in alert; choose another");
          }
        }
        auto [it, inserted] = rule_names.emplace(r.name, &r);
        if (!inserted) {
          error(ConfigErrorKind::kDuplicateName, r.where, label + ".name",
                "rule name \"" + r.name + "\" is already used at " + it->second->where.describe());
        }
      }
      if (r.kind.empty()) continue;
      if (std::find(kKinds.begin(), kKinds.end(), r.kind) == kKinds.end()) {
        bad("kind", "unknown kind \"" + r.kind + "\"" + did_you_mean(r.kind, kKinds));
        continue;
      }
      if (r.severity.empty()) r.severity = r.kind == "check" ? "critical" : "warning";
      if (r.kind != "check") {
        if (r.metric.empty()) {
          missing("metric", "a " + r.kind + " rule needs a metric, e.g. \"process_resident_memory_bytes\"");
        } else if (!is_metric_name(r.metric)) {
          bad("metric", "\"" + r.metric + "\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
        }
      }
      for (const auto& [name, value] : r.select) {
        if (!is_label_name(name)) bad("select", "\"" + name + "\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
        if (name == "target" && !r.target.empty()) bad("select", "the target is given twice: use target = \"...\"");
      }
      for (const auto& [name, value] : r.labels) {
        if (!is_label_name(name)) {
          bad("labels", "\"" + name + "\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
        } else if (name == "alertname" || name == "severity" || name == "instance" || name == "job") {
          bad("labels", "\"" + name + "\" is set by vigild" +
                            std::string(name == "severity" ? ": use severity = \"...\"" : "") +
                            (name == "alertname" ? ": it is the rule's name" : ""));
        }
      }
      for (const auto& [name, tmpl] : r.annotations) {
        if (!is_label_name(name)) bad("annotations", "\"" + name + "\" is not an annotation name");
        if (auto v = validate_template(tmpl, kTemplateNames); !v) bad("annotations", name + ": " + v.error().message);
      }
      if (r.kind == "threshold") {
        if (!parse_comparison(r.op)) bad("op", "\"" + r.op + "\" is not one of >, >=, <, <=, ==, !=");
        missing("value", "a threshold rule needs a value to compare with");
      }
      if (r.kind == "forecast") {
        missing("limit", "a forecast rule needs a limit: a number, cgroup_memory_limit, fd_limit or disk_size");
        if (!r.limit.empty() && !parse_number(r.limit) && limit_metric_for(r.limit) == nullptr &&
            !is_metric_name(r.limit)) {
          bad("limit", "\"" + r.limit +
                           "\" is neither a number, nor cgroup_memory_limit, fd_limit, disk_size, "
                           "nor a metric name");
        }
        if (r.horizon.count() > 0 && r.window.count() > 0 && r.window < Millis(60'000) && r.horizon > r.window * 100) {
          result.warnings.push_back({ConfigErrorKind::kOutOfRange, at("horizon"), label + ".horizon",
                                     "horizon " + format_duration(r.horizon) + " is over 100 times window " +
                                         format_duration(r.window) + ": the forecast will be noisy"});
        }
      }
      if (r.kind == "absence" && r.for_duration.count() == 0) {
        if (written.count("for")) {
          bad("for", "an absence rule's for is how long the silence lasts: it must be more than 0s");
        } else {
          missing("for", "an absence rule needs for = \"...\": how long no samples may arrive");
        }
      }
    }
    if (!cfg.rules.empty() && cfg.receivers.empty()) {
      result.warnings.push_back({ConfigErrorKind::kMissingKey, cfg.rules.front().where, "alertmanager",
                                 "rules are configured but no [[alertmanager]] or [[webhook]]: alerts are recorded "
                                 "(vigil alerts) but sent nowhere"});
    }
  }

  void read_environment(char** env) {
    if (env == nullptr) return;
    std::vector<std::string> section_names;
    for (const auto& s : kSections) section_names.emplace_back(s.name);
    for (char** e = env; *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (entry.substr(0, 6) != "VIGIL_") continue;
      auto eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      std::string var(entry.substr(0, eq));
      std::string value(entry.substr(eq + 1));
      std::string rest = var.substr(6);
      ConfigLocation where{{}, 0, 0, var};
      // VIGIL_<SECTION>_<KEY>. Variables whose section is not one of ours
      // (VIGIL_TEST_..., another tool's) are left alone.
      const Section* section = nullptr;
      std::string key_part;
      for (const auto& s : kSections) {
        std::string prefix = env_name_for(s.name) + "_";
        if (rest.rfind(prefix, 0) == 0) {
          section = &s;
          key_part = rest.substr(prefix.size());
        }
      }
      if (section == nullptr) continue;
      if (section->array) {
        if (std::string(section->name) == "check") {
          read_check_env(var, key_part, value);
        } else if (std::string(section->name) == "target") {
          read_target_env(var, key_part, value);
        } else {
          error(ConfigErrorKind::kUnknownKey, where, section->name,
                std::string("[[") + section->name + "]] entries cannot be set from the environment; "
                "write them in the config file or a drop-in in vigil.d/");
        }
        continue;
      }
      std::string key_name = lower(key_part);
      std::string dotted = std::string(section->name) + "." + key_name;
      const KeySpec* spec = find_key(section->keys(), key_name);
      if (spec == nullptr) {
        error(ConfigErrorKind::kUnknownKey, where, dotted,
              "unknown key" + did_you_mean(key_name, names_of(section->keys())));
        continue;
      }
      if (auto v = convert(*spec, Raw{nullptr, value}, where, dotted)) spec->set_global(result.config, *v);
    }
  }

  // VIGIL_TARGET_<NAME>_<KEY>: NAME is the target's env_name_for() spelling.
  // The longest target name that fits wins, so "WEB" and "WEB_GW" coexist.
  void read_target_env(const std::string& var, const std::string& rest, const std::string& value) {
    ConfigLocation where{{}, 0, 0, var};
    TargetConfig* best = nullptr;
    std::size_t best_len = 0;
    for (auto& t : result.config.targets) {
      std::string n = env_name_for(t.name) + "_";
      if (rest.rfind(n, 0) == 0 && n.size() > best_len) {
        best = &t;
        best_len = n.size();
      }
    }
    if (best == nullptr || t_key_missing(rest, best_len)) {
      std::vector<std::string> names;
      for (const auto& t : result.config.targets) names.push_back(env_name_for(t.name));
      error(ConfigErrorKind::kUnknownKey, where, "target",
            "no configured target matches; write VIGIL_TARGET_<NAME>_<KEY> with NAME one of: " +
                (names.empty() ? std::string("(no targets configured)") : join(names)));
      return;
    }
    std::string key_name = lower(rest.substr(best_len));
    std::string dotted = "target[" + best->name + "]." + key_name;
    const KeySpec* spec = find_key(target_keys(), key_name);
    if (spec == nullptr || key_name == "name") {
      error(ConfigErrorKind::kUnknownKey, where, dotted,
            "unknown or not overridable key" + did_you_mean(key_name, names_of(target_keys())));
      return;
    }
    if (auto v = convert(*spec, Raw{nullptr, value}, where, dotted)) spec->set_target(*best, *v);
  }

  // VIGIL_CHECK_<TARGET>_<CHECK>_<KEY>, each name in its env_name_for()
  // spelling; the longest TARGET_CHECK prefix that fits wins.
  void read_check_env(const std::string& var, const std::string& rest, const std::string& value) {
    ConfigLocation where{{}, 0, 0, var};
    CheckConfig* best = nullptr;
    std::size_t best_len = 0;
    for (auto& c : result.config.checks) {
      std::string n = env_name_for(c.target) + "_" + env_name_for(c.name) + "_";
      if (rest.rfind(n, 0) == 0 && n.size() > best_len) {
        best = &c;
        best_len = n.size();
      }
    }
    if (best == nullptr || t_key_missing(rest, best_len)) {
      std::vector<std::string> names;
      for (const auto& c : result.config.checks) names.push_back(env_name_for(c.target) + "_" + env_name_for(c.name));
      error(ConfigErrorKind::kUnknownKey, where, "check",
            "no configured check matches; write VIGIL_CHECK_<TARGET>_<CHECK>_<KEY> with TARGET_CHECK one of: " +
                (names.empty() ? std::string("(no checks configured)") : join(names)));
      return;
    }
    std::string key_name = lower(rest.substr(best_len));
    std::string dotted = "check[" + best->name + "]." + key_name;
    const KeySpec* spec = find_key(check_keys(), key_name);
    if (spec == nullptr || key_name == "name" || key_name == "target" || key_name == "kind") {
      error(ConfigErrorKind::kUnknownKey, where, dotted,
            "unknown or not overridable key" + did_you_mean(key_name, names_of(check_keys())));
      return;
    }
    if (!applies(*spec, best->kind)) {
      error(ConfigErrorKind::kConflict, where, dotted,
            "\"" + key_name + "\" does not apply to kind " + best->kind + " (it is for " + spec->kinds + ")");
      return;
    }
    check_keys_at_[static_cast<std::size_t>(best - result.config.checks.data())][key_name] = where;
    if (auto v = convert(*spec, Raw{nullptr, value}, where, dotted)) spec->set_check(*best, *v);
  }

  static bool applies(const KeySpec& spec, const std::string& kind) {
    static const std::set<std::string> kKnown = {"tcp", "http", "exec", "redis", "postgres", "prometheus"};
    if (spec.kinds == nullptr || !kKnown.count(kind)) return true;  // an unknown kind is reported on its own
    for (auto k : split(spec.kinds, ',')) {
      if (k == kind) return true;
    }
    return false;
  }

  void validate() {
    auto& cfg = result.config;
    std::map<std::string, const TargetConfig*> seen;
    for (std::size_t i = 0; i < cfg.targets.size(); ++i) {
      TargetConfig& t = cfg.targets[i];
      std::string label = "target[" + t.name + "]";
      if (!t.name.empty()) {
        auto [it, inserted] = seen.emplace(t.name, &t);
        if (!inserted) {
          error(ConfigErrorKind::kDuplicateName, t.where, label + ".name",
                "target name \"" + t.name + "\" is already used at " + it->second->where.describe());
        }
      }
      int ways = (t.pidfile ? 1 : 0) + (t.match ? 1 : 0) + (t.pid ? 1 : 0) + (t.systemd_unit ? 1 : 0) +
                 (t.start.empty() ? 0 : 1);
      if (ways == 0 && !invalid_finder_.count(i)) {
        error(ConfigErrorKind::kMissingKey, t.where, label,
              "says nothing about how to find its processes: set one of pidfile, match, pid, systemd_unit or start");
      } else if (ways > 1) {
        error(ConfigErrorKind::kConflict, t.where, label,
              "pidfile, match, pid, systemd_unit and start exclude each other: set exactly one");
      }
      if (table_wrote_start_.count(i) && t.start.empty()) {
        error(ConfigErrorKind::kBadValue, t.where, label + ".start",
              "an empty command: write the program and its arguments, e.g. [\"/usr/local/bin/worker\"]");
      } else if (!t.start.empty() && t.start[0].empty()) {
        error(ConfigErrorKind::kBadValue, t.where, label + ".start", "the program (the first element) is empty");
      }
      if (t.stop_signal == 0) {
        error(ConfigErrorKind::kBadValue, t.where, label + ".stop_signal", "not a signal; valid: e.g. \"SIGTERM\"");
      }
      if (t.systemd_unit && t.systemd_unit->find('.') == std::string::npos) {
        error(ConfigErrorKind::kBadValue, t.where, label + ".systemd_unit",
              "\"" + *t.systemd_unit + "\" is not a unit name: write it with its type, e.g. \"" + *t.systemd_unit +
                  ".service\"");
      }
      if (t.cgroup && t.cgroup->front() != '/') {
        error(ConfigErrorKind::kBadValue, t.where, label + ".cgroup",
              "\"" + *t.cgroup + "\" must be an absolute cgroup path such as \"/system.slice/gateway.service\"");
      }
    }
    validate_checks();
    validate_alerting();
    validate_remediation();
    if (cfg.daemon.flush_interval > cfg.daemon.interval * 60) {
      result.warnings.push_back({ConfigErrorKind::kOutOfRange, {}, "daemon.flush_interval",
                                 "flush_interval " + format_duration(cfg.daemon.flush_interval) +
                                     " is far longer than interval: a crash loses that much data"});
    }
  }

  // depends_on names targets (no cycle); [target.remediate] names actions it
  // can run, triggers that exist, and the keys each action needs.
  void validate_remediation() {
    auto& cfg = result.config;
    std::map<std::string, const TargetConfig*> by_name;
    for (const auto& t : cfg.targets) by_name.emplace(t.name, &t);
    std::vector<std::string> target_names;
    for (const auto& t : cfg.targets) target_names.push_back(t.name);
    for (auto& t : cfg.targets) {
      const std::string label = "target[" + t.name + "]";
      for (const auto& d : t.depends_on) {
        if (d == t.name) {
          error(ConfigErrorKind::kBadValue, t.where, label + ".depends_on", "a target cannot depend on itself");
        } else if (!by_name.count(d)) {
          error(ConfigErrorKind::kBadValue, t.where, label + ".depends_on",
                "no target named \"" + d + "\"" + did_you_mean(d, target_names));
        }
      }
      if (!t.remediate) continue;
      RemediateConfig& r = *t.remediate;
      const std::string rl = label + ".remediate";
      static const std::vector<std::string> kActions = {"restart", "signal", "exec", "http"};
      if (r.actions.empty()) error(ConfigErrorKind::kBadValue, r.where, rl + ".actions", "needs at least one action");
      for (const auto& a : r.actions) {
        if (std::find(kActions.begin(), kActions.end(), a) == kActions.end()) {
          error(ConfigErrorKind::kBadValue, r.where, rl + ".actions",
                "unknown action \"" + a + "\"" + did_you_mean(a, kActions) +
                    "; valid: restart, signal, exec, http");
        } else if (a == "restart" && !t.can_restart()) {
          error(ConfigErrorKind::kConflict, r.where, rl + ".actions",
                "restart needs a way to start the target again: give it systemd_unit or start, not " +
                    std::string(t.pidfile ? "pidfile" : t.match ? "match" : "pid"));
        } else if (a == "signal" && r.signal == 0) {
          error(ConfigErrorKind::kMissingKey, r.where, rl + ".signal",
                "the signal action needs signal = \"SIGUSR1\" (or another signal)");
        } else if (a == "exec" && r.exec.empty()) {
          error(ConfigErrorKind::kMissingKey, r.where, rl + ".exec",
                "the exec action needs exec = [\"/path/to/program\", \"arg\"]");
        } else if (a == "http" && r.url.empty()) {
          error(ConfigErrorKind::kMissingKey, r.where, rl + ".url", "the http action needs url = \"http://...\"");
        }
      }
      if (r.backoff > r.max_backoff) {
        error(ConfigErrorKind::kOutOfRange, r.where, rl + ".backoff",
              "backoff " + format_duration(r.backoff) + " is longer than max_backoff " +
                  format_duration(r.max_backoff));
      }
      std::vector<std::string> valid = {"crash"};
      for (const auto& c : cfg.checks) {
        if (c.target == t.name) valid.push_back(c.name);
      }
      const std::size_t check_count = valid.size() - 1;
      for (const auto& rule : cfg.rules) valid.push_back(rule.name);
      if (!r.written_on) {
        r.on.assign(valid.begin() + 1, valid.begin() + 1 + static_cast<std::ptrdiff_t>(check_count));
        // A unit's crashes are systemd's to restart (Restart=); vigild
        // records them, and acts on them only when told to ("crash").
        if (!t.start.empty()) r.on.push_back("crash");
        if (r.on.empty()) {
          error(ConfigErrorKind::kMissingKey, r.where, rl + ".on",
                "nothing triggers it: the target has no check; write on = [\"crash\"] or add a [[target.check]]");
        }
      }
      if (r.written_on && r.on.empty()) {
        error(ConfigErrorKind::kBadValue, r.where, rl + ".on",
              "an empty list: nothing would trigger an action; remove [target.remediate] or name a trigger");
      }
      if (std::count(valid.begin() + 1, valid.end(), "crash") > 0) {
        error(ConfigErrorKind::kConflict, r.where, rl + ".on",
              "a check or rule named \"crash\" cannot be told from the crash trigger: rename it");
      }
      for (const auto& trigger : r.on) {
        if (std::find(valid.begin(), valid.end(), trigger) == valid.end()) {
          error(ConfigErrorKind::kBadValue, r.where, rl + ".on",
                "\"" + trigger + "\" is neither \"crash\", a check of " + t.name + " nor a rule" +
                    did_you_mean(trigger, valid));
        }
      }
    }
    // Cycles: a target that (transitively) depends on itself would never be restarted.
    std::map<std::string, int> mark;  // 0 new, 1 on the path, 2 done
    std::function<bool(const std::string&)> cyclic = [&](const std::string& name) {
      int& m = mark[name];
      if (m == 1) return true;
      if (m == 2) return false;
      m = 1;
      auto it = by_name.find(name);
      if (it != by_name.end()) {
        for (const auto& d : it->second->depends_on) {
          if (d != name && cyclic(d)) return true;
        }
      }
      mark[name] = 2;
      return false;
    };
    for (const auto& t : cfg.targets) {
      if (mark[t.name] == 0 && cyclic(t.name)) {
        error(ConfigErrorKind::kBadValue, t.where, "target[" + t.name + "].depends_on",
              "depends_on forms a cycle through " + t.name);
      }
    }
  }

  void validate_checks() {
    auto& cfg = result.config;
    static const std::vector<std::string> kKinds = {"tcp", "http", "exec", "redis", "postgres", "prometheus"};
    std::map<std::pair<std::string, std::string>, const CheckConfig*> seen;
    for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
      const CheckConfig& c = cfg.checks[i];
      const auto& written = check_keys_at_[i];
      const std::string label = "check[" + c.name + "]";
      // Problems are reported where the key was written, else at the check.
      auto at = [&](const std::string& key) {
        auto it = written.find(key);
        return it == written.end() ? c.where : it->second;
      };
      auto bad = [&](const std::string& key, std::string message) {
        error(ConfigErrorKind::kBadValue, at(key), label + "." + key, std::move(message));
      };
      // A key written with a bad value has its error already.
      auto missing = [&](const std::string& key, std::string message) {
        if (!written.count(key)) error(ConfigErrorKind::kMissingKey, c.where, label + "." + key, std::move(message));
      };
      auto warn = [&](const std::string& key, std::string message) {
        result.warnings.push_back({ConfigErrorKind::kBadValue, at(key), label + "." + key, std::move(message)});
      };
      if (!c.name.empty() && !c.target.empty()) {
        auto [it, inserted] = seen.emplace(std::make_pair(c.target, c.name), &c);
        if (!inserted) {
          error(ConfigErrorKind::kDuplicateName, c.where, label + ".name",
                "target " + c.target + " already has a check \"" + c.name + "\" at " + it->second->where.describe());
        }
      }
      if (c.kind.empty()) continue;  // reported as missing
      if (std::find(kKinds.begin(), kKinds.end(), c.kind) == kKinds.end()) {
        bad("kind", "unknown kind \"" + c.kind + "\"" + did_you_mean(c.kind, kKinds));
        continue;
      }
      if (c.kind == "tcp" || c.kind == "redis" || c.kind == "postgres") {
        const char* example = c.kind == "redis" ? "127.0.0.1:6379" : c.kind == "postgres" ? "127.0.0.1:5432" : "127.0.0.1:22";
        if (c.address.empty()) {
          missing("address", "a " + c.kind + " check needs an address, e.g. \"" + example + "\"");
        } else if (auto a = parse_tcp_address(c.address); !a) {
          bad("address", a.error().message);
        }
      }
      if (c.kind == "redis" && !c.username.empty() && c.password_file.empty()) {
        missing("password_file", "a username needs a password_file for AUTH");
      }
      if (c.kind == "http" || c.kind == "prometheus") {
        if (c.url.empty()) missing("url", "an " + c.kind + " check needs a url, e.g. \"http://127.0.0.1:8080/health\"");
        if (!std::all_of(c.method.begin(), c.method.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
          bad("method", "\"" + c.method + "\" is not an HTTP method: upper-case letters, e.g. \"GET\"");
        }
        if (!c.expect_body_regex.empty()) {
          regex_t re;
          int rc = regcomp(&re, c.expect_body_regex.c_str(), REG_EXTENDED | REG_NOSUB);
          if (rc != 0) {
            char buf[256];
            regerror(rc, &re, buf, sizeof buf);
            bad("expect_body_regex", "\"" + c.expect_body_regex + "\" is not a POSIX extended regular expression (" +
                                         buf + ")");
          } else {
            regfree(&re);
          }
        }
        for (const auto& h : c.expect_header) {
          std::string_view name = h;
          if (auto colon = name.find(':'); colon != std::string_view::npos) name = name.substr(0, colon);
          name = trim(name);
          bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
          });
          if (!token) bad("expect_header", "\"" + h + "\": write \"Name\" or \"Name: text\"");
        }
        for (const auto& [name, value] : c.headers) {
          if (name.find_first_of(": \t\r\n") != std::string::npos) {
            bad("headers", "\"" + name + "\" is not a header name");
          } else if (trim(value).empty()) {
            bad("headers", "\"" + name + "\" has an empty value, which HTTP clients do not send");
          }
        }
        if (!c.client_key.empty() && c.client_cert.empty()) {
          missing("client_cert", "client_key is set but client_cert is not");
        }
        if (c.connect_timeout && *c.connect_timeout > c.timeout) {
          warn("connect_timeout", "connect_timeout " + format_duration(*c.connect_timeout) +
                                      " is longer than timeout " + format_duration(c.timeout) +
                                      ": the timeout ends the run first");
        }
      }
      if (c.kind == "prometheus" && c.metrics.empty() && written.count("metrics")) {
        bad("metrics", "an empty allow-list keeps nothing: name metrics or globs, or [\"*\"] to keep all");
      } else if (c.kind == "prometheus" && c.metrics.empty()) {
        missing("metrics", "a prometheus check keeps only the metrics it names: set metrics = [\"name\", \"glob_*\"] "
                           "(or [\"*\"] to keep all)");
      }
      if (c.kind == "exec") {
        if (c.command.empty() && written.count("command")) {
          bad("command", "an empty argv: write the program and its arguments, e.g. [\"/usr/bin/true\"]");
        } else if (c.command.empty()) {
          missing("command", "an exec check needs a command: a non-empty argv list, e.g. "
                             "[\"/usr/lib/nagios/plugins/check_disk\", \"-w\", \"10%\", \"-p\", \"/\"]");
        } else if (c.command.front().empty()) {
          bad("command", "the program (the first element) is empty");
        } else if (c.shell && c.command.size() != 1) {
          bad("command", "with shell = true, write the command as one string: [\"a | b\"]");
        } else if (!c.shell && c.command.front().find('/') != std::string::npos &&
                   ::access(c.command.front().c_str(), X_OK) != 0) {
          warn("command", "\"" + c.command.front() + "\" is not an executable file now: the check fails until it is");
        }
        if (!c.cwd.empty() && c.cwd.front() != '/') bad("cwd", "\"" + c.cwd + "\" must be an absolute path");
      }
      // Only when one of them was chosen: the defaults (5s, 1s) are not news.
      if (c.timeout > cfg.check_interval(c) && (written.count("timeout") || written.count("interval"))) {
        result.warnings.push_back({ConfigErrorKind::kOutOfRange, at("timeout"), label + ".timeout",
                                   "timeout " + format_duration(c.timeout) + " is longer than interval " +
                                       format_duration(cfg.check_interval(c)) +
                                       ": a slow answer delays the next run"});
      }
    }
  }

  private:
  static std::vector<std::string> with_check(std::vector<std::string> names) {
    names.emplace_back("check");
    return names;
  }

  std::set<std::size_t> invalid_finder_;  // indexes of targets whose finder key had an error
  std::set<std::size_t> table_wrote_start_;  // indexes of targets that wrote `start` (an empty one is an error)
  std::vector<std::map<std::string, ConfigLocation>> check_keys_at_;  // per check: where each key was written
  std::vector<std::map<std::string, ConfigLocation>> rule_keys_at_;   // per rule: where each key was written
  static constexpr const char* kCheckRuleNameForConfig = "CheckFailed";
  static constexpr const char* kHeartbeatNameForConfig = "VigilHeartbeat";

  static bool is_structured(Type t) {
    return t == Type::kStringList || t == Type::kStringMap || t == Type::kStatusList;
  }

  std::optional<Value> convert_structured(const KeySpec& spec, const toml::node& node, const ConfigLocation& where,
                                          const std::string& key) {
    auto wrong = [&](const std::string& what) {
      error(ConfigErrorKind::kWrongType, where, key, what + "; valid: " + spec.valid);
      return std::nullopt;
    };
    if (spec.type == Type::kStringMap) {
      const toml::table* t = node.as_table();
      if (t == nullptr) return wrong(std::string("expected a table, got ") + toml_type_name(node));
      StringPairs out;
      for (auto&& [k, v] : *t) {
        auto text = v.value<std::string>();
        if (!v.is_string()) return wrong("\"" + std::string(k.str()) + "\" is " + toml_type_name(v) + ", not a string");
        if (k.str().empty() || text->find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
          error(ConfigErrorKind::kBadValue, where, key,
                "\"" + std::string(k.str()) + "\": names must be non-empty and values one line without NUL");
          return std::nullopt;
        }
        out.emplace_back(std::string(k.str()), *text);
      }
      return Value(std::move(out));
    }
    const toml::array* a = node.as_array();
    if (a == nullptr) return wrong(std::string("expected an array, got ") + toml_type_name(node));
    if (spec.type == Type::kStringList) {
      std::vector<std::string> out;
      for (const auto& e : *a) {
        if (!e.is_string()) return wrong(std::string("every element must be a string; got ") + toml_type_name(e));
        out.push_back(*e.value<std::string>());
      }
      return Value(std::move(out));
    }
    StatusRanges out;  // kStatusList
    for (const auto& e : *a) {
      std::string text;
      if (e.is_integer()) {
        text = std::to_string(*e.value<std::int64_t>());
      } else if (e.is_string()) {
        text = *e.value<std::string>();
      } else {
        return wrong(std::string("every element must be a status code or a range; got ") + toml_type_name(e));
      }
      auto range = parse_status_range(text);
      if (!range) {
        error(ConfigErrorKind::kBadValue, where, key,
              "\"" + text + "\" is not a status code (100-599), a range (200-299) or a class (2xx)");
        return std::nullopt;
      }
      out.push_back(*range);
    }
    if (out.empty()) return wrong("an empty list accepts no status");
    return Value(std::move(out));
  }

  static std::optional<std::pair<int, int>> parse_status_range(std::string_view text) {
    auto code = [](std::string_view t) -> std::optional<int> {
      auto n = to_u64(t);
      if (!n || *n < 100 || *n > 599) return std::nullopt;
      return static_cast<int>(*n);
    };
    if (text.size() == 3 && (text.substr(1) == "xx" || text.substr(1) == "XX") && text[0] >= '1' && text[0] <= '5') {
      int base = (text[0] - '0') * 100;
      return std::make_pair(base, base + 99);
    }
    if (auto dash = text.find('-'); dash != std::string_view::npos) {
      auto lo = code(trim(text.substr(0, dash)));
      auto hi = code(trim(text.substr(dash + 1)));
      if (!lo || !hi || *lo > *hi) return std::nullopt;
      return std::make_pair(*lo, *hi);
    }
    auto c = code(trim(text));
    if (!c) return std::nullopt;
    return std::make_pair(*c, *c);
  }

  // Why a URL cannot be used for an http check, or nullopt.
  static std::optional<std::string> url_problem(const std::string& text) {
    std::string why;
    const CurlApi* api = curl_api(&why);
    if (api == nullptr) return "cannot be checked: " + why;
    CURLU* u = api->url();
    if (u == nullptr) return "out of memory";
    std::optional<std::string> problem;
    CURLUcode rc = api->url_set(u, CURLUPART_URL, text.c_str(), 0);
    if (rc != CURLUE_OK) {
      problem = std::string("does not parse (") + api->url_strerror(rc) + ")";
    } else {
      char* scheme = nullptr;
      char* host = nullptr;
      if (api->url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == nullptr ||
          (std::string_view(scheme) != "http" && std::string_view(scheme) != "https")) {
        problem = "the scheme must be http or https";
      } else if (api->url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr || *host == '\0') {
        problem = "no host";
      }
      api->free(scheme);
      api->free(host);
    }
    api->url_cleanup(u);
    return problem;
  }

  static const char* expected_type(Type t) {
    switch (t) {
      case Type::kDuration: return "a duration string";
      case Type::kCount: return "an integer";
      case Type::kBool: return "a boolean";
      case Type::kString: return "a string";
      case Type::kPath: return "a path string";
      case Type::kRegex: return "a regular expression string";
      case Type::kLogLevel: return "a log level string";
      case Type::kText: return "a string";
      case Type::kSize: return "a size string or an integer";
      case Type::kUrl: return "a URL string";
      case Type::kStringList: return "an array of strings";
      case Type::kStringMap: return "a table of strings";
      case Type::kStatusList: return "an array of status codes";
      case Type::kNumber: return "a number";
      case Type::kPercent: return "a percentage";
      case Type::kLimit: return "a number or a limit name";
    }
    return "a value";
  }

  static std::optional<double> parse_number(std::string_view t) {
    if (t.empty()) return std::nullopt;
    std::string s(t);
    char* end = nullptr;
    errno = 0;
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(d)) return std::nullopt;
    return d;
  }

  // Numbers: finite, and within [min, max] when `ranged`.
  std::optional<Value> check_number(const KeySpec& spec, const ConfigLocation& where, const std::string& key, Value v,
                                    double d, bool ranged) {
    if (!std::isfinite(d)) {
      error(ConfigErrorKind::kBadValue, where, key, "not a finite number; valid: " + std::string(spec.valid));
      return std::nullopt;
    }
    if (ranged && (d < static_cast<double>(spec.min) || d > static_cast<double>(spec.max))) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%g", d);
      error(ConfigErrorKind::kOutOfRange, where, key, std::string(buf) + " is out of range; valid: " + spec.valid);
      return std::nullopt;
    }
    return v;
  }

  std::optional<Value> check_range(const KeySpec& spec, const ConfigLocation& where,
                                   const std::string& key, Value v, std::int64_t n) {
    if (n >= spec.min && n <= spec.max) return v;
    const std::string shown =
        spec.type == Type::kDuration ? format_duration(std::get<Millis>(v)) : std::to_string(n);
    error(ConfigErrorKind::kOutOfRange, where, key, shown + " is out of range; valid: " + spec.valid);
    return std::nullopt;
  }

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  static bool t_key_missing(const std::string& rest, std::size_t prefix_len) {
    return rest.size() <= prefix_len;
  }
};

std::vector<std::string> drop_ins(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml" && !entry.is_directory(ec)) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string check_keys_help() {
  // Built from the table the loader uses, so --help cannot drift from it.
  std::string out = "Check keys ([[target.check]] and [[check]]; see vigild(8)):\n  all kinds:";
  for (const auto& k : check_keys()) {
    if (k.kinds == nullptr) out += std::string(" ") + k.name;
  }
  out += "\n";
  for (const char* kind : {"http", "tcp", "exec", "redis", "postgres", "prometheus"}) {
    out += std::string("  ") + kind + ":";
    for (const auto& k : check_keys()) {
      if (k.kinds == nullptr) continue;
      for (auto part : split(k.kinds, ',')) {
        if (part == kind) out += std::string(" ") + k.name;
      }
    }
    out += "\n";
  }
  return out;
}

const char* limit_metric_for(std::string_view limit_name) {
  if (limit_name == "cgroup_memory_limit") return "cgroup_memory_limit_bytes";
  if (limit_name == "fd_limit") return "process_max_fds";
  if (limit_name == "disk_size") return "host_filesystem_size_bytes";
  return nullptr;
}

std::string remediation_keys_help() {
  std::string out = "Target keys ([[target]]; see vigild(8)):";
  for (const auto& k : target_keys()) out += std::string(" ") + k.name;
  out += "\n  [target.remediate]:";
  for (const auto& k : remediate_keys()) out += std::string(" ") + k.name;
  return out + "\n";
}

std::string alerting_keys_help() {
  std::string out = "Alerting keys (see vigild(8)):\n  [alerting]:";
  for (const auto& k : alerting_keys()) out += std::string(" ") + k.name;
  out += "\n  [[alertmanager]], [[webhook]]:";
  for (const auto& k : receiver_keys()) out += std::string(" ") + k.name;
  out += "\n  [[rule]], all kinds:";
  for (const auto& k : rule_keys()) {
    if (k.kinds == nullptr) out += std::string(" ") + k.name;
  }
  out += "\n";
  for (const char* kind : {"check", "threshold", "growth", "forecast", "absence"}) {
    out += std::string("  [[rule]] kind = \"") + kind + "\":";
    for (const auto& k : rule_keys()) {
      if (k.kinds == nullptr) continue;
      for (auto part : split(k.kinds, ',')) {
        if (part == kind) out += std::string(" ") + k.name;
      }
    }
    out += "\n";
  }
  return out;
}

LoadResult load_config(const LoadOptions& options) {
  Loader loader;
  const bool explicit_path = options.path.has_value();
  const std::string main = explicit_path ? *options.path : kDefaultConfigPath;
  loader.read_file(main, explicit_path);
  for (const auto& file : drop_ins(fs::path(main).parent_path() / "vigil.d")) {
    loader.read_file(file, true);
  }
  loader.result.config.defaults_only = loader.result.config.files.empty() && loader.result.errors.empty();
  loader.read_environment(options.environ);
  loader.validate();
  return std::move(loader.result);
}

}  // namespace vigil
