// store/schema.hpp: opening, checking, recovering and migrating the database.
// Private to store/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/sqlite_util.hpp"
#include "store/store.hpp"

namespace vigil::store_detail {

// Each connection waits this long for a lock before SQLITE_BUSY. Short for
// the writer: a failed commit keeps its batch and retries at the next flush.
inline constexpr int kBusyTimeoutMs = 2000;

// PRAGMA application_id of every store this build creates ("VIGL"), at
// offset 68 of the SQLite header: a file is recognised as a vigil store by
// it (or, for a store created before it was set, by meta.schema_version).
inline constexpr std::uint32_t kApplicationId = 0x5649474C;

// What the first bytes of an existing file say, before SQLite opens it.
enum class HeaderVerdict {
  kEmpty,          // zero bytes: a new store may be created in it
  kNotSqlite,      // no SQLite header and no vigil application id
  kDamagedVigil,   // the SQLite magic is gone but vigil's application id is there
  kVigil,          // SQLite, vigil's application id
  kUnmarked,       // SQLite, application id 0: a store from before the id, or anything
  kOtherApplication,  // SQLite with another application's id
};
// Pure: `head` is the file's first bytes (up to 100).
HeaderVerdict classify_header(std::string_view head);

// What an existing path holds, decided without writing to it.
enum class StoreFileKind {
  kMissing,       // nothing there: create
  kEmpty,         // an empty file or a SQLite database without tables: adopt
  kVigil,         // a vigil store (its integrity is checked separately)
  kDamagedVigil,  // a vigil store SQLite cannot read: may be moved aside
  kForeign,       // anything else: never touched
};
struct StoreFile {
  StoreFileKind kind = StoreFileKind::kMissing;
  std::string what;  // for kForeign and kDamagedVigil: what it is, for a person
};
// Reads the header and, for a SQLite file, its application id and table
// names over a read-only connection. An error only when the path cannot be
// read at all (a directory, a device, permission).
Result<StoreFile> identify_store_file(const std::string& path);

// "PATH is not a vigil store (WHAT); it was left untouched: ..." for the
// writer and the reader alike.
std::string not_a_store_message(const std::string& path, const StoreFile& file, bool writer);

// The read-write connection of the writer: creates the directory, moves a
// corrupt file aside (filling `report`), refuses a newer schema, sets WAL and
// the pragmas, runs the migrations.
Result<UniqueDb> open_for_writing(const std::string& path, OpenReport& report);

// meta.schema_version; 0 when there is no meta table or no such row.
Result<int> read_schema_version(sqlite3* db, std::string_view path);

// "20261122T083553Z" for a wall time in ms.
std::string utc_compact_stamp(WallMs ms);

}  // namespace vigil::store_detail
