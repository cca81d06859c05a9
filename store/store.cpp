// store/store.cpp: StoreWriter, the batched writer thread.
#include "store/store.hpp"

#include <algorithm>
#include <limits>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "core/log.hpp"
#include "store/compaction.hpp"
#include "store/retention.hpp"
#include "store/schema.hpp"
#include "store/sqlite_util.hpp"

namespace vigil {

using namespace store_detail;

namespace {

// Hashes a key without building its canonical string.
struct SeriesKeyHash {
  static std::size_t mix(std::size_t h, std::size_t x) { return h ^ (x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); }
  std::size_t operator()(const SeriesKey& key) const noexcept {
    const std::hash<std::string_view> hash;
    std::size_t h = hash(key.metric);
    for (const auto& [name, value] : key.labels) {
      h = mix(h, hash(name));
      h = mix(h, hash(value));
    }
    return h;
  }
};

// Samples handed over by one enqueue() call. Dropping the oldest samples
// advances `begin` instead of moving the rest.
struct Batch {
  std::vector<Sample> samples;
  std::size_t begin = 0;
  std::size_t size() const { return samples.size() - begin; }
};

// Drops the oldest samples until at most `capacity` remain; returns how many.
std::size_t trim_oldest(std::deque<Batch>& batches, std::size_t& count, std::size_t capacity) {
  std::size_t dropped = 0;
  while (count > capacity && !batches.empty()) {
    Batch& front = batches.front();
    const std::size_t n = std::min(front.size(), count - capacity);
    front.begin += n;
    count -= n;
    dropped += n;
    if (front.size() == 0) batches.pop_front();
  }
  return dropped;
}

struct Statements {
  UniqueStmt insert_series;
  UniqueStmt insert_sample;
  UniqueStmt insert_event;
  UniqueStmt insert_flush;
  UniqueStmt upsert_alert;
  UniqueStmt insert_outbox;
  UniqueStmt update_outbox;
  UniqueStmt delete_outbox;
  UniqueStmt upsert_incident;
  UniqueStmt delete_incident_actions;
  UniqueStmt insert_incident_action;
};

}  // namespace

struct StoreWriter::Impl {
  StoreOptions options;

  // Owned by the writer thread once it runs (by open() before).
  UniqueDb db;
  Statements stmts;
  std::unordered_map<std::string, std::int64_t> series_ids;             // canonical -> id
  std::unordered_map<SeriesKey, std::int64_t, SeriesKeyHash> id_cache;  // fast path
  std::int64_t next_rowid = 1;  // of samples_head: assigned here, so it only grows
  std::optional<Compactor> compactor;
  std::optional<Retainer> retainer;
  std::vector<std::string> series_added;                                // in the open transaction
  std::deque<Batch> retained;                                           // a batch whose commit failed, then newer ones
  std::size_t retained_samples = 0;
  std::vector<Event> retained_events;
  std::vector<AlertOp> retained_alert_ops;
  std::vector<IncidentRow> retained_incidents;

  // Shared; guarded by mu. The writer never holds mu while it uses SQLite.
  mutable std::mutex mu;
  std::condition_variable wake;     // the writer waits on it
  std::condition_variable flushed;  // flush() waits on it
  std::deque<Batch> queue;
  std::size_t queued_samples = 0;
  std::vector<Event> queued_events;
  std::vector<AlertOp> queued_alert_ops;
  std::vector<IncidentRow> queued_incidents;
  std::size_t in_writer = 0;  // samples the writer holds (being written or retained)
  std::uint64_t flush_requested = 0;
  std::uint64_t flush_done = 0;
  std::uint64_t compact_requested = 0;  // compact(): run compaction until nothing is due
  std::uint64_t compact_done = 0;
  std::optional<Error> compact_error;  // the first failure while compact() waited
  std::optional<Error> cycle_error;  // of the last finished cycle
  bool stopping = false;
  bool drop_warned = false;
  // Owned by the writer thread: an outage of failing commits, logged once.
  bool failing = false;
  bool outage_drop_logged = false;
  std::uint64_t outage_failures = 0;
  WriterStats at_outage_start;
  WriterStats stats;

  std::mutex close_mu;  // serializes close()
  bool closed = false;  // guarded by close_mu
  std::thread thread;

  Result<void> prepare_statements();
  Result<void> load_series();
  Result<void> load_head();
  void compaction_step();
  void retention_step();
  // The time that closes windows: the wall clock, or the options' clock.
  WallMs now() const { return options.clock ? options.clock() : wall_now_ms(); }
  Result<std::int64_t> resolve(const SeriesKey& key);
  Result<void> commit(std::size_t* samples_written, std::size_t* events_written);
  Result<void> apply(const AlertOp& op);
  Result<void> apply(const IncidentRow& incident);
  bool holds_data() const;
  void forget_series_added();

