// The alert engine driven with synthetic samples and explicit times: the
// AlertOps and Events it hands to its two sinks are what the tests read.
#define BOOST_TEST_MODULE alerting_engine
#include "alerting/engine.hpp"

#include <boost/test/unit_test.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace vigil;

namespace {

constexpr WallMs kT0 = 1'800'000'000'000;
constexpr WallMs kSec = 1000;
constexpr WallMs kMin = 60 * kSec;
constexpr double kMiB = 1024.0 * 1024.0;

EngineOptions options(bool heartbeat = false) {
  EngineOptions o;
  o.instance = "host1";
  o.resend_interval = Millis(30 * kSec);
  o.heartbeat = heartbeat;
  o.stale_after = Millis(10 * kMin);
  return o;
}

struct Harness {
  std::vector<AlertOp> ops;
  std::vector<Event> events;
  int queued = 0;
  AlertEngine engine;

  explicit Harness(std::vector<RuleSpec> rules, EngineOptions o = options())
      : engine(
            std::move(o), std::move(rules), {{"am", true}, {"hook", true}},
            [this](AlertOp op) { ops.push_back(std::move(op)); }, [this](Event e) { events.push_back(std::move(e)); }) {
    engine.on_queued([this] { ++queued; });
  }

  std::vector<OutboxRow> outbox() const {
    std::vector<OutboxRow> out;
    for (const auto& op : ops) {
      if (op.kind == AlertOp::Kind::kAddOutbox) out.push_back(op.outbox);
    }
    return out;
  }
  std::vector<AlertRow> upserts() const {
    std::vector<AlertRow> out;
    for (const auto& op : ops) {
      if (op.kind == AlertOp::Kind::kUpsertAlert) out.push_back(op.alert);
    }
    return out;
  }
  std::vector<Event> events_of(EventKind kind) const {
    std::vector<Event> out;
    for (const auto& e : events) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  void clear() {
    ops.clear();
    events.clear();
  }
  void observe(const std::string& metric, Labels labels, WallMs ts, double value) {
    engine.observe(Sample{SeriesKey(metric, std::move(labels)), ts, value});
  }
};

AlertMessage parse(const std::string& payload) {
  auto m = message_from_json(payload);
  BOOST_REQUIRE_MESSAGE(m.has_value(), payload);
  return *m;
}
AlertMessage parse(const OutboxRow& row) {
  return parse(row.payload);
}

std::string label(const AlertMessage& m, const std::string& name) {
  for (const auto& [n, v] : m.labels) {
    if (n == name) return v;
  }
  return "<none>";
}

std::string annotation(const AlertMessage& m, const std::string& name) {
  std::string out = "<none>";
  for (const auto& [n, v] : m.annotations) {
    if (n == name) out = v;
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

RuleSpec load_rule(Millis for_duration = Millis(2 * kMin)) {
  RuleSpec r;
  r.name = "HighLoad";
  r.kind = RuleKind::kThreshold;
  r.metric = "node_load1";
  r.op = Comparison::kGt;
  r.threshold = 4;
  r.for_duration = for_duration;
  r.labels = {{"team", "ops"}};
  r.annotations = {{"description", "load {{value}} over {{threshold}} on {{target}}"}};
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(threshold_goes_pending_then_fires_after_for_then_resolves) {
  Harness h({load_rule()});
  h.observe("node_load1", {{"target", "web"}}, kT0, 5);
  BOOST_REQUIRE(h.upserts().size() == 1u);
  BOOST_TEST((h.upserts()[0].phase == AlertPhase::kPending));
  BOOST_TEST(h.outbox().empty());  // pending is not sent
  BOOST_TEST(h.events.empty());
  h.observe("node_load1", {{"target", "web"}}, kT0 + kMin, 6);
  BOOST_TEST(h.outbox().empty());

  h.observe("node_load1", {{"target", "web"}}, kT0 + 2 * kMin, 7);
  auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);  // one per receiver
  BOOST_TEST(rows[0].id == 1);
  BOOST_TEST(rows[1].id == 2);
  BOOST_TEST(rows[0].receiver == "am");
  BOOST_TEST(rows[1].receiver == "hook");
  BOOST_TEST(rows[0].alert_key == h.upserts().back().labels);
  BOOST_TEST((h.upserts().back().phase == AlertPhase::kFiring));
  const AlertMessage fired = parse(rows[0]);
  const Labels want = {{"alertname", "HighLoad"}, {"instance", "host1"}, {"job", "vigil"},
                       {"severity", "warning"},   {"target", "web"},     {"team", "ops"}};
  BOOST_TEST((fired.labels == want));
  BOOST_TEST(fired.starts_ms == kT0 + 2 * kMin);
  BOOST_TEST(!fired.ends_ms.has_value());
  BOOST_TEST(annotation(fired, "description") == "load 7 over 4 on web");
  BOOST_TEST(contains(annotation(fired, "summary"), "node_load1 7 > 4"), annotation(fired, "summary"));
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertFiring));
  BOOST_TEST(h.events[0].target == "web");
  BOOST_TEST((h.events[0].severity == Severity::kWarning));
  BOOST_TEST(contains(h.events[0].message, "HighLoad"));
  BOOST_TEST(h.queued == 1);
  BOOST_TEST(h.engine.queue("am")->stats().pending == 1u);
  auto batch = h.engine.queue("hook")->take(kT0 + 2 * kMin);
  BOOST_REQUIRE(batch.has_value());
  BOOST_TEST(batch->ids == (std::vector<std::int64_t>{2}), boost::test_tools::per_element());

  h.clear();
  h.observe("node_load1", {{"target", "web"}}, kT0 + 3 * kMin, 7.5);  // still firing: nothing new
  BOOST_TEST(h.outbox().empty());
  h.observe("node_load1", {{"target", "web"}}, kT0 + 4 * kMin, 3);
  rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(rows[0].id == 3);
  BOOST_TEST(rows[1].id == 4);
  const AlertMessage resolved = parse(rows[1]);
  BOOST_TEST((resolved.labels == want));
  BOOST_TEST(resolved.starts_ms == kT0 + 2 * kMin);
  BOOST_TEST(resolved.ends_ms.value() == kT0 + 4 * kMin);
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertResolved));
  BOOST_TEST((h.upserts().back().phase == AlertPhase::kResolved));
  BOOST_TEST(h.engine.queue("am")->stats().pending == 2u);
}

