// store/schema.hpp: opening, checking, recovering and migrating the database.
// Private to store/.
#pragma once

#include <string>
#include <string_view>

#include "store/sqlite_util.hpp"
#include "store/store.hpp"

namespace vigil::store_detail {

// Each connection waits this long for a lock before SQLITE_BUSY. Short for
// the writer: a failed commit keeps its batch and retries at the next flush.
inline constexpr int kBusyTimeoutMs = 2000;

// The read-write connection of the writer: creates the directory, moves a
// corrupt file aside (filling `report`), refuses a newer schema, sets WAL and
// the pragmas, runs the migrations.
Result<UniqueDb> open_for_writing(const std::string& path, OpenReport& report);

// meta.schema_version; 0 when there is no meta table or no such row.
Result<int> read_schema_version(sqlite3* db, std::string_view path);

// "20261122T083553Z" for a wall time in ms.
std::string utc_compact_stamp(WallMs ms);

}  // namespace vigil::store_detail
