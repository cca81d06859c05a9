// StoreWriter: write, flush, read back; the bounded queue; commit failures;
// a flush that survives the writer process dying.
#define BOOST_TEST_MODULE store_writer
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "store/store.hpp"
#include "store_test_util.hpp"

using namespace vigil;
using vigil::test::event;
using vigil::test::options_for;
using vigil::test::sample;
using vigil::test::TempDir;

namespace {

const SeriesPoints* find_series(const std::vector<SeriesPoints>& all, const Labels& labels) {
  for (const auto& s : all) {
    if (s.series.key.labels == labels) return &s;
  }
  return nullptr;
}

std::vector<WallMs> times(const SeriesPoints& s) {
  std::vector<WallMs> out;
  for (const auto& p : s.points) out.push_back(p.ts_ms);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(write_and_read_back_samples) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.created);
  BOOST_TEST(!report.recovered);

  const Labels gw{{"target", "gateway"}};
  const Labels db{{"target", "db"}};
  const Labels odd{{"target", "we\"ird\\ \n,}"}, {"zone", "a"}};
  // Two flushes; the second holds a sample older than the first's.
  (*writer)->enqueue({sample("rss_bytes", gw, 1000, 1.5), sample("rss_bytes", db, 1000, 10),
                      sample("cpu_seconds_total", gw, 1000, 0.25)});
  (*writer)->enqueue({sample("rss_bytes", gw, 2000, 2.5), sample("rss_bytes", odd, 3000, -7)});
  BOOST_REQUIRE((*writer)->flush());
  (*writer)->enqueue({sample("rss_bytes", gw, 4000, 4.5), sample("rss_bytes", gw, 1500, 1.75)});
  BOOST_REQUIRE((*writer)->flush());

  const WriterStats stats = (*writer)->stats();
  BOOST_TEST(stats.samples_committed == 7u);
  BOOST_TEST(stats.commits == 2u);
  BOOST_TEST(stats.series == 4u);
  BOOST_TEST(stats.queued == 0u);
  BOOST_TEST(stats.samples_dropped == 0u);
  BOOST_TEST(stats.commit_failures == 0u);

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  BOOST_TEST(reader->schema_version() == kSchemaVersion);

  auto all = reader->query("rss_bytes", {}, 0, 10000);
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 3u);
  const SeriesPoints* g = find_series(*all, gw);
  BOOST_REQUIRE(g != nullptr);
  BOOST_TEST(g->series.key.metric == "rss_bytes");
  BOOST_TEST((times(*g) == std::vector<WallMs>{1000, 1500, 2000, 4000}));
  BOOST_TEST(g->points[1].value == 1.75);
  BOOST_TEST(g->points[3].value == 4.5);
  const SeriesPoints* o = find_series(*all, odd);
  BOOST_REQUIRE(o != nullptr);  // escaped labels round-trip
  BOOST_TEST(o->points.size() == 1u);
  BOOST_TEST(o->points[0].value == -7.0);

  // Time filters are inclusive at both ends.
  auto window = reader->query("rss_bytes", gw, 1500, 2000);
  BOOST_REQUIRE(window);
  BOOST_REQUIRE_EQUAL(window->size(), 1u);
  BOOST_TEST((times(window->front()) == std::vector<WallMs>{1500, 2000}));

  // Label filters: a subset of the labels must match.
  auto zone = reader->query("rss_bytes", {{"zone", "a"}}, 0, 10000);
  BOOST_REQUIRE(zone);
  BOOST_REQUIRE_EQUAL(zone->size(), 1u);
  BOOST_TEST((zone->front().series.key.labels == odd));
  auto none = reader->query("rss_bytes", {{"target", "nope"}}, 0, 10000);
  BOOST_REQUIRE(none);
  BOOST_TEST(none->empty());
  auto unknown = reader->query("no_such_metric", {}, 0, 10000);
  BOOST_REQUIRE(unknown);
  BOOST_TEST(unknown->empty());
  auto empty_range = reader->query("rss_bytes", gw, 5000, 9000);
  BOOST_REQUIRE(empty_range);
  BOOST_REQUIRE_EQUAL(empty_range->size(), 1u);
  BOOST_TEST(empty_range->front().points.empty());

  auto metrics = reader->metrics();
  BOOST_REQUIRE(metrics);
  BOOST_TEST((*metrics == std::vector<std::string>{"cpu_seconds_total", "rss_bytes"}));
  auto series = reader->series("rss_*");
  BOOST_REQUIRE(series);
  BOOST_TEST(series->size() == 3u);
  auto every = reader->series("*");
  BOOST_REQUIRE(every);
  BOOST_TEST(every->size() == 4u);

  // The writer compacts 1970's windows at once; once in chunks, latest() is
  // the largest ts (the head's rule, newest written, is in compaction_test).
  BOOST_REQUIRE((*writer)->compact());
  BOOST_TEST((*writer)->stats().samples_compacted == 7u);
  auto latest = reader->latest(g->series.id);
  BOOST_REQUIRE(latest);
  BOOST_REQUIRE(latest->has_value());
  BOOST_TEST((*latest)->ts_ms == 4000);
  BOOST_TEST((*latest)->value == 4.5);
  auto missing = reader->latest(12345);
  BOOST_REQUIRE(missing);
  BOOST_TEST(!missing->has_value());

  auto last = reader->last_sample_ms();
  BOOST_REQUIRE(last);
  BOOST_TEST(last->value_or(0) == 4000);
  auto count = reader->sample_count();
  BOOST_REQUIRE(count);
  BOOST_TEST(*count == 7u);
}

