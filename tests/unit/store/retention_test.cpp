// Retention (store/retention.hpp): the writer deletes, in the background,
// raw chunks, rollup rows, events and recovered incidents older than their
// retention, keeps open incidents and the newest one, and a query with a
// step still answers from the rollups for hours whose samples are gone.
#define BOOST_TEST_MODULE store_retention
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "store/store.hpp"
#include "tests/unit/store/store_test_util.hpp"

using namespace vigil;
using vigil::test::options_for;
using vigil::test::sample;
using vigil::test::sql_count;
using vigil::test::TempDir;

namespace {

constexpr WallMs kHour = 3'600'000;
constexpr WallMs kT0 = 1'700'000'000'000 / kHour * kHour;

IncidentRow incident(std::int64_t id, WallMs started, WallMs recovered) {
  IncidentRow row;
  row.id = id;
  row.target = "svc";
  row.started_ms = row.detected_ms = started;
  row.recovered_ms = recovered;
  row.summary = "s";
  row.evidence = "{}";
  row.actions.push_back(IncidentAction{started, started + 1, ActionKind::kRestart, "", ActionStatus::kOk, "m"});
  row.updated_ms = started;
  return row;
}

// Polls (the writer deletes on its own thread) until `done` or 20 s.
template <typename F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(old_data_goes_and_the_rollups_still_answer) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto clock = std::make_shared<std::atomic<WallMs>>(kT0);
  StoreOptions o = options_for(path);
  o.chunk_span = Millis(kHour);
  o.clock = [clock] { return clock->load(); };
  o.retention.raw = Millis(2 * kHour);
  o.retention.rollup_1m = Millis(4 * kHour);
  o.retention.rollup_1h = Millis(100 * 24 * kHour);
  o.retention.events = Millis(kHour);
  o.retention.incidents = Millis(kHour);
  o.retention.every = Millis(10);
  auto writer = StoreWriter::open(o, nullptr);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  // Eight hours of two series, one sample a minute; an event an hour.
  for (WallMs t = kT0; t < kT0 + 8 * kHour; t += 60'000) {
    (*writer)->enqueue({sample("m", {{"s", "a"}}, t, 1), sample("m", {{"s", "b"}}, t + 7, 2)});
    if ((t - kT0) % kHour == 0) (*writer)->enqueue(vigil::test::event(t, EventKind::kDaemonStart, ""));
  }
  // 1 recovered long ago (goes), 2 open (stays), 3 recovered, the newest (stays).
  (*writer)->enqueue(incident(1, kT0, kT0 + kHour));
  (*writer)->enqueue(incident(2, kT0 + kHour, 0));
  (*writer)->enqueue(incident(3, kT0 + kHour, kT0 + 2 * kHour));
  BOOST_REQUIRE((*writer)->flush());
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM events") == 8);
  // Eight hours later on the writer's clock: seven windows close.
  clock->store(kT0 + 8 * kHour);
  BOOST_REQUIRE((*writer)->compact());

  // raw 2 h: chunks whose window ended by now - 2 h go (0h .. 5h); 6h stays,
  // 7h is still open in the head. 1 min rollups, 4 h: rows 0h .. 3h go.
  // Events, 1 h: all but the 7h one. Incident 1 goes with its action.
  const bool swept = eventually([&] {
    return sql_count(path, "SELECT count(*) FROM chunks") == 2 &&
           sql_count(path, "SELECT count(*) FROM rollups WHERE step_ms = 60000") == 2 * 3 &&
           sql_count(path, "SELECT count(*) FROM events") == 1 && sql_count(path, "SELECT count(*) FROM incidents") == 2;
  });
  BOOST_TEST(swept, "chunks " << sql_count(path, "SELECT count(*) FROM chunks") << ", 1m rows "
                              << sql_count(path, "SELECT count(*) FROM rollups WHERE step_ms = 60000") << ", events "
                              << sql_count(path, "SELECT count(*) FROM events") << ", incidents "
                              << sql_count(path, "SELECT count(*) FROM incidents"));
  BOOST_TEST(sql_count(path, "SELECT min(window_start) FROM chunks") == kT0 + 6 * kHour);
  BOOST_TEST(sql_count(path, "SELECT min(id) FROM incidents") == 2);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM incident_actions") == 2);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM rollups WHERE step_ms = 3600000") >= 2);
  const WriterStats st = (*writer)->stats();
  BOOST_TEST(st.retention_deleted_chunks == 12u);
  BOOST_TEST(st.retention_deleted_rollup_rows == 8u);
  BOOST_TEST(st.retention_deleted_events == 7u);
  BOOST_TEST(st.retention_deleted_incidents == 1u);

  // Hourly counts still answer for every hour: 0h .. 3h from the 1 h
  // rollups alone, 4h .. 5h from them too, 6h from its chunk's, 7h from
  // the head. Per minute, the hours whose 1 min rows went have no steps.
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  RangeQuery q;
  q.metric = "m";
  q.since = kT0;
  q.until = kT0 + 8 * kHour - 1;
  q.step_ms = kHour;
  q.agg = Aggregation::kCount;
  auto hourly = reader->query(q);
  BOOST_REQUIRE_MESSAGE(hourly, vigil::test::why(hourly));
  BOOST_REQUIRE_EQUAL(hourly->size(), 2u);
  for (const auto& series : *hourly) {
    BOOST_REQUIRE_EQUAL(series.points.size(), 8u);
    for (std::size_t h = 0; h < 8; ++h) {
      BOOST_TEST(series.points[h].ts_ms == kT0 + static_cast<WallMs>(h) * kHour);
      BOOST_TEST(series.points[h].value == 60.0);
    }
  }
  q.step_ms = 60'000;
  auto minutes = reader->query(q);
  BOOST_REQUIRE(minutes);
  BOOST_TEST(minutes->front().points.size() == 4u * 60);  // 4h .. 7h
  // The samples themselves: only 6h and 7h are left.
  auto raw = reader->query("m", {{"s", "a"}}, kT0, kT0 + 8 * kHour);
  BOOST_REQUIRE(raw);
  BOOST_TEST(raw->front().points.size() == 2u * 60);
}

