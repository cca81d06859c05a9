#include "alerting/engine.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "core/template.hpp"
#include "core/text.hpp"

namespace vigil {

namespace {

constexpr std::size_t kNoRule = static_cast<std::size_t>(-1);
constexpr std::size_t kThresholdPoints = 8;

// Labels vigild sets on every alert; the rest of an alert's labels are its
// series' and its rule's.
bool is_fixed_label(std::string_view name) {
  return name == "alertname" || name == "severity" || name == "instance" || name == "job";
}

// Label values can come from process names: invalid UTF-8 is replaced, not thrown on.
std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string labels_key(const Labels& labels) {
  return SeriesKey(std::string(), labels).labels_text();
}

Severity event_severity(std::string_view severity) {
  if (severity == "critical" || severity == "page" || severity == "error") return Severity::kCritical;
  if (severity == "warning") return Severity::kWarning;
  return Severity::kInfo;
}

std::string label_value(const Labels& labels, std::string_view name) {
  for (const auto& [n, v] : labels) {
    if (n == name) return v;
  }
  return {};
}

}  // namespace

AlertEngine::AlertEngine(EngineOptions options, std::vector<RuleSpec> rules, const std::vector<ReceiverSpec>& receivers,
                         OpSink ops, EventSink events)
    : options_(std::move(options)), rules_(std::move(rules)), ops_(std::move(ops)), events_(std::move(events)) {
  RuleSpec check;
  check.name = kCheckRuleName;
  check.kind = RuleKind::kCheck;
  check.severity = "critical";
  check.annotations = {{"summary", "check {{check}} of {{target}} failed: {{reason}}"}};
  rules_.push_back(std::move(check));
  RuleSpec gu;
  gu.name = kGivenUpRuleName;
  gu.kind = RuleKind::kCheck;  // raised by given_up(), never matched to a check
  gu.severity = "critical";
  gu.check_target = "\x01";
  gu.annotations = {{"summary", "vigild gave up remediating {{target}}: {{reason}}"}};
  rules_.push_back(std::move(gu));
  if (options_.target_down) {
    RuleSpec down;
    down.name = kTargetDownRuleName;
    down.kind = RuleKind::kCheck;  // raised by target_state(), never matched to a check
    down.severity = "critical";
    down.check_target = "\x01";
    down.for_duration = options_.target_down_for;
    down.annotations = {{"summary", "{{target}} is down: {{reason}}"}};
    rules_.push_back(std::move(down));
  }
  if (options_.heartbeat) {
    RuleSpec hb;
    hb.name = kHeartbeatRuleName;
    hb.kind = RuleKind::kCheck;  // evaluated by tick(), never matched to a check
    hb.severity = "none";
    hb.check_target = "\x01";  // matches no target
    hb.annotations = {{"summary", "vigild on {{instance}} is running; this alert always fires (a dead man's switch)"}};
    rules_.push_back(std::move(hb));
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const RuleSpec& r = rules_[i];
    if (r.kind == RuleKind::kCheck) continue;
    rules_by_metric_[r.metric].push_back(i);
    if (r.kind == RuleKind::kForecast && !r.limit_metric.empty()) limit_metrics_.insert(r.limit_metric);
  }
  for (const auto& rc : receivers) {
    queues_.emplace_back(rc.name);
    receiver_resend_.push_back(rc.resend);
  }
}

ReceiverQueue* AlertEngine::queue(const std::string& receiver) {
  for (auto& q : queues_) {
    if (q.name() == receiver) return &q;
  }
  return nullptr;
}

bool AlertEngine::matches(const Labels& want, const Labels& have) {
  for (const Label& w : want) {
    auto it = std::find_if(have.begin(), have.end(), [&](const Label& l) { return l.first == w.first; });
    if (it == have.end() || it->second != w.second) return false;
  }
  return true;
}

AlertEngine::Instance& AlertEngine::instance_for(std::size_t rule, const Labels& series, WallMs now) {
  std::string cache = std::to_string(rule) + '\x01' + labels_key(series);
  if (auto it = by_series_.find(cache); it != by_series_.end()) return *it->second;
  const RuleSpec& r = rules_[rule];
  std::map<std::string, std::string> all;
  all["instance"] = options_.instance;
  all["job"] = "vigil";
  for (const auto& [name, value] : series) {
    if (!is_fixed_label(name)) all[name] = value;
  }
  for (const auto& [name, value] : r.labels) all[name] = value;
  all["alertname"] = r.name;
  all["severity"] = r.severity;
  Labels labels(all.begin(), all.end());
  std::string key = labels_key(labels);
  auto& slot = instances_[key];
  if (!slot) {
    slot = std::make_unique<Instance>();
    slot->rule = rule;
    slot->labels = std::move(labels);
    slot->series = series;
    slot->key = key;
    slot->watched_since_ms = now;
    for (const auto& [name, value] : series) {
      if (name == "target") slot->target = value;
      if (name == "check") slot->check = value;
    }
    if (auto st = target_starts_.find(slot->target); st != target_starts_.end()) slot->started_ms = st->second;
    if (auto rs = restored_.find(key); rs != restored_.end()) {
      const AlertRow& row = rs->second;
      slot->status.phase = row.phase;
      slot->status.active_since_ms = row.active_since_ms;
      slot->status.fired_ms = row.fired_ms;
      slot->status.resolved_ms = row.resolved_ms;
      slot->status.last_sent_ms = row.last_sent_ms;
      slot->last.value = row.value;
      auto stored = nlohmann::json::parse(row.annotations, nullptr, false);
      if (stored.is_object()) {
        for (const auto& [name, value] : stored.items()) {
          if (value.is_string()) slot->stored_annotations.emplace_back(name, value.get<std::string>());
        }
      }
      restored_.erase(rs);
    }
  }
  by_series_[cache] = slot.get();
  return *slot;
}

void AlertEngine::restore(const std::vector<AlertRow>& alerts, const std::vector<OutboxRow>& outbox, WallMs now) {
  for (const auto& row : outbox) {
    next_id_ = std::max(next_id_, row.id + 1);
    if (ReceiverQueue* q = queue(row.receiver)) {
      q->push(row);
      continue;
    }
    AlertOp op;
    op.kind = AlertOp::Kind::kDeleteOutbox;
    op.outbox.id = row.id;
    ops_(std::move(op));
    events_(Event{
        now,
        EventKind::kAlertDeliveryDropped,
        {},
        {},
        Severity::kWarning,
        "an undelivered alert for receiver \"" + row.receiver + "\" was dropped: that receiver is no longer configured",
        json_text(nlohmann::json({{"receiver", row.receiver}, {"alert", row.alert_key}}))});
  }
  for (const auto& row : alerts) restored_[row.labels] = row;
  // Recreate the instances of the stored alerts, so that firing ones are
  // re-sent and can resolve even before their series speaks again.
  std::vector<AlertRow> rows;
  for (const auto& [key, row] : restored_) rows.push_back(row);
  for (const auto& row : rows) {
    auto labels = parse_labels_text(row.labels);
    std::size_t rule = kNoRule;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].name == row.rule) rule = i;
    }
    bool adopted = false;
    if (labels && rule != kNoRule) {
      Labels series;
      for (const auto& l : *labels) {
        bool from_rule = std::any_of(rules_[rule].labels.begin(), rules_[rule].labels.end(),
                                     [&](const Label& r) { return r.first == l.first; });
        if (!is_fixed_label(l.first) && !from_rule) series.push_back(l);
      }
      const RuleSpec& r = rules_[rule];
      if (r.kind == RuleKind::kAbsence) series = r.match;
      Instance& in = instance_for(rule, series, now);
      adopted = in.key == row.labels;
    }
    if (adopted) continue;
    restored_.erase(row.labels);
    // Its rule is gone or now gives it other labels: resolve what was
    // announced, so that it does not hang in the receivers until it expires.
    const AlertPhase phase = row.phase;
    if (phase != AlertPhase::kFiring && phase != AlertPhase::kPending) continue;
    auto orphan = std::make_unique<Instance>();
    orphan->rule = kNoRule;
    orphan->labels = labels ? *labels : Labels{{"alertname", row.rule}};
    orphan->key = row.labels;
    for (const auto& [name, value] : orphan->labels) {
      if (name == "target") orphan->target = value;
      if (name == "check") orphan->check = value;
    }
    orphan->status.phase = phase;
    orphan->status.fired_ms = row.fired_ms;
    orphan->status.active_since_ms = row.active_since_ms;
    orphan->last.reason = "rule " + row.rule + " is no longer configured with these labels";
    Instance& in = *orphan;
    instances_[row.labels] = std::move(orphan);
    if (auto t = step(in.status, false, Millis(0), now)) {
      save(in, now);
      if (t->notify()) notify(in, *t, now);
    }
  }
}

