// core/time.hpp: the two clocks and the duration/size syntax of the config.
//
// Monotonic time (std::chrono::steady_clock) drives intervals and timeouts.
// Wall time is stored as int64 milliseconds since the Unix epoch (UTC).
// Durations are written "500ms", "5s", "2m", "48h", "1h30m", "1d"; sizes
// "512MiB", "4KiB", "1GB", "1024".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vigil {

using Millis = std::chrono::milliseconds;
using WallMs = std::int64_t;  // milliseconds since the epoch, UTC

WallMs wall_now_ms();
std::chrono::steady_clock::time_point mono_now();
// The same clock in microseconds: sd-event's CLOCK_MONOTONIC time sources.
std::uint64_t mono_now_usec();

// "1h30m", "250ms", "2s"; at least one unit group; no sign; overflow is an error.
Result<Millis> parse_duration(std::string_view text);
// Shortest exact spelling: 90000ms -> "1m30s", 0 -> "0s".
std::string format_duration(Millis d);

// A rounded duration for people: "45s", "5m 30s", "6h 12m", "3d 4h".
std::string format_rough_duration(double seconds);

// "512MiB" (binary), "1GB" (decimal), "4096" or "4096B" (bytes).
Result<std::uint64_t> parse_size(std::string_view text);

// 2026-11-22T08:35:53.123Z
std::string format_rfc3339_ms(WallMs ms);
// Accepts "2026-11-22T08:35:53Z", with fractional seconds, with "+01:00"
// offsets, with a space instead of 'T', a bare date "2026-11-22" (UTC
// midnight). A missing offset means UTC.
Result<WallMs> parse_rfc3339(std::string_view text);

}  // namespace vigil
