// cli/timearg.hpp: the time syntax of the CLI's --since/--until.
#pragma once

#include <string_view>

#include "core/time.hpp"

namespace vigil {

// "30m", "1w" (that long before now), "now", "2026-11-22T08:00:00Z" and the
// other RFC 3339 forms parse_rfc3339 accepts, Unix seconds ("1700000000") or
// Unix milliseconds ("1700000000000", as ts_ms is printed).
Result<WallMs> parse_time_arg(std::string_view text, WallMs now);

}  // namespace vigil
