#include "store/schema.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <vector>

#include "core/log.hpp"
#include "core/unique_fd.hpp"

namespace vigil::store_detail {
namespace {

namespace fs = std::filesystem;

// kMigrations[v] takes a database from schema version v to v + 1. Append
// only: a step that shipped is never edited. meta exists before each step
// runs (it is created in the step's transaction).
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    // 0 -> 1: the head store and events.
    R"sql(
CREATE TABLE series(
  id INTEGER PRIMARY KEY,
  metric TEXT NOT NULL,
  labels TEXT NOT NULL,
  UNIQUE(metric, labels));
CREATE TABLE samples_head(
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL NOT NULL);
CREATE TABLE head_flushes(
  first_rowid INTEGER NOT NULL,
  last_rowid INTEGER NOT NULL,
  min_ts INTEGER NOT NULL,
  max_ts INTEGER NOT NULL);
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  check_name TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  details TEXT NOT NULL);
CREATE INDEX events_ts ON events(ts);
)sql",
    // 1 -> 2: alert state and the delivery outbox.
    R"sql(
CREATE TABLE alerts(
  rule TEXT NOT NULL,
  labels TEXT NOT NULL,
  phase INTEGER NOT NULL,
  active_since INTEGER NOT NULL,
  fired INTEGER NOT NULL,
  resolved INTEGER NOT NULL,
  last_sent INTEGER NOT NULL,
  value REAL NOT NULL,
  annotations TEXT NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY(rule, labels));
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY,
  receiver TEXT NOT NULL,
  alert_key TEXT NOT NULL,
  created INTEGER NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  last_error TEXT NOT NULL);
)sql",
    // 2 -> 3: incidents and the actions taken during each. recovered is 0
    // while the incident is open; the partial index keeps "which incidents
    // are open" cheap however long the history grows.
    R"sql(
CREATE TABLE incidents(
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  "trigger" TEXT NOT NULL,
  started INTEGER NOT NULL,
  detected INTEGER NOT NULL,
  recovered INTEGER NOT NULL,
  root_cause TEXT NOT NULL,
  summary TEXT NOT NULL,
  evidence TEXT NOT NULL,
  given_up INTEGER NOT NULL,
  dry_run INTEGER NOT NULL,
  updated INTEGER NOT NULL);
CREATE INDEX incidents_target_started ON incidents(target, started);
CREATE INDEX incidents_open ON incidents(target) WHERE recovered = 0;
CREATE TABLE incident_actions(
  incident_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  started INTEGER NOT NULL,
  finished INTEGER NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL,
  result TEXT NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY(incident_id, seq)) WITHOUT ROWID;
)sql",
    // 3 -> 4: an incident of a check that belongs to no target (a remote
    // endpoint) names its check; target is '' then.
    R"sql(
ALTER TABLE incidents ADD COLUMN check_name TEXT NOT NULL DEFAULT '';
)sql",
    // 4 -> 5: compressed chunks (issue 15). Each row holds one series'
    // samples of one window [window_start, window_start + chunk span) as a
    // store/chunk.hpp BLOB; through_rowid: the head rows of that series and
    // window up to this rowid are in it (a reader skips them until
    // compaction deletes them). The span is fixed per store (meta), so a
    // sample's window never changes.
    R"sql(
CREATE TABLE chunks(
  series_id INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  count INTEGER NOT NULL,
  through_rowid INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(series_id, window_start));
CREATE INDEX chunks_window ON chunks(window_start);
INSERT OR IGNORE INTO meta(key, value) VALUES('chunk_span_ms', 3600000);
INSERT OR IGNORE INTO meta(key, value) VALUES('head_rowid_floor', 0);
)sql",
    // 5 -> 6: the rollup tiers (store/rollup.hpp): per series, tier (its
    // step) and row (row_start, a window or a day), the buckets' summaries.
    // Compaction writes them with the chunks; the chunks of a store migrated
    // from version 5 have none, and queries read those chunks instead.
    R"sql(
