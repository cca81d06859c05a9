// store/sqlite_util.hpp: RAII handles and small helpers over the SQLite C API.
// Private to store/: nothing outside this folder includes SQLite.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vigil::store_detail {

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }  // accepts null
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using UniqueDb = std::unique_ptr<sqlite3, DbCloser>;
using UniqueStmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// SQLITE_TRANSIENT without its old-style cast: SQLite copies the bytes.
inline sqlite3_destructor_type transient() {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

// A path as a URI filename ("file:" + uri_path(path) + "?mode=ro"):
// percent-encodes what a URI filename cannot hold literally.
std::string uri_path(const std::string& path);

// SQLITE_NOTADB and SQLITE_CORRUPT (any extended code): the file is damaged.
bool is_corruption(int rc);
// Maps a result code to the error kind callers branch on.
ErrorKind kind_of(int rc);

// "<what> (<path>): <sqlite message> [<code name>]".
Error sqlite_error(sqlite3* db, int rc, std::string_view what, std::string_view path);

Result<UniqueStmt> prepare(sqlite3* db, std::string_view sql, std::string_view path);
// Runs statements that return no rows we need.
Result<void> exec(sqlite3* db, const char* sql, std::string_view path);

// Resets a statement and clears its bindings when the scope ends, so that a
// cached statement never keeps a read transaction open.
class StmtReset {
 public:
  explicit StmtReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtReset(const StmtReset&) = delete;
  StmtReset& operator=(const StmtReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// A transaction that rolls back when the scope ends without commit().
class Transaction {
 public:
  Transaction(sqlite3* db, std::string_view path) : db_(db), path_(path) {}
  ~Transaction() { rollback(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Result<void> begin_immediate();
  Result<void> commit();
  // Also after a failed COMMIT, which can leave the transaction open
  // (SQLITE_BUSY) or have rolled it back already (SQLITE_FULL).
  void rollback() noexcept;

 private:
  sqlite3* db_;
  std::string_view path_;
  bool open_ = false;
};

// The file of a connection (the path is not kept beside it; messages use this).
inline std::string db_path(sqlite3* db) {
  const char* name = sqlite3_db_filename(db, "main");
  return name != nullptr ? name : "";
}

// One read transaction over several statements, so that they all see the
// same commits; ended (COMMIT) with the scope.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite3* db) : db_(db) {}
  ~ReadTransaction() {
    if (open_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

  Result<void> begin() {
    auto began = exec(db_, "BEGIN", db_path(db_));
    open_ = began.has_value();
    return began;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

inline int bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), transient());
}

inline std::string column_text(sqlite3_stmt* stmt, int column) {
  const auto* text = sqlite3_column_text(stmt, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
}

}  // namespace vigil::store_detail
