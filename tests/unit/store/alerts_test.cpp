// The alert tables: state upserts and the outbox, applied in queue order,
// committed with the events of the same flush, and surviving a writer that
// dies without closing.
#define BOOST_TEST_MODULE store_alerts
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "store/store.hpp"
#include "store_test_util.hpp"

using namespace vigil;
using vigil::test::event;
using vigil::test::options_for;
using vigil::test::TempDir;

namespace {

AlertOp upsert(const std::string& rule, int phase, WallMs now) {
  AlertOp op;
  op.kind = AlertOp::Kind::kUpsertAlert;
  op.alert.rule = rule;
  op.alert.labels = "{target=\"gateway\"}";
  op.alert.phase = static_cast<AlertPhase>(phase);
  op.alert.active_since_ms = now - 1000;
  op.alert.fired_ms = phase == 2 ? now : 0;
  op.alert.value = 42.5;
  op.alert.annotations = "{\"summary\":\"s\"}";
  op.alert.updated_ms = now;
  return op;
}

AlertOp add(std::int64_t id, const std::string& receiver, const std::string& payload) {
  AlertOp op;
  op.kind = AlertOp::Kind::kAddOutbox;
  op.outbox.id = id;
  op.outbox.receiver = receiver;
  op.outbox.alert_key = "GatewayDown{target=\"gateway\"}";
  op.outbox.created_ms = 1000 + id;
  op.outbox.payload = payload;
  op.outbox.next_attempt_ms = 1000 + id;
  return op;
}

AlertOp update(std::int64_t id, int attempts, const std::string& error) {
  AlertOp op;
  op.kind = AlertOp::Kind::kUpdateOutbox;
  op.outbox.id = id;
  op.outbox.attempts = attempts;
  op.outbox.next_attempt_ms = 99'000;
  op.outbox.last_error = error;
  return op;
}

AlertOp remove(std::int64_t id) {
  AlertOp op;
  op.kind = AlertOp::Kind::kDeleteOutbox;
  op.outbox.id = id;
  return op;
}

}  // namespace

BOOST_AUTO_TEST_CASE(state_is_upserted_and_the_outbox_applied_in_order) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  (*writer)->enqueue(upsert("GatewayDown", 1, 5000));
  (*writer)->enqueue(upsert("GatewayDown", 2, 6000));  // the same alert: one row, the newer state
  (*writer)->enqueue(upsert("DiskFull", 1, 6000));
  (*writer)->enqueue(add(1, "am", "{\"a\":1}"));
  (*writer)->enqueue(add(2, "am", "{\"a\":2}"));
  (*writer)->enqueue(add(3, "hook", "{\"a\":3}"));
  (*writer)->enqueue(update(2, 3, "HTTP 503 from http://127.0.0.1:9093"));
  (*writer)->enqueue(remove(1));  // acknowledged in the same flush as its add
  BOOST_REQUIRE((*writer)->flush());
  BOOST_TEST((*writer)->stats().alert_ops_committed == 8u);
  (*writer)->enqueue(remove(42));                      // an ack for a row that is not there: nothing
  (*writer)->enqueue(add(2, "am", "{\"dup\":true}"));  // re-queued after a failed commit: kept as first written
  BOOST_REQUIRE((*writer)->flush());

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto alerts = reader->alerts();
  BOOST_REQUIRE(alerts);
  BOOST_REQUIRE(alerts->size() == 2u);
  BOOST_TEST((*alerts)[0].rule == "DiskFull");  // by rule
  const AlertRow& gw = (*alerts)[1];
  BOOST_TEST((gw.phase == AlertPhase::kFiring));
  BOOST_TEST(gw.fired_ms == 6000);
  BOOST_TEST(gw.value == 42.5);
  BOOST_TEST(gw.labels == "{target=\"gateway\"}");
  auto outbox = reader->outbox();
  BOOST_REQUIRE(outbox);
  BOOST_REQUIRE(outbox->size() == 2u);
  BOOST_TEST((*outbox)[0].id == 2);
  BOOST_TEST((*outbox)[0].attempts == 3);
  BOOST_TEST((*outbox)[0].last_error == "HTTP 503 from http://127.0.0.1:9093");
  BOOST_TEST((*outbox)[0].payload == "{\"a\":2}");
  BOOST_TEST((*outbox)[1].id == 3);
  BOOST_TEST((*outbox)[1].receiver == "hook");
}

// The outbox row of a transition and its event are one commit: a writer
// killed after flush() keeps both; one killed before keeps neither.
BOOST_AUTO_TEST_CASE(outbox_and_event_commit_together_and_survive_a_kill) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    OpenReport report;
    auto writer = StoreWriter::open(options_for(path), &report);
    if (!writer) _exit(3);
    (*writer)->enqueue(event(1000, EventKind::kAlertFiring, "gateway"));
    (*writer)->enqueue(add(7, "am", "{\"firing\":true}"));
    if (!(*writer)->flush()) _exit(4);
    (*writer)->enqueue(event(2000, EventKind::kAlertResolved, "gateway"));  // never flushed
    (*writer)->enqueue(add(8, "am", "{\"resolved\":true}"));
    _exit(0);  // no close(): what was flushed must be there, the rest must not
  }
  int status = 0;
  BOOST_REQUIRE(waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_REQUIRE(WEXITSTATUS(status) == 0);
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto outbox = reader->outbox();
  BOOST_REQUIRE(outbox);
  BOOST_REQUIRE(outbox->size() == 1u);
  BOOST_TEST((*outbox)[0].id == 7);
  auto events = reader->events({});
  BOOST_REQUIRE(events);
  BOOST_REQUIRE(events->size() == 1u);
  BOOST_TEST(((*events)[0].kind == EventKind::kAlertFiring));
}

BOOST_AUTO_TEST_CASE(a_version_1_store_is_migrated_and_keeps_its_events) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  {
    OpenReport report;
    auto writer = StoreWriter::open(options_for(path), &report);
    BOOST_REQUIRE(writer);
    (*writer)->enqueue(event(500, EventKind::kDaemonStart, ""));
    BOOST_REQUIRE((*writer)->flush());
  }
  // Take it back to version 1: drop what migrations 2 and 3 added.
  vigil::test::run_sql(path,
                       "DROP TABLE alerts; DROP TABLE outbox; DROP TABLE incident_actions; "
                       "DROP TABLE incidents; DROP TABLE chunks; DROP TABLE rollups; DELETE FROM meta WHERE key IN "
                       "('chunk_span_ms', 'head_rowid_floor'); UPDATE meta SET value = 1 WHERE key = "
                       "'schema_version';");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.migrated_from == 1);
  (*writer)->enqueue(add(1, "am", "{}"));
  BOOST_REQUIRE((*writer)->flush());
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  BOOST_TEST(reader->schema_version() == vigil::kSchemaVersion);
  BOOST_TEST(reader->events({})->size() == 1u);
  BOOST_TEST(reader->outbox()->size() == 1u);
}
