// Schema creation and migrations at open; refusal of a newer schema.
#define BOOST_TEST_MODULE store_migration
#include <boost/test/unit_test.hpp>
#include <set>

#include "store/store.hpp"
#include "store_test_util.hpp"

using namespace vigil;
using vigil::test::options_for;
using vigil::test::read_bytes;
using vigil::test::run_sql;
using vigil::test::sample;
using vigil::test::TempDir;

namespace {

// "name type notnull pk" per column, from PRAGMA table_info.
std::vector<std::string> columns(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  std::vector<std::string> out;
  if (sqlite3_prepare_v2(db, ("PRAGMA table_info(" + table + ")").c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      out.push_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1))) + " " +
                    reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)) + " " +
                    std::to_string(sqlite3_column_int(stmt, 3)) + " " + std::to_string(sqlite3_column_int(stmt, 5)));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::set<std::string> schema_objects(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  std::set<std::string> out;
  sqlite3_prepare_v2(db, "SELECT type || ' ' || name FROM sqlite_master", -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out.insert(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::string journal_mode(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  std::string mode;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  if (sqlite3_step(stmt) == SQLITE_ROW) mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return mode;
}

void check_usable(const std::string& path) {
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  (*writer)->enqueue({sample("m", {{"k", "v"}}, 10, 1)});
  BOOST_REQUIRE((*writer)->flush());
  (*writer)->close();
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  BOOST_TEST(reader->schema_version() == kSchemaVersion);
  BOOST_TEST(reader->sample_count().value_or(0) >= 1u);
}

}  // namespace

BOOST_AUTO_TEST_CASE(new_database_has_the_documented_schema) {
  TempDir dir;
  // The parent directories do not exist yet.
  const std::string path = dir.file("state/vigil/vigil.db");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.created);
  BOOST_TEST(report.migrated_from == 0);
  (*writer)->close();

  BOOST_TEST(journal_mode(path) == "wal");
  const std::set<std::string> expected{"table series",
                                       "index sqlite_autoindex_series_1",
                                       "table samples_head",
                                       "table head_flushes",
                                       "table events",
                                       "index events_ts",
                                       "table meta",
                                       "index sqlite_autoindex_meta_1",
                                       "table alerts",
                                       "index sqlite_autoindex_alerts_1",
                                       "table outbox",
                                       "table incidents",
                                       "index incidents_target_started",
                                       "index incidents_open",
                                       "table incident_actions",
                                       "table chunks",
                                       "index sqlite_autoindex_chunks_1",
                                       "index chunks_window",
                                       "table rollups",
                                       "index sqlite_autoindex_rollups_1",
                                       "index rollups_age"};
  BOOST_TEST((schema_objects(path) == expected));
  BOOST_TEST(
      (columns(path, "series") == std::vector<std::string>{"id INTEGER 0 1", "metric TEXT 1 0", "labels TEXT 1 0"}));
  BOOST_TEST((columns(path, "samples_head") ==
              std::vector<std::string>{"series_id INTEGER 1 0", "ts INTEGER 1 0", "value REAL 1 0"}));
  BOOST_TEST(
      (columns(path, "head_flushes") == std::vector<std::string>{"first_rowid INTEGER 1 0", "last_rowid INTEGER 1 0",
                                                                 "min_ts INTEGER 1 0", "max_ts INTEGER 1 0"}));
  BOOST_TEST(
      (columns(path, "events") ==
       std::vector<std::string>{"id INTEGER 0 1", "ts INTEGER 1 0", "kind TEXT 1 0", "target TEXT 1 0",
                                "check_name TEXT 1 0", "severity TEXT 1 0", "message TEXT 1 0", "details TEXT 1 0"}));
  BOOST_TEST((columns(path, "meta") == std::vector<std::string>{"key TEXT 0 1", "value  0 0"}));
  BOOST_TEST((columns(path, "incidents") ==
              std::vector<std::string>{"id INTEGER 0 1", "target TEXT 1 0", "trigger TEXT 1 0", "started INTEGER 1 0",
                                       "detected INTEGER 1 0", "recovered INTEGER 1 0", "root_cause TEXT 1 0",
                                       "summary TEXT 1 0", "evidence TEXT 1 0", "given_up INTEGER 1 0",
                                       "dry_run INTEGER 1 0", "updated INTEGER 1 0", "check_name TEXT 1 0"}));
  BOOST_TEST((columns(path, "incident_actions") ==
              std::vector<std::string>{"incident_id INTEGER 1 1", "seq INTEGER 1 2", "started INTEGER 1 0",
                                       "finished INTEGER 1 0", "action TEXT 1 0", "detail TEXT 1 0", "result TEXT 1 0",
                                       "message TEXT 1 0"}));

  BOOST_TEST((columns(path, "chunks") ==
              std::vector<std::string>{"series_id INTEGER 1 1", "window_start INTEGER 1 2", "first_ts INTEGER 1 0",
                                       "last_ts INTEGER 1 0", "count INTEGER 1 0", "through_rowid INTEGER 1 0",
                                       "data BLOB 1 0"}));

  OpenReport again;
  auto reopened = StoreWriter::open(options_for(path), &again);
  BOOST_REQUIRE(reopened);
  BOOST_TEST(!again.created);
  BOOST_TEST(again.migrated_from == kSchemaVersion);
}

BOOST_AUTO_TEST_CASE(empty_file_is_migrated) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  vigil::test::write_bytes(path, "");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.migrated_from == 0);
  BOOST_TEST(!report.recovered);
  (*writer)->close();
  check_usable(path);
}

