// The store at burn-in scale (issue 15), part one: ingest through the head
// and compaction, bytes per sample in chunks against the head's layout, and
// a 48-hour raw range query of one series. Synthetic series shaped like
// what vigild records (most values integers: bytes, counts; some constant;
// counters; a few floats), one sample a second with a timer's jitter.
// Prints medians over several runs:
//   store_ingest_samples_per_second       2,000 series, 1 h: first enqueue ->
//                                         compaction done (one writer thread)
//   store_bytes_per_sample_synthetic      database file / samples, compacted
//   store_head_layout_bytes_per_sample    the same data left in the head
//   store_query_48h_raw_ms                one series, 48 h at 1 s (172,800
//                                         points), warm: median of 20
//   store_query_48h_raw_cold_ms           the same on a new connection after
//                                         the page cache was dropped (when
//                                         /proc/sys/vm/drop_caches is writable)
//   store_head_layout_query_48h_raw_ms    the same query on the head layout
// Timings are read, never asserted.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "store/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kT0 = 1'700'000'000'000 / kHour * kHour;  // 2023: closed windows

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string temp_dir() {
  char tmpl[] = "/tmp/vigil-store-compaction-bench-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return dir;
}

std::uintmax_t file_bytes(const std::string& path) {
  std::error_code ec;
  std::uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (std::filesystem::exists(path + "-wal")) bytes += std::filesystem::file_size(path + "-wal", ec);
  return bytes;
}

// One series' values: the kind decides the pattern.
struct Series {
  vigil::SeriesKey key;
  int kind = 0;  // 0 constant, 1 counter, 2 integer gauge, 3 float
  double value = 0;
};

std::vector<Series> make_series(int n) {
  std::vector<Series> out;
  const char* metrics[] = {"process_open_fds", "process_cpu_seconds_total", "process_resident_memory_bytes",
                           "check_duration_seconds"};
  for (int i = 0; i < n; ++i) {
    const int kind = i % 10 < 4 ? 0 : i % 10 < 7 ? 1 : i % 10 < 9 ? 2 : 3;
    out.push_back(Series{vigil::SeriesKey(metrics[kind], {{"target", "svc" + std::to_string(i)}}), kind,
                         kind == 2 ? 50e6 : 10});
  }
  return out;
}

double next_value(Series& s, std::mt19937& rng) {
  switch (s.kind) {
    case 0:
      if (rng() % 600 == 0) s.value += 1;  // an fd now and then
      break;
    case 1: s.value += static_cast<double>(rng() % 5); break;
    case 2: s.value += (static_cast<double>(rng() % 9) - 4) * 4096; break;
    default: s.value = 0.001 + static_cast<double>(rng() % 1000) * 1e-6; break;
  }
  return s.value;
}