BOOST_AUTO_TEST_CASE(rules_select_series_by_label_and_each_series_is_an_alert) {
  RuleSpec only_a = load_rule(Millis(0));
  only_a.match = {{"target", "a"}};
  RuleSpec disk;
  disk.name = "DiskFull";
  disk.metric = "fs_used_ratio";
  disk.threshold = 0.9;
  Harness h({only_a, disk});
  h.observe("node_load1", {{"target", "b"}}, kT0, 9);
  BOOST_TEST(h.ops.empty());
  BOOST_TEST(h.engine.alerts().empty());
  h.observe("node_load1", {{"target", "a"}}, kT0, 9);
  BOOST_REQUIRE(h.outbox().size() == 2u);
  BOOST_TEST(label(parse(h.outbox()[0]), "target") == "a");

  h.clear();
  h.observe("fs_used_ratio", {{"mountpoint", "/"}, {"target", "a"}}, kT0, 0.95);
  h.observe("fs_used_ratio", {{"mountpoint", "/var"}, {"target", "a"}}, kT0, 0.97);
  h.observe("fs_used_ratio", {{"mountpoint", "/home"}, {"target", "a"}}, kT0, 0.5);
  const auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 4u);
  BOOST_TEST(rows[0].alert_key != rows[2].alert_key);
  BOOST_TEST(label(parse(rows[0]), "mountpoint") == "/");
  BOOST_TEST(label(parse(rows[2]), "mountpoint") == "/var");
  BOOST_TEST(h.events_of(EventKind::kAlertFiring).size() == 2u);
  BOOST_TEST(h.engine.alerts().size() == 4u);  // a, / , /var and /home (inactive)
}

