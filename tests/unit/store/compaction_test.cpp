// Compaction (store/compaction.hpp): the head's closed windows become one
// chunk per series and window; readers see every sample exactly once at
// every step, late samples merge into their window's chunk, a damaged
// chunk is skipped with a warning, and a store of schema version 4 (a
// fixture vigild wrote) is migrated and compacted without losing a sample.
#define BOOST_TEST_MODULE store_compaction
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <tuple>

#include "store/chunk.hpp"
#include "store/compaction.hpp"
#include "store/store.hpp"
#include "tests/unit/store/store_test_util.hpp"

using namespace vigil;
using vigil::test::options_for;
using vigil::test::sample;
using vigil::test::sql_count;
using vigil::test::sql_rows;
using vigil::test::TempDir;

namespace {

constexpr WallMs kSpan = 10'000;
constexpr WallMs kT0 = 1'000'000'000'000;  // a window start (2001): long closed

StoreOptions compacting(const std::string& path) {
  StoreOptions o = options_for(path);
  o.chunk_span = Millis(kSpan);
  return o;
}

using Expected = std::map<std::string, std::vector<std::pair<WallMs, double>>>;  // labels text -> sorted points

// What the reader returns for metric "m", by the series' "s" label.
Expected read_all(const std::string& path, std::vector<std::string>* damaged = nullptr) {
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  auto all = reader->query("m", {}, 0, std::numeric_limits<WallMs>::max() / 2);
  BOOST_REQUIRE_MESSAGE(all, vigil::test::why(all));
  Expected out;
  for (const auto& s : *all) {
    auto& points = out[s.series.key.labels.empty() ? "" : s.series.key.labels.front().second];
    for (const auto& p : s.points) points.emplace_back(p.ts_ms, p.value);
    if (damaged != nullptr) damaged->insert(damaged->end(), s.damaged.begin(), s.damaged.end());
  }
  return out;
}

void sort_points(Expected& e) {
  for (auto& [name, points] : e) {
    std::stable_sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
}

// Three series, about one sample a second with a timer's jitter over 3.5
// windows, committed in flushes of a few samples, one flush late (older
// samples after newer ones).
Expected write_history(StoreWriter& w, WallMs from, int seconds) {
  Expected expected;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> jitter(-3, 3);
  std::vector<Sample> late;
  for (int i = 0; i < seconds; ++i) {
    std::vector<Sample> batch;
    for (int s = 0; s < 3; ++s) {
      const WallMs ts = from + i * 1000 + jitter(rng);
      const double value = s == 0 ? 42.0 : s == 1 ? i * 1.5 : std::sin(i) * 1e6;
      expected[std::to_string(s)].emplace_back(ts, value);
      (i == 12 ? late : batch).push_back(sample("m", {{"s", std::to_string(s)}}, ts, value));
    }
    w.enqueue(std::move(batch));
    if (i % 4 == 3) BOOST_REQUIRE(w.flush());
    if (i == 15) {
      w.enqueue(std::move(late));
      BOOST_REQUIRE(w.flush());
    }
  }
  BOOST_REQUIRE(w.flush());
  sort_points(expected);
  return expected;
}

// (series canonical, ts, value bits) of every head row, sorted.
using StoredSample = std::tuple<std::string, WallMs, std::uint64_t>;
std::vector<StoredSample> head_samples(const std::string& path) {
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  BOOST_REQUIRE(sqlite3_prepare_v2(db,
                                   "SELECT s.metric || s.labels, h.ts, h.value FROM samples_head h JOIN series s "
                                   "ON s.id = h.series_id",
                                   -1, &stmt, nullptr) == SQLITE_OK);
  std::vector<StoredSample> out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), sqlite3_column_int64(stmt, 1),
                     std::bit_cast<std::uint64_t>(sqlite3_column_double(stmt, 2)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(closed_windows_become_one_chunk_per_series_and_window) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(compacting(path), nullptr);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  const Expected expected = write_history(**writer, kT0 + 500, 35);
  BOOST_REQUIRE((*writer)->compact());
  const WriterStats stats = (*writer)->stats();
  BOOST_TEST(stats.samples_compacted == 105u);
  BOOST_TEST(stats.compaction_failures == 0u);
  BOOST_TEST(stats.compacted_windows >= 4u);

  BOOST_TEST(sql_count(path, "SELECT count(*) FROM samples_head") == 0);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM head_flushes") == 0);
  // Windows kT0 + [0, 10), [10, 20), [20, 30), [30, 40) s, three series.
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM chunks") == 12);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM chunks WHERE (window_start - " + std::to_string(kT0) + ") % " +
                                 std::to_string(kSpan) + " != 0 OR first_ts < window_start OR last_ts >= "
                                 "window_start + " + std::to_string(kSpan) + " OR first_ts > last_ts") == 0);
  BOOST_TEST(sql_count(path, "SELECT sum(count) FROM chunks") == 105);
  BOOST_TEST(sql_count(path, "SELECT value FROM meta WHERE key = 'chunk_span_ms'") == kSpan);