CREATE TABLE rollups(
  series_id INTEGER NOT NULL,
  step_ms INTEGER NOT NULL,
  row_start INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(series_id, step_ms, row_start));
CREATE INDEX rollups_age ON rollups(step_ms, row_start);
)sql",
};

constexpr const char* kCreateMeta = "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value)";

Result<void> ensure_parent_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return {};
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) {
    return fail(errno_kind(ec.value()),
                "cannot create directory " + parent.string() + " for the store " + path + ": " + ec.message());
  }
  if (!fs::is_directory(parent, ec)) {
    return fail(ErrorKind::kInvalid,
                "cannot use " + parent.string() + " for the store " + path + ": it is not a directory");
  }
  return {};
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}

// A connection that passed (or failed) PRAGMA quick_check.
struct Checked {
  UniqueDb db;
  std::optional<std::string> corrupt_reason;
};

// `flags`: SQLITE_OPEN_READONLY or SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE.
Result<Checked> open_and_check(const std::string& path, int flags, bool quick_check) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Checked out{UniqueDb(raw), std::nullopt};
  if (rc != SQLITE_OK) {
    if (is_corruption(rc)) {
      out.corrupt_reason = std::string(sqlite3_errstr(rc));
      return out;
    }
    return tl::unexpected(sqlite_error(raw, rc, "cannot open the store", path));
  }
  sqlite3* db = out.db.get();
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  if (!quick_check) return out;

  // Preparing reads the schema, so a file that is not a database already
  // fails here.
  auto stmt = prepare(db, "PRAGMA quick_check", path);
  if (!stmt) {
    if (stmt.error().kind != ErrorKind::kCorrupt) return tl::unexpected(stmt.error());
    out.corrupt_reason = sqlite3_errmsg(db);
    return out;
  }
  std::string findings;
  int rows = 0;
  for (;;) {
    const int step = sqlite3_step(stmt->get());
    if (step == SQLITE_DONE) break;
    if (step != SQLITE_ROW) {
      if (!is_corruption(step)) {
        return tl::unexpected(sqlite_error(db, step, "PRAGMA quick_check failed", path));
      }
      out.corrupt_reason = sqlite3_errmsg(db);
      return out;
    }
    // quick_check lists up to 100 problems; the first few say enough.
    if (++rows <= 3) {
      if (!findings.empty()) findings += "; ";
      findings += column_text(stmt->get(), 0);
    }
  }
  if (rows != 1 || findings != "ok") {
    // One finding can list hundreds of cells: keep the reason readable.
    constexpr std::size_t kMaxReason = 400;
    if (findings.size() > kMaxReason || rows > 3) {
      findings.resize(std::min(findings.size(), kMaxReason));
      findings += " ...";
    }
    out.corrupt_reason = "quick_check: " + findings;
  }
  return out;
}

// Renames the database and its -wal, -shm and -journal files to
// <path>.corrupt-<stamp>[.N] (keeping their suffixes) and returns the new
// name of the database.
Result<std::string> move_aside(const std::string& path) {
  const std::string base = path + ".corrupt-" + utc_compact_stamp(wall_now_ms());
  std::string target = base;
  for (int n = 1; exists(target) || exists(target + "-wal"); ++n) {
    target = base + "." + std::to_string(n);
  }
  std::error_code ec;
  fs::rename(path, target, ec);
  if (ec) {
    return fail(errno_kind(ec.value()),
                "cannot move the corrupt store " + path + " to " + target + ": " + ec.message());
  }
  // A stale -wal would be replayed into the new database: it must go too.
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    if (!exists(path + suffix)) continue;
    fs::rename(path + suffix, target + suffix, ec);
    if (ec) {
      return fail(errno_kind(ec.value()),
                  "cannot move " + path + suffix + " to " + target + suffix + ": " + ec.message());
    }
  }
  return target;
}

