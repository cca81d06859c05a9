// core/kinds.hpp: the one catalogue of typed kinds, with the names they are
// stored and written under.
//
// Every closed set of things Vigil tells apart (check kinds, target kinds,
// remediation actions and their results, root causes, alert phases, check
// states, incident triggers, rule kinds, receiver kinds, comparison
// operators, event kinds, severities) is an enum here, and its table of
// names is the only place its spelling lives. Code compares enums, never
// text; the store, the CLI's output and the config files use the names.
//
// Rules of the catalogue:
//  - An enum value indexes its names table: the two lists stay in the same
//    order. Values that are stored as numbers (AlertPhase, CheckState) carry
//    explicit numbers: never renumber them.
//  - Names are stored (events.kind, incidents.root_cause, ...) and written in
//    configs: never rename one. Append new values at the end.
//  - to_string() gives the name; parse_kind<E>() takes one back (nullopt for
//    a name this build does not know).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vigil {

// Specialized once per kind: `names` lists the stored names in enum order.
template <class E>
struct KindNames;

template <class E>
concept Kind = std::is_enum_v<E> && requires {
  KindNames<E>::names;
};

template <Kind E>
constexpr std::span<const std::string_view> kind_names() {
  return KindNames<E>::names;
}

template <Kind E>
constexpr std::string_view to_string(E e) {
  const auto i = static_cast<std::size_t>(e);
  return i < KindNames<E>::names.size() ? KindNames<E>::names[i] : std::string_view("unknown");
}

