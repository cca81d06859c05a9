// The store at burn-in scale (issue 15): ingest through the head and
// compaction, bytes per sample in chunks against the head's layout, a
// 48-hour raw range query of one series, and a 48-hour query with a step
// of 200 series. Synthetic series shaped like
// what vigild records (most values integers: bytes, counts; some constant;
// counters; a few floats), one sample a second with a timer's jitter.
// Prints medians over several runs:
//   store_ingest_samples_per_second       2,000 series, 1.5 h, over the
//                                         writer thread's busy time (its
//                                         commits and compaction: one core);
//                                         compaction closes windows by the
//                                         replay's time
//   store_ingest_end_to_end_samples_per_second  first enqueue -> compaction
//                                         done, the producer on the other core
//   store_compaction_us_per_sample        the writer's time in compaction per
//                                         sample compacted; and what that is
//                                         of one core at the spine
//                                         benchmark's 464 samples/s
//   store_head_ingest_only_samples_per_second  the writer into the head alone
//                                         (schema 4's layout)
//   store_bytes_per_sample_synthetic      48 h of 20 series: the chunks
//                                         table's bytes / samples
//   store_file_bytes_48h_synthetic        that database file (the head's
//                                         last hour of pages included), and
//                                         beside it the head layout's file
//                                         and the ratio of the two
//   store_query_48h_raw_ms                one series, 48 h at 1 s (172,800
//                                         points), warm: median of 20
//   store_query_48h_raw_cold_ms           the same on a new connection after
//                                         the page cache was dropped (when
//                                         /proc/sys/vm/drop_caches is writable)
//   store_head_layout_query_48h_raw_ms    the same query on the head layout
//   store_bytes_per_sample_with_rollups_synthetic  chunks and rollups tables'
//                                         bytes / samples
//   store_query_48h_step_200_series_ms    200 series of one metric, 48 h at
//                                         1 s, the newest hour in the head:
//                                         one query, step 1 m, avg (from the
//                                         1 min rollups; also max), warm,
//                                         median of 11; beside it the 47
//                                         compacted hours alone, the same
//                                         from the samples alone, and p95
//                                         (always from the samples)
// Timings are read, never asserted.
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

