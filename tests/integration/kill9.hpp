// The kill -9 loop (issue 13), shared by tests/integration/survival_test.cpp
// (a short run in ./dev.sh test) and tests/bench/survival.cpp (200 kills):
//
// vigild samples the host every 200 ms, runs an http check whose endpoint
// the loop turns bad and good in turn (so CheckFailed fires and resolves
// into an Alertmanager that is not running and a webhook that answers 503)
// and remediates a `start` service that crashes every second. Each round
// waits a random 0.1 to 2.5 s, reads what the store has committed, kills
// vigild with SIGKILL and starts it again; once it is up again:
//   - PRAGMA integrity_check is "ok" and no store was moved aside as corrupt;
//   - every sample read as committed before any kill is still there, with
//     its value, and no (series, ts) is stored twice;
//   - incidents are consistent: an action belongs to an incident, at most
//     one incident per target is open, none recovered before it started,
//     none closed with an action still running.
// After the last round the receivers come back (the webhook answers 200, a
// real Alertmanager starts on the port the config names): the outbox drains
// and every CheckFailed transition the store recorded reaches the webhook.
#pragma once

#include <sqlite3.h>

#include <cstdio>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "tests/integration/alertmanager.hpp"

namespace harness {

struct Kill9Figures {
  int kills = 0;
  int corrupt_dbs = 0;                 // integrity_check not ok, or a store moved aside
  long lost_samples_beyond_flush = 0;  // committed before a kill, missing or changed after it
  long duplicate_samples = 0;          // (series, ts) stored more than once
  int inconsistent_incidents = 0;      // violations of the rules above, summed over rounds
  long transitions = 0;                // CheckFailed firing + resolved, as the store recorded them
  long lost_alerts = 0;                // of those, never accepted by the webhook
  bool outbox_drained = false;
};

namespace kill9_detail {

// A read-only connection to the store while vigild runs (WAL: it sees what
// is committed).
struct Db {
  sqlite3* db = nullptr;
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      db = nullptr;
    }
    if (db != nullptr) sqlite3_busy_timeout(db, 5000);
  }
  ~Db() { sqlite3_close(db); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Each row's columns as text; nullopt when the query failed.
  std::optional<std::vector<std::vector<std::string>>> rows(const std::string& sql) const {
    if (db == nullptr) return std::nullopt;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return std::nullopt;
    std::vector<std::vector<std::string>> out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return std::nullopt;
    return out;
  }
  long count(const std::string& sql) const {
    auto r = rows(sql);
    return r && !r->empty() && !r->front().empty() ? std::atol(r->front()[0].c_str()) : -1;
  }
};

using Sample = std::tuple<std::string, std::string>;  // (series_id|ts, value) by rowid

inline int corrupt_stores_moved_aside(const std::string& state_dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir, ec)) {
    if (e.path().filename().string().find("vigil.db.corrupt-") == 0) ++n;
  }
  return n;
}

inline int incident_violations(const Db& db) {
  const long orphans = db.count(
      "SELECT count(*) FROM incident_actions a WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = "
      "a.incident_id)");
  const long doubly_open = db.count(
      "SELECT count(*) FROM (SELECT target, check_name FROM incidents WHERE recovered = 0 GROUP BY target, "
      "check_name HAVING count(*) > 1)");
  const long backwards = db.count("SELECT count(*) FROM incidents WHERE recovered != 0 AND recovered < started");
  const long running_in_closed = db.count(
      "SELECT count(*) FROM incident_actions a JOIN incidents i ON i.id = a.incident_id WHERE i.recovered != 0 "
      "AND a.result = 'running'");
  int v = 0;
  for (long n : {orphans, doubly_open, backwards, running_in_closed}) v += n < 0 ? 1 : static_cast<int>(n);
  return v;
}

}  // namespace kill9_detail

