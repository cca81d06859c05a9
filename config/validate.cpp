// Validation of the whole config, after every file and override is read:
// what one key's range cannot tell (names used twice, keys that need each
// other, triggers that name nothing, cycles).
#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "config/loader.hpp"
#include "config/targets.hpp"
#include "core/builtin_rules.hpp"
#include "core/template.hpp"
#include "probes/checks/kinds.hpp"

namespace vigil::config_detail {

// A kind's problems, placed where their key was written (else at the entry).
class EntryProblems : public KeyProblems {
 public:
  EntryProblems(Loader& loader, const WrittenKeys& written, const ConfigLocation& where, std::string label)
      : loader_(loader), written_(written), where_(where), label_(std::move(label)) {}

  void bad(std::string_view key, std::string message) override {
    loader_.error(ConfigErrorKind::kBadValue, at(key), dotted(key), std::move(message));
  }
  void missing(std::string_view key, std::string message) override {
    if (!written(key)) loader_.error(ConfigErrorKind::kMissingKey, where_, dotted(key), std::move(message));
  }
  void warn(std::string_view key, std::string message) override {
    loader_.warning(ConfigErrorKind::kBadValue, at(key), dotted(key), std::move(message));
  }
  bool written(std::string_view key) const override { return written_.find(key) != written_.end(); }
  // A problem of another kind than a bad value (a conflict, a range).
  void report(ConfigErrorKind kind, std::string_view key, std::string message) {
    loader_.error(kind, at(key), dotted(key), std::move(message));
  }
  ConfigLocation at(std::string_view key) const {
    auto it = written_.find(key);
    return it == written_.end() ? where_ : it->second;
  }
  std::string dotted(std::string_view key) const { return label_ + "." + std::string(key); }

 private:
  Loader& loader_;
  const WrittenKeys& written_;
  const ConfigLocation& where_;
  std::string label_;
};

namespace {

bool is_label_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Every place a target is named (a check's or a rule's target, depends_on)
// must name one that is configured.
void unknown_target(EntryProblems& p, std::string_view key, const std::string& name,
                    const std::vector<std::string>& targets) {
  if (std::find(targets.begin(), targets.end(), name) != targets.end()) return;
  p.bad(key, "no target named \"" + name + "\"" +
                 (targets.empty() ? std::string(" (no [[target]] is configured)") : did_you_mean(name, targets)));
}

bool is_metric_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; });
}

}  // namespace

std::vector<std::string> Loader::target_names() const {
  std::vector<std::string> out;
  for (const auto& t : result.config.targets) {
    if (!t.name.empty()) out.push_back(t.name);
  }
  return out;
}

void Loader::validate() {
  validate_targets();
  validate_checks();
  add_container_checks();
  validate_alerting();
  validate_remediation();
  auto& cfg = result.config;
  if (cfg.daemon.flush_interval > cfg.daemon.interval * 60) {
    warning(ConfigErrorKind::kOutOfRange, {}, "daemon.flush_interval",
            "flush_interval " + format_duration(cfg.daemon.flush_interval) +
                " is far longer than interval: a crash loses that much data");
  }
}

void Loader::validate_targets() {
  auto& cfg = result.config;
  std::map<std::string, const TargetConfig*> seen, spelled;
  for (std::size_t i = 0; i < cfg.targets.size(); ++i) {
    TargetConfig& t = cfg.targets[i];
    const std::string label = target_label(t);
    EntryProblems problems(*this, target_keys_at[i], t.where, label);
    if (!t.name.empty()) {
      auto [it, inserted] = seen.emplace(t.name, &t);
      if (!inserted) {
        problems.report(ConfigErrorKind::kDuplicateName, "name",
                        "target name \"" + t.name + "\" is already used at " + it->second->where.describe());
      } else if (auto [other, fresh] = spelled.emplace(env_name_for(t.name), &t); !fresh) {
        // VIGIL_TARGET_MY_WEB_... would pick one of them silently.
        problems.report(ConfigErrorKind::kDuplicateName, "name",
                        "target names \"" + other->second->name + "\" (" + other->second->where.describe() +
                            ") and \"" + t.name + "\" are both VIGIL_TARGET_" + other->first +
                            "_... in the environment: rename one");
      }
    }
    if (t.cgroup && t.cgroup->front() != '/') {
      problems.bad("cgroup",
                   "\"" + *t.cgroup + "\" must be an absolute cgroup path such as \"/system.slice/gateway.service\"");
    }
    if (t.finder.empty()) continue;  // no finder key, or several: reported
    const TargetKindInfo& kind = target_kind(t.kind);
    if (kind.validate != nullptr) kind.validate(t, problems);
  }
}