  // One cycle of the writer thread: take what the queue holds (under mu),
  // keep it with what a failed commit left, commit it all (without mu), and
  // publish the outcome (under mu).
  struct Taken {
    std::deque<Batch> batches;
    std::size_t samples = 0;
    std::vector<Event> events;
    std::vector<AlertOp> alert_ops;
    std::vector<IncidentRow> incidents;
  };
  struct Cycle {
    bool work = false;  // there was something to commit
    std::optional<Error> error;
    std::size_t samples_written = 0, events_written = 0, alert_ops_written = 0, dropped = 0;
    double commit_seconds = 0;
  };
  Taken take_queue();
  std::size_t retain(Taken&& taken);
  // dropped_now: the samples retain() dropped this cycle (not yet in stats).
  Cycle commit_retained(std::chrono::steady_clock::time_point cycle_start, std::size_t dropped_now);
  void bound_records();
  WriterStats stats_snapshot() const {
    std::lock_guard lock(mu);
    return stats;
  }
  void publish(Cycle&& cycle, std::uint64_t serving);
  void run();
};

Result<void> StoreWriter::Impl::prepare_statements() {
  const std::string& path = options.path;
  sqlite3* h = db.get();
  auto series = prepare(h,
                        "INSERT INTO series(metric, labels) VALUES(?1, ?2) "
                        "ON CONFLICT(metric, labels) DO UPDATE SET metric = excluded.metric "
                        "RETURNING id",
                        path);
  if (!series) return tl::unexpected(series.error());
  auto sample = prepare(h, "INSERT INTO samples_head(rowid, series_id, ts, value) VALUES(?1, ?2, ?3, ?4)", path);
  if (!sample) return tl::unexpected(sample.error());
  auto event = prepare(h,
                       "INSERT INTO events(ts, kind, target, check_name, severity, message, "
                       "details) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       path);
  if (!event) return tl::unexpected(event.error());
  auto flush = prepare(h,
                       "INSERT INTO head_flushes(first_rowid, last_rowid, min_ts, max_ts) "
                       "VALUES(?1, ?2, ?3, ?4)",
                       path);
  if (!flush) return tl::unexpected(flush.error());
  auto upsert_alert = prepare(h,
                              "INSERT INTO alerts(rule, labels, phase, active_since, fired, resolved, last_sent, "
                              "value, annotations, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                              "ON CONFLICT(rule, labels) DO UPDATE SET phase = excluded.phase, "
                              "active_since = excluded.active_since, fired = excluded.fired, "
                              "resolved = excluded.resolved, last_sent = excluded.last_sent, "
                              "value = excluded.value, annotations = excluded.annotations, "
                              "updated = excluded.updated",
                              path);
  if (!upsert_alert) return tl::unexpected(upsert_alert.error());
  // OR IGNORE: a row re-queued after a failed commit may already be there.
  auto insert_outbox = prepare(h,
                               "INSERT OR IGNORE INTO outbox(id, receiver, alert_key, created, payload, attempts, "
                               "next_attempt, last_error) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                               path);
  if (!insert_outbox) return tl::unexpected(insert_outbox.error());
  auto update_outbox =
      prepare(h, "UPDATE outbox SET attempts = ?2, next_attempt = ?3, last_error = ?4 WHERE id = ?1", path);
  if (!update_outbox) return tl::unexpected(update_outbox.error());
  auto delete_outbox = prepare(h, "DELETE FROM outbox WHERE id = ?1", path);
  if (!delete_outbox) return tl::unexpected(delete_outbox.error());
  auto upsert_incident = prepare(h,
                                 "INSERT INTO incidents(id, target, \"trigger\", started, detected, recovered, "
                                 "root_cause, summary, evidence, given_up, dry_run, updated, check_name) "
                                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
                                 "ON CONFLICT(id) DO UPDATE SET target = excluded.target, "
                                 "\"trigger\" = excluded.\"trigger\", started = excluded.started, "
                                 "detected = excluded.detected, recovered = excluded.recovered, "
                                 "root_cause = excluded.root_cause, summary = excluded.summary, "
                                 "evidence = excluded.evidence, given_up = excluded.given_up, "
                                 "dry_run = excluded.dry_run, updated = excluded.updated, "
                                 "check_name = excluded.check_name",
                                 path);
  if (!upsert_incident) return tl::unexpected(upsert_incident.error());
  auto delete_actions = prepare(h, "DELETE FROM incident_actions WHERE incident_id = ?1", path);
  if (!delete_actions) return tl::unexpected(delete_actions.error());
  auto insert_action = prepare(h,
                               "INSERT INTO incident_actions(incident_id, seq, started, finished, action, detail, "
                               "result, message) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                               path);
  if (!insert_action) return tl::unexpected(insert_action.error());
  stmts.insert_series = std::move(*series);
  stmts.insert_sample = std::move(*sample);
  stmts.insert_event = std::move(*event);
  stmts.insert_flush = std::move(*flush);
  stmts.upsert_alert = std::move(*upsert_alert);
  stmts.insert_outbox = std::move(*insert_outbox);
  stmts.update_outbox = std::move(*update_outbox);
  stmts.delete_outbox = std::move(*delete_outbox);
  stmts.upsert_incident = std::move(*upsert_incident);
  stmts.delete_incident_actions = std::move(*delete_actions);
  stmts.insert_incident_action = std::move(*insert_action);
  return {};
}

Result<void> StoreWriter::Impl::load_series() {
  auto stmt = prepare(db.get(), "SELECT id, metric, labels FROM series", options.path);
  if (!stmt) return tl::unexpected(stmt.error());
  for (;;) {
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      return tl::unexpected(sqlite_error(db.get(), rc, "cannot load the series", options.path));
    }
    std::string canonical = column_text(stmt->get(), 1);
    canonical += column_text(stmt->get(), 2);
    series_ids.emplace(std::move(canonical), sqlite3_column_int64(stmt->get(), 0));
  }
  return {};
}

namespace {

Result<std::int64_t> meta_int(sqlite3* db, const std::string& path, const char* key) {
  auto stmt = prepare(db, "SELECT value FROM meta WHERE key = ?1", path);
  if (!stmt) return tl::unexpected(stmt.error());
  bind_text(stmt->get(), 1, key);
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW || sqlite3_column_type(stmt->get(), 0) != SQLITE_INTEGER) {
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(db, rc, std::string("cannot read meta.") + key, path));
    }
    return fail(ErrorKind::kCorrupt, "meta." + std::string(key) + " in " + path + " is missing or not an integer");
  }
  return sqlite3_column_int64(stmt->get(), 0);
}

}  // namespace

