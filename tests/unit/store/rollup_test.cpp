// The rollup tiers (store/rollup.hpp) and a query's steps (store/aggregate.hpp):
// the format round-trips and is frozen, bad bytes are refused, the steps'
// arithmetic is the documented one, and a query with a step answered from
// the tiers equals the same query computed from the raw samples, across
// the head/chunk boundary, late samples, unaligned ranges, a damaged
// rollup row and a migrated store's chunks without rollups.
#define BOOST_TEST_MODULE store_rollup
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cmath>
#include <limits>
#include <random>

#include "store/aggregate.hpp"
#include "store/rollup.hpp"
#include "store/store.hpp"
#include "tests/unit/store/store_test_util.hpp"

using namespace vigil;
using vigil::test::options_for;
using vigil::test::sample;
using vigil::test::sql_count;
using vigil::test::TempDir;

namespace {

using Bytes = std::vector<std::uint8_t>;

bool same(const rollup::Bucket& a, const rollup::Bucket& b) {
  return a.start == b.start && a.count == b.count && a.min == b.min && a.max == b.max && a.sum == b.sum &&
         a.last == b.last;
}

std::vector<chunk::Point> pts(std::initializer_list<std::pair<std::int64_t, double>> list) {
  std::vector<chunk::Point> out;
  for (const auto& [t, v] : list) out.push_back(chunk::Point{t, v});
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(buckets_summarise_and_merge) {
  auto b = rollup::summarise(pts({{0, 3}, {10, 1}, {59'999, 2}, {60'000, 7}, {-1, 4}}), 60'000);
  // Time order is the caller's: -1 comes last and starts its own bucket.
  BOOST_REQUIRE_EQUAL(b.size(), 3u);
  BOOST_TEST(same(b[0], rollup::Bucket{0, 3, 1, 3, 6, 2}));
  BOOST_TEST(same(b[1], rollup::Bucket{60'000, 1, 7, 7, 7, 7}));
  BOOST_TEST(b[2].start == -60'000);
  rollup::Bucket hour{0, 0, 0, 0, 0, 0};
  hour.merge(b[0]);
  hour.merge(b[1]);
  BOOST_TEST(same(hour, rollup::Bucket{0, 4, 1, 7, 13, 7}));
  // NaN is skipped by min and max, not by sum.
  rollup::Bucket n{0, 0, 0, 0, 0, 0};
  n.add(std::nan(""));
  n.add(2);
  BOOST_TEST(n.min == 2.0);
  BOOST_TEST(n.max == 2.0);
  BOOST_TEST(std::isnan(n.sum));
}

BOOST_AUTO_TEST_CASE(tiers_are_kept_when_their_step_divides_the_span) {
  BOOST_TEST(rollup::row_span(60'000, 3'600'000) == 3'600'000);   // 60 buckets a row
  BOOST_TEST(rollup::row_span(3'600'000, 3'600'000) == 86'400'000);  // a day's 24
  BOOST_TEST(rollup::row_span(60'000, 10'000) == 0);
  BOOST_TEST(rollup::row_span(3'600'000, 600'000) == 0);
  BOOST_TEST(rollup::row_span(60'000, 600'000) == 86'400'000);  // 10 a window: rows of a day
  BOOST_TEST(rollup::row_span(60'000, 7 * 60'000) == 7 * 60'000);  // a day is no whole number of them
}

BOOST_AUTO_TEST_CASE(the_format_round_trips) {
  std::mt19937_64 rng(15);
  for (int round = 0; round < 200; ++round) {
    std::vector<rollup::Bucket> buckets;
    std::int64_t start = static_cast<std::int64_t>(rng() % 1'000'000'000) * 60'000 - 500'000'000'000;
    const std::size_t n = rng() % 70;
    for (std::size_t i = 0; i < n; ++i) {
      start += 60'000 * static_cast<std::int64_t>(1 + rng() % 3);
      std::uniform_real_distribution<double> v(-1e6, 1e6);
      buckets.push_back(rollup::Bucket{start, 1 + rng() % 5000, v(rng), v(rng), v(rng), v(rng)});
    }
    if (round == 1 && !buckets.empty()) {
      buckets[0].min = -0.0;
      buckets[0].max = std::numeric_limits<double>::infinity();
    }
    const Bytes bytes = rollup::encode(buckets);
    auto back = rollup::decode(bytes);
    BOOST_REQUIRE_MESSAGE(back, vigil::test::why(back));
    BOOST_REQUIRE_EQUAL(back->size(), buckets.size());
    for (std::size_t i = 0; i < n; ++i) {
      BOOST_TEST(same((*back)[i], buckets[i]));
      BOOST_TEST(std::signbit((*back)[i].min) == std::signbit(buckets[i].min));
    }
  }
}

// Written once by this build and frozen: a change to these bytes is a new
// format version.
BOOST_AUTO_TEST_CASE(a_fixed_vector_reads_and_writes_the_same) {
  const std::vector<rollup::Bucket> buckets = {{60'000, 2, 1.5, 2.5, 4, 2.5}, {120'000, 1, -1, -1, -1, -1}};
  const Bytes frozen = {
      0x01, 0x14, 0x01, 0x02, 0xc0, 0xa9, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
      0xe0, 0xea, 0x60, 0xc1, 0x2b, 0xff, 0x80, 0x14, 0x01, 0x02, 0xc0, 0xa9, 0x07, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0xe0, 0xea, 0x60, 0xc0, 0x32, 0x00, 0x20, 0x14, 0x01,
      0x02, 0xc0, 0xa9, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x40, 0xe0, 0xea, 0x60,
      0xc0, 0x37, 0xff, 0xd0, 0x14, 0x01, 0x02, 0xc0, 0xa9, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x10, 0x40, 0xe0, 0xea, 0x60, 0xc0, 0x2b, 0xff, 0x80, 0x14, 0x01, 0x02, 0xc0, 0xa9,
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x40, 0xe0, 0xea, 0x60, 0xc0, 0x37, 0xff,
      0xd0};
  BOOST_TEST(rollup::encode(buckets) == frozen, boost::test_tools::per_element());
  auto back = rollup::decode(frozen);
  BOOST_REQUIRE_MESSAGE(back, vigil::test::why(back));
  BOOST_REQUIRE_EQUAL(back->size(), 2u);
  BOOST_TEST(same((*back)[0], buckets[0]));
  BOOST_TEST(same((*back)[1], buckets[1]));
}

// A query reads only the fields it needs; the counts and starts always.
BOOST_AUTO_TEST_CASE(a_row_decodes_only_the_fields_asked_for) {
  const Bytes bytes = rollup::encode(std::vector<rollup::Bucket>{{0, 2, 1, 2, 3, 2}, {60'000, 1, 5, 6, 7, 8}});
  auto max_only = rollup::decode(bytes, rollup::kMax);
  BOOST_REQUIRE_MESSAGE(max_only, vigil::test::why(max_only));
  BOOST_REQUIRE_EQUAL(max_only->size(), 2u);
  BOOST_TEST(same((*max_only)[1], rollup::Bucket{60'000, 1, 0, 6, 0, 0}));
  auto sum_last = rollup::decode(bytes, rollup::kSum | rollup::kLast);
  BOOST_REQUIRE(sum_last);
  BOOST_TEST(same((*sum_last)[0], rollup::Bucket{0, 2, 0, 0, 3, 2}));
}

BOOST_AUTO_TEST_CASE(bad_bytes_are_refused_with_where) {
  const Bytes good = rollup::encode(std::vector<rollup::Bucket>{{0, 2, 1, 2, 3, 2}, {60'000, 1, 5, 5, 5, 5}});
  auto refused = [](const Bytes& b, const std::string& what) {
    auto r = rollup::decode(b);
    BOOST_REQUIRE_MESSAGE(!r, "accepted: " + what);
    BOOST_TEST((r.error().kind == ErrorKind::kParse));
    BOOST_TEST(r.error().message.find(what) != std::string::npos, r.error().message);
  };
  refused({}, "empty");
  Bytes v = good;
  v[0] = 9;
  refused(v, "unknown version 9");
  v = good;
  v.push_back(0);
  refused(v, "1 bytes after the last values");
  refused(Bytes(good.begin(), good.end() - 3), "cut short");
  // Rows made by hand, field f's chunk from points(f): counts that are
  // not whole numbers, fields that disagree, starts that go back.
  auto row = [](auto points) {
    Bytes out{rollup::kVersion};
    for (int f = 0; f < 5; ++f) {
      const Bytes c = chunk::encode(points(f));
      chunk::put_varint(out, c.size());
      out.insert(out.end(), c.begin(), c.end());
    }
    return out;
  };
  refused(row([](int f) { return pts({{0, f == 0 ? 1.5 : 1.0}}); }), "not a whole number");
  refused(row([](int f) { return pts({{f == 3 ? 60'000 : 0, 1.0}}); }), "the sums disagree with the counts");
  const Bytes backwards = row([](int) { return pts({{60'000, 1.0}, {0, 1.0}}); });
  refused(backwards, "does not start after the one before");
}

BOOST_AUTO_TEST_CASE(steps_aggregate_as_documented) {
  const auto p = pts({{0, 4}, {1000, 2}, {59'000, 9}, {60'000, 1}, {61'000, 3}, {185'000, 5}});
  auto at = [&](Aggregation agg) { return aggregate::steps(p, 60'000, agg); };
  auto values = [](const std::vector<chunk::Point>& v) {
    std::vector<double> out;
    for (const auto& x : v) out.push_back(x.value);
    return out;
  };
  BOOST_REQUIRE_EQUAL(at(Aggregation::kAvg).size(), 3u);  // the empty step at 120 s gives no point
  BOOST_TEST(at(Aggregation::kAvg)[2].ts_ms == 180'000);
  BOOST_TEST((values(at(Aggregation::kAvg)) == std::vector<double>{5, 2, 5}));
  BOOST_TEST((values(at(Aggregation::kMin)) == std::vector<double>{2, 1, 5}));
  BOOST_TEST((values(at(Aggregation::kMax)) == std::vector<double>{9, 3, 5}));
  BOOST_TEST((values(at(Aggregation::kSum)) == std::vector<double>{15, 4, 5}));
  BOOST_TEST((values(at(Aggregation::kLast)) == std::vector<double>{9, 3, 5}));
  BOOST_TEST((values(at(Aggregation::kCount)) == std::vector<double>{3, 2, 1}));
  // Nearest rank: of {2, 4, 9}, p50 is the 2nd, p95 and p99 the 3rd.
  BOOST_TEST((values(at(Aggregation::kP50)) == std::vector<double>{4, 1, 5}));
  BOOST_TEST((values(at(Aggregation::kP95)) == std::vector<double>{9, 3, 5}));
  BOOST_TEST((values(at(Aggregation::kP99)) == std::vector<double>{9, 3, 5}));
  // A counter: 10, 20, 35, reset to 5, 15 over two steps of 60 s: step 0
  // rises 10 + 15, step 1 gets 5 (the restart from 0) + 10.
  const auto counter = pts({{0, 10}, {20'000, 20}, {40'000, 35}, {60'000, 5}, {80'000, 15}});
  const auto rate = aggregate::steps(counter, 60'000, Aggregation::kRate);
  BOOST_REQUIRE_EQUAL(rate.size(), 2u);
  BOOST_TEST(rate[0].value == 25.0 / 60);
  BOOST_TEST(rate[1].value == 15.0 / 60);
  // Before 1970: steps still start at multiples of the step.
  const auto early = aggregate::steps(pts({{-60'001, 2}, {-1, 1}}), 60'000, Aggregation::kCount);
  BOOST_REQUIRE_EQUAL(early.size(), 2u);
  BOOST_TEST(early[0].ts_ms == -120'000);
  BOOST_TEST(early[1].ts_ms == -60'000);
}

namespace {

constexpr WallMs kHour = 3'600'000;
constexpr WallMs kT0 = 1'700'000'000'000 / kHour * kHour;  // an hour's start (2023)
constexpr int kHours = 6;

// Three series over kHours at about 10 s (jittered, with a gap): a random
// walk, a counter with resets, and a flat line. Returns the writer's clock.
void write_history(StoreWriter& w) {
  std::mt19937_64 rng(6);
  double walk = 50, counter = 0;
  for (WallMs t = kT0; t < kT0 + kHours * kHour; t += 10'000) {
    if (t >= kT0 + 2 * kHour + 600'000 && t < kT0 + 2 * kHour + 1'200'000) continue;  // ten minutes of nothing
    const WallMs ts = t + static_cast<WallMs>(rng() % 900);
    walk += std::uniform_real_distribution<double>(-1, 1)(rng);
    counter = rng() % 97 == 0 ? 0 : counter + static_cast<double>(rng() % 1000);
    w.enqueue({sample("m", {{"s", "walk"}}, ts, walk), sample("m", {{"s", "counter"}}, ts, counter),
               sample("m", {{"s", "flat"}}, ts, 1.25)});
    if ((t - kT0) % kHour == kHour - 10'000) BOOST_REQUIRE(w.flush());
  }
  BOOST_REQUIRE(w.flush());
}

struct Store {
  TempDir dir;
  std::string path = dir.file("vigil.db");
  std::shared_ptr<std::atomic<WallMs>> clock = std::make_shared<std::atomic<WallMs>>(kT0);
  std::unique_ptr<StoreWriter> writer;

  Store() {
    StoreOptions o = options_for(path);
    o.chunk_span = Millis(kHour);
    o.clock = [c = clock] { return c->load(); };
    auto w = StoreWriter::open(o, nullptr);
    BOOST_REQUIRE_MESSAGE(w, vigil::test::why(w));
    writer = std::move(*w);
    write_history(*writer);
    // Every hour but the last has closed: compacted, with its rollups.
    clock->store(kT0 + kHours * kHour - 1);
    BOOST_REQUIRE(writer->compact());
  }
};

std::vector<SeriesPoints> run(const StoreReader& reader, RangeQuery q, bool rollups) {
  q.metric = "m";
  q.rollups = rollups;
  auto r = reader.query(q);
  BOOST_REQUIRE_MESSAGE(r, vigil::test::why(r));
  return *r;
}

bool close_enough(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

// The query answered with the tiers equals the samples' own answer; returns
// the tier used (the same for every series).
std::int64_t equal_to_raw(const StoreReader& reader, const RangeQuery& q) {
  const auto tiers = run(reader, q, true);
  const auto raw = run(reader, q, false);
  BOOST_REQUIRE_EQUAL(tiers.size(), raw.size());
  std::int64_t tier = -1;
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const std::string what = tiers[i].series.key.canonical() + " " + std::string(to_string(q.agg)) + " step " +
                             std::to_string(q.step_ms) + " [" + std::to_string(q.since - kT0) + ", " +
                             std::to_string(q.until - kT0) + "]";
    BOOST_TEST(raw[i].tier_ms == 0);
    tier = tiers[i].tier_ms;
    BOOST_REQUIRE_MESSAGE(tiers[i].points.size() == raw[i].points.size(),
                          what << ": " << tiers[i].points.size() << " steps, raw " << raw[i].points.size());
    for (std::size_t j = 0; j < raw[i].points.size(); ++j) {
      BOOST_TEST(tiers[i].points[j].ts_ms == raw[i].points[j].ts_ms, what);
      BOOST_TEST(close_enough(tiers[i].points[j].value, raw[i].points[j].value),
                 what << " at " << raw[i].points[j].ts_ms - kT0 << ": " << tiers[i].points[j].value << " vs "
                      << raw[i].points[j].value);
    }
  }
  return tier;
}

}  // namespace

BOOST_AUTO_TEST_CASE(steps_from_the_tiers_equal_steps_from_the_samples) {
  Store s;
  BOOST_TEST(sql_count(s.path, "SELECT count(*) FROM chunks") == 3 * (kHours - 1));
  // 1 min rows: one per series and window; 1 h rows: one per series and day.
  BOOST_TEST(sql_count(s.path, "SELECT count(*) FROM rollups WHERE step_ms = 60000") == 3 * (kHours - 1));
  const WallMs days = (kT0 + (kHours - 2) * kHour) / 86'400'000 - kT0 / 86'400'000 + 1;
  BOOST_TEST(sql_count(s.path, "SELECT count(*) FROM rollups WHERE step_ms = 3600000") == 3 * days);
  BOOST_TEST(sql_count(s.path, "SELECT count(*) FROM samples_head") == 3 * 360);
  // A late sample into the third hour, left in the head: that window is
  // read from its samples.
  s.writer->enqueue({sample("m", {{"s", "walk"}}, kT0 + 2 * kHour + 1234, 1e6)});
  BOOST_REQUIRE(s.writer->flush());
  auto reader = StoreReader::open(s.path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));

  const WallMs end = kT0 + kHours * kHour;
  const std::vector<std::pair<WallMs, WallMs>> ranges = {
      {kT0, end},                                         // everything, aligned
      {kT0 + 37'123, end - 13'000},                       // unaligned edges
      {kT0 + kHour + 1'800'000, kT0 + 4 * kHour - 1},     // from mid-hour, to an hour's end
      {kT0 + 5 * kHour - 600'000, end},                   // into the head
      {kT0 + 2 * kHour + 100, kT0 + 2 * kHour + 50'000},  // inside one step
  };
  int from_tiers = 0;
  for (const auto& [since, until] : ranges) {
    for (const std::int64_t step : {60'000, 120'000, 300'000, 3'600'000, 7'200'000}) {
      for (const Aggregation agg : {Aggregation::kAvg, Aggregation::kMin, Aggregation::kMax, Aggregation::kSum,
                                    Aggregation::kLast, Aggregation::kCount}) {
        RangeQuery q;
        q.since = since;
        q.until = until;
        q.step_ms = step;
        q.agg = agg;
        const std::int64_t tier = equal_to_raw(*reader, q);
        BOOST_TEST(tier == (step % 3'600'000 == 0 ? 3'600'000 : 60'000));
        ++from_tiers;
      }
    }
  }
  BOOST_TEST(from_tiers == 150);
  // What the summaries cannot answer comes from the samples.
  RangeQuery q;
  q.since = kT0;
  q.until = end;
  q.step_ms = 300'000;
  q.agg = Aggregation::kP95;
  BOOST_TEST(equal_to_raw(*reader, q) == 0);
  q.agg = Aggregation::kRate;
  BOOST_TEST(equal_to_raw(*reader, q) == 0);
}

// Proof that the tiers are read: a window whose chunk is damaged is still
// answered (from its rollups) by a stepped query, while the samples'
// query says it lost that chunk. And a damaged rollup row is reported and
// its windows read from their chunks.
BOOST_AUTO_TEST_CASE(damaged_rows_and_chunks_are_reported_and_worked_around) {
  Store s;
  const WallMs w = kT0 + 3 * kHour;
  const auto raw_before = [&] {
    auto reader = StoreReader::open(s.path);
    BOOST_REQUIRE(reader);
    RangeQuery q;
    q.since = w;
    q.until = w + kHour - 1;
    q.step_ms = 600'000;
    q.agg = Aggregation::kMax;
    return run(*reader, q, false);
  }();
  s.writer.reset();
  vigil::test::run_sql(s.path, "UPDATE chunks SET data = x'01FF' WHERE window_start = " + std::to_string(w));
  auto reader = StoreReader::open(s.path);
  BOOST_REQUIRE(reader);
  RangeQuery q;
  q.since = w;
  q.until = w + kHour - 1;
  q.step_ms = 600'000;
  q.agg = Aggregation::kMax;
  const auto tiers = run(*reader, q, true);
  const auto raw = run(*reader, q, false);
  BOOST_REQUIRE_EQUAL(tiers.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(tiers[i].damaged.empty());
    BOOST_TEST(tiers[i].points.size() == 6u);
    BOOST_TEST(raw[i].points.empty());
    BOOST_REQUIRE_EQUAL(raw[i].damaged.size(), 1u);
    BOOST_REQUIRE_EQUAL(raw_before[i].points.size(), 6u);
    for (std::size_t j = 0; j < 6; ++j) BOOST_TEST(tiers[i].points[j].value == raw_before[i].points[j].value);
  }

  // The 1 min row of another window damaged: reported, read from the chunk.
  const WallMs v = kT0 + kHour;
  vigil::test::run_sql(s.path, "UPDATE rollups SET data = x'07' WHERE step_ms = 60000 AND row_start = " +
                                   std::to_string(v));
  RangeQuery r;
  r.since = v;
  r.until = v + kHour - 1;
  r.step_ms = 300'000;
  r.agg = Aggregation::kSum;
  auto reader2 = StoreReader::open(s.path);
  BOOST_REQUIRE(reader2);
  const auto with_damage = run(*reader2, r, true);
  const auto expected = run(*reader2, r, false);
  BOOST_REQUIRE_EQUAL(with_damage.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_REQUIRE_EQUAL(with_damage[i].damaged.size(), 1u);
    BOOST_TEST(with_damage[i].damaged[0].find("the rollup row of") != std::string::npos, with_damage[i].damaged[0]);
    BOOST_TEST(with_damage[i].damaged[0].find("unknown version 7") != std::string::npos, with_damage[i].damaged[0]);
    BOOST_REQUIRE_EQUAL(with_damage[i].points.size(), expected[i].points.size());
    for (std::size_t j = 0; j < expected[i].points.size(); ++j) {
      BOOST_TEST(close_enough(with_damage[i].points[j].value, expected[i].points[j].value));
    }
  }
}

// A store migrated from version 5 has chunks without rollups: its windows
// are read from the chunks.
BOOST_AUTO_TEST_CASE(chunks_without_rollups_are_read_as_samples) {
  Store s;
  s.writer.reset();
  vigil::test::run_sql(s.path, "DELETE FROM rollups");
  auto reader = StoreReader::open(s.path);
  BOOST_REQUIRE(reader);
  RangeQuery q;
  q.since = kT0;
  q.until = kT0 + kHours * kHour;
  q.step_ms = 3'600'000;
  q.agg = Aggregation::kAvg;
  equal_to_raw(*reader, q);
  const auto steps = run(*reader, q, true);
  BOOST_REQUIRE_EQUAL(steps.size(), 3u);
  BOOST_TEST(steps[0].points.size() == static_cast<std::size_t>(kHours));
}