BOOST_AUTO_TEST_CASE(write_and_read_back_events) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE(writer);

  Event start = event(100, EventKind::kDaemonStart, "", "vigild started");
  start.details = R"({"version":"0.1.0"})";
  Event restart = event(300, EventKind::kTargetRestarted, "gateway", "pid changed");
  restart.check = "process";
  restart.severity = Severity::kWarning;
  (*writer)->enqueue(start);
  (*writer)->enqueue(event(200, EventKind::kTargetAppeared, "gateway"));
  (*writer)->enqueue(restart);
  (*writer)->enqueue(event(300, EventKind::kTargetVanished, "db"));
  Event crit = event(400, EventKind::kStoreRecovered, "", "moved aside");
  crit.severity = Severity::kCritical;
  (*writer)->enqueue(crit);
  BOOST_REQUIRE((*writer)->flush());
  BOOST_TEST((*writer)->stats().events_committed == 5u);
  BOOST_TEST((*writer)->stats().samples_committed == 0u);

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto all = reader->events({});
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 5u);
  BOOST_TEST(((*all)[0].kind == EventKind::kDaemonStart));
  BOOST_TEST((*all)[0].details == R"({"version":"0.1.0"})");
  BOOST_TEST((*all)[0].message == "vigild started");
  // Equal timestamps keep insertion order.
  BOOST_TEST(((*all)[2].kind == EventKind::kTargetRestarted));
  BOOST_TEST((*all)[2].check == "process");
  BOOST_TEST((*all)[2].target == "gateway");
  BOOST_TEST(((*all)[2].severity == Severity::kWarning));
  BOOST_TEST(((*all)[3].kind == EventKind::kTargetVanished));
  BOOST_TEST(((*all)[4].severity == Severity::kCritical));

  EventQuery range;
  range.since = 200;
  range.until = 300;
  auto in_range = reader->events(range);
  BOOST_REQUIRE(in_range);
  BOOST_TEST(in_range->size() == 3u);

  EventQuery kinds;
  kinds.kind = "target_*";
  auto targets = reader->events(kinds);
  BOOST_REQUIRE(targets);
  BOOST_TEST(targets->size() == 3u);

  EventQuery gateway;
  gateway.target = "gateway";
  gateway.kind = "target_[ar]*";
  auto gw = reader->events(gateway);
  BOOST_REQUIRE(gw);
  BOOST_REQUIRE_EQUAL(gw->size(), 2u);
  BOOST_TEST(((*gw)[0].kind == EventKind::kTargetAppeared));

  // The newest two, returned oldest first.
  EventQuery newest;
  newest.limit = 2;
  auto last_two = reader->events(newest);
  BOOST_REQUIRE(last_two);
  BOOST_REQUIRE_EQUAL(last_two->size(), 2u);
  BOOST_TEST(((*last_two)[0].kind == EventKind::kTargetVanished));
  BOOST_TEST(((*last_two)[1].kind == EventKind::kStoreRecovered));
}

