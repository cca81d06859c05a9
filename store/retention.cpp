#include "store/retention.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/log.hpp"
#include "store/rollup.hpp"

namespace vigil::store_detail {

namespace {

constexpr auto kRetryAfter = std::chrono::seconds(10);

}  // namespace

Retainer::Retainer(sqlite3* db, std::string path, std::int64_t span_ms, RetentionPolicy policy,
                   std::chrono::milliseconds every, std::size_t rows_per_step)
    : db_(db),
      path_(std::move(path)),
      span_ms_(span_ms),
      policy_(policy),
      every_(every),
      rows_per_step_(rows_per_step) {}

bool Retainer::due() const {
  if (!policy_.any()) return false;
  return kind_ != Kind::kDone || std::chrono::steady_clock::now() >= next_sweep_;
}

std::chrono::steady_clock::time_point Retainer::next_due() const {
  if (!policy_.any()) return std::chrono::steady_clock::time_point::max();
  return kind_ != Kind::kDone ? std::chrono::steady_clock::now() : next_sweep_;
}

Result<std::size_t> Retainer::delete_some(Kind kind, WallMs now) {
  // Each statement deletes at most ?2 rows older than ?1 (the cutoff), found
  // through an index.
  std::int64_t keep = 0;
  const char* sql = nullptr;
  const char* actions = nullptr;
  std::int64_t step = 0;
  switch (kind) {
    case Kind::kChunks:
      keep = policy_.raw;
      sql = "DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks WHERE window_start <= ?1 - ?3 LIMIT ?2)";
      step = span_ms_;
      break;
    case Kind::kRollups1m:
    case Kind::kRollups1h:
      keep = kind == Kind::kRollups1m ? policy_.rollup_1m : policy_.rollup_1h;
      step = rollup::kTierSteps[kind == Kind::kRollups1m ? 0 : 1];
      sql = "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE step_ms = ?4 AND "
            "row_start <= ?1 - ?3 LIMIT ?2)";
      break;
    case Kind::kEvents:
      keep = policy_.events;
      sql = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ?1 LIMIT ?2)";
      break;
    case Kind::kIncidents:
      keep = policy_.incidents;
      actions =
          "DELETE FROM incident_actions WHERE incident_id IN (SELECT id FROM incidents WHERE recovered > 0 AND "
          "recovered < ?1 AND id < (SELECT max(id) FROM incidents) ORDER BY id LIMIT ?2)";
      sql = "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE recovered > 0 AND recovered < ?1 "
            "AND id < (SELECT max(id) FROM incidents) ORDER BY id LIMIT ?2)";
      break;
    case Kind::kCap:
    case Kind::kDone: return std::size_t{0};
  }
  if (keep <= 0) return std::size_t{0};
  const std::int64_t row_span = kind == Kind::kRollups1m || kind == Kind::kRollups1h ? rollup::row_span(step, span_ms_)
                                                                                       : span_ms_;
  if ((kind == Kind::kRollups1m || kind == Kind::kRollups1h) && row_span == 0) return std::size_t{0};
  Transaction txn(db_, path_);
  if (auto r = txn.begin_immediate(); !r) return tl::unexpected(r.error());
  auto run = [&](const char* text) -> Result<std::size_t> {
    auto stmt = prepare(db_, text, path_);
    if (!stmt) return tl::unexpected(stmt.error());
    sqlite3_stmt* s = stmt->get();
    sqlite3_bind_int64(s, 1, now - keep);
    sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(rows_per_step_));
    const int params = sqlite3_bind_parameter_count(s);
    if (params >= 3) sqlite3_bind_int64(s, 3, row_span);
    if (params >= 4) sqlite3_bind_int64(s, 4, step);
    if (const int rc = sqlite3_step(s); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(db_, rc, "cannot delete what outlived its retention", path_));
    }
    return static_cast<std::size_t>(sqlite3_changes(db_));
  };
  if (actions != nullptr) {
    if (auto r = run(actions); !r) return r;
  }
  auto n = run(sql);
  if (!n) return n;
  if (auto r = txn.commit(); !r) return tl::unexpected(r.error());
  return n;
}

Result<TrimReason> Retainer::pressure() {
  if (policy_.max_bytes == 0 && policy_.min_free_fraction <= 0) return TrimReason::kNone;
  auto pragma = [&](const char* sql) -> Result<std::int64_t> {
    auto stmt = prepare(db_, sql, path_);
    if (!stmt) return tl::unexpected(stmt.error());
    if (const int rc = sqlite3_step(stmt->get()); rc != SQLITE_ROW) {
      return tl::unexpected(sqlite_error(db_, rc, "cannot read the store's page counts", path_));
    }
    return sqlite3_column_int64(stmt->get(), 0);
  };
  auto pages = pragma("PRAGMA page_count");
  if (!pages) return tl::unexpected(pages.error());
  auto free_pages = pragma("PRAGMA freelist_count");
  if (!free_pages) return tl::unexpected(free_pages.error());
  auto page_size = pragma("PRAGMA page_size");
  if (!page_size) return tl::unexpected(page_size.error());
  const auto live = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *pages - *free_pages) * *page_size);
  if (policy_.max_bytes > 0 && live > policy_.max_bytes) return TrimReason::kMaxSize;
  if (policy_.min_free_fraction > 0) {
    struct statvfs fs {};
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    if (::statvfs(dir.empty() ? "." : dir.c_str(), &fs) == 0 && fs.f_blocks > 0) {
      const double free = static_cast<double>(fs.f_bavail) / static_cast<double>(fs.f_blocks);
      const auto reusable = static_cast<std::uint64_t>(*free_pages * *page_size);
      if (free < policy_.min_free_fraction && reusable < policy_.headroom) return TrimReason::kMinFreeDisk;
    }
  }
  return TrimReason::kNone;
}

