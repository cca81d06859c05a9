// store/reader.cpp: StoreReader, read-only queries for the CLI and the API.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <utility>

#include "core/text.hpp"
#include "core/time.hpp"
#include "store/aggregate.hpp"
#include "store/chunk.hpp"
#include "store/compaction.hpp"
#include "store/rollup.hpp"
#include "store/schema.hpp"
#include "store/sqlite_util.hpp"
#include "store/store.hpp"

namespace vigil {

using namespace store_detail;

namespace {

// vigil_glob(pattern, text): core's glob_match, so that every glob of the
// CLI means the same thing whether it is matched in SQL or in C++.
void sql_glob(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  auto text_of = [](sqlite3_value* v) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
    return std::string_view(p != nullptr ? p : "", static_cast<std::size_t>(sqlite3_value_bytes(v)));
  };
  sqlite3_result_int(ctx, glob_match(text_of(argv[0]), text_of(argv[1])) ? 1 : 0);
}

// A name this build does not know (a newer vigild wrote it) reads as the
// kind's fallback rather than failing the whole query.
template <Kind E>
E kind_or(std::string_view name, E fallback) {
  return parse_kind<E>(name).value_or(fallback);
}

bool has_labels(const Labels& labels, const Labels& wanted) {
  return std::all_of(wanted.begin(), wanted.end(),
                     [&](const Label& w) { return std::find(labels.begin(), labels.end(), w) != labels.end(); });
}

Error read_error(sqlite3* db, int rc, std::string_view what) {
  return sqlite_error(db, rc, what, db_path(db));
}

// No -wal file, or an empty one: every commit is in the database file.
bool wal_is_empty(const std::string& path) {
  struct stat st {};
  if (::stat((path + "-wal").c_str(), &st) != 0) return errno == ENOENT;
  return st.st_size == 0;
}

// immutable: no locks, no -wal, no -shm (only when the -wal is empty).
Result<UniqueDb> connect_read_only(const std::string& path, bool immutable) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
  const int rc = immutable ? sqlite3_open_v2(("file:" + uri_path(path) + "?mode=ro&immutable=1").c_str(), &raw,
                                             flags | SQLITE_OPEN_URI, nullptr)
                           : sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  UniqueDb db(raw);
  if (rc != SQLITE_OK) return tl::unexpected(sqlite_error(raw, rc, "cannot open the store", path));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  // Pages read through a memory map rather than a pread and a copy each: a
  // 48-hour query of 200 series reads thousands of pages. Read-only, so a
  // damaged file cannot be written through it.
  sqlite3_exec(db.get(), "PRAGMA mmap_size = 1073741824", nullptr, nullptr, nullptr);
  sqlite3_create_function(db.get(), "vigil_glob", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                          sql_glob, nullptr, nullptr);
  return db;
}

constexpr const char* kIncidentColumns =
    "SELECT id, target, \"trigger\", started, detected, recovered, root_cause, summary, evidence, given_up, "
    "dry_run, updated, check_name FROM incidents";

IncidentRow incident_from(sqlite3_stmt* s) {
  IncidentRow row;
  row.id = sqlite3_column_int64(s, 0);
  row.target = column_text(s, 1);
  const std::string trigger = column_text(s, 2);
  row.trigger = Trigger::parse(trigger).value_or(Trigger{TriggerKind::kCheck, trigger});
  row.started_ms = sqlite3_column_int64(s, 3);
  row.detected_ms = sqlite3_column_int64(s, 4);
  row.recovered_ms = sqlite3_column_int64(s, 5);
  row.root_cause = kind_or(column_text(s, 6), RootCause::kUnknown);
  row.summary = column_text(s, 7);
  row.evidence = column_text(s, 8);
  row.given_up = sqlite3_column_int(s, 9) != 0;
  row.dry_run = sqlite3_column_int(s, 10) != 0;
  row.updated_ms = sqlite3_column_int64(s, 11);
  row.check = column_text(s, 12);
  return row;
}

// Fills each incident's actions, in the order taken.
Result<void> load_actions(sqlite3* db, std::vector<IncidentRow>& incidents) {
  if (incidents.empty()) return {};
  auto stmt = prepare(db,
                      "SELECT started, finished, action, detail, result, message FROM incident_actions "
                      "WHERE incident_id = ?1 ORDER BY seq",
                      db_path(db));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_stmt* s = stmt->get();
  for (IncidentRow& incident : incidents) {
    StmtReset reset(s);
    sqlite3_bind_int64(s, 1, incident.id);
    for (;;) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        return tl::unexpected(read_error(db, rc, "cannot read the actions of incident " + std::to_string(incident.id)));
      }
      IncidentAction a;
      a.started_ms = sqlite3_column_int64(s, 0);
      a.finished_ms = sqlite3_column_int64(s, 1);
      a.action = kind_or(column_text(s, 2), ActionKind::kRestart);
      a.detail = column_text(s, 3);
      a.result = kind_or(column_text(s, 4), ActionStatus::kFailed);
      a.message = column_text(s, 5);
      incident.actions.push_back(std::move(a));
    }
  }
  return {};
}

}  // namespace