// The chunk span, where head rowids continue, and the compactor.
Result<void> StoreWriter::Impl::load_head() {
  sqlite3* h = db.get();
  const std::string& path = options.path;
  auto span = meta_int(h, path, "chunk_span_ms");
  if (!span) return tl::unexpected(span.error());
  const std::int64_t wanted = options.chunk_span.count();
  if (wanted > 0 && wanted != *span) {
    auto stmt = prepare(h, "UPDATE meta SET value = ?1 WHERE key = 'chunk_span_ms' AND NOT EXISTS "
                           "(SELECT 1 FROM chunks)", path);
    if (!stmt) return tl::unexpected(stmt.error());
    sqlite3_bind_int64(stmt->get(), 1, wanted);
    if (const int rc = sqlite3_step(stmt->get()); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(h, rc, "cannot set meta.chunk_span_ms", path));
    }
    if (sqlite3_changes(h) == 1) *span = wanted;
  }
  if (*span < 1000) {
    return fail(ErrorKind::kCorrupt, "meta.chunk_span_ms in " + path + " is " + std::to_string(*span) +
                                         ", under the 1000 ms a store can have");
  }
  auto floor = meta_int(h, path, "head_rowid_floor");
  if (!floor) return tl::unexpected(floor.error());
  auto top = prepare(h, "SELECT coalesce(max(rowid), 0) FROM samples_head", path);
  if (!top) return tl::unexpected(top.error());
  if (const int rc = sqlite3_step(top->get()); rc != SQLITE_ROW) {
    return tl::unexpected(sqlite_error(h, rc, "cannot read the head", path));
  }
  next_rowid = std::max<std::int64_t>(*floor, sqlite3_column_int64(top->get(), 0)) + 1;
  RetentionPolicy policy{options.retention.raw.count(), options.retention.rollup_1m.count(),
                         options.retention.rollup_1h.count(), options.retention.events.count(),
                         options.retention.incidents.count()};
  policy.max_bytes = options.retention.max_bytes;
  policy.min_free_fraction = options.retention.min_free_fraction;
  if (policy.any()) retainer.emplace(h, path, *span, policy, options.retention.every);
  if (!options.compact) return {};
  compactor.emplace(h, path, *span, options.compaction_grace.count());
  return compactor->load();
}

Result<std::int64_t> StoreWriter::Impl::resolve(const SeriesKey& key) {
  if (auto hit = id_cache.find(key); hit != id_cache.end()) return hit->second;
  std::string canonical = key.canonical();
  std::int64_t id = 0;
  if (auto known = series_ids.find(canonical); known != series_ids.end()) {
    id = known->second;
  } else {
    sqlite3_stmt* stmt = stmts.insert_series.get();
    StmtReset reset(stmt);
    bind_text(stmt, 1, key.metric);
    bind_text(stmt, 2, std::string_view(canonical).substr(key.metric.size()));
    const int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
      return tl::unexpected(sqlite_error(db.get(), rc, "cannot insert series " + canonical, options.path));
    }
    id = sqlite3_column_int64(stmt, 0);
    series_ids.emplace(canonical, id);
    series_added.push_back(std::move(canonical));
  }
  id_cache.emplace(key, id);
  return id;
}