BOOST_AUTO_TEST_CASE(series_ids_are_stable_across_reopen) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  const Labels a{{"target", "a"}};
  const Labels b{{"target", "b"}};
  std::int64_t id_a = 0, id_b = 0;
  {
    auto writer = StoreWriter::open(options_for(path), nullptr);
    BOOST_REQUIRE(writer);
    (*writer)->enqueue({sample("m", a, 1, 1), sample("m", b, 1, 2)});
    BOOST_REQUIRE((*writer)->flush());
    auto reader = StoreReader::open(path);
    BOOST_REQUIRE(reader);
    auto s = reader->query("m", a, 0, 10);
    BOOST_REQUIRE(s);
    BOOST_REQUIRE_EQUAL(s->size(), 1u);
    id_a = s->front().series.id;
    auto t = reader->query("m", b, 0, 10);
    BOOST_REQUIRE(t);
    BOOST_REQUIRE_EQUAL(t->size(), 1u);
    id_b = t->front().series.id;
  }
  {
    OpenReport report;
    auto writer = StoreWriter::open(options_for(path), &report);
    BOOST_REQUIRE(writer);
    BOOST_TEST(!report.created);
    BOOST_TEST(report.migrated_from == kSchemaVersion);
    BOOST_TEST((*writer)->stats().series == 2u);
    // Labels given in another order name the same series.
    (*writer)->enqueue({sample("m", b, 2, 3), sample("m", a, 2, 4), sample("m", {{"x", "1"}, {"target", "a"}}, 2, 5)});
    BOOST_REQUIRE((*writer)->flush());
    BOOST_TEST((*writer)->stats().series == 3u);
  }
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto s = reader->query("m", a, 0, 10);
  BOOST_REQUIRE(s);
  BOOST_REQUIRE_EQUAL(s->size(), 2u);  // {target=a} and {target=a,x=1}
  const SeriesPoints* exact = find_series(*s, a);
  BOOST_REQUIRE(exact != nullptr);
  BOOST_TEST(exact->series.id == id_a);
  BOOST_TEST(exact->points.size() == 2u);
  auto t = reader->query("m", b, 0, 10);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->front().series.id == id_b);
  auto ordered = reader->query("m", {{"target", "a"}, {"x", "1"}}, 0, 10);
  BOOST_REQUIRE(ordered);
  BOOST_REQUIRE_EQUAL(ordered->size(), 1u);
  BOOST_TEST(ordered->front().points.at(0).value == 5.0);
}

BOOST_AUTO_TEST_CASE(queue_overflow_drops_the_oldest_samples_never_events) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path, Millis(3600 * 1000), 10), nullptr);
  BOOST_REQUIRE(writer);
  const Labels l{{"target", "t"}};
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<Sample> samples;
    for (int i = 0; i < 6; ++i) samples.push_back(sample("m", l, batch * 6 + i, batch * 6 + i));
    (*writer)->enqueue(std::move(samples));
    (*writer)->enqueue(event(batch, EventKind::kDaemonStart, "t"));
  }
  // One batch larger than the whole queue keeps its newest samples.
  WriterStats before = (*writer)->stats();
  BOOST_TEST(before.samples_dropped == 8u);
  BOOST_TEST(before.queued == 10u);
  BOOST_REQUIRE((*writer)->flush());
  WriterStats after = (*writer)->stats();
  BOOST_TEST(after.samples_committed == 10u);
  BOOST_TEST(after.events_committed == 3u);

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto points = reader->query("m", l, 0, 100);
  BOOST_REQUIRE(points);
  BOOST_REQUIRE_EQUAL(points->size(), 1u);
  std::vector<WallMs> expected;
  for (int i = 8; i < 18; ++i) expected.push_back(i);
  BOOST_TEST((times(points->front()) == expected));
  auto events = reader->events({});
  BOOST_REQUIRE(events);
  BOOST_TEST(events->size() == 3u);

  std::vector<Sample> huge;
  for (int i = 0; i < 25; ++i) huge.push_back(sample("m", l, 100 + i, i));
  (*writer)->enqueue(std::move(huge));
  BOOST_TEST((*writer)->stats().samples_dropped == 8u + 15u);
  BOOST_REQUIRE((*writer)->flush());
  auto tail = reader->query("m", l, 100, 200);
  BOOST_REQUIRE(tail);
  BOOST_TEST(tail->front().points.size() == 10u);
  BOOST_TEST(tail->front().points.front().ts_ms == 115);
}