StoreReader::StoreReader(sqlite3* db, std::int64_t chunk_span_ms) : db_(db), chunk_span_ms_(chunk_span_ms) {}

StoreReader::StoreReader(StoreReader&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), chunk_span_ms_(other.chunk_span_ms_) {}

StoreReader& StoreReader::operator=(StoreReader&& other) noexcept {
  if (this != &other) {
    UniqueDb old(std::exchange(db_, std::exchange(other.db_, nullptr)));
    chunk_span_ms_ = other.chunk_span_ms_;
  }
  return *this;
}

StoreReader::~StoreReader() {
  UniqueDb closing(db_);
}

Result<StoreReader> StoreReader::open(const std::string& path) {
  auto file = identify_store_file(path);
  if (!file) return tl::unexpected(file.error());
  switch (file->kind) {
    case StoreFileKind::kMissing:
      return fail(ErrorKind::kNotFound, "no vigil store at " + path + " (vigild creates it when it first starts)");
    case StoreFileKind::kEmpty:
      return fail(ErrorKind::kNotFound, path + " is empty: no vigil store yet (vigild creates it when it first starts)");
    case StoreFileKind::kForeign: return fail(ErrorKind::kInvalid, not_a_store_message(path, *file, false));
    case StoreFileKind::kDamagedVigil:
      return fail(ErrorKind::kCorrupt, "the vigil store " + path + " is corrupt (" + file->what +
                                           "); vigild moves it aside and starts a new one when it next starts");
    case StoreFileKind::kVigil: break;
  }

  auto db = connect_read_only(path, false);
  if (!db) return tl::unexpected(db.error());
  auto version = read_schema_version(db->get(), path);
  if (!version && (version.error().kind == ErrorKind::kIo || version.error().kind == ErrorKind::kPermission) &&
      wal_is_empty(path)) {
    // SQLite could neither open nor create the -wal/-shm files (a directory
    // this user may not write). With no -wal content the database file
    // holds every commit, so it can be read as an immutable file.
    auto immutable = connect_read_only(path, true);
    if (immutable) {
      auto retried = read_schema_version(immutable->get(), path);
      if (retried) {
        db = std::move(immutable);
        version = retried;
      }
    }
  }
  if (!version) {
    Error e = version.error();
    switch (e.kind) {
      case ErrorKind::kCorrupt:
        // SQLite's own words, not the statement that met them.
        e.message = "the vigil store " + path + " is corrupt: " + sqlite3_errmsg(db->get());
        break;
      case ErrorKind::kIo:
      case ErrorKind::kPermission:
        e.message = "cannot read the store " + path + " read-only: " + sqlite3_errmsg(db->get()) +
                    " (a reader needs to read " + path + "-wal and " + path +
                    "-shm, or to create them in a directory it may write;" + " run as the store's owner or root)";
        break;
      default:
        break;
    }
    return tl::unexpected(std::move(e));
  }
  if (*version == 0) {
    return fail(ErrorKind::kCorrupt, path + " is not a vigil store (no schema version in meta)");
  }
  if (*version != kSchemaVersion) {
    return fail(ErrorKind::kInvalid,
                "the store " + path + " has schema version " + std::to_string(*version) +
                    "; this build reads version " + std::to_string(kSchemaVersion) +
                    (*version < kSchemaVersion ? " (start vigild once to migrate it)" : " (use a newer vigil)"));
  }
  auto span = prepare(db->get(), "SELECT value FROM meta WHERE key = 'chunk_span_ms'", path);
  if (!span) return tl::unexpected(span.error());
  const int rc = sqlite3_step(span->get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return tl::unexpected(read_error(db->get(), rc, "cannot read meta"));
  if (rc != SQLITE_ROW || sqlite3_column_type(span->get(), 0) != SQLITE_INTEGER ||
      sqlite3_column_int64(span->get(), 0) < 1000) {
    return fail(ErrorKind::kCorrupt, "meta.chunk_span_ms in " + path + " is missing or not a span of 1000 ms or more");
  }
  const std::int64_t span_ms = sqlite3_column_int64(span->get(), 0);
  span->reset();
  return StoreReader(db->release(), span_ms);
}

int StoreReader::schema_version() const {
  auto version = read_schema_version(db_, db_path(db_));
  return version ? *version : -1;
}

Result<std::vector<SeriesInfo>> StoreReader::series(const std::string& metric_glob) const {
  auto stmt = prepare(db_,
                      "SELECT id, metric, labels FROM series WHERE vigil_glob(?1, metric) "
                      "ORDER BY metric, labels",
                      db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  bind_text(stmt->get(), 1, metric_glob);
  std::vector<SeriesInfo> out;
  for (;;) {
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read the series"));
    auto labels = parse_labels_text(column_text(stmt->get(), 2));
    if (!labels) {
      return fail(ErrorKind::kCorrupt, "series in " + db_path(db_) + ": " + labels.error().message);
    }
    out.push_back(
        SeriesInfo{sqlite3_column_int64(stmt->get(), 0), SeriesKey(column_text(stmt->get(), 1), std::move(*labels))});
  }
  return out;
}

Result<std::vector<std::string>> StoreReader::metrics() const {
  auto stmt = prepare(db_, "SELECT DISTINCT metric FROM series ORDER BY metric", db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  std::vector<std::string> out;
  for (;;) {
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read the metrics"));
    out.push_back(column_text(stmt->get(), 0));
  }
  return out;
}

namespace {

// The series of `metric` that carry `label_filter`, by labels, with no points.
Result<std::vector<SeriesPoints>> matching_series(sqlite3* db, const std::string& metric, const Labels& label_filter) {
  const std::string path = db_path(db);
  auto stmt = prepare(db, "SELECT id, labels FROM series WHERE metric = ?1 ORDER BY labels", path);
  if (!stmt) return tl::unexpected(stmt.error());
  bind_text(stmt->get(), 1, metric);
  std::vector<SeriesPoints> out;
  for (;;) {
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db, rc, "cannot read the series"));
    auto labels = parse_labels_text(column_text(stmt->get(), 1));
    if (!labels) return fail(ErrorKind::kCorrupt, "series in " + path + ": " + labels.error().message);
    if (!has_labels(*labels, label_filter)) continue;
    const std::int64_t id = sqlite3_column_int64(stmt->get(), 0);
    out.push_back(SeriesPoints{SeriesInfo{id, SeriesKey(metric, std::move(*labels))}, {}, {}, 0});
  }
  return out;
}

// The rowid ranges of the flushes whose time range overlaps [since, until],
// merged so that no row is read twice.
Result<std::vector<std::pair<std::int64_t, std::int64_t>>> flush_ranges(sqlite3* db, WallMs since, WallMs until) {
  auto stmt = prepare(db,
                      "SELECT first_rowid, last_rowid FROM head_flushes "
                      "WHERE max_ts >= ?1 AND min_ts <= ?2 ORDER BY first_rowid",
                      db_path(db));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_bind_int64(stmt->get(), 1, since);
  sqlite3_bind_int64(stmt->get(), 2, until);
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (;;) {
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db, rc, "cannot read head_flushes"));
    const std::int64_t first = sqlite3_column_int64(stmt->get(), 0);
    const std::int64_t last = sqlite3_column_int64(stmt->get(), 1);
    if (!ranges.empty() && first <= ranges.back().second + 1) {
      ranges.back().second = std::max(ranges.back().second, last);
    } else {
      ranges.emplace_back(first, last);
    }
  }
  return ranges;
}

