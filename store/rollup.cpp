#include "store/rollup.hpp"

#include <cmath>
#include <string>

namespace vigil::rollup {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kMinBucketsPerRow = 24;

Error bad(const std::string& what, std::size_t byte) {
  return Error{ErrorKind::kParse, "rollup: " + what + " (byte " + std::to_string(byte) + ")"};
}

constexpr const char* kFields[] = {"counts", "minimums", "maximums", "sums", "last values"};

}  // namespace

void Bucket::add(double v) {
  if (count == 0) {
    min = max = sum = last = v;
    count = 1;
    return;
  }
  ++count;
  min = std::fmin(min, v);
  max = std::fmax(max, v);
  sum += v;
  last = v;
}

void Bucket::merge(const Bucket& newer) {
  if (newer.count == 0) return;
  if (count == 0) {
    const std::int64_t keep = start;
    *this = newer;
    start = keep;
    return;
  }
  count += newer.count;
  min = std::fmin(min, newer.min);
  max = std::fmax(max, newer.max);
  sum += newer.sum;
  last = newer.last;
}

std::int64_t row_span(std::int64_t step, std::int64_t span) {
  if (step <= 0 || span <= 0 || span % step != 0) return 0;
  if (span / step >= kMinBucketsPerRow) return span;
  if (kDayMs % span == 0) return kDayMs;
  return span;
}

std::vector<Bucket> summarise(std::span<const chunk::Point> points, std::int64_t step) {
  std::vector<Bucket> out;
  for (const chunk::Point& p : points) {
    const std::int64_t start = chunk::window_of(p.ts_ms, step);
    if (out.empty() || out.back().start != start) out.push_back(Bucket{start, 0, 0, 0, 0, 0});
    out.back().add(p.value);
  }
  return out;
}

std::vector<std::uint8_t> encode(std::span<const Bucket> buckets) {
  std::vector<std::uint8_t> out{kVersion};
  std::vector<chunk::Point> field(buckets.size());
  for (int f = 0; f < 5; ++f) {
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      const Bucket& b = buckets[i];
      const double values[] = {static_cast<double>(b.count), b.min, b.max, b.sum, b.last};
      field[i] = chunk::Point{b.start, values[f]};
    }
    const std::vector<std::uint8_t> bytes = chunk::encode(field);
    chunk::put_varint(out, bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

Result<std::vector<Bucket>> decode(std::span<const std::uint8_t> bytes, unsigned fields) {
  if (bytes.empty()) return tl::unexpected(bad("empty", 0));
  if (bytes[0] != kVersion) return tl::unexpected(bad("unknown version " + std::to_string(bytes[0]), 0));
  std::size_t pos = 1;
  std::vector<Bucket> out;
  for (int f = 0; f < 5; ++f) {
    const std::string what = std::string("the length of the ") + kFields[f];
    auto length = chunk::read_varint(bytes, pos, what);
    if (!length) return tl::unexpected(Error{ErrorKind::kParse, "rollup: " + length.error().message});
    if (*length > bytes.size() - pos) {
      return tl::unexpected(bad(std::string("the ") + kFields[f] + " are cut short", bytes.size()));
    }
    const std::size_t at = pos;
    pos += static_cast<std::size_t>(*length);
    if (f > 0 && (fields & (1u << (f - 1))) == 0) continue;
    auto points = chunk::decode(bytes.subspan(at, static_cast<std::size_t>(*length)));
    if (!points) {
      return tl::unexpected(bad(std::string("the ") + kFields[f] + ": " + points.error().message, at));
    }
    if (f == 0) {
      out.resize(points->size());
    } else if (points->size() != out.size()) {
      return tl::unexpected(bad(std::string("the ") + kFields[f] + " have " + std::to_string(points->size()) +
                                    " buckets, the counts " + std::to_string(out.size()),
                                at));
    }
    for (std::size_t i = 0; i < points->size(); ++i) {
      const chunk::Point& p = (*points)[i];
      Bucket& b = out[i];
      if (f == 0) {
        if (i > 0 && p.ts_ms <= out[i - 1].start) {
          return tl::unexpected(bad("bucket " + std::to_string(i) + " does not start after the one before", at));
        }
        if (!(p.value >= 1 && p.value <= 9.007199254740992e15) || std::floor(p.value) != p.value) {
          return tl::unexpected(bad("bucket " + std::to_string(i) + " has a count that is not a whole number of "
                                    "at least 1",
                                    at));
        }
        b.start = p.ts_ms;
        b.count = static_cast<std::uint64_t>(p.value);
        continue;
      }
      if (p.ts_ms != b.start) {
        return tl::unexpected(
            bad(std::string("the ") + kFields[f] + " disagree with the counts on bucket " + std::to_string(i), at));
      }
      (f == 1 ? b.min : f == 2 ? b.max : f == 3 ? b.sum : b.last) = p.value;
    }
  }
  if (pos != bytes.size()) {
    return tl::unexpected(bad(std::to_string(bytes.size() - pos) + " bytes after the last values", pos));
  }
  return out;
}

}  // namespace vigil::rollup
