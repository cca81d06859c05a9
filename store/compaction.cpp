// store/compaction.cpp: the head's closed windows into chunks, step by step.
#include "store/compaction.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/log.hpp"
#include "store/rollup.hpp"

namespace vigil::store_detail {

namespace {

// After a failed step, compaction waits this long (the writer keeps
// flushing meanwhile; the head only grows).
constexpr std::int64_t kRetryMs = 10'000;

Result<std::optional<std::int64_t>> single_int(sqlite3* db, const char* sql, const std::string& path,
                                               std::string_view what) {
  auto stmt = prepare(db, sql, path);
  if (!stmt) return tl::unexpected(stmt.error());
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return tl::unexpected(sqlite_error(db, rc, what, path));
  if (sqlite3_column_type(stmt->get(), 0) == SQLITE_NULL) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(sqlite3_column_int64(stmt->get(), 0));
}

}  // namespace

Compactor::Compactor(sqlite3* db, std::string path, std::int64_t span_ms, std::int64_t grace_ms,
                     CompactionLimits limits)
    : db_(db), path_(std::move(path)), span_ms_(span_ms), grace_ms_(grace_ms), limits_(limits) {
  for (const std::int64_t step : rollup::kTierSteps) {
    if (const std::int64_t row = rollup::row_span(step, span_ms_); row > 0) tiers_.push_back(Tier{step, row});
  }
}

Result<void> Compactor::load() {
  auto lookup = prepare(db_, "SELECT through_rowid FROM chunks WHERE series_id = ?1 AND window_start = ?2", path_);
  if (!lookup) return tl::unexpected(lookup.error());
  lookup_ = std::move(*lookup);
  auto get = prepare(db_, "SELECT data FROM rollups WHERE series_id = ?1 AND step_ms = ?2 AND row_start = ?3", path_);
  if (!get) return tl::unexpected(get.error());
  rollup_get_ = std::move(*get);
  auto put = prepare(db_,
                     "INSERT OR REPLACE INTO rollups(series_id, step_ms, row_start, data) VALUES(?1, ?2, ?3, ?4)",
                     path_);
  if (!put) return tl::unexpected(put.error());
  rollup_put_ = std::move(*put);
  auto oldest = single_int(db_, "SELECT min(min_ts) FROM head_flushes", path_, "cannot read head_flushes");
  if (!oldest) return tl::unexpected(oldest.error());
  oldest_ = *oldest;
  return {};
}

void Compactor::note_flush(WallMs min_ts) {
  oldest_ = oldest_ ? std::min(*oldest_, min_ts) : min_ts;
}

bool Compactor::due(WallMs now, bool force) const {
  if (now < retry_at_) return false;
  if (phase_ != Phase::kIdle) return true;
  if (!oldest_.has_value()) return false;
  const std::int64_t window = window_of(*oldest_, span_ms_);
  if (window + span_ms_ > now - grace_ms_) return false;
  if (!force && last_window_ == window &&
      std::chrono::steady_clock::now() - last_finished_ < std::chrono::milliseconds(grace_ms_)) {
    return false;
  }
  return true;
}

Result<void> Compactor::step(WallMs now, bool force) {
  if (!due(now, force)) return {};
  const auto started = std::chrono::steady_clock::now();
  Result<void> r;
  switch (phase_) {
    case Phase::kIdle: r = begin_pass(); break;
    case Phase::kRead: r = read_step(); break;
    case Phase::kWrite: r = write_step(); break;
    case Phase::kDelete: r = delete_step(); break;
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stats_.step_max_seconds = std::max(stats_.step_max_seconds, took);
  stats_.seconds += took;
  if (!r) fail_pass(r.error(), now);
  return r;
}

void Compactor::fail_pass(const Error& e, WallMs now) {
  ++stats_.failures;
  phase_ = Phase::kIdle;
  pass_ = Pass{};
  retry_at_ = now + kRetryMs;
  if (!failing_) {
    failing_ = true;
    log_warning("store compaction failed; the head keeps its samples and compaction retries every 10s",
                {{"path", path_}, {"error", e.message}});
  }
}

Result<void> Compactor::begin_pass() {
  pass_ = Pass{};
  pass_.window = window_of(*oldest_, span_ms_);
  auto through = single_int(db_, "SELECT max(last_rowid) FROM head_flushes", path_, "cannot read head_flushes");
  if (!through) return tl::unexpected(through.error());
  if (!*through) {
    oldest_.reset();
    return {};
  }
  pass_.through = **through;
  auto stmt = prepare(db_,
                      "SELECT rowid, first_rowid, last_rowid FROM head_flushes "
                      "WHERE min_ts < ?1 AND max_ts >= ?2 AND last_rowid <= ?3 ORDER BY first_rowid",
                      path_);
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_bind_int64(stmt->get(), 1, pass_.window + span_ms_);
  sqlite3_bind_int64(stmt->get(), 2, pass_.window);
  sqlite3_bind_int64(stmt->get(), 3, pass_.through);
  for (;;) {
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(sqlite_error(db_, rc, "cannot read head_flushes", path_));
    pass_.ranges.push_back(FlushRange{sqlite3_column_int64(stmt->get(), 0), sqlite3_column_int64(stmt->get(), 1),
                                      sqlite3_column_int64(stmt->get(), 2)});
  }
  if (pass_.ranges.empty()) return finish_pass();  // oldest_ was stale
  pass_.cursor = pass_.ranges.front().first;
  phase_ = Phase::kRead;
  return {};
}

Result<std::optional<std::int64_t>> Compactor::stored_through(std::int64_t series_id) {
  sqlite3_stmt* s = lookup_.get();
  StmtReset reset(s);
  sqlite3_bind_int64(s, 1, series_id);
  sqlite3_bind_int64(s, 2, pass_.window);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<std::int64_t>();
  if (rc != SQLITE_ROW) return tl::unexpected(sqlite_error(db_, rc, "cannot read the chunks", path_));
  return std::optional<std::int64_t>(sqlite3_column_int64(s, 0));
}

Result<void> Compactor::read_step() {
  auto stmt = prepare(db_,
                      "SELECT rowid, series_id, ts, value FROM samples_head "
                      "WHERE rowid >= ?1 AND rowid <= ?2 ORDER BY rowid LIMIT ?3",
                      path_);
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_stmt* s = stmt->get();
  const std::int64_t end = pass_.window + span_ms_;
  std::size_t budget = limits_.rows_per_step;
  while (budget > 0 && pass_.range < pass_.ranges.size()) {
    const FlushRange& range = pass_.ranges[pass_.range];
    StmtReset reset(s);
    sqlite3_bind_int64(s, 1, pass_.cursor);
    sqlite3_bind_int64(s, 2, range.last);
    sqlite3_bind_int64(s, 3, static_cast<std::int64_t>(budget));
    std::size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      ++n;
      const std::int64_t rowid = sqlite3_column_int64(s, 0);
      pass_.cursor = rowid + 1;
      const std::int64_t ts = sqlite3_column_int64(s, 2);
      if (ts < pass_.window || ts >= end) continue;
      const std::int64_t series_id = sqlite3_column_int64(s, 1);
      SeriesWork& work = pass_.series[series_id];
      if (!work.looked_up) {
        auto stored = stored_through(series_id);
        if (!stored) return tl::unexpected(stored.error());
        work.stored_through = *stored;
        work.looked_up = true;
      }
      if (work.stored_through && rowid <= *work.stored_through) continue;  // in that chunk already
      work.encoder.add(chunk::Point{ts, sqlite3_column_double(s, 3)});
    }
    if (rc != SQLITE_DONE) return tl::unexpected(sqlite_error(db_, rc, "cannot read the head", path_));
    if (n < budget || pass_.cursor > range.last) {
      if (++pass_.range < pass_.ranges.size()) pass_.cursor = pass_.ranges[pass_.range].first;
    }
    budget -= n;
  }
  if (pass_.range >= pass_.ranges.size()) {
    phase_ = Phase::kWrite;
    pass_.range = 0;
  }
  return {};
}

Result<std::uint64_t> Compactor::write_rollups(std::int64_t series_id, const std::vector<chunk::Point>& points) {
  std::uint64_t damaged = 0;
  for (const Tier& tier : tiers_) {
    std::vector<rollup::Bucket> buckets = rollup::summarise(points, tier.step);
    const std::int64_t row = window_of(pass_.window, tier.row_span);
    if (tier.row_span != span_ms_) {
      // The row holds other windows' buckets too: keep theirs.
      sqlite3_stmt* s = rollup_get_.get();
      StmtReset reset(s);
      sqlite3_bind_int64(s, 1, series_id);
      sqlite3_bind_int64(s, 2, tier.step);
      sqlite3_bind_int64(s, 3, row);
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, 0));
        auto stored = rollup::decode(
            std::span<const std::uint8_t>(blob, static_cast<std::size_t>(sqlite3_column_bytes(s, 0))));
        if (stored) {
          const std::int64_t end = pass_.window + span_ms_;
          for (const rollup::Bucket& b : *stored) {
            if (b.start < pass_.window || b.start >= end) buckets.push_back(b);
          }
          std::sort(buckets.begin(), buckets.end(),
                    [](const rollup::Bucket& a, const rollup::Bucket& b) { return a.start < b.start; });
        } else {
          ++damaged;
          log_error("store compaction replaced a damaged rollup row it could not merge with",
                    {{"path", path_}, {"series_id", series_id}, {"step_ms", tier.step}, {"row_start", row},
                     {"error", stored.error().message}});
        }
      } else if (rc != SQLITE_DONE) {
        return tl::unexpected(sqlite_error(db_, rc, "cannot read a rollup row", path_));
      }
    }
    const std::vector<std::uint8_t> bytes = rollup::encode(buckets);
    sqlite3_stmt* s = rollup_put_.get();
    StmtReset reset(s);
    sqlite3_bind_int64(s, 1, series_id);
    sqlite3_bind_int64(s, 2, tier.step);
    sqlite3_bind_int64(s, 3, row);
    sqlite3_bind_blob(s, 4, bytes.data(), static_cast<int>(bytes.size()), transient());
    if (const int rc = sqlite3_step(s); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(db_, rc, "cannot write a rollup row", path_));
    }
  }
  return damaged;
}