BOOST_AUTO_TEST_CASE(check_alerts_fire_at_once_resolve_on_ok_and_ignore_unknown) {
  Harness h({});
  h.engine.check_state("web", "http", CheckAlertState::kUnknown, "", kT0);
  BOOST_TEST(h.ops.empty());
  h.engine.check_state("web", "http", CheckAlertState::kFailing, "connection refused", kT0 + kSec);
  auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  const AlertMessage m = parse(rows[0]);
  BOOST_TEST(label(m, "alertname") == kCheckRuleName);
  BOOST_TEST(label(m, "severity") == "critical");
  BOOST_TEST(label(m, "check") == "http");
  BOOST_TEST(label(m, "target") == "web");
  BOOST_TEST(annotation(m, "summary") == "check http of web failed: connection refused");
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].severity == Severity::kCritical));
  BOOST_TEST(h.events[0].check == "http");

  h.clear();
  h.engine.check_state("web", "http", CheckAlertState::kUnknown, "", kT0 + 2 * kSec);
  h.engine.check_state("web", "http", CheckAlertState::kFailing, "still refused", kT0 + 3 * kSec);
  BOOST_TEST(h.outbox().empty());  // unknown left it firing; failing again is not news
  h.engine.check_state("web", "http", CheckAlertState::kOk, "", kT0 + 4 * kSec);
  rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(parse(rows[0]).ends_ms.value() == kT0 + 4 * kSec);
  BOOST_TEST(h.events_of(EventKind::kAlertResolved).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_check_rule_restyles_the_checks_it_matches) {
  RuleSpec db;
  db.name = "DatabaseDown";
  db.kind = RuleKind::kCheck;
  db.check_target = "db";
  db.check_name = "pg";
  db.severity = "page";
  Harness h({db});
  h.engine.check_state("db", "pg", CheckAlertState::kFailing, "timeout", kT0);
  h.engine.check_state("db", "disk", CheckAlertState::kFailing, "full", kT0);
  h.engine.check_state("web", "pg", CheckAlertState::kFailing, "refused", kT0);
  const auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 6u);
  BOOST_TEST(label(parse(rows[0]), "alertname") == "DatabaseDown");
  BOOST_TEST(label(parse(rows[0]), "severity") == "page");
  BOOST_TEST(label(parse(rows[2]), "alertname") == kCheckRuleName);  // other check of db
  BOOST_TEST(label(parse(rows[4]), "alertname") == kCheckRuleName);  // pg of another target
  BOOST_TEST((h.events[0].severity == Severity::kCritical));         // "page" is critical
}

BOOST_AUTO_TEST_CASE(heartbeat_fires_once_and_records_no_event) {
  Harness h({}, options(true));
  h.engine.tick(kT0);
  auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  const AlertMessage m = parse(rows[0]);
  BOOST_TEST(label(m, "alertname") == kHeartbeatRuleName);
  BOOST_TEST(label(m, "severity") == "none");
  BOOST_TEST(label(m, "instance") == "host1");
  BOOST_TEST(h.events.empty());
  h.engine.tick(kT0 + kSec);
  h.engine.tick(kT0 + kMin);
  BOOST_TEST(h.outbox().size() == 2u);  // fired once

  Harness off({}, options(false));
  off.engine.tick(kT0);
  off.engine.tick(kT0 + kMin);
  BOOST_TEST(off.ops.empty());
  BOOST_TEST(off.engine.alerts().empty());
}