template <Kind E>
constexpr std::optional<E> parse_kind(std::string_view name) {
  const auto& names = KindNames<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

// "a, b, c": for messages that list what is valid.
template <Kind E>
std::string kind_list() {
  std::string out;
  for (auto n : kind_names<E>()) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

// ---- checks -------------------------------------------------------------------

// What a check probes with (probes/checks/kinds.hpp has the table of what
// each one needs and does).
enum class CheckKind : std::uint8_t { kTcp, kHttp, kExec, kRedis, kPostgres, kPrometheus, kDockerHealth };
template <>
struct KindNames<CheckKind> {
  static constexpr std::array<std::string_view, 7> names = {"tcp",      "http",       "exec",         "redis",
                                                            "postgres", "prometheus", "docker_health"};
};

// A check's state after hysteresis (probes/checks/hysteresis.hpp). Stored as
// numbers in the check_state series: never renumber.
enum class CheckState : std::uint8_t {
  kUnknown = 0,
  kOk = 1,
  kFailing = 2,
  kFailed = 3,
  kRecovering = 4,
};
template <>
struct KindNames<CheckState> {
  static constexpr std::array<std::string_view, 5> names = {"unknown", "ok", "failing", "failed", "recovering"};
};

// ---- targets and remediation --------------------------------------------------

// How vigild finds a target's processes (config/targets.hpp has the table).
enum class TargetKind : std::uint8_t {
  kPidfile,
  kMatch,
  kPid,
  kSystemdUnit,
  kStart,
  kContainer,       // a Docker container by name or id
  kContainerLabel,  // the Docker container carrying a label
  kComposeService,  // the Docker container of a Compose project's service
};
template <>
struct KindNames<TargetKind> {
  static constexpr std::array<std::string_view, 8> names = {
      "pidfile", "match", "pid", "systemd_unit", "start", "container", "container_label", "compose_service"};
};

// [docker] auto: which running containers become targets of their own.
// Written as a TOML boolean or the string "all".
enum class DockerAuto : std::uint8_t {
  kOff,       // false: only the configured targets
  kLabelled,  // true: those with the label vigil.enable=true
  kAll,       // "all": every one, but those labelled vigil.enable=false
};
template <>
struct KindNames<DockerAuto> {
  static constexpr std::array<std::string_view, 3> names = {"false", "true", "all"};
};

// A remediation action ([target.remediate] actions; incident_actions.action).
enum class ActionKind : std::uint8_t { kRestart, kSignal, kExec, kHttp };
template <>
struct KindNames<ActionKind> {
  static constexpr std::array<std::string_view, 4> names = {"restart", "signal", "exec", "http"};
};

// How an action ended (incident_actions.result). kWould: a dry run's.
enum class ActionStatus : std::uint8_t { kRunning, kOk, kFailed, kTimeout, kWould, kSkipped };
template <>
struct KindNames<ActionStatus> {
  static constexpr std::array<std::string_view, 6> names = {"running", "ok", "failed", "timeout", "would", "skipped"};
};

// Why a target failed (heal/root_cause.hpp; incidents.root_cause).
enum class RootCause : std::uint8_t {
  kUnknown,
  kCrashed,
  kOomKilled,
  kHung,
  kResourceExhausted,
  kDependencyDown,
  kStartFailed,  // vigild could not start it (the program is missing, not executable, ...)
};
template <>
struct KindNames<RootCause> {
  static constexpr std::array<std::string_view, 7> names = {
      "unknown", "crashed", "oom_killed", "hung", "resource_exhausted", "dependency_down", "start_failed"};
};

// What opened an incident, and what a [target.remediate] `on` lists.
enum class TriggerKind : std::uint8_t { kCrash, kCheck, kRule };
template <>
struct KindNames<TriggerKind> {
  static constexpr std::array<std::string_view, 3> names = {"crash", "check", "rule"};
};

// A trigger: the crash of the main process, a check (by name) or a rule (by
// name). Stored as "crash", "check:NAME", "rule:NAME".
struct Trigger {
  TriggerKind kind = TriggerKind::kCrash;
  std::string name;  // the check or the rule; empty for a crash

  std::string text() const;
  // The stored text back; nullopt when it is none of the three forms.
  static std::optional<Trigger> parse(std::string_view text);
  bool operator==(const Trigger&) const = default;
};

// ---- alerts ---------------------------------------------------------------------

// One alert's life (alerting/alert_state.hpp). Stored as numbers in the
// alerts table: never renumber.
enum class AlertPhase : std::uint8_t {
  kInactive = 0,
  kPending = 1,
  kFiring = 2,
  kResolved = 3,
};
template <>
struct KindNames<AlertPhase> {
  static constexpr std::array<std::string_view, 4> names = {"inactive", "pending", "firing", "resolved"};
};

// What a [[rule]] evaluates (alerting/rules.hpp).
enum class RuleKind : std::uint8_t { kCheck, kThreshold, kGrowth, kForecast, kAbsence };
template <>
struct KindNames<RuleKind> {
  static constexpr std::array<std::string_view, 5> names = {"check", "threshold", "growth", "forecast", "absence"};
};

// Where alerts go: [[alertmanager]] (its API v2) or [[webhook]] (a POST of
// Alertmanager's webhook JSON).
enum class ReceiverKind : std::uint8_t { kAlertmanager, kWebhook };
template <>
struct KindNames<ReceiverKind> {
  static constexpr std::array<std::string_view, 2> names = {"alertmanager", "webhook"};
};

// A threshold rule's operator.
enum class Comparison : std::uint8_t { kGt, kGe, kLt, kLe, kEq, kNe };
template <>
struct KindNames<Comparison> {
  static constexpr std::array<std::string_view, 6> names = {">", ">=", "<", "<=", "==", "!="};
};

// ---- samples --------------------------------------------------------------------

// What a query with a step makes of each step's samples (vigil query --agg):
// the mean, the smallest, the largest, the sum, the newest, how many; a
// percentile (nearest rank); or a counter's increase per second, resets
// counted as a restart from 0.
enum class Aggregation : std::uint8_t { kAvg, kMin, kMax, kSum, kLast, kCount, kP50, kP95, kP99, kRate };
template <>
struct KindNames<Aggregation> {
  static constexpr std::array<std::string_view, 10> names = {"avg", "min", "max", "sum", "last",
                                                             "count", "p50", "p95", "p99", "rate"};
};

// ---- events ---------------------------------------------------------------------

// Stored as text in events.severity; the order is meaningful for filtering.
enum class Severity : std::uint8_t { kInfo, kWarning, kCritical };
template <>
struct KindNames<Severity> {
  static constexpr std::array<std::string_view, 3> names = {"info", "warning", "critical"};
};

// What happened (events.kind). kUnknown stands for a name this build does
// not know (written by a newer vigild); it is never recorded.
enum class EventKind : std::uint8_t {
  kUnknown,
  // the daemon and its store
  kDaemonStart,
  kDaemonStop,
  kStoreRecovered,
  kSamplesDropped,
  // a target's main process
  kTargetAppeared,
  kTargetRestarted,
  kTargetVanished,
  kTargetCrashed,
  kTargetStartFailed,
  kTargetProblem,  // why it has no process: a missing or bad pidfile, no system bus (once per change)
  kTargetRemoved,  // a target gone: from the config (a `start` one: what became of its process), or a
                   // container found by [docker] auto that was removed
  kTargetAdded,    // a target found while vigild runs: a container of [docker] auto
  // a check's state (check_<state>, one per CheckState) and flapping
  kCheckUnknown,
  kCheckOk,
  kCheckFailing,
  kCheckFailed,
  kCheckRecovering,
  kCheckFlapping,
  kCheckFlappingStopped,
  // incidents and remediation
  kIncidentOpened,
  kIncidentRecovered,
  kRemediationAction,
  kRemediationWaiting,
  kRemediationGivenUp,
  kRemediationResumed,
  // alerts
  kAlertFiring,
  kAlertResolved,
  kAlertDeliveryDropped,
  // a container target's container, from the engine's events stream
  kContainerStarted,
  kContainerDied,
  kContainerOom,
  kContainerHealth,  // its HEALTHCHECK status changed
  kContainerRestarted,
  kContainerPaused,
  kContainerUnpaused,
  kContainerDestroyed,
  kContainerReplaced,  // the target follows another container (recreated with a new id)
  kStoreTrimmed,       // the oldest raw samples went early: [store] max_size or min_free_disk
};
template <>
struct KindNames<EventKind> {
  static constexpr std::array<std::string_view, 39> names = {
      "unknown",
      "daemon_start",
      "daemon_stop",
      "store_recovered",
      "samples_dropped",
      "target_appeared",
      "target_restarted",
      "target_vanished",
      "target_crashed",
      "target_start_failed",
      "target_problem",
      "target_removed",
      "target_added",
      "check_unknown",
      "check_ok",
      "check_failing",
      "check_failed",
      "check_recovering",
      "check_flapping",
      "check_flapping_stopped",
      "incident_opened",
      "incident_recovered",
      "remediation_action",
      "remediation_waiting",
      "remediation_given_up",
      "remediation_resumed",
      "alert_firing",
      "alert_resolved",
      "alert_delivery_dropped",
      "container_started",
      "container_died",
      "container_oom",
      "container_health",
      "container_restarted",
      "container_paused",
      "container_unpaused",
      "container_destroyed",
      "container_replaced",
      "store_trimmed",
  };
};

// The event of a check entering `state`: check_ok, check_failed, ...
constexpr EventKind check_event_kind(CheckState state) {
  return static_cast<EventKind>(static_cast<std::size_t>(EventKind::kCheckUnknown) + static_cast<std::size_t>(state));
}

}  // namespace vigil