Result<void> Compactor::write_step() {
  Transaction txn(db_, path_);
  if (auto r = txn.begin_immediate(); !r) return r;
  auto old = prepare(db_, "SELECT data FROM chunks WHERE series_id = ?1 AND window_start = ?2", path_);
  if (!old) return tl::unexpected(old.error());
  auto put = prepare(db_,
                     "INSERT OR REPLACE INTO chunks(series_id, window_start, first_ts, last_ts, count, "
                     "through_rowid, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                     path_);
  if (!put) return tl::unexpected(put.error());
  std::size_t written = 0;
  std::uint64_t moved = 0, damaged = 0;
  std::vector<std::int64_t> done;  // erased once committed
  for (auto it = pass_.series.begin(); it != pass_.series.end() && written < limits_.chunks_per_step; ++it) {
    const std::int64_t series_id = it->first;
    SeriesWork& work = it->second;
    done.push_back(series_id);
    if (work.encoder.count() == 0) continue;  // every row of it is in its chunk already
    std::vector<std::uint8_t> bytes = work.encoder.finish();
    std::int64_t first = work.encoder.min_ts(), last = work.encoder.max_ts();
    std::uint64_t count = work.encoder.count();
    // The window's points, for a merge and for the rollups.
    std::optional<std::vector<chunk::Point>> points;
    if (work.stored_through || !work.encoder.sorted() || !tiers_.empty()) {
      auto decoded = chunk::decode(bytes);
      if (!decoded) return tl::unexpected(decoded.error());
      points = std::move(*decoded);
    }
    if (work.stored_through || !work.encoder.sorted()) {
      // Merged and sorted: a chunk holds its window in time order.
      if (work.stored_through) {
        sqlite3_stmt* s = old->get();
        StmtReset reset(s);
        sqlite3_bind_int64(s, 1, series_id);
        sqlite3_bind_int64(s, 2, pass_.window);
        const int rc = sqlite3_step(s);
        if (rc != SQLITE_ROW) return tl::unexpected(sqlite_error(db_, rc, "cannot read a chunk to merge", path_));
        auto stored = chunk_column(s, 0);
        if (stored) {
          points->insert(points->begin(), stored->begin(), stored->end());
        } else {
          // What cannot be decoded cannot be merged: the new samples
          // replace it (vigil db check reports such chunks before this).
          ++damaged;
          log_error("store compaction replaced a damaged chunk it could not merge with",
                    {{"path", path_}, {"series_id", series_id}, {"window_start", pass_.window},
                     {"error", stored.error().message}});
        }
      }
      std::stable_sort(points->begin(), points->end(),
                       [](const chunk::Point& a, const chunk::Point& b) { return a.ts_ms < b.ts_ms; });
      bytes = chunk::encode(*points);
      first = points->front().ts_ms;
      last = points->back().ts_ms;
      count = points->size();
    }
    sqlite3_stmt* s = put->get();
    StmtReset reset(s);
    sqlite3_bind_int64(s, 1, series_id);
    sqlite3_bind_int64(s, 2, pass_.window);
    sqlite3_bind_int64(s, 3, first);
    sqlite3_bind_int64(s, 4, last);
    sqlite3_bind_int64(s, 5, static_cast<std::int64_t>(count));
    sqlite3_bind_int64(s, 6, pass_.through);
    sqlite3_bind_blob(s, 7, bytes.data(), static_cast<int>(bytes.size()), transient());
    if (const int rc = sqlite3_step(s); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(db_, rc, "cannot write a chunk", path_));
    }
    if (points) {
      auto damaged_rows = write_rollups(series_id, *points);
      if (!damaged_rows) return tl::unexpected(damaged_rows.error());
      damaged += *damaged_rows;
    }
    moved += work.encoder.count();
    ++written;
  }
  // Rowids the chunks cover are never handed out again, even once the
  // head is empty.
  auto floor = prepare(db_,
                       "UPDATE meta SET value = max(value, ?1) WHERE key = 'head_rowid_floor'", path_);
  if (!floor) return tl::unexpected(floor.error());
  sqlite3_bind_int64(floor->get(), 1, pass_.through);
  if (const int rc = sqlite3_step(floor->get()); rc != SQLITE_DONE) {
    return tl::unexpected(sqlite_error(db_, rc, "cannot record head_rowid_floor", path_));
  }
  if (auto r = txn.commit(); !r) return r;
  for (const std::int64_t id : done) pass_.series.erase(id);
  stats_.chunks_written += written;
  stats_.samples_moved += moved;
  stats_.damaged_replaced += damaged;
  if (pass_.series.empty()) {
    phase_ = Phase::kDelete;
    pass_.range = 0;
  }
  return {};
}