Result<std::size_t> Retainer::trim_oldest() {
  Transaction txn(db_, path_);
  if (auto r = txn.begin_immediate(); !r) return tl::unexpected(r.error());
  auto oldest = prepare(db_, "SELECT min(window_start) FROM chunks", path_);
  if (!oldest) return tl::unexpected(oldest.error());
  if (const int rc = sqlite3_step(oldest->get()); rc != SQLITE_ROW) {
    return tl::unexpected(sqlite_error(db_, rc, "cannot read the oldest chunk", path_));
  }
  if (sqlite3_column_type(oldest->get(), 0) == SQLITE_NULL) return std::size_t{0};
  const std::int64_t window = sqlite3_column_int64(oldest->get(), 0);
  auto del = prepare(db_,
                     "DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks WHERE window_start = ?1 LIMIT ?2)",
                     path_);
  if (!del) return tl::unexpected(del.error());
  sqlite3_bind_int64(del->get(), 1, window);
  sqlite3_bind_int64(del->get(), 2, static_cast<std::int64_t>(rows_per_step_));
  if (const int rc = sqlite3_step(del->get()); rc != SQLITE_DONE) {
    return tl::unexpected(sqlite_error(db_, rc, "cannot delete the oldest chunks", path_));
  }
  const auto n = static_cast<std::size_t>(sqlite3_changes(db_));
  if (auto r = txn.commit(); !r) return tl::unexpected(r.error());
  stats_.trimmed_through = std::max(stats_.trimmed_through, window);
  return n;
}

Result<void> Retainer::step(WallMs now) {
  if (!due()) return {};
  const auto started = std::chrono::steady_clock::now();
  if (kind_ == Kind::kDone) {
    kind_ = Kind::kChunks;
    at_sweep_start_ = stats_;
  }
  Result<std::size_t> n = std::size_t{0};
  bool again = false;  // the cap: another window next step
  if (kind_ == Kind::kCap) {
    // Over the cap or under the floor: the oldest raw chunks, a window at
    // a time, until neither holds or no raw chunk is left.
    auto why = pressure();
    if (!why) {
      n = tl::unexpected(why.error());
    } else if (*why != TrimReason::kNone) {
      n = trim_oldest();
      if (n && *n > 0) {
        if (stats_.last_trim != *why || stats_.trimmed_chunks == at_sweep_start_.trimmed_chunks) {
          log_warning(*why == TrimReason::kMaxSize
                          ? "store over [store] max_size: deleting the oldest raw samples"
                          : "free disk space under [store] min_free_disk: deleting the oldest raw samples",
                      {{"path", path_}, {"window_start", stats_.trimmed_through}});
        }
        stats_.trimmed_chunks += *n;
        stats_.last_trim = *why;
        again = true;
      }
    }
  } else {
    n = delete_some(kind_, now);
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stats_.seconds += took;
  stats_.step_max_seconds = std::max(stats_.step_max_seconds, took);
  if (!n) {
    ++stats_.failures;
    kind_ = Kind::kDone;
    next_sweep_ = std::chrono::steady_clock::now() + kRetryAfter;
    log_warning("store retention failed; it retries in 10s", {{"path", path_}, {"error", n.error().message}});
    return tl::unexpected(n.error());
  }
  switch (kind_) {
    case Kind::kChunks: stats_.chunks += *n; break;
    case Kind::kRollups1m:
    case Kind::kRollups1h: stats_.rollup_rows += *n; break;
    case Kind::kEvents: stats_.events += *n; break;
    case Kind::kIncidents: stats_.incidents += *n; break;
    case Kind::kCap:
    case Kind::kDone: break;
  }
  if (again || (kind_ != Kind::kCap && *n >= rows_per_step_)) return {};  // more of this kind next step
  kind_ = static_cast<Kind>(static_cast<int>(kind_) + 1);
  if (kind_ == Kind::kDone) {
    ++stats_.sweeps;
    next_sweep_ = std::chrono::steady_clock::now() + every_;
    const std::uint64_t chunks = stats_.chunks - at_sweep_start_.chunks;
    const std::uint64_t rows = stats_.rollup_rows - at_sweep_start_.rollup_rows;
    const std::uint64_t events = stats_.events - at_sweep_start_.events;
    const std::uint64_t incidents = stats_.incidents - at_sweep_start_.incidents;
    if (chunks + rows + events + incidents > 0) {
      log_info("store retention deleted what outlived its retention",
               {{"path", path_}, {"chunks", chunks}, {"rollup_rows", rows}, {"events", events},
                {"incidents", incidents}});
    }
  }
  return {};
}

}  // namespace vigil::store_detail
