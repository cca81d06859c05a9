// store/chunk: the Gorilla codec. Round trips of every kind of series the
// store sees, fixed byte vectors (so that the format cannot change by
// accident: a change is a new version byte), and refusals of damaged chunks.
#define BOOST_TEST_MODULE store_chunk
#include "store/chunk.hpp"

#include <bit>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace vigil;
using chunk::Point;

namespace {

using Bytes = std::vector<std::uint8_t>;

// Equal timestamps and equal value bits (NaN payloads and -0.0 included).
void require_same(const std::vector<Point>& want, const std::vector<Point>& got) {
  BOOST_REQUIRE_EQUAL(want.size(), got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST_REQUIRE(want[i].ts_ms == got[i].ts_ms, "sample " << i);
    BOOST_TEST_REQUIRE(std::bit_cast<std::uint64_t>(want[i].value) == std::bit_cast<std::uint64_t>(got[i].value),
                       "sample " << i << ": " << want[i].value << " vs " << got[i].value);
  }
}

Bytes round_trip(const std::vector<Point>& points) {
  Bytes bytes = chunk::encode(points);
  auto back = chunk::decode(bytes);
  BOOST_TEST_REQUIRE(back.has_value(), (back ? "" : back.error().message));
  require_same(points, *back);
  return bytes;
}

std::string error_of(const Bytes& bytes) {
  auto r = chunk::decode(bytes);
  BOOST_TEST_REQUIRE(!r.has_value(), "decoded what should be refused");
  BOOST_TEST((r.error().kind == ErrorKind::kParse));
  return r.error().message;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

constexpr std::int64_t kT0 = 1'796'000'000'000;  // a timestamp of 2026, in ms

}  // namespace

// Three samples, derived by hand from the format in store/chunk.hpp:
//   01                       version
//   03                       count
//   D0 0F                    zigzag(1000) = 2000, LEB128
//   00 00 00 00 00 00 F0 3F  1.0, little-endian
//   then the bits:
//   sample 1: dod 1000 '110' 00001111101000, value the same '0'
//   sample 2: dod 0 '0'; 1.0 ^ 2.0 = 0x7FF0000000000000: '11', lead 1
//             000001, 11 meaningful bits so len-1 = 10 001010, 11111111111
//   11000001 11110100 00011000 00100101 01111111 1111 + 0000 padding
//   C1       F4       18       25       7F       F0
BOOST_AUTO_TEST_CASE(a_fixed_vector_reads_and_writes_the_same) {
  const std::vector<Point> points = {{1000, 1.0}, {2000, 1.0}, {3000, 2.0}};
  const Bytes want = {0x01, 0x03, 0xD0, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0xF0, 0x3F, 0xC1, 0xF4, 0x18, 0x25, 0x7F, 0xF0};
  BOOST_TEST(chunk::encode(points) == want, boost::test_tools::per_element());
  auto back = chunk::decode(want);
  BOOST_TEST_REQUIRE(back.has_value(), (back ? "" : back.error().message));
  require_same(points, *back);
}

// The window case ('10') and every timestamp bucket, frozen as bytes
// written by this version: a later encoder must still read them.
BOOST_AUTO_TEST_CASE(every_bucket_and_the_window_are_frozen) {
  const std::vector<Point> points = {
      {0, 0.0},
      {1, 1.5},            // dod 1: the 7-bit bucket; 0 ^ 1.5: a new window
      {2, 1.75},           // dod 0; 1.75 needs a new window too
      {2'000, 1.5},        // dod 1997: the 14-bit bucket; 1.75 ^ 1.5 fits the window: '10'
      {400'000, -1.75},    // dod 396002: the 20-bit bucket
      {-5'000'000, 0.0},   // back in time: the 64-bit bucket
  };
  const Bytes frozen = round_trip(points);
  // Written once by this encoder, its first 17 bytes checked by hand
  // against the format (sample 1: 80 E1 = '10' and dod 1 in 7 bits, then
  // '11' and lead 2; 15 FF = len-1 10 and the 11 bits; D9 A0 = sample 2:
  // dod 0, '11', lead 13, len 1); kept so that any change shows.
  const Bytes want = {0x01, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xE1,
                      0x15, 0xFF, 0xD9, 0xA0, 0x70, 0xF9, 0xB7, 0x98, 0x2B, 0x8B, 0x00, 0xD8, 0x00,
                      0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x9E, 0x1E, 0x42, 0xBF, 0xFC};
  BOOST_TEST(frozen == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_and_single) {
  BOOST_TEST(round_trip({}) == (Bytes{0x01, 0x00}), boost::test_tools::per_element());
  round_trip({{kT0, 42.5}});
  round_trip({{std::numeric_limits<std::int64_t>::min(), -0.0}});
}

BOOST_AUTO_TEST_CASE(regular_series_are_small) {
  // A gauge that does not change, at 1 s: a bit for the time and a bit for
  // the value per sample.
  std::vector<Point> constant;
  for (int i = 0; i < 7200; ++i) constant.push_back({kT0 + i * 1000LL, 0.25});
  const Bytes c = round_trip(constant);
  BOOST_TEST(c.size() <= 7200 * 2 / 8 + 32, c.size());
  // A counter that grows by small integers, reset twice.
  std::vector<Point> counter;
  double v = 0;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 7200; ++i) {
    v = (i == 2000 || i == 5000) ? 0 : v + static_cast<double>(rng() % 100);
    counter.push_back({kT0 + i * 1000LL, v});
  }
  const Bytes k = round_trip(counter);
  BOOST_TEST(k.size() < 7200 * 8 / 2, k.size());  // well under half of the raw values
}

BOOST_AUTO_TEST_CASE(special_values_round_trip_bit_for_bit) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double payload = std::bit_cast<double>(std::uint64_t{0x7FF800000000BEEF});
  round_trip({{kT0, nan},
              {kT0 + 1000, payload},
              {kT0 + 2000, std::numeric_limits<double>::infinity()},
              {kT0 + 3000, -std::numeric_limits<double>::infinity()},
              {kT0 + 4000, -0.0},
              {kT0 + 5000, 0.0},
              {kT0 + 6000, std::numeric_limits<double>::denorm_min()},
              {kT0 + 7000, std::numeric_limits<double>::max()},
              {kT0 + 8000, std::numeric_limits<double>::lowest()},
              {kT0 + 9000, nan}});
}

BOOST_AUTO_TEST_CASE(irregular_out_of_order_and_extreme_timestamps) {
  std::mt19937_64 rng(11);
  std::vector<Point> irregular;
  std::int64_t t = kT0;
  for (int i = 0; i < 5000; ++i) {
    t += static_cast<std::int64_t>(rng() % 3000) - 200;  // jitter, some steps back
    if (i % 97 == 0) t += 86'400'000;                    // a gap of a day
    irregular.push_back({t, static_cast<double>(rng() % 1000) / 7.0});
  }
  irregular.push_back(irregular.back());  // a repeated sample
  round_trip(irregular);
  round_trip({{std::numeric_limits<std::int64_t>::max(), 1},
              {std::numeric_limits<std::int64_t>::min(), 2},
              {0, 3},
              {std::numeric_limits<std::int64_t>::max(), 4},
              {std::numeric_limits<std::int64_t>::max(), 4}});
}

BOOST_AUTO_TEST_CASE(random_series_round_trip) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Point> points;
    const std::size_t n = rng() % 300;
    std::uint64_t t = rng();  // wraps: any int64 timestamp, any step
    for (std::size_t i = 0; i < n; ++i) {
      t += rng() % 5 == 0 ? rng() : 1000;
      const double v = rng() % 3 == 0 ? std::bit_cast<double>(rng()) : static_cast<double>(rng() % 10);
      points.push_back({static_cast<std::int64_t>(t), v});
    }
    round_trip(points);
  }
}

