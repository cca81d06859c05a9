#include "heal/remediator.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "core/text.hpp"
#include "probes/cgroup.hpp"
#include "probes/checks/exec.hpp"
#include "probes/checks/http.hpp"
#include "probes/checks/kinds.hpp"

namespace vigil {

namespace {

// The samples kept as evidence, newest value per target.
const std::set<std::string, std::less<>>& evidence_metrics() {
  static const std::set<std::string, std::less<>> m = {"process_open_fds",
                                                       "process_max_fds",
                                                       "process_threads",
                                                       "process_resident_memory_bytes",
                                                       "cgroup_memory_usage_bytes",
                                                       "cgroup_memory_limit_bytes",
                                                       kOomKillMetric,
                                                       "cgroup_memory_failcnt_total",
                                                       "cgroup_pids_current",
                                                       "cgroup_pids_max",
                                                       "process_cpu_seconds_total",
                                                       "process_count"};
  return m;
}

// The stability period of a subject without [target.remediate].
constexpr Millis kDefaultStability{30'000};

nlohmann::json evidence_json(const Evidence& e, const std::map<std::string, double>& values) {
  nlohmann::json j = nlohmann::json::object();
  j["process_alive"] = e.process_alive;
  if (e.process_stopped) j["process_stopped"] = true;
  if (e.exit_code) j["exit_code"] = *e.exit_code;
  if (e.exit_signal) j["exit_signal"] = signal_name(*e.exit_signal);
  if (e.oom_kills_before) j["oom_kills_before"] = *e.oom_kills_before;
  if (e.oom_kills_after) j["oom_kills_after"] = *e.oom_kills_after;
  if (e.oom_reported) j["oom_killed"] = true;
  if (e.cpu_percent) j["cpu_percent"] = std::round(*e.cpu_percent * 10) / 10;
  if (!e.check_reason.empty()) j["check_reason"] = e.check_reason;
  if (e.check_timed_out) j["check_timed_out"] = true;
  if (!e.dependencies_down.empty()) j["dependencies_down"] = e.dependencies_down;
  for (const auto& [metric, v] : values) j[metric] = v;
  return j;
}

}  // namespace

struct Remediator::Subject {
  std::string target;  // "" for a check of its own
  std::string check;   // that check
  std::optional<RemediateConfig> cfg;
  RemediationRules rules;
  std::vector<std::string> depends_on;
  TargetHooks hooks;
  bool crash_incidents = false;  // an exit opens an incident
  struct CheckInfo {
    CheckState state = CheckState::kUnknown;
    bool flapping = false;
    Millis flap_window{300'000};
    WallMs last_ok_ms = 0;
    WallMs last_fail_ms = 0;  // the newest judged failing result
    std::string reason;
  };
  std::map<std::string, CheckInfo> checks;
  std::map<std::string, std::pair<bool, std::string>> rules_firing;  // rule -> (firing, reason)
  bool down = false;                                                 // exited, not running again
  WallMs up_since_ms = 0;       // the main process runs again since (after a crash)
  WallMs healthy_since_ms = 0;  // an open incident's subject is healthy since (0: not)
  std::optional<ExitInfo> last_exit;
  RemediationState policy;
  bool given_up_alert = false;
  std::optional<IncidentRow> incident;
  WallMs last_action_end_ms = 0;
  std::optional<RemediationVerdict> last_verdict;  // logged once per change
  std::map<std::string, double> values;
  std::optional<std::pair<WallMs, double>> cpu_prev, cpu_last;
  // The cgroup's OOM kill count when the current main process started (or
  // at its first sample): an OOM kill is a rise over this, not over the
  // newest sample, which the kernel may have bumped before the exit.
  std::optional<double> oom_baseline;
  int oom_baseline_pid = -1;
  std::unique_ptr<CheckRunner> runner;  // the exec or http action in flight (kept until the next)

