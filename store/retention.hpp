// store/retention.hpp: deleting what has outlived its retention (issue 15).
// Private to store/; runs on the writer thread between flushes, as
// compaction does, in bounded steps: each step is one transaction that
// deletes at most `rows_per_step` rows of one kind, so that deleting never
// holds a flush up for long. A sweep goes through the kinds in order (raw
// chunks, 1 min rollup rows, 1 h rollup rows, events, closed incidents);
// the next sweep starts a minute (`every`) after one ends. SQLite reuses the freed
// pages, so a store under retention stops growing once its oldest data
// goes as fast as new data comes.
//
// What goes:
//   raw chunks       whose window ended before now - raw; and, oldest
//                    first, while the store's live pages exceed max_bytes,
//                    or while the file system's free space is under its
//                    floor and the file holds fewer than `headroom` bytes
//                    of free pages (the file then stops growing: new data
//                    fills the pages the old left)
//   rollup rows      whose row (a window or a day) ended before now - that
//                    tier's retention: the tiers outlive the chunks they
//                    summarise, so that a query with a step still answers
//                    for ranges the raw samples have left
//   events           older than now - events
//   incidents        recovered before now - incidents, with their actions;
//                    never an open one, nor the newest (vigild numbers new
//                    incidents after it)
// A retention of 0 keeps that kind forever. The head is left to compaction:
// its old rows become chunks, which the next sweep deletes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "core/time.hpp"
#include "store/sqlite_util.hpp"

namespace vigil::store_detail {

struct RetentionPolicy {  // ms; 0: kept forever
  std::int64_t raw = 0, rollup_1m = 0, rollup_1h = 0, events = 0, incidents = 0;
  // The size cap: the store's live pages (its file less the free pages
  // SQLite reuses), 0 for none; and the free-disk floor, a fraction of the
  // file system (0 for none), under which the oldest raw chunks go until
  // the file has `headroom` bytes of free pages, so that it stops growing.
  std::uint64_t max_bytes = 0;
  double min_free_fraction = 0;
  std::uint64_t headroom = 8u << 20;
  bool any() const {
    return raw > 0 || rollup_1m > 0 || rollup_1h > 0 || events > 0 || incidents > 0 || max_bytes > 0 ||
           min_free_fraction > 0;
  }
};

// Why the oldest raw data went before its time.
enum class TrimReason { kNone, kMaxSize, kMinFreeDisk };

struct RetentionStats {
  std::uint64_t chunks = 0, rollup_rows = 0, events = 0, incidents = 0;  // deleted, since start
  std::uint64_t trimmed_chunks = 0;  // raw chunks deleted for the size cap or the disk floor
  TrimReason last_trim = TrimReason::kNone;
  std::int64_t trimmed_through = 0;  // the newest window start trimmed
  std::uint64_t sweeps = 0, failures = 0;
  double seconds = 0, step_max_seconds = 0;
};

class Retainer {
 public:
  Retainer(sqlite3* db, std::string path, std::int64_t span_ms, RetentionPolicy policy,
           std::chrono::milliseconds every = std::chrono::minutes(1), std::size_t rows_per_step = 2000);

  // A sweep is under way, or the last one ended a minute ago (a failed
  // step: ten seconds ago). Never when the policy keeps everything.
  bool due() const;
  // When due() becomes true (now while a sweep is under way; far ahead
  // when the policy keeps everything).
  std::chrono::steady_clock::time_point next_due() const;
  // One bounded step of the sweep, by the time `now` (the writer's clock).
  Result<void> step(WallMs now);
  const RetentionStats& stats() const { return stats_; }

 private:
  enum class Kind { kChunks, kRollups1m, kRollups1h, kEvents, kIncidents, kCap, kDone };
  Result<std::size_t> delete_some(Kind kind, WallMs now);
  // Over the cap or under the floor: why; kNone when neither.
  Result<TrimReason> pressure();
  // The oldest window's raw chunks, at most rows_per_step of them.
  Result<std::size_t> trim_oldest();

  sqlite3* db_;
  std::string path_;
  std::int64_t span_ms_;
  RetentionPolicy policy_;
  std::chrono::milliseconds every_;
  std::size_t rows_per_step_;
  Kind kind_ = Kind::kDone;  // kDone between sweeps
  RetentionStats at_sweep_start_;
  std::chrono::steady_clock::time_point next_sweep_{};
  RetentionStats stats_;
};

}  // namespace vigil::store_detail