BOOST_AUTO_TEST_CASE(growth_fires_over_the_baseline_and_a_restart_starts_a_new_one) {
  RuleSpec leak;
  leak.name = "MemoryLeak";
  leak.kind = RuleKind::kGrowth;
  leak.metric = "process_resident_memory_bytes";
  leak.growth = GrowthParams{Millis(30 * kMin), 10.0};
  Harness h({leak});
  h.engine.target_started("web", kT0);
  const Labels web = {{"target", "web"}};
  for (int m = 0; m <= 31; ++m) h.observe(leak.metric, web, kT0 + m * kMin, m <= 30 ? 100 * kMiB : 120 * kMiB);
  BOOST_TEST(h.ops.empty());  // flat, then one high point is not growth
  h.observe(leak.metric, web, kT0 + 32 * kMin, 120 * kMiB);
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertFiring));
  BOOST_TEST(contains(h.events[0].message, "baseline"), h.events[0].message);
  BOOST_TEST(contains(annotation(parse(h.outbox()[0]), "summary"), "20 %"),
             annotation(parse(h.outbox()[0]), "summary"));

  // The process restarted at 120 MiB: that is its new baseline, not growth.
  h.clear();
  h.engine.target_started("web", kT0 + 40 * kMin);
  for (int m = 40; m < 70; ++m) h.observe(leak.metric, web, kT0 + m * kMin, 120 * kMiB);
  BOOST_TEST(h.events.empty());  // no decision while the new baseline window runs
  h.observe(leak.metric, web, kT0 + 70 * kMin, 120 * kMiB);
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertResolved));
  BOOST_TEST(contains(h.events[0].message, "0 % above its baseline 120 MiB"), h.events[0].message);
}

// A process that started before the first sample (vigild started after it,
// with no history of it in the store): the baseline is the first window of
// what was seen, not a window almost empty of samples that never decides.
BOOST_AUTO_TEST_CASE(growth_of_a_process_older_than_its_first_sample_uses_the_first_window_seen) {
  RuleSpec leak;
  leak.name = "MemoryLeak";
  leak.kind = RuleKind::kGrowth;
  leak.metric = "process_resident_memory_bytes";
  leak.growth = GrowthParams{Millis(3 * kSec), 10.0};
  Harness h({leak});
  h.engine.target_started("hog", kT0);
  const Labels hog = {{"target", "hog"}};
  // First seen 2 s after its start: one sample would fall in [start, start + 3 s].
  for (int s = 2; s <= 6; ++s) h.observe(leak.metric, hog, kT0 + s * kSec, 3 * kMiB);
  BOOST_TEST(h.events.empty());
  for (int s = 7; s <= 10; ++s) h.observe(leak.metric, hog, kT0 + s * kSec, 3 * kMiB + (s - 6) * 8 * kMiB);
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertFiring));
}

BOOST_AUTO_TEST_CASE(forecast_waits_for_its_limit_metric_then_fires) {
  RuleSpec oom;
  oom.name = "MemoryLimitSoon";
  oom.kind = RuleKind::kForecast;
  oom.metric = "process_resident_memory_bytes";
  oom.limit_metric = "target_memory_limit_bytes";
  oom.window = Millis(60 * kMin);
  oom.horizon = Millis(24 * 60 * kMin);
  Harness h({oom});
  const Labels web = {{"target", "web"}};
  h.observe(oom.limit_metric, {{"target", "db"}}, kT0, 1024 * kMiB);  // another target's limit
  for (int m = 0; m <= 60; m += 5) h.observe(oom.metric, web, kT0 + m * kMin, (500 + 2 * m) * kMiB);
  BOOST_TEST(h.ops.empty());
  BOOST_REQUIRE(h.engine.alerts().size() == 1u);
  BOOST_TEST(contains(h.engine.alerts()[0].reason, "no limit known"), h.engine.alerts()[0].reason);

  h.observe(oom.limit_metric, web, kT0 + 60 * kMin, 1024 * kMiB);
  BOOST_TEST(h.ops.empty());                                // decided at the next point of the series
  h.observe(oom.metric, web, kT0 + 65 * kMin, 630 * kMiB);  // 120 MiB/h: 1 GiB in about 3.3 h
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertFiring));
  BOOST_TEST(contains(h.events[0].message, "1 GiB"), h.events[0].message);
  BOOST_TEST(label(parse(h.outbox()[0]), "target") == "web");
}