void AlertEngine::observe(const Sample& sample) {
  if (!limit_metrics_.empty() && limit_metrics_.count(sample.key.metric)) {
    auto& values = limits_[sample.key.metric];
    auto it = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == sample.key.labels; });
    if (it == values.end()) {
      values.emplace_back(sample.key.labels, sample.value);
    } else {
      it->second = sample.value;
    }
  }
  auto rules = rules_by_metric_.find(sample.key.metric);
  if (rules == rules_by_metric_.end()) return;
  for (std::size_t r : rules->second) {
    const RuleSpec& rule = rules_[r];
    if (!matches(rule.match, sample.key.labels)) continue;
    Instance& in = instance_for(r, rule.kind == RuleKind::kAbsence ? rule.match : sample.key.labels, sample.ts_ms);
    in.last_sample_ms = std::max(in.last_sample_ms, sample.ts_ms);
    if (rule.kind == RuleKind::kAbsence) {
      in.points.assign(1, SeriesPoint{in.last_sample_ms, sample.value});
      continue;  // decided by tick()
    }
    if (!std::isfinite(sample.value)) continue;
    if (in.rule == r && rule.kind == RuleKind::kGrowth && in.started_ms == 0 && in.points.empty()) {
      in.started_ms = sample.ts_ms;  // no start known: the baseline begins with the first point
    }
    in.points.push_back(SeriesPoint{sample.ts_ms, sample.value});
    auto& pts = in.points;
    if (rule.kind == RuleKind::kThreshold && pts.size() > kThresholdPoints) {
      pts.erase(pts.begin(), pts.end() - static_cast<std::ptrdiff_t>(kThresholdPoints));
    }
    if (rule.kind == RuleKind::kForecast) {
      const WallMs oldest = sample.ts_ms - rule.window.count();
      auto keep = std::find_if(pts.begin(), pts.end(), [&](const SeriesPoint& p) { return p.ts_ms >= oldest; });
      pts.erase(pts.begin(), keep);
    }
    if (pts.size() > options_.max_points) {
      // Halve the density of the older points; the newest 64 stay whole,
      // and the span (the baseline window, the fit) is kept.
      const std::size_t old = pts.size() - 64;
      Series thinned;
      thinned.reserve(pts.size() / 2 + 64);
      for (std::size_t i = 0; i < old; i += 2) thinned.push_back(pts[i]);
      thinned.insert(thinned.end(), pts.begin() + static_cast<std::ptrdiff_t>(old), pts.end());
      pts = std::move(thinned);
    }
    evaluate(in, sample.ts_ms);
  }
}

