// alerting/outbox.hpp: one receiver's delivery queue, as plain decisions.
//
// Every alert transition for a receiver is an OutboxRow, kept in SQLite (the
// outbox table) from the commit that records the transition until the
// receiver answers 2xx. A ReceiverQueue holds that receiver's rows in order
// and decides what to send next and what an answer means; the sender in
// watchdog/ does the HTTP and hands back the status. Nothing here reads a
// clock or does I/O: the time and the random draw for jitter are passed in,
// and the store operations that keep the table in step are returned.
//
// Order and blocking:
//  - One request in flight per receiver. A batch takes up to `max_batch`
//    rows from the head, but never two rows of one alert (the second waits
//    for the next batch), so each alert's transitions arrive in order.
//  - No answer, 408, 429 and 5xx are retried without limit, with jittered
//    exponential backoff (delivery.hpp backoff_delay) for the whole queue:
//    the receiver is down, and the order must hold.
//  - Any other answer (a 4xx: the receiver refuses the message) is retried
//    until the row was refused max_4xx_attempts times, and then the row is
//    dropped and reported, so one poison message cannot block the queue.
//    Only refusals count (attempts that found the receiver down do not),
//    and they are counted in memory: after a restart a row gets its tries
//    again. A batch is never dropped: after a refusal of a batch of several
//    rows, rows are sent one at a time until one is delivered, so that a
//    good row is not dropped with a poison one.
//  - Firing alerts are re-sent every resend interval so that Alertmanager
//    does not let them expire: offer_resend() parks one such batch, sent
//    only when no durable row is waiting (a resend built from the current
//    state must not overtake older transitions). It is never retried: the
//    next resend replaces it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/delivery.hpp"
#include "store/store.hpp"

namespace vigil {

struct SendBatch {
  std::vector<std::int64_t> ids;      // the outbox rows; empty for a resend
  std::vector<std::string> payloads;  // message_to_json() texts, in order
  bool resend = false;
};

struct QueueStats {
  std::size_t pending = 0;       // durable rows waiting (including those in flight)
  WallMs oldest_created_ms = 0;  // of the head row; 0 when empty
  std::uint64_t delivered = 0;   // rows (and resends) answered 2xx since start
  std::uint64_t failed_attempts = 0;
  std::uint64_t dropped = 0;  // rows given up after max_4xx_attempts
  std::string last_error;     // empty after a success
  WallMs last_error_ms = 0;
  WallMs next_attempt_ms = 0;  // backoff: nothing is sent before this
};

class ReceiverQueue {
 public:
  explicit ReceiverQueue(std::string name, int max_4xx_attempts = 5, std::size_t max_batch = 64);

  const std::string& name() const { return name_; }

  // Appends a row (rows restored from the store arrive in id order). A
  // restored head row's next_attempt_ms becomes the queue's backoff.
  void push(OutboxRow row);
  // Parks a resend batch (replacing one not yet sent).
  void offer_resend(std::vector<std::string> payloads);
  // No durable row is waiting and nothing is in flight.
  bool idle() const { return rows_.empty() && !in_flight_; }
  bool in_flight() const { return in_flight_; }

  // The batch to send at `now`, marking it in flight; nullopt when one is
  // in flight, the backoff has not passed, or nothing waits.
  std::optional<SendBatch> take(WallMs now);

  // A row given up: its attempts (every send, also those that found the
  // receiver down) and the refusals among them that made it give up.
  struct Dropped {
    OutboxRow row;
    int refusals = 0;
  };
  struct Finish {
    DeliveryResult result;
    std::vector<AlertOp> ops;      // for the store, in order
    std::vector<Dropped> dropped;  // given up: report each one
  };
  // The answer to the batch in flight: `status` is the HTTP status, or 0
  // for no answer (then `detail` is the transport error); `detail` is the
  // body otherwise. `unit_random` in [0, 1) draws the jitter.
  Finish finish(long status, std::string_view url, std::string_view detail, WallMs now, double unit_random);

  // When take() may next return something: nullopt when nothing waits or a
  // request is in flight.
  std::optional<WallMs> next_due() const;

  QueueStats stats() const;

 private:
  // finish()'s three outcomes for the first k rows (the batch sent).
  void delivered(std::size_t k, const SendBatch& batch, Finish& f);
  void drop(std::size_t k, int attempts, int refusals, WallMs now, Finish& f);
  void retry(std::size_t k, long status, const SendBatch& batch, WallMs now, double unit_random, Finish& f);

  std::string name_;
  int max_4xx_attempts_;
  std::size_t max_batch_;
  std::deque<OutboxRow> rows_;
  std::optional<std::vector<std::string>> resend_;
  bool in_flight_ = false;
  SendBatch current_;
  bool one_at_a_time_ = false;
  std::map<std::int64_t, int> refusals_;  // by row id: 4xx answers so far
  int consecutive_failures_ = 0;
  WallMs not_before_ = 0;
  QueueStats stats_;
};

}  // namespace vigil