BOOST_AUTO_TEST_CASE(absence_fires_at_tick_and_a_sample_resolves_it) {
  RuleSpec silent;
  silent.name = "BackupSilent";
  silent.kind = RuleKind::kAbsence;
  silent.metric = "backup_last_success_timestamp_seconds";
  silent.match = {{"target", "backup"}};
  silent.for_duration = Millis(5 * kMin);
  Harness h({silent});
  h.engine.tick(kT0);
  h.engine.tick(kT0 + 5 * kMin - 1);
  BOOST_TEST(h.outbox().empty());
  h.engine.tick(kT0 + 5 * kMin);
  BOOST_REQUIRE(h.outbox().size() == 2u);
  BOOST_TEST(label(parse(h.outbox()[0]), "target") == "backup");
  BOOST_TEST(h.events_of(EventKind::kAlertFiring).size() == 1u);

  h.clear();
  h.observe(silent.metric, {{"target", "backup"}}, kT0 + 6 * kMin, 1.8e9);
  BOOST_TEST(h.ops.empty());  // decided by tick()
  h.engine.tick(kT0 + 6 * kMin + kSec);
  BOOST_REQUIRE(h.outbox().size() == 2u);
  BOOST_TEST(parse(h.outbox()[0]).ends_ms.value() == kT0 + 6 * kMin + kSec);
  BOOST_TEST(h.events_of(EventKind::kAlertResolved).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_silent_series_resolves_its_firing_alert) {
  Harness h({load_rule(Millis(0))});
  h.observe("node_load1", {{"target", "web"}}, kT0, 9);
  BOOST_REQUIRE(h.outbox().size() == 2u);
  h.clear();
  h.engine.tick(kT0 + 10 * kMin - 1);
  BOOST_TEST(h.outbox().empty());
  h.engine.tick(kT0 + 10 * kMin);
  BOOST_REQUIRE(h.outbox().size() == 2u);
  BOOST_TEST(parse(h.outbox()[0]).ends_ms.value() == kT0 + 10 * kMin);
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertResolved));
  BOOST_TEST(contains(h.events[0].message, "no samples of node_load1"), h.events[0].message);
}

