// watchdog/config.hpp: vigild's configuration, loaded and validated.
//
// Sources, later ones winning key by key: the main file
// (/etc/vigil/vigil.toml, or --config PATH), the drop-ins `vigil.d/*.toml`
// next to it in lexical order, then VIGIL_<SECTION>_<KEY> environment
// variables (VIGIL_TARGET_<NAME>_<KEY> for a target's key). `[[target]]`
// entries from several files are concatenated; a name used twice is an
// error. Validation is strict and complete: every problem is reported with
// where it is (file:line:column or the environment variable), the key, and
// what would be valid; a Config is only used when there are no errors.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "core/time.hpp"

namespace vigil {

inline constexpr const char* kDefaultConfigPath = "/etc/vigil/vigil.toml";

struct ConfigLocation {
  std::string file;  // empty for environment variables and built-in defaults
  int line = 0;
  int column = 0;
  std::string env_var;  // set when the value came from the environment

  // "vigil.toml:3:5", "environment variable VIGIL_DAEMON_INTERVAL", "vigil.toml"
  std::string describe() const;
};

// Stable kinds: tests assert these, not message text.
enum class ConfigErrorKind {
  kFile,           // unreadable or missing file named explicitly
  kSyntax,         // TOML syntax error
  kUnknownKey,     // unknown section or key (with "did you mean")
  kWrongType,      // e.g. a number where a duration string is expected
  kBadValue,       // a value that does not parse (duration, size, regex, level)
  kOutOfRange,     // parses but is outside the allowed range
  kDuplicateName,  // two targets with one name
  kMissingKey,     // a required key is absent
  kConflict,       // keys that exclude each other (pidfile and match)
};
const char* to_string(ConfigErrorKind kind);

struct ConfigError {
  ConfigErrorKind kind;
  ConfigLocation where;
  std::string key;  // dotted: "daemon.interval", "target[gateway].match"
  std::string message;