// A chunk's window and the head rows it holds (through_rowid).
struct ChunkCover {
  std::int64_t window = 0;
  std::int64_t through = 0;
};

// Whether a head row (its rowid, its window) is in one of the series'
// chunks already; `covers` is ascending by window.
bool covered(const std::vector<ChunkCover>& covers, std::int64_t rowid, std::int64_t window) {
  auto it = std::lower_bound(covers.begin(), covers.end(), window,
                             [](const ChunkCover& c, std::int64_t w) { return c.window < w; });
  return it != covers.end() && it->window == window && rowid <= it->through;
}

// Appends the head's rows of the series of `out` within [since, until] that
// no chunk holds yet (`covers`, by the same index) to out[i].points, in
// commit order.
Result<void> read_head(sqlite3* db, std::int64_t span, const std::vector<std::vector<ChunkCover>>& covers,
                       WallMs since, WallMs until, std::vector<SeriesPoints>& out) {
  // Series ids are small and dense: a row finds its series by indexing.
  std::int64_t max_id = 0;
  for (const SeriesPoints& sp : out) max_id = std::max(max_id, sp.series.id);
  if (max_id > 50'000'000) return fail(ErrorKind::kCorrupt, "series id " + std::to_string(max_id) + " is implausible");
  std::vector<std::int32_t> slot(static_cast<std::size_t>(max_id) + 1, -1);
  // A row newer than every chunk's through_rowid of its series is in none.
  std::vector<std::int64_t> newest_through(out.size(), std::numeric_limits<std::int64_t>::min());
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].series.id >= 0) slot[static_cast<std::size_t>(out[i].series.id)] = static_cast<std::int32_t>(i);
    for (const ChunkCover& c : covers[i]) newest_through[i] = std::max(newest_through[i], c.through);
  }
  auto ranges = flush_ranges(db, since, until);
  if (!ranges) return tl::unexpected(ranges.error());
  auto stmt = prepare(db,
                      "SELECT rowid, series_id, ts, value FROM samples_head "
                      "WHERE rowid BETWEEN ?1 AND ?2 AND ts BETWEEN ?3 AND ?4",
                      db_path(db));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_stmt* rows = stmt->get();
  sqlite3_bind_int64(rows, 3, since);
  sqlite3_bind_int64(rows, 4, until);
  for (const auto& [first, last] : *ranges) {
    sqlite3_bind_int64(rows, 1, first);
    sqlite3_bind_int64(rows, 2, last);
    for (;;) {
      const int rc = sqlite3_step(rows);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return tl::unexpected(read_error(db, rc, "cannot read samples"));
      const std::int64_t id = sqlite3_column_int64(rows, 1);
      if (id < 0 || id > max_id) continue;
      const std::int32_t i = slot[static_cast<std::size_t>(id)];
      if (i < 0) continue;
      const std::int64_t rowid = sqlite3_column_int64(rows, 0);
      const WallMs ts = sqlite3_column_int64(rows, 2);
      const auto n = static_cast<std::size_t>(i);
      if (rowid <= newest_through[n] && covered(covers[n], rowid, window_of(ts, span))) continue;
      out[n].points.push_back(Point{ts, sqlite3_column_double(rows, 3)});
    }
    sqlite3_reset(rows);
  }
  return {};
}

