// config/config.hpp: vigild's configuration, loaded and validated.
//
// Contract of config/: text in, a typed Config or errors out. Sources,
// later ones winning key by key: the main file (/etc/vigil/vigil.toml, or
// --config PATH), the drop-ins `vigil.d/*.toml` next to it in lexical order,
// then VIGIL_<SECTION>_<KEY> environment variables (VIGIL_TARGET_<NAME>_<KEY>
// for a target's key, VIGIL_CHECK_[<TARGET>_]<CHECK>_<KEY> for a check's).
// `[[target]]`, `[[check]]`, `[[rule]]` and receiver entries from several
// files are concatenated; a name used twice is an error. Validation is
// strict and complete: every problem is reported with where it is
// (file:line:column or the environment variable), the key, and what would
// be valid; a Config is only used when there are no errors. Each section
// has one key table (sections.cpp); check kinds bring theirs
// (probes/checks/kinds.hpp), target kinds theirs (targets.hpp). Nothing here
// runs a probe or opens a socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/keys.hpp"
#include "core/kinds.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "probes/checks/check.hpp"

namespace vigil {

inline constexpr const char* kDefaultConfigPath = "/etc/vigil/vigil.toml";

struct ConfigLocation {
  std::string file;  // empty for environment variables and built-in defaults
  int line = 0;
  int column = 0;
  std::string env_var;  // set when the value came from the environment