  BOOST_TEST((read_all(path) == expected));
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  BOOST_TEST(reader->sample_count().value_or(0) == 105u);
  WallMs newest = 0;
  for (const auto& [name, points] : expected) newest = std::max(newest, points.back().first);
  BOOST_TEST(reader->last_sample_ms().value_or(std::nullopt).value_or(0) == newest);
  // A range inside one window, and one across a boundary.
  auto inside = reader->query("m", {{"s", "1"}}, kT0 + 12'000, kT0 + 15'000);
  BOOST_REQUIRE(inside);
  BOOST_REQUIRE_EQUAL(inside->size(), 1u);
  for (const auto& p : inside->front().points) BOOST_TEST((p.ts_ms >= kT0 + 12'000 && p.ts_ms <= kT0 + 15'000));
  BOOST_TEST(inside->front().points.size() >= 2u);
  auto across = reader->query("m", {{"s", "1"}}, kT0 + 8'000, kT0 + 21'000);
  BOOST_REQUIRE(across);
  std::size_t want = 0;
  for (const auto& [ts, v] : expected.at("1")) want += ts >= kT0 + 8'000 && ts <= kT0 + 21'000 ? 1 : 0;
  BOOST_TEST(across->front().points.size() == want);
}

BOOST_AUTO_TEST_CASE(a_late_sample_merges_into_its_windows_chunk) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(compacting(path), nullptr);
  BOOST_REQUIRE(writer);
  Expected expected = write_history(**writer, kT0, 20);
  BOOST_REQUIRE((*writer)->compact());
  const long chunks = sql_count(path, "SELECT count(*) FROM chunks");
  // Into the middle of the first window, and a repeat of a timestamp.
  (*writer)->enqueue({sample("m", {{"s", "1"}}, kT0 + 4'321, -1), sample("m", {{"s", "2"}}, expected["2"][3].first, 9)});
  expected["1"].emplace_back(kT0 + 4'321, -1);
  expected["2"].emplace_back(expected["2"][3].first, 9);
  sort_points(expected);
  BOOST_REQUIRE((*writer)->flush());
  // Before compaction the late rows are read from the head...
  BOOST_TEST((read_all(path) == expected));
  BOOST_REQUIRE((*writer)->compact());
  // ...after it from the merged chunks, still one per series and window.
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM chunks") == chunks);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM samples_head") == 0);
  BOOST_TEST((read_all(path) == expected));
}

BOOST_AUTO_TEST_CASE(an_open_window_stays_in_the_head_where_the_newest_written_is_latest) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  StoreOptions o = compacting(path);
  o.chunk_span = Millis(3'600'000);
  auto writer = StoreWriter::open(o, nullptr);
  BOOST_REQUIRE(writer);
  const WallMs now = wall_now_ms();
  // An old sample (compacted) and two of now, the second written older.
  (*writer)->enqueue({sample("m", {{"s", "0"}}, now - 86'400'000, 1)});
  (*writer)->enqueue({sample("m", {{"s", "0"}}, now, 2)});
  BOOST_REQUIRE((*writer)->flush());
  (*writer)->enqueue({sample("m", {{"s", "0"}}, now - 5, 3)});
  BOOST_REQUIRE((*writer)->flush());
  BOOST_REQUIRE((*writer)->compact());
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM chunks") == 1);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM samples_head") == 2);
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto series = reader->series("m");
  BOOST_REQUIRE(series);
  BOOST_REQUIRE_EQUAL(series->size(), 1u);
  auto latest = reader->latest(series->front().id);
  BOOST_REQUIRE(latest);
  BOOST_REQUIRE(latest->has_value());
  BOOST_TEST((*latest)->value == 3.0);
  BOOST_TEST(reader->sample_count().value_or(0) == 3u);
}