// `metric`: every series of that one metric (a query's selector), else
// one metric per kind.
std::vector<Series> make_series(int n, const char* metric = nullptr) {
  std::vector<Series> out;
  const char* metrics[] = {"process_open_fds", "process_cpu_seconds_total", "process_resident_memory_bytes",
                           "check_duration_seconds"};
  for (int i = 0; i < n; ++i) {
    const int kind = i % 10 < 4 ? 0 : i % 10 < 7 ? 1 : i % 10 < 9 ? 2 : 3;
    out.push_back(Series{vigil::SeriesKey(metric != nullptr ? metric : metrics[kind],
                                          {{"target", "svc" + std::to_string(i)}}),
                         kind, kind == 2 ? 50e6 : 10});
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

std::vector<double> compaction_us;  // the writer's compaction time per sample compacted, per run
double writer_busy_seconds = 0;     // of the last write(): commits and compaction

// Writes `seconds` of every series through a writer (compacting or not),
// one batch per second, flushing every 10 s of data as the daemon's writer
// would take them; returns the writer's seconds from first enqueue to
// everything committed (and compacted).
// `open_hour`: the last hour stays open (in the head), as in a running
// vigild, instead of every window closing at the end.
double write(const std::string& path, std::vector<Series> series, int seconds, bool compact, bool open_hour = false) {
  // The replay's own time: each hour closes once, as in vigild, and not
  // while its samples are still being written.
  std::atomic<std::int64_t> replay_now{kT0};
  vigil::StoreOptions o;
  o.path = path;
  o.flush_interval = std::chrono::hours(1);
  o.queue_capacity = series.size() * 20;
  o.compact = compact;
  o.clock = [&replay_now] { return replay_now.load(); };
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
    if (t % 10 == 9) {
      replay_now = kT0 + t * 1000LL;
      (void)(*writer)->flush();
    }
  }
  if (auto r = (*writer)->flush(); !r) std::fprintf(stderr, "flush: %s\n", r.error().message.c_str());
  replay_now = open_hour ? kT0 + seconds * 1000LL - 1 : kT0 + seconds * 1000LL + 2 * kHour;
  if (compact) {
    if (auto r = (*writer)->compact(); !r) std::fprintf(stderr, "compact: %s\n", r.error().message.c_str());
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  const vigil::WriterStats stats = (*writer)->stats();
  if (stats.samples_dropped > 0) std::fprintf(stderr, "%llu samples dropped\n",
                                              static_cast<unsigned long long>(stats.samples_dropped));
  writer_busy_seconds = stats.commit_seconds + stats.compaction_seconds;
  if (compact && stats.samples_compacted > 0) {
    compaction_us.push_back(stats.compaction_seconds * 1e6 / static_cast<double>(stats.samples_compacted));
  }
  if (compact) {
    std::printf("  compaction: %llu windows, %llu chunks, %llu samples, %.2f s, longest step %.1f ms\n",
                static_cast<unsigned long long>(stats.compacted_windows),
                static_cast<unsigned long long>(stats.chunks_written),
                static_cast<unsigned long long>(stats.samples_compacted), stats.compaction_seconds,
                stats.compaction_step_max_seconds * 1e3);
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
  // STORE_BENCH_PART=step: only the step query's part (profiling it).
  const char* part = std::getenv("STORE_BENCH_PART");
  const bool only_step = part != nullptr && std::string(part) == "step";
  std::error_code ec;
  if (!only_step) {

  // Ingest through the head and compaction.
  std::vector<double> rates, end_to_end, head_rates;
  for (int run = 0; run < 3; ++run) {
    const auto series = make_series(2000);
    const int seconds = 5400;
    const std::string dir = temp_dir();
    const double samples = 2000.0 * seconds;
    end_to_end.push_back(samples / write(dir + "/vigil.db", series, seconds, true));
    rates.push_back(samples / writer_busy_seconds);
    write(dir + "/head.db", series, seconds, false);
    head_rates.push_back(samples / writer_busy_seconds);
    std::printf("run %d: %.0f samples/s of the writer thread through head and compaction (%.0f/s end to end, "
                "with the producer on the other core); into the head alone %.0f/s\n",
                run + 1, rates.back(), end_to_end.back(), head_rates.back());
    std::filesystem::remove_all(dir, ec);
  }
  std::printf("figure store_ingest_samples_per_second %.0f samples/s\n", median(rates));
  std::printf("figure store_ingest_end_to_end_samples_per_second %.0f samples/s\n", median(end_to_end));
  std::printf("figure store_head_ingest_only_samples_per_second %.0f samples/s\n", median(head_rates));
  const double us = median(compaction_us);
  std::printf("figure store_compaction_us_per_sample %.3f us\n", us);
  // vigild's spine workload (464 samples/s, the overhead benchmark's):
  // compaction's share of one core, from the cost per sample measured here.
  std::printf("figure store_compaction_cpu_percent_at_464_samples_per_second %.4f %%\n", 464.0 * us / 1e6 * 100);

  // 48 hours of 20 series: bytes, and one series' raw range.
  const auto series = make_series(20);
  const std::string dir = temp_dir();
  write(dir + "/vigil.db", series, 48 * 3600, true);
  write(dir + "/head.db", series, 48 * 3600, false);
  {
    auto reader = vigil::StoreReader::open(dir + "/vigil.db");
    auto st = reader ? reader->stats() : tl::unexpected(reader.error());
    if (!st) {
      std::fprintf(stderr, "stats: %s\n", st.error().message.c_str());
      return 1;
    }
    const double samples = static_cast<double>(st->chunk_samples);
    std::printf("48 h, 20 series: %llu chunks, %.0f samples; chunks table %llu B (BLOBs %llu B); file %llu B\n",
                static_cast<unsigned long long>(st->chunks), samples,
                static_cast<unsigned long long>(st->chunk_bytes),
                static_cast<unsigned long long>(st->chunk_payload_bytes),
                static_cast<unsigned long long>(st->file_bytes));
    std::printf("figure store_bytes_per_sample_synthetic %.3f B\n", static_cast<double>(st->chunk_bytes) / samples);
    std::printf("rollups: %llu B (1 min and 1 h tiers, with their index)\n",
                static_cast<unsigned long long>(st->rollup_bytes));
    std::printf("figure store_bytes_per_sample_with_rollups_synthetic %.3f B\n",
                static_cast<double>(st->chunk_bytes + st->rollup_bytes) / samples);
    std::printf("figure store_file_bytes_48h_synthetic %llu B\n", static_cast<unsigned long long>(file_bytes(dir + "/vigil.db")));
    std::printf("figure store_head_layout_file_bytes_48h_synthetic %llu B\n",
                static_cast<unsigned long long>(file_bytes(dir + "/head.db")));
    std::printf("figure store_file_bytes_48h_ratio_synthetic %.4f\n",
                static_cast<double>(file_bytes(dir + "/vigil.db")) / static_cast<double>(file_bytes(dir + "/head.db")));
  }
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
  std::filesystem::remove_all(dir, ec);
  }

  // 200 series of one metric over 48 h, the newest hour still in the head;
  // one query for all of them with a step of 1 m (2,880 steps each).
  // STORE_BENCH_DB=PATH: that store, written once and kept (profiling).
  const auto many = make_series(200, "process_resident_memory_bytes");
  const char* kept = std::getenv("STORE_BENCH_DB");
  const std::string db2 = kept != nullptr ? std::string(kept) : temp_dir() + "/vigil.db";
  if (kept == nullptr || !std::filesystem::exists(db2)) write(db2, many, 48 * 3600, true, true);
  auto step_query_ms = [&](vigil::Aggregation agg, bool rollups, std::size_t* steps, int hours = 48) {
    auto reader = vigil::StoreReader::open(db2);
    if (!reader) {
      std::fprintf(stderr, "reader: %s\n", reader.error().message.c_str());
      std::exit(1);
    }
    vigil::RangeQuery q;
    q.metric = "process_resident_memory_bytes";
    q.since = kT0;
    q.until = kT0 + hours * kHour - 1;
    q.step_ms = 60'000;
    q.agg = agg;
    q.rollups = rollups;
    const auto start = Clock::now();
    auto r = reader->query(q);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!r || r->size() != 200) {
      std::fprintf(stderr, "step query failed\n");
      std::exit(1);
    }
    *steps = 0;
    for (const auto& sp : *r) *steps += sp.points.size();
    return ms;
  };
  std::size_t steps = 0;
  std::vector<double> step_warm, step_max, step_raw;
  for (int i = 0; i < 12; ++i) step_warm.push_back(step_query_ms(vigil::Aggregation::kAvg, true, &steps));
  step_warm.erase(step_warm.begin());
  for (int i = 0; i < 11; ++i) step_max.push_back(step_query_ms(vigil::Aggregation::kMax, true, &steps));
  std::printf("step query of 200 series over 48 h at 1 m: %zu steps\n", steps);
  std::printf("figure store_query_48h_step_200_series_ms %.2f ms\n", median(step_warm));
  std::printf("figure store_query_48h_step_200_series_max_ms %.2f ms\n", median(step_max));
  // Its two parts: the 47 compacted hours (rollups), and the open hour
  // (the head's 720,000 rows, read row by row).
  std::vector<double> compacted;
  for (int i = 0; i < 11; ++i) compacted.push_back(step_query_ms(vigil::Aggregation::kAvg, true, &steps, 47));
  std::printf("figure store_query_47h_compacted_step_200_series_ms %.2f ms\n", median(compacted));
  for (int i = 0; i < 3; ++i) step_raw.push_back(step_query_ms(vigil::Aggregation::kAvg, false, &steps));
  std::printf("figure store_query_48h_step_200_series_from_samples_ms %.2f ms\n", median(step_raw));
  std::printf("figure store_query_48h_step_200_series_p95_ms %.2f ms\n",
              step_query_ms(vigil::Aggregation::kP95, true, &steps));
  if (kept == nullptr) std::filesystem::remove_all(std::filesystem::path(db2).parent_path(), ec);
  return 0;
}