Result<void> set_pragmas(sqlite3* db, const std::string& path) {
  auto stmt = prepare(db, "PRAGMA journal_mode=WAL", path);
  if (!stmt) return tl::unexpected(stmt.error());
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return tl::unexpected(sqlite_error(db, rc, "cannot set WAL mode", path));
  const std::string mode = column_text(stmt->get(), 0);
  if (mode != "wal") {
    return fail(ErrorKind::kStore, "cannot set WAL mode on the store " + path + " (SQLite kept journal_mode=" + mode +
                                       "; WAL needs a local file system with shared memory)");
  }
  stmt->reset();  // finalized
  if (auto r = exec(db, "PRAGMA synchronous=NORMAL", path); !r) return r;
  if (auto r = exec(db, "PRAGMA foreign_keys=OFF", path); !r) return r;
  // Keep -wal and -shm when the writer closes (the -wal truncated to zero by
  // journal_size_limit): a reader that may not write the directory (the CLI
  // run by another user) can open a WAL database only if both exist.
  int persist = 1;
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  return exec(db, "PRAGMA journal_size_limit=33554432", path);
}

Result<void> set_version(sqlite3* db, const std::string& path, int version) {
  auto stmt = prepare(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?1)", path);
  if (!stmt) return tl::unexpected(stmt.error());
  sqlite3_bind_int(stmt->get(), 1, version);
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_DONE) {
    return tl::unexpected(sqlite_error(db, rc, "cannot record schema_version", path));
  }
  return {};
}

Result<void> set_application_id(sqlite3* db, const std::string& path) {
  auto stmt = prepare(db, "PRAGMA application_id", path);
  if (!stmt) return tl::unexpected(stmt.error());
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return tl::unexpected(sqlite_error(db, rc, "cannot read the application id", path));
  if (static_cast<std::uint32_t>(sqlite3_column_int64(stmt->get(), 0)) == kApplicationId) return {};
  stmt->reset();
  const std::string set = "PRAGMA application_id = " + std::to_string(kApplicationId);
  return exec(db, set.c_str(), path);
}

Result<void> migrate(sqlite3* db, const std::string& path) {
  for (;;) {
    Transaction txn(db, path);
    if (auto r = txn.begin_immediate(); !r) return r;
    if (auto r = exec(db, kCreateMeta, path); !r) return r;
    // Read again under the write lock: another process may have migrated.
    auto version = read_schema_version(db, path);
    if (!version) return tl::unexpected(version.error());
    if (*version >= kSchemaVersion) {
      // Marks a new store, and one from before the id was set, as vigil's.
      if (auto r = set_application_id(db, path); !r) return r;
      return txn.commit();
    }
    const int from = *version;
    if (auto r = exec(db, kMigrations[static_cast<std::size_t>(from)], path); !r) {
      return fail(r.error().kind, "migration of the store from schema version " + std::to_string(from) + " to " +
                                      std::to_string(from + 1) + " failed: " + r.error().message);
    }
    if (auto r = set_version(db, path, from + 1); !r) return r;
    if (auto r = txn.commit(); !r) return r;
    log_info("store schema migrated", {{"path", path}, {"from_version", from}, {"to_version", from + 1}});
  }
}

// The first bytes of a file that is not SQLite, for the message: printable
// text quoted, anything else called binary.
std::string describe_start(std::string_view head) {
  std::string shown;
  const std::string_view start = head.substr(0, 24);
  for (std::size_t i = 0; i < start.size(); ++i) {
    const auto u = static_cast<unsigned char>(start[i]);
    if (u == '\n' || u == '\r' || u == '\t') {
      shown += ' ';
    } else if (u < 0x20 || u == 0x7f) {
      return "binary data";
    } else if (u >= 0x80) {
      // UTF-8 text: a lead byte and its continuation bytes (one cut off at
      // the end of the prefix counts).
      const std::size_t more = (u & 0xe0) == 0xc0 ? 1 : (u & 0xf0) == 0xe0 ? 2 : (u & 0xf8) == 0xf0 ? 3 : 0;
      if (more == 0) return "binary data";
      std::size_t j = 1;
      for (; j <= more && i + j < start.size(); ++j) {
        if ((static_cast<unsigned char>(start[i + j]) & 0xc0) != 0x80) return "binary data";
      }
      shown += start.substr(i, j);
      i += j - 1;
    } else {
      shown += start[i];
    }
  }
  return "text starting \"" + shown + (head.size() > 24 ? "...\"" : "\"");
}