void AlertEngine::backfill(const SeriesKey& key, const Series& points) {
  auto rules = rules_by_metric_.find(key.metric);
  if (rules == rules_by_metric_.end() || points.empty()) return;
  for (std::size_t r : rules->second) {
    const RuleSpec& rule = rules_[r];
    if (rule.kind != RuleKind::kGrowth || !matches(rule.match, key.labels)) continue;
    Instance& in = instance_for(r, key.labels, points.back().ts_ms);
    Series merged;
    merged.reserve(in.points.size() + points.size());
    std::merge(points.begin(), points.end(), in.points.begin(), in.points.end(), std::back_inserter(merged),
               [](const SeriesPoint& a, const SeriesPoint& b) { return a.ts_ms < b.ts_ms; });
    merged.erase(std::unique(merged.begin(), merged.end(),
                             [](const SeriesPoint& a, const SeriesPoint& b) { return a.ts_ms == b.ts_ms; }),
                 merged.end());
    std::erase_if(merged, [&](const SeriesPoint& p) { return p.ts_ms < in.started_ms || !std::isfinite(p.value); });
    in.points = std::move(merged);
  }
}

std::optional<double> AlertEngine::limit_for(const RuleSpec& r, const Labels& series) const {
  if (r.limit) return r.limit;
  auto it = limits_.find(r.limit_metric);
  if (it == limits_.end()) return std::nullopt;
  for (const auto& [labels, value] : it->second) {
    // The limit's series shares every label name it has with this series.
    bool same = std::all_of(labels.begin(), labels.end(), [&](const Label& l) {
      auto s = std::find_if(series.begin(), series.end(), [&](const Label& x) { return x.first == l.first; });
      return s == series.end() || s->second == l.second;
    });
    // An unlimited cgroup reads as a huge number (or +Inf): no limit.
    if (same && std::isfinite(value) && value > 0 && value < 9.0e18) return value;
  }
  return std::nullopt;
}

