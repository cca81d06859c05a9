// alerting/engine.hpp: rules over the live samples, alert state, and the outbox.
//
// The loop hands every sample, every check state and every target start to
// the engine; the engine keeps, per rule and series, the few points its rule
// needs (bounded), evaluates the rule (alerting/rules.hpp) when a point
// arrives, steps the alert's state machine (alert_state.hpp) and, on firing
// and resolved, writes one outbox row per receiver. Its output goes through
// two callbacks: AlertOps (state and outbox rows; the loop enqueues them on
// the store writer, which commits them with the events of the same flush)
// and Events (alert_firing, alert_resolved, alert_delivery_dropped). The
// time is always passed in; nothing here reads a clock or does I/O, so the
// whole life of an alert is unit-testable.
//
// Identity: an alert is its label set: alertname (the rule), severity,
// instance (the host), job="vigil", the series' labels (target, check,
// mountpoint...) and the rule's own labels. The store keys it by rule and
// that label set's text.
//
// Restart: restore() reloads the alerts table and the outbox. A firing
// alert stays firing (and is re-sent), a resolved one is not fired again;
// an alert whose rule is no longer configured is resolved. An alert is
// never resolved for lack of data right after a restart: a check alert waits
// for the check's state to be known, a metric alert for its rule to decide;
// only a series silent for `stale_after` resolves its alert.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alerting/alert_state.hpp"
#include "alerting/delivery.hpp"
#include "alerting/outbox.hpp"
#include "alerting/rules.hpp"
#include "core/builtin_rules.hpp"
#include "core/kinds.hpp"
#include "core/sample.hpp"
#include "store/store.hpp"

namespace vigil {

struct RuleSpec {
  std::string name;  // alertname
  RuleKind kind = RuleKind::kThreshold;
  // Metric rules: the metric and the label values a series must carry
  // (target included when given).
  std::string metric;
  Labels match;
  // Check rules: which checks ("" = any).
  std::string check_target;
  std::string check_name;
  Millis for_duration{0};
  // threshold
  Comparison op = Comparison::kGt;
  double threshold = 0;
  Millis max_age{60000};  // a newer point is needed to keep deciding
  // growth
  GrowthParams growth{Millis(1'800'000), 10.0};
  // forecast: the points of `window` are fitted; fire when `limit` (or the
  // newest value of `limit_metric` on a series sharing this one's labels)
  // is reached within `horizon`.
  Millis window{3'600'000};
  Millis horizon{86'400'000};
  std::optional<double> limit;
  std::string limit_metric;
  std::string severity = "warning";
  Labels labels;                                                 // added to the alert's
  std::vector<std::pair<std::string, std::string>> annotations;  // templates
};

struct EngineOptions {
  std::string instance;      // the host name: the instance label
  std::string external_url;  // generatorURL base; "" for none
  Millis resend_interval{30000};
  bool heartbeat = true;
  bool target_down = true;
  Millis target_down_for{0};
  Millis stale_after{600000};     // a series this long silent resolves its alert
  std::size_t max_points = 4096;  // per series kept for a rule
};

struct ReceiverSpec {
  std::string name;
  bool resend = true;  // re-send firing alerts every resend_interval
};

// What a check's state means for its alert: kUnknown leaves the alert as it is.
enum class CheckAlertState { kUnknown, kOk, kFailing };
// Failed and recovering fire; ok resolves; unknown and failing (not yet
// failed) leave the alert as it is.
CheckAlertState check_alert_state(CheckState state);

class AlertEngine {
 public:
  using OpSink = std::function<void(AlertOp)>;
  using EventSink = std::function<void(Event)>;

  AlertEngine(EngineOptions options, std::vector<RuleSpec> rules, const std::vector<ReceiverSpec>& receivers,
              OpSink ops, EventSink events);

  // Start-up: the stored alerts and outbox. Outbox rows of a receiver that
  // is no longer configured are deleted (and reported).
  void restore(const std::vector<AlertRow>& alerts, const std::vector<OutboxRow>& outbox, WallMs now);