namespace {

// A first engine's stored state: the upsert of the firing alert.
AlertRow fired_row(const RuleSpec& rule, const Labels& series, WallMs at) {
  Harness first({rule});
  first.observe(rule.metric, series, at, 9);
  BOOST_REQUIRE(!first.upserts().empty());
  BOOST_REQUIRE((first.upserts().back().phase == AlertPhase::kFiring));
  return first.upserts().back();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_restored_firing_alert_is_not_fired_again_and_is_resent) {
  const AlertRow stored = fired_row(load_rule(Millis(0)), {{"target", "web"}}, kT0);
  Harness h({load_rule(Millis(0))});
  const WallMs t = kT0 + kMin;
  h.engine.restore({stored}, {}, t);
  BOOST_TEST(h.ops.empty());
  h.observe("node_load1", {{"target", "web"}}, t, 8);  // the condition still holds
  BOOST_TEST(h.outbox().empty());
  BOOST_TEST(h.events.empty());
  BOOST_REQUIRE(h.engine.alerts().size() == 1u);
  BOOST_TEST(h.engine.alerts()[0].status.fired_ms == kT0);

  h.engine.tick(t);  // the first tick re-sends what fires
  auto batch = h.engine.queue("am")->take(t);
  BOOST_REQUIRE(batch.has_value());
  BOOST_TEST(batch->resend);
  BOOST_REQUIRE(batch->payloads.size() == 1u);
  const AlertMessage m = parse(batch->payloads[0]);
  BOOST_TEST(m.starts_ms == kT0);
  BOOST_TEST(label(m, "alertname") == "HighLoad");
  BOOST_TEST(label(m, "target") == "web");
  h.engine.queue("am")->finish(200, "http://am", "", t, 0.0);
  h.engine.tick(t + 10 * kSec);
  BOOST_TEST(!h.engine.queue("am")->take(t + 10 * kSec).has_value());
  h.engine.tick(t + 30 * kSec);  // resend_interval later
  batch = h.engine.queue("am")->take(t + 30 * kSec);
  BOOST_REQUIRE(batch.has_value());
  BOOST_TEST(batch->resend);
  BOOST_TEST(h.outbox().empty());  // resends are never outbox rows
}

// The first tick() after restore re-sends every firing alert at once (to
// refresh its endsAt); until its rule decides again, the alert carries the
// annotations stored with it, not templates rendered from nothing.
BOOST_AUTO_TEST_CASE(a_resend_right_after_restore_keeps_the_stored_annotations) {
  const AlertRow stored = fired_row(load_rule(Millis(0)), {{"target", "web"}}, kT0);
  BOOST_REQUIRE(contains(stored.annotations, "load 9 over 4 on web"));
  Harness h({load_rule(Millis(0))});
  h.engine.restore({stored}, {}, kT0 + kMin);
  h.engine.tick(kT0 + kMin);
  auto batch = h.engine.queue("am")->take(kT0 + kMin);
  BOOST_REQUIRE(batch.has_value());
  const AlertMessage m = parse(batch->payloads.at(0));
  BOOST_TEST(annotation(m, "description") == "load 9 over 4 on web");
  BOOST_TEST(contains(annotation(m, "summary"), "node_load1 9 > 4"));
}

BOOST_AUTO_TEST_CASE(a_stored_alert_of_a_removed_rule_is_resolved_at_restore) {
  const AlertRow stored = fired_row(load_rule(Millis(0)), {{"target", "web"}}, kT0);
  AlertRow was_resolved = stored;  // of a removed rule too, but already over: nothing to say
  was_resolved.labels = "{alertname=\"HighLoad\",target=\"db\"}";
  was_resolved.phase = AlertPhase::kResolved;
  Harness h({});
  h.engine.restore({stored, was_resolved}, {}, kT0 + kMin);
  const auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(rows[0].alert_key == stored.labels);
  const AlertMessage m = parse(rows[0]);
  BOOST_TEST(label(m, "alertname") == "HighLoad");
  BOOST_TEST(label(m, "target") == "web");
  BOOST_TEST(m.starts_ms == kT0);
  BOOST_TEST(m.ends_ms.value() == kT0 + kMin);
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertResolved));
  BOOST_TEST(contains(h.events[0].message, "no longer configured"), h.events[0].message);
  BOOST_TEST((h.upserts().back().phase == AlertPhase::kResolved));
}

BOOST_AUTO_TEST_CASE(restored_outbox_rows_go_to_their_queue_or_are_dropped_and_ids_continue) {
  OutboxRow kept;
  kept.id = 40;
  kept.receiver = "am";
  kept.alert_key = "{alertname=\"X\"}";
  kept.payload = "{}";
  OutboxRow orphan = kept;
  orphan.id = 41;
  orphan.receiver = "gone";
  Harness h({load_rule(Millis(0))});
  h.engine.restore({}, {kept, orphan}, kT0);
  BOOST_REQUIRE(h.ops.size() == 1u);
  BOOST_TEST((h.ops[0].kind == AlertOp::Kind::kDeleteOutbox));
  BOOST_TEST(h.ops[0].outbox.id == 41);
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertDeliveryDropped));
  BOOST_TEST(contains(h.events[0].message, "\"gone\""), h.events[0].message);
  BOOST_TEST(h.engine.queue("am")->stats().pending == 1u);
  BOOST_TEST(h.engine.queue("hook")->stats().pending == 0u);

  h.observe("node_load1", {{"target", "web"}}, kT0 + kSec, 9);
  const auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(rows[0].id == 42);
  BOOST_TEST(rows[1].id == 43);
}

