// vigil incidents and vigil incident ID over a store this test fills through
// StoreWriter, at fixed times so that every line is known in advance.
#define BOOST_TEST_MODULE integration_incidents_cli
#include <sqlite3.h>

#include "store/store.hpp"
#include "tests/integration/harness.hpp"

using namespace harness;
using nlohmann::json;

namespace {

// 2023-11-14T22:13:20Z.
constexpr vigil::WallMs kT0 = 1'700'000'000'000;

vigil::IncidentAction action(vigil::WallMs started, vigil::WallMs finished, const std::string& result,
                             const std::string& message) {
  vigil::IncidentAction a;
  a.started_ms = started;
  a.finished_ms = finished;
  a.action = vigil::ActionKind::kRestart;
  a.detail = "systemctl restart gateway.service";
  a.result = *vigil::parse_kind<vigil::ActionStatus>(result);
  a.message = message;
  return a;
}

vigil::IncidentRow incident(std::int64_t id, const std::string& target, const std::string& trigger,
                            vigil::WallMs started, vigil::WallMs detected, vigil::WallMs recovered) {
  vigil::IncidentRow r;
  r.id = id;
  r.target = target;
  r.trigger = *vigil::Trigger::parse(trigger);
  r.started_ms = started;
  r.detected_ms = detected;
  r.recovered_ms = recovered;
  r.root_cause = vigil::RootCause::kCrashed;
  r.summary = "the main process exited with status 1";
  r.evidence = R"({"exit_status":1,"last":{"rss_bytes":1024}})";
  r.updated_ms = recovered != 0 ? recovered : detected;
  return r;
}

vigil::Event event(vigil::WallMs ts, const std::string& kind, const std::string& target, const std::string& message) {
  vigil::Event e;
  e.ts_ms = ts;
  e.kind = *vigil::parse_kind<vigil::EventKind>(kind);
  e.target = target;
  e.message = message;
  return e;
}

// Four incidents:
//   1 gateway check:health  detect 2.013s, recover 5.1s, restart ok
//   2 db      crash         detect 450ms, recover 1.7s, restart ok
//   3 gateway check:health  open, given up after two failed restarts
//   4 worker  rule:MemoryHigh dry run, detect 1.2s, recover 10.0s, evidence not JSON
// and events of gateway around incident 1 (two outside its window) and one
// of db inside it.
struct Store {
  TempDir dir;
  std::string path = dir / "vigil.db";

