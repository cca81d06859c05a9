#include "watchdog/remediator.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "alerting/rules.hpp"
#include "core/text.hpp"

namespace vigil {

namespace {

// The samples kept as evidence, newest value per target.
const std::set<std::string>& evidence_metrics() {
  static const std::set<std::string> m = {
      "process_open_fds",          "process_max_fds",           "process_threads",
      "process_resident_memory_bytes", "cgroup_memory_usage_bytes", "cgroup_memory_limit_bytes",
      "cgroup_memory_oom_kill_events_total", "cgroup_memory_failcnt_total", "cgroup_pids_current",
      "cgroup_pids_max",           "process_cpu_seconds_total", "process_count"};
  return m;
}

bool timed_out(const std::string& reason) { return reason.find("timed out") != std::string::npos; }

}  // namespace

struct Remediator::Target {
  std::string name;
  std::optional<RemediateConfig> cfg;
  RemediationRules rules;
  std::vector<std::string> depends_on;
  TargetHooks hooks;
  bool crash_incidents = false;  // an exit opens an incident
  struct CheckInfo {
    CheckState state = CheckState::kUnknown;
    bool flapping = false;
    WallMs last_ok_ms = 0;
    WallMs last_fail_ms = 0;  // the newest judged failing result
    std::string reason;
  };
  std::map<std::string, CheckInfo> checks;
  std::map<std::string, std::pair<bool, std::string>> rules_firing;  // rule -> (firing, reason)
  bool down = false;                                                 // exited, not running again
  WallMs up_since_ms = 0;  // the main process runs again since (after a crash)
  std::optional<ExitInfo> last_exit;
  RemediationState policy;
  bool given_up_alert = false;
  std::optional<IncidentRow> incident;
  WallMs last_action_end_ms = 0;
  std::string last_verdict;  // logged once per change
  std::map<std::string, double> values;
  std::optional<std::pair<WallMs, double>> cpu_prev, cpu_last;
  std::unique_ptr<CheckRunner> runner;  // the exec or http action in flight (kept until the next)
};

Remediator::Remediator(CheckRunners* runners, Sinks sinks) : runners_(runners), sinks_(std::move(sinks)) {}
Remediator::~Remediator() = default;

Remediator::Target* Remediator::find(const std::string& name) {
  auto it = targets_.find(name);
  return it == targets_.end() ? nullptr : it->second.get();
}
const Remediator::Target* Remediator::find(const std::string& name) const {
  auto it = targets_.find(name);
  return it == targets_.end() ? nullptr : it->second.get();
}

void Remediator::add_target(const TargetConfig& cfg, TargetHooks hooks) {
  auto t = std::make_unique<Target>();
  t->name = cfg.name;
  t->cfg = cfg.remediate;
  t->depends_on = cfg.depends_on;
  t->hooks = std::move(hooks);
  if (cfg.remediate) {
    const RemediateConfig& r = *cfg.remediate;
    t->rules = RemediationRules{r.actions, r.max, r.window, r.backoff, r.max_backoff, r.grace,
                                r.reset_after.value_or(r.max_backoff)};
  }
  // Supervised targets (vigild or systemd runs them) always record their
  // crashes; a process vigild only finds, when remediation asks for it.
  t->crash_incidents = cfg.can_restart() || (cfg.remediate && std::count(cfg.remediate->on.begin(),
                                                                          cfg.remediate->on.end(), "crash") > 0);
  targets_[cfg.name] = std::move(t);
}

void Remediator::add_check(const std::string& target, const std::string& check) {
  Target* t = find(target);
  if (t == nullptr) {
    // A [[check]] for a target that is not a [[target]]: incidents only.
    auto fresh = std::make_unique<Target>();
    fresh->name = target;
    t = fresh.get();
    targets_[target] = std::move(fresh);
  }
  t->checks[check] = {};
}

void Remediator::restore(const std::vector<IncidentRow>& open, std::int64_t max_id, WallMs now) {
  next_id_ = max_id + 1;
  for (const auto& row : open) {
    Target* t = find(row.target);
    if (t == nullptr || row.recovered_ms != 0) continue;
    if (!t->incident || t->incident->id < row.id) t->incident = row;
  }
  for (auto& [name, t] : targets_) {
    if (!t->incident) continue;
    // An action the last vigild did not see finish will not report now.
    bool changed = false;
    for (auto& a : t->incident->actions) {
      if (a.result != "running") continue;
      a.result = "failed";
      a.finished_ms = now;
      a.message = "vigild stopped while it ran; its outcome is unknown";
      changed = true;
    }
    // Judged from now on: a target without checks must stay up for the
    // grace, from now.
    t->up_since_ms = now;
    if (changed) save(*t, now);
  }
}

bool Remediator::failed(const std::string& target) const {
  const Target* t = find(target);
  return t != nullptr && t->incident.has_value();
}

std::size_t Remediator::open_incidents() const {
  std::size_t n = 0;
  for (const auto& [name, t] : targets_) n += t->incident ? 1 : 0;
  return n;
}

bool Remediator::in_grace(const std::string& target, WallMs now) const {
  const Target* t = find(target);
  return t != nullptr && t->cfg && vigil::in_grace(t->policy, now);
}

void Remediator::observe(const Sample& s) {
  if (!evidence_metrics().count(s.key.metric)) return;
  std::string target;
  for (const auto& [k, v] : s.key.labels) {
    if (k == "target") target = v;
  }
  if (target.empty()) return;
  Target* t = find(target);
  if (t == nullptr) return;
  if (s.key.metric == "process_cpu_seconds_total") {
    t->cpu_prev = t->cpu_last;
    t->cpu_last = std::pair{s.ts_ms, s.value};
    return;
  }
  t->values[s.key.metric] = s.value;
}

Evidence Remediator::evidence_of(const Target& t) const {
  Evidence e;
  auto value = [&](const char* m) -> std::optional<double> {
    auto it = t.values.find(m);
    return it == t.values.end() ? std::nullopt : std::optional<double>(it->second);
  };
  e.open_fds = value("process_open_fds");
  e.max_fds = value("process_max_fds");
  e.threads = value("process_threads");
  e.max_threads = value("cgroup_pids_max");
  e.memory_bytes = value("cgroup_memory_usage_bytes");
  e.memory_limit_bytes = value("cgroup_memory_limit_bytes");
  if (!e.memory_bytes) e.memory_bytes = value("process_resident_memory_bytes");
  e.oom_kills_before = value("cgroup_memory_oom_kill_events_total");
  if (t.cpu_prev && t.cpu_last && t.cpu_last->first > t.cpu_prev->first) {
    e.cpu_percent = 100.0 * (t.cpu_last->second - t.cpu_prev->second) /
                    (static_cast<double>(t.cpu_last->first - t.cpu_prev->first) / 1000.0);
  }
  const int pid = t.hooks.main_pid ? t.hooks.main_pid() : 0;
  e.process_alive = !t.down && (!t.hooks.main_pid || pid != 0);
  for (const auto& d : t.depends_on) {
    if (failed(d)) e.dependencies_down.push_back(d);
  }
  return e;
}

namespace {

nlohmann::json evidence_json(const Evidence& e, const std::map<std::string, double>& values) {
  nlohmann::json j = nlohmann::json::object();
  j["process_alive"] = e.process_alive;
  if (e.exit_code) j["exit_code"] = *e.exit_code;
  if (e.exit_signal) j["exit_signal"] = signal_name(*e.exit_signal);
  if (e.oom_kills_before) j["oom_kills_before"] = *e.oom_kills_before;
  if (e.oom_kills_after) j["oom_kills_after"] = *e.oom_kills_after;
  if (e.cpu_percent) j["cpu_percent"] = std::round(*e.cpu_percent * 10) / 10;
  if (!e.check_reason.empty()) j["check_reason"] = e.check_reason;
  if (e.check_timed_out) j["check_timed_out"] = true;
  if (!e.dependencies_down.empty()) j["dependencies_down"] = e.dependencies_down;
  for (const auto& [metric, v] : values) j[metric] = v;
  return j;
}

}  // namespace

void Remediator::classify(Target& t, const Evidence& e) {
  Classification c = classify_root_cause(e);
  t.incident->root_cause = std::string(to_string(c.cause));
  t.incident->summary = c.summary;
  t.incident->evidence = evidence_json(e, t.values).dump();
}

void Remediator::open_incident(Target& t, const std::string& trigger, WallMs started, WallMs now, Evidence e) {
  IncidentRow row;
  row.id = next_id_++;
  row.target = t.name;
  row.trigger = trigger;
  row.started_ms = started;
  row.detected_ms = now;
  row.dry_run = t.cfg && t.cfg->dry_run;
  t.incident = std::move(row);
  classify(t, e);
  save(t, now);
  record(t, "incident_opened", Severity::kCritical,
         "incident " + std::to_string(t.incident->id) + " opened for " + t.name + " (" + trigger +
             "): " + t.incident->root_cause + ": " + t.incident->summary,
         now);
}

void Remediator::check_result(const std::string& target, const std::string& check, const CheckStatus& status,
                              bool ok, const std::string& reason, WallMs first_failure_ms, WallMs now) {
  Target* t = find(target);
  if (t == nullptr) return;
  auto& c = t->checks[check];
  const CheckState before = c.state;
  c.state = status.state;
  c.flapping = status.flapping;
  c.reason = reason;
  if (ok) {
    c.last_ok_ms = now;
  } else {
    c.last_fail_ms = now;
  }
  if (ok && t->cfg && vigil::in_grace(t->policy, now)) {
    // Every check passed since the action: the grace is over, and a new
    // failure counts at once.
    bool all_passed = true;
    for (const auto& [name, other] : t->checks) all_passed = all_passed && other.last_ok_ms >= t->last_action_end_ms;
    if (all_passed) t->policy.grace_until_ms = now;
  }
  if (status.state == CheckState::kFailed && before != CheckState::kFailed && !t->incident) {
    Evidence e = evidence_of(*t);
    e.check_reason = reason;
    e.check_timed_out = timed_out(reason);
    if (t->last_exit && t->down) {
      e.exit_code = t->last_exit->code;
      e.exit_signal = t->last_exit->signal;
    }
    open_incident(*t, "check:" + check, first_failure_ms != 0 ? first_failure_ms : now, now, e);
  }
  check_healthy(*t, now);
  consider(*t, now);
}

void Remediator::crashed(const std::string& target, const ExitInfo& exit, WallMs now) {
  Target* t = find(target);
  if (t == nullptr) return;
  t->down = true;
  t->last_exit = exit;
  if (exit.start_error.empty()) {
    record(*t, "target_crashed", Severity::kCritical,
           "target " + target + ": main process " + std::to_string(exit.pid) + " " + exit.describe(), now);
  } else {
    record(*t, "target_start_failed", Severity::kCritical, "target " + target + " " + exit.describe(), now);
  }
  if (!t->crash_incidents) return;
  Evidence e = evidence_of(*t);
  e.process_alive = false;
  e.exit_code = exit.code;
  e.exit_signal = exit.signal;
  t->up_since_ms = 0;
  if (t->hooks.cgroup_now) {
    auto now_read = t->hooks.cgroup_now();
    e.oom_kills_after = now_read.oom_kills;
    // An OOM kill: what it used when it died, not the last sample before (a
    // fast leak goes from a few MiB to the limit between two rounds). Only
    // then: the peak is the cgroup's all-time high, and a plain SIGKILL must
    // not look like memory at the limit because of an old one.
    const bool oom = e.oom_kills_before && e.oom_kills_after && *e.oom_kills_after > *e.oom_kills_before;
    if (oom && now_read.memory_peak_bytes &&
        (!e.memory_bytes || *now_read.memory_peak_bytes > *e.memory_bytes)) {
      e.memory_bytes = now_read.memory_peak_bytes;
    }
  }
  if (!t->incident) {
    open_incident(*t, "crash", now, now, e);
    if (!exit.start_error.empty()) {
      t->incident->summary = exit.describe();
      save(*t, now);
    }
  } else if (t->incident->root_cause != "dependency_down") {
    // An incident already open (the check failed first, then it died): the
    // exit is the better evidence.
    classify(*t, e);
    save(*t, now);
  }
  consider(*t, now);
}

void Remediator::running(const std::string& target, WallMs now) {
  Target* t = find(target);
  if (t == nullptr || !t->down) return;
  t->down = false;
  t->up_since_ms = now;
  check_healthy(*t, now);
}

void Remediator::rule_state(const std::string& target, const std::string& rule, bool firing, const std::string& reason,
                            WallMs now) {
  Target* t = find(target);
  if (t == nullptr || !t->cfg) return;
  if (std::find(t->cfg->on.begin(), t->cfg->on.end(), rule) == t->cfg->on.end()) return;
  auto& slot = t->rules_firing[rule];
  const bool was = slot.first;
  slot = {firing, reason};
  if (firing && !was && !t->incident) {
    Evidence e = evidence_of(*t);
    e.check_reason = reason;
    open_incident(*t, "rule:" + rule, now, now, e);
  }
  if (!firing) check_healthy(*t, now);
  consider(*t, now);
}

bool Remediator::trigger_active(const Target& t, bool* only_checks) const {
  bool any = false;
  *only_checks = true;
  for (const auto& on : t.cfg->on) {
    if (on == "crash") {
      if (t.down) {
        any = true;
        *only_checks = false;
      }
      continue;
    }
    if (auto c = t.checks.find(on); c != t.checks.end()) {
      // Failed, and judged so since the last action: the state from before
      // it (failures are not judged in the grace) is no reason to act again.
      if (c->second.state == CheckState::kFailed && c->second.last_fail_ms > t.last_action_end_ms) any = true;
      continue;
    }
    if (auto r = t.rules_firing.find(on); r != t.rules_firing.end() && r->second.first) {
      any = true;
      *only_checks = false;
    }
  }
  return any;
}

void Remediator::consider(Target& t, WallMs now) {
  if (!t.cfg || !t.incident) return;
  bool only_checks = true;
  if (!trigger_active(t, &only_checks)) return;
  if (only_checks && vigil::in_grace(t.policy, now)) return;
  RemediationSituation situation;
  for (const auto& on : t.cfg->on) {
    if (auto c = t.checks.find(on); c != t.checks.end() && c->second.flapping) situation.flapping = true;
  }
  for (const auto& d : t.depends_on) {
    if (failed(d)) situation.dependencies_down.push_back(d);
  }
  const bool was_given_up = t.policy.given_up;
  RemediationDecision d = decide_remediation(t.policy, t.rules, situation, now);
  if (was_given_up && !t.policy.given_up && t.given_up_alert) {
    t.given_up_alert = false;
    sinks_.given_up(t.name, false, "the rate limit window has room again: remediation resumes", now);
    record(t, "remediation_resumed", Severity::kWarning, "remediation of " + t.name + " resumes", now);
  }
  const std::string verdict = to_string(d.verdict);
  if (d.verdict == RemediationVerdict::kAct) {
    t.last_verdict.clear();
    act(t, d.action, now);
    return;
  }
  if (d.verdict == RemediationVerdict::kDependencyDown && t.incident->root_cause != "dependency_down") {
    Evidence e = evidence_of(t);
    e.dependencies_down = situation.dependencies_down;
    classify(t, e);
    save(t, now);
  }
  if (d.verdict == RemediationVerdict::kGivenUp && d.gave_up_now) {
    t.incident->given_up = true;
    t.given_up_alert = true;
    save(t, now);
    sinks_.given_up(t.name, true, d.reason, now);
    record(t, "remediation_given_up", Severity::kCritical, "remediation of " + t.name + " " + d.reason, now);
    t.last_verdict = verdict;
    return;
  }
  if (verdict != t.last_verdict && d.verdict != RemediationVerdict::kBusy) {
    record(t, "remediation_waiting", Severity::kWarning, "remediation of " + t.name + ": " + d.reason, now);
  }
  t.last_verdict = verdict;
}

void Remediator::act(Target& t, const std::string& action, WallMs now) {
  const RemediateConfig& cfg = *t.cfg;
  IncidentAction a;
  a.started_ms = now;
  a.action = action;
  a.result = "running";
  if (action == "restart") {
    a.detail = t.hooks.controller != nullptr ? t.hooks.controller->what() : t.name;
  } else if (action == "signal") {
    a.detail = signal_name(cfg.signal);
  } else if (action == "exec") {
    for (const auto& s : cfg.exec) a.detail += (a.detail.empty() ? "" : " ") + s;
  } else if (action == "http") {
    a.detail = "POST " + cfg.url;
  }
  remediation_started(t.policy, t.rules, now);
  t.incident->actions.push_back(a);
  const std::size_t index = t.incident->actions.size() - 1;
  if (cfg.dry_run) {
    log_info("dry run: would " + action, {{"target", t.name}, {"detail", a.detail}});
    action_done(t, index, ActionResult{"would", "dry run: would " + action + " " + a.detail + "; nothing was touched"});
    return;
  }
  save(t, now);
  log_info("remediation: " + action, {{"target", t.name}, {"detail", a.detail}});
  Target* tp = &t;
  auto done = [this, tp, index](ActionResult r) { action_done(*tp, index, std::move(r)); };
  if (action == "restart") {
    if (t.hooks.controller == nullptr) {
      done(ActionResult{"failed", "vigild cannot restart " + t.name + ": it has neither systemd_unit nor start"});
      return;
    }
    t.hooks.controller->restart(cfg.timeout, done);
    return;
  }
  if (action == "signal") {
    auto sent = t.hooks.signal ? t.hooks.signal(cfg.signal)
                               : Result<int>(fail(ErrorKind::kNotFound, "not running: no process to signal"));
    if (sent) {
      done(ActionResult{"ok", "sent " + a.detail + " to process " + std::to_string(*sent)});
    } else {
      done(ActionResult{"failed", "cannot send " + a.detail + ": " + sent.error().message});
    }
    return;
  }
  // exec and http run as one-off checks: their runners already do the
  // process and HTTP work on the loop with timeouts.
  CheckConfig c;
  c.name = "remediate-" + action;
  c.target = t.name;
  c.kind = action;
  c.timeout = cfg.timeout;
  nlohmann::json inc = {{"id", t.incident->id},
                        {"target", t.name},
                        {"trigger", t.incident->trigger},
                        {"root_cause", t.incident->root_cause},
                        {"summary", t.incident->summary},
                        {"started", format_rfc3339_ms(t.incident->started_ms)},
                        {"detected", format_rfc3339_ms(t.incident->detected_ms)},
                        {"action_number", static_cast<int>(index) + 1}};
  if (action == "exec") {
    c.command = cfg.exec;
    c.warning_is_failure = true;
    c.max_output = 4096;
    c.env = {{"VIGIL_TARGET", t.name},
             {"VIGIL_INCIDENT_ID", std::to_string(t.incident->id)},
             {"VIGIL_TRIGGER", t.incident->trigger},
             {"VIGIL_ROOT_CAUSE", t.incident->root_cause},
             {"VIGIL_SUMMARY", t.incident->summary},
             {"VIGIL_STARTED", format_rfc3339_ms(t.incident->started_ms)},
             {"VIGIL_MAIN_PID", std::to_string(t.hooks.main_pid ? t.hooks.main_pid() : 0)},
             {"VIGIL_ACTION_NUMBER", std::to_string(index + 1)}};
  } else {
    c.url = cfg.url;
    c.method = "POST";
    c.headers = {{"Content-Type", "application/json"}};
    c.body = inc.dump();
    c.connect_timeout = cfg.timeout;
  }
  t.runner = runners_->make(c);
  if (!t.runner) {
    done(ActionResult{"failed", "cannot run the " + action + " action"});
    return;
  }
  t.runner->start([done](CheckOutcome out) {
    done(ActionResult{out.ok ? "ok" : timed_out(out.reason) ? "timeout" : "failed", out.reason});
  });
}

void Remediator::action_done(Target& t, std::size_t index, ActionResult r) {
  const WallMs now = wall_now_ms();
  remediation_finished(t.policy, t.rules, now);
  t.last_action_end_ms = now;
  if (!t.incident || index >= t.incident->actions.size()) return;
  IncidentAction& a = t.incident->actions[index];
  a.finished_ms = now;
  a.result = r.result;
  a.message = r.message;
  if (a.action == "restart" && r.ok() && t.down) {
    t.down = false;
    t.up_since_ms = now;
  }
  if (a.action == "restart" && r.ok() && sinks_.restarted) sinks_.restarted(t.name);
  if (a.action == "restart" && !r.ok() && t.hooks.controller != nullptr && t.hooks.controller->main_pid() == 0) {
    t.down = true;  // nothing runs: the crash trigger stays active, no recovery
    t.up_since_ms = 0;
  }
  const bool would = r.result == "would";
  record(t, "remediation_action", r.ok() || would ? Severity::kInfo : Severity::kWarning,
         (would ? "" : a.action + " of " + t.name + " " + r.result + ": ") + r.message, now);
  save(t, now);
  check_healthy(t, now);
}

void Remediator::check_healthy(Target& t, WallMs now) {
  if (!t.incident) {
    // The healthy stretch that ends an episode (reset_after) needs every
    // check ok, not merely no incident (a check may be failing, not failed).
    bool all_ok = !t.down;
    for (const auto& [name, c] : t.checks) all_ok = all_ok && c.state == CheckState::kOk;
    if (t.cfg && all_ok) remediation_healthy(t.policy, t.rules, now);
    return;
  }
  if (t.policy.in_flight || t.down) return;
  if (t.hooks.controller != nullptr && t.hooks.controller->main_pid() == 0) return;
  const WallMs since = std::max(t.incident->detected_ms, t.last_action_end_ms);
  for (const auto& [name, c] : t.checks) {
    if (c.state != CheckState::kOk || c.last_ok_ms < since) return;
  }
  for (const auto& [name, r] : t.rules_firing) {
    if (r.first) return;
  }
  WallMs recovered = now;
  if (t.checks.empty() && t.up_since_ms != 0) {
    // Nothing but the process to judge by: it must stay up (a service that
    // dies right after each start has not recovered).
    const Millis stable = t.cfg ? t.cfg->grace : Millis(30'000);
    if (now - t.up_since_ms < stable.count()) return;
    recovered = t.up_since_ms;
  }
  t.incident->recovered_ms = recovered;
  save(t, now);
  const double seconds = static_cast<double>(recovered - t.incident->started_ms) / 1000.0;
  record(t, "incident_recovered", Severity::kInfo,
         "incident " + std::to_string(t.incident->id) + " of " + t.name + " recovered after " +
             format_rough_duration(seconds) + " (" + std::to_string(t.incident->actions.size()) + " actions)",
         now);
  t.incident.reset();
  t.last_exit.reset();
  if (t.given_up_alert) {
    t.given_up_alert = false;
    sinks_.given_up(t.name, false, t.name + " recovered", now);
  }
  // A later give-up (the window still full) is announced again.
  t.policy.given_up = false;
  if (t.cfg) remediation_healthy(t.policy, t.rules, now);
}

void Remediator::tick(WallMs now) {
  for (auto& [name, t] : targets_) {
    check_healthy(*t, now);
    consider(*t, now);
  }
}

void Remediator::save(Target& t, WallMs now) {
  if (!t.incident) return;
  t.incident->updated_ms = now;
  sinks_.incident(*t.incident);
}

void Remediator::record(Target& t, std::string kind, Severity severity, std::string message, WallMs now) {
  Event e;
  e.ts_ms = now;
  e.kind = std::move(kind);
  e.target = t.name;
  e.severity = severity;
  e.message = std::move(message);
  nlohmann::json d = nlohmann::json::object();
  if (t.incident) d["incident"] = t.incident->id;
  e.details = d.dump();
  sinks_.event(std::move(e));
}

}  // namespace vigil