BOOST_AUTO_TEST_CASE(a_restored_check_alert_never_reported_is_resolved_by_tick) {
  Harness first({});
  first.engine.check_state("web", "http", CheckAlertState::kFailing, "refused", kT0);
  first.engine.check_state("web", "tcp", CheckAlertState::kFailing, "refused", kT0);
  const auto stored = first.upserts();
  BOOST_REQUIRE(stored.size() == 2u);

  Harness h({});
  h.engine.restore(stored, {}, kT0 + kMin);
  BOOST_TEST(h.ops.empty());
  h.engine.check_state("web", "tcp", CheckAlertState::kUnknown, "", kT0 + kMin);  // still configured
  h.engine.tick(kT0 + kMin + kSec);
  const auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(label(parse(rows[0]), "check") == "http");
  BOOST_REQUIRE(h.events.size() == 1u);
  BOOST_TEST((h.events[0].kind == EventKind::kAlertResolved));
  BOOST_TEST(contains(h.events[0].message, "no longer configured"), h.events[0].message);
  // tcp waits for its state; a failing report does not fire it again.
  h.clear();
  h.engine.check_state("web", "tcp", CheckAlertState::kFailing, "refused", kT0 + 2 * kMin);
  BOOST_TEST(h.outbox().empty());
}

BOOST_AUTO_TEST_CASE(report_dropped_records_an_event) {
  Harness h({});
  OutboxRow row;
  row.id = 3;
  row.receiver = "am";
  row.alert_key = "{alertname=\"HighLoad\"}";
  row.attempts = 9;  // 4 of them found the receiver down
  h.engine.report_dropped("am", row, 5, "HTTP 400 from http://am/api/v2/alerts (refusal 5 of 5: dropped)", kT0);
  BOOST_REQUIRE(h.events.size() == 1u);
  const Event& e = h.events[0];
  BOOST_TEST((e.kind == EventKind::kAlertDeliveryDropped));
  BOOST_TEST(e.ts_ms == kT0);
  BOOST_TEST((e.severity == Severity::kWarning));
  BOOST_TEST(contains(e.message, "am"));
  BOOST_TEST(e.message ==
                 "receiver am refused an alert 5 times: dropped it so that the queue goes on: "
                 "HTTP 400 from http://am/api/v2/alerts (refusal 5 of 5: dropped)",
             e.message);
  BOOST_TEST(contains(e.details, "\"attempts\":9"), e.details);
  BOOST_TEST(contains(e.details, "\"refusals\":5"), e.details);
  BOOST_TEST(contains(e.details, "HighLoad"), e.details);
  BOOST_TEST(h.ops.empty());
}

BOOST_AUTO_TEST_CASE(target_down_fires_after_its_for_and_resolves_with_what_was_wrong) {
  EngineOptions o = options();
  o.target_down_for = Millis(3000);
  Harness h({}, o);
  h.engine.target_state("gw", true, "", kT0);
  BOOST_TEST(h.outbox().empty());
  h.engine.target_state("gw", false, "main process 42 killed by SIGKILL", kT0 + kSec);
  h.engine.target_state("gw", false, "pidfile /run/gw.pid names no running process", kT0 + 2 * kSec);
  BOOST_TEST(h.outbox().empty());  // pending for 3 s
  h.engine.target_state("gw", false, "pidfile /run/gw.pid names no running process", kT0 + 4 * kSec);
  auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);  // one per receiver
  const AlertMessage a = parse(rows[0]);
  BOOST_TEST(label(a, "alertname") == "TargetDown");
  BOOST_TEST(label(a, "target") == "gw");
  BOOST_TEST(label(a, "severity") == "critical");
  BOOST_TEST(annotation(a, "summary") == "gw is down: pidfile /run/gw.pid names no running process");
  h.clear();
  h.engine.target_state("gw", true, "", kT0 + 5 * kSec);
  rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(contains(annotation(parse(rows[0]), "summary"), "names no running process"));
}

