// store/compaction.hpp: moving the head's older samples into chunks (issue
// 15). Private to store/; runs on the writer thread, between flushes.
//
// The head (samples_head) is the crash-safe landing zone: every flush
// appends to it. Time is cut into windows of the store's chunk span
// (meta.chunk_span_ms, aligned to the epoch). Once a window has closed (its
// end is more than `grace` in the past), one pass moves the head's rows of
// that window into one chunk per series, then deletes them from the head.
// The oldest window with rows in the head goes first, so a late sample (its
// window already compacted) is merged into that window's chunk by a later
// pass: at most once per grace period for the same window, so that a
// stream of late samples (a clock set back) does not re-encode its chunks
// at every flush.
//
// A pass is a series of steps, each bounded (rows read, chunks written, rows
// deleted) so that a flush waits for at most one step:
//   1. read: the head rows of the window with rowid <= R (the newest rowid
//      when the pass began), from the flushes whose time range overlaps
//      the window, into one chunk::Encoder per series (no transaction
//      needed: only this thread writes);
//   2. write: the chunks and their rollup rows (store/rollup.hpp), some
//      series per transaction, each chunk saying
//      through_rowid = R: "the head rows of this series and window up to R
//      are in me". A chunk already there (an earlier pass, or one cut short
//      by a crash) is decoded and merged with the rows after its own
//      through_rowid, never with the ones it holds;
//   3. delete: the window's head rows up to R, some flushes per transaction,
//      each flush's row in head_flushes updated (its remaining time range)
//      or deleted (nothing left) in the same transaction.
// A reader skips a head row that a chunk's through_rowid covers, so at
// every commit point each sample is read exactly once; a crash between
// steps leaves rows the next pass deletes (or merges) by the same rule.
// Head rowids only grow (the writer assigns them, above
// meta.head_rowid_floor), so a rowid a chunk covers is never reused.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "store/chunk.hpp"
#include "store/sqlite_util.hpp"

namespace vigil::store_detail {

using chunk::window_of;

// The points of the chunk BLOB in a result column (a kParse error when it
// does not decode).
inline Result<std::vector<chunk::Point>> chunk_column(sqlite3_stmt* s, int column) {
  const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, column));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(s, column));
  return chunk::decode(std::span<const std::uint8_t>(blob, size));
}

struct CompactionLimits {
  std::size_t rows_per_step = 50'000;    // read or deleted per step
  std::size_t chunks_per_step = 256;     // written per transaction
};

struct CompactionStats {
  std::uint64_t windows = 0;          // passes finished
  std::uint64_t chunks_written = 0;   // rows inserted or replaced
  std::uint64_t samples_moved = 0;    // head rows now in chunks
  std::uint64_t damaged_replaced = 0; // chunks that could not be decoded to merge with
  double step_max_seconds = 0;        // the longest step (a flush waits at most this)
  double seconds = 0;                 // all steps
  std::uint64_t failures = 0;
};

class Compactor {
 public:
  Compactor(sqlite3* db, std::string path, std::int64_t span_ms, std::int64_t grace_ms,
            CompactionLimits limits = {});

  // Reads where the head starts (its oldest sample time).
  Result<void> load();
  // A flush committed head rows, the oldest at `min_ts`.
  void note_flush(WallMs min_ts);
  // A pass is under way, or the head's oldest window has closed. The window
  // a pass has just finished is due again only `grace` later (late samples
  // that keep coming for it, as after the clock was set back, are merged
  // once a grace period, not at every flush), unless `force` (compact()).
  bool due(WallMs now, bool force = false) const;
  // One bounded step. An error abandons the pass (the next one starts over,
  // safely: see above) and waits 10 s before trying again.
  Result<void> step(WallMs now, bool force = false);

  const CompactionStats& stats() const { return stats_; }
  std::int64_t span_ms() const { return span_ms_; }

 private:
  struct FlushRange {
    std::int64_t flush_rowid = 0;  // its row in head_flushes
    std::int64_t first = 0, last = 0;
  };
  struct SeriesWork {
    chunk::Encoder encoder;
    bool looked_up = false;                    // for a chunk already stored
    std::optional<std::int64_t> stored_through;  // its through_rowid
  };
  enum class Phase { kIdle, kRead, kWrite, kDelete };
  struct Pass {
    std::int64_t window = 0;  // start
    std::int64_t through = 0; // R
    std::vector<FlushRange> ranges;
    std::size_t range = 0;    // read or delete position
    std::int64_t cursor = 0;  // next rowid to read in ranges[range]
    std::unordered_map<std::int64_t, SeriesWork> series;
    std::uint64_t samples = 0;
  };

  Result<void> begin_pass();
  Result<void> read_step();
  Result<void> write_step();
  Result<void> delete_step();
  Result<void> finish_pass();
  Result<std::optional<std::int64_t>> stored_through(std::int64_t series_id);
  // The window's rollup rows of every tier kept, from its points (in time
  // order); the number of damaged rows replaced.
  Result<std::uint64_t> write_rollups(std::int64_t series_id, const std::vector<chunk::Point>& points);
  void fail_pass(const Error& e, WallMs now);

  sqlite3* db_;
  std::string path_;
  UniqueStmt lookup_;  // a stored chunk's through_rowid
  UniqueStmt rollup_get_, rollup_put_;
  struct Tier {
    std::int64_t step = 0, row_span = 0;
  };
  std::vector<Tier> tiers_;  // the rollup tiers this store keeps (store/rollup.hpp)
  std::int64_t span_ms_;
  std::int64_t grace_ms_;
  CompactionLimits limits_;
  std::optional<WallMs> oldest_;  // the head's oldest sample time; nullopt: empty
  Phase phase_ = Phase::kIdle;
  Pass pass_;
  WallMs retry_at_ = 0;
  std::optional<std::int64_t> last_window_;  // of the last pass finished, and when
  std::chrono::steady_clock::time_point last_finished_{};
  bool failing_ = false;
  CompactionStats stats_;
};

}  // namespace vigil::store_detail