// Series inserted by a transaction that rolled back do not exist.
void StoreWriter::Impl::forget_series_added() {
  if (series_added.empty()) return;
  for (const auto& canonical : series_added) series_ids.erase(canonical);
  series_added.clear();
  id_cache.clear();
}

// Writes `retained`, `retained_events`, the alert operations and the
// incidents in one transaction.
Result<void> StoreWriter::Impl::commit(std::size_t* samples_written, std::size_t* events_written) {
  *samples_written = 0;
  *events_written = 0;
  sqlite3* h = db.get();
  const std::string& path = options.path;
  series_added.clear();
  Transaction txn(h, path);
  if (auto r = txn.begin_immediate(); !r) return r;

  std::int64_t first_rowid = 0, last_rowid = 0;
  WallMs min_ts = std::numeric_limits<WallMs>::max();
  WallMs max_ts = std::numeric_limits<WallMs>::min();
  std::size_t n = 0;
  sqlite3_stmt* insert = stmts.insert_sample.get();
  for (const Batch& batch : retained) {
    for (std::size_t i = batch.begin; i < batch.samples.size(); ++i) {
      const Sample& sample = batch.samples[i];
      auto id = resolve(sample.key);
      if (!id) return tl::unexpected(id.error());
      last_rowid = next_rowid++;
      sqlite3_bind_int64(insert, 1, last_rowid);
      sqlite3_bind_int64(insert, 2, *id);
      sqlite3_bind_int64(insert, 3, sample.ts_ms);
      sqlite3_bind_double(insert, 4, sample.value);
      sqlite3_step(insert);
      // reset() returns the step's error, if any.
      if (const int rc = sqlite3_reset(insert); rc != SQLITE_OK) {
        return tl::unexpected(sqlite_error(h, rc, "cannot insert a sample", path));
      }
      if (n == 0) first_rowid = last_rowid;
      ++n;
      min_ts = std::min(min_ts, sample.ts_ms);
      max_ts = std::max(max_ts, sample.ts_ms);
    }
  }

  sqlite3_stmt* event_stmt = stmts.insert_event.get();
  for (const Event& event : retained_events) {
    StmtReset reset(event_stmt);
    sqlite3_bind_int64(event_stmt, 1, event.ts_ms);
    bind_text(event_stmt, 2, to_string(event.kind));
    bind_text(event_stmt, 3, event.target);
    bind_text(event_stmt, 4, event.check);
    bind_text(event_stmt, 5, to_string(event.severity));
    bind_text(event_stmt, 6, event.message);
    bind_text(event_stmt, 7, event.details);
    if (const int rc = sqlite3_step(event_stmt); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(h, rc, "cannot insert an event", path));
    }
  }

  for (const AlertOp& op : retained_alert_ops) {
    if (auto r = apply(op); !r) return r;
  }
  // After the alert operations, which touch other tables: the result is the
  // same as applying everything interleaved in queue order. Among
  // incidents, queue order makes the newest version of each one win.
  for (const IncidentRow& incident : retained_incidents) {
    if (auto r = apply(incident); !r) return r;
  }

  if (n > 0) {
    sqlite3_stmt* flush_stmt = stmts.insert_flush.get();
    StmtReset reset(flush_stmt);
    sqlite3_bind_int64(flush_stmt, 1, first_rowid);
    sqlite3_bind_int64(flush_stmt, 2, last_rowid);
    sqlite3_bind_int64(flush_stmt, 3, min_ts);
    sqlite3_bind_int64(flush_stmt, 4, max_ts);
    if (const int rc = sqlite3_step(flush_stmt); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(h, rc, "cannot record the flush", path));
    }
  }
  if (auto r = txn.commit(); !r) return r;
  series_added.clear();
  if (n > 0 && compactor) compactor->note_flush(min_ts);
  *samples_written = n;
  *events_written = retained_events.size();
  return {};
}

