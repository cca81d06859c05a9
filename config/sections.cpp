#include "config/sections.hpp"

#include <algorithm>
#include <array>

namespace vigil::config_detail {

std::span<const Key<DaemonConfig>> daemon_keys() {
  using D = DaemonConfig;
  static const std::array<Key<D>, 7> keys = {
      field_key<&D::interval>("interval", ValueType::kDuration, 100, 86'400'000,
                              "a duration from 100ms to 24h, e.g. \"1s\" (default 1s): the sampling interval"),
      field_key<&D::state_dir>("state_dir", ValueType::kPath, 0, 0,
                               "a directory path (default \"/var/lib/vigil\"): the store and vigild.pid"),
      field_key<&D::flush_interval>("flush_interval", ValueType::kDuration, 100, 60'000,
                                    "a duration from 100ms to 1m (default 1s): how often samples are committed"),
      field_key<&D::status_interval>(
          "status_interval", ValueType::kDuration, 1000, 3'600'000,
          "a duration from 1s to 1h (default 10s): how often STATUS= and the vigil_* self metrics refresh"),
      field_key<&D::log_level>("log_level", ValueType::kLogLevel, 0, 0,
                               "one of \"debug\", \"info\" (default), \"warning\", \"error\""),
      field_key<&D::proc_root>("proc_root", ValueType::kPath, 0, 0, "a directory path, normally \"/proc\""),
      field_key<&D::cgroup_root>("cgroup_root", ValueType::kPath, 0, 0,
                                 "a directory path, normally \"/sys/fs/cgroup\""),
  };
  return keys;
}

std::span<const Key<StoreConfig>> store_keys() {
  using S = StoreConfig;
  constexpr std::int64_t kHourMs = 3'600'000, kYears100 = 36'500LL * 86'400'000;
  static const std::array<Key<S>, 9> keys = {
      field_key<&S::path>("path", ValueType::kPath, 0, 0, "a file path; default <state_dir>/vigil.db"),
      field_key<&S::queue_capacity>(
          "queue_capacity", ValueType::kCount, 1000, 100'000'000,
          "an integer from 1000 to 100000000 (default 100000): samples waiting for the writer; beyond, the oldest "
          "are dropped and counted"),
      field_key<&S::retention_raw>("retention_raw", ValueType::kDuration, kHourMs, kYears100,
                                   "a duration from 1h to 36500d (default 7d): how long every sample is kept"),
      field_key<&S::retention_1m>(
          "retention_1m", ValueType::kDuration, kHourMs, kYears100,
          "a duration from 1h to 36500d (default 90d): how long the per-minute rollups (count, min, max, sum, "
          "last) are kept"),
      field_key<&S::retention_1h>("retention_1h", ValueType::kDuration, kHourMs, kYears100,
                                  "a duration from 1h to 36500d (default 730d): how long the hourly rollups are kept"),
      field_key<&S::retention_events>("retention_events", ValueType::kDuration, kHourMs, kYears100,
                                      "a duration from 1h to 36500d (default 90d): how long events are kept"),
      field_key<&S::retention_incidents>(
          "retention_incidents", ValueType::kDuration, kHourMs, kYears100,
          "a duration from 1h to 36500d (default 365d): how long an incident is kept after it recovered (open "
          "ones stay)"),
      field_key<&S::max_size>("max_size", ValueType::kSize, 0, std::int64_t{1} << 50,
                              "a size, e.g. \"2GiB\" (default 0: no cap): over it, the oldest raw samples go "
                              "first (event store_trimmed)"),
      field_key<&S::min_free_disk>("min_free_disk", ValueType::kPercent, 0, 100,
                                   "a percentage from 0 to 100 (default 5%): under this much free space on its file "
                                   "system the store stops growing, the oldest raw samples making room (event "
                                   "store_trimmed); 0: no floor"),
  };
  return keys;
}

std::span<const Key<HostConfig>> host_keys() {
  using H = HostConfig;
  static const std::array<Key<H>, 3> keys = {
      field_key<&H::enabled>("enabled", ValueType::kBool, 0, 0, "true (default) or false"),
      field_key<&H::interval>("interval", ValueType::kDuration, 100, 86'400'000,
                              "a duration from 100ms to 24h, e.g. \"5s\"; default: daemon.interval"),
      field_key<&H::rootfs>("rootfs", ValueType::kPath, 0, 0,
                            "a directory path, normally \"/\": the prefix of the mount points it measures"),
  };
  return keys;
}

std::span<const Key<DockerConfig>> docker_keys() {
  using D = DockerConfig;
  static const std::array<Key<D>, 3> keys = {
      field_key<&D::socket>("socket", ValueType::kPath, 0, 0,
                            "a unix socket path; default DOCKER_HOST's unix:// path, else \"/var/run/docker.sock\" "
                            "(Podman's Docker-compatible socket works too)"),
      field_key<&D::timeout>("timeout", ValueType::kDuration, 100, 60'000,
                             "a duration from 100ms to 1m (default 5s): each request to the engine"),
      choice_key<&D::auto_targets, DockerAuto>(
          "auto", ValueType::kChoice,
          "false (default); true: running containers labelled vigil.enable=true become targets of their own; "
          "\"all\": every running container but those labelled vigil.enable=false"),
  };
  return keys;
}

std::span<const Key<AlertingConfig>> alerting_keys() {
  using A = AlertingConfig;
  static const std::array<Key<A>, 8> keys = {
      field_key<&A::resend_interval>("resend_interval", ValueType::kDuration, 1000, 3'600'000,
                                     "a duration from 1s to 1h, e.g. \"30s\" (default): firing alerts are re-sent"),
      field_key<&A::heartbeat>("heartbeat", ValueType::kBool, 0, 0,
                               "true (default) to send the always-firing VigilHeartbeat alert"),
      field_key<&A::instance>("instance", ValueType::kText, 0, 0,
                              "the instance label of every alert; default: the host name"),
      field_key<&A::external_url>("external_url", ValueType::kUrl, 0, 0,
                                  "the base of generatorURL, e.g. \"http://host:9105\""),
      field_key<&A::stale_after>(
          "stale_after", ValueType::kDuration, 10'000, 86'400'000,
          "a duration from 10s to 24h, e.g. \"10m\" (default): a rule's series silent this long resolves its alert"),
      field_key<&A::timeout>("timeout", ValueType::kDuration, 100, 600'000,
                             "a duration from 100ms to 10m, e.g. \"10s\" (default): each delivery's limit"),
      field_key<&A::target_down>("target_down", ValueType::kBool, 0, 0,
                                 "true (default) for the built-in TargetDown alert of every target whose main "
                                 "process is missing (a target's alert = false opts it out)"),
      field_key<&A::target_down_for>("target_down_for", ValueType::kDuration, 0, 3'600'000,
                                     "a duration from 0s (default: at once) to 1h that the main process must be "
                                     "missing before TargetDown fires"),
  };
  return keys;
}

std::span<const Key<ReceiverConfig>> receiver_keys() {
  using R = ReceiverConfig;
  static const std::array<Key<R>, 11> keys = {
      field_key<&R::name>("name", ValueType::kName, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]; default: <kind>-<n>"),
      field_key<&R::url>("url", ValueType::kUrl, 0, 0, "an http:// or https:// URL, e.g. \"http://127.0.0.1:9093\""),
      field_key<&R::timeout>("timeout", ValueType::kDuration, 100, 600'000,
                             "a duration from 100ms to 10m; default: alerting.timeout"),
      field_key<&R::resend>(
          "resend", ValueType::kBool, 0, 0,
          "true to re-send firing alerts every resend_interval (default: alertmanager true, webhook false)"),
      field_key<&R::username>("username", ValueType::kText, 0, 0, "a user name for basic auth (with password_file)"),
      field_key<&R::password_file>("password_file", ValueType::kPath, 0, 0,
                                   "a file holding the basic auth password (read at each send)"),
      field_key<&R::bearer_token_file>("bearer_token_file", ValueType::kPath, 0, 0,
                                       "a file holding a bearer token (read at each send)"),
      field_key<&R::insecure>("insecure", ValueType::kBool, 0, 0,
                              "true to skip TLS certificate verification (default false)"),
      field_key<&R::ca_file>("ca_file", ValueType::kPath, 0, 0, "a PEM file of CA certificates"),
      field_key<&R::client_cert>("client_cert", ValueType::kPath, 0, 0, "a PEM client certificate"),
      field_key<&R::client_key>("client_key", ValueType::kPath, 0, 0, "a PEM private key for client_cert"),
  };
  return keys;
}

std::span<const Key<RemediateConfig>> remediate_keys() {
  using R = RemediateConfig;
  static const std::array<Key<R>, 13> keys = [] {
    auto on = field_key<&R::on>("on", ValueType::kStringList, 0, 0,
                                "a list of \"crash\", check names of the target and rule names");
    on.set = +[](R& r, const Value& v) {
      assign(r.on, v);
      r.written_on = true;
    };
    return std::array<Key<R>, 13>{
        on,
        choice_key<&R::actions, ActionKind>(
            "actions", ValueType::kChoiceList,
            "a list of \"restart\", \"signal\", \"exec\", \"http\" (tried in order, the last repeats)"),
        field_key<&R::max>(
            "max", ValueType::kCount, 1, 1000,
            "an integer from 1 to 1000: actions per window, beyond which the target is given up (default 5)"),
        field_key<&R::window>("window", ValueType::kDuration, 1000, 86'400'000,
                              "a duration from 1s to 24h: the rate limit's window (default 10m)"),
        field_key<&R::backoff>(
            "backoff", ValueType::kDuration, 0, 86'400'000,
            "a duration up to 24h: the wait after an action, doubling up to max_backoff (default 10s)"),
        field_key<&R::max_backoff>("max_backoff", ValueType::kDuration, 0, 86'400'000,
                                   "a duration up to 24h (default 5m)"),
        field_key<&R::grace>("grace", ValueType::kDuration, 0, 3'600'000,
                             "a duration up to 1h (default 30s): after an action failures are not judged; also the "
                             "stability period before an incident recovers"),
        field_key<&R::reset_after>(
            "reset_after", ValueType::kDuration, 0, 86'400'000,
            "a duration up to 24h: healthy this long, backoff and escalation start over (default: max_backoff)"),
        field_key<&R::dry_run>("dry_run", ValueType::kBool, 0, 0,
                               "true to decide and record \"would ...\" without acting (default false)"),
        field_key<&R::signal>("signal", ValueType::kSignal, 0, 0,
                              "a signal name, e.g. \"SIGUSR1\": sent to the main process by the signal action"),
        field_key<&R::exec>("exec", ValueType::kStringList, 0, 0,
                            "a command as an array, e.g. [\"/usr/local/bin/dump-heap\"], run by the exec action"),
        field_key<&R::url>("url", ValueType::kUrl, 0, 0, "an http:// or https:// URL, POSTed by the http action"),
        field_key<&R::timeout>("timeout", ValueType::kDuration, 100, 3'600'000,
                               "a duration from 100ms to 1h: each action's limit (default 60s)"),
    };
  }();
  return keys;
}

bool RuleKey::applies_to(RuleKind kind) const {
  return kinds.empty() || std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::string RuleKey::kinds_text() const {
  std::string out;
  for (RuleKind k : kinds) out += (out.empty() ? "" : ", ") + std::string(to_string(k));
  return out;
}

std::span<const RuleKey> rule_keys() {
  using R = RuleConfig;
  using K = RuleKind;
  const std::vector<K> metric_kinds = {K::kThreshold, K::kGrowth, K::kForecast, K::kAbsence};
  static const std::vector<RuleKey> keys = {
      {field_key<&R::name>("name", ValueType::kName, 1, 64, "the alertname: 1 to 64 characters of [A-Za-z0-9_.-]"), {}},
      {choice_key<&R::kind, RuleKind>("kind", ValueType::kChoice, "one of check, threshold, growth, forecast, absence"),
       {}},
      {field_key<&R::metric>("metric", ValueType::kName, 1, 200,
                             "a metric name, e.g. \"process_resident_memory_bytes\""),
       metric_kinds},
      {field_key<&R::target>("target", ValueType::kName, 1, 64, "a target name: only its series (or checks)"), {}},
      {field_key<&R::check>("check", ValueType::kName, 1, 64, "a check name: only that check"), {K::kCheck}},
      {field_key<&R::select>("select", ValueType::kStringMap, 0, 0,
                             "a table of label values the series must carry, e.g. { mountpoint = \"/\" }"),
       metric_kinds},
      {choice_key<&R::op, Comparison>("op", ValueType::kChoice, "one of \">\", \">=\", \"<\", \"<=\", \"==\", \"!=\""),
       {K::kThreshold}},
      {field_key<&R::value>("value", ValueType::kNumber, INT64_MIN, kNoMax, "a number to compare with, e.g. 0.9"),
       {K::kThreshold}},
      {field_key<&R::for_duration>(
           "for", ValueType::kDuration, 0, 7 * 86'400'000ll,
           "a duration from 0s to 7d: how long the condition holds before firing (absence: the silence)"),
       {}},
      {field_key<&R::max_age>("max_age", ValueType::kDuration, 1000, 86'400'000,
                              "a duration from 1s to 24h; default 1m"),
       {K::kThreshold}},
      {field_key<&R::baseline>(
           "baseline", ValueType::kDuration, 1000, 7 * 86'400'000ll,
           "a duration from 1s to 7d: the window after a (re)start whose median is the baseline (default 30m)"),
       {K::kGrowth}},
      {field_key<&R::max_growth_percent>("max_growth", ValueType::kPercent, 0, 100'000,
                                         "a percentage over the baseline (default \"10%\")"),
       {K::kGrowth}},
      {field_key<&R::window>("window", ValueType::kDuration, 10'000, 30 * 86'400'000ll,
                             "a duration from 10s to 30d: the points fitted (default 1h)"),
       {K::kForecast}},
      {field_key<&R::horizon>("horizon", ValueType::kDuration, 1000, 365 * 86'400'000ll,
                              "a duration from 1s to 365d: fire when the limit is reached within it (default 24h)"),
       {K::kForecast}},
      {field_key<&R::limit>(
           "limit", ValueType::kLimit, 0, kNoMax,
           "a number, or cgroup_memory_limit, fd_limit, disk_size, or a metric name (its newest value)"),
       {K::kForecast}},
      {field_key<&R::severity>("severity", ValueType::kName, 1, 32, "e.g. \"critical\", \"warning\", \"info\""), {}},
      {field_key<&R::labels>("labels", ValueType::kStringMap, 0, 0,
                             "a table of labels added to the alert, e.g. { team = \"web\" }"),
       {}},
      {field_key<&R::annotations>("annotations", ValueType::kStringMap, 0, 0,
                                  "a table such as { summary = \"...\", description = \"...\", runbook_url = \"...\" } "
                                  "with {{value}}, {{threshold}}, {{target}}, {{check}}, {{reason}}"),
       {}},
  };
  return keys;
}

std::span<const SectionName> section_names() {
  static const std::array<SectionName, 10> names = {{{"daemon", false},
                                                     {"store", false},
                                                     {"host", false},
                                                     {"docker", false},
                                                     {"target", true},
                                                     {"check", true},
                                                     {"alerting", false},
                                                     {"alertmanager", true},
                                                     {"webhook", true},
                                                     {"rule", true}}};
  return names;
}

}  // namespace vigil::config_detail