BOOST_AUTO_TEST_CASE(timer_commits_without_flush) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path, Millis(20)), nullptr);
  BOOST_REQUIRE(writer);
  (*writer)->enqueue({sample("m", {}, 1, 1)});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*writer)->stats().samples_committed == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  BOOST_TEST((*writer)->stats().samples_committed == 1u);
  BOOST_TEST((*writer)->stats().last_commit_ms > 0);
}

BOOST_AUTO_TEST_CASE(commit_failure_keeps_a_bounded_batch_and_retries) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path, Millis(3600 * 1000), 10), nullptr);
  BOOST_REQUIRE(writer);
  const Labels l{{"target", "t"}};

  // Another connection holds the write lock: the writer's commit gets SQLITE_BUSY.
  sqlite3* blocker = nullptr;
  BOOST_REQUIRE(sqlite3_open(path.c_str(), &blocker) == SQLITE_OK);
  BOOST_REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  std::vector<Sample> first;
  for (int i = 0; i < 8; ++i) first.push_back(sample("m", l, i, i));
  (*writer)->enqueue(std::move(first));
  (*writer)->enqueue(event(1, EventKind::kDaemonStart, "t"));
  auto failed = (*writer)->flush();
  BOOST_REQUIRE(!failed);
  BOOST_TEST((failed.error().kind == ErrorKind::kStore));
  WriterStats stats = (*writer)->stats();
  BOOST_TEST(stats.commit_failures == 1u);
  BOOST_TEST(stats.commits == 0u);
  BOOST_TEST(stats.queued == 8u);  // retained
  BOOST_TEST(!stats.last_error.empty());

  // More samples while failing: retained + new is cut to the capacity.
  std::vector<Sample> second;
  for (int i = 8; i < 14; ++i) second.push_back(sample("m", l, i, i));
  (*writer)->enqueue(std::move(second));
  BOOST_TEST(!(*writer)->flush());
  stats = (*writer)->stats();
  BOOST_TEST(stats.commit_failures == 2u);
  BOOST_TEST(stats.queued == 10u);
  BOOST_TEST(stats.samples_dropped == 4u);

  BOOST_REQUIRE(sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(blocker);
  BOOST_REQUIRE((*writer)->flush());
  stats = (*writer)->stats();
  BOOST_TEST(stats.commits == 1u);
  BOOST_TEST(stats.samples_committed == 10u);
  BOOST_TEST(stats.events_committed == 1u);
  BOOST_TEST(stats.queued == 0u);
  BOOST_TEST(stats.series == 1u);

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto points = reader->query("m", l, 0, 100);
  BOOST_REQUIRE(points);
  BOOST_REQUIRE_EQUAL(points->size(), 1u);
  BOOST_TEST(points->front().points.size() == 10u);
  BOOST_TEST(points->front().points.front().ts_ms == 4);
  auto events = reader->events({});
  BOOST_REQUIRE(events);
  BOOST_TEST(events->size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_long_outage_keeps_records_within_a_bound) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  StoreOptions options = options_for(path, Millis(3600 * 1000), 10);
  options.record_capacity = 3;
  auto writer = StoreWriter::open(options, nullptr);
  BOOST_REQUIRE(writer);
  sqlite3* blocker = nullptr;
  BOOST_REQUIRE(sqlite3_open(path.c_str(), &blocker) == SQLITE_OK);
  BOOST_REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  for (int i = 1; i <= 5; ++i) (*writer)->enqueue(event(i, EventKind::kTargetCrashed, "t" + std::to_string(i)));
  IncidentRow row;
  row.id = 7;
  row.target = "t";
  row.trigger = Trigger{TriggerKind::kCrash, ""};
  row.started_ms = row.detected_ms = row.updated_ms = 100;
  (*writer)->enqueue(row);
  BOOST_TEST(!(*writer)->flush());
  row.recovered_ms = row.updated_ms = 200;  // the same incident, closed during the outage
  (*writer)->enqueue(row);
  BOOST_TEST(!(*writer)->flush());
  WriterStats stats = (*writer)->stats();
  BOOST_TEST(stats.commit_failures == 2u);
  BOOST_TEST(stats.events_dropped == 2u);  // the two oldest

  BOOST_REQUIRE(sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(blocker);
  BOOST_REQUIRE((*writer)->flush());
  stats = (*writer)->stats();
  BOOST_TEST(stats.events_committed == 3u);
  (*writer)->close();

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto events = reader->events({});
  BOOST_REQUIRE(events);
  std::vector<std::string> targets;
  for (const auto& e : *events) targets.push_back(e.target);
  std::sort(targets.begin(), targets.end());
  BOOST_TEST(targets == (std::vector<std::string>{"t3", "t4", "t5"}), boost::test_tools::per_element());
  auto incidents = reader->incidents({});
  BOOST_REQUIRE(incidents);
  BOOST_REQUIRE_EQUAL(incidents->size(), 1u);
  BOOST_TEST(incidents->front().recovered_ms == 200);  // the newest row
}

BOOST_AUTO_TEST_CASE(close_is_idempotent_and_flushes) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE(writer);
  (*writer)->enqueue({sample("m", {}, 1, 1), sample("m", {}, 2, 2)});
  (*writer)->enqueue(event(1, EventKind::kDaemonStop, ""));
  (*writer)->close();
  (*writer)->close();
  BOOST_TEST((*writer)->stats().samples_committed == 2u);
  auto after = (*writer)->flush();
  BOOST_REQUIRE(!after);
  BOOST_TEST((after.error().kind == ErrorKind::kInvalid));
  (*writer)->enqueue({sample("m", {}, 3, 3)});
  BOOST_TEST((*writer)->stats().samples_dropped == 1u);
  // The WAL is checkpointed and emptied when the writer closes; -wal and
  // -shm stay for readers that may not create them.
  BOOST_TEST(vigil::test::file_exists(path + "-shm"));
  BOOST_TEST(vigil::test::read_bytes(path + "-wal").empty());

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  BOOST_TEST(reader->sample_count().value_or(0) == 2u);
  BOOST_TEST(reader->events({}).value_or(std::vector<Event>{}).size() == 1u);
}