Result<void> StoreWriter::Impl::apply(const AlertOp& op) {
  sqlite3* h = db.get();
  sqlite3_stmt* stmt = nullptr;
  switch (op.kind) {
    case AlertOp::Kind::kUpsertAlert: {
      const AlertRow& a = op.alert;
      stmt = stmts.upsert_alert.get();
      bind_text(stmt, 1, a.rule);
      bind_text(stmt, 2, a.labels);
      sqlite3_bind_int(stmt, 3, static_cast<int>(a.phase));
      sqlite3_bind_int64(stmt, 4, a.active_since_ms);
      sqlite3_bind_int64(stmt, 5, a.fired_ms);
      sqlite3_bind_int64(stmt, 6, a.resolved_ms);
      sqlite3_bind_int64(stmt, 7, a.last_sent_ms);
      sqlite3_bind_double(stmt, 8, a.value);
      bind_text(stmt, 9, a.annotations);
      sqlite3_bind_int64(stmt, 10, a.updated_ms);
      break;
    }
    case AlertOp::Kind::kAddOutbox: {
      const OutboxRow& o = op.outbox;
      stmt = stmts.insert_outbox.get();
      sqlite3_bind_int64(stmt, 1, o.id);
      bind_text(stmt, 2, o.receiver);
      bind_text(stmt, 3, o.alert_key);
      sqlite3_bind_int64(stmt, 4, o.created_ms);
      bind_text(stmt, 5, o.payload);
      sqlite3_bind_int(stmt, 6, o.attempts);
      sqlite3_bind_int64(stmt, 7, o.next_attempt_ms);
      bind_text(stmt, 8, o.last_error);
      break;
    }
    case AlertOp::Kind::kUpdateOutbox: {
      const OutboxRow& o = op.outbox;
      stmt = stmts.update_outbox.get();
      sqlite3_bind_int64(stmt, 1, o.id);
      sqlite3_bind_int(stmt, 2, o.attempts);
      sqlite3_bind_int64(stmt, 3, o.next_attempt_ms);
      bind_text(stmt, 4, o.last_error);
      break;
    }
    case AlertOp::Kind::kDeleteOutbox:
      stmt = stmts.delete_outbox.get();
      sqlite3_bind_int64(stmt, 1, op.outbox.id);
      break;
  }
  StmtReset reset(stmt);
  if (const int rc = sqlite3_step(stmt); rc != SQLITE_DONE) {
    return tl::unexpected(sqlite_error(h, rc, "cannot write alert state", options.path));
  }
  return {};
}

// Inserts or replaces the incident and replaces all its actions: an incident
// is small and vigild rewrites it whole each time it changes.
Result<void> StoreWriter::Impl::apply(const IncidentRow& incident) {
  sqlite3* h = db.get();
  const std::string& path = options.path;
  const std::string where = " of incident " + std::to_string(incident.id) + " (" +
                            (incident.target.empty() ? "check " + incident.check : incident.target) + ")";
  {
    sqlite3_stmt* stmt = stmts.upsert_incident.get();
    StmtReset reset(stmt);
    sqlite3_bind_int64(stmt, 1, incident.id);
    bind_text(stmt, 2, incident.target);
    bind_text(stmt, 3, incident.trigger.text());
    sqlite3_bind_int64(stmt, 4, incident.started_ms);
    sqlite3_bind_int64(stmt, 5, incident.detected_ms);
    sqlite3_bind_int64(stmt, 6, incident.recovered_ms);
    bind_text(stmt, 7, to_string(incident.root_cause));
    bind_text(stmt, 8, incident.summary);
    bind_text(stmt, 9, incident.evidence);
    sqlite3_bind_int(stmt, 10, incident.given_up ? 1 : 0);
    sqlite3_bind_int(stmt, 11, incident.dry_run ? 1 : 0);
    sqlite3_bind_int64(stmt, 12, incident.updated_ms);
    bind_text(stmt, 13, incident.check);
    if (const int rc = sqlite3_step(stmt); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(h, rc, "cannot write the state" + where, path));
    }
  }
  {
    sqlite3_stmt* stmt = stmts.delete_incident_actions.get();
    StmtReset reset(stmt);
    sqlite3_bind_int64(stmt, 1, incident.id);
    if (const int rc = sqlite3_step(stmt); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(h, rc, "cannot replace the actions" + where, path));
    }
  }
  sqlite3_stmt* stmt = stmts.insert_incident_action.get();
  std::int64_t seq = 0;
  for (const IncidentAction& action : incident.actions) {
    StmtReset reset(stmt);
    sqlite3_bind_int64(stmt, 1, incident.id);
    sqlite3_bind_int64(stmt, 2, ++seq);
    sqlite3_bind_int64(stmt, 3, action.started_ms);
    sqlite3_bind_int64(stmt, 4, action.finished_ms);
    bind_text(stmt, 5, to_string(action.action));
    bind_text(stmt, 6, action.detail);
    bind_text(stmt, 7, to_string(action.result));
    bind_text(stmt, 8, action.message);
    if (const int rc = sqlite3_step(stmt); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(h, rc, "cannot write action " + std::to_string(seq) + where, path));
    }
  }
  return {};
}

bool StoreWriter::Impl::holds_data() const {
  return retained_samples > 0 || !retained_events.empty() || !retained_alert_ops.empty() || !retained_incidents.empty();
}

StoreWriter::Impl::Taken StoreWriter::Impl::take_queue() {  // under mu
  Taken t;
  t.batches.swap(queue);
  t.samples = queued_samples;
  queued_samples = 0;
  t.events.swap(queued_events);
  t.alert_ops.swap(queued_alert_ops);
  t.incidents.swap(queued_incidents);
  in_writer += t.samples;
  return t;
}