// The state a crash leaves between a pass's chunk transaction and its
// delete transactions: the chunk holds head rows that are still there.
BOOST_AUTO_TEST_CASE(rows_a_chunk_holds_already_are_read_once_and_deleted_by_the_next_pass) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  Expected expected;
  {
    StoreOptions o = compacting(path);
    o.compact = false;
    auto writer = StoreWriter::open(o, nullptr);
    BOOST_REQUIRE(writer);
    expected = write_history(**writer, kT0 + 500, 8);  // one window
  }
  // The chunk of series 0 as a pass would write it, through the newest rowid.
  std::vector<chunk::Point> points;
  for (const auto& [ts, v] : expected.at("0")) points.push_back(chunk::Point{ts, v});
  const auto bytes = chunk::encode(points);
  std::string hex;
  for (std::uint8_t b : bytes) {
    static const char* digits = "0123456789ABCDEF";
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  vigil::test::run_sql(path,
                       "INSERT INTO chunks SELECT id, " + std::to_string(kT0) + ", " +
                           std::to_string(points.front().ts_ms) + ", " + std::to_string(points.back().ts_ms) + ", " +
                           std::to_string(points.size()) + ", (SELECT max(rowid) FROM samples_head), x'" + hex +
                           "' FROM series WHERE labels = '{s=\"0\"}'");
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM samples_head") == 24);
  BOOST_TEST((read_all(path) == expected));
  {
    auto reader = StoreReader::open(path);
    BOOST_REQUIRE(reader);
    BOOST_TEST(reader->sample_count().value_or(0) == 24u);
  }
  // The next writer finishes: series 0's rows are deleted, not merged twice.
  auto writer = StoreWriter::open(compacting(path), nullptr);
  BOOST_REQUIRE(writer);
  BOOST_REQUIRE((*writer)->compact());
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM samples_head") == 0);
  BOOST_TEST(sql_count(path, "SELECT sum(count) FROM chunks") == 24);
  BOOST_TEST((read_all(path) == expected));
  // Head rowids go on above what the chunks hold, even with the head empty.
  const long through = sql_count(path, "SELECT max(through_rowid) FROM chunks");
  (*writer)->enqueue({sample("m", {{"s", "0"}}, wall_now_ms(), 1)});
  BOOST_REQUIRE((*writer)->flush());
  BOOST_TEST(sql_count(path, "SELECT min(rowid) FROM samples_head") > through);
}

BOOST_AUTO_TEST_CASE(a_damaged_chunk_is_skipped_with_a_warning) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(compacting(path), nullptr);
  BOOST_REQUIRE(writer);
  Expected expected = write_history(**writer, kT0, 20);
  BOOST_REQUIRE((*writer)->compact());
  (*writer)->close();
  vigil::test::run_sql(path, "UPDATE chunks SET data = x'01FF' WHERE window_start = " + std::to_string(kT0) +
                                 " AND series_id = (SELECT id FROM series WHERE labels = '{s=\"2\"}')");
  std::vector<std::string> damaged;
  const Expected got = read_all(path, &damaged);
  BOOST_REQUIRE_EQUAL(damaged.size(), 1u);
  BOOST_TEST(damaged.front().find("the chunk of 2001-09-09T01:46:40") == 0, damaged.front());
  BOOST_TEST(damaged.front().find("chunk: ") != std::string::npos, damaged.front());
  BOOST_TEST((got.at("0") == expected.at("0")));
  BOOST_TEST((got.at("1") == expected.at("1")));
  std::vector<std::pair<WallMs, double>> second_window;
  for (const auto& p : expected.at("2")) {
    if (p.first >= kT0 + kSpan) second_window.push_back(p);
  }
  BOOST_TEST((got.at("2") == second_window));
}