void AlertEngine::evaluate(Instance& in, WallMs now) {
  if (in.rule == kNoRule) return;
  const RuleSpec& r = rules_[in.rule];
  Condition c;
  switch (r.kind) {
    case RuleKind::kThreshold:
      c = eval_threshold(in.points, r.metric, r.op, r.threshold, now, r.max_age);
      break;
    case RuleKind::kGrowth: {
      // Without the history of the start (a process older than this vigild
      // whose store has no samples of it), the baseline is the first window
      // of what was seen: the earliest point, live or read back.
      const WallMs from = in.points.empty() ? in.started_ms : std::max(in.started_ms, in.points.front().ts_ms);
      c = eval_growth(in.points, r.metric, from, r.growth, now);
      break;
    }
    case RuleKind::kForecast: {
      auto limit = limit_for(r, in.series);
      if (!limit) {
        c.no_data = true;
        c.reason = "no limit known yet: no sample of " + r.limit_metric + " for this series";
        break;
      }
      c = eval_forecast(in.points, r.metric, ForecastParams{r.window, r.horizon, *limit}, now);
      break;
    }
    case RuleKind::kAbsence:
      c = eval_absence(in.points, r.metric, r.for_duration, in.watched_since_ms, now);
      break;
    case RuleKind::kCheck:
      return;
  }
  apply(in, c, now);
}

void AlertEngine::apply(Instance& in, const Condition& c, WallMs now) {
  if (c.no_data) {
    if (in.last.reason.empty()) in.last = c;  // something to show in `vigil alerts`
    return;
  }
  in.last = c;
  in.evaluated = true;
  if (in.rule == kNoRule) return;
  const RuleSpec& r = rules_[in.rule];
  // An absence rule's `for` is the silence itself.
  const Millis for_duration = r.kind == RuleKind::kAbsence ? Millis(0) : r.for_duration;
  auto t = step(in.status, c.active, for_duration, now);
  if (!t) return;
  if (t->notify()) {
    notify(in, *t, now);
  }
  save(in, now);
}