void sort_by_time(std::vector<Point>& points) {
  const auto before = [](const Point& a, const Point& b) { return a.ts_ms < b.ts_ms; };
  if (!std::is_sorted(points.begin(), points.end(), before)) std::stable_sort(points.begin(), points.end(), before);
}

// The first window start after which a window can overlap [since, ...].
WallMs windows_after(WallMs since, std::int64_t span) {
  return since > std::numeric_limits<WallMs>::min() + span ? since - span : std::numeric_limits<WallMs>::min();
}

}  // namespace

Result<std::vector<SeriesPoints>> StoreReader::query(const std::string& metric, const Labels& label_filter,
                                                     WallMs since, WallMs until) const {
  // One read transaction, so that series, chunks, flushes and samples agree.
  ReadTransaction txn(db_);
  if (auto r = txn.begin(); !r) return tl::unexpected(r.error());
  auto out = matching_series(db_, metric, label_filter);
  if (!out || out->empty() || since > until) return out;
  // The chunks whose window [start, start + span) overlaps the range; what
  // each covers of the head (see store/compaction.hpp).
  std::vector<std::vector<ChunkCover>> covers(out->size());
  auto chunks = prepare(db_,
                        "SELECT window_start, through_rowid, data FROM chunks "
                        "WHERE series_id = ?1 AND window_start > ?2 AND window_start <= ?3 ORDER BY window_start",
                        db_path(db_));
  if (!chunks) return tl::unexpected(chunks.error());
  sqlite3_stmt* c = chunks->get();
  const WallMs after = windows_after(since, chunk_span_ms_);
  for (std::size_t i = 0; i < out->size(); ++i) {
    SeriesPoints& series = (*out)[i];
    StmtReset reset(c);
    sqlite3_bind_int64(c, 1, series.series.id);
    sqlite3_bind_int64(c, 2, after);
    sqlite3_bind_int64(c, 3, until);
    int rc;
    while ((rc = sqlite3_step(c)) == SQLITE_ROW) {
      const std::int64_t window = sqlite3_column_int64(c, 0);
      covers[i].push_back(ChunkCover{window, sqlite3_column_int64(c, 1)});
      auto points = chunk_column(c, 2);
      if (!points) {
        series.damaged.push_back("the chunk of " + format_rfc3339_ms(window) + ": " + points.error().message);
        continue;
      }
      for (const chunk::Point& p : *points) {
        if (p.ts_ms >= since && p.ts_ms <= until) series.points.push_back(Point{p.ts_ms, p.value});
      }
    }
    if (rc != SQLITE_DONE) return tl::unexpected(read_error(db_, rc, "cannot read chunks"));
  }

  if (auto r = read_head(db_, chunk_span_ms_, covers, since, until, *out); !r) {
    return tl::unexpected(r.error());
  }
  // Chunks come first, and rowid order is commit order: a late sample can
  // be older than its predecessor.
  for (auto& series : *out) sort_by_time(series.points);
  return out;
}