std::uint32_t header_u32(std::string_view head, std::size_t offset) {
  if (head.size() < offset + 4) return 0;
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(head[offset + i]);
  return v;
}

constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};
constexpr std::size_t kApplicationIdOffset = 68;

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// Reads up to 100 bytes; the file was stat'ed as a regular file.
Result<std::string> read_head(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(errno_kind(errno), "cannot read " + path + ": " + std::strerror(errno));
  }
  std::string head(100, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

struct SqliteContents {
  std::uint32_t application_id = 0;
  std::vector<std::string> tables;
  bool has_schema_version = false;
};

// Over a read-only connection (which reads the -wal too, where the newest
// page 1 may be).
Result<SqliteContents> read_contents(const std::string& path) {
  // Without a -wal to read, as an immutable file: no lock taken, no -wal or
  // -shm created beside a file that may be someone else's.
  std::error_code ec;
  const bool wal_empty = !exists(path + "-wal") || fs::file_size(path + "-wal", ec) == 0;
  sqlite3* raw = nullptr;
  const int rc = wal_empty ? sqlite3_open_v2(("file:" + uri_path(path) + "?mode=ro&immutable=1").c_str(), &raw,
                                             SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr)
                           : sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  UniqueDb db(raw);
  if (rc != SQLITE_OK) return tl::unexpected(sqlite_error(raw, rc, "cannot open", path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  SqliteContents out;
  auto id = prepare(raw, "PRAGMA application_id", path);
  if (!id) return tl::unexpected(id.error());
  int step = sqlite3_step(id->get());
  if (step != SQLITE_ROW) return tl::unexpected(sqlite_error(raw, step, "cannot read the application id", path));
  out.application_id = static_cast<std::uint32_t>(sqlite3_column_int64(id->get(), 0));
  id->reset();
  auto tables = prepare(raw, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", path);
  if (!tables) return tl::unexpected(tables.error());
  while ((step = sqlite3_step(tables->get())) == SQLITE_ROW) out.tables.push_back(column_text(tables->get(), 0));
  if (step != SQLITE_DONE) return tl::unexpected(sqlite_error(raw, step, "cannot list the tables", path));
  tables->reset();
  if (std::find(out.tables.begin(), out.tables.end(), "meta") != out.tables.end()) {
    auto version = read_schema_version(raw, path);
    if (!version) return tl::unexpected(version.error());
    out.has_schema_version = *version > 0;
  }
  return out;
}

std::string list_tables(const std::vector<std::string>& tables) {
  std::string out;
  for (std::size_t i = 0; i < tables.size() && i < 4; ++i) out += (i == 0 ? "" : ", ") + tables[i];
  if (tables.size() > 4) out += ", ... (" + std::to_string(tables.size()) + " tables)";
  return out;
}

}  // namespace

HeaderVerdict classify_header(std::string_view head) {
  if (head.empty()) return HeaderVerdict::kEmpty;
  const bool ours = header_u32(head, kApplicationIdOffset) == kApplicationId;
  if (head.size() < kSqliteMagic.size() || head.substr(0, kSqliteMagic.size()) != kSqliteMagic) {
    return ours ? HeaderVerdict::kDamagedVigil : HeaderVerdict::kNotSqlite;
  }
  // A header is 100 bytes; a shorter file with the magic is a cut-off copy.
  if (head.size() < 100) return HeaderVerdict::kNotSqlite;
  if (ours) return HeaderVerdict::kVigil;
  return header_u32(head, kApplicationIdOffset) == 0 ? HeaderVerdict::kUnmarked : HeaderVerdict::kOtherApplication;
}

Result<StoreFile> identify_store_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return StoreFile{StoreFileKind::kMissing, {}};
    return fail(errno_kind(err), "cannot access the store " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) return fail(ErrorKind::kInvalid, path + " is a directory, not a vigil store");
  if (!S_ISREG(st.st_mode)) return fail(ErrorKind::kInvalid, path + " is not a regular file, so not a vigil store");
  auto head = read_head(path);
  if (!head) return tl::unexpected(head.error());

  const HeaderVerdict verdict = classify_header(*head);
  switch (verdict) {
    case HeaderVerdict::kEmpty:
      return StoreFile{StoreFileKind::kEmpty, {}};
    case HeaderVerdict::kNotSqlite:
      return StoreFile{StoreFileKind::kForeign, "it is not a SQLite database: " + describe_start(*head)};
    case HeaderVerdict::kDamagedVigil:
      return StoreFile{StoreFileKind::kDamagedVigil, "its SQLite header is damaged"};
    case HeaderVerdict::kOtherApplication:
      return StoreFile{StoreFileKind::kForeign, "it is the SQLite database of another application (application_id " +
                                                    hex32(header_u32(*head, kApplicationIdOffset)) + ")"};
    case HeaderVerdict::kVigil:
      return StoreFile{StoreFileKind::kVigil, {}};
    case HeaderVerdict::kUnmarked:
      break;
  }
  auto contents = read_contents(path);
  if (!contents) {
    if (contents.error().kind != ErrorKind::kCorrupt) return tl::unexpected(contents.error());
    return StoreFile{StoreFileKind::kForeign,
                     "it is a damaged SQLite database without vigil's application id: " + contents.error().message};
  }
  if (contents->application_id == kApplicationId) return StoreFile{StoreFileKind::kVigil, {}};
  if (contents->application_id != 0) {
    return StoreFile{StoreFileKind::kForeign, "it is the SQLite database of another application (application_id " +
                                                  hex32(contents->application_id) + ")"};
  }
  if (contents->has_schema_version) return StoreFile{StoreFileKind::kVigil, {}};
  if (contents->tables.empty()) return StoreFile{StoreFileKind::kEmpty, {}};
  return StoreFile{StoreFileKind::kForeign,
                   "it is a SQLite database of another application (tables: " + list_tables(contents->tables) + ")"};
}

std::string not_a_store_message(const std::string& path, const StoreFile& file, bool writer) {
  std::string out = path + " is not a vigil store (" + file.what + "); it was left untouched";
  if (writer) out += ": set [store] path (or [daemon] state_dir) to another file, or move this one away";
  return out;
}

std::string utc_compact_stamp(WallMs ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

Result<int> read_schema_version(sqlite3* db, std::string_view path) {
  auto has_meta = prepare(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", path);
  if (!has_meta) return tl::unexpected(has_meta.error());
  int rc = sqlite3_step(has_meta->get());
  if (rc != SQLITE_ROW) {
    return tl::unexpected(sqlite_error(db, rc, "cannot read the schema", path));
  }
  if (sqlite3_column_int(has_meta->get(), 0) == 0) return 0;

  auto stmt = prepare(db, "SELECT value FROM meta WHERE key = 'schema_version'", path);
  if (!stmt) return tl::unexpected(stmt.error());
  rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) {
    return tl::unexpected(sqlite_error(db, rc, "cannot read meta.schema_version", path));
  }
  if (sqlite3_column_type(stmt->get(), 0) != SQLITE_INTEGER) {
    return fail(ErrorKind::kCorrupt, "meta.schema_version in " + std::string(path) + " is not an integer: '" +
                                         column_text(stmt->get(), 0) + "'");
  }
  const std::int64_t version = sqlite3_column_int64(stmt->get(), 0);
  if (version < 0 || version > 1'000'000) {
    return fail(ErrorKind::kCorrupt,
                "meta.schema_version in " + std::string(path) + " is out of range: " + std::to_string(version));
  }
  return static_cast<int>(version);
}

Result<UniqueDb> open_for_writing(const std::string& path, OpenReport& report) {
  report = OpenReport{};
  if (auto r = ensure_parent_dir(path); !r) return tl::unexpected(r.error());
  // A symbolic link planted where the store or its journal goes would make
  // vigild write (as root) wherever it points: refused, never followed.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string file = path + suffix;
    struct stat st {};
    if (::lstat(file.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return fail(ErrorKind::kInvalid, file +
                                           " is a symbolic link; vigild does not follow one where it writes its "
                                           "store: remove it, or set [store] path to the file itself");
    }
  }
  // Only a vigil store (or nothing) is ever written, migrated or moved
  // aside: another application's database or a text file is refused as is.
  auto file = identify_store_file(path);
  if (!file) return tl::unexpected(file.error());
  if (file->kind == StoreFileKind::kForeign) {
    return fail(ErrorKind::kInvalid, not_a_store_message(path, *file, true));
  }
  report.created = file->kind == StoreFileKind::kMissing || file->kind == StoreFileKind::kEmpty;

  auto recover = [&](const std::string& reason) -> Result<void> {
    auto moved = move_aside(path);
    if (!moved) return tl::unexpected(moved.error());
    report.created = false;
    report.recovered = true;
    report.moved_to = *moved;
    report.corrupt_reason = reason;
    return {};
  };

  // The check runs on a read-only connection first: a read-write one
  // deletes the -wal of a file whose header does not say WAL, and with a
  // damaged header that -wal may hold the last good data.
  bool checked_already = false;
  if (file->kind == StoreFileKind::kDamagedVigil) {
    if (auto r = recover(file->what); !r) return tl::unexpected(r.error());
  } else if (!report.created) {
    auto probe = open_and_check(path, SQLITE_OPEN_READONLY, true);
    if (probe && probe->corrupt_reason) {
      probe->db.reset();
      if (auto r = recover(*probe->corrupt_reason); !r) return tl::unexpected(r.error());
    } else if (probe) {
      checked_already = true;
    }
    // Otherwise read-only access is impossible here; the read-write
    // connection checks instead.
  }
  // A store vigild makes is its owner's alone: made empty with mode 0600
  // before SQLite opens it (SQLite gives the -wal and -shm the same mode).
  // One found is left as its owner set it.
  auto make_private = [&]() -> Result<void> {
    UniqueFd made(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!made && errno != EEXIST) {
      const int err = errno;
      return fail(errno_kind(err), "cannot create the store " + path + ": " + errno_text(err));
    }
    return {};
  };
  if (report.created || report.recovered) {
    if (auto r = make_private(); !r) return tl::unexpected(r.error());
  }
  const int rw = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW;
  auto checked = open_and_check(path, rw, !checked_already);
  if (!checked) return tl::unexpected(checked.error());
  if (checked->corrupt_reason && !report.recovered) {
    checked->db.reset();
    if (auto r = recover(*checked->corrupt_reason); !r) return tl::unexpected(r.error());
    if (auto r = make_private(); !r) return tl::unexpected(r.error());
    checked = open_and_check(path, rw, true);
    if (!checked) return tl::unexpected(checked.error());
  }
  if (checked->corrupt_reason) {
    return fail(ErrorKind::kCorrupt,
                "the new store " + path + " is corrupt right after creation: " + *checked->corrupt_reason);
  }
  UniqueDb db = std::move(checked->db);

  // Before anything writes: a newer schema is left exactly as it is.
  auto version = read_schema_version(db.get(), path);
  if (!version) return tl::unexpected(version.error());
  if (*version > kSchemaVersion) {
    return fail(ErrorKind::kInvalid, "the store " + path + " has schema version " + std::to_string(*version) +
                                         ", newer than version " + std::to_string(kSchemaVersion) +
                                         " that this build knows; it was not touched (run a newer vigild, or "
                                         "move the file away)");
  }
  report.migrated_from = *version;

  if (auto r = set_pragmas(db.get(), path); !r) return tl::unexpected(r.error());
  if (auto r = migrate(db.get(), path); !r) return tl::unexpected(r.error());
  return db;
}

}  // namespace vigil::store_detail