std::vector<std::pair<std::string, std::string>> AlertEngine::render(const Instance& in) const {
  // Restored and not evaluated since: what was announced, not empty templates.
  if (!in.evaluated && !in.stored_annotations.empty()) return in.stored_annotations;
  std::map<std::string, std::string> vars;
  const std::string metric = in.rule == kNoRule ? std::string() : rules_[in.rule].metric;
  vars["value"] = in.last.value ? format_metric_value(metric, *in.last.value) : "";
  vars["threshold"] = in.last.threshold ? format_metric_value(metric, *in.last.threshold) : "";
  vars["target"] = in.target;
  vars["check"] = in.check;
  vars["reason"] = in.last.reason;
  vars["metric"] = metric;
  vars["instance"] = options_.instance;
  vars["alertname"] = in.rule == kNoRule ? std::string() : rules_[in.rule].name;
  std::vector<std::pair<std::string, std::string>> out;
  bool summary = false;
  if (in.rule != kNoRule) {
    for (const auto& [name, tmpl] : rules_[in.rule].annotations) {
      out.emplace_back(name, render_template(tmpl, vars));
      summary = summary || name == "summary";
    }
  }
  if (!summary && !in.last.reason.empty()) out.emplace_back("summary", in.last.reason);
  if (!in.last.reason.empty()) out.emplace_back("reason", in.last.reason);
  return out;
}

AlertMessage AlertEngine::message(const Instance& in) const {
  AlertMessage m;
  m.labels = in.labels;
  m.annotations = render(in);
  m.starts_ms = in.status.fired_ms;
  if (in.status.phase == AlertPhase::kResolved) m.ends_ms = in.status.resolved_ms;
  if (!options_.external_url.empty()) m.generator_url = options_.external_url + "/alerts?alertname=" + alertname(in);
  return m;
}

std::string AlertEngine::alertname(const Instance& in) {
  return label_value(in.labels, "alertname");
}

void AlertEngine::save(const Instance& in, WallMs now) {
  AlertOp op;
  op.kind = AlertOp::Kind::kUpsertAlert;
  AlertRow& row = op.alert;
  row.rule = alertname(in);
  row.labels = in.key;
  row.phase = in.status.phase;
  row.active_since_ms = in.status.active_since_ms;
  row.fired_ms = in.status.fired_ms;
  row.resolved_ms = in.status.resolved_ms;
  row.last_sent_ms = in.status.last_sent_ms;
  row.value = in.last.value.value_or(0);
  nlohmann::json a = nlohmann::json::object();
  for (const auto& [name, value] : render(in)) a[name] = value;
  row.annotations = json_text(a);
  row.updated_ms = now;
  ops_(std::move(op));
}

void AlertEngine::notify(Instance& in, const AlertTransition& t, WallMs now) {
  const bool firing = t.to == AlertPhase::kFiring;
  if (firing) in.status.last_sent_ms = now;
  const std::string payload = message_to_json(message(in));
  for (auto& q : queues_) {
    OutboxRow row;
    row.id = next_id_++;
    row.receiver = q.name();
    row.alert_key = in.key;
    row.created_ms = now;
    row.payload = payload;
    row.next_attempt_ms = now;
    AlertOp op;
    op.kind = AlertOp::Kind::kAddOutbox;
    op.outbox = row;
    ops_(std::move(op));
    q.push(std::move(row));
  }
  const std::string name = alertname(in);
  const std::string severity = label_value(in.labels, "severity");
  Event e;
  e.ts_ms = now;
  e.kind = firing ? EventKind::kAlertFiring : EventKind::kAlertResolved;
  e.target = in.target;
  e.check = in.check;
  e.severity = firing ? event_severity(severity) : Severity::kInfo;
  e.message = "alert " + name + (firing ? " is firing" : " resolved") +
              (in.last.reason.empty() ? std::string() : (firing ? ": " : " (it was: ") + in.last.reason) +
              (firing || in.last.reason.empty() ? "" : ")");
  nlohmann::json d = {{"labels", in.key}, {"from", std::string(to_string(t.from))}, {"reason", in.last.reason}};
  if (in.last.value) d["value"] = *in.last.value;
  e.details = json_text(d);
  // The heartbeat is not news.
  if (name != kHeartbeatRuleName) events_(std::move(e));
  if (!queues_.empty() && on_queued_) on_queued_();
}