void Loader::validate_checks() {
  auto& cfg = result.config;
  std::map<std::pair<std::string, std::string>, const CheckConfig*> seen;
  std::map<std::string, const CheckConfig*> spelled;
  const std::vector<std::string> targets = target_names();
  std::vector<std::string> slow;  // timeout longer than interval, as chosen
  ConfigLocation first_slow;
  for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
    const CheckConfig& c = cfg.checks[i];
    const std::string label = check_label(c);
    EntryProblems problems(*this, check_keys_at[i], c.where, label);
    if (!c.name.empty()) {
      auto [it, inserted] = seen.emplace(std::make_pair(c.target, c.name), &c);
      if (!inserted) {
        problems.report(ConfigErrorKind::kDuplicateName, "name",
                        (c.target.empty() ? std::string("a check without a target") : "target " + c.target) +
                            " already has a check \"" + c.name + "\" at " + it->second->where.describe());
      } else {
        const std::string env =
            c.target.empty() ? env_name_for(c.name) : env_name_for(c.target) + "_" + env_name_for(c.name);
        if (auto [other, fresh] = spelled.emplace(env, &c); !fresh) {
          problems.report(ConfigErrorKind::kDuplicateName, "name",
                          "checks " + other->second->display_name() + " (" + other->second->where.describe() +
                              ") and " + c.display_name() + " are both VIGIL_CHECK_" + env +
                              "_... in the environment: rename one");
        }
      }
    }
    // A [[target.check]] names its target by where it is written.
    if (!c.target.empty() && problems.written("target")) unknown_target(problems, "target", c.target, targets);
    if (c.kind == CheckKind::kDockerHealth && !c.target.empty()) {
      const auto t = std::find_if(cfg.targets.begin(), cfg.targets.end(),
                                  [&](const TargetConfig& x) { return x.name == c.target; });
      if (t != cfg.targets.end() && !t->finder.empty() && !target_kind(t->kind).container) {
        problems.bad("kind", "docker_health judges a container, and target " + c.target + " is a " +
                                 std::string(to_string(t->kind)) + " target");
      }
    }
    if (c.settings.empty()) continue;  // no kind, or an unknown one: reported
    check_kind(c.kind).validate(c, problems);
    // Only when one of them was chosen: the defaults (5s, 1s) are not news.
    if (c.timeout > cfg.check_interval(c) && (problems.written("timeout") || problems.written("interval"))) {
      if (slow.empty()) first_slow = problems.at(problems.written("timeout") ? "timeout" : "interval");
      slow.push_back(c.display_name());
    }
  }
  if (!slow.empty()) {
    // Said once, however many checks: 500 alike checks are one decision.
    std::string names;
    for (std::size_t i = 0; i < slow.size() && i < 3; ++i) names += (i > 0 ? ", " : "") + slow[i];
    if (slow.size() > 3) names += " and " + std::to_string(slow.size() - 3) + " more";
    warning(ConfigErrorKind::kOutOfRange, first_slow, "check.timeout",
            std::to_string(slow.size()) + (slow.size() == 1 ? " check has" : " checks have") +
                " a timeout longer than its interval (" + names + "): a slow answer delays the next run");
  }
}

// Every container target judges its container's HEALTHCHECK: a
// docker_health check named docker_health, unless it has one of that kind
// (or a check of that name) already.
}  // namespace vigil::config_detail

