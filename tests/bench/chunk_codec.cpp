// The chunk codec alone (store/chunk.hpp, issue 15), before compaction uses
// it: how fast it encodes and decodes, and how small it makes a few kinds
// of series 2 hours long at 1 s (7,200 samples each). Prints medians of 9
// runs; never fails on a figure:
//   chunk_encode_samples_per_second, chunk_decode_samples_per_second
//       over all the kinds below together, one core
//   chunk_bytes_per_sample_KIND      constant (a limit), counter (a byte
//       counter growing by varying amounts), gauge (memory moving by pages
//       now and then), jitter (timestamps 0-20 ms late), random (64 random bits)
// The store's own target (<= 1.0 B/sample on what vigild records) is for
// the realistic replay that comes with compaction; these are synthetic.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "store/chunk.hpp"

using vigil::chunk::Point;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSamples = 7200;
constexpr std::int64_t kT0 = 1'796'000'000'000;

std::vector<std::pair<std::string, std::vector<Point>>> series() {
  std::mt19937_64 rng(42);
  std::vector<std::pair<std::string, std::vector<Point>>> out;
  std::vector<Point> constant, counter, gauge, jitter, random;
  double bytes = 0, rss = 48.0 * 1024 * 1024;
  for (int i = 0; i < kSamples; ++i) {
    const std::int64_t t = kT0 + i * 1000LL;
    constant.push_back({t, 1073741824.0});
    bytes += static_cast<double>(rng() % 20000);
    counter.push_back({t, bytes});
    if (rng() % 10 == 0) rss += static_cast<double>(static_cast<int>(rng() % 9) - 4) * 4096;
    gauge.push_back({t, rss});
    jitter.push_back({t + static_cast<std::int64_t>(rng() % 21), 0.5});
    random.push_back({t, std::bit_cast<double>(rng())});
  }
  out.emplace_back("constant", std::move(constant));
  out.emplace_back("counter", std::move(counter));
  out.emplace_back("gauge", std::move(gauge));
  out.emplace_back("jitter", std::move(jitter));
  out.emplace_back("random", std::move(random));
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  const auto all = series();
  std::size_t total = 0;
  for (const auto& [name, points] : all) total += points.size();
  std::vector<double> enc, dec;
  std::size_t checksum = 0;
  for (int run = 0; run < 9; ++run) {
    std::vector<std::vector<std::uint8_t>> chunks;
    const auto t0 = Clock::now();
    for (const auto& [name, points] : all) chunks.push_back(vigil::chunk::encode(points));
    const auto t1 = Clock::now();
    for (const auto& c : chunks) {
      auto back = vigil::chunk::decode(c);
      if (!back) {
        std::fprintf(stderr, "decode failed: %s\n", back.error().message.c_str());
        return 1;
      }
      checksum += back->size();
    }
    const auto t2 = Clock::now();
    enc.push_back(static_cast<double>(total) / std::chrono::duration<double>(t1 - t0).count());
    dec.push_back(static_cast<double>(total) / std::chrono::duration<double>(t2 - t1).count());
  }
  if (checksum != total * 9) {
    std::fprintf(stderr, "decoded %zu samples, expected %zu\n", checksum, total * 9);
    return 1;
  }
  std::printf("figure chunk_encode_samples_per_second %.0f samples/s\n", median(enc));
  std::printf("figure chunk_decode_samples_per_second %.0f samples/s\n", median(dec));
  for (const auto& [name, points] : all) {
    const auto bytes = vigil::chunk::encode(points);
    std::printf("figure chunk_bytes_per_sample_%s %.3f B\n", name.c_str(),
                static_cast<double>(bytes.size()) / static_cast<double>(points.size()));
  }
  return 0;
}
