// Head-store ingest: 1,000 series, one sample per series per tick, batches
// of 1,000 samples enqueued as the daemon would, committed by the writer
// thread back to back (a flusher thread asks for a commit as soon as the
// previous one finished). Prints medians over several runs:
//   store_head_ingest_samples_per_second  first enqueue -> last commit
//   store_head_ingest_us_per_sample       writer time (sum of commit times) / samples
//   store_head_bytes_per_sample           database file size / samples
// Timings are read, never asserted.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "store/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSeries = 1000;
constexpr int kTicks = 2000;  // 2,000,000 samples per run
constexpr int kRuns = 5;

struct RunResult {
  double samples_per_second = 0;
  double writer_us_per_sample = 0;
  double bytes_per_sample = 0;
  std::uint64_t commits = 0;
  std::uint64_t dropped = 0;
};

std::vector<vigil::SeriesKey> make_keys() {
  std::vector<vigil::SeriesKey> keys;
  const char* metrics[] = {"process_resident_memory_bytes", "process_cpu_seconds_total",
                           "process_open_fds", "container_memory_working_set_bytes"};
  for (int i = 0; i < kSeries; ++i) {
    keys.emplace_back(metrics[i % 4], vigil::Labels{{"target", "svc" + std::to_string(i / 4)},
                                                    {"host", "bench"}});
  }
  return keys;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// commit_every_tick: one commit per 1,000-sample batch (the daemon with a
// 1 s tick and a 1 s flush interval) instead of back-to-back commits.
RunResult run_once(const std::vector<vigil::SeriesKey>& keys, int ticks, bool commit_every_tick) {
  char dir_template[] = "/tmp/vigil-store-bench-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  const std::string path = std::string(dir) + "/vigil.db";

  vigil::StoreOptions options;
  options.path = path;
  options.flush_interval = std::chrono::hours(1);  // commits come from the flusher only
  options.queue_capacity = static_cast<std::size_t>(kSeries) * static_cast<std::size_t>(ticks);
  auto writer = vigil::StoreWriter::open(options, nullptr);
  if (!writer) {
    std::fprintf(stderr, "open failed: %s\n", writer.error().message.c_str());
    std::exit(1);
  }
  vigil::StoreWriter& w = **writer;

  // The producer builds each tick's batch as the probes would (copying the
  // keys), so the writer takes whatever accumulated during its last commit.
  const vigil::WallMs t0 = 1'800'000'000'000;
  auto make_batch = [&](int tick) {
    std::vector<vigil::Sample> batch;
    batch.reserve(kSeries);
    for (int s = 0; s < kSeries; ++s) {
      batch.push_back(vigil::Sample{keys[static_cast<std::size_t>(s)], t0 + tick * 1000LL,
                                    static_cast<double>(tick * kSeries + s) * 0.5});
    }
    return batch;
  };

  // The flusher sums the duration of every commit: with a one-hour interval
  // each flush() is exactly one writer cycle, so the stats read right after
  // it describe that commit.
  std::atomic<bool> producing{true};
  double writer_seconds = 0;
  std::uint64_t seen_commits = 0;
  auto account = [&] {
    const vigil::WriterStats stats = w.stats();
    if (stats.commits > seen_commits) {
      seen_commits = stats.commits;
      writer_seconds += stats.last_commit_seconds;
    }
  };
  const auto start = Clock::now();
  std::thread flusher([&] {
    while (producing.load() && !commit_every_tick) {
      if (auto r = w.flush(); !r) std::fprintf(stderr, "flush: %s\n", r.error().message.c_str());
      account();
    }
  });
  for (int tick = 0; tick < ticks; ++tick) {
    w.enqueue(make_batch(tick));
    if (commit_every_tick) {
      if (auto r = w.flush(); !r) std::fprintf(stderr, "flush: %s\n", r.error().message.c_str());
      account();
    }
  }
  producing.store(false);
  flusher.join();
  if (auto r = w.flush(); !r) std::fprintf(stderr, "flush: %s\n", r.error().message.c_str());
  account();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  const vigil::WriterStats stats = w.stats();
  w.close();  // checkpoints the WAL into the database file
  const double samples = static_cast<double>(stats.samples_committed);
  RunResult result;
  result.samples_per_second = samples / elapsed;
  result.writer_us_per_sample = writer_seconds * 1e6 / samples;
  std::error_code ec;
  std::uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (std::filesystem::exists(path + "-wal")) bytes += std::filesystem::file_size(path + "-wal", ec);
  result.bytes_per_sample = static_cast<double>(bytes) / samples;
  result.commits = stats.commits;
  result.dropped = stats.samples_dropped;
  if (stats.samples_committed != static_cast<std::uint64_t>(kSeries) * static_cast<std::uint64_t>(ticks)) {
    std::fprintf(stderr, "committed %llu samples, expected %d\n",
                 static_cast<unsigned long long>(stats.samples_committed), kSeries * ticks);
  }
  std::filesystem::remove_all(dir, ec);
  return result;
}

}  // namespace

int main() {
  vigil::set_log_level(vigil::LogLevel::kWarning);
  const auto keys = make_keys();
  std::vector<double> rates, us, bytes, tick_us;
  for (int run = 0; run < kRuns; ++run) {
    const RunResult r = run_once(keys, kTicks, false);
    std::printf("run %d: %.0f samples/s end to end, writer %.3f us/sample, %.1f B/sample, "
                "%llu commits (%.0f samples each), %llu dropped\n",
                run + 1, r.samples_per_second, r.writer_us_per_sample, r.bytes_per_sample,
                static_cast<unsigned long long>(r.commits),
                static_cast<double>(kSeries) * kTicks /
                    static_cast<double>(std::max<std::uint64_t>(r.commits, 1)),
                static_cast<unsigned long long>(r.dropped));
    rates.push_back(r.samples_per_second);
    us.push_back(r.writer_us_per_sample);
    bytes.push_back(r.bytes_per_sample);
    const RunResult t = run_once(keys, kTicks / 4, true);
    std::printf("run %d, one commit per 1,000-sample tick: writer %.3f us/sample (%llu commits)\n",
                run + 1, t.writer_us_per_sample, static_cast<unsigned long long>(t.commits));
    tick_us.push_back(t.writer_us_per_sample);
  }
  std::printf("figure store_head_ingest_samples_per_second %.0f samples/s\n", median(rates));
  std::printf("figure store_head_ingest_us_per_sample %.3f us\n", median(us));
  std::printf("figure store_head_bytes_per_sample %.1f B\n", median(bytes));
  std::printf("figure store_head_tick_commit_us_per_sample %.3f us\n", median(tick_us));
  return 0;
}