namespace {

// The ceiling of a / b for b > 0 (floor division's counterpart).
std::int64_t ceil_to(std::int64_t a, std::int64_t b) {
  const std::int64_t w = window_of(a, b);
  return w == a ? a : w + b;
}

// The tier whose step divides `step` best (the coarsest), 0 for none.
std::int64_t tier_for(const RangeQuery& q, std::int64_t span) {
  if (!q.rollups || !aggregate::from_summaries(q.agg)) return 0;
  for (auto it = rollup::kTierSteps.rbegin(); it != rollup::kTierSteps.rend(); ++it) {
    if (q.step_ms % *it == 0 && rollup::row_span(*it, span) > 0) return *it;
  }
  return 0;
}

std::vector<Point> as_points(const std::vector<chunk::Point>& in) {
  std::vector<Point> out;
  out.reserve(in.size());
  for (const chunk::Point& p : in) out.push_back(Point{p.ts_ms, p.value});
  return out;
}

}  // namespace

Result<std::vector<SeriesPoints>> StoreReader::query(const RangeQuery& q) const {
  if (q.step_ms <= 0) return query(q.metric, q.labels, q.since, q.until);
  const std::int64_t tier = tier_for(q, chunk_span_ms_);
  if (tier == 0) {
    auto raw = query(q.metric, q.labels, q.since, q.until);
    if (!raw) return raw;
    for (SeriesPoints& series : *raw) {
      std::vector<chunk::Point> points;
      points.reserve(series.points.size());
      for (const Point& p : series.points) points.push_back(chunk::Point{p.ts_ms, p.value});
      series.points = as_points(aggregate::steps(points, q.step_ms, q.agg));
    }
    return raw;
  }

  ReadTransaction txn(db_);
  if (auto r = txn.begin(); !r) return tl::unexpected(r.error());
  auto out = matching_series(db_, q.metric, q.labels);
  if (!out || out->empty() || q.since > q.until) return out;
  const std::int64_t span = chunk_span_ms_;
  const std::int64_t row_span = rollup::row_span(tier, span);
  // The steps wholly inside the range: [inside_from, inside_to).
  const WallMs inside_from = ceil_to(q.since, q.step_ms);
  const WallMs inside_to = q.until < std::numeric_limits<WallMs>::max() ? window_of(q.until + 1, q.step_ms) : q.until;
  const WallMs after = windows_after(q.since, span);
  auto cover_stmt = prepare(db_,
                            "SELECT window_start, through_rowid FROM chunks "
                            "WHERE series_id = ?1 AND window_start > ?2 AND window_start <= ?3 ORDER BY window_start",
                            db_path(db_));
  if (!cover_stmt) return tl::unexpected(cover_stmt.error());
  std::vector<std::vector<ChunkCover>> covers(out->size());
  for (std::size_t i = 0; i < out->size(); ++i) {
    sqlite3_stmt* c = cover_stmt->get();
    StmtReset reset(c);
    sqlite3_bind_int64(c, 1, (*out)[i].series.id);
    sqlite3_bind_int64(c, 2, after);
    sqlite3_bind_int64(c, 3, q.until);
    int rc;
    while ((rc = sqlite3_step(c)) == SQLITE_ROW) {
      covers[i].push_back(ChunkCover{sqlite3_column_int64(c, 0), sqlite3_column_int64(c, 1)});
    }
    if (rc != SQLITE_DONE) return tl::unexpected(read_error(db_, rc, "cannot read chunks"));
  }
  // The head's rows not in a chunk yet: their windows are read from the
  // samples.
  if (auto r = read_head(db_, span, covers, q.since, q.until, *out); !r) return tl::unexpected(r.error());

  auto chunk_stmt =
      prepare(db_, "SELECT data FROM chunks WHERE series_id = ?1 AND window_start = ?2", db_path(db_));
  if (!chunk_stmt) return tl::unexpected(chunk_stmt.error());
  auto rows_stmt = prepare(db_,
                           "SELECT row_start, data FROM rollups WHERE series_id = ?1 AND step_ms = ?2 "
                           "AND row_start > ?3 AND row_start < ?4 ORDER BY row_start",
                           db_path(db_));
  if (!rows_stmt) return tl::unexpected(rows_stmt.error());

  // Reused from series to series: allocations, and the page faults of
  // fresh memory, cost more here than the work.
  std::vector<rollup::Bucket> buckets;
  std::vector<std::int64_t> windows;
  std::vector<chunk::Point> samples;
  aggregate::StepFolder folder(q.step_ms);
  std::vector<chunk::Point> steps;
  for (std::size_t i = 0; i < out->size(); ++i) {
    SeriesPoints& series = (*out)[i];
    std::vector<Point> head = std::move(series.points);
    sort_by_time(head);
    series.points.clear();
    series.tier_ms = tier;

    // The tier's buckets that overlap the range, by start.
    buckets.clear();
    {
      sqlite3_stmt* r = rows_stmt->get();
      StmtReset reset(r);
      sqlite3_bind_int64(r, 1, series.series.id);
      sqlite3_bind_int64(r, 2, tier);
      sqlite3_bind_int64(r, 3, windows_after(q.since, row_span));
      sqlite3_bind_int64(r, 4, q.until < std::numeric_limits<WallMs>::max() ? q.until + 1 : q.until);
      int rc;
      while ((rc = sqlite3_step(r)) == SQLITE_ROW) {
        const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(r, 1));
        auto decoded = rollup::decode(
            std::span<const std::uint8_t>(blob, static_cast<std::size_t>(sqlite3_column_bytes(r, 1))),
            aggregate::fields_of(q.agg));
        if (!decoded) {
          // Its windows are read from their chunks instead.
          series.damaged.push_back("the rollup row of " + format_rfc3339_ms(sqlite3_column_int64(r, 0)) + ": " +
                                   decoded.error().message);
          continue;
        }
        for (const rollup::Bucket& b : *decoded) {
          if (b.start + tier > q.since && b.start <= q.until) buckets.push_back(b);
        }
      }
      if (rc != SQLITE_DONE) return tl::unexpected(read_error(db_, rc, "cannot read the rollups"));
    }

    // Every window with samples or summaries, in time order: from the tier
    // when it lies inside and has no head rows, else from its chunk and head
    // rows; a window retention left only summaries of, from those (at the
    // range's edges, the buckets that overlap it, whole).
    windows.clear();
    for (const ChunkCover& c : covers[i]) windows.push_back(c.window);
    for (const Point& p : head) {
      if (windows.empty() || p.ts_ms < windows.back() || p.ts_ms >= windows.back() + span) {
        windows.push_back(window_of(p.ts_ms, span));
      }
    }
    for (const rollup::Bucket& b : buckets) {
      if (windows.empty() || b.start < windows.back() || b.start >= windows.back() + span) {
        windows.push_back(window_of(b.start, span));
      }
    }
    std::sort(windows.begin(), windows.end());
    windows.erase(std::unique(windows.begin(), windows.end()), windows.end());

    folder.clear();
    auto head_at = head.begin();
    auto bucket_at = buckets.begin();
    for (const std::int64_t w : windows) {
      const std::int64_t end = w + span;
      auto head_from = std::lower_bound(head_at, head.end(), w, [](const Point& p, WallMs t) { return p.ts_ms < t; });
      auto head_to = std::lower_bound(head_from, head.end(), end, [](const Point& p, WallMs t) { return p.ts_ms < t; });
      head_at = head_to;
      bucket_at = std::lower_bound(bucket_at, buckets.end(), w,
                                   [](const rollup::Bucket& b, WallMs t) { return b.start < t; });
      auto bucket_to = std::lower_bound(bucket_at, buckets.end(), end,
                                        [](const rollup::Bucket& b, WallMs t) { return b.start < t; });
      const bool inside = w >= inside_from && end <= inside_to;
      if (inside && head_from == head_to && bucket_at != bucket_to) {
        for (auto b = bucket_at; b != bucket_to; ++b) folder.add(*b);
        bucket_at = bucket_to;
        continue;
      }
      const bool has_chunk = std::binary_search(
          covers[i].begin(), covers[i].end(), ChunkCover{w, 0},
          [](const ChunkCover& a, const ChunkCover& b) { return a.window < b.window; });
      if (!has_chunk && head_from == head_to) {
        for (auto b = bucket_at; b != bucket_to; ++b) folder.add(*b);
        bucket_at = bucket_to;
        continue;
      }
      bucket_at = bucket_to;
      samples.clear();
      if (has_chunk) {
        sqlite3_stmt* c = chunk_stmt->get();
        StmtReset reset(c);
        sqlite3_bind_int64(c, 1, series.series.id);
        sqlite3_bind_int64(c, 2, w);
        const int rc = sqlite3_step(c);
        if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read chunks"));
        auto points = chunk_column(c, 0);
        if (points) {
          samples = std::move(*points);
        } else {
          series.damaged.push_back("the chunk of " + format_rfc3339_ms(w) + ": " + points.error().message);
        }
      }
      for (auto p = head_from; p != head_to; ++p) samples.push_back(chunk::Point{p->ts_ms, p->value});
      std::stable_sort(samples.begin(), samples.end(),
                       [](const chunk::Point& a, const chunk::Point& b) { return a.ts_ms < b.ts_ms; });
      for (const chunk::Point& p : samples) {
        if (p.ts_ms >= q.since && p.ts_ms <= q.until) folder.add(p);
      }
    }
    folder.finish(q.agg, steps);
    series.points = as_points(steps);
  }
  return out;
}

