#include "store/sqlite_util.hpp"

namespace vigil::store_detail {

// Percent-encodes what a URI filename cannot hold literally.
std::string uri_path(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      static const char* hex = "0123456789ABCDEF";
      out += '%';
      out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += hex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

bool is_corruption(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

ErrorKind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return ErrorKind::kCorrupt;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY: return ErrorKind::kPermission;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR: return ErrorKind::kIo;
    default: return ErrorKind::kStore;
  }
}

Error sqlite_error(sqlite3* db, int rc, std::string_view what, std::string_view path) {
  std::string message(what);
  message += " (";
  message += path;
  message += "): ";
  // The connection's message is the specific one ("no such table: meta");
  // sqlite3_errstr only names the code.
  const char* detail = (db != nullptr && (sqlite3_errcode(db) & 0xff) == (rc & 0xff))
                           ? sqlite3_errmsg(db)
                           : sqlite3_errstr(rc);
  message += detail;
  return Error{kind_of(rc), std::move(message)};
}

Result<UniqueStmt> prepare(sqlite3* db, std::string_view sql, std::string_view path) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  UniqueStmt stmt(raw);
  if (rc != SQLITE_OK) {
    return tl::unexpected(sqlite_error(db, rc, "cannot prepare \"" + std::string(sql) + "\"", path));
  }
  return stmt;
}

Result<void> exec(sqlite3* db, const char* sql, std::string_view path) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return tl::unexpected(sqlite_error(db, rc, "\"" + std::string(sql) + "\" failed", path));
  }
  return {};
}

Result<void> Transaction::begin_immediate() {
  auto began = exec(db_, "BEGIN IMMEDIATE", path_);
  if (began) open_ = true;
  return began;
}

Result<void> Transaction::commit() {
  auto committed = exec(db_, "COMMIT", path_);
  if (committed) open_ = false;
  return committed;
}

void Transaction::rollback() noexcept {
  if (!open_) return;
  open_ = false;
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace vigil::store_detail
