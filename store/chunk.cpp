#include "store/chunk.hpp"

#include <algorithm>
#include <bit>
#include <optional>
#include <string>

namespace vigil::chunk {

namespace {

std::uint64_t bits_of(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

// Appends bits, most significant first.
class BitWriter {
 public:
  // `used`: bits of out's last byte already written (0 when it is full or
  // there is none), kept by the caller between writers.
  BitWriter(std::vector<std::uint8_t>& out, int& used) : out_(out), used_(used) {}
  // The low `n` bits of `v` (1 <= n <= 64), a byte's worth at a time.
  void put(std::uint64_t v, int n) {
    while (n > 0) {
      if (used_ == 0) out_.push_back(0);
      const int room = 8 - used_;
      const int take = std::min(room, n);
      const auto bits = static_cast<unsigned>((v >> (n - take)) & ((1u << take) - 1));
      out_.back() = static_cast<std::uint8_t>(out_.back() | (bits << (room - take)));
      used_ = (used_ + take) % 8;
      n -= take;
    }
  }

 private:
  std::vector<std::uint8_t>& out_;
  int& used_;
};

class BitReader {
 public:
  BitReader(std::span<const std::uint8_t> bytes, std::size_t from) : bytes_(bytes), pos_(from * 8) {}
  // The next `n` bits (0 <= n <= 64), a byte's worth at a time.
  std::optional<std::uint64_t> get(int n) {
    if (n > 0 && left() < static_cast<std::size_t>(n)) return std::nullopt;
    std::uint64_t v = 0;
    while (n > 0) {
      const int room = 8 - static_cast<int>(pos_ % 8);
      const int take = std::min(room, n);
      const unsigned byte = bytes_[pos_ / 8];
      v = (v << take) | ((byte >> (room - take)) & ((1u << take) - 1));
      pos_ += static_cast<std::size_t>(take);
      n -= take;
    }
    return v;
  }
  std::size_t left() const { return bytes_.size() * 8 - pos_; }
  std::size_t byte() const { return pos_ / 8; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_;
};

bool fits(std::int64_t v, int bits) {
  const std::int64_t lim = std::int64_t{1} << (bits - 1);
  return v >= -lim && v < lim;
}

std::int64_t sign_extend(std::uint64_t v, int bits) {
  if (bits == 64) return static_cast<std::int64_t>(v);
  const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
  return static_cast<std::int64_t>((v ^ sign) - sign);
}

Error bad(const std::string& what, std::size_t byte) {
  return Error{ErrorKind::kParse, "chunk: " + what + " (byte " + std::to_string(byte) + ")"};
}

struct DodBucket {
  int prefix_bits;
  std::uint64_t prefix;
  int value_bits;
};
// Timestamps are in ms and taken by timers a few ms late or early: most
// delta-of-deltas are small, hence a 7-bit first bucket (Gorilla's
// seconds needed none that small).
constexpr DodBucket kBuckets[] = {{2, 0b10, 7}, {3, 0b110, 14}, {4, 0b1110, 20}, {4, 0b1111, 64}};

}  // namespace

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

Result<std::uint64_t> read_varint(std::span<const std::uint8_t> bytes, std::size_t& pos, std::string_view what) {
  auto fault = [&](const char* how, std::size_t at) {
    return tl::unexpected(
        Error{ErrorKind::kParse, std::string(what) + how + " (byte " + std::to_string(at) + ")"});
  };
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= bytes.size()) return fault(" is cut short", pos);
    const std::uint8_t b = bytes[pos++];
    if (shift == 63 && b > 1) return fault(" is over 64 bits", pos - 1);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return fault(" is over 64 bits", pos - 1);
}

void Encoder::add(Point p) {
  const std::uint64_t ts = static_cast<std::uint64_t>(p.ts_ms);
  const std::uint64_t bits = bits_of(p.value);
  if (count_ == 0) {
    first_ts_ = p.ts_ms;
    first_bits_ = bits;
    min_ts_ = max_ts_ = p.ts_ms;
    prev_ts_ = ts;
    prev_delta_ = 0;
    prev_bits_ = bits;
    last_ts_ = p.ts_ms;
    ++count_;
    return;
  }
  if (p.ts_ms < last_ts_) sorted_ = false;
  last_ts_ = p.ts_ms;
  min_ts_ = std::min(min_ts_, p.ts_ms);
  max_ts_ = std::max(max_ts_, p.ts_ms);
  BitWriter w(stream_, used_);
  const std::uint64_t delta = ts - prev_ts_;
  const auto dod = static_cast<std::int64_t>(delta - prev_delta_);
  if (dod == 0) {
    w.put(0, 1);
  } else {
    for (const auto& b : kBuckets) {
      if (b.value_bits == 64 || fits(dod, b.value_bits)) {
        w.put(b.prefix, b.prefix_bits);
        w.put(static_cast<std::uint64_t>(dod), b.value_bits);
        break;
      }
    }
  }
  prev_ts_ = ts;
  prev_delta_ = delta;

  const std::uint64_t x = bits ^ prev_bits_;
  prev_bits_ = bits;
  ++count_;
  if (x == 0) {
    w.put(0, 1);
    return;
  }
  const int l = std::countl_zero(x), t = std::countr_zero(x);
  if (lead_ >= 0 && l >= lead_ && t >= trail_) {
    w.put(0b10, 2);
    w.put(x >> trail_, 64 - lead_ - trail_);
    return;
  }
  lead_ = l;
  trail_ = t;
  const int len = 64 - l - t;
  w.put(0b11, 2);
  w.put(static_cast<std::uint64_t>(l), 6);
  w.put(static_cast<std::uint64_t>(len - 1), 6);
  w.put(x >> t, len);
}

std::vector<std::uint8_t> Encoder::finish() const {
  std::vector<std::uint8_t> out;
  out.reserve(20 + stream_.size());
  out.push_back(kVersion);
  put_varint(out, count_);
  if (count_ == 0) return out;
  put_varint(out, zigzag(first_ts_));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(first_bits_ >> (8 * i)));
  out.insert(out.end(), stream_.begin(), stream_.end());
  return out;
}

std::vector<std::uint8_t> encode(std::span<const Point> points) {
  Encoder e;
  for (const Point& p : points) e.add(p);
  return e.finish();
}

Result<std::vector<Point>> decode(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return tl::unexpected(bad("empty", 0));
  if (bytes[0] != kVersion) return tl::unexpected(bad("unknown version " + std::to_string(bytes[0]), 0));
  std::size_t pos = 1;
  auto varint = [&](const char* what) -> Result<std::uint64_t> {
    auto v = read_varint(bytes, pos, what);
    if (!v) return tl::unexpected(Error{ErrorKind::kParse, "chunk: " + v.error().message});
    return v;
  };
  auto count = varint("the count");
  if (!count) return tl::unexpected(count.error());
  std::vector<Point> out;
  if (*count == 0) {
    if (pos != bytes.size()) return tl::unexpected(bad("bytes after an empty chunk", pos));
    return out;
  }
  auto first_ts = varint("the first timestamp");
  if (!first_ts) return tl::unexpected(first_ts.error());
  if (bytes.size() - pos < 8) return tl::unexpected(bad("the first value is cut short", pos));
  std::uint64_t prev_bits = 0;
  for (int i = 0; i < 8; ++i) prev_bits |= static_cast<std::uint64_t>(bytes[pos + static_cast<std::size_t>(i)]) << (8 * i);
  pos += 8;
  // Each further sample takes at least 2 bits: a count beyond that is a
  // lie, refused before anything is allocated for it.
  const std::uint64_t room = (bytes.size() - pos) * 4;
  if (*count - 1 > room) {
    return tl::unexpected(bad("declares " + std::to_string(*count) + " samples, which " +
                                  std::to_string(bytes.size()) + " bytes cannot hold",
                              1));
  }
  out.reserve(static_cast<std::size_t>(*count));
  std::uint64_t prev_ts = static_cast<std::uint64_t>(unzigzag(*first_ts)), prev_delta = 0;
  out.push_back(Point{static_cast<std::int64_t>(prev_ts), std::bit_cast<double>(prev_bits)});
  BitReader r(bytes, pos);
  int lead = -1, trail = 0;
  const auto cut = [&] { return tl::unexpected(bad("cut short in sample " + std::to_string(out.size()), r.byte())); };
  for (std::uint64_t i = 1; i < *count; ++i) {
    // Timestamp: the prefix's ones say the bucket.
    int ones = 0;
    while (ones < 4) {
      auto b = r.get(1);
      if (!b) return cut();
      if (*b == 0) break;
      ++ones;
    }
    std::int64_t dod = 0;
    if (ones > 0) {
      const int n = kBuckets[ones - 1].value_bits;
      auto v = r.get(n);
      if (!v) return cut();
      dod = sign_extend(*v, n);
    }
    const std::uint64_t delta = prev_delta + static_cast<std::uint64_t>(dod);
    prev_ts += delta;
    prev_delta = delta;

    auto control = r.get(1);
    if (!control) return cut();
    if (*control == 1) {
      auto kind = r.get(1);
      if (!kind) return cut();
      std::uint64_t x = 0;
      if (*kind == 0) {
        if (lead < 0) return tl::unexpected(bad("a value in a window before any window was set", r.byte()));
        auto v = r.get(64 - lead - trail);
        if (!v) return cut();
        x = *v << trail;
      } else {
        auto l = r.get(6), len = r.get(6);
        if (!l || !len) return cut();
        const int meaningful = static_cast<int>(*len) + 1;
        if (static_cast<int>(*l) + meaningful > 64) {
          return tl::unexpected(bad("a window of " + std::to_string(*l) + " leading zeros and " +
                                        std::to_string(meaningful) + " bits is wider than 64 bits",
                                    r.byte()));
        }
        auto v = r.get(meaningful);
        if (!v) return cut();
        lead = static_cast<int>(*l);
        trail = 64 - lead - meaningful;
        x = *v << trail;
      }
      prev_bits ^= x;
    }
    out.push_back(Point{static_cast<std::int64_t>(prev_ts), std::bit_cast<double>(prev_bits)});
  }
  if (r.left() >= 8) return tl::unexpected(bad(std::to_string(r.left() / 8) + " bytes after the last sample", r.byte()));
  auto padding = r.get(static_cast<int>(r.left()));
  if (padding && *padding != 0) return tl::unexpected(bad("padding bits are not zero", bytes.size() - 1));
  return out;
}

}  // namespace vigil::chunk