  const std::string& name() const { return target.empty() ? check : target; }
  Millis stability() const { return cfg ? cfg->grace : kDefaultStability; }
};

Remediator::Remediator(CheckContext* context, Sinks sinks, std::function<WallMs()> clock)
    : context_(context), sinks_(std::move(sinks)), clock_(std::move(clock)) {}
Remediator::~Remediator() = default;

Remediator::Subject* Remediator::find(const std::string& target, const std::string& check) {
  auto it = subjects_.find(target.empty() ? SubjectKey{"", check} : SubjectKey{target, ""});
  return it == subjects_.end() ? nullptr : it->second.get();
}

const Remediator::Subject* Remediator::find(const std::string& target, const std::string& check) const {
  auto it = subjects_.find(target.empty() ? SubjectKey{"", check} : SubjectKey{target, ""});
  return it == subjects_.end() ? nullptr : it->second.get();
}

void Remediator::add_target(const TargetConfig& cfg, TargetHooks hooks) {
  auto s = std::make_unique<Subject>();
  s->target = cfg.name;
  s->cfg = cfg.remediate;
  s->depends_on = cfg.depends_on;
  s->hooks = std::move(hooks);
  if (cfg.remediate) {
    const RemediateConfig& r = *cfg.remediate;
    s->rules = RemediationRules{
        r.actions, r.max, r.window, r.backoff, r.max_backoff, r.grace, r.reset_after.value_or(r.max_backoff)};
  }
  // Every crash of every kind of target is an incident; remediation acts on
  // it only when its `on` lists "crash".
  s->crash_incidents = true;
  subjects_[{cfg.name, ""}] = std::move(s);
}

void Remediator::add_check(const CheckSpec& check) {
  Subject* s = find(check.target, check.name);
  if (s == nullptr) {
    // A check of its own (a remote endpoint): its incidents are the check's.
    auto fresh = std::make_unique<Subject>();
    fresh->target = check.target;
    fresh->check = check.target.empty() ? check.name : std::string();
    s = fresh.get();
    subjects_[check.target.empty() ? SubjectKey{"", check.name} : SubjectKey{check.target, ""}] = std::move(fresh);
  }
  s->checks[check.name].flap_window = check.flap_window;
}

void Remediator::restore(const std::vector<IncidentRow>& open, std::int64_t max_id, WallMs now) {
  next_id_ = max_id + 1;
  for (const auto& row : open) {
    Subject* s = find(row.target, row.check);
    if (s == nullptr || row.recovered_ms != 0) continue;
    if (!s->incident || s->incident->id < row.id) s->incident = row;
  }
  for (auto& [key, s] : subjects_) {
    if (!s->incident) continue;
    // An action the last vigild did not see finish will not report now.
    bool changed = false;
    for (auto& a : s->incident->actions) {
      if (a.result != ActionStatus::kRunning) continue;
      a.result = ActionStatus::kFailed;
      a.finished_ms = now;
      a.message = "vigild stopped while it ran; its outcome is unknown";
      changed = true;
    }
    // Judged from now on: it must stay healthy for the stability period, from now.
    s->up_since_ms = now;
    if (changed) save(*s, now);
  }
}

bool Remediator::failed(const std::string& target) const {
  const Subject* s = find(target);
  return s != nullptr && s->incident.has_value();
}

std::size_t Remediator::open_incidents() const {
  std::size_t n = 0;
  for (const auto& [key, s] : subjects_) n += s->incident ? 1 : 0;
  return n;
}

bool Remediator::in_grace(const std::string& target, WallMs now) const {
  const Subject* s = target.empty() ? nullptr : find(target);
  return s != nullptr && s->cfg && vigil::in_grace(s->policy, now);
}

void Remediator::observe(const Sample& sample) {
  if (!evidence_metrics().count(sample.key.metric)) return;
  std::string target;
  for (const auto& [k, v] : sample.key.labels) {
    if (k == "target") target = v;
  }
  if (target.empty()) return;
  Subject* s = find(target);
  if (s == nullptr) return;
  if (sample.key.metric == "process_cpu_seconds_total") {
    s->cpu_prev = s->cpu_last;
    s->cpu_last = std::pair{sample.ts_ms, sample.value};
    return;
  }
  if (sample.key.metric == kOomKillMetric && !s->oom_baseline) s->oom_baseline = sample.value;
  s->values[sample.key.metric] = sample.value;
}

// A main process that is new to us: the OOM kill count is taken from here.
void Remediator::started(Subject& s, WallMs) {
  const int pid = s.hooks.main_pid ? s.hooks.main_pid() : 0;
  if (pid != 0 && pid == s.oom_baseline_pid) return;
  s.oom_baseline_pid = pid;
  s.oom_baseline.reset();
  if (s.hooks.cgroup_now) s.oom_baseline = s.hooks.cgroup_now().oom_kills;
}

Evidence Remediator::evidence_of(const Subject& s) const {
  Evidence e;
  auto value = [&](const char* m) -> std::optional<double> {
    auto it = s.values.find(m);
    return it == s.values.end() ? std::nullopt : std::optional<double>(it->second);
  };
  e.open_fds = value("process_open_fds");
  e.max_fds = value("process_max_fds");
  e.threads = value("process_threads");
  e.max_threads = value("cgroup_pids_max");
  e.memory_bytes = value("cgroup_memory_usage_bytes");
  e.memory_limit_bytes = value("cgroup_memory_limit_bytes");
  if (!e.memory_bytes) e.memory_bytes = value("process_resident_memory_bytes");
  e.oom_kills_before = s.oom_baseline ? s.oom_baseline : value(kOomKillMetric);
  if (s.cpu_prev && s.cpu_last && s.cpu_last->first > s.cpu_prev->first) {
    e.cpu_percent = 100.0 * (s.cpu_last->second - s.cpu_prev->second) /
                    (static_cast<double>(s.cpu_last->first - s.cpu_prev->first) / 1000.0);
  }
  const int pid = s.hooks.main_pid ? s.hooks.main_pid() : 0;
  e.process_alive = !s.down && (!s.hooks.main_pid || pid != 0);
  e.process_stopped = e.process_alive && s.hooks.main_stopped && s.hooks.main_stopped();
  for (const auto& d : s.depends_on) {
    if (failed(d)) e.dependencies_down.push_back(d);
  }
  return e;
}

void Remediator::classify(Subject& s, const Evidence& e) {
  Classification c = classify_root_cause(e);
  s.incident->root_cause = c.cause;
  s.incident->summary = c.summary;
  s.incident->evidence = evidence_json(e, s.values).dump();
}

void Remediator::open_incident(Subject& s, Trigger trigger, WallMs started, WallMs now, Evidence e) {
  IncidentRow row;
  row.id = next_id_++;
  row.target = s.target;
  row.check = s.check;
  row.trigger = std::move(trigger);
  row.started_ms = started;
  row.detected_ms = now;
  row.dry_run = s.cfg && s.cfg->dry_run;
  s.incident = std::move(row);
  s.healthy_since_ms = 0;
  classify(s, e);
  save(s, now);
  record(s, EventKind::kIncidentOpened, Severity::kCritical,
         "incident " + std::to_string(s.incident->id) + " opened for " + s.name() + " (" + s.incident->trigger.text() +
             "): " + std::string(to_string(s.incident->root_cause)) + ": " + s.incident->summary,
         now);
}

void Remediator::check_result(const std::string& target, const std::string& check, const CheckStatus& status,
                              const CheckReport& report, WallMs now) {
  Subject* s = find(target, check);
  if (s == nullptr) return;
  auto& c = s->checks[check];
  const CheckState before = c.state;
  c.state = status.state;
  c.flapping = status.flapping;
  c.reason = report.reason;
  if (report.ok) {
    c.last_ok_ms = now;
  } else {
    c.last_fail_ms = now;
  }
  if (report.ok && s->cfg && vigil::in_grace(s->policy, now)) {
    // Every check passed since the action: the grace is over, and a new
    // failure counts at once.
    bool all_passed = true;
    for (const auto& [name, other] : s->checks) all_passed = all_passed && other.last_ok_ms >= s->last_action_end_ms;
    if (all_passed) s->policy.grace_until_ms = now;
  }
  if (status.state == CheckState::kFailed && before != CheckState::kFailed && !s->incident) {
    Evidence e = evidence_of(*s);
    e.check_reason = report.reason;
    e.check_timed_out = report.timed_out;
    if (s->last_exit && s->down) {
      e.exit_code = s->last_exit->code;
      e.exit_signal = s->last_exit->signal;
    }
    open_incident(*s, Trigger{TriggerKind::kCheck, check}, report.first_failure_ms != 0 ? report.first_failure_ms : now,
                  now, e);
  }
  check_healthy(*s, now);
  consider(*s, now);
}

bool Remediator::restarting(const std::string& target) const {
  const Subject* s = find(target);
  if (s == nullptr || !s->policy.in_flight || !s->incident || s->incident->actions.empty()) return false;
  const IncidentAction& a = s->incident->actions.back();
  return a.action == ActionKind::kRestart && a.result == ActionStatus::kRunning;
}

void Remediator::crashed(const std::string& target, const ExitInfo& exit, WallMs now) {
  Subject* s = find(target);
  if (s == nullptr) return;
  // One exit told twice (a container's: Docker's die event and its init
  // process's pidfd, in either order): the second only adds what it knows
  // (the exit code, OOMKilled), as exit_known() does.
  if (s->down && s->last_exit && exit.start_error.empty() && s->last_exit->start_error.empty() &&
      (exit.pid == 0 || s->last_exit->pid == 0 || exit.pid == s->last_exit->pid)) {
    if (exit.code || exit.signal || exit.oom_killed) exit_known(target, exit, now);
    return;
  }
  const bool ours = restarting(target);
  s->down = true;
  s->last_exit = exit;
  s->up_since_ms = 0;
  s->healthy_since_ms = 0;
  // vigild's own restart stopped it (a container's engine stops it first):
  // not a crash, and not the evidence of the failure that opened the incident.
  if (ours) return;
  if (exit.start_error.empty()) {
    record(*s, EventKind::kTargetCrashed, Severity::kCritical,
           "target " + target + ": main process " + std::to_string(exit.pid) + " " + exit.describe(), now);
  } else {
    record(*s, EventKind::kTargetStartFailed, Severity::kCritical, "target " + target + " " + exit.describe(), now);
  }
  if (!s->crash_incidents) return;
  Evidence e = evidence_of(*s);
  e.process_alive = false;
  e.process_stopped = false;
  e.exit_code = exit.code;
  e.exit_signal = exit.signal;
  e.oom_reported = exit.oom_killed;
  e.start_error = exit.start_error;
  if (s->hooks.cgroup_now) {
    auto now_read = s->hooks.cgroup_now();
    e.oom_kills_after = now_read.oom_kills;
    // An OOM kill: what it used when it died, not the last sample before (a
    // fast leak goes from a few MiB to the limit between two rounds). Only
    // then: the peak is the cgroup's all-time high, and a plain SIGKILL must
    // not look like memory at the limit because of an old one.
    const bool oom = e.oom_kills_before && e.oom_kills_after && *e.oom_kills_after > *e.oom_kills_before;
    if (oom && now_read.memory_peak_bytes && (!e.memory_bytes || *now_read.memory_peak_bytes > *e.memory_bytes)) {
      e.memory_bytes = now_read.memory_peak_bytes;
    }
  }
  if (!s->incident) {
    open_incident(*s, Trigger{TriggerKind::kCrash, {}}, now, now, e);
  } else if (s->incident->root_cause != RootCause::kDependencyDown) {
    // An incident already open (a check failed first, or an earlier crash
    // of the same failure): the newest exit is the better evidence.
    classify(*s, e);
    save(*s, now);
  }
  consider(*s, now);
}

void Remediator::exit_known(const std::string& target, const ExitInfo& exit, WallMs now) {
  Subject* s = find(target);
  // Running again: that exit is history, and its incident has what it needs.
  if (s == nullptr || !s->down) return;
  s->last_exit = exit;
  if (!s->incident || s->incident->trigger.kind != TriggerKind::kCrash ||
      s->incident->root_cause == RootCause::kDependencyDown || restarting(target)) {
    consider(*s, now);
    return;
  }
  Evidence e = evidence_of(*s);
  e.process_alive = false;
  e.exit_code = exit.code;
  e.exit_signal = exit.signal;
  e.oom_reported = exit.oom_killed;
  classify(*s, e);
  save(*s, now);
  // What to do may have waited for this (Docker's restart policy).
  consider(*s, now);
}

void Remediator::running(const std::string& target, WallMs now) {
  Subject* s = find(target);
  if (s == nullptr) return;
  started(*s, now);
  if (!s->down) return;
  s->down = false;
  s->up_since_ms = now;
  check_healthy(*s, now);
}

void Remediator::rule_state(const std::string& target, const std::string& rule, bool firing, const std::string& reason,
                            WallMs now) {
  Subject* s = find(target);
  if (s == nullptr || !s->cfg) return;
  const Trigger trigger{TriggerKind::kRule, rule};
  if (std::find(s->cfg->triggers.begin(), s->cfg->triggers.end(), trigger) == s->cfg->triggers.end()) return;
  auto& slot = s->rules_firing[rule];
  const bool was = slot.first;
  slot = {firing, reason};
  if (firing && !was && !s->incident) {
    Evidence e = evidence_of(*s);
    e.check_reason = reason;
    open_incident(*s, trigger, now, now, e);
  }
  if (!firing) check_healthy(*s, now);
  consider(*s, now);
}

bool Remediator::trigger_active(const Subject& s, bool* only_checks) const {
  bool any = false;
  *only_checks = true;
  for (const auto& trigger : s.cfg->triggers) {
    switch (trigger.kind) {
      case TriggerKind::kCrash:
        if (s.down) {
          any = true;
          *only_checks = false;
        }
        break;
      case TriggerKind::kCheck:
        // Failed, and judged so since the last action: the state from before
        // it (failures are not judged in the grace) is no reason to act again.
        if (auto c = s.checks.find(trigger.name); c != s.checks.end() && c->second.state == CheckState::kFailed &&
                                                  c->second.last_fail_ms > s.last_action_end_ms) {
          any = true;
        }
        break;
      case TriggerKind::kRule:
        if (auto r = s.rules_firing.find(trigger.name); r != s.rules_firing.end() && r->second.first) {
          any = true;
          *only_checks = false;
        }
        break;
    }
  }
  return any;
}

// A trigger check flaps on its own, not because vigild's actions flipped
// it (a restart makes a failed check pass, a crash loop fails it again):
// vigild acted within that check's flap window, the flapping is ours.
bool Remediator::flapping_of_its_own(const Subject& s, WallMs now) const {
  for (const auto& trigger : s.cfg->triggers) {
    if (trigger.kind != TriggerKind::kCheck) continue;
    auto c = s.checks.find(trigger.name);
    if (c == s.checks.end() || !c->second.flapping) continue;
    const bool we_acted = s.policy.last_action_ms != 0 && now - s.policy.last_action_ms < c->second.flap_window.count();
    if (!we_acted) return true;
  }
  return false;
}

void Remediator::consider(Subject& s, WallMs now) {
  if (!s.cfg || !s.incident) return;
  bool only_checks = true;
  if (!trigger_active(s, &only_checks)) return;
  if (only_checks && vigil::in_grace(s.policy, now)) return;
  decide(s, now);
}

void Remediator::decide(Subject& s, WallMs now) {
  RemediationSituation situation;
  situation.flapping = flapping_of_its_own(s, now);
  for (const auto& d : s.depends_on) {
    if (failed(d)) situation.dependencies_down.push_back(d);
  }
  if (s.hooks.manager) {
    TargetHooks::ManagerNow m = s.hooks.manager();
    situation.held = std::move(m.hold);
    situation.settling = m.settling;
    if (s.cfg->crash_implied) situation.left_to_manager = std::move(m.restarts_itself);
  }
  const bool was_given_up = s.policy.given_up;
  RemediationDecision d = decide_remediation(s.policy, s.rules, situation, now);
  if (was_given_up && !s.policy.given_up && s.given_up_alert) {
    s.given_up_alert = false;
    sinks_.given_up(s.target, false, "the rate limit window has room again: remediation resumes", now);
    record(s, EventKind::kRemediationResumed, Severity::kWarning, "remediation of " + s.target + " resumes", now);
  }
  if (d.verdict == RemediationVerdict::kAct) {
    s.last_verdict.reset();
    act(s, d.action, now);
    return;
  }
  if (d.verdict == RemediationVerdict::kDependencyDown && s.incident->root_cause != RootCause::kDependencyDown) {
    Evidence e = evidence_of(s);
    e.dependencies_down = situation.dependencies_down;
    classify(s, e);
    save(s, now);
  }
  if (d.verdict == RemediationVerdict::kGivenUp && d.gave_up_now) {
    s.incident->given_up = true;
    s.given_up_alert = true;
    save(s, now);
    sinks_.given_up(s.target, true, d.reason, now);
    record(s, EventKind::kRemediationGivenUp, Severity::kCritical, "remediation of " + s.target + " " + d.reason, now);
    s.last_verdict = d.verdict;
    return;
  }
  if (d.verdict != s.last_verdict && d.verdict != RemediationVerdict::kBusy) {
    record(s, EventKind::kRemediationWaiting, Severity::kWarning, "remediation of " + s.target + ": " + d.reason, now);
  }
  s.last_verdict = d.verdict;
}

void Remediator::act(Subject& s, ActionKind action, WallMs now) {
  const RemediateConfig& cfg = *s.cfg;
  IncidentAction a;
  a.started_ms = now;
  a.action = action;
  a.result = ActionStatus::kRunning;
  switch (action) {
    case ActionKind::kRestart:
      a.detail = s.hooks.controller != nullptr ? s.hooks.controller->what() : s.target;
      break;
    case ActionKind::kSignal:
      a.detail = signal_name(cfg.signal);
      break;
    case ActionKind::kExec:
      for (const auto& arg : cfg.exec) a.detail += (a.detail.empty() ? "" : " ") + arg;
      break;
    case ActionKind::kHttp:
      a.detail = "POST " + cfg.url;
      break;
  }
  remediation_started(s.policy, s.rules, now);
  s.incident->actions.push_back(a);
  const std::size_t index = s.incident->actions.size() - 1;
  const std::string name(to_string(action));
  if (cfg.dry_run) {
    log_info("dry run: would " + name, {{"target", s.target}, {"detail", a.detail}});
    action_done(
        s, index,
        ActionResult{ActionStatus::kWould, "dry run: would " + name + " " + a.detail + "; nothing was touched"});
    return;
  }
  save(s, now);
  log_info("remediation: " + name, {{"target", s.target}, {"detail", a.detail}});
  run_action(s, action, index, a.detail);
}

void Remediator::run_action(Subject& s, ActionKind action, std::size_t index, const std::string& detail) {
  const RemediateConfig& cfg = *s.cfg;
  Subject* sp = &s;
  auto done = [this, sp, index](ActionResult r) { action_done(*sp, index, std::move(r)); };
  if (action == ActionKind::kRestart) {
    if (s.hooks.controller == nullptr) {
      return done(
          {ActionStatus::kFailed, "vigild cannot restart " + s.target + ": it has neither systemd_unit nor start"});
    }
    return s.hooks.controller->restart(cfg.timeout, done);
  }
  if (action == ActionKind::kSignal) {
    auto sent = s.hooks.signal ? s.hooks.signal(cfg.signal)
                               : Result<int>(fail(ErrorKind::kNotFound, "not running: no process to signal"));
    if (sent) return done({ActionStatus::kOk, "sent " + detail + " to process " + std::to_string(*sent)});
    return done({ActionStatus::kFailed, "cannot send " + detail + ": " + sent.error().message});
  }
  // exec and http run as one-off checks: their runners already do the
  // process and HTTP work on the loop with timeouts.
  const IncidentRow& inc = *s.incident;
  CheckSpec c = default_check(action == ActionKind::kExec ? CheckKind::kExec : CheckKind::kHttp);
  c.name = "remediate-" + std::string(to_string(action));
  c.target = s.target;
  c.timeout = cfg.timeout;
  if (action == ActionKind::kExec) {
    ExecSettings& e = c.settings.as<ExecSettings>();
    e.command = cfg.exec;
    e.warning_is_failure = true;
    e.max_output = 4096;
    e.env = {{"VIGIL_TARGET", s.target},
             {"VIGIL_INCIDENT_ID", std::to_string(inc.id)},
             {"VIGIL_TRIGGER", inc.trigger.text()},
             {"VIGIL_ROOT_CAUSE", std::string(to_string(inc.root_cause))},
             {"VIGIL_SUMMARY", inc.summary},
             {"VIGIL_STARTED", format_rfc3339_ms(inc.started_ms)},
             {"VIGIL_MAIN_PID", std::to_string(s.hooks.main_pid ? s.hooks.main_pid() : 0)},
             {"VIGIL_ACTION_NUMBER", std::to_string(index + 1)}};
  } else {
    HttpCheckSettings& h = c.settings.as<HttpCheckSettings>();
    h.url = cfg.url;
    h.method = "POST";
    h.headers = {{"Content-Type", "application/json"}};
    h.body = nlohmann::json({{"id", inc.id},
                             {"target", s.target},
                             {"trigger", inc.trigger.text()},
                             {"root_cause", to_string(inc.root_cause)},
                             {"summary", inc.summary},
                             {"started", format_rfc3339_ms(inc.started_ms)},
                             {"detected", format_rfc3339_ms(inc.detected_ms)},
                             {"action_number", static_cast<int>(index) + 1}})
                 .dump();
    h.connect_timeout = cfg.timeout;
  }
  s.runner = context_ != nullptr ? context_->make(c) : nullptr;
  if (!s.runner) return done({ActionStatus::kFailed, "cannot run the " + std::string(to_string(action)) + " action"});
  s.runner->start([done](CheckOutcome out) {
    done({out.ok ? ActionStatus::kOk : out.timed_out ? ActionStatus::kTimeout : ActionStatus::kFailed, out.reason});
  });
}

void Remediator::action_done(Subject& s, std::size_t index, ActionResult r) {
  const WallMs now = clock_();
  remediation_finished(s.policy, s.rules, now);
  s.last_action_end_ms = now;
  if (!s.incident || index >= s.incident->actions.size()) return;
  IncidentAction& a = s.incident->actions[index];
  a.finished_ms = now;
  a.result = r.status;
  a.message = r.message;
  const bool restart = a.action == ActionKind::kRestart;
  if (restart && r.ok()) {
    started(s, now);
    if (s.down) {
      s.down = false;
      s.up_since_ms = now;
    }
    if (sinks_.restarted) sinks_.restarted(s.target);
  }
  if (restart && !r.ok() && s.hooks.controller != nullptr && s.hooks.controller->main_pid() == 0) {
    s.down = true;  // nothing runs: the crash trigger stays active, no recovery
    s.up_since_ms = 0;
  }
  const bool would = r.status == ActionStatus::kWould;
  record(
      s, EventKind::kRemediationAction, r.ok() || would ? Severity::kInfo : Severity::kWarning,
      (would ? ""
             : std::string(to_string(a.action)) + " of " + s.target + " " + std::string(to_string(r.status)) + ": ") +
          r.message,
      now);
  save(s, now);
  check_healthy(s, now);
}

// Healthy now: up (for a target vigild or systemd runs), every check ok
// with a passing result since the incident was detected and since the last
// action, no rule of `on` firing, no action running.
bool Remediator::healthy_now(const Subject& s) const {
  if (s.policy.in_flight || s.down) return false;
  if (s.hooks.controller != nullptr && s.hooks.controller->main_pid() == 0) return false;
  const WallMs since = std::max(s.incident->detected_ms, s.last_action_end_ms);
  for (const auto& [name, c] : s.checks) {
    if (c.state != CheckState::kOk || c.last_ok_ms < since) return false;
  }
  for (const auto& [name, r] : s.rules_firing) {
    if (r.first) return false;
  }
  return true;
}

void Remediator::check_healthy(Subject& s, WallMs now) {
  if (!s.incident) {
    // The healthy stretch that ends an episode (reset_after) needs every
    // check ok, not merely no incident (a check may be failing, not failed).
    bool all_ok = !s.down;
    for (const auto& [name, c] : s.checks) all_ok = all_ok && c.state == CheckState::kOk;
    if (s.cfg && all_ok) remediation_healthy(s.policy, s.rules, now);
    return;
  }
  if (!healthy_now(s)) {
    s.healthy_since_ms = 0;
    return;
  }
  // Without checks the process is all there is to judge by: healthy since it came up.
  if (s.healthy_since_ms == 0) s.healthy_since_ms = s.checks.empty() && s.up_since_ms != 0 ? s.up_since_ms : now;
  // It must stay so: a service that dies right after each start has not recovered.
  if (now - s.healthy_since_ms < s.stability().count()) return;
  recover(s, s.healthy_since_ms, now);
}

void Remediator::recover(Subject& s, WallMs recovered, WallMs now) {
  s.incident->recovered_ms = recovered;
  save(s, now);
  const double seconds = static_cast<double>(recovered - s.incident->started_ms) / 1000.0;
  const std::size_t actions = s.incident->actions.size();
  record(s, EventKind::kIncidentRecovered, Severity::kInfo,
         "incident " + std::to_string(s.incident->id) + " of " + s.name() + " recovered after " +
             format_rough_duration(seconds) + " (" + std::to_string(actions) +
             (actions == 1 ? " action)" : " actions)"),
         now);
  s.incident.reset();
  s.last_exit.reset();
  s.healthy_since_ms = 0;
  if (s.given_up_alert) {
    s.given_up_alert = false;
    sinks_.given_up(s.target, false, s.target + " recovered", now);
  }
  // A later give-up (the window still full) is announced again.
  s.policy.given_up = false;
  if (s.cfg) remediation_healthy(s.policy, s.rules, now);
}

void Remediator::tick(WallMs now) {
  for (auto& [key, s] : subjects_) {
    check_healthy(*s, now);
    consider(*s, now);
  }
}

void Remediator::save(Subject& s, WallMs now) {
  if (!s.incident) return;
  s.incident->updated_ms = now;
  sinks_.incident(*s.incident);
}

void Remediator::record(Subject& s, EventKind kind, Severity severity, std::string message, WallMs now) {
  Event e;
  e.ts_ms = now;
  e.kind = kind;
  e.target = s.target;
  e.check = s.check;
  e.severity = severity;
  e.message = std::move(message);
  nlohmann::json d = nlohmann::json::object();
  if (s.incident) d["incident"] = s.incident->id;
  e.details = d.dump();
  sinks_.event(std::move(e));
}

}  // namespace vigil