Result<std::optional<Point>> StoreReader::latest(std::int64_t series_id) const {
  ReadTransaction txn(db_);
  if (auto r = txn.begin(); !r) return tl::unexpected(r.error());
  std::optional<Point> newest;
  // The newest chunk's last point (a chunk is in time order)...
  auto chunk_stmt = prepare(db_, "SELECT data FROM chunks WHERE series_id = ?1 ORDER BY window_start DESC LIMIT 1",
                            db_path(db_));
  if (!chunk_stmt) return tl::unexpected(chunk_stmt.error());
  sqlite3_bind_int64(chunk_stmt->get(), 1, series_id);
  int rc = sqlite3_step(chunk_stmt->get());
  if (rc == SQLITE_ROW) {
    // A damaged chunk is left out here as in query().
    if (auto points = chunk_column(chunk_stmt->get(), 0); points && !points->empty()) {
      newest = Point{points->back().ts_ms, points->back().value};
    }
  } else if (rc != SQLITE_DONE) {
    return tl::unexpected(read_error(db_, rc, "cannot read the latest chunk"));
  }
  // ...or the head's newest row, when it is newer.
  auto stmt = prepare(db_,
                      "SELECT ts, value FROM samples_head WHERE series_id = ?1 "
                      "ORDER BY rowid DESC LIMIT 1",
                      db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_bind_int64(stmt->get(), 1, series_id);
  rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_ROW) {
    const Point head{sqlite3_column_int64(stmt->get(), 0), sqlite3_column_double(stmt->get(), 1)};
    if (!newest || head.ts_ms >= newest->ts_ms) newest = head;
  } else if (rc != SQLITE_DONE) {
    return tl::unexpected(read_error(db_, rc, "cannot read the latest sample"));
  }
  return newest;
}

