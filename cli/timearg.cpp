#include "cli/timearg.hpp"

#include <algorithm>

#include "core/text.hpp"

namespace vigil {

Result<WallMs> parse_time_arg(std::string_view text, WallMs now) {
  if (text == "now") return now;
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    auto n = to_i64(text);
    // Bare digits are Unix seconds (9 to 11 digits), or milliseconds (12 to
    // 14 digits: the ts_ms the output prints); "30" without a unit is more
    // likely a forgotten unit than 1970, so small numbers are refused.
    if (n && *n >= 100'000'000 && *n < 100'000'000'000) return *n * 1000;
    if (n && *n >= 100'000'000'000 && *n < 100'000'000'000'000) return *n;
    return fail(ErrorKind::kParse, "\"" + std::string(text) +
                                       "\" is neither a duration with a unit (30m, 2h) nor a Unix time in seconds "
                                       "(1700000000) or milliseconds (1700000000000)");
  }
  if (text.size() >= 10 && text[4] == '-') return parse_rfc3339(text);
  auto d = parse_duration(text);
  if (d) return now - d->count();
  return fail(ErrorKind::kParse, "\"" + std::string(text) +
                                     "\" is not a time: write a duration back from now (30m, 2h, 1d, 1w), "
                                     "an RFC 3339 time (2026-11-22T08:00:00Z), a date (2026-11-22), "
                                     "Unix seconds or milliseconds, or now");
}

}  // namespace vigil