// A store vigild wrote with schema version 4 (tests/fixtures/store/v4.db:
// host and target samples, events, an incident) is migrated in place and
// its head compacted; every sample, event and incident is still there.
BOOST_AUTO_TEST_CASE(a_version_4_store_from_the_fixture_is_migrated_and_compacted) {
  const char* fixtures = std::getenv("VIGIL_TEST_FIXTURES");
  BOOST_REQUIRE_MESSAGE(fixtures != nullptr, "VIGIL_TEST_FIXTURES is not set");
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  std::filesystem::copy_file(std::string(fixtures) + "/store/v4.db", path);
  const auto before = head_samples(path);
  BOOST_REQUIRE_GT(before.size(), 1000u);
  const long events = sql_count(path, "SELECT count(*) FROM events");
  {
    OpenReport report;
    auto writer = StoreWriter::open(options_for(path), &report);
    BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
    BOOST_TEST(report.migrated_from == 4);
    BOOST_REQUIRE((*writer)->compact());
    BOOST_TEST((*writer)->stats().samples_compacted == before.size());
  }
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM samples_head") == 0);
  BOOST_TEST(sql_count(path, "SELECT value FROM meta WHERE key = 'chunk_span_ms'") == 3'600'000);
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  std::vector<StoredSample> after;
  auto metrics = reader->metrics();
  BOOST_REQUIRE(metrics);
  for (const auto& metric : *metrics) {
    auto all = reader->query(metric, {}, 0, std::numeric_limits<WallMs>::max() / 2);
    BOOST_REQUIRE(all);
    for (const auto& s : *all) {
      BOOST_TEST(s.damaged.empty());
      for (const auto& p : s.points) {
        after.emplace_back(s.series.key.canonical(), p.ts_ms, std::bit_cast<std::uint64_t>(p.value));
      }
    }
  }
  std::sort(after.begin(), after.end());
  BOOST_TEST(after.size() == before.size());
  BOOST_TEST((after == before));  // bit for bit
  BOOST_TEST(reader->sample_count().value_or(0) == before.size());
  auto ev = reader->events({});
  BOOST_REQUIRE(ev);
  BOOST_TEST(static_cast<long>(ev->size()) == events);
  auto incidents = reader->incidents({});
  BOOST_REQUIRE(incidents);
  BOOST_TEST(incidents->size() == 1u);
}

// The decision alone, on a store's own connection: a closed window is due;
// the window a pass has just finished is not due again within the grace
// period (late samples that keep coming, as after the clock was set back,
// are merged once a grace period), unless forced (compact()).
BOOST_AUTO_TEST_CASE(a_window_just_compacted_waits_a_grace_period_before_the_next_merge) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  {
    StoreOptions o = compacting(path);
    o.compact = false;
    auto writer = StoreWriter::open(o, nullptr);
    BOOST_REQUIRE(writer);
    (*writer)->enqueue({sample("m", {{"s", "0"}}, kT0 + 5, 1)});
    BOOST_REQUIRE((*writer)->flush());
  }
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  {
    store_detail::Compactor c(db, path, kSpan, 3'600'000);  // an hour's grace
    BOOST_REQUIRE(c.load());
    BOOST_TEST(!c.due(kT0 + kSpan + 3'599'999));  // the window has not closed yet
    const WallMs now = kT0 + kSpan + 3'600'000;
    BOOST_TEST(c.due(now));
    int steps = 0;
    while (c.due(now) && ++steps < 100) BOOST_REQUIRE(c.step(now));
    BOOST_TEST(c.stats().windows == 1u);
    BOOST_TEST(c.stats().samples_moved == 1u);
    // A late sample for the same window: due only when forced.
    c.note_flush(kT0 + 7);
    BOOST_TEST(!c.due(now));
    BOOST_TEST(c.due(now, true));
    // Another window is not held back.
    c.note_flush(kT0 - kSpan + 1);
    BOOST_TEST(c.due(now));
  }
  sqlite3_close(db);
}