// Appends what was taken to what a failed commit kept; returns the samples
// dropped to stay within the queue's capacity (the oldest first).
std::size_t StoreWriter::Impl::retain(Taken&& t) {
  for (Batch& batch : t.batches) {
    if (batch.size() > 0) retained.push_back(std::move(batch));
  }
  retained_samples += t.samples;
  const std::size_t dropped = trim_oldest(retained, retained_samples, options.queue_capacity);
  if (retained_events.empty()) {
    retained_events = std::move(t.events);
  } else {
    std::move(t.events.begin(), t.events.end(), std::back_inserter(retained_events));
  }
  // In queue order after the ones a failed commit kept: an outbox row is
  // added before it is updated or deleted.
  std::move(t.alert_ops.begin(), t.alert_ops.end(), std::back_inserter(retained_alert_ops));
  std::move(t.incidents.begin(), t.incidents.end(), std::back_inserter(retained_incidents));
  bound_records();
  return dropped;
}

// What a long outage leaves in memory stays bounded (record_capacity).
void StoreWriter::Impl::bound_records() {
  const std::size_t cap = options.record_capacity;
  std::uint64_t events_over = 0, ops_over = 0;
  if (retained_events.size() > cap) {
    events_over = retained_events.size() - cap;
    retained_events.erase(retained_events.begin(), retained_events.begin() + static_cast<std::ptrdiff_t>(events_over));
  }
  if (retained_alert_ops.size() > cap) {
    ops_over = retained_alert_ops.size() - cap;
    retained_alert_ops.erase(retained_alert_ops.begin(),
                             retained_alert_ops.begin() + static_cast<std::ptrdiff_t>(ops_over));
  }
  // A row is the whole incident: only the newest of each is worth writing.
  if (retained_incidents.size() > 1) {
    std::unordered_set<std::int64_t> seen;
    std::vector<IncidentRow> newest;
    for (auto it = retained_incidents.rbegin(); it != retained_incidents.rend(); ++it) {
      if (seen.insert(it->id).second) newest.push_back(std::move(*it));
    }
    std::reverse(newest.begin(), newest.end());
    retained_incidents = std::move(newest);
  }
  if (events_over > 0 || ops_over > 0) {
    std::lock_guard lock(mu);
    stats.events_dropped += events_over;
    stats.alert_ops_dropped += ops_over;
  }
}

StoreWriter::Impl::Cycle StoreWriter::Impl::commit_retained(std::chrono::steady_clock::time_point cycle_start,
                                                            std::size_t dropped_now) {
  Cycle c;
  c.work = holds_data();
  if (!c.work) return c;
  auto result = commit(&c.samples_written, &c.events_written);
  if (result) {
    if (failing) {
      failing = false;
      outage_drop_logged = false;
      const WriterStats now = stats_snapshot();
      log_info("store commits again",
               {{"path", options.path},
                {"failed_commits", outage_failures},
                {"samples_dropped", now.samples_dropped + dropped_now - at_outage_start.samples_dropped},
                {"events_dropped", now.events_dropped - at_outage_start.events_dropped},
                {"alert_ops_dropped", now.alert_ops_dropped - at_outage_start.alert_ops_dropped}});
    }
    retained.clear();  // frees the samples: part of the writer's cost
    retained_samples = 0;
    retained_events.clear();
    c.alert_ops_written = retained_alert_ops.size();
    retained_alert_ops.clear();
    retained_incidents.clear();
    c.commit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - cycle_start).count();
    return c;
  }
  c.error = result.error();
  forget_series_added();
  ++outage_failures;
  if (!failing) {
    // Once per outage: a full disk fails every flush until space returns.
    failing = true;
    outage_failures = 1;
    at_outage_start = stats_snapshot();
    at_outage_start.samples_dropped += dropped_now;
    log_warning(
        "store commit failed; keeping what is queued in memory and retrying at every flush (the oldest "
        "samples beyond [store] queue_capacity are dropped and counted); logged again when a commit succeeds",
        {{"path", options.path},
         {"error", result.error().message},
         {"samples", static_cast<std::uint64_t>(retained_samples)},
         {"events", static_cast<std::uint64_t>(retained_events.size())},
         {"incidents", static_cast<std::uint64_t>(retained_incidents.size())}});
  }
  if (dropped_now > 0 && !outage_drop_logged) {
    // Once per outage as well: from now on the queue sheds its oldest samples.
    outage_drop_logged = true;
    log_warning("store commits failing: dropping the oldest samples beyond [store] queue_capacity",
                {{"path", options.path}, {"queue_capacity", static_cast<std::uint64_t>(options.queue_capacity)}});
  }
  return c;
}