// Runs `rounds` kills, printing a progress line every 10.
inline Kill9Figures run_kill9(int rounds, unsigned seed) {
  using namespace kill9_detail;
  Kill9Figures f;
  Httpd service, direct, am_sink;
  {
    std::string answer = http_request(direct.port, "POST", "/control/hook?status=503");
    BOOST_REQUIRE_MESSAGE(answer.find("hook status") != std::string::npos, answer);
  }
  const int am_port = free_port();  // Alertmanager starts there after the last kill
  TempDir scripts;
  const std::string crasher = scripts / "crasher.sh";
  write_file(crasher, "#!/bin/sh\nsleep 1\nexit 3\n");
  fs::permissions(crasher, fs::perms(0755));
  Vigil v(
      "[host]\ninterval = \"200ms\"\n"
      "[alerting]\nresend_interval = \"2s\"\ntarget_down = false\n"
      "[[alertmanager]]\nurl = \"http://127.0.0.1:" +
      std::to_string(am_port) + "\"\n[[webhook]]\nurl = \"" + direct.url("/hook") + "\"\n" + stand_in_target("gw") +
      "[[check]]\nname = \"web\"\ntarget = \"gw\"\nkind = \"http\"\nurl = \"" + service.url("/health") +
      "\"\ninterval = \"200ms\"\nfail_after = 1\nrecover_after = 1\ntimeout = \"500ms\"\n"
      "[[target]]\nname = \"crasher\"\nstart = [\"" +
      crasher +
      "\"]\n[target.remediate]\nactions = [\"restart\"]\nmax = 1000\nbackoff = \"1s\"\nmax_backoff = \"1s\"\n");
  const std::string state_dir = v.dir.path.string() + "/state";

  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pause_ms(100, 2500);
  std::map<long, Sample> committed;  // rowid -> sample, every one ever seen committed
  std::size_t starts = 0;
  auto start_and_wait = [&] {
    v.start();
    ++starts;
    // Up again: this start's daemon_start event is committed.
    BOOST_REQUIRE_MESSAGE(wait_for(30s,
                                   [&] {
                                     Db db(v.db());
                                     return db.count("SELECT count(*) FROM events WHERE kind = 'daemon_start'") ==
                                            static_cast<long>(starts);
                                   }),
                          "vigild did not start again: " << v.log());
  };
  start_and_wait();
  for (int round = 1; round <= rounds; ++round) {
    http_request(service.port, "POST", round % 2 == 1 ? "/control/health?mode=status-503" : "/control/health?mode=ok");
    // Let it run to a random point (the kill point, not a synchronisation),
    // read what is committed, then kill.
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    {
      Db db(v.db());
      if (auto rows = db.rows("SELECT rowid, series_id || '|' || ts, value FROM samples_head")) {
        for (const auto& r : *rows) committed[std::atol(r[0].c_str())] = Sample{r[1], r[2]};
      }
    }
    v.daemon.signal(SIGKILL);
    BOOST_REQUIRE(v.daemon.wait(10s).has_value());
    ++f.kills;
    start_and_wait();

    Db db(v.db());
    auto integrity = db.rows("PRAGMA integrity_check");
    const bool ok = integrity && integrity->size() == 1 && integrity->front().front() == "ok";
    if (!ok || corrupt_stores_moved_aside(state_dir) > f.corrupt_dbs) ++f.corrupt_dbs;
    std::map<long, Sample> now;
    if (auto rows = db.rows("SELECT rowid, series_id || '|' || ts, value FROM samples_head")) {
      for (const auto& r : *rows) now[std::atol(r[0].c_str())] = Sample{r[1], r[2]};
    }
    for (auto it = committed.begin(); it != committed.end();) {
      auto found = now.find(it->first);
      if (found == now.end() || found->second != it->second) {
        ++f.lost_samples_beyond_flush;
        it = committed.erase(it);  // counted once
      } else {
        ++it;
      }
    }
    f.duplicate_samples = db.count(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM samples_head GROUP BY series_id, ts "
        "HAVING n > 1)");
    f.inconsistent_incidents += incident_violations(db);
    if (round % 10 == 0 || round == rounds) {
      std::printf("kill9: %d/%d kills, %zu committed samples checked, %d corrupt, %ld lost\n", round, rounds,
                  committed.size(), f.corrupt_dbs, f.lost_samples_beyond_flush);
      std::fflush(stdout);
    }
  }

  // The receivers come back: every transition the store recorded must reach
  // them once the outbox drains.
  http_request(direct.port, "POST", "/control/hook?status=200");
  Alertmanager am(am_sink.url("/hook"), am_port);
  f.outbox_drained = wait_for(120s, [&] {
    Db db(v.db());
    return db.count("SELECT count(*) FROM outbox") == 0;
  });
  Db db(v.db());
  const long firing =
      db.count("SELECT count(*) FROM events WHERE kind = 'alert_firing' AND message LIKE 'alert CheckFailed %'");
  const long resolved =
      db.count("SELECT count(*) FROM events WHERE kind = 'alert_resolved' AND message LIKE 'alert CheckFailed %'");
  f.transitions = firing + resolved;
  std::set<std::string> firing_seen, resolved_seen;  // by startsAt: at-least-once delivery may repeat one
  for (const auto& [status, starts_at] : accepted_alerts(direct, "CheckFailed")) {
    (status == "firing" ? firing_seen : resolved_seen).insert(starts_at);
  }
  f.lost_alerts = std::max(0L, firing - static_cast<long>(firing_seen.size())) +
                  std::max(0L, resolved - static_cast<long>(resolved_seen.size()));
  BOOST_TEST(v.stop().value_or(-1) == 0);
  // (The crashing service exits by itself within a second.)
  return f;
}

}  // namespace harness