CheckAlertState check_alert_state(CheckState st) {
  if (st == CheckState::kFailed || st == CheckState::kRecovering) return CheckAlertState::kFailing;
  return st == CheckState::kOk ? CheckAlertState::kOk : CheckAlertState::kUnknown;
}

void AlertEngine::check_state(const std::string& target, const std::string& check, CheckAlertState state,
                              const std::string& reason, WallMs now) {
  std::size_t rule = kNoRule;
  for (std::size_t i = 0; i < rules_.size() && rule == kNoRule; ++i) {
    const RuleSpec& r = rules_[i];
    if (r.kind != RuleKind::kCheck || r.name == kHeartbeatRuleName || r.name == kGivenUpRuleName ||
        r.name == kTargetDownRuleName) {
      continue;
    }
    if ((r.check_target.empty() || r.check_target == target) && (r.check_name.empty() || r.check_name == check)) {
      rule = i;
    }
  }
  Labels labels{{"check", check}};
  if (!target.empty()) labels.emplace_back("target", target);  // a check of its own has no target
  Instance& in = instance_for(rule, labels, now);
  in.last_sample_ms = now;
  if (state == CheckAlertState::kUnknown) return;
  Condition c;
  c.active = state == CheckAlertState::kFailing;
  // A passing check resolves the alert with the failure's text: the
  // resolved notification says what ended, never "failed: HTTP 200".
  const bool alerting = in.status.phase == AlertPhase::kFiring || in.status.phase == AlertPhase::kPending;
  c.reason = c.active || !alerting || in.last.reason.empty() ? reason : in.last.reason;
  apply(in, c, now);
}

std::size_t AlertEngine::builtin_rule(std::string_view name) const {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].name == name && rules_[i].kind == RuleKind::kCheck) return i;
  }
  return kNoRule;
}

AlertEngine::Instance* AlertEngine::target_instance(const char* rule_name, const std::string& target, WallMs now) {
  const std::size_t rule = builtin_rule(rule_name);
  if (rule == kNoRule) return nullptr;
  Instance& in = instance_for(rule, Labels{{"target", target}}, now);
  in.last_sample_ms = now;
  return &in;
}

void AlertEngine::given_up(const std::string& target, bool active, const std::string& reason, WallMs now) {
  Instance* in = target_instance(kGivenUpRuleName, target, now);
  if (in == nullptr) return;
  Condition c;
  c.active = active;
  c.reason = reason;
  apply(*in, c, now);
}

void AlertEngine::target_state(const std::string& target, bool up, const std::string& reason, WallMs now) {
  Instance* in = target_instance(kTargetDownRuleName, target, now);
  if (in == nullptr) return;
  Condition c;
  c.active = !up;
  // Resolved with what was wrong, as a check's alert is.
  const bool alerting = in->status.phase == AlertPhase::kFiring || in->status.phase == AlertPhase::kPending;
  c.reason = up ? (alerting && !in->last.reason.empty() ? in->last.reason : "its main process runs") : reason;
  apply(*in, c, now);
}

void AlertEngine::target_watched(const std::string& target, WallMs now) {
  const std::size_t rule = builtin_rule(kTargetDownRuleName);
  if (rule != kNoRule) instance_for(rule, Labels{{"target", target}}, now).last_sample_ms = now;
}

void AlertEngine::target_started(const std::string& target, WallMs start_ms) {
  target_starts_[target] = start_ms;
  for (auto& [key, in] : instances_) {
    if (in->rule == kNoRule || in->target != target || rules_[in->rule].kind != RuleKind::kGrowth) continue;
    if (in->started_ms == start_ms) continue;
    in->started_ms = start_ms;
    // Points of the previous process are not the new one's baseline.
    std::erase_if(in->points, [&](const SeriesPoint& p) { return p.ts_ms < start_ms; });
  }
}