Result<void> Compactor::delete_step() {
  Transaction txn(db_, path_);
  if (auto r = txn.begin_immediate(); !r) return r;
  auto del = prepare(db_, "DELETE FROM samples_head WHERE rowid BETWEEN ?1 AND ?2 AND ts >= ?3 AND ts < ?4", path_);
  if (!del) return tl::unexpected(del.error());
  auto left = prepare(db_, "SELECT min(ts), max(ts) FROM samples_head WHERE rowid BETWEEN ?1 AND ?2", path_);
  if (!left) return tl::unexpected(left.error());
  auto update = prepare(db_, "UPDATE head_flushes SET min_ts = ?2, max_ts = ?3 WHERE rowid = ?1", path_);
  if (!update) return tl::unexpected(update.error());
  auto drop = prepare(db_, "DELETE FROM head_flushes WHERE rowid = ?1", path_);
  if (!drop) return tl::unexpected(drop.error());
  std::size_t rows = 0;
  std::size_t i = pass_.range;
  for (; i < pass_.ranges.size() && rows < limits_.rows_per_step; ++i) {
    const FlushRange& range = pass_.ranges[i];
    {
      sqlite3_stmt* s = del->get();
      StmtReset reset(s);
      sqlite3_bind_int64(s, 1, range.first);
      sqlite3_bind_int64(s, 2, range.last);
      sqlite3_bind_int64(s, 3, pass_.window);
      sqlite3_bind_int64(s, 4, pass_.window + span_ms_);
      if (const int rc = sqlite3_step(s); rc != SQLITE_DONE) {
        return tl::unexpected(sqlite_error(db_, rc, "cannot delete compacted head rows", path_));
      }
      rows += static_cast<std::size_t>(sqlite3_changes(db_));
    }
    sqlite3_stmt* s = left->get();
    StmtReset reset(s);
    sqlite3_bind_int64(s, 1, range.first);
    sqlite3_bind_int64(s, 2, range.last);
    if (const int rc = sqlite3_step(s); rc != SQLITE_ROW) {
      return tl::unexpected(sqlite_error(db_, rc, "cannot read what is left of a flush", path_));
    }
    sqlite3_stmt* change = nullptr;
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
      change = drop->get();
      sqlite3_bind_int64(change, 1, range.flush_rowid);
    } else {
      change = update->get();
      sqlite3_bind_int64(change, 1, range.flush_rowid);
      sqlite3_bind_int64(change, 2, sqlite3_column_int64(s, 0));
      sqlite3_bind_int64(change, 3, sqlite3_column_int64(s, 1));
    }
    StmtReset reset_change(change);
    if (const int rc = sqlite3_step(change); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(db_, rc, "cannot update head_flushes", path_));
    }
  }
  if (auto r = txn.commit(); !r) return r;
  pass_.range = i;
  if (pass_.range >= pass_.ranges.size()) return finish_pass();
  return {};
}

Result<void> Compactor::finish_pass() {
  ++stats_.windows;
  last_window_ = pass_.window;
  last_finished_ = std::chrono::steady_clock::now();
  phase_ = Phase::kIdle;
  pass_ = Pass{};
  auto oldest = single_int(db_, "SELECT min(min_ts) FROM head_flushes", path_, "cannot read head_flushes");
  if (!oldest) return tl::unexpected(oldest.error());
  oldest_ = *oldest;
  if (failing_) {
    failing_ = false;
    log_info("store compaction works again", {{"path", path_}});
  }
  return {};
}

}  // namespace vigil::store_detail