// Writes `seconds` of every series through a writer (compacting or not),
// one batch per second, flushing every 10 s of data as the daemon's writer
// would take them; returns the writer's seconds from first enqueue to
// everything committed (and compacted).
double write(const std::string& path, std::vector<Series> series, int seconds, bool compact) {
  vigil::StoreOptions o;
  o.path = path;
  o.flush_interval = std::chrono::hours(1);
  o.queue_capacity = series.size() * 20;
  o.compact = compact;
  auto writer = vigil::StoreWriter::open(o, nullptr);
  if (!writer) {
    std::fprintf(stderr, "open: %s\n", writer.error().message.c_str());
    std::exit(1);
  }
  std::mt19937 rng(11);
  const auto start = Clock::now();
  for (int t = 0; t < seconds; ++t) {
    std::vector<vigil::Sample> batch;
    batch.reserve(series.size());
    for (Series& s : series) {
      const std::int64_t ts = kT0 + t * 1000LL + static_cast<std::int64_t>(rng() % 7) - 3;
      batch.push_back(vigil::Sample{s.key, ts, next_value(s, rng)});
    }
    (*writer)->enqueue(std::move(batch));
    if (t % 10 == 9) (void)(*writer)->flush();
  }
  if (auto r = (*writer)->flush(); !r) std::fprintf(stderr, "flush: %s\n", r.error().message.c_str());
  if (compact) {
    if (auto r = (*writer)->compact(); !r) std::fprintf(stderr, "compact: %s\n", r.error().message.c_str());
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  const vigil::WriterStats stats = (*writer)->stats();
  if (stats.samples_dropped > 0) std::fprintf(stderr, "%llu samples dropped\n",
                                              static_cast<unsigned long long>(stats.samples_dropped));
  if (compact) {
    std::printf("  compaction: %llu windows, %llu chunks, %llu samples, longest step %.1f ms\n",
                static_cast<unsigned long long>(stats.compacted_windows),
                static_cast<unsigned long long>(stats.chunks_written),
                static_cast<unsigned long long>(stats.samples_compacted), stats.compaction_step_max_seconds * 1e3);
  }
  (*writer)->close();
  return took;
}

bool drop_page_cache() {
  ::sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  if (!f) return false;
  f << "3\n";
  return static_cast<bool>(f);
}

// Milliseconds for one query of the first series over the whole 48 h.
double query_ms(const std::string& path, const vigil::SeriesKey& key, std::size_t* points) {
  auto reader = vigil::StoreReader::open(path);
  if (!reader) {
    std::fprintf(stderr, "reader: %s\n", reader.error().message.c_str());
    std::exit(1);
  }
  const auto start = Clock::now();
  auto r = reader->query(key.metric, key.labels, kT0 - 10, kT0 + 48 * kHour);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!r || r->size() != 1) {
    std::fprintf(stderr, "query failed\n");
    std::exit(1);
  }
  *points = r->front().points.size();
  return ms;
}

}  // namespace

int main() {
  vigil::set_log_level(vigil::LogLevel::kWarning);

  // Ingest through the head and compaction, and the bytes it leaves.
  std::vector<double> rates, bytes, head_bytes;
  for (int run = 0; run < 3; ++run) {
    const auto series = make_series(2000);
    const int seconds = 3600;
    const std::string dir = temp_dir();
    const double took = write(dir + "/vigil.db", series, seconds, true);
    const double samples = 2000.0 * seconds;
    rates.push_back(samples / took);
    bytes.push_back(static_cast<double>(file_bytes(dir + "/vigil.db")) / samples);
    const double head_took = write(dir + "/head.db", series, seconds, false);
    head_bytes.push_back(static_cast<double>(file_bytes(dir + "/head.db")) / samples);
    std::printf("run %d: %.0f samples/s through head and compaction (head alone %.0f/s), %.3f B/sample "
                "compacted, %.1f B/sample in the head\n",
                run + 1, rates.back(), samples / head_took, bytes.back(), head_bytes.back());
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::printf("figure store_ingest_samples_per_second %.0f samples/s\n", median(rates));
  std::printf("figure store_bytes_per_sample_synthetic %.3f B\n", median(bytes));
  std::printf("figure store_head_layout_bytes_per_sample %.2f B\n", median(head_bytes));

  // 48 hours of 20 series: one series' raw range.
  const auto series = make_series(20);
  const std::string dir = temp_dir();
  write(dir + "/vigil.db", series, 48 * 3600, true);
  write(dir + "/head.db", series, 48 * 3600, false);
  std::size_t points = 0;
  std::vector<double> warm;
  for (int i = 0; i < 21; ++i) warm.push_back(query_ms(dir + "/vigil.db", series[1].key, &points));
  warm.erase(warm.begin());  // the first one warms the cache
  std::printf("query of one series over 48 h: %zu points\n", points);
  std::printf("figure store_query_48h_raw_ms %.2f ms\n", median(warm));
  if (drop_page_cache()) {
    std::printf("figure store_query_48h_raw_cold_ms %.2f ms\n", query_ms(dir + "/vigil.db", series[1].key, &points));
  } else {
    std::printf("(cold figure not measured: /proc/sys/vm/drop_caches is not writable)\n");
  }
  std::vector<double> head_warm;
  for (int i = 0; i < 6; ++i) head_warm.push_back(query_ms(dir + "/head.db", series[1].key, &points));
  head_warm.erase(head_warm.begin());
  std::printf("figure store_head_layout_query_48h_raw_ms %.2f ms\n", median(head_warm));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