void StoreWriter::Impl::publish(Cycle&& c, std::uint64_t serving) {  // under mu
  in_writer = retained_samples;
  stats.samples_dropped += c.dropped;
  stats.series = series_ids.size();
  if (c.work) {
    if (c.error) {
      ++stats.commit_failures;
      stats.last_error = c.error->message;
    } else {
      ++stats.commits;
      stats.samples_committed += c.samples_written;
      stats.events_committed += c.events_written;
      stats.alert_ops_committed += c.alert_ops_written;
      stats.last_commit_ms = wall_now_ms();
      stats.last_commit_seconds = c.commit_seconds;
      stats.commit_seconds += c.commit_seconds;
      drop_warned = false;
    }
  }
  cycle_error = std::move(c.error);
  flush_done = serving;
  flushed.notify_all();
}

// One bounded step of compaction, between flushes (never while commits
// fail: the next flush comes first).
void StoreWriter::Impl::compaction_step() {
  bool force = false;
  {
    std::lock_guard lock(mu);
    force = compact_requested > compact_done;
  }
  auto r = compactor->step(now(), force);  // a failure is logged and retried by the compactor
  const CompactionStats& c = compactor->stats();
  std::lock_guard lock(mu);
  if (!r && compact_requested > compact_done && !compact_error) compact_error = r.error();
  stats.compacted_windows = c.windows;
  stats.chunks_written = c.chunks_written;
  stats.samples_compacted = c.samples_moved;
  stats.damaged_chunks_replaced = c.damaged_replaced;
  stats.compaction_failures = c.failures;
  stats.compaction_step_max_seconds = c.step_max_seconds;
  stats.compaction_seconds = c.seconds;
}

// One bounded step of retention, when compaction has nothing to do.
void StoreWriter::Impl::retention_step() {
  (void)retainer->step(now());  // a failure is logged and retried by the retainer
  const RetentionStats& r = retainer->stats();
  std::lock_guard lock(mu);
  stats.retention_deleted_chunks = r.chunks;
  stats.retention_deleted_rollup_rows = r.rollup_rows;
  stats.retention_deleted_events = r.events;
  stats.retention_deleted_incidents = r.incidents;
  stats.retention_sweeps = r.sweeps;
  stats.retention_failures = r.failures;
  stats.trimmed_chunks = r.trimmed_chunks;
  stats.trimmed_through_ms = r.trimmed_through;
  stats.trimmed_for_disk = r.last_trim == TrimReason::kMinFreeDisk;
}

void StoreWriter::Impl::run() {
  std::unique_lock lock(mu);
  auto next_wake = std::chrono::steady_clock::now() + options.flush_interval;
  for (;;) {
    const auto flush_due = [&] { return stopping || flush_requested > flush_done; };
    // Compaction (owned by this thread, like `failing`) fills the time
    // between flushes, one bounded step at a time.
    const bool compact_wanted = compact_requested > compact_done;
    const bool compacting = !failing && compactor && compactor->due(now(), compact_wanted);
    if (compact_wanted && !compacting) {
      if (failing && !compact_error) compact_error = Error{ErrorKind::kStore, "store commits are failing"};
      compact_done = compact_requested;
      flushed.notify_all();
    }
    if (!flush_due() && compacting && (compact_wanted || std::chrono::steady_clock::now() < next_wake)) {
      lock.unlock();
      compaction_step();
      lock.lock();
      continue;
    }
    if (!flush_due() && !compact_wanted && !failing && retainer && retainer->due() &&
        std::chrono::steady_clock::now() < next_wake) {
      lock.unlock();
      retention_step();
      lock.lock();
      continue;
    }
    // Woken early for a retention sweep that falls due before the flush.
    const auto until = retainer && !failing ? std::min(next_wake, retainer->next_due()) : next_wake;
    wake.wait_until(lock, until, [&] { return flush_due() || compact_requested > compact_done; });
    if (!flush_due() && std::chrono::steady_clock::now() < next_wake) continue;  // woken by compact()
    const bool last_cycle = stopping;
    const std::uint64_t serving = flush_requested;
    Taken taken = take_queue();
    lock.unlock();

    // Without mu from here: SQLite, and freeing the written samples.
    const auto cycle_start = std::chrono::steady_clock::now();
    const std::size_t dropped = retain(std::move(taken));
    Cycle cycle = commit_retained(cycle_start, dropped);
    cycle.dropped = dropped;
    if (last_cycle && holds_data()) {
      log_error("store writer stopped with uncommitted data; it is lost",
                {{"path", options.path},
                 {"samples", static_cast<std::uint64_t>(retained_samples)},
                 {"events", static_cast<std::uint64_t>(retained_events.size())},
                 {"alert_ops", static_cast<std::uint64_t>(retained_alert_ops.size())},
                 {"incidents", static_cast<std::uint64_t>(retained_incidents.size())}});
    }

    lock.lock();
    publish(std::move(cycle), serving);
    if (last_cycle) return;
    // A cycle that took longer than the interval is followed at once.
    next_wake = cycle_start + options.flush_interval;
  }
}

StoreWriter::StoreWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StoreWriter::~StoreWriter() {
  close();
}