  Store() {
    vigil::StoreOptions options;
    options.path = path;
    auto writer = vigil::StoreWriter::open(options, nullptr);
    BOOST_REQUIRE_MESSAGE(writer, (writer ? "" : writer.error().message));
    auto& w = **writer;

    vigil::IncidentRow one = incident(1, "gateway", "check:health", kT0, kT0 + 2013, kT0 + 5100);
    one.actions = {action(kT0 + 2015, kT0 + 2500, "ok", "active again after 485ms")};
    vigil::IncidentRow two = incident(2, "db", "crash", kT0 + 60'000, kT0 + 60'450, kT0 + 61'700);
    two.actions = {action(kT0 + 60'460, kT0 + 61'000, "ok", "")};
    vigil::IncidentRow three = incident(3, "gateway", "check:health", kT0 + 120'000, kT0 + 122'000, 0);
    three.actions = {action(kT0 + 122'010, kT0 + 123'000, "failed", "exit status 1"),
                     action(kT0 + 130'000, kT0 + 131'000, "failed", "exit status 1")};
    three.given_up = true;
    vigil::IncidentRow four = incident(4, "worker", "rule:MemoryHigh", kT0 + 180'000, kT0 + 181'200, kT0 + 190'000);
    four.root_cause = vigil::RootCause::kResourceExhausted;
    four.dry_run = true;
    four.evidence = "not json";
    four.actions = {action(kT0 + 181'300, 0, "would", "dry run")};
    for (auto* r : {&one, &two, &three, &four}) w.enqueue(*r);

    w.enqueue(event(kT0 - 5000, "check_ok", "gateway", "before the window"));
    w.enqueue(event(kT0 - 500, "check_failing", "gateway", "health: connection refused"));
    w.enqueue(event(kT0 + 1000, "target_restarted", "db", "another target"));
    w.enqueue(event(kT0 + 2013, "check_failed", "gateway", "health failed 3 times"));
    w.enqueue(event(kT0 + 3000, "target_restarted", "gateway", "gateway restarted: new pid 4242"));
    w.enqueue(event(kT0 + 5100, "check_ok", "gateway", "health ok again"));
    w.enqueue(event(kT0 + 10'000, "check_failing", "gateway", "after the window"));
    auto flushed = w.flush();
    BOOST_REQUIRE_MESSAGE(flushed, (flushed ? "" : flushed.error().message));
    w.close();
  }

  RunResult cli(std::vector<std::string> args) const {
    args.insert(args.begin(), env_path("VIGIL"));
    args.push_back("--db");
    args.push_back(path);
    return run(args);
  }

  json cli_json(std::vector<std::string> args) const {
    args.push_back("--format");
    args.push_back("json");
    RunResult r = cli(args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << ": " << r.err);
    json j = json::parse(r.out, nullptr, false);
    BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.out);
    return j;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// The line that starts with `prefix` ("" when none).
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const auto& l : lines_of(text)) {
    if (l.rfind(prefix, 0) == 0) return l;
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::int64_t> ids(const json& array) {
  std::vector<std::int64_t> out;
  for (const auto& j : array) out.push_back(j.at("id").get<std::int64_t>());
  return out;
}

using Ids = std::vector<std::int64_t>;

}  // namespace

BOOST_AUTO_TEST_CASE(table_has_a_line_per_incident_and_the_mttr_summary) {
  Store store;
  RunResult r = store.cli({"incidents"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  BOOST_REQUIRE_MESSAGE(lines.size() == 6u, r.out);
  for (const char* column : {"ID", "TARGET", "STARTED", "ROOT CAUSE", "DETECT", "RECOVER", "ACTIONS", "TRIGGER"}) {
    BOOST_TEST(has(lines[0], column), lines[0]);
  }
  const std::string one = line_starting(r.out, "1 ");
  BOOST_TEST(has(one, "gateway"), one);
  BOOST_TEST(has(one, "2023-11-14T22:13:20.000Z"), one);
  BOOST_TEST(has(one, "crashed"), one);
  BOOST_TEST(has(one, " 2.0s "), one);
  BOOST_TEST(has(one, " 5.1s "), one);
  BOOST_TEST(has(one, "restart ok"), one);
  BOOST_TEST(has(one, "check:health"), one);
  const std::string two = line_starting(r.out, "2 ");
  BOOST_TEST(has(two, " 450ms "), two);
  BOOST_TEST(has(two, " 1.7s "), two);
  BOOST_TEST(has(two, "crash"), two);
  const std::string three = line_starting(r.out, "3 ");
  BOOST_TEST(has(three, "open (given up)"), three);
  BOOST_TEST(has(three, "restart failed, restart failed"), three);
  const std::string four = line_starting(r.out, "4 ");
  BOOST_TEST(has(four, "would restart"), four);
  BOOST_TEST(has(four, " 1.2s "), four);
  BOOST_TEST(has(four, " 10.0s "), four);
  BOOST_TEST(has(four, "resource_exhausted"), four);
  // (5100 + 1700 + 10000) / 3 over the three recovered ones.
  BOOST_TEST(lines.back() == "4 incidents, 3 recovered, MTTR 5.6s");
}

BOOST_AUTO_TEST_CASE(filters_select_by_target_time_open_and_limit) {
  Store store;
  BOOST_TEST((ids(store.cli_json({"incidents"})) == Ids{1, 2, 3, 4}));
  BOOST_TEST((ids(store.cli_json({"incidents", "--target", "gateway"})) == Ids{1, 3}));
  BOOST_TEST((ids(store.cli_json({"incidents", "--open"})) == Ids{3}));
  BOOST_TEST((ids(store.cli_json({"incidents", "--limit", "2"})) == Ids{3, 4}));
  // [T0+50s, T0+65s]: only 2 (1 recovered before it, 3 started after it).
  BOOST_TEST((ids(store.cli_json(
                  {"incidents", "--since", "2023-11-14T22:14:10Z", "--until", "2023-11-14T22:14:25Z"})) == Ids{2}));
  // From T0+150s on: 3 is still open, 4 started later.
  BOOST_TEST((ids(store.cli_json({"incidents", "--since", "2023-11-14T22:15:50Z"})) == Ids{3, 4}));

  // Nothing recovered among the shown: no MTTR line.
  RunResult open = store.cli({"incidents", "--open"});
  BOOST_TEST(open.exit_code == 0);
  BOOST_TEST(lines_of(open.out).size() == 2u, open.out);
  BOOST_TEST(!has(open.out, "MTTR"));
  // None at all: nothing on stdout, a note on stderr, still success.
  RunResult none = store.cli({"incidents", "--target", "nobody"});
  BOOST_TEST(none.exit_code == 0);
  BOOST_TEST(none.out.empty());
  BOOST_TEST(has(none.err, "no incidents"), none.err);
}

BOOST_AUTO_TEST_CASE(json_has_every_field) {
  Store store;
  json all = store.cli_json({"incidents"});
  BOOST_REQUIRE(all.is_array());
  BOOST_REQUIRE(all.size() == 4u);
  const json& one = all[0];
  BOOST_TEST(one.at("id") == 1);
  BOOST_TEST(one.at("target") == "gateway");
  BOOST_TEST(one.at("trigger") == "check:health");
  BOOST_TEST(one.at("root_cause") == "crashed");
  BOOST_TEST(one.at("summary") == "the main process exited with status 1");
  BOOST_TEST(one.at("started") == "2023-11-14T22:13:20.000Z");
  BOOST_TEST(one.at("started_ms") == kT0);
  BOOST_TEST(one.at("detected") == "2023-11-14T22:13:22.013Z");
  BOOST_TEST(one.at("detected_ms") == kT0 + 2013);
  BOOST_TEST(one.at("recovered") == "2023-11-14T22:13:25.100Z");
  BOOST_TEST(one.at("recovered_ms") == kT0 + 5100);
  BOOST_TEST(one.at("detect_ms") == 2013);
  BOOST_TEST(one.at("recover_ms") == 5100);
  BOOST_TEST(one.at("open") == false);
  BOOST_TEST(one.at("given_up") == false);
  BOOST_TEST(one.at("dry_run") == false);
  BOOST_TEST(one.at("updated_ms") == kT0 + 5100);
  BOOST_TEST(one.at("evidence").is_object());
  BOOST_TEST(one.at("evidence").at("exit_status") == 1);
  BOOST_TEST(one.at("evidence").at("last").at("rss_bytes") == 1024);
  BOOST_REQUIRE(one.at("actions").size() == 1u);
  const json& a = one.at("actions")[0];
  BOOST_TEST(a.at("seq") == 1);
  BOOST_TEST(a.at("action") == "restart");
  BOOST_TEST(a.at("detail") == "systemctl restart gateway.service");
  BOOST_TEST(a.at("result") == "ok");
  BOOST_TEST(a.at("message") == "active again after 485ms");
  BOOST_TEST(a.at("started_ms") == kT0 + 2015);
  BOOST_TEST(a.at("finished_ms") == kT0 + 2500);
  BOOST_TEST(a.at("duration_ms") == 485);

  const json& three = all[2];
  BOOST_TEST(three.at("open") == true);
  BOOST_TEST(three.at("given_up") == true);
  BOOST_TEST(three.at("recovered").is_null());
  BOOST_TEST(three.at("recovered_ms").is_null());
  BOOST_TEST(three.at("recover_ms").is_null());
  BOOST_TEST(three.at("actions").size() == 2u);

  const json& four = all[3];
  BOOST_TEST(four.at("dry_run") == true);
  BOOST_TEST(four.at("evidence") == "not json");  // kept as text when it does not parse
  BOOST_TEST(four.at("actions")[0].at("result") == "would");
  BOOST_TEST(four.at("actions")[0].at("finished_ms").is_null());
  BOOST_TEST(four.at("actions")[0].at("duration_ms").is_null());
}

BOOST_AUTO_TEST_CASE(csv_has_a_header_and_a_row_per_incident) {
  Store store;
  RunResult r = store.cli({"incidents", "--format", "csv"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  BOOST_REQUIRE(lines.size() == 5u);
  BOOST_TEST(lines[0].rfind("id,target,trigger,started_ms,", 0) == 0u, lines[0]);
  BOOST_TEST(lines[1].rfind("1,gateway,check:health," + std::to_string(kT0) + ",", 0) == 0u, lines[1]);
  BOOST_TEST(has(lines[3], ",,"), lines[3]);  // open: no recovered_ms, no recover_ms
}

BOOST_AUTO_TEST_CASE(incident_timeline_is_in_time_order_relative_to_the_start) {
  Store store;
  RunResult r = store.cli({"incident", "1"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(has(lines_of(r.out).at(0), "incident 1"), r.out);
  // Each in turn, after the one before; events of gateway interleaved.
  const std::vector<std::string> expected = {
      "-0.500s  event check_failing: health: connection refused",
      "+0.000s  started (first failing result)",
      "+2.013s  detected: check:health",
      "+2.013s  event check_failed: health failed 3 times",
      "+2.015s  restart started: systemctl restart gateway.service",
      "+2.500s  restart ok: active again after 485ms",
      "+3.000s  event target_restarted: gateway restarted: new pid 4242",
      "+5.100s  recovered",
      "+5.100s  event check_ok: health ok again",
      "root cause: crashed: the main process exited with status 1",
      "evidence:",
      "  exit_status: 1",
      "  last.rss_bytes: 1024",
  };
  std::size_t at = 0;
  for (const auto& want : expected) {
    const std::size_t found = r.out.find(want, at);
    BOOST_TEST_REQUIRE(found != std::string::npos, "\"" << want << "\" not found in order in:\n" << r.out);
    at = found + want.size();
  }
  // Outside [start - 1s, recovery + 1s], or another target's: left out.
  BOOST_TEST(!has(r.out, "before the window"));
  BOOST_TEST(!has(r.out, "after the window"));
  BOOST_TEST(!has(r.out, "another target"));
}

BOOST_AUTO_TEST_CASE(incident_of_a_dry_run_and_an_open_one) {
  Store store;
  RunResult dry = store.cli({"incident", "4"});
  BOOST_REQUIRE_MESSAGE(dry.exit_code == 0, dry.err);
  BOOST_TEST(has(dry.out, "+1.300s  would restart: systemctl restart gateway.service (dry run)"), dry.out);
  BOOST_TEST(has(dry.out, "started (the rule's condition first held)"), dry.out);
  BOOST_TEST(has(dry.out, "evidence: not json"), dry.out);

  RunResult open = store.cli({"incident", "3"});
  BOOST_REQUIRE_MESSAGE(open.exit_code == 0, open.err);
  BOOST_TEST(has(open.out, "still open (actions given up)"), open.out);
  BOOST_TEST(has(open.out, "+11.000s  restart failed: exit status 1"), open.out);
  BOOST_TEST(has(open.out, "actions: given up"), open.out);
}

BOOST_AUTO_TEST_CASE(incident_json_has_the_timeline) {
  Store store;
  json j = store.cli_json({"incident", "1"});
  BOOST_TEST(j.at("id") == 1);
  BOOST_TEST(j.at("evidence").at("exit_status") == 1);
  const json& timeline = j.at("timeline");
  std::vector<std::string> kinds;
  std::vector<std::int64_t> offsets;
  for (const auto& e : timeline) {
    kinds.push_back(e.at("kind"));
    offsets.push_back(e.at("offset_ms"));
  }
  BOOST_TEST((kinds == std::vector<std::string>{"event", "started", "detected", "event", "action", "action", "event",
                                                "recovered", "event"}));
  BOOST_TEST((offsets == std::vector<std::int64_t>{-500, 0, 2013, 2013, 2015, 2500, 3000, 5100, 5100}));
}

BOOST_AUTO_TEST_CASE(errors_exit_2) {
  Store store;
  RunResult unknown = store.cli({"incident", "42"});
  BOOST_TEST(unknown.exit_code == 2);
  BOOST_TEST(has(unknown.err, "no incident 42 in " + store.path), unknown.err);
  BOOST_TEST(unknown.out.empty());

  RunResult bad_id = store.cli({"incident", "abc"});
  BOOST_TEST(bad_id.exit_code == 2);
  BOOST_TEST(has(bad_id.err, "abc"), bad_id.err);
  BOOST_TEST(store.cli({"incident", "0"}).exit_code == 2);
  BOOST_TEST(store.cli({"incident"}).exit_code == 2);
  BOOST_TEST(store.cli({"incident", "1", "--format", "csv"}).exit_code == 2);

  RunResult bad_since = store.cli({"incidents", "--since", "yesterday"});
  BOOST_TEST(bad_since.exit_code == 2);
  BOOST_TEST(has(bad_since.err, "--since"), bad_since.err);
  BOOST_TEST(store.cli({"incidents", "--since", "1h", "--until", "2h"}).exit_code == 2);
  BOOST_TEST(store.cli({"incidents", "--format", "xml"}).exit_code == 2);
  BOOST_TEST(store.cli({"incidents", "--limit", "many"}).exit_code == 2);
}

BOOST_AUTO_TEST_CASE(a_store_not_yet_migrated_says_so) {
  Store store;
  // What a version 2 store looks like to this build: vigild has not run
  // since the upgrade.
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open(store.path.c_str(), &db) == SQLITE_OK);
  BOOST_REQUIRE(sqlite3_exec(db,
                             "DROP TABLE incident_actions; DROP TABLE incidents; "
                             "UPDATE meta SET value = 2 WHERE key = 'schema_version';",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  RunResult r = store.cli({"incidents"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(has(r.err, "schema version 2"), r.err);
  BOOST_TEST(has(r.err, "migrate"), r.err);
}

BOOST_AUTO_TEST_CASE(help_lists_both_commands) {
  RunResult r = run({env_path("VIGIL"), "--help"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(has(r.out, "\n  incidents "), r.out);
  BOOST_TEST(has(r.out, "\n  incident "), r.out);
}
