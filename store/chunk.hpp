// store/chunk.hpp: one series' samples packed into a chunk (issue 15), the
// Gorilla scheme: timestamps as delta-of-delta, values as XOR against the
// previous value. Pure functions; the store keeps chunks as BLOBs.
//
// Format, version 1 (a change of any bit below is a new version byte):
//
//   byte 0        version, 1
//   varint        count: the number of samples (LEB128, unsigned, at most
//                 10 bytes)
//   if count >= 1:
//     varint      the first timestamp in ms, zigzag-encoded (LEB128)
//     8 bytes     the first value's IEEE-754 bits, little-endian
//   if count >= 2: a bit stream, most significant bit of each byte first,
//   for each further sample i (1 .. count-1):
//     timestamp   dod = (t[i] - t[i-1]) - (t[i-1] - t[i-2]), with
//                 t[-1] = t[0] (so the first dod is the first delta);
//                 differences wrap as unsigned 64-bit, dod read as signed:
//                   '0'                      dod = 0
//                   '10'   + 7 bits          -64 <= dod <= 63 (a timer's jitter)
//                   '110'  + 14 bits         -8192 <= dod <= 8191
//                   '1110' + 20 bits         -524288 <= dod <= 524287
//                   '1111' + 64 bits         any other
//                 (the n bits are dod in two's complement)
//     value       x = bits(v[i]) XOR bits(v[i-1]):
//                   '0'                      x = 0 (the same value)
//                   '10'   + m bits          x's meaningful bits fit the
//                                            window of the last '11': m = 64 -
//                                            lead - trail of that window, the
//                                            bits are x >> trail
//                   '11'   + 6 bits lead     leading zeros of x (0..63)
//                          + 6 bits len - 1  meaningful bits (1..64)
//                          + len bits        x >> (64 - lead - len)
//                                            (and this is the new window)
//   then zero bits up to the end of the last byte.
//
// Timestamps may go backwards (out-of-order arrivals) and repeat; values
// round-trip bit for bit (NaN payloads, -0.0, infinities). The decoder
// refuses what the encoder never writes: an unknown version, a count the
// bytes cannot hold, a '10' before any '11', a window wider than 64 bits,
// bytes or non-zero bits after the last sample.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace vigil::chunk {

inline constexpr std::uint8_t kVersion = 1;

struct Point {
  std::int64_t ts_ms = 0;
  double value = 0;
};

// The start of the window of `span` ms (aligned to the epoch) holding `ts`
// (floor division: also before 1970).
inline std::int64_t window_of(std::int64_t ts, std::int64_t span) {
  const std::int64_t q = ts / span;
  return (ts % span != 0 && ts < 0 ? q - 1 : q) * span;
}

// Builds a chunk one point at a time (compaction reads the head in commit
// order): finish() gives exactly what encode() gives for the same points.
class Encoder {
 public:
  void add(Point p);
  std::vector<std::uint8_t> finish() const;

  std::uint64_t count() const { return count_; }
  std::int64_t min_ts() const { return min_ts_; }  // of the points added; 0 when none
  std::int64_t max_ts() const { return max_ts_; }
  bool sorted() const { return sorted_; }  // no point older than the one before it
  std::size_t stream_bytes() const { return stream_.size(); }

 private:
  std::vector<std::uint8_t> stream_;  // the bit stream after the first sample
  int used_ = 0;                      // bits of stream_'s last byte written
  std::uint64_t count_ = 0;
  std::int64_t first_ts_ = 0;
  std::uint64_t first_bits_ = 0;
  std::int64_t min_ts_ = 0, max_ts_ = 0;
  std::int64_t last_ts_ = 0;
  bool sorted_ = true;
  std::uint64_t prev_ts_ = 0, prev_delta_ = 0, prev_bits_ = 0;
  int lead_ = -1, trail_ = 0;  // the window of the last '11'; -1: none yet
};

// The chunk of `points`, in their order.
std::vector<std::uint8_t> encode(std::span<const Point> points);

// The points of a chunk; a kParse error naming the byte where it went wrong.
Result<std::vector<Point>> decode(std::span<const std::uint8_t> bytes);

// The formats' varints (LEB128, unsigned, at most 10 bytes), also used by
// store/rollup.hpp. read_varint reads at `pos` and moves it past the varint;
// a kParse error "WHAT is cut short (byte N)" or "... is over 64 bits".
void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v);
Result<std::uint64_t> read_varint(std::span<const std::uint8_t> bytes, std::size_t& pos, std::string_view what);

}  // namespace vigil::chunk
