#include "core/time.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

#include "core/text.hpp"

namespace vigil {

WallMs wall_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::chrono::steady_clock::time_point mono_now() {
  return std::chrono::steady_clock::now();
}

std::uint64_t mono_now_usec() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(mono_now().time_since_epoch()).count();
  return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}

namespace {

struct Unit {
  std::string_view name;
  std::int64_t ms;
};
// Longest names first so that "ms" is not read as "m" followed by "s".
constexpr Unit kDurationUnits[] = {{"ms", 1},        {"s", 1000},       {"m", 60'000},
                                   {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000}};

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
  auto bad = [&](std::string why) {
    return fail(ErrorKind::kParse, "invalid duration \"" + std::string(text) + "\": " + why +
                                       " (write e.g. 500ms, 5s, 2m, 1h30m, 2d, 1w)");
  };
  if (text.empty()) return bad("empty");
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return bad("expected a number at \"" + std::string(text.substr(start)) + "\"");
    auto number = to_i64(text.substr(start, i - start));
    if (!number) return bad("number out of range");
    const Unit* unit = nullptr;
    for (const auto& u : kDurationUnits) {
      if (text.substr(i, u.name.size()) == u.name) {
        // "m" must not swallow the "m" of "ms".
        if (u.name == "m" && text.substr(i, 2) == "ms") continue;
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      if (i == text.size()) return bad("missing unit after " + std::string(text.substr(start)));
      return bad("unknown unit at \"" + std::string(text.substr(i)) + "\"");
    }
    i += unit->name.size();
    if (*number > (std::numeric_limits<std::int64_t>::max() - total) / unit->ms) {
      return bad("too large");
    }
    total += *number * unit->ms;
  }
  return Millis(total);
}

std::string format_duration(Millis d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  constexpr Unit kOrder[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};
  for (const auto& u : kOrder) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.name;
      ms %= u.ms;
    }
  }
  return out;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  auto bad = [&](std::string why) {
    return fail(ErrorKind::kParse,
                "invalid size \"" + std::string(text) + "\": " + why + " (write e.g. 4096, 512KiB, 64MiB, 2GiB, 1GB)");
  };
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0) return bad("expected a number");
  auto number = to_u64(text.substr(0, i));
  if (!number) return bad("number out of range");
  std::string_view suffix = text.substr(i);
  struct Mult {
    std::string_view name;
    std::uint64_t factor;
  };
  constexpr Mult kMults[] = {{"", 1},
                             {"B", 1},
                             {"KiB", 1ull << 10},
                             {"MiB", 1ull << 20},
                             {"GiB", 1ull << 30},
                             {"TiB", 1ull << 40},
                             {"kB", 1000},
                             {"KB", 1000},
                             {"MB", 1000'000},
                             {"GB", 1000'000'000},
                             {"TB", 1000'000'000'000}};
  for (const auto& m : kMults) {
    if (suffix == m.name) {
      if (*number > std::numeric_limits<std::uint64_t>::max() / m.factor) return bad("too large");
      return *number * m.factor;
    }
  }
  return bad("unknown unit \"" + std::string(suffix) + "\"");
}

std::string format_rfc3339_ms(WallMs ms) {
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int frac = static_cast<int>(ms - static_cast<WallMs>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // sized for any int fields, so that -Wformat-truncation has nothing to say
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

namespace {

// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    char c = s[pos + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Result<WallMs> parse_rfc3339(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorKind::kParse, "invalid timestamp \"" + std::string(text) +
                                       "\" (write e.g. 2026-11-22T08:30:00Z, 2026-11-22 08:30:00+01:00 or 2026-11-22)");
  };
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!digits(text, 0, 4, &year) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, &month) ||
      text[7] != '-' || !digits(text, 8, 2, &day)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return bad();
  std::size_t i = 10;
  std::int64_t frac_ms = 0;
  std::int64_t offset_s = 0;
  if (i < text.size()) {
    if ((text[i] != 'T' && text[i] != 't' && text[i] != ' ') || !digits(text, i + 1, 2, &hour) || text.size() < i + 9 ||
        text[i + 3] != ':' || !digits(text, i + 4, 2, &minute) || text[i + 6] != ':' ||
        !digits(text, i + 7, 2, &second)) {
      return bad();
    }
    if (hour > 23 || minute > 59 || second > 60) return bad();
    i += 9;
    if (i < text.size() && text[i] == '.') {
      ++i;
      std::size_t start = i;
      std::int64_t scale = 100;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        frac_ms += (text[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (i == start) return bad();
    }
    if (i < text.size()) {
      char c = text[i];
      if ((c == 'Z' || c == 'z') && i + 1 == text.size()) {
        ++i;
      } else if ((c == '+' || c == '-') && text.size() == i + 6 && text[i + 3] == ':') {
        int oh, om;
        if (!digits(text, i + 1, 2, &oh) || !digits(text, i + 4, 2, &om)) return bad();
        offset_s = (oh * 3600 + om * 60) * (c == '+' ? 1 : -1);
        i += 6;
      } else {
        return bad();
      }
    }
  }
  if (i != text.size()) return bad();
  std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return secs * 1000 + frac_ms;
}

std::string format_rough_duration(double seconds) {
  if (!(seconds < 1e12)) return "a very long time";  // also NaN
  if (seconds < 0) seconds = 0;
  // Under ten seconds the tenths matter ("210ms", "1.5s"), never "0s" for
  // something that took time.
  if (seconds < 1) return std::to_string(std::llround(seconds * 1000)) + "ms";
  if (seconds < 10) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    std::string out = buf;
    if (out.size() > 3 && out.compare(out.size() - 3, 3, ".0s") == 0) out.erase(out.size() - 3, 2);
    return out;
  }
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  auto two = [](std::int64_t big, const char* big_unit, std::int64_t small, const char* small_unit) {
    std::string out = std::to_string(big) + big_unit;
    if (small != 0) out += " " + std::to_string(small) + small_unit;
    return out;
  };
  if (total < 60) return std::to_string(total) + "s";
  if (total < 3600) return two(total / 60, "m", total % 60, "s");
  if (total < 86400) return two(total / 3600, "h", total % 3600 / 60, "m");
  return two(total / 86400, "d", total % 86400 / 3600, "h");
}

}  // namespace vigil