Result<std::unique_ptr<StoreWriter>> StoreWriter::open(const StoreOptions& options, OpenReport* report) {
  if (options.path.empty()) return fail(ErrorKind::kInvalid, "the store path is empty");
  if (options.flush_interval <= Millis(0)) {
    return fail(ErrorKind::kInvalid, "the store flush interval must be positive, not " +
                                         std::to_string(options.flush_interval.count()) + "ms");
  }
  if (options.queue_capacity == 0) {
    return fail(ErrorKind::kInvalid, "the store queue capacity must be at least 1 sample");
  }
  OpenReport local_report;
  OpenReport& rep = report != nullptr ? *report : local_report;
  auto db = open_for_writing(options.path, rep);
  if (!db) return tl::unexpected(db.error());

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->db = std::move(*db);
  if (auto r = impl->prepare_statements(); !r) return tl::unexpected(r.error());
  if (auto r = impl->load_series(); !r) return tl::unexpected(r.error());
  if (auto r = impl->load_head(); !r) return tl::unexpected(r.error());
  impl->stats.series = impl->series_ids.size();
  try {
    impl->thread = std::thread([raw = impl.get()] { raw->run(); });
  } catch (const std::system_error& e) {
    return fail(ErrorKind::kIo, "cannot start the store writer thread: " + std::string(e.what()));
  }
  return std::unique_ptr<StoreWriter>(new StoreWriter(std::move(impl)));
}

void StoreWriter::enqueue(std::vector<Sample> samples) {
  if (samples.empty()) return;
  Impl& s = *impl_;
  Batch batch{std::move(samples), 0};
  bool warn = false;
  bool closed = false;
  std::size_t dropped = 0;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping) {
      dropped = batch.size();
    } else {
      const std::size_t capacity = s.options.queue_capacity;
      if (batch.size() > capacity) {
        dropped = batch.size() - capacity;
        batch.begin += dropped;
      }
      const std::size_t incoming = batch.size();
      dropped += trim_oldest(s.queue, s.queued_samples, capacity - incoming);
      s.queued_samples += incoming;
      s.queue.push_back(std::move(batch));
    }
    s.stats.samples_dropped += dropped;
    if (dropped > 0 && !s.drop_warned) {
      s.drop_warned = true;
      warn = true;
    }
    closed = s.stopping;
  }
  if (warn) {
    log_warning(closed ? "store writer closed: dropping samples" : "store queue full: dropping the oldest samples",
                {{"path", s.options.path}, {"capacity", static_cast<std::uint64_t>(s.options.queue_capacity)}});
  }
}

void StoreWriter::enqueue(Event event) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  if (s.stopping) {
    log_warning("store writer closed: event not recorded",
                {{"path", s.options.path}, {"kind", to_string(event.kind)}, {"message", event.message}});
    return;
  }
  s.queued_events.push_back(std::move(event));
}

void StoreWriter::enqueue(AlertOp op) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  if (s.stopping) {
    log_warning("store writer closed: alert state not recorded", {{"path", s.options.path}});
    return;
  }
  s.queued_alert_ops.push_back(std::move(op));
}

void StoreWriter::enqueue(IncidentRow incident) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  if (s.stopping) {
    log_warning("store writer closed: incident not recorded",
                {{"path", s.options.path}, {"incident", incident.id}, {"target", incident.target}});
    return;
  }
  s.queued_incidents.push_back(std::move(incident));
}

Result<void> StoreWriter::flush() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  if (s.stopping) return fail(ErrorKind::kInvalid, "the store writer of " + s.options.path + " is closed");
  const std::uint64_t ticket = ++s.flush_requested;
  s.wake.notify_one();
  s.flushed.wait(lock, [&] { return s.flush_done >= ticket; });
  if (s.cycle_error) return tl::unexpected(*s.cycle_error);
  return {};
}

Result<void> StoreWriter::compact() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  if (s.stopping) return fail(ErrorKind::kInvalid, "the store writer of " + s.options.path + " is closed");
  const std::uint64_t ticket = ++s.compact_requested;
  s.compact_error.reset();
  s.wake.notify_one();
  s.flushed.wait(lock, [&] { return s.compact_done >= ticket || s.stopping; });
  if (s.compact_error) return tl::unexpected(*s.compact_error);
  return {};
}

void StoreWriter::close() {
  Impl& s = *impl_;
  std::lock_guard close_lock(s.close_mu);
  if (s.closed) return;
  s.closed = true;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.wake.notify_one();
  if (s.thread.joinable()) s.thread.join();
  // Statements first: a connection with live statements stays open.
  s.stmts = Statements{};
  s.compactor.reset();
  s.retainer.reset();
  s.db.reset();
}

WriterStats StoreWriter::stats() const {
  const Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  WriterStats out = s.stats;
  out.queued = s.queued_samples + s.in_writer;
  return out;
}

}  // namespace vigil