namespace vigil {

namespace {
constexpr Millis kImplicitDockerHealthInterval{30'000};
}  // namespace

CheckConfig docker_health_check(const Config& cfg, const TargetConfig& t) {
  CheckConfig c;
  static_cast<CheckSpec&>(c) = default_check(CheckKind::kDockerHealth);
  c.name = std::string(to_string(CheckKind::kDockerHealth));
  c.target = t.name;
  // The engine's events run it at once (health_status, die, pause, start,
  // and whatever a re-listing finds changed): its schedule is only a
  // safety net, every 30 s (Docker's own default HEALTHCHECK interval) or
  // the target's interval if longer. Judged every second it cost 0.25 %
  // of a core for 20 containers and told nothing the events had not.
  c.interval = std::max(cfg.target_interval(t), kImplicitDockerHealthInterval);
  // Docker has already counted its own retries before it says unhealthy.
  c.fail_after = 1;
  c.recover_after = 1;
  c.where = t.where;
  return c;
}

Result<TargetConfig> discovered_container_target(const Config& cfg, const std::string& container) {
  // A target's name: 1 to 64 of [A-Za-z0-9_.-] (Docker's names are of
  // those characters, but may be longer).
  const auto name_char = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
  };
  if (container.empty() || container.size() > 64 || !std::all_of(container.begin(), container.end(), name_char)) {
    return fail(ErrorKind::kInvalid, "container " + container.substr(0, 80) +
                                         ": its name is not a target name (1 to 64 characters of [A-Za-z0-9_.-])");
  }
  if (const TargetConfig* configured = cfg.target(container)) {
    return fail(ErrorKind::kInvalid, "container " + container + " has the name of a configured target (" +
                                         std::string(to_string(configured->kind)) +
                                         "): the configured one is watched, not the container");
  }
  TargetConfig t;
  t.name = container;
  t.kind = TargetKind::kContainer;
  t.finder = KindSettings::of(ContainerTarget{container});
  t.where.file = "[docker] auto";
  return t;
}

}  // namespace vigil

namespace vigil::config_detail {

void Loader::add_container_checks() {
  auto& cfg = result.config;
  const std::string name(to_string(CheckKind::kDockerHealth));
  for (const auto& t : cfg.targets) {
    if (t.finder.empty() || !target_kind(t.kind).container) continue;
    const bool has = std::any_of(cfg.checks.begin(), cfg.checks.end(), [&](const CheckConfig& c) {
      return c.target == t.name && (c.kind == CheckKind::kDockerHealth || c.name == name);
    });
    if (has) continue;
    cfg.checks.push_back(docker_health_check(cfg, t));
    check_keys_at.emplace_back();
  }
}

void Loader::validate_alerting() {
  auto& cfg = result.config;
  std::map<ReceiverKind, int> per_kind;
  std::map<std::string, const ReceiverConfig*> names;
  for (auto& r : cfg.receivers) {
    const int n = ++per_kind[r.kind];
    if (r.name.empty()) r.name = std::string(to_string(r.kind)) + "-" + std::to_string(n);
    const std::string label = std::string(to_string(r.kind)) + "[" + r.name + "]";
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
      error(ConfigErrorKind::kMissingKey, r.where, label + ".client_cert", "client_key is set but client_cert is not");
    }
  }
  std::map<std::string, const RuleConfig*> rule_names;
  const std::vector<std::string> targets = target_names();
  for (std::size_t i = 0; i < cfg.rules.size(); ++i) {
    RuleConfig& r = cfg.rules[i];
    const std::string label = r.name.empty() ? std::string("rule") : "rule[" + r.name + "]";
    EntryProblems problems(*this, rule_keys_at[i], r.where, label);
    if (!r.name.empty()) {
      auto [it, inserted] = rule_names.emplace(r.name, &r);
      if (!inserted) {
        problems.report(ConfigErrorKind::kDuplicateName, "name",
                        "rule name \"" + r.name + "\" is already used at " + it->second->where.describe());
      }
    }
    if (!r.target.empty()) unknown_target(problems, "target", r.target, targets);
    for (const auto& [label_name, value] : r.select) {
      if (label_name == "target") unknown_target(problems, "select", value, targets);
    }
    if (!problems.written("kind")) continue;  // reported as missing (or unknown)
    validate_rule(r, problems);
  }
  if (!cfg.rules.empty() && cfg.receivers.empty()) {
    warning(ConfigErrorKind::kMissingKey, cfg.rules.front().where, "alertmanager",
            "rules are configured but no [[alertmanager]] or [[webhook]]: alerts are recorded (vigil alerts) but "
            "sent nowhere");
  }
}