Result<std::optional<WallMs>> StoreReader::last_sample_ms() const {
  auto stmt = prepare(db_,
                      "SELECT max(t) FROM (SELECT max(max_ts) AS t FROM head_flushes UNION ALL "
                      "SELECT max(last_ts) FROM chunks WHERE window_start = (SELECT max(window_start) FROM chunks))",
                      db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read the newest sample time"));
  if (sqlite3_column_type(stmt->get(), 0) == SQLITE_NULL) return std::optional<WallMs>();
  return std::optional<WallMs>(sqlite3_column_int64(stmt->get(), 0));
}

Result<std::uint64_t> StoreReader::sample_count() const {
  // Head rows a chunk holds already (compaction wrote the chunk and has not
  // deleted them yet) count once. Only rows of a window that has a chunk
  // can be such rows: the join looks up those alone.
  auto stmt = prepare(db_,
                      "SELECT (SELECT count(*) FROM samples_head) + (SELECT coalesce(sum(count), 0) FROM chunks) - "
                      "(SELECT count(*) FROM samples_head h JOIN chunks c ON c.series_id = h.series_id AND "
                      "c.window_start = h.ts - ((h.ts % ?1) + ?1) % ?1 AND h.rowid <= c.through_rowid "
                      "WHERE h.ts < (SELECT coalesce(max(window_start), -9223372036854775807) FROM chunks) + ?1)",
                      db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_bind_int64(stmt->get(), 1, chunk_span_ms_);
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot count samples"));
  return static_cast<std::uint64_t>(sqlite3_column_int64(stmt->get(), 0));
}

Result<std::vector<Event>> StoreReader::events(const EventQuery& q) const {
  // Only the filters that are set, so that a time range can use events_ts.
  std::string sql = "SELECT ts, kind, target, check_name, severity, message, details FROM events WHERE 1";
  if (q.since) sql += " AND ts >= ?1";
  if (q.until) sql += " AND ts <= ?2";
  if (q.kind) sql += " AND vigil_glob(?3, kind)";
  if (q.target) sql += " AND target = ?4";
  sql += " ORDER BY ts DESC, id DESC";
  if (q.limit > 0) sql += " LIMIT ?5";
  auto stmt = prepare(db_, sql, db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_stmt* s = stmt->get();
  if (q.since) sqlite3_bind_int64(s, 1, *q.since);
  if (q.until) sqlite3_bind_int64(s, 2, *q.until);
  if (q.kind) bind_text(s, 3, *q.kind);
  if (q.target) bind_text(s, 4, *q.target);
  if (q.limit > 0) {
    sqlite3_bind_int64(
        s, 5, static_cast<std::int64_t>(std::min<std::size_t>(q.limit, std::numeric_limits<std::int64_t>::max())));
  }
  std::vector<Event> out;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read events"));
    Event e;
    e.ts_ms = sqlite3_column_int64(s, 0);
    e.kind = kind_or(column_text(s, 1), EventKind::kUnknown);
    e.target = column_text(s, 2);
    e.check = column_text(s, 3);
    e.severity = kind_or(column_text(s, 4), Severity::kInfo);
    e.message = column_text(s, 5);
    e.details = column_text(s, 6);
    out.push_back(std::move(e));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<AlertRow>> StoreReader::alerts() const {
  auto stmt = prepare(db_,
                      "SELECT rule, labels, phase, active_since, fired, resolved, last_sent, value, annotations, "
                      "updated FROM alerts ORDER BY rule, labels",
                      db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_stmt* s = stmt->get();
  std::vector<AlertRow> out;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read alerts"));
    AlertRow a;
    a.rule = column_text(s, 0);
    a.labels = column_text(s, 1);
    a.phase = static_cast<AlertPhase>(std::clamp(sqlite3_column_int(s, 2), 0, 3));
    a.active_since_ms = sqlite3_column_int64(s, 3);
    a.fired_ms = sqlite3_column_int64(s, 4);
    a.resolved_ms = sqlite3_column_int64(s, 5);
    a.last_sent_ms = sqlite3_column_int64(s, 6);
    a.value = sqlite3_column_double(s, 7);
    a.annotations = column_text(s, 8);
    a.updated_ms = sqlite3_column_int64(s, 9);
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<OutboxRow>> StoreReader::outbox() const {
  auto stmt = prepare(db_,
                      "SELECT id, receiver, alert_key, created, payload, attempts, next_attempt, last_error "
                      "FROM outbox ORDER BY id",
                      db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_stmt* s = stmt->get();
  std::vector<OutboxRow> out;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read the outbox"));
    OutboxRow o;
    o.id = sqlite3_column_int64(s, 0);
    o.receiver = column_text(s, 1);
    o.alert_key = column_text(s, 2);
    o.created_ms = sqlite3_column_int64(s, 3);
    o.payload = column_text(s, 4);
    o.attempts = sqlite3_column_int(s, 5);
    o.next_attempt_ms = sqlite3_column_int64(s, 6);
    o.last_error = column_text(s, 7);
    out.push_back(std::move(o));
  }
  return out;
}

// StoreReader::open refuses any schema but kSchemaVersion, so the incident
// tables exist here: a store vigild has not migrated yet is reported at open
// ("start vigild once to migrate it"), like for every other query.
Result<std::vector<IncidentRow>> StoreReader::incidents(const IncidentQuery& q) const {
  // An incident is in [since, until] when it started by `until` and was
  // still open, or recovered, at `since`.
  std::string sql = std::string(kIncidentColumns) + " WHERE 1";
  if (q.target) sql += " AND target = ?1";
  if (q.since) sql += " AND (recovered = 0 OR recovered >= ?2)";
  if (q.until) sql += " AND started <= ?3";
  if (q.open_only) sql += " AND recovered = 0";  // as written in incidents_open's WHERE
  sql += " ORDER BY id DESC";
  if (q.limit > 0) sql += " LIMIT ?4";
  ReadTransaction txn(db_);
  if (auto r = txn.begin(); !r) return tl::unexpected(r.error());
  auto stmt = prepare(db_, sql, db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_stmt* s = stmt->get();
  if (q.target) bind_text(s, 1, *q.target);
  if (q.since) sqlite3_bind_int64(s, 2, *q.since);
  if (q.until) sqlite3_bind_int64(s, 3, *q.until);
  if (q.limit > 0) {
    sqlite3_bind_int64(
        s, 4, static_cast<std::int64_t>(std::min<std::size_t>(q.limit, std::numeric_limits<std::int64_t>::max())));
  }
  std::vector<IncidentRow> out;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read incidents"));
    out.push_back(incident_from(s));
  }
  std::reverse(out.begin(), out.end());
  if (auto r = load_actions(db_, out); !r) return tl::unexpected(r.error());
  return out;
}

Result<std::optional<IncidentRow>> StoreReader::incident(std::int64_t id) const {
  ReadTransaction txn(db_);
  if (auto r = txn.begin(); !r) return tl::unexpected(r.error());
  auto stmt = prepare(db_, std::string(kIncidentColumns) + " WHERE id = ?1", db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_bind_int64(stmt->get(), 1, id);
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<IncidentRow>();
  if (rc != SQLITE_ROW) {
    return tl::unexpected(read_error(db_, rc, "cannot read incident " + std::to_string(id)));
  }
  std::vector<IncidentRow> one{incident_from(stmt->get())};
  if (auto r = load_actions(db_, one); !r) return tl::unexpected(r.error());
  return std::optional<IncidentRow>(std::move(one.front()));
}

Result<std::int64_t> StoreReader::max_incident_id() const {
  auto stmt = prepare(db_, "SELECT coalesce(max(id), 0) FROM incidents", db_path(db_));
  if (!stmt) return tl::unexpected(stmt.error());
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return tl::unexpected(read_error(db_, rc, "cannot read the highest incident id"));
  return sqlite3_column_int64(stmt->get(), 0);
}

}  // namespace vigil
