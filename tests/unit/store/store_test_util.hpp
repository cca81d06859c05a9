// Helpers shared by the store tests: temp directories and sample builders.
#pragma once

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/sample.hpp"
#include "store/store.hpp"

namespace vigil::test {

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/vigil-store-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The error message of a failed Result, for BOOST_REQUIRE_MESSAGE.
template <typename R>
std::string why(const R& result) {
  return result ? std::string() : result.error().message;
}

inline Sample sample(std::string metric, Labels labels, WallMs ts, double value) {
  return Sample{SeriesKey(std::move(metric), std::move(labels)), ts, value};
}

inline Event event(WallMs ts, EventKind kind, std::string target, std::string message = "m") {
  Event e;
  e.ts_ms = ts;
  e.kind = kind;
  e.target = std::move(target);
  e.message = std::move(message);
  return e;
}

inline StoreOptions options_for(const std::string& path, Millis interval = Millis(3600 * 1000),
                                std::size_t capacity = 100000) {
  StoreOptions o;
  o.path = path;
  o.flush_interval = interval;
  o.queue_capacity = capacity;
  return o;
}

inline std::string read_bytes(const std::string& path) {
  std::string out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Runs SQL on a plain connection (to build old or foreign databases by hand).
inline void run_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("sql failed: " + message);
}

// Each row's columns as text, over a plain read-only connection.
inline std::vector<std::vector<std::string>> sql_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("sql failed: " + message);
  }
  std::vector<std::vector<std::string>> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* t = sqlite3_column_text(stmt, i);
      row.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "");
    }
    out.push_back(std::move(row));
  }
  const std::string message = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (rc != SQLITE_DONE) throw std::runtime_error("sql failed: " + message);
  return out;
}

inline long sql_count(const std::string& path, const std::string& sql) {
  auto rows = sql_rows(path, sql);
  return rows.empty() || rows.front().empty() ? -1 : std::atol(rows.front().front().c_str());
}

}  // namespace vigil::test