void Loader::validate_rule(RuleConfig& r, KeyProblems& p) {
  static const std::set<std::string> kTemplateNames = {"value",  "threshold", "target",   "check",
                                                       "reason", "metric",    "instance", "alertname"};
  // A check rule may take the built-in name to restyle it; the heartbeat's is reserved.
  if (r.name == kHeartbeatRuleName || r.name == kGivenUpRuleName || r.name == kTargetDownRuleName ||
      (r.name == kCheckRuleName && r.kind != RuleKind::kCheck)) {
    p.bad("name", "\"" + r.name + "\" is the name of a built-in alert; choose another");
  }
  if (r.severity.empty()) r.severity = r.kind == RuleKind::kCheck ? "critical" : "warning";
  if (r.kind != RuleKind::kCheck) {
    if (r.metric.empty()) {
      p.missing("metric",
                "a " + std::string(to_string(r.kind)) + " rule needs a metric, e.g. \"process_resident_memory_bytes\"");
    } else if (!is_metric_name(r.metric)) {
      p.bad("metric", "\"" + r.metric + "\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
    }
  }
  for (const auto& [name, value] : r.select) {
    if (!is_label_name(name)) p.bad("select", "\"" + name + "\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
    if (name == "target" && !r.target.empty()) p.bad("select", "the target is given twice: use target = \"...\"");
  }
  for (const auto& [name, value] : r.labels) {
    if (!is_label_name(name)) {
      p.bad("labels", "\"" + name + "\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
    } else if (name == "alertname" || name == "severity" || name == "instance" || name == "job") {
      p.bad("labels", "\"" + name + "\" is set by vigild" +
                          std::string(name == "severity" ? ": use severity = \"...\"" : "") +
                          (name == "alertname" ? ": it is the rule's name" : ""));
    }
  }
  for (const auto& [name, tmpl] : r.annotations) {
    if (!is_label_name(name)) p.bad("annotations", "\"" + name + "\" is not an annotation name");
    if (auto v = validate_template(tmpl, kTemplateNames); !v) p.bad("annotations", name + ": " + v.error().message);
  }
  if (r.kind == RuleKind::kThreshold) p.missing("value", "a threshold rule needs a value to compare with");
  if (r.kind == RuleKind::kForecast) {
    p.missing("limit", "a forecast rule needs a limit: a number, cgroup_memory_limit, fd_limit or disk_size");
    if (!r.limit.empty() && !parse_number(r.limit) && limit_metric_for(r.limit) == nullptr &&
        !is_metric_name(r.limit)) {
      p.bad("limit",
            "\"" + r.limit + "\" is neither a number, nor cgroup_memory_limit, fd_limit, disk_size, nor a metric name");
    }
    if (r.window < Millis(60'000) && r.horizon > r.window * 100) {
      p.warn("horizon", "horizon " + format_duration(r.horizon) + " is over 100 times window " +
                            format_duration(r.window) + ": the forecast will be noisy");
    }
  }
  if (r.kind == RuleKind::kAbsence && r.for_duration.count() == 0) {
    if (p.written("for")) {
      p.bad("for", "an absence rule's for is how long the silence lasts: it must be more than 0s");
    } else {
      p.missing("for", "an absence rule needs for = \"...\": how long no samples may arrive");
    }
  }
}

// depends_on names targets (no cycle); [target.remediate] names actions it
// can run, triggers that exist, and the keys each action needs.
void Loader::validate_remediation() {
  auto& cfg = result.config;
  std::map<std::string, const TargetConfig*> by_name;
  for (const auto& t : cfg.targets) by_name.emplace(t.name, &t);
  const std::vector<std::string> names = target_names();
  for (std::size_t i = 0; i < cfg.targets.size(); ++i) {
    TargetConfig& t = cfg.targets[i];
    const std::string label = target_label(t);
    EntryProblems keys(*this, target_keys_at[i], t.where, label);
    // What vigild started, it starts again when it crashes, unless told
    // otherwise: the default [target.remediate] of a start target.
    if (!t.remediate && !t.finder.empty() && target_kind(t.kind).started_by_vigild) {
      RemediateConfig r;
      r.where = t.where;
      r.on = {std::string(to_string(TriggerKind::kCrash))};
      r.written_on = true;
      t.remediate = std::move(r);
    }
    for (const auto& d : t.depends_on) {
      if (d == t.name) {
        keys.bad("depends_on", "a target cannot depend on itself");
      } else {
        unknown_target(keys, "depends_on", d, names);
      }
    }
    if (t.remediate) {
      EntryProblems problems(*this, remediate_keys_at[i], t.remediate->where, label + ".remediate");
      validate_remediate(t, problems);
    }
  }
  // Cycles: a target that (transitively) depends on itself would never be restarted.
  std::map<std::string, int> mark;  // 0 new, 1 on the path, 2 done
  std::function<bool(const std::string&)> cyclic = [&](const std::string& name) {
    int& m = mark[name];
    if (m == 1) return true;
    if (m == 2) return false;
    m = 1;
    if (auto it = by_name.find(name); it != by_name.end()) {
      for (const auto& d : it->second->depends_on) {
        if (d != name && cyclic(d)) return true;
      }
    }
    mark[name] = 2;
    return false;
  };
  for (std::size_t i = 0; i < cfg.targets.size(); ++i) {
    const TargetConfig& t = cfg.targets[i];
    if (mark[t.name] == 0 && cyclic(t.name)) {
      EntryProblems keys(*this, target_keys_at[i], t.where, target_label(t));
      keys.bad("depends_on", "depends_on forms a cycle through " + t.name);
    }
  }
}

void Loader::validate_remediate(TargetConfig& t, EntryProblems& p) {
  RemediateConfig& r = *t.remediate;
  const auto& cfg = result.config;
  if (r.actions.empty()) p.bad("actions", "needs at least one action");
  for (ActionKind a : r.actions) {
    if (a == ActionKind::kRestart && !t.finder.empty() && !t.can_restart()) {
      p.report(ConfigErrorKind::kConflict, "actions",
               "restart needs a way to start the target again: give it systemd_unit or start, not " +
                   std::string(target_kind(t.kind).keys[0].name));
    } else if (a == ActionKind::kSignal && r.signal == 0) {
      p.missing("signal", "the signal action needs signal = \"SIGUSR1\" (or another signal)");
    } else if (a == ActionKind::kExec && r.exec.empty()) {
      p.missing("exec", "the exec action needs exec = [\"/path/to/program\", \"arg\"]");
    } else if (a == ActionKind::kHttp && r.url.empty()) {
      p.missing("url", "the http action needs url = \"http://...\"");
    }
  }
  if (r.backoff > r.max_backoff) {
    p.report(ConfigErrorKind::kOutOfRange, "backoff",
             "backoff " + format_duration(r.backoff) + " is longer than max_backoff " + format_duration(r.max_backoff));
  }
  const std::string crash(to_string(TriggerKind::kCrash));
  std::vector<std::string> own_checks, all_checks, rules;
  for (const auto& c : cfg.checks) {
    if (c.target == t.name) own_checks.push_back(c.name);
    if (c.target.empty()) all_checks.push_back(c.name);
  }
  for (const auto& rule : cfg.rules) rules.push_back(rule.name);
  if (!r.written_on) {
    r.on = own_checks;
    // A unit's crashes are systemd's to restart (Restart=); vigild
    // records them, and acts on them only when told to ("crash").
    if (!t.finder.empty() && target_kind(t.kind).started_by_vigild) r.on.push_back(crash);
    // A container's crash is vigild's to restart when Docker's restart
    // policy does not (decided at the time: heal/).
    if (!t.finder.empty() && target_kind(t.kind).container) {
      r.on.push_back(crash);
      r.crash_implied = true;
    }
    if (r.on.empty()) {
      p.missing("on", "nothing triggers it: the target has no check; write on = [\"crash\"] or add a [[target.check]]");
    }
  } else if (r.on.empty()) {
    p.bad("on", "an empty list: nothing would trigger an action; remove [target.remediate] or name a trigger");
  }
  if (std::count(own_checks.begin(), own_checks.end(), crash) > 0 ||
      std::count(rules.begin(), rules.end(), crash) > 0) {
    p.bad("on", "a check or rule named \"crash\" cannot be told from the crash trigger: rename it");
  }
  r.triggers.clear();
  for (const auto& name : r.on) {
    if (name == crash) {
      r.triggers.push_back({TriggerKind::kCrash, {}});
    } else if (std::count(own_checks.begin(), own_checks.end(), name) > 0) {
      r.triggers.push_back({TriggerKind::kCheck, name});
    } else if (std::count(rules.begin(), rules.end(), name) > 0) {
      r.triggers.push_back({TriggerKind::kRule, name});
    } else if (std::count(all_checks.begin(), all_checks.end(), name) > 0) {
      p.bad("on", "check \"" + name +
                      "\" belongs to no target: remediation acts on a target's processes, so a "
                      "trigger must be a check of " +
                      t.name + " (write it as [[target.check]] or set target = \"" + t.name + "\")");
    } else {
      std::vector<std::string> valid = {crash};
      valid.insert(valid.end(), own_checks.begin(), own_checks.end());
      valid.insert(valid.end(), rules.begin(), rules.end());
      p.bad("on",
            "\"" + name + "\" is neither \"crash\", a check of " + t.name + " nor a rule" + did_you_mean(name, valid));
    }
  }
}

}  // namespace vigil::config_detail
