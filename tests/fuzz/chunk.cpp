// tests/fuzz/chunk.cpp: the store's BLOB formats, the chunk codec
// (store/chunk.hpp) and the rollup rows made of chunks (store/rollup.hpp),
// each fed the same bytes. Both are read back from the store file, which a
// crash, a full disk or a hand can damage.
//
// Promises checked: decode never crashes, and an error is a kParse with a
// bounded message; what it returns is bounded by the bytes (at most 4
// samples per byte after the header, plus the first); a decoded chunk
// encodes and decodes again to the same points, bit for bit; and any points
// made from the bytes (timestamps and value bits as they come) survive
// encode then decode bit for bit. Rollup rows: the same of decode, and
// what decodes has buckets in ascending order with whole counts of at least
// 1, and encodes and decodes again to the same buckets.
#include <bit>
#include <cstring>
#include <vector>

#include "store/chunk.hpp"
#include "store/rollup.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace vigil;

namespace {

bool same(const std::vector<chunk::Point>& a, const std::vector<chunk::Point>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].ts_ms != b[i].ts_ms ||
        std::bit_cast<std::uint64_t>(a[i].value) != std::bit_cast<std::uint64_t>(b[i].value))
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto decoded = chunk::decode({data, size});
  if (!decoded) {
    FUZZ_CHECK(decoded.error().kind == ErrorKind::kParse);
    FUZZ_CHECK(decoded.error().message.size() <= fuzz::kMaxMessage);
  } else {
    FUZZ_CHECK(decoded->size() <= size * 4 + 1);
    const auto again = chunk::decode(chunk::encode(*decoded));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(same(*decoded, *again));
  }

  const auto rows = rollup::decode({data, size});
  if (!rows) {
    FUZZ_CHECK(rows.error().kind == ErrorKind::kParse);
    FUZZ_CHECK(rows.error().message.size() <= fuzz::kMaxMessage);
  } else {
    FUZZ_CHECK(rows->size() <= size * 4 + 1);
    for (std::size_t i = 0; i < rows->size(); ++i) {
      FUZZ_CHECK((*rows)[i].count >= 1);
      FUZZ_CHECK(i == 0 || (*rows)[i - 1].start < (*rows)[i].start);
    }
    const auto again = rollup::decode(rollup::encode(*rows));
    FUZZ_CHECK(again.has_value() && again->size() == rows->size());
    for (std::size_t i = 0; i < rows->size(); ++i) {
      const rollup::Bucket& a = (*rows)[i];
      const rollup::Bucket& b = (*again)[i];
      FUZZ_CHECK(a.start == b.start && a.count == b.count);
      for (const auto& [x, y] : {std::pair{a.min, b.min}, {a.max, b.max}, {a.sum, b.sum}, {a.last, b.last}}) {
        FUZZ_CHECK(std::bit_cast<std::uint64_t>(x) == std::bit_cast<std::uint64_t>(y));
      }
    }
  }

  // The bytes as points: 8 bytes of timestamp, then 8 of value bits; the
  // timestamps are made near one another now and then, as real ones are.
  std::vector<chunk::Point> points;
  for (std::size_t off = 0; off + 16 <= size; off += 16) {
    std::int64_t ts;
    std::uint64_t bits;
    std::memcpy(&ts, data + off, 8);
    std::memcpy(&bits, data + off + 8, 8);
    if (!points.empty() && (ts & 1) == 0) {
      ts = static_cast<std::int64_t>(static_cast<std::uint64_t>(points.back().ts_ms) +
                                     static_cast<std::uint64_t>(ts >> 48));
    }
    points.push_back({ts, std::bit_cast<double>(bits)});
  }
  const auto bytes = chunk::encode(points);
  const auto back = chunk::decode(bytes);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(same(points, *back));
  return 0;
}
