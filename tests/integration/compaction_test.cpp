// Compaction survives kill -9 (issue 15). The real vigild compacts a head
// that holds days of old samples (written into its store while it is
// stopped, as a store from before compaction would hold them, plus late
// samples into windows already compacted); the test kills it with SIGKILL
// at random points and, after each kill, reads every old sample through the
// store's one read path and checks that each one is there exactly once
// (count and an order-free hash of (ts, value) per series), that
// integrity_check says ok, and that no store was moved aside. A kill counts
// as "during compaction" when the store changed since the start and old
// rows are still in the head; the test goes on until 50 such kills.
#define BOOST_TEST_MODULE integration_compaction
#include <sqlite3.h>

#include <bit>
#include <random>
#include <thread>

#include "store/store.hpp"
#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

constexpr int kSeries = 40;
constexpr std::int64_t kHour = 3'600'000;
constexpr int kMidKillsWanted = 50;
constexpr int kMaxRounds = 250;

struct Print {
  std::uint64_t count = 0;
  std::uint64_t hash = 0;  // sum of mix(ts, value bits): the same in any order
  bool operator==(const Print&) const = default;
};

std::uint64_t mix(std::int64_t ts, double value) {
  std::uint64_t z = static_cast<std::uint64_t>(ts) * 0x9e3779b97f4a7c15ULL ^ std::bit_cast<std::uint64_t>(value);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct StoreState {
  long head_old = 0;  // head rows older than the cut (the test's own)
  long chunk_samples = 0;
  long chunks = 0;
  bool operator==(const StoreState&) const = default;
};

long count(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  long n = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    n = static_cast<long>(sqlite3_column_int64(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return n;
}

struct Db {
  sqlite3* db = nullptr;
  explicit Db(const std::string& path) {
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_busy_timeout(db, 5000);
  }
  ~Db() { sqlite3_close(db); }
};

StoreState state_of(const std::string& path, std::int64_t cut) {
  Db db(path);
  return StoreState{count(db.db, "SELECT count(*) FROM samples_head WHERE ts < " + std::to_string(cut)),
                    count(db.db, "SELECT coalesce(sum(count), 0) FROM chunks"),
                    count(db.db, "SELECT count(*) FROM chunks")};
}

// Two hours of temp_c{room="a"} a minute apart (20, 21, ...) from `hour`,
// compacted into two chunks (and their rollups).
void write_two_hours(const std::string& path, std::int64_t hour) {
  vigil::StoreOptions o;
  o.path = path;
  o.flush_interval = std::chrono::hours(1);
  auto writer = vigil::StoreWriter::open(o, nullptr);
  BOOST_REQUIRE(writer.has_value());
  std::vector<vigil::Sample> samples;
  for (int k = 0; k < 120; ++k) {
    samples.push_back(vigil::Sample{vigil::SeriesKey("temp_c", {{"room", "a"}}), hour + k * 60'000, 20.0 + k});
  }
  (*writer)->enqueue(std::move(samples));
  BOOST_REQUIRE((*writer)->flush());
  BOOST_REQUIRE((*writer)->compact());
  BOOST_TEST((*writer)->stats().chunks_written == 2u);
}

// A change made behind the store's back (damage, what retention does).
void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  BOOST_REQUIRE(rc == SQLITE_OK);
}

}  // namespace

BOOST_AUTO_TEST_CASE(kill_9_during_compaction_loses_and_duplicates_no_sample) {
  const unsigned seed = std::random_device{}();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937 rng(seed);
  // The test's samples are ten days old: kept past the default 7 days.
  Vigil v("[store]\nretention_raw = \"30d\"\n");
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(30s, [&] { return fs::exists(v.db()); }), v.log());
  BOOST_REQUIRE(v.stop().value_or(-1) == 0);

  // Old data: ten days ago and after, an hour-aligned start.
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::int64_t base = (now - 10 * 24 * kHour) / kHour * kHour;
  const std::int64_t cut = now - 24 * kHour;  // everything the test writes is older
  std::map<std::string, Print> expected;      // series canonical -> print
  int batches = 0;
  // One batch: every series, a sample every 2 s (a timer's jitter) for 3
  // hours after the previous batch, and 50 late samples per series into
  // the first batch's windows (merged into chunks that exist already).
  auto add_batch = [&] {
    vigil::StoreOptions o;
    o.path = v.db();
    o.compact = false;  // written as a store from before compaction holds it
    o.flush_interval = std::chrono::hours(1);
    o.queue_capacity = 1'000'000;
    auto writer = vigil::StoreWriter::open(o, nullptr);
    BOOST_REQUIRE_MESSAGE(writer.has_value(), (writer ? std::string() : writer.error().message));
    std::uniform_int_distribution<int> jitter(-4, 4);
    std::uniform_int_distribution<std::int64_t> early(0, 3 * kHour - 1);
    const std::int64_t from = base + batches * 3 * kHour;
    for (int s = 0; s < kSeries; ++s) {
      const vigil::SeriesKey key("compaction_test_value", {{"s", std::to_string(s)}});
      std::vector<vigil::Sample> samples;
      auto add = [&](std::int64_t ts, double value) {
        samples.push_back(vigil::Sample{key, ts, value});
        Print& p = expected[key.canonical()];
        ++p.count;
        p.hash += mix(ts, value);
      };
      for (int k = 0; k < 3 * 1800; ++k) add(from + k * 2000 + jitter(rng), s % 3 == 0 ? 7.0 : k * 0.5 + s);
      if (batches > 0) {
        for (int k = 0; k < 50; ++k) add(base + early(rng), -k);
      }
      (*writer)->enqueue(std::move(samples));
    }
    BOOST_REQUIRE((*writer)->flush());
    (*writer)->close();
    ++batches;
  };

  int rounds = 0, mid = 0, finished = 0, before_start = 0;
  long lost_or_duplicated = 0;
  int corrupt = 0;
  std::uniform_int_distribution<int> pause_ms(0, 400);
  while (mid < kMidKillsWanted && rounds < kMaxRounds) {
    if (state_of(v.db(), cut).head_old == 0) add_batch();
    const StoreState before = state_of(v.db(), cut);
    v.start();
    // The kill point, not a synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    v.daemon.signal(SIGKILL);
    BOOST_REQUIRE(v.daemon.wait(10s).has_value());
    ++rounds;
    const StoreState after = state_of(v.db(), cut);
    if (after == before) {
      ++before_start;
    } else if (after.head_old > 0) {
      ++mid;
    } else {
      ++finished;
    }

    {
      Db db(v.db());
      sqlite3_stmt* stmt = nullptr;
      std::string verdict;
      if (sqlite3_prepare_v2(db.db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
          sqlite3_step(stmt) == SQLITE_ROW) {
        verdict = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      }
      sqlite3_finalize(stmt);
      if (verdict != "ok") ++corrupt;
    }
    auto reader = vigil::StoreReader::open(v.db());
    BOOST_REQUIRE_MESSAGE(reader.has_value(), (reader ? std::string() : reader.error().message));
    auto all = reader->query("compaction_test_value", {}, 0, cut);
    BOOST_REQUIRE_MESSAGE(all.has_value(), (all ? std::string() : all.error().message));
    std::map<std::string, Print> got;
    for (const auto& s : *all) {
      BOOST_TEST(s.damaged.empty());
      Print& p = got[s.series.key.canonical()];
      for (const auto& point : s.points) {
        ++p.count;
        p.hash += mix(point.ts_ms, point.value);
      }
    }
    for (const auto& [key, want] : expected) {
      const Print have = got.count(key) != 0 ? got[key] : Print{};
      if (!(have == want)) {
        ++lost_or_duplicated;
        BOOST_TEST_MESSAGE("round " << rounds << ": " << key << " has " << have.count << " samples, wants "
                                    << want.count);
      }
    }
    if (rounds % 10 == 0) {
      std::printf("compaction kill9: %d kills (%d during compaction, %d before it began, %d after it ended), %d "
                  "batches, %ld series wrong\n",
                  rounds, mid, before_start, finished, batches, lost_or_duplicated);
      std::fflush(stdout);
    }
  }
  BOOST_TEST_MESSAGE("kills " << rounds << ", during compaction " << mid << ", before " << before_start
                              << ", after " << finished << ", batches " << batches);
  BOOST_TEST(mid >= kMidKillsWanted, "only " << mid << " of " << rounds << " kills landed during compaction");
  BOOST_TEST(lost_or_duplicated == 0);
  BOOST_TEST(corrupt == 0);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(v.dir.path / "state", ec)) {
    BOOST_TEST(e.path().filename().string().find("vigil.db.corrupt-") != 0, e.path());
  }

  // Left to finish, vigild compacts everything old and the head keeps only
  // the open windows.
  v.start();
  BOOST_TEST(wait_for(60s, [&] { return state_of(v.db(), cut).head_old == 0; }), v.log());
  BOOST_TEST(v.stop().value_or(-1) == 0);
  auto reader = vigil::StoreReader::open(v.db());
  BOOST_REQUIRE(reader.has_value());
  auto all = reader->query("compaction_test_value", {}, 0, cut);
  BOOST_REQUIRE(all.has_value());
  std::uint64_t total = 0, want_total = 0;
  for (const auto& s : *all) total += s.points.size();
  for (const auto& [key, want] : expected) want_total += want.count;
  BOOST_TEST(total == want_total);
}

// A chunk whose BLOB is damaged: vigil query prints the rest, says on
// stderr which chunk it left out, and exits 0.
BOOST_AUTO_TEST_CASE(vigil_query_skips_a_damaged_chunk_with_a_warning) {
  TempDir dir;
  const std::string path = dir / "vigil.db";
  const std::int64_t hour = 1'000'000'000'000 / kHour * kHour;  // 2001: long closed
  write_two_hours(path, hour);
  // Sound: db check says ok; db stats counts the chunks and samples.
  RunResult ok = run({env_path("VIGIL"), "db", "check", "--db", path});
  BOOST_TEST(ok.exit_code == 0, ok.out << ok.err);
  BOOST_TEST(ok.out.find("ok: ") == 0, ok.out);
  RunResult stats = run({env_path("VIGIL"), "db", "stats", "--format", "json", "--db", path});
  BOOST_TEST(stats.exit_code == 0, stats.err);
  auto j = nlohmann::json::parse(stats.out, nullptr, false);
  BOOST_REQUIRE_MESSAGE(!j.is_discarded(), stats.out);
  BOOST_TEST(j["samples"] == 120);
  BOOST_TEST(j["tiers"]["raw"]["chunks"] == 2);
  BOOST_TEST(j["tiers"]["raw"]["samples"] == 120);
  BOOST_TEST(j["tiers"]["head"]["samples"] == 0);
  BOOST_TEST(j["chunk_span_ms"] == 3'600'000);
  BOOST_TEST(j["tiers"]["raw"]["bytes_per_sample"].is_number());
  RunResult table = run({env_path("VIGIL"), "db", "stats", "--db", path});
  BOOST_TEST(table.exit_code == 0, table.err);
  BOOST_TEST(table.out.find("raw (2 chunks of 1h)") != std::string::npos, table.out);
  BOOST_TEST(table.out.find("1m rollup (2 rows)") != std::string::npos, table.out);
  BOOST_TEST(j["tiers"]["rollup_1m"]["rows"] == 2);
  BOOST_TEST(j["tiers"]["rollup_1h"]["rows"] == 1);  // a day's row
  // Steps: 10-minute maxima (from the 1 min rollups), hourly counts (1 h).
  auto stepped = [&](const std::string& step, const std::string& agg) {
    RunResult q = run({env_path("VIGIL"), "query", "temp_c", "--since", "2001-09-09T00:00:00Z", "--until",
                       "2001-09-09T06:00:00Z", "--step", step, "--agg", agg, "--format", "json", "--db", path});
    BOOST_TEST(q.exit_code == 0, q.err);
    BOOST_TEST(q.err.empty(), q.err);
    auto out = nlohmann::json::parse(q.out, nullptr, false);
    BOOST_REQUIRE_MESSAGE(!out.is_discarded() && out.size() == 1u, q.out);
    return out[0];
  };
  const auto maxima = stepped("10m", "max");
  BOOST_TEST(maxima["tier_ms"] == 60'000);
  BOOST_REQUIRE_EQUAL(maxima["points"].size(), 12u);
  for (int i = 0; i < 12; ++i) {
    BOOST_TEST(maxima["points"][i]["ts"] == hour + i * 600'000);
    BOOST_TEST(maxima["points"][i]["value"] == 20.0 + 10 * i + 9);
  }
  exec_sql(path, "UPDATE chunks SET data = x'01FFFF' WHERE window_start = " + std::to_string(hour));
  RunResult r = run({env_path("VIGIL"), "query", "temp_c", "--since", "2001-09-09T00:00:00Z", "--until",
                     "2001-09-09T06:00:00Z", "--format", "csv", "--db", path});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.find("warning: temp_c{room=\"a\"}: the chunk of 2001-09-09T01:00:00.000Z: chunk: ") == 0, r.err);
  BOOST_TEST(r.err.find("its samples are left out") != std::string::npos, r.err);
  // The second hour's 60 samples, and the header.
  BOOST_TEST(std::count(r.out.begin(), r.out.end(), '\n') == 61, r.out);
  // A stepped query reads the damaged hour's rollups: all 120 samples
  // counted, no warning.
  const auto counts = stepped("1h", "count");
  BOOST_TEST(counts["tier_ms"] == 3'600'000);
  BOOST_REQUIRE_EQUAL(counts["points"].size(), 2u);
  BOOST_TEST(counts["points"][0]["value"] == 60.0);
  BOOST_TEST(counts["points"][1]["value"] == 60.0);
  // db check names the chunk and what is wrong with it, and exits 1.
  RunResult bad = run({env_path("VIGIL"), "db", "check", "--db", path});
  BOOST_TEST(bad.exit_code == 1, bad.out << bad.err);
  BOOST_TEST(bad.out.find("temp_c{room=\"a\"} at 2001-09-09T01:00:00.000Z: chunk: ") != std::string::npos, bad.out);
  BOOST_TEST(bad.out.find("1 finding") != std::string::npos, bad.out);
  // A damaged rollup row is a finding too.
  exec_sql(path, "UPDATE rollups SET data = x'07' WHERE step_ms = 3600000");
  RunResult worse = run({env_path("VIGIL"), "db", "check", "--db", path});
  BOOST_TEST(worse.exit_code == 1, worse.out << worse.err);
  BOOST_TEST(worse.out.find("rollup row (1h) of series 1 temp_c{room=\"a\"} at 2001-09-09T00:00:00.000Z: rollup: "
                            "unknown version 7") != std::string::npos,
             worse.out);
  BOOST_TEST(worse.out.find("2 findings") != std::string::npos, worse.out);
  RunResult csv = run({env_path("VIGIL"), "db", "stats", "--format", "csv", "--db", path});
  BOOST_TEST(csv.exit_code == 2, csv.err);
  BOOST_TEST(csv.err.find("not csv") != std::string::npos, csv.err);
}

// Retention took a range's samples and left its rollups: vigil query says
// so and which step reads them; with that step it answers.
BOOST_AUTO_TEST_CASE(vigil_query_points_to_the_rollups_retention_left) {
  TempDir dir;
  const std::string path = dir / "vigil.db";
  const std::int64_t hour = 1'000'000'000'000 / kHour * kHour;  // 2001
  write_two_hours(path, hour);
  exec_sql(path, "DELETE FROM chunks");  // what retention_raw does to hours this old
  const std::vector<std::string> range = {"--since", "2001-09-09T00:00:00Z", "--until", "2001-09-09T06:00:00Z",
                                          "--db", path};
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), env_path("VIGIL"));
    args.insert(args.end(), range.begin(), range.end());
    return run(args);
  };
  RunResult raw = cli({"query", "temp_c"});
  BOOST_TEST(raw.exit_code == 0, raw.err);
  BOOST_TEST(raw.out.empty(), raw.out);
  BOOST_TEST(raw.err.find("no samples of temp_c") == 0, raw.err);
  BOOST_TEST(raw.err.find("its rollups remain: add --step 1m (or a multiple)") != std::string::npos, raw.err);
  RunResult stepped = cli({"query", "temp_c", "--step", "30m", "--agg", "max", "--format", "csv"});
  BOOST_TEST(stepped.exit_code == 0, stepped.err);
  // The header and four half hours, their maxima 49, 79, 109, 139.
  BOOST_TEST(stepped.out.find(",49\n") != std::string::npos, stepped.out);
  BOOST_TEST(stepped.out.find(",139\n") != std::string::npos, stepped.out);
  BOOST_TEST(std::count(stepped.out.begin(), stepped.out.end(), '\n') == 5, stepped.out);
}