BOOST_AUTO_TEST_CASE(damaged_chunks_are_refused_with_where) {
  const std::vector<Point> points = {{1000, 1.0}, {2000, 1.0}, {3000, 2.0}};
  const Bytes good = chunk::encode(points);
  BOOST_TEST(contains(error_of({}), "empty"));
  Bytes v2 = good;
  v2[0] = 2;
  BOOST_TEST(contains(error_of(v2), "unknown version 2"));
  // Every cut is refused: the last byte always holds a bit of the last sample.
  for (std::size_t len = 1; len < good.size(); ++len) {
    const std::string e = error_of(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len)));
    BOOST_TEST(contains(e, "chunk: "), e);
  }
  Bytes longer = good;
  longer.push_back(0);
  BOOST_TEST(contains(error_of(longer), "1 bytes after the last sample"));
  Bytes padding = good;
  padding.back() |= 0x01;
  BOOST_TEST(contains(error_of(padding), "padding bits are not zero"));
  // A count the bytes cannot hold is refused before anything is allocated.
  Bytes huge = {0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00};
  BOOST_TEST(contains(error_of(huge), "cannot hold"));
  Bytes overflow = {0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
  BOOST_TEST(contains(error_of(overflow), "over 64 bits"));
  // '0' then '10' with no window before it.
  Bytes no_window = {0x01, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x50};
  BOOST_TEST(contains(error_of(no_window), "before any window"));
  // '0' then '11', 0 leading zeros, 64 bits: fine; 1 leading zero and 64 bits: too wide.
  Bytes wide = {0x01, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0xFE};
  BOOST_TEST(contains(error_of(wide), "wider than 64 bits"));
}
