// store/inspect.cpp: StoreReader::stats() and check(), for vigil db.
#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_set>

#include "core/time.hpp"
#include "store/chunk.hpp"
#include "store/compaction.hpp"
#include "store/rollup.hpp"
#include "store/schema.hpp"
#include "store/sqlite_util.hpp"
#include "store/store.hpp"

namespace vigil {

using namespace store_detail;

namespace {

std::uint64_t size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

// Runs a query and hands each row to `row`.
template <typename F>
Result<void> each_row(sqlite3* db, std::string_view sql, std::string_view what, F&& row) {
  auto stmt = prepare(db, sql, db_path(db));
  if (!stmt) return tl::unexpected(stmt.error());
  for (;;) {
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return tl::unexpected(sqlite_error(db, rc, what, db_path(db)));
    row(stmt->get());
  }
}

// "1m", "1h": a tier's step for findings.
std::string human_step(std::int64_t step) {
  return format_duration(Millis(step));
}

std::optional<WallMs> optional_int(sqlite3_stmt* s, int column) {
  if (sqlite3_column_type(s, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, column);
}

}  // namespace

Result<StoreStats> StoreReader::stats() const {
  ReadTransaction txn(db_);
  if (auto r = txn.begin(); !r) return tl::unexpected(r.error());
  StoreStats st;
  st.path = db_path(db_);
  st.file_bytes = size_of(st.path);
  st.wal_bytes = size_of(st.path + "-wal");
  st.chunk_span_ms = chunk_span_ms_;
  auto u = [](sqlite3_stmt* s, int c) { return static_cast<std::uint64_t>(sqlite3_column_int64(s, c)); };
  if (auto r = each_row(db_,
                        "SELECT (SELECT page_size FROM pragma_page_size), (SELECT page_count FROM pragma_page_count), "
                        "(SELECT freelist_count FROM pragma_freelist_count), (SELECT count(*) FROM series), "
                        "(SELECT count(*) FROM events), (SELECT count(*) FROM incidents), "
                        "(SELECT count(*) FROM outbox)",
                        "cannot read the store's counts",
                        [&](sqlite3_stmt* s) {
                          st.page_size = u(s, 0);
                          st.pages = u(s, 1);
                          st.free_pages = u(s, 2);
                          st.series = u(s, 3);
                          st.events = u(s, 4);
                          st.incidents = u(s, 5);
                          st.outbox = u(s, 6);
                        });
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = each_row(db_,
                        "SELECT count(*), count(DISTINCT series_id) FROM samples_head", "cannot read the head",
                        [&](sqlite3_stmt* s) {
                          st.head_samples = u(s, 0);
                          st.head_series = u(s, 1);
                        });
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = each_row(db_, "SELECT min(min_ts), max(max_ts) FROM head_flushes", "cannot read head_flushes",
                        [&](sqlite3_stmt* s) {
                          st.head_oldest = optional_int(s, 0);
                          st.head_newest = optional_int(s, 1);
                        });
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = each_row(db_,
                        "SELECT count(*), coalesce(sum(count), 0), count(DISTINCT series_id), "
                        "coalesce(sum(length(data)), 0), min(first_ts), max(last_ts) FROM chunks",
                        "cannot read the chunks",
                        [&](sqlite3_stmt* s) {
                          st.chunks = u(s, 0);
                          st.chunk_samples = u(s, 1);
                          st.chunk_series = u(s, 2);
                          st.chunk_payload_bytes = u(s, 3);
                          st.chunk_oldest = optional_int(s, 4);
                          st.chunk_newest = optional_int(s, 5);
                        });
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = each_row(db_,
                        "SELECT step_ms, count(*), count(DISTINCT series_id), coalesce(sum(length(data)), 0), "
                        "min(row_start), max(row_start) FROM rollups GROUP BY step_ms ORDER BY step_ms",
                        "cannot read the rollups",
                        [&](sqlite3_stmt* s) {
                          st.rollups.push_back(StoreStats::Rollups{sqlite3_column_int64(s, 0), u(s, 1), u(s, 2),
                                                                   u(s, 3), optional_int(s, 4), optional_int(s, 5)});
                        });
      !r) {
    return tl::unexpected(r.error());
  }
  // Bytes per table and index, where SQLite was built with dbstat (Debian's
  // is): the pages each b-tree takes, its indexes with it.
  std::map<std::string, std::uint64_t> bytes;
  auto by_table = each_row(db_,
                           "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                           "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1",
                           "cannot read dbstat", [&](sqlite3_stmt* s) {
                             const auto* name = sqlite3_column_text(s, 0);
                             bytes[name != nullptr ? reinterpret_cast<const char*>(name) : ""] = u(s, 1);
                           });
  if (by_table) {
    st.bytes_known = true;
    for (const auto& [table, n] : bytes) {
      if (table == "samples_head" || table == "head_flushes") {
        st.head_bytes += n;
      } else if (table == "chunks") {
        st.chunk_bytes += n;
      } else if (table == "rollups") {
        st.rollup_bytes += n;
      } else {
        st.other_bytes += n;
      }
    }
  }
  return st;
}

Result<std::vector<std::string>> StoreReader::check(const Progress& progress) const {
  ReadTransaction txn(db_);
  if (auto r = txn.begin(); !r) return tl::unexpected(r.error());
  std::vector<std::string> findings;
  constexpr std::size_t kMaxFindings = 1000;
  auto found = [&](std::string what) {
    if (findings.size() < kMaxFindings) findings.push_back(std::move(what));
  };

  // SQLite's own: every page, every index.
  if (auto r = each_row(db_, "PRAGMA integrity_check", "cannot run integrity_check",
                        [&](sqlite3_stmt* s) {
                          const auto* text = sqlite3_column_text(s, 0);
                          const std::string line = text != nullptr ? reinterpret_cast<const char*>(text) : "";
                          if (line != "ok") found("integrity_check: " + line);
                        });
      !r) {
    // A file too damaged to check at all is a finding, not a failure to run.
    if (r.error().kind != ErrorKind::kCorrupt) return tl::unexpected(r.error());
    found("integrity_check: " + r.error().message);
    return findings;
  }

  std::int64_t floor = 0;
  if (auto r = each_row(db_, "SELECT value FROM meta WHERE key = 'head_rowid_floor'", "cannot read meta",
                        [&](sqlite3_stmt* s) { floor = sqlite3_column_int64(s, 0); });
      !r) {
    return tl::unexpected(r.error());
  }
  std::unordered_set<std::int64_t> series;
  if (auto r = each_row(db_, "SELECT id FROM series", "cannot read the series",
                        [&](sqlite3_stmt* s) { series.insert(sqlite3_column_int64(s, 0)); });
      !r) {
    return tl::unexpected(r.error());
  }

  // Every chunk.
  std::uint64_t total = 0;
  if (auto r = each_row(db_, "SELECT count(*) FROM chunks", "cannot count the chunks",
                        [&](sqlite3_stmt* s) { total = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)); });
      !r) {
    return tl::unexpected(r.error());
  }
  std::uint64_t done = 0;
  const std::int64_t span = chunk_span_ms_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> chunk_counts;  // (series, window) -> count
  auto chunks = each_row(
      db_,
      "SELECT c.series_id, c.window_start, c.first_ts, c.last_ts, c.count, c.through_rowid, c.data, "
      "coalesce(s.metric || s.labels, '') FROM chunks c LEFT JOIN series s ON s.id = c.series_id "
      "ORDER BY c.series_id, c.window_start",
      "cannot read the chunks", [&](sqlite3_stmt* s) {
        const std::int64_t id = sqlite3_column_int64(s, 0);
        const std::int64_t window = sqlite3_column_int64(s, 1);
        const std::int64_t first = sqlite3_column_int64(s, 2), last = sqlite3_column_int64(s, 3);
        const std::int64_t count = sqlite3_column_int64(s, 4), through = sqlite3_column_int64(s, 5);
        chunk_counts[{id, window}] = count;
        const auto* name = sqlite3_column_text(s, 7);
        const std::string where = "chunk of series " + std::to_string(id) + " " +
                                  (name != nullptr ? reinterpret_cast<const char*>(name) : std::string()) +
                                  " at " + format_rfc3339_ms(window);
        if (series.count(id) == 0) found(where + ": its series does not exist");
        if (window_of(window, span) != window) {
          found(where + ": window_start is not a multiple of the chunk span (" + std::to_string(span) + " ms)");
        }
        if (through > floor) {
          found(where + ": through_rowid " + std::to_string(through) + " is above head_rowid_floor " +
                std::to_string(floor));
        }
        auto points = chunk_column(s, 6);
        if (!points) {
          found(where + ": " + points.error().message);
        } else if (static_cast<std::int64_t>(points->size()) != count) {
          found(where + ": holds " + std::to_string(points->size()) + " samples, its count says " +
                std::to_string(count));
        } else if (!points->empty()) {
          const bool sorted = std::is_sorted(points->begin(), points->end(),
                                             [](const chunk::Point& a, const chunk::Point& b) { return a.ts_ms < b.ts_ms; });
          if (!sorted) found(where + ": its samples are not in time order");
          const auto [lo, hi] = std::minmax_element(
              points->begin(), points->end(),
              [](const chunk::Point& a, const chunk::Point& b) { return a.ts_ms < b.ts_ms; });
          if (lo->ts_ms != first || hi->ts_ms != last) {
            found(where + ": its samples span " + std::to_string(lo->ts_ms) + ".." + std::to_string(hi->ts_ms) +
                  ", first_ts/last_ts say " + std::to_string(first) + ".." + std::to_string(last));
          }
          if (lo->ts_ms < window || hi->ts_ms >= window + span) found(where + ": a sample lies outside its window");
        }
        ++done;
        if (progress && (done % 1000 == 0 || done == total)) progress(done, total);
      });
  if (!chunks) return tl::unexpected(chunks.error());