// Kept forever by default (a store opened by a test or a tool).
BOOST_AUTO_TEST_CASE(nothing_goes_without_a_retention) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  StoreOptions o = options_for(path);
  auto writer = StoreWriter::open(o, nullptr);
  BOOST_REQUIRE(writer);
  (*writer)->enqueue(vigil::test::event(1000, EventKind::kDaemonStart, ""));
  (*writer)->enqueue({sample("m", {}, 1000, 1)});
  BOOST_REQUIRE((*writer)->flush());
  BOOST_REQUIRE((*writer)->compact());
  BOOST_TEST((*writer)->stats().retention_sweeps == 0u);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM events") == 1);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM chunks") == 1);
}

namespace {

// A store of 20 closed hours of 50 noisy series (a few MB of chunks), the
// 21st hour open, with the cap or floor of `retention`.
std::unique_ptr<StoreWriter> noisy_store(const std::string& path, StoreOptions::Retention retention) {
  auto clock = std::make_shared<std::atomic<WallMs>>(kT0);
  StoreOptions o = options_for(path);
  o.chunk_span = Millis(kHour);
  o.clock = [clock] { return clock->load(); };
  o.retention = retention;
  o.retention.every = Millis(10);
  auto writer = StoreWriter::open(o, nullptr);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  std::mt19937_64 rng(21);
  for (WallMs t = kT0; t < kT0 + 21 * kHour; t += 10'000) {
    std::vector<Sample> batch;
    for (int s = 0; s < 50; ++s) {
      batch.push_back(sample("m", {{"s", std::to_string(s)}}, t + s,
                             std::uniform_real_distribution<double>(0, 1)(rng)));
    }
    (*writer)->enqueue(std::move(batch));
    if ((t - kT0) % kHour == kHour - 10'000) BOOST_REQUIRE((*writer)->flush());
  }
  BOOST_REQUIRE((*writer)->flush());
  clock->store(kT0 + 21 * kHour - 1);
  BOOST_REQUIRE((*writer)->compact());
  return std::move(*writer);
}

std::int64_t live_bytes(const std::string& path) {
  return sql_count(path, "SELECT (SELECT page_count FROM pragma_page_count()) - "
                         "(SELECT freelist_count FROM pragma_freelist_count())") *
         sql_count(path, "SELECT page_size FROM pragma_page_size()");
}

}  // namespace

// [store] max_size: the oldest raw chunks go, a window at a time, until the
// store's live pages fit; the newest hours and every rollup stay.
BOOST_AUTO_TEST_CASE(over_max_size_the_oldest_raw_chunks_go_first) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  StoreOptions::Retention r;
  // White noise: the rollups and the open hour take about 4 MiB of the
  // 7.5 MiB, the chunks the rest.
  r.max_bytes = 6u << 20;
  r.every = Millis(10);
  auto writer = noisy_store(path, r);
  BOOST_TEST(eventually([&] { return (*writer).stats().trimmed_chunks > 0 && live_bytes(path) <= (6 << 20); }),
             "live " << live_bytes(path) << " B, trimmed " << writer->stats().trimmed_chunks);
  const WriterStats st = writer->stats();
  BOOST_TEST(!st.trimmed_for_disk);
  BOOST_TEST(st.trimmed_chunks % 50 == 0u);  // whole windows
  BOOST_TEST(st.trimmed_chunks < 20u * 50);  // not everything
  BOOST_TEST(sql_count(path, "SELECT min(window_start) FROM chunks") == st.trimmed_through_ms + kHour);
  BOOST_TEST(sql_count(path, "SELECT max(window_start) FROM chunks") == kT0 + 19 * kHour);
  BOOST_TEST(sql_count(path, "SELECT count(*) FROM rollups WHERE step_ms = 60000") == 20 * 50);
}

// [store] min_free_disk: under the floor (here 100 %: always), the oldest
// raw chunks go until the file has 8 MiB of free pages to reuse; this
// store's chunks are fewer, so all go.
BOOST_AUTO_TEST_CASE(under_the_free_disk_floor_the_file_makes_room_in_itself) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  StoreOptions::Retention r;
  r.min_free_fraction = 1.0;
  auto writer = noisy_store(path, r);
  BOOST_TEST(eventually([&] { return sql_count(path, "SELECT count(*) FROM chunks") == 0; }));
  BOOST_TEST(writer->stats().trimmed_for_disk);
  BOOST_TEST(writer->stats().trimmed_chunks == 20u * 50);
}