void AlertEngine::target_removed(const std::string& target, const std::string& reason, WallMs now) {
  target_starts_.erase(target);
  for (auto& [key, in] : instances_) {
    if (in->target != target || in->rule == kNoRule) continue;
    if (in->status.phase != AlertPhase::kFiring && in->status.phase != AlertPhase::kPending) continue;
    Condition c;
    c.reason = reason;
    apply(*in, c, now);
  }
  std::erase_if(by_series_, [&](const auto& kv) { return kv.second->target == target; });
  std::erase_if(instances_, [&](const auto& kv) { return kv.second->target == target; });
}

void AlertEngine::tick(WallMs now) {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const RuleSpec& r = rules_[i];
    if (r.name == kHeartbeatRuleName && r.kind == RuleKind::kCheck) {
      Instance& in = instance_for(i, {}, now);
      Condition c;
      c.active = true;
      c.reason = "vigild is running";
      apply(in, c, now);
    } else if (r.kind == RuleKind::kAbsence) {
      evaluate(instance_for(i, r.match, now), now);
    }
  }
  // A series that went silent resolves its alert (its target is gone, the
  // rule's metric is no longer produced).
  for (auto& [key, in] : instances_) {
    if (in->rule == kNoRule) continue;
    const RuleSpec& r = rules_[in->rule];
    if (in->status.phase != AlertPhase::kFiring && in->status.phase != AlertPhase::kPending) continue;
    if (r.kind == RuleKind::kCheck && r.name != kHeartbeatRuleName && in->last_sample_ms == 0) {
      // Restored, and the loop never reported this check: it is no longer configured.
      Condition c;
      c.reason = r.name == kGivenUpRuleName ? "vigild restarted: remediation of " + in->target + " resumes"
                 : r.name == kTargetDownRuleName
                     ? "target " + in->target + " is no longer configured (or no longer alerts)"
                     : "check " + in->target + "/" + in->check + " is no longer configured (or no longer alerts)";
      apply(*in, c, now);
      continue;
    }
    if (r.kind == RuleKind::kAbsence || r.kind == RuleKind::kCheck) continue;
    const WallMs heard = std::max(in->last_sample_ms, in->watched_since_ms);
    if (now - heard < options_.stale_after.count()) continue;
    Condition c;
    c.reason = "no samples of " + r.metric + " for " + format_rough_duration(static_cast<double>(now - heard) / 1000);
    apply(*in, c, now);
  }
  if (now - last_resend_ms_ >= options_.resend_interval.count()) {
    last_resend_ms_ = now;
    std::vector<std::string> firing;
    for (auto& [key, in] : instances_) {
      if (in->status.phase != AlertPhase::kFiring) continue;
      firing.push_back(message_to_json(message(*in)));
      in->status.last_sent_ms = now;
    }
    bool offered = false;
    for (std::size_t i = 0; i < queues_.size(); ++i) {
      if (!receiver_resend_[i] || !queues_[i].idle() || firing.empty()) continue;
      queues_[i].offer_resend(firing);
      offered = true;
    }
    if (offered && on_queued_) on_queued_();
  }
}

void AlertEngine::report_dropped(const std::string& receiver, const OutboxRow& row, int refusals,
                                 const std::string& reason, WallMs now) {
  nlohmann::json d = {{"receiver", receiver},
                      {"alert", row.alert_key},
                      {"refusals", refusals},
                      {"attempts", row.attempts},
                      {"reason", reason}};
  events_(Event{now,
                EventKind::kAlertDeliveryDropped,
                {},
                {},
                Severity::kWarning,
                "receiver " + receiver + " refused an alert " + count_of(refusals, "time") +
                    ": dropped it so that the queue goes on: " + reason,
                json_text(d)});
}

std::vector<AlertEngine::AlertView> AlertEngine::alerts() const {
  std::vector<AlertView> out;
  for (const auto& [key, in] : instances_) {
    AlertView v;
    v.rule = in->rule == kNoRule ? std::string() : rules_[in->rule].name;
    v.labels = in->labels;
    v.status = in->status;
    v.value = in->last.value;
    v.reason = in->last.reason;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace vigil