  // Every rollup row: of a tier this store keeps, decodes, its buckets
  // aligned and inside the row, and its samples those of the chunks it
  // summarises (until retention removes the chunks).
  auto rollups = each_row(
      db_,
      "SELECT r.series_id, r.step_ms, r.row_start, r.data, coalesce(s.metric || s.labels, '') FROM rollups r "
      "LEFT JOIN series s ON s.id = r.series_id ORDER BY r.series_id, r.step_ms, r.row_start",
      "cannot read the rollups", [&](sqlite3_stmt* s) {
        const std::int64_t id = sqlite3_column_int64(s, 0);
        const std::int64_t step = sqlite3_column_int64(s, 1);
        const std::int64_t row = sqlite3_column_int64(s, 2);
        const auto* name = sqlite3_column_text(s, 4);
        const std::string where = "rollup row (" + human_step(step) + ") of series " + std::to_string(id) + " " +
                                  (name != nullptr ? reinterpret_cast<const char*>(name) : std::string()) + " at " +
                                  format_rfc3339_ms(row);
        if (series.count(id) == 0) found(where + ": its series does not exist");
        const std::int64_t row_span = rollup::row_span(step, span);
        if (row_span == 0) {
          found(where + ": this store keeps no tier of that step");
          return;
        }
        if (window_of(row, row_span) != row) found(where + ": row_start is not a multiple of its row's span");
        const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, 3));
        auto buckets = rollup::decode(
            std::span<const std::uint8_t>(blob, static_cast<std::size_t>(sqlite3_column_bytes(s, 3))));
        if (!buckets) {
          found(where + ": " + buckets.error().message);
          return;
        }
        std::map<std::int64_t, std::int64_t> per_window;
        for (const rollup::Bucket& b : *buckets) {
          if (window_of(b.start, step) != b.start || b.start < row || b.start >= row + row_span) {
            found(where + ": a bucket at " + std::to_string(b.start) + " is not a step of the row");
            return;
          }
          per_window[window_of(b.start, span)] += static_cast<std::int64_t>(b.count);
        }
        for (const auto& [window, n] : per_window) {
          auto it = chunk_counts.find({id, window});
          if (it != chunk_counts.end() && it->second != n) {
            found(where + ": summarises " + std::to_string(n) + " samples of the window at " +
                  format_rfc3339_ms(window) + ", whose chunk holds " + std::to_string(it->second));
          }
        }
      });
  if (!rollups) return tl::unexpected(rollups.error());

  // Every head row inside a flush's rowid range and time range (what the
  // range queries rely on), of a series that exists.
  struct Flush {
    std::int64_t first, last, min_ts, max_ts;
  };
  std::vector<Flush> flushes;
  if (auto r = each_row(db_, "SELECT first_rowid, last_rowid, min_ts, max_ts FROM head_flushes ORDER BY first_rowid",
                        "cannot read head_flushes",
                        [&](sqlite3_stmt* s) {
                          flushes.push_back(Flush{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                                                  sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3)});
                        });
      !r) {
    return tl::unexpected(r.error());
  }
  std::size_t f = 0;
  auto head = each_row(db_, "SELECT rowid, series_id, ts FROM samples_head ORDER BY rowid", "cannot read the head",
                       [&](sqlite3_stmt* s) {
                         const std::int64_t rowid = sqlite3_column_int64(s, 0);
                         const std::int64_t id = sqlite3_column_int64(s, 1);
                         const std::int64_t ts = sqlite3_column_int64(s, 2);
                         const std::string where = "head row " + std::to_string(rowid);
                         if (series.count(id) == 0) found(where + ": its series " + std::to_string(id) + " does not exist");
                         while (f < flushes.size() && flushes[f].last < rowid) ++f;
                         if (f == flushes.size() || flushes[f].first > rowid) {
                           found(where + ": in no flush of head_flushes (range queries cannot find it)");
                         } else if (ts < flushes[f].min_ts || ts > flushes[f].max_ts) {
                           found(where + ": its time " + std::to_string(ts) + " is outside its flush's " +
                                 std::to_string(flushes[f].min_ts) + ".." + std::to_string(flushes[f].max_ts));
                         }
                       });
  if (!head) return tl::unexpected(head.error());
  if (findings.size() == kMaxFindings) findings.push_back("... (more findings not listed)");
  return findings;
}

}  // namespace vigil