BOOST_AUTO_TEST_CASE(older_store_is_migrated_and_keeps_other_tables) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  // Schema version 1 as it shipped (no application id then), plus a table
  // someone added.
  run_sql(path,
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
          "INSERT INTO meta VALUES('schema_version', 1);"
          "CREATE TABLE series(id INTEGER PRIMARY KEY, metric TEXT NOT NULL, labels TEXT NOT NULL,"
          " UNIQUE(metric, labels));"
          "CREATE TABLE samples_head(series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);"
          "CREATE TABLE head_flushes(first_rowid INTEGER NOT NULL, last_rowid INTEGER NOT NULL,"
          " min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL);"
          "CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,"
          " target TEXT NOT NULL, check_name TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,"
          " details TEXT NOT NULL);"
          "CREATE INDEX events_ts ON events(ts);"
          "CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES('kept');");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(!report.created);
  BOOST_TEST(report.migrated_from == 1);
  (*writer)->close();
  BOOST_TEST(schema_objects(path).count("table notes") == 1u);
  BOOST_TEST(journal_mode(path) == "wal");
  check_usable(path);
}

BOOST_AUTO_TEST_CASE(empty_sqlite_database_is_adopted) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  run_sql(path, "PRAGMA user_version = 1;");  // a header, no tables
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.migrated_from == 0);
  (*writer)->close();
  check_usable(path);
}

BOOST_AUTO_TEST_CASE(database_without_meta_is_refused_and_left_untouched) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  run_sql(path, "CREATE TABLE scratch(x); INSERT INTO scratch VALUES(1);");
  const std::string before = read_bytes(path);
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE(!writer);
  BOOST_TEST(writer.error().message.find("another application (tables: scratch)") != std::string::npos);
  BOOST_TEST(read_bytes(path) == before);
  BOOST_TEST(journal_mode(path) == "delete");
}

BOOST_AUTO_TEST_CASE(newer_schema_is_refused_and_left_untouched) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  run_sql(path,
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
          "INSERT INTO meta VALUES('schema_version', 99);"
          "CREATE TABLE future(x);");
  const std::string before = read_bytes(path);
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE(!writer);
  BOOST_TEST((writer.error().kind == ErrorKind::kInvalid));
  BOOST_TEST(!report.recovered);
  BOOST_TEST(read_bytes(path) == before);
  BOOST_TEST(journal_mode(path) == "delete");

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(!reader);
  BOOST_TEST((reader.error().kind == ErrorKind::kInvalid));
}

BOOST_AUTO_TEST_CASE(unusable_parent_directory_is_an_error_naming_it) {
  TempDir dir;
  const std::string blocker = dir.file("not-a-dir");
  vigil::test::write_bytes(blocker, "x");
  const std::string path = blocker + "/sub/vigil.db";
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE(!writer);
  BOOST_TEST((writer.error().kind == ErrorKind::kIo));
  BOOST_TEST(writer.error().message.find(blocker) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_options_are_refused) {
  TempDir dir;
  auto no_capacity = StoreWriter::open(options_for(dir.file("a.db"), Millis(10), 0), nullptr);
  BOOST_REQUIRE(!no_capacity);
  BOOST_TEST((no_capacity.error().kind == ErrorKind::kInvalid));
  auto no_interval = StoreWriter::open(options_for(dir.file("a.db"), Millis(0)), nullptr);
  BOOST_REQUIRE(!no_interval);
  BOOST_TEST((no_interval.error().kind == ErrorKind::kInvalid));
}