  // "vigil.toml:3:5", "environment variable VIGIL_DAEMON_INTERVAL", "vigil.toml"
  std::string describe() const;
  // Where a value was written is not what it means: diff() ignores it.
  bool operator==(const ConfigLocation&) const { return true; }
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

// Each problem's describe(), in order, with a "; valid: ..." list that an
// earlier line already gave shortened to "; valid: as above".
std::vector<std::string> describe_problems(const std::vector<ConfigError>& problems);

struct DaemonConfig {
  Millis interval{1000};
  std::string state_dir = "/var/lib/vigil";
  Millis flush_interval{1000};
  Millis status_interval{10000};  // how often STATUS= and self metrics refresh
  LogLevel log_level = LogLevel::kInfo;
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
  bool operator==(const DaemonConfig&) const = default;
};

struct StoreConfig {
  std::string path;  // empty: <state_dir>/vigil.db
  std::uint64_t queue_capacity = 100000;
  // How long each kind is kept (store/retention.hpp).
  Millis retention_raw{7LL * 86'400'000};
  Millis retention_1m{90LL * 86'400'000};
  Millis retention_1h{730LL * 86'400'000};
  Millis retention_events{90LL * 86'400'000};
  Millis retention_incidents{365LL * 86'400'000};
  std::uint64_t max_size = 0;  // bytes of live pages; 0: no cap
  double min_free_disk = 5;    // percent of the file system
  bool operator==(const StoreConfig&) const = default;
};

// [docker]: the engine the container targets are watched through.
struct DockerConfig {
  std::string socket;    // empty: DOCKER_HOST's unix:// path, else /var/run/docker.sock
  Millis timeout{5000};  // each request to the engine
  DockerAuto auto_targets = DockerAuto::kOff;  // running containers as targets of their own
  bool operator==(const DockerConfig&) const = default;
};

struct HostConfig {
  bool enabled = true;
  std::optional<Millis> interval;  // default: daemon.interval
  std::string rootfs = "/";        // prefix for statvfs of mount points
  bool operator==(const HostConfig&) const = default;
};

// [target.remediate]: what vigild does when the target fails, and the
// safety rules around it (heal/policy.hpp).
struct RemediateConfig {
  // Triggers as written: "crash", a check of this target, or a [[rule]]
  // name (its alert firing for this target). Default: every check of the
  // target, and "crash" for a target vigild starts or a container.
  std::vector<std::string> on;
  std::vector<Trigger> triggers;                             // `on`, resolved by validation
  std::vector<ActionKind> actions = {ActionKind::kRestart};  // the escalation list; the last repeats
  int max = 5;
  Millis window{600'000};
  Millis backoff{10'000};
  Millis max_backoff{300'000};
  Millis grace{30'000};
  std::optional<Millis> reset_after;  // default: max_backoff
  bool dry_run = false;
  int signal = 0;                 // the `signal` action's signal (required with it)
  std::vector<std::string> exec;  // the `exec` action's argv (required with it)
  std::string url;                // the `http` action's URL, POSTed (required with it)
  Millis timeout{60'000};         // each action's limit
  ConfigLocation where;
  bool written_on = false;  // `on` was given (else the default applies)
  // "crash" is in `on` by default, not as written (a container target):
  // vigild then leaves a crash to the service's own restart policy.
  bool crash_implied = false;
  bool operator==(const RemediateConfig&) const = default;
};

// A component vigild watches. How its processes are found is its kind's
// (config/targets.hpp): `finder` holds that kind's settings struct.
struct TargetConfig {
  std::string name;
  TargetKind kind = TargetKind::kPid;
  KindSettings finder;
  std::optional<std::string> cgroup;    // path inside each hierarchy; default: the process's own
  std::optional<Millis> interval;       // default: daemon.interval
  std::vector<std::string> depends_on;  // targets that must not be failed for this one to be restarted
  bool alert = true;                    // the built-in TargetDown alert when its main process is missing
  std::optional<RemediateConfig> remediate;
  ConfigLocation where;

  // vigild can restart it (it starts it, or systemd runs it).
  bool can_restart() const;
  bool operator==(const TargetConfig&) const = default;
};

// A check (`[[target.check]]`, or `[[check]]` with or without `target`).
struct CheckConfig : CheckSpec {
  ConfigLocation where;
  bool operator==(const CheckConfig&) const = default;
};

// [alerting]: how alerts are sent.
struct AlertingConfig {
  Millis resend_interval{30000};  // firing alerts are re-sent this often
  bool heartbeat = true;          // the always-firing VigilHeartbeat alert
  std::string instance;           // the instance label; default: the host name
  std::string external_url;       // base of generatorURL; default: none
  Millis stale_after{600000};     // a rule's series silent this long resolves its alert
  Millis timeout{10000};          // default request timeout of receivers
  bool target_down = true;        // the built-in TargetDown alert of every target (with alert = true)
  Millis target_down_for{0};      // how long a main process must be missing before TargetDown fires
  bool operator==(const AlertingConfig&) const = default;
};

// [[alertmanager]] and [[webhook]]: where alerts go.
struct ReceiverConfig {
  ReceiverKind kind = ReceiverKind::kAlertmanager;
  std::string name;               // default: "<kind>-<n>", n counting from 1 in the order written
  std::string url;                // Alertmanager: its base URL (POST <url>/api/v2/alerts); webhook: the URL posted to
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

  bool resends() const { return resend.value_or(kind == ReceiverKind::kAlertmanager); }
  bool operator==(const ReceiverConfig&) const = default;
};

// [[rule]]: turns samples or check states into alerts.
struct RuleConfig {
  std::string name;  // the alertname
  RuleKind kind = RuleKind::kThreshold;
  std::string metric;
  std::string target;  // selects series (or checks) of this target
  std::string check;   // kind check: only this check
  StringPairs select;  // more label equalities
  Comparison op = Comparison::kGt;
  std::optional<double> value;  // threshold
  Millis for_duration{0};
  Millis max_age{60000};
  Millis baseline{1'800'000};
  double max_growth_percent = 10;
  Millis window{3'600'000};
  Millis horizon{86'400'000};
  std::string limit;     // a number, cgroup_memory_limit, fd_limit, disk_size or a metric name
  std::string severity;  // default: critical for check rules, else warning
  StringPairs labels;
  StringPairs annotations;
  ConfigLocation where;
  bool operator==(const RuleConfig&) const = default;
};

struct Config {
  DaemonConfig daemon;
  AlertingConfig alerting;
  std::vector<ReceiverConfig> receivers;
  std::vector<RuleConfig> rules;
  StoreConfig store;
  HostConfig host;
  DockerConfig docker;
  std::vector<TargetConfig> targets;
  std::vector<CheckConfig> checks;

  std::vector<std::string> files;  // the files read, in order
  bool defaults_only = false;      // no file at the default path

  std::string store_path() const;
  Millis host_interval() const { return host.interval.value_or(daemon.interval); }
  Millis target_interval(const TargetConfig& t) const { return t.interval.value_or(daemon.interval); }
  Millis check_interval(const CheckSpec& c) const { return c.interval.value_or(daemon.interval); }
  const TargetConfig* target(const std::string& name) const;
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
// One file's content already in memory, named `name` in messages (no
// drop-ins are read): the config fuzz target's entry point.
LoadResult load_config_text(std::string_view text, const std::string& name, char** environ = nullptr);

// forecast limit names and the metric each one reads; nullptr for others.
const char* limit_metric_for(std::string_view limit_name);

// "VIGIL_TARGET_WEB_GW_PIDFILE" spelling of a name: upper case, anything
// not [A-Z0-9] as '_'.
std::string env_name_for(std::string_view name);

}  // namespace vigil