  // Every sample the loop produces. Cheap for a metric no rule uses.
  void observe(const Sample& sample);
  // A check's state after each run (only checks with alert = true). The
  // loop reports every such check once at start-up (kUnknown) after
  // restore(): a restored check alert never reported is resolved by tick()
  // as no longer configured.
  void check_state(const std::string& target, const std::string& check, CheckAlertState state,
                   const std::string& reason, WallMs now);
  // Remediation of `target` gave up (active) or resumed (not active): the
  // built-in RemediationGivenUp alert. Restored ones that the loop does not
  // report again resolve at the first tick: a restarted vigild resumes.
  void given_up(const std::string& target, bool active, const std::string& reason, WallMs now);
  // Whether a target's main process runs (every sampling round, and at once
  // when it exits): the built-in TargetDown alert, firing after
  // target_down_for. `reason` says why it is missing.
  void target_state(const std::string& target, bool up, const std::string& reason, WallMs now);
  // At start-up, after restore(): the target is configured (with alert =
  // true); its state comes with its first round. A restored TargetDown of a
  // target never reported so is resolved by tick() as no longer configured.
  void target_watched(const std::string& target, WallMs now);
  // A target's main process started (found at start-up, or restarted):
  // growth baselines of its series start again from `start_ms` (or from
  // their earliest point, when none is as old as the start).
  void target_started(const std::string& target, WallMs start_ms);
  // A target is gone while vigild runs (a container of [docker] auto was
  // removed): its alerts (TargetDown, its checks', its series') resolve
  // with `reason`, and the engine forgets them.
  void target_removed(const std::string& target, const std::string& reason, WallMs now);
  // Stored history of a series (ascending), for rules that need more than
  // vigild has seen since it started: a growth rule's baseline window of a
  // target that started before vigild. Merged by time; evaluated with the
  // next live sample.
  void backfill(const SeriesKey& key, const Series& points);
  // Periodic (every second or so): absence and staleness, the heartbeat,
  // and resends to idle receivers.
  void tick(WallMs now);

  std::vector<ReceiverQueue>& queues() { return queues_; }
  const std::vector<ReceiverQueue>& queues() const { return queues_; }
  ReceiverQueue* queue(const std::string& receiver);
  // Called after outbox rows were queued (the sender should look).
  void on_queued(std::function<void()> f) { on_queued_ = std::move(f); }
  // A row given up by a receiver: recorded as an event.
  void report_dropped(const std::string& receiver, const OutboxRow& row, int refusals, const std::string& reason,
                      WallMs now);

  struct AlertView {
    std::string rule;
    Labels labels;
    AlertStatus status;
    std::optional<double> value;
    std::string reason;
  };
  std::vector<AlertView> alerts() const;

 private:
  struct Instance {
    std::size_t rule = 0;
    Labels labels;    // the alert's
    Labels series;    // the series' own labels
    std::string key;  // labels text
    AlertStatus status;
    Series points;
    WallMs started_ms = 0;      // growth: the baseline starts here (0: at the first point)
    WallMs last_sample_ms = 0;  // 0: none since vigild started
    WallMs watched_since_ms = 0;
    Condition last;
    bool evaluated = false;  // `last` is this run's; until then, show the stored annotations
    std::vector<std::pair<std::string, std::string>> stored_annotations;
    std::string check;  // check rules
    std::string target;
  };

  Instance& instance_for(std::size_t rule, const Labels& series, WallMs now);
  // The instance of a built-in per-target rule (marked seen now), or nullptr
  // when that rule is switched off.
  Instance* target_instance(const char* rule_name, const std::string& target, WallMs now);
  // The index of a built-in rule raised by a call (not matched to a check):
  // RemediationGivenUp, TargetDown; kNoRule when switched off.
  std::size_t builtin_rule(std::string_view name) const;
  void evaluate(Instance& in, WallMs now);
  void apply(Instance& in, const Condition& c, WallMs now);
  AlertMessage message(const Instance& in) const;
  std::vector<std::pair<std::string, std::string>> render(const Instance& in) const;
  void notify(Instance& in, const AlertTransition& t, WallMs now);
  void save(const Instance& in, WallMs now);
  std::optional<double> limit_for(const RuleSpec& r, const Labels& series) const;
  static bool matches(const Labels& want, const Labels& have);
  static std::string alertname(const Instance& in);

  EngineOptions options_;
  std::vector<RuleSpec> rules_;
  std::vector<bool> receiver_resend_;
  std::vector<ReceiverQueue> queues_;
  OpSink ops_;
  EventSink events_;
  std::function<void()> on_queued_;

  std::map<std::string, std::unique_ptr<Instance>> instances_;  // by key
  std::unordered_map<std::string, Instance*> by_series_;        // rule index + series canonical -> instance
  std::unordered_map<std::string, std::vector<std::size_t>> rules_by_metric_;
  std::set<std::string> limit_metrics_;
  std::map<std::string, std::vector<std::pair<Labels, double>>> limits_;  // limit metric -> newest values
  std::map<std::string, AlertRow> restored_;                              // by key, until its instance exists
  std::map<std::string, WallMs> target_starts_;
  std::int64_t next_id_ = 1;
  WallMs last_resend_ms_ = 0;
};

}  // namespace vigil
