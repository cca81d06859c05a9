#include "alerting/outbox.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace vigil {

namespace {

// The receiver is down or busy: the message is fine, retry without limit.
bool retry_forever(long status) {
  return status <= 0 || status == 408 || status == 429 || status >= 500;
}

}  // namespace

ReceiverQueue::ReceiverQueue(std::string name, int max_4xx_attempts, std::size_t max_batch)
    : name_(std::move(name)), max_4xx_attempts_(max_4xx_attempts), max_batch_(std::max<std::size_t>(max_batch, 1)) {}

void ReceiverQueue::push(OutboxRow row) {
  if (rows_.empty() && !in_flight_ && row.next_attempt_ms > not_before_) not_before_ = row.next_attempt_ms;
  rows_.push_back(std::move(row));
}

void ReceiverQueue::offer_resend(std::vector<std::string> payloads) {
  if (payloads.empty()) {
    resend_.reset();
    return;
  }
  resend_ = std::move(payloads);
}

std::optional<SendBatch> ReceiverQueue::take(WallMs now) {
  if (in_flight_ || now < not_before_) return std::nullopt;
  SendBatch batch;
  if (!rows_.empty()) {
    const std::size_t limit = one_at_a_time_ ? 1 : max_batch_;
    std::set<std::string_view> keys;
    for (const auto& row : rows_) {
      if (batch.ids.size() == limit || !keys.insert(row.alert_key).second) break;
      batch.ids.push_back(row.id);
      batch.payloads.push_back(row.payload);
    }
  } else if (resend_) {
    batch.resend = true;
    auto& all = *resend_;
    const std::size_t n = std::min(all.size(), max_batch_);
    batch.payloads.assign(std::make_move_iterator(all.begin()),
                          std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(n)));
    all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    if (all.empty()) resend_.reset();
  } else {
    return std::nullopt;
  }
  in_flight_ = true;
  current_ = batch;
  return batch;
}

ReceiverQueue::Finish ReceiverQueue::finish(long status, std::string_view url, std::string_view detail, WallMs now,
                                            double unit_random) {
  Finish f;
  in_flight_ = false;
  SendBatch batch = std::move(current_);
  current_ = {};
  const std::size_t k = std::min(batch.ids.size(), rows_.size());
  const int attempts = k > 0 ? rows_.front().attempts + 1 : 1;
  // Only refusals count toward dropping: attempts that met a receiver
  // that was down say nothing about the message.
  int refused = 1;
  if (!retry_forever(status) && !(status >= 200 && status < 300)) {
    for (std::size_t i = 0; i < k; ++i) ++refusals_[rows_[i].id];
    if (k > 0) refused = refusals_[rows_.front().id];
  }
  f.result = classify_response(status, refused, url, detail, max_4xx_attempts_);
  if (f.result.verdict == DeliveryVerdict::kDrop && k > 1) {
    // Never drop a batch: which of its rows is the poison one is found by
    // sending them one at a time.
    f.result.verdict = DeliveryVerdict::kRetry;
  }
  if (f.result.verdict == DeliveryVerdict::kDelivered) {
    delivered(k, batch, f);
    return f;
  }
  ++stats_.failed_attempts;
  stats_.last_error = f.result.reason;
  stats_.last_error_ms = now;
  if (f.result.verdict == DeliveryVerdict::kDrop && !batch.resend) {
    drop(k, attempts, refused, now, f);
  } else {
    retry(k, status, batch, now, unit_random, f);
  }
  return f;
}

void ReceiverQueue::delivered(std::size_t k, const SendBatch& batch, Finish& f) {
  stats_.delivered += batch.resend ? 1 : k;
  stats_.last_error.clear();
  consecutive_failures_ = 0;
  one_at_a_time_ = false;
  not_before_ = 0;
  for (std::size_t i = 0; i < k; ++i) {
    AlertOp op;
    op.kind = AlertOp::Kind::kDeleteOutbox;
    op.outbox.id = rows_.front().id;
    refusals_.erase(op.outbox.id);
    f.ops.push_back(std::move(op));
    rows_.pop_front();
  }
}

void ReceiverQueue::drop(std::size_t k, int attempts, int refusals, WallMs now, Finish& f) {
  // The receiver answered, so it is up: the next row goes at once.
  consecutive_failures_ = 0;
  not_before_ = now;
  for (std::size_t i = 0; i < k; ++i) {
    OutboxRow row = std::move(rows_.front());
    rows_.pop_front();
    refusals_.erase(row.id);
    row.attempts = attempts;
    row.last_error = f.result.reason;
    AlertOp op;
    op.kind = AlertOp::Kind::kDeleteOutbox;
    op.outbox.id = row.id;
    f.ops.push_back(std::move(op));
    f.dropped.push_back(Dropped{std::move(row), refusals});
  }
  stats_.dropped += k;
}

// A retry (or a resend that failed: it is not retried, but a receiver that
// is down delays what comes next all the same).
void ReceiverQueue::retry(std::size_t k, long status, const SendBatch& batch, WallMs now, double unit_random,
                          Finish& f) {
  ++consecutive_failures_;
  not_before_ = now + backoff_delay(consecutive_failures_ - 1, unit_random).count();
  if (batch.resend) return;
  if (!retry_forever(status) && k > 1) one_at_a_time_ = true;
  for (std::size_t i = 0; i < k; ++i) {
    OutboxRow& row = rows_[i];
    row.attempts += 1;
    row.next_attempt_ms = not_before_;
    row.last_error = f.result.reason;
    AlertOp op;
    op.kind = AlertOp::Kind::kUpdateOutbox;
    op.outbox.id = row.id;
    op.outbox.attempts = row.attempts;
    op.outbox.next_attempt_ms = row.next_attempt_ms;
    op.outbox.last_error = row.last_error;
    f.ops.push_back(std::move(op));
  }
}

std::optional<WallMs> ReceiverQueue::next_due() const {
  if (in_flight_ || (rows_.empty() && !resend_)) return std::nullopt;
  return not_before_;
}

QueueStats ReceiverQueue::stats() const {
  QueueStats s = stats_;
  s.pending = rows_.size();
  s.oldest_created_ms = rows_.empty() ? 0 : rows_.front().created_ms;
  s.next_attempt_ms = not_before_;
  return s;
}

}  // namespace vigil
