// The incident tables: an incident and its actions written whole through
// the writer, replaced on each change in queue order, the reader's filters
// (target, time overlap, open, newest N) and the migration from version 2.
#define BOOST_TEST_MODULE store_incidents
#include <boost/test/unit_test.hpp>

#include "store/store.hpp"
#include "store_test_util.hpp"

using namespace vigil;
using vigil::test::event;
using vigil::test::options_for;
using vigil::test::TempDir;

namespace {

IncidentAction action(WallMs started, WallMs finished, ActionKind what, ActionStatus result, std::string message = "") {
  IncidentAction a;
  a.started_ms = started;
  a.finished_ms = finished;
  a.action = what;
  a.detail = "systemctl restart gateway.service";
  a.result = result;
  a.message = std::move(message);
  return a;
}

IncidentRow incident(std::int64_t id, std::string target, WallMs started, WallMs recovered) {
  IncidentRow row;
  row.id = id;
  row.target = std::move(target);
  row.trigger = Trigger{TriggerKind::kCheck, "health"};
  row.started_ms = started;
  row.detected_ms = started + 2000;
  row.recovered_ms = recovered;
  row.root_cause = RootCause::kCrashed;
  row.summary = "the main process exited with status 1";
  row.evidence = R"({"exit_status":1})";
  row.updated_ms = recovered != 0 ? recovered : started + 2000;
  return row;
}

std::vector<std::int64_t> ids(const std::vector<IncidentRow>& rows) {
  std::vector<std::int64_t> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

// Writes `rows` in one flush and returns a reader on the store.
StoreReader write_all(const std::string& path, std::vector<IncidentRow> rows) {
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  for (auto& r : rows) (*writer)->enqueue(std::move(r));
  auto flushed = (*writer)->flush();
  BOOST_REQUIRE_MESSAGE(flushed, vigil::test::why(flushed));
  (*writer)->close();
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  return std::move(*reader);
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_empty_store_has_no_incidents) {
  TempDir dir;
  StoreReader reader = write_all(dir.file("vigil.db"), {});
  auto all = reader.incidents({});
  BOOST_REQUIRE_MESSAGE(all, vigil::test::why(all));
  BOOST_TEST(all->empty());
  auto max = reader.max_incident_id();
  BOOST_REQUIRE(max);
  BOOST_TEST(*max == 0);
  auto none = reader.incident(1);
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->has_value());
}

BOOST_AUTO_TEST_CASE(an_incident_and_its_actions_read_back_field_for_field) {
  TempDir dir;
  IncidentRow row = incident(7, "gateway", 10'000, 15'100);
  row.actions = {action(12'015, 12'500, ActionKind::kRestart, ActionStatus::kFailed, "unit failed again"),
                 action(13'000, 13'400, ActionKind::kRestart, ActionStatus::kOk, "active after 400ms")};
  row.actions[1].detail = "second";
  row.given_up = true;
  row.dry_run = true;
  StoreReader reader = write_all(dir.file("vigil.db"), {row});

  auto got = reader.incident(7);
  BOOST_REQUIRE_MESSAGE(got, vigil::test::why(got));
  BOOST_REQUIRE(got->has_value());
  const IncidentRow& r = **got;
  BOOST_TEST(r.id == 7);
  BOOST_TEST(r.target == "gateway");
  BOOST_TEST((r.trigger == Trigger{TriggerKind::kCheck, "health"}));
  BOOST_TEST(r.started_ms == 10'000);
  BOOST_TEST(r.detected_ms == 12'000);
  BOOST_TEST(r.recovered_ms == 15'100);
  BOOST_TEST((r.root_cause == RootCause::kCrashed));
  BOOST_TEST(r.summary == "the main process exited with status 1");
  BOOST_TEST(r.evidence == R"({"exit_status":1})");
  BOOST_TEST(r.given_up);
  BOOST_TEST(r.dry_run);
  BOOST_TEST(r.updated_ms == 15'100);
  BOOST_REQUIRE(r.actions.size() == 2u);
  BOOST_TEST(r.actions[0].started_ms == 12'015);
  BOOST_TEST(r.actions[0].finished_ms == 12'500);
  BOOST_TEST((r.actions[0].action == ActionKind::kRestart));
  BOOST_TEST(r.actions[0].detail == "systemctl restart gateway.service");
  BOOST_TEST((r.actions[0].result == ActionStatus::kFailed));
  BOOST_TEST(r.actions[0].message == "unit failed again");
  BOOST_TEST(r.actions[1].detail == "second");  // in the order taken
  BOOST_TEST((r.actions[1].result == ActionStatus::kOk));

  auto listed = reader.incidents({});
  BOOST_REQUIRE(listed);
  BOOST_REQUIRE(listed->size() == 1u);
  BOOST_TEST((*listed)[0].actions.size() == 2u);
  BOOST_TEST(reader.max_incident_id().value_or(-1) == 7);
  BOOST_TEST(!reader.incident(8)->has_value());
}

BOOST_AUTO_TEST_CASE(a_check_of_its_own_keeps_its_incident_under_the_check) {
  TempDir dir;
  IncidentRow row = incident(4, "", 10'000, 0);
  row.check = "payments-api";
  row.trigger = Trigger{TriggerKind::kCheck, "payments-api"};
  row.root_cause = RootCause::kHung;
  StoreReader reader = write_all(dir.file("vigil.db"), {row, incident(5, "gateway", 11'000, 0)});
  auto got = reader.incident(4);
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->target == "");
  BOOST_TEST((*got)->check == "payments-api");
  BOOST_TEST(((*got)->root_cause == RootCause::kHung));
  auto target_one = reader.incident(5);
  BOOST_REQUIRE(target_one && target_one->has_value());
  BOOST_TEST((*target_one)->check == "");  // a target's incident names no check of its own
  IncidentQuery q;
  q.target = "gateway";
  auto gateway = reader.incidents(q);
  BOOST_REQUIRE(gateway);
  BOOST_TEST(ids(*gateway) == std::vector<std::int64_t>{5});
}

BOOST_AUTO_TEST_CASE(a_rewrite_replaces_the_row_and_all_its_actions) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE(writer);
  IncidentRow open = incident(3, "gateway", 1000, 0);
  open.actions = {action(3000, 0, ActionKind::kRestart, ActionStatus::kRunning),
                  action(2500, 2600, ActionKind::kSignal, ActionStatus::kOk),
                  action(2700, 2800, ActionKind::kExec, ActionStatus::kOk)};
  (*writer)->enqueue(open);
  BOOST_REQUIRE((*writer)->flush());

  // Fewer actions than before: the old ones must not survive the rewrite.
  IncidentRow closed = incident(3, "gateway", 1000, 9000);
  closed.root_cause = RootCause::kHung;
  closed.actions = {action(3000, 3500, ActionKind::kRestart, ActionStatus::kOk)};
  (*writer)->enqueue(closed);
  BOOST_REQUIRE((*writer)->flush());

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto got = reader->incident(3);
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->recovered_ms == 9000);
  BOOST_TEST(((*got)->root_cause == RootCause::kHung));
  BOOST_REQUIRE((*got)->actions.size() == 1u);
  BOOST_TEST(((*got)->actions[0].result == ActionStatus::kOk));
  BOOST_TEST((*got)->actions[0].finished_ms == 3500);
  BOOST_TEST(reader->incidents({})->size() == 1u);
}

BOOST_AUTO_TEST_CASE(versions_queued_in_one_flush_apply_in_queue_order) {
  TempDir dir;
  IncidentRow first = incident(5, "gateway", 1000, 0);
  first.actions = {action(2000, 0, ActionKind::kRestart, ActionStatus::kRunning)};
  IncidentRow second = first;
  second.actions[0].finished_ms = 2400;
  second.actions[0].result = ActionStatus::kOk;
  IncidentRow third = second;
  third.recovered_ms = 6000;
  third.actions.push_back(action(5000, 5100, ActionKind::kHttp, ActionStatus::kOk));
  StoreReader reader = write_all(dir.file("vigil.db"), {first, second, third});
  auto got = reader.incident(5);
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->recovered_ms == 6000);
  BOOST_REQUIRE((*got)->actions.size() == 2u);
  BOOST_TEST(((*got)->actions[0].result == ActionStatus::kOk));
  BOOST_TEST(((*got)->actions[1].action == ActionKind::kHttp));
}

BOOST_AUTO_TEST_CASE(incidents_are_committed_with_the_events_of_their_flush_and_never_dropped) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  {
    // One sample of capacity: samples overflow, the incident must not.
    auto writer = StoreWriter::open(options_for(path, Millis(3600 * 1000), 1), nullptr);
    BOOST_REQUIRE(writer);
    (*writer)->enqueue({vigil::test::sample("m", {}, 1, 1), vigil::test::sample("m", {}, 2, 2)});
    (*writer)->enqueue(event(1500, EventKind::kIncidentOpened, "gateway"));
    (*writer)->enqueue(incident(1, "gateway", 1000, 0));
    // No flush: close() commits what is queued.
    (*writer)->close();
  }
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  BOOST_TEST(reader->incidents({})->size() == 1u);
  BOOST_TEST(reader->events({})->size() == 1u);
  BOOST_TEST(reader->max_incident_id().value_or(-1) == 1);
}

BOOST_AUTO_TEST_CASE(queries_filter_by_target_time_overlap_open_and_newest_n) {
  TempDir dir;
  // gateway 1: [1000, 2000]; gateway 2: [5000, 6000]; db 3: [3000, open);
  // gateway 4: [8000, open); db 5: [9000, 9500].
  StoreReader reader =
      write_all(dir.file("vigil.db"),
                {incident(1, "gateway", 1000, 2000), incident(2, "gateway", 5000, 6000), incident(3, "db", 3000, 0),
                 incident(4, "gateway", 8000, 0), incident(5, "db", 9000, 9500)});
  auto run = [&](IncidentQuery q) {
    auto rows = reader.incidents(q);
    BOOST_REQUIRE_MESSAGE(rows, vigil::test::why(rows));
    return ids(*rows);
  };
  using V = std::vector<std::int64_t>;
  BOOST_TEST((run({}) == V{1, 2, 3, 4, 5}));

  IncidentQuery by_target;
  by_target.target = "gateway";
  BOOST_TEST((run(by_target) == V{1, 2, 4}));
  by_target.target = "nobody";
  BOOST_TEST(run(by_target).empty());

  // [2500, 5500]: 2 started inside, 3 is open across it; 1 recovered
  // before it, 4 and 5 started after it.
  IncidentQuery window;
  window.since = 2500;
  window.until = 5500;
  BOOST_TEST((run(window) == V{2, 3}));
  // The bounds are inclusive: recovered at `since`, started at `until`.
  window.since = 2000;
  window.until = 3000;
  BOOST_TEST((run(window) == V{1, 3}));
  // Only a lower bound: whatever was still open or recovered after it.
  IncidentQuery since_only;
  since_only.since = 6500;
  BOOST_TEST((run(since_only) == V{3, 4, 5}));
  IncidentQuery until_only;
  until_only.until = 4000;
  BOOST_TEST((run(until_only) == V{1, 3}));

  IncidentQuery open;
  open.open_only = true;
  BOOST_TEST((run(open) == V{3, 4}));
  open.target = "db";
  BOOST_TEST((run(open) == V{3}));

  // The newest `limit`, still ascending.
  IncidentQuery newest;
  newest.limit = 2;
  BOOST_TEST((run(newest) == V{4, 5}));
  newest.target = "gateway";
  BOOST_TEST((run(newest) == V{2, 4}));
  newest.limit = 10;
  BOOST_TEST((run(newest) == V{1, 2, 4}));

  BOOST_TEST(reader.max_incident_id().value_or(-1) == 5);
}

BOOST_AUTO_TEST_CASE(a_version_2_store_is_migrated_and_keeps_its_data) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  {
    StoreOptions old_layout = options_for(path);
    old_layout.compact = false;  // version 2 had no chunks
    auto writer = StoreWriter::open(old_layout, nullptr);
    BOOST_REQUIRE(writer);
    (*writer)->enqueue({vigil::test::sample("m", {{"k", "v"}}, 100, 1)});
    (*writer)->enqueue(event(500, EventKind::kDaemonStart, ""));
    AlertOp op;
    op.alert.rule = "GatewayDown";
    op.alert.labels = "{target=\"gateway\"}";
    op.alert.phase = AlertPhase::kFiring;
    op.alert.annotations = "{}";
    (*writer)->enqueue(op);
    BOOST_REQUIRE((*writer)->flush());
  }
  // Take it back to version 2: drop what migration 3 added.
  vigil::test::run_sql(path,
                       "DROP TABLE incident_actions; DROP TABLE incidents; DROP TABLE chunks; DROP TABLE rollups; "
                       "DELETE FROM meta WHERE key IN ('chunk_span_ms', 'head_rowid_floor'); "
                       "UPDATE meta SET value = 2 WHERE key = 'schema_version';");

  // A reader does not migrate: it says what to do.
  auto old_reader = StoreReader::open(path);
  BOOST_REQUIRE(!old_reader);
  BOOST_TEST((old_reader.error().kind == ErrorKind::kInvalid));
  BOOST_TEST(old_reader.error().message.find("version 2") != std::string::npos);
  BOOST_TEST(old_reader.error().message.find("migrate") != std::string::npos);

  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.migrated_from == 2);
  IncidentRow row = incident(1, "gateway", 1000, 0);
  row.actions = {action(3000, 3100, ActionKind::kRestart, ActionStatus::kOk)};
  (*writer)->enqueue(row);
  BOOST_REQUIRE((*writer)->flush());
  (*writer)->close();

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  BOOST_TEST(reader->schema_version() == kSchemaVersion);
  BOOST_TEST(reader->sample_count().value_or(0) == 1u);
  BOOST_TEST(reader->events({})->size() == 1u);
  BOOST_TEST(reader->alerts()->size() == 1u);
  auto got = reader->incident(1);
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->actions.size() == 1u);
}