  std::string describe() const;  // "where: key: message"
};

struct DaemonConfig {
  Millis interval{1000};
  std::string state_dir = "/var/lib/vigil";
  Millis flush_interval{1000};
  Millis status_interval{10000};  // how often STATUS= and self metrics refresh
  LogLevel log_level = LogLevel::kInfo;
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
};

struct StoreConfig {
  std::string path;  // empty: <state_dir>/vigil.db
  std::uint64_t queue_capacity = 100000;
};

struct HostConfig {
  bool enabled = true;
  std::optional<Millis> interval;  // default: daemon.interval
  std::string rootfs = "/";        // prefix for statvfs of mount points
};

// [target.remediate]: what vigild does when the target fails, and the
// safety rules around it (watchdog/remediation_policy.hpp).
struct RemediateConfig {
  // Triggers: "crash" (the main process exited), a check of this target,
  // or a [[rule]] name (its alert firing for this target). Default: every
  // check of the target, and "crash" for a target vigild starts.
  std::vector<std::string> on;
  std::vector<std::string> actions = {"restart"};  // the escalation list: restart, signal, exec, http
  int max = 5;
  Millis window{600'000};
  Millis backoff{10'000};
  Millis max_backoff{300'000};
  Millis grace{30'000};
  std::optional<Millis> reset_after;  // default: max_backoff
  bool dry_run = false;
  int signal = 0;                     // the `signal` action's signal (required with it)
  std::vector<std::string> exec;      // the `exec` action's argv (required with it)
  std::string url;                    // the `http` action's URL, POSTed (required with it)
  Millis timeout{60'000};             // each action's limit
  ConfigLocation where;
  bool written_on = false;            // `on` was given (else the default applies)
};

struct TargetConfig {
  std::string name;
  std::optional<std::string> pidfile;
  std::optional<std::string> match;  // ECMAScript regex over the command line
  std::optional<int> pid;
  std::optional<std::string> systemd_unit;  // "gateway.service": found and restarted over D-Bus
  std::vector<std::string> start;           // argv: vigild starts it and is its parent
  std::optional<std::string> cgroup;  // path inside each hierarchy; default: the process's own
  std::optional<Millis> interval;     // default: daemon.interval
  int stop_signal = 15;               // SIGTERM: how a started process is asked to stop
  Millis stop_timeout{10'000};        // then SIGKILL
  std::vector<std::string> depends_on;  // targets that must not be failed for this one to be restarted
  std::optional<RemediateConfig> remediate;
  ConfigLocation where;

  bool can_restart() const { return systemd_unit.has_value() || !start.empty(); }
};

// "SIGUSR1", "USR1", "usr1" or "10": the signal number, or 0.
int signal_number(std::string_view name);
// 10 -> "SIGUSR1".
std::string signal_name(int sig);

// A check: a probe with a schedule and hysteresis (`[[target.check]]`, or
// `[[check]]` with `target = "..."`). Kinds: tcp, http, exec, redis,
// postgres, prometheus. A kind's own keys are refused on another kind.
struct CheckConfig {
  std::string name;
  std::string target;  // the target label of its samples and events
  std::string kind;
  std::optional<Millis> interval;  // default: daemon.interval
  Millis timeout{5000};
  int fail_after = 2;
  int recover_after = 2;
  Millis flap_window{300000};
  int flap_threshold = 6;
  // tcp, redis, postgres
  std::string address;
  // tcp
  std::string send;
  std::string expect;
  // http, prometheus
  std::string url;
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::pair<int, int>> expect_status;  // inclusive ranges; empty: 200-299
  std::string expect_body;                         // substring
  std::string expect_body_regex;                   // POSIX extended regular expression
  std::vector<std::string> expect_header;          // "Name" (present) or "Name: substring"
  std::optional<Millis> connect_timeout;           // default: timeout
  int follow_redirects = 0;
  bool reuse_connection = false;  // keep-alive between runs (cheaper; blind to a stuck accept())
  bool insecure = false;
  std::string ca_file;
  std::string client_cert;
  std::string client_key;
  std::optional<std::uint64_t> max_body;  // default: 1 MiB (http), 8 MiB (prometheus)
  // prometheus
  std::vector<std::string> metrics;  // allow-list: names or globs
  std::int64_t max_samples = 10000;
  // exec
  std::vector<std::string> command;  // argv; with shell = true, one string for /bin/sh -c
  bool shell = false;
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;
  std::uint64_t max_output = 64 * 1024;
  Millis kill_grace{2000};
  bool warning_is_failure = false;
  // redis
  std::string username;
  std::string password_file;
  // postgres
  std::string user = "vigil";
  std::string database = "postgres";
  bool alert = true;  // the check's failure raises an alert (rule CheckFailed or a [[rule]] of kind check)
  ConfigLocation where;

  std::uint64_t body_limit() const { return max_body.value_or(kind == "prometheus" ? 8u << 20 : 1u << 20); }
};

// [alerting]: how alerts are sent.
struct AlertingConfig {
  Millis resend_interval{30000};  // firing alerts are re-sent this often
  bool heartbeat = true;          // the always-firing VigilHeartbeat alert
  std::string instance;           // the instance label; default: the host name
  std::string external_url;       // base of generatorURL; default: none
  Millis stale_after{600000};     // a rule's series silent this long resolves its alert
  Millis timeout{10000};          // default request timeout of receivers
};

// [[alertmanager]] and [[webhook]]: where alerts go.
struct ReceiverConfig {
  std::string kind;  // "alertmanager" or "webhook"
  std::string name;  // default: "<kind>-<n>", n counting from 1 in the order written
  std::string url;   // Alertmanager: its base URL (POST <url>/api/v2/alerts); webhook: the URL posted to
  std::optional<Millis> timeout;  // default: alerting.timeout
  std::optional<bool> resend;     // default: true for alertmanager, false for webhook
  std::string username;           // basic auth, with password_file
  std::string password_file;
  std::string bearer_token_file;
  bool insecure = false;
  std::string ca_file;
  std::string client_cert;
  std::string client_key;
  ConfigLocation where;

  bool resends() const { return resend.value_or(kind == "alertmanager"); }
};

// [[rule]]: turns samples or check states into alerts.
struct RuleConfig {
  std::string name;  // the alertname
  std::string kind;  // check, threshold, growth, forecast, absence
  std::string metric;
  std::string target;  // selects series (or checks) of this target
  std::string check;   // kind check: only this check
  std::vector<std::pair<std::string, std::string>> select;  // more label equalities
  std::string op = ">";
  std::optional<double> value;  // threshold
  Millis for_duration{0};
  Millis max_age{60000};
  Millis baseline{1'800'000};
  double max_growth_percent = 10;
  Millis window{3'600'000};
  Millis horizon{86'400'000};
  std::string limit;  // a number, cgroup_memory_limit, fd_limit, disk_size or a metric name
  std::string severity;  // default: critical for check rules, else warning
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>> annotations;
  ConfigLocation where;
};

struct Config {
  DaemonConfig daemon;
  AlertingConfig alerting;
  std::vector<ReceiverConfig> receivers;
  std::vector<RuleConfig> rules;
  StoreConfig store;
  HostConfig host;
  std::vector<TargetConfig> targets;
  std::vector<CheckConfig> checks;

  std::vector<std::string> files;  // the files read, in order
  bool defaults_only = false;      // no file at the default path

  std::string store_path() const;
  Millis host_interval() const { return host.interval.value_or(daemon.interval); }
  Millis target_interval(const TargetConfig& t) const { return t.interval.value_or(daemon.interval); }
  Millis check_interval(const CheckConfig& c) const { return c.interval.value_or(daemon.interval); }
  std::size_t check_count() const { return checks.size(); }
};

struct LoadOptions {
  std::optional<std::string> path;  // --config; when absent: kDefaultConfigPath, optional
  char** environ = nullptr;         // VIGIL_* overrides; nullptr: none
};

struct LoadResult {
  Config config;
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;
  bool ok() const { return errors.empty(); }
};

LoadResult load_config(const LoadOptions& options);

// The check keys by kind, for --help.
std::string check_keys_help();
// The target and [target.remediate] keys, for --help.
std::string remediation_keys_help();
// The rule and receiver keys, for --help.
std::string alerting_keys_help();

// forecast limit names and the metric each one reads.
const char* limit_metric_for(std::string_view limit_name);

// "VIGIL_TARGET_WEB_GW_PIDFILE" spelling of a target name: upper case,
// anything not [A-Z0-9] as '_'.
std::string env_name_for(std::string_view target_name);

}  // namespace vigil