BOOST_AUTO_TEST_CASE(enqueue_from_many_threads) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path, Millis(5)), nullptr);
  BOOST_REQUIRE(writer);
  StoreWriter* w = writer->get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([w, t] {
      for (int i = 0; i < 200; ++i) {
        w->enqueue({sample("m", {{"thread", std::to_string(t)}}, i, i)});
        if (i % 50 == 0) {
          w->enqueue(event(i, EventKind::kDaemonStart, std::to_string(t)));
          (void)w->flush();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_REQUIRE(w->flush());
  const WriterStats stats = w->stats();
  BOOST_TEST(stats.samples_committed == 800u);
  BOOST_TEST(stats.events_committed == 16u);
  BOOST_TEST(stats.series == 4u);
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(reader);
  auto all = reader->query("m", {}, 0, 1000);
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 4u);
  for (const auto& s : *all) BOOST_TEST(s.points.size() == 200u);
}

BOOST_AUTO_TEST_CASE(flushed_data_survives_the_writer_dying) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    auto writer = StoreWriter::open(options_for(path), nullptr);
    if (!writer) ::_exit(2);
    std::vector<Sample> samples;
    for (int i = 0; i < 1000; ++i) samples.push_back(sample("m", {{"i", std::to_string(i % 10)}}, i, i));
    (*writer)->enqueue(std::move(samples));
    (*writer)->enqueue(event(5, EventKind::kDaemonStart, ""));
    if (!(*writer)->flush()) ::_exit(3);
    // Queued but never flushed: lost, and that is fine.
    (*writer)->enqueue({sample("m", {{"i", "0"}}, 5000, 1)});
    ::_exit(0);  // no close(), no destructors: as good as a crash
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_REQUIRE_EQUAL(WEXITSTATUS(status), 0);
  BOOST_TEST(vigil::test::file_exists(path + "-wal"));

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  BOOST_TEST(reader->sample_count().value_or(0) == 1000u);
  auto all = reader->query("m", {}, 0, 100000);
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 10u);
  for (const auto& s : *all) BOOST_TEST(s.points.size() == 100u);
  BOOST_TEST(reader->events({}).value_or(std::vector<Event>{}).size() == 1u);

  // The writer opens the crashed store again and goes on.
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE(writer);
  BOOST_TEST(!report.recovered);
  BOOST_TEST((*writer)->stats().series == 10u);
}
