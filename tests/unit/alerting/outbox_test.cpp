// One receiver's delivery queue: batching, one request in flight, retries,
// drops and resends, with the time and the jitter draw passed in.
#define BOOST_TEST_MODULE alerting_outbox
#include "alerting/outbox.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using namespace vigil;

namespace {

constexpr WallMs kT0 = 1'800'000'000'000;
constexpr const char* kUrl = "http://am:9093/api/v2/alerts";

OutboxRow row(std::int64_t id, const std::string& key, WallMs created = kT0) {
  OutboxRow r;
  r.id = id;
  r.receiver = "am";
  r.alert_key = key;
  r.created_ms = created;
  r.payload = "{\"id\":" + std::to_string(id) + "}";
  r.next_attempt_ms = created;
  return r;
}

std::vector<std::int64_t> ids(const std::optional<SendBatch>& b) {
  return b ? b->ids : std::vector<std::int64_t>{};
}

std::vector<std::int64_t> op_ids(const std::vector<AlertOp>& ops, AlertOp::Kind kind) {
  std::vector<std::int64_t> out;
  for (const auto& op : ops) {
    if (op.kind == kind) out.push_back(op.outbox.id);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using Ids = std::vector<std::int64_t>;

}  // namespace

BOOST_AUTO_TEST_CASE(batch_takes_up_to_max_batch_rows_from_the_head) {
  ReceiverQueue q("am", 5, 3);
  for (std::int64_t id = 1; id <= 5; ++id) q.push(row(id, "k" + std::to_string(id)));
  auto b = q.take(kT0);
  BOOST_REQUIRE(b.has_value());
  BOOST_TEST(ids(b) == (Ids{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(b->payloads == (std::vector<std::string>{"{\"id\":1}", "{\"id\":2}", "{\"id\":3}"}),
             boost::test_tools::per_element());
  BOOST_TEST(!b->resend);
  auto f = q.finish(200, kUrl, "", kT0 + 10, 0.0);
  BOOST_TEST((f.result.verdict == DeliveryVerdict::kDelivered));
  BOOST_TEST(ids(q.take(kT0 + 10)) == (Ids{4, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(batch_stops_at_a_second_row_of_the_same_alert) {
  ReceiverQueue q("am");
  q.push(row(1, "A"));
  q.push(row(2, "B"));
  q.push(row(3, "A"));  // A resolved after it fired: must follow row 1
  q.push(row(4, "C"));
  BOOST_TEST(ids(q.take(kT0)) == (Ids{1, 2}), boost::test_tools::per_element());  // C does not jump ahead
  q.finish(204, kUrl, "", kT0, 0.0);
  BOOST_TEST(ids(q.take(kT0)) == (Ids{3, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_request_in_flight) {
  ReceiverQueue q("am");
  BOOST_TEST(q.idle());
  BOOST_TEST(!q.take(kT0).has_value());  // nothing waits
  BOOST_TEST(!q.next_due().has_value());
  q.push(row(1, "A"));
  BOOST_TEST(!q.idle());
  BOOST_TEST(q.next_due().value() == kT0);
  BOOST_REQUIRE(q.take(kT0).has_value());
  BOOST_TEST(q.in_flight());
  q.push(row(2, "B"));
  BOOST_TEST(!q.take(kT0 + 1000).has_value());  // still waiting for the answer
  BOOST_TEST(!q.next_due().has_value());
  q.finish(200, kUrl, "", kT0 + 1000, 0.0);
  BOOST_TEST(!q.in_flight());
  BOOST_TEST(ids(q.take(kT0 + 1000)) == (Ids{2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(success_deletes_the_rows_in_order) {
  ReceiverQueue q("am");
  q.push(row(7, "A", kT0 - 5000));
  q.push(row(8, "B", kT0 - 4000));
  q.push(row(9, "C", kT0 - 3000));
  BOOST_TEST(q.stats().pending == 3u);
  BOOST_TEST(q.stats().oldest_created_ms == kT0 - 5000);
  q.take(kT0);
  auto f = q.finish(200, kUrl, "", kT0 + 5, 0.0);
  BOOST_TEST((f.result.verdict == DeliveryVerdict::kDelivered));
  BOOST_REQUIRE(f.ops.size() == 3u);
  for (const auto& op : f.ops) BOOST_TEST((op.kind == AlertOp::Kind::kDeleteOutbox));
  BOOST_TEST(op_ids(f.ops, AlertOp::Kind::kDeleteOutbox) == (Ids{7, 8, 9}), boost::test_tools::per_element());
  BOOST_TEST(f.dropped.empty());
  const QueueStats s = q.stats();
  BOOST_TEST(s.pending == 0u);
  BOOST_TEST(s.oldest_created_ms == 0);
  BOOST_TEST(s.delivered == 3u);
  BOOST_TEST(s.failed_attempts == 0u);
  BOOST_TEST(q.idle());
}

BOOST_AUTO_TEST_CASE(no_answer_and_busy_answers_are_retried_without_limit_with_backoff) {
  ReceiverQueue q("am");
  q.push(row(1, "A"));
  q.push(row(2, "B"));
  WallMs now = kT0;
  WallMs previous_delay = 0;
  const long statuses[] = {0, 503, 429, 408, 500, 0, 503, 502, 0, 504};
  int attempt = 0;
  for (long status : statuses) {
    ++attempt;
    BOOST_TEST_CONTEXT("attempt " << attempt << " status " << status) {
      BOOST_REQUIRE(ids(q.take(now)) == (Ids{1, 2}));  // the whole batch every time: no one-at-a-time for these
      auto f = q.finish(status, kUrl, status == 0 ? "Connection refused" : "busy", now, 0.0);
      BOOST_TEST((f.result.verdict == DeliveryVerdict::kRetry));
      BOOST_TEST(f.dropped.empty());
      BOOST_REQUIRE(f.ops.size() == 2u);
      const auto due = q.next_due();
      BOOST_REQUIRE(due.has_value());
      const WallMs delay = *due - now;
      BOOST_TEST(delay >= 50);
      BOOST_TEST(delay <= 30000);
      BOOST_TEST(delay >= previous_delay);  // exponential, capped
      previous_delay = delay;
      for (const auto& op : f.ops) {
        BOOST_TEST((op.kind == AlertOp::Kind::kUpdateOutbox));
        BOOST_TEST(op.outbox.attempts == attempt);
        BOOST_TEST(op.outbox.next_attempt_ms == *due);
        BOOST_TEST(contains(op.outbox.last_error, status == 0 ? "no answer" : std::to_string(status)),
                   op.outbox.last_error);
      }
      BOOST_TEST(op_ids(f.ops, AlertOp::Kind::kUpdateOutbox) == (Ids{1, 2}), boost::test_tools::per_element());
      BOOST_TEST(!q.take(*due - 1).has_value());  // backoff holds the queue
      BOOST_TEST(q.stats().next_attempt_ms == *due);
      now = *due;
    }
  }
  BOOST_TEST(previous_delay > 10000);  // 100 ms doubled nine times, halved by the zero draw, capped at 30 s
  const QueueStats s = q.stats();
  BOOST_TEST(s.pending == 2u);
  BOOST_TEST(s.failed_attempts == 10u);
  BOOST_TEST(s.dropped == 0u);
  BOOST_TEST(contains(s.last_error, "504"), s.last_error);
  BOOST_TEST(s.last_error_ms == now - previous_delay);
  // When it comes back, everything goes and the backoff is gone.
  q.take(now);
  auto f = q.finish(200, kUrl, "", now, 0.0);
  BOOST_TEST(op_ids(f.ops, AlertOp::Kind::kDeleteOutbox) == (Ids{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(q.stats().last_error.empty());
  BOOST_TEST(q.stats().delivered == 2u);
  q.push(row(3, "C"));
  BOOST_TEST(q.next_due().value() == kT0);  // the new row's own time: no backoff left
}

BOOST_AUTO_TEST_CASE(a_refused_row_is_dropped_after_five_attempts_and_the_next_goes_at_once) {
  ReceiverQueue q("am");
  q.push(row(1, "A"));
  q.push(row(2, "A"));
  WallMs now = kT0;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    BOOST_REQUIRE(ids(q.take(now)) == (Ids{1}));
    auto f = q.finish(400, kUrl, "bad label", now, 0.5);
    BOOST_TEST((f.result.verdict == DeliveryVerdict::kRetry));
    BOOST_TEST(f.dropped.empty());
    BOOST_REQUIRE(f.ops.size() == 1u);
    BOOST_TEST((f.ops[0].kind == AlertOp::Kind::kUpdateOutbox));
    BOOST_TEST(f.ops[0].outbox.attempts == attempt);
    BOOST_TEST(contains(f.ops[0].outbox.last_error, "400"));
    BOOST_TEST(q.next_due().value() > now);  // a 4xx backs off too
    now = *q.next_due();
  }
  BOOST_REQUIRE(ids(q.take(now)) == (Ids{1}));
  auto f = q.finish(400, kUrl, "bad label", now, 0.5);
  BOOST_TEST((f.result.verdict == DeliveryVerdict::kDrop));
  BOOST_REQUIRE(f.dropped.size() == 1u);
  BOOST_TEST(f.dropped[0].row.id == 1);
  BOOST_TEST(f.dropped[0].row.attempts == 5);
  BOOST_TEST(contains(f.dropped[0].row.last_error, "bad label"));
  BOOST_TEST(op_ids(f.ops, AlertOp::Kind::kDeleteOutbox) == (Ids{1}), boost::test_tools::per_element());
  BOOST_TEST(f.ops.size() == 1u);
  // The receiver is up: the next row (of the same alert) goes at once.
  BOOST_TEST(q.next_due().value() == now);
  BOOST_TEST(ids(q.take(now)) == (Ids{2}), boost::test_tools::per_element());
  const QueueStats s = q.stats();
  BOOST_TEST(s.dropped == 1u);
  BOOST_TEST(s.failed_attempts == 5u);
  BOOST_TEST(s.pending == 1u);
  BOOST_TEST(contains(s.last_error, "(refusal 5 of 5: dropped)"), s.last_error);
}

BOOST_AUTO_TEST_CASE(after_a_refused_batch_rows_go_one_at_a_time_until_one_is_delivered) {
  ReceiverQueue q("am");
  q.push(row(1, "A"));
  q.push(row(2, "B"));
  q.push(row(3, "C"));
  BOOST_REQUIRE(ids(q.take(kT0)) == (Ids{1, 2, 3}));
  auto f = q.finish(422, kUrl, "invalid", kT0, 0.0);
  BOOST_TEST((f.result.verdict == DeliveryVerdict::kRetry));
  BOOST_TEST(op_ids(f.ops, AlertOp::Kind::kUpdateOutbox) == (Ids{1, 2, 3}), boost::test_tools::per_element());
  WallMs now = q.next_due().value();
  BOOST_TEST(ids(q.take(now)) == (Ids{1}), boost::test_tools::per_element());
  f = q.finish(503, kUrl, "", now, 0.0);  // still one at a time: nothing was delivered yet
  now = q.next_due().value();
  BOOST_TEST(ids(q.take(now)) == (Ids{1}), boost::test_tools::per_element());
  f = q.finish(200, kUrl, "", now, 0.0);
  BOOST_TEST(op_ids(f.ops, AlertOp::Kind::kDeleteOutbox) == (Ids{1}), boost::test_tools::per_element());
  BOOST_TEST(ids(q.take(now)) == (Ids{2, 3}), boost::test_tools::per_element());  // batches again
}

BOOST_AUTO_TEST_CASE(one_at_a_time_keeps_the_good_row_when_the_poison_one_is_dropped) {
  ReceiverQueue q("am", 2);  // drop at the second refusal
  q.push(row(1, "poison"));
  q.push(row(2, "good"));
  q.take(kT0);
  q.finish(400, kUrl, "", kT0, 0.0);
  WallMs now = q.next_due().value();
  BOOST_REQUIRE(ids(q.take(now)) == (Ids{1}));
  auto f = q.finish(400, kUrl, "", now, 0.0);
  BOOST_REQUIRE(f.dropped.size() == 1u);
  BOOST_TEST(f.dropped[0].row.id == 1);
  BOOST_TEST(ids(q.take(now)) == (Ids{2}), boost::test_tools::per_element());
  f = q.finish(200, kUrl, "", now, 0.0);
  BOOST_TEST(op_ids(f.ops, AlertOp::Kind::kDeleteOutbox) == (Ids{2}), boost::test_tools::per_element());
  BOOST_TEST(q.stats().delivered == 1u);
  BOOST_TEST(q.stats().dropped == 1u);
}

// Attempts that found the receiver down do not count as refusals, and a
// refused batch is never dropped whole: after an outage of four failed
// attempts, the first 400 splits the batch instead of dropping both rows.
BOOST_AUTO_TEST_CASE(an_outage_does_not_use_up_the_refusals_of_a_batch) {
  ReceiverQueue q("am");
  q.push(row(1, "poison"));
  q.push(row(2, "good"));
  WallMs now = kT0;
  for (int i = 0; i < 4; ++i) {  // the receiver is down for a while
    q.take(now);
    q.finish(0, kUrl, "Connection refused", now, 0.0);
    now = q.next_due().value();
  }
  BOOST_REQUIRE(ids(q.take(now)) == (Ids{1, 2}));
  auto f = q.finish(400, kUrl, "bad label", now, 0.0);  // back, refusing one of them
  BOOST_TEST(f.dropped.empty());
  BOOST_TEST(q.stats().pending == 2u);
  // Then one at a time: the poison row is refused 4 more times and dropped
  // alone; the good one is delivered.
  for (int i = 0; i < 4; ++i) {
    now = q.next_due().value();
    BOOST_REQUIRE(ids(q.take(now)) == (Ids{1}));
    f = q.finish(400, kUrl, "bad label", now, 0.0);
  }
  BOOST_REQUIRE(f.dropped.size() == 1u);
  BOOST_TEST(f.dropped[0].row.id == 1);
  // Counted exactly: refused 5 times, sent 9 times (4 while it was down).
  BOOST_TEST(f.dropped[0].refusals == 5);
  BOOST_TEST(f.dropped[0].row.attempts == 9);
  BOOST_TEST(contains(f.result.reason, "(refusal 5 of 5: dropped)"), f.result.reason);
  now = q.next_due().value();
  BOOST_REQUIRE(ids(q.take(now)) == (Ids{2}));
  f = q.finish(200, kUrl, "", now, 0.0);
  BOOST_TEST(q.idle());
  BOOST_TEST(q.stats().dropped == 1u);
}

BOOST_AUTO_TEST_CASE(resends_go_only_when_no_durable_row_waits_and_are_never_retried) {
  ReceiverQueue q("am");
  q.push(row(1, "A"));
  q.offer_resend({"r1", "r2"});
  auto b = q.take(kT0);
  BOOST_TEST(ids(b) == (Ids{1}), boost::test_tools::per_element());  // the transition first
  BOOST_TEST(!b->resend);
  q.finish(200, kUrl, "", kT0, 0.0);
  BOOST_TEST(q.idle());  // a parked resend is not a durable row
  BOOST_TEST(q.next_due().value() == 0);
  b = q.take(kT0);
  BOOST_REQUIRE(b.has_value());
  BOOST_TEST(b->resend);
  BOOST_TEST(b->ids.empty());
  BOOST_TEST(b->payloads == (std::vector<std::string>{"r1", "r2"}), boost::test_tools::per_element());
  BOOST_TEST(!q.take(kT0).has_value());  // in flight
  auto f = q.finish(503, kUrl, "", kT0, 0.0);
  BOOST_TEST(f.ops.empty());  // nothing stored for a resend
  BOOST_TEST(f.dropped.empty());
  BOOST_TEST(q.stats().failed_attempts == 1u);
  BOOST_TEST(!q.next_due().has_value());  // nothing waits: the failed resend is gone
  BOOST_TEST(!q.take(kT0 + 3'600'000).has_value());
  // A refusal is not retried either, and a success counts once.
  q.offer_resend({"r3"});
  BOOST_REQUIRE(q.take(kT0 + 3'600'000).has_value());
  f = q.finish(400, kUrl, "", kT0 + 3'600'000, 0.0);
  BOOST_TEST(f.dropped.empty());
  BOOST_TEST(q.stats().dropped == 0u);
  BOOST_TEST(!q.take(kT0 + 7'200'000).has_value());
  q.offer_resend({"r4", "r5"});
  q.take(kT0 + 7'200'000);
  q.finish(200, kUrl, "", kT0 + 7'200'000, 0.0);
  BOOST_TEST(q.stats().delivered == 2u);  // row 1 and one resend batch
}

BOOST_AUTO_TEST_CASE(a_failed_resend_delays_the_next_row) {
  ReceiverQueue q("am");
  q.offer_resend({"r1"});
  q.take(kT0);
  q.finish(0, kUrl, "timeout", kT0, 0.0);
  q.push(row(1, "A"));
  const WallMs due = q.next_due().value();
  BOOST_TEST(due > kT0);
  BOOST_TEST(!q.take(due - 1).has_value());
  BOOST_TEST(ids(q.take(due)) == (Ids{1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_new_resend_replaces_the_parked_one_and_large_ones_are_split) {
  ReceiverQueue q("am", 5, 2);
  q.offer_resend({"old"});
  q.offer_resend({"a", "b", "c", "d", "e"});
  std::vector<std::vector<std::string>> sent;
  for (int i = 0; i < 5; ++i) {
    auto b = q.take(kT0);
    if (!b) break;
    BOOST_TEST(b->resend);
    sent.push_back(b->payloads);
    q.finish(200, kUrl, "", kT0, 0.0);
  }
  BOOST_REQUIRE(sent.size() == 3u);
  BOOST_TEST(sent[0] == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(sent[1] == (std::vector<std::string>{"c", "d"}), boost::test_tools::per_element());
  BOOST_TEST(sent[2] == (std::vector<std::string>{"e"}), boost::test_tools::per_element());
  // An empty offer withdraws a parked one.
  q.offer_resend({"x"});
  q.offer_resend({});
  BOOST_TEST(!q.next_due().has_value());
  BOOST_TEST(!q.take(kT0).has_value());
}

BOOST_AUTO_TEST_CASE(a_restored_head_row_keeps_its_backoff) {
  ReceiverQueue q("am");
  OutboxRow head = row(11, "A", kT0 - 60'000);
  head.attempts = 3;
  head.next_attempt_ms = kT0 + 5000;
  head.last_error = "HTTP 503 from " + std::string(kUrl);
  OutboxRow next = row(12, "B", kT0 - 30'000);
  next.next_attempt_ms = kT0 + 9000;  // only the head's time counts
  q.push(head);
  q.push(next);
  BOOST_TEST(q.next_due().value() == kT0 + 5000);
  BOOST_TEST(q.stats().next_attempt_ms == kT0 + 5000);
  BOOST_TEST(q.stats().oldest_created_ms == kT0 - 60'000);
  BOOST_TEST(!q.take(kT0 + 4999).has_value());
  BOOST_TEST(ids(q.take(kT0 + 5000)) == (Ids{11, 12}), boost::test_tools::per_element());
  auto f = q.finish(503, kUrl, "", kT0 + 5000, 0.0);
  BOOST_REQUIRE(f.ops.size() == 2u);
  BOOST_TEST(f.ops[0].outbox.attempts == 4);  // the stored count goes on
  BOOST_TEST(f.ops[1].outbox.attempts == 1);
}

BOOST_AUTO_TEST_CASE(a_restored_row_gets_its_refusals_again) {
  // Refusals are counted in memory: stored attempts (which may have met a
  // receiver that was down) do not use them up.
  ReceiverQueue q("am");
  OutboxRow head = row(5, "A");
  head.attempts = 4;
  q.push(head);
  WallMs now = kT0;
  for (int i = 1; i <= 5; ++i) {
    BOOST_REQUIRE(q.take(now).has_value());
    auto f = q.finish(404, kUrl, "not found", now, 0.0);
    BOOST_TEST((f.result.verdict == (i < 5 ? DeliveryVerdict::kRetry : DeliveryVerdict::kDrop)));
    if (i == 5) {
      BOOST_REQUIRE(f.dropped.size() == 1u);
      BOOST_TEST(f.dropped[0].row.attempts == 9);  // the total, for the record
    }
    if (auto due = q.next_due()) now = *due;
  }
  BOOST_TEST(q.idle());
}