BOOST_AUTO_TEST_CASE(target_down_can_be_switched_off_and_its_name_is_its_own) {
  EngineOptions o = options();
  o.target_down = false;
  Harness h({}, o);
  h.engine.target_state("gw", false, "gone", kT0);
  BOOST_TEST(h.outbox().empty());
  // A check of a target named like nothing special never lands on TargetDown.
  Harness on({});
  on.engine.check_state("gw", "http", CheckAlertState::kFailing, "refused", kT0);
  for (const auto& row : on.outbox()) BOOST_TEST(label(parse(row), "alertname") == "CheckFailed");
}

// A target gone while vigild runs ([docker] auto, its container removed):
// its firing alerts resolve at once with the reason, and are forgotten;
// another target's stay.
BOOST_AUTO_TEST_CASE(a_removed_target_resolves_and_forgets_its_alerts) {
  Harness h({});
  h.engine.target_state("web", false, "container web is exited (code 137)", kT0);
  h.engine.check_state("web", "docker_health", CheckAlertState::kFailing, "container web is not running", kT0);
  h.engine.target_state("gw", false, "gone", kT0);
  BOOST_REQUIRE(h.outbox().size() == 6u);  // three alerts, two receivers
  h.clear();
  h.engine.target_removed("web", "target web is no longer watched: container web was removed", kT0 + kSec);
  const auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 4u);
  std::set<std::string> resolved;
  for (const auto& row : rows) {
    const AlertMessage a = parse(row);
    BOOST_TEST(label(a, "target") == "web");
    BOOST_TEST(a.ends_ms.value_or(0) == kT0 + kSec);
    BOOST_TEST(contains(annotation(a, "summary"), "container web was removed"), annotation(a, "summary"));
    resolved.insert(label(a, "alertname"));
  }
  BOOST_TEST(resolved == (std::set<std::string>{"CheckFailed", "TargetDown"}), boost::test_tools::per_element());
  std::set<std::string> left;
  for (const auto& a : h.engine.alerts()) {
    for (const auto& [k, v] : a.labels) {
      if (k == "target") left.insert(v);
    }
  }
  BOOST_TEST(left == (std::set<std::string>{"gw"}), boost::test_tools::per_element());
  // Nothing of it is re-sent later.
  h.clear();
  h.engine.tick(kT0 + kMin);
  for (const auto& row : h.outbox()) BOOST_TEST(label(parse(row), "target") != "web");
}

BOOST_AUTO_TEST_CASE(a_restored_target_down_waits_for_its_target_or_resolves_when_unconfigured) {
  Harness first({});
  first.engine.target_state("gw", false, "gone", kT0);
  first.engine.target_state("old", false, "gone", kT0);
  const auto stored = first.upserts();
  BOOST_REQUIRE(stored.size() == 2u);
  Harness h({});
  h.engine.restore(stored, {}, kT0 + kMin);
  h.engine.target_watched("gw", kT0 + kMin);
  h.engine.tick(kT0 + kMin + kSec);
  const auto rows = h.outbox();
  BOOST_REQUIRE(rows.size() == 2u);  // "old" resolved, to both receivers
  BOOST_TEST(label(parse(rows[0]), "target") == "old");
  BOOST_TEST(contains(h.events.at(0).message, "no longer configured"), h.events.at(0).message);
}
