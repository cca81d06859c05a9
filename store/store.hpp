// store/store.hpp: the only code that touches SQLite.
//
// On-disk rules (schema version 6):
// - WAL mode, synchronous=NORMAL: a committed transaction survives a crash
//   of vigild (not necessarily a power loss of the host). The writer keeps
//   -wal (emptied) and -shm when it closes, so that a reader that may not
//   write the directory can still open the database.
// - series(id, metric, labels): labels is the canonical `{a="1",b="2"}`
//   text of SeriesKey, "" without labels; (metric, labels) is unique.
// - samples_head(series_id, ts, value): an append log in rowid order with no
//   index, so that ingest is one b-tree append per sample. Time-range queries
//   find their rows through head_flushes. The writer assigns the rowids,
//   above meta.head_rowid_floor, so that one is never used twice.
// - chunks(series_id, window_start, first_ts, last_ts, count, through_rowid,
//   data): the head's closed windows, one row per series and window of
//   meta.chunk_span_ms (1 h; fixed per store), data a store/chunk.hpp BLOB
//   in time order. Compaction (store/compaction.hpp) writes them on the
//   writer thread and deletes the head rows they hold; through_rowid says
//   which head rows a chunk holds, so that a reader counts each sample once
//   at every commit point. The head keeps the open windows (the newest hour
//   or so). Nothing may renumber the head's rowids (a plain VACUUM would:
//   samples_head has no INTEGER PRIMARY KEY).
// - rollups(series_id, step_ms, row_start, data): the summaries (count, min,
//   max, sum, last) of each series per minute and per hour, in rows of a
//   window (1 min) or a day (1 h), written with the chunks they summarise
//   (store/rollup.hpp). A query with a step reads them for the windows that
//   have no head rows left.
// - head_flushes(first_rowid, last_rowid, min_ts, max_ts): one row per
//   committed flush, so a query for [since, until] scans only the rowid
//   ranges of the flushes whose time range overlaps it.
// - events(id, ts, kind, target, check_name, severity, message, details).
// - alerts(rule, labels, phase, active_since, fired, resolved, last_sent,
//   value, annotations, updated): each alert's state (AlertPhase numbers),
//   so that a restarted vigild neither forgets a firing alert nor fires a
//   resolved one again. (rule, labels) is unique.
// - outbox(id, receiver, alert_key, created, payload, attempts,
//   next_attempt, last_error): deliveries not yet acknowledged. The id is
//   the loop's own sequence number, so the loop can acknowledge a row
//   before it knows whether the row was committed. A transition's row is
//   written in the commit that records its event; it leaves only when the
//   receiver answered (or the delivery was given up and recorded).
// - incidents(id, target, trigger, started, detected, recovered, root_cause,
//   summary, evidence, given_up, dry_run, updated, check_name): one row per
//   incident (check_name: the check of a target-less check's incident),
//   id assigned by vigild (after max_incident_id()); recovered is 0 while
//   the incident is open; evidence is a JSON object; given_up and dry_run
//   are 0 or 1. Indexed by (target, started), and the open ones by a
//   partial index.
// - incident_actions(incident_id, seq, started, finished, action, detail,
//   result, message): the actions of an incident, seq 1, 2, ... in the
//   order taken; finished is 0 while the action runs. An incident and its
//   actions are rewritten together (upsert, then delete and insert the
//   actions) in one commit each time it changes.
// - meta(key, value): schema_version, chunk_span_ms, head_rowid_floor.
//   Migrations run in order at open, each
//   in its own transaction. Only the writer migrates: StoreReader opens
//   nothing but kSchemaVersion, so its queries never meet a missing table
//   (an older store is refused with "start vigild once to migrate it").
// - Kinds (events.kind, incidents.trigger and root_cause, incident_actions'
//   action and result) are stored by their names in core/kinds.hpp;
//   alerts.phase by its AlertPhase number.
// - Times are int64 milliseconds since the epoch.
//
// One writer thread commits everything queued, at most once per flush
// interval, in one transaction. The queue is bounded: when it is full the
// oldest samples are dropped and counted. A failed commit (SQLITE_FULL on a
// full disk, a lock held too long) keeps everything for the next one: samples
// within the queue's capacity, events and alert operations within
// record_capacity (the oldest dropped and counted beyond it), each incident's
// newest row. The first failure of an outage is logged, and the first commit
// after it, with what was dropped; alert operations and incidents are
// applied in the order queued.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/kinds.hpp"
#include "core/result.hpp"
#include "core/sample.hpp"
#include "core/time.hpp"

struct sqlite3;

namespace vigil {

inline constexpr int kSchemaVersion = 6;

// One alert's stored state (alerting/alert_state.hpp's AlertStatus, plus
// what identifies and describes it).
struct AlertRow {
  std::string rule;
  std::string labels;  // canonical {a="1",b="2"} of the alert's labels
  AlertPhase phase = AlertPhase::kInactive;
  WallMs active_since_ms = 0;
  WallMs fired_ms = 0;
  WallMs resolved_ms = 0;
  WallMs last_sent_ms = 0;
  double value = 0;
  std::string annotations;  // a JSON object
  WallMs updated_ms = 0;
};

// One delivery of one alert message to one receiver.
struct OutboxRow {
  std::int64_t id = 0;    // the loop's sequence number: ascending = the order to send
  std::string receiver;   // the receiver's name in the config
  std::string alert_key;  // rule + labels, to keep each alert's transitions in order
  WallMs created_ms = 0;
  std::string payload;  // the message as JSON
  int attempts = 0;
  WallMs next_attempt_ms = 0;
  std::string last_error;
};

// A change to the alert tables, applied in queue order.
struct AlertOp {
  enum class Kind { kUpsertAlert, kAddOutbox, kUpdateOutbox, kDeleteOutbox };
  Kind kind = Kind::kUpsertAlert;
  AlertRow alert;    // kUpsertAlert
  OutboxRow outbox;  // kAddOutbox (all), kUpdateOutbox (id, attempts, next_attempt, last_error), kDeleteOutbox (id)
};

// One action taken (or, dry run, not taken) during an incident.
struct IncidentAction {
  WallMs started_ms = 0;
  WallMs finished_ms = 0;  // 0 while it runs
  ActionKind action = ActionKind::kRestart;
  std::string detail;  // "SIGUSR1", the argv, the URL, the unit
  ActionStatus result = ActionStatus::kRunning;
  std::string message;  // what happened, for people
};

// One incident: a target's failure (or a target-less check's), from its true
// start to its recovery.
struct IncidentRow {
  std::int64_t id = 0;      // assigned by vigild, ascending
  std::string target;       // "" for a check that belongs to no target
  std::string check;        // that check; "" for a target's incident
  Trigger trigger;          // stored as "check:health", "crash", "rule:MemoryHigh"
  WallMs started_ms = 0;    // the first failing probe result, or the crash itself
  WallMs detected_ms = 0;   // when vigild declared it (fail_after reached, the exit seen)
  WallMs recovered_ms = 0;  // the start of the healthy stretch that closed it; 0 while open
  RootCause root_cause = RootCause::kUnknown;
  std::string summary;   // the classifier's one line
  std::string evidence;  // a JSON object: the last samples, the check's reason, exit status, OOM counters
  std::vector<IncidentAction> actions;  // in the order taken
  bool given_up = false;                // the rate limit stopped further actions
  bool dry_run = false;
  WallMs updated_ms = 0;
};

// What open() found and did: the caller records it as an event.
struct OpenReport {
  bool created = false;        // no database existed
  bool recovered = false;      // the old one was corrupt and moved aside
  std::string moved_to;        // where the corrupt file went
  std::string corrupt_reason;  // what quick_check or SQLite said
  int migrated_from = 0;       // schema version before migrations (0 = new)
};

struct StoreOptions {
  std::string path;
  Millis flush_interval{1000};
  std::size_t queue_capacity = 100000;  // samples
  // While commits fail (a full disk), events and alert operations wait in
  // memory up to this many each, the oldest dropped and counted beyond it;
  // incidents keep only their newest row each (a row is the whole incident).
  std::size_t record_capacity = 100000;
  // The head's samples move into chunks of this span once their window
  // ended more than compaction_grace ago. The span is the store's own,
  // fixed when the first chunk is written: 0 keeps the store's (1 h for a
  // new one); another value applies only to a store without chunks (tests).
  Millis chunk_span{0};
  Millis compaction_grace{60'000};
  // false: everything stays in the head, the layout of schema version 4
  // (tests that build an older store; the benchmark's baseline).
  bool compact = true;
  // The time compaction closes windows by; empty: the wall clock. A
  // benchmark that replays hours of samples in seconds passes the replay's
  // time, so that each window closes once, as it does in vigild.
  std::function<WallMs()> clock;
  // How long each kind is kept (store/retention.hpp); 0: forever (the
  // default here; vigild passes [store]'s retention_* keys).
  struct Retention {
    Millis raw{0}, rollup_1m{0}, rollup_1h{0}, events{0}, incidents{0};
    Millis every{60'000};  // from the end of one sweep to the next (tests: less)
    // The oldest raw chunks go first while the store's live pages exceed
    // max_bytes (0: no cap), or while the file system's free space is under
    // min_free_fraction (0: no floor) and the file has under 8 MiB of free
    // pages to reuse.
    std::uint64_t max_bytes = 0;
    double min_free_fraction = 0;
  };
  Retention retention;
};

struct WriterStats {
  std::uint64_t samples_committed = 0;
  std::uint64_t events_committed = 0;
  std::uint64_t alert_ops_committed = 0;
  std::uint64_t samples_dropped = 0;  // queue overflow, since start
  std::uint64_t events_dropped = 0;     // beyond record_capacity while commits failed
  std::uint64_t alert_ops_dropped = 0;  // likewise
  std::uint64_t commits = 0;
  std::uint64_t commit_failures = 0;
  std::size_t queued = 0;
  std::size_t series = 0;
  WallMs last_commit_ms = 0;
  double last_commit_seconds = 0;
  double commit_seconds = 0;  // all commits: with compaction_seconds, the writer thread's busy time
  std::string last_error;
  // Compaction (head -> chunks), since start.
  std::uint64_t compacted_windows = 0;
  std::uint64_t chunks_written = 0;
  std::uint64_t samples_compacted = 0;
  std::uint64_t damaged_chunks_replaced = 0;
  std::uint64_t compaction_failures = 0;
  double compaction_step_max_seconds = 0;  // the longest a flush waited for one step
  double compaction_seconds = 0;           // the writer thread's time in compaction
  // Retention (store/retention.hpp), since start: what it deleted.
  std::uint64_t retention_deleted_chunks = 0;
  std::uint64_t retention_deleted_rollup_rows = 0;
  std::uint64_t retention_deleted_events = 0;
  std::uint64_t retention_deleted_incidents = 0;
  std::uint64_t retention_sweeps = 0;
  std::uint64_t retention_failures = 0;
  // Raw chunks deleted before their time for the size cap or the disk floor,
  // the newest window start so deleted, and why (the last time).
  std::uint64_t trimmed_chunks = 0;
  WallMs trimmed_through_ms = 0;
  bool trimmed_for_disk = false;  // else for max_size
};

class StoreWriter {
 public:
  // Opens (creating, migrating, or recovering a corrupt file) and starts the
  // writer thread. Fails when the directory is unusable or the schema is
  // newer than this build knows.
  static Result<std::unique_ptr<StoreWriter>> open(const StoreOptions& options, OpenReport* report);
  ~StoreWriter();  // close()
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Thread-safe and never waits for the disk: appends to the queue under a
  // short lock. When the queue would exceed its capacity, the oldest
  // queued samples are dropped and counted.
  void enqueue(std::vector<Sample> samples);
  void enqueue(Event event);
  // Never dropped; committed with the events queued before it.
  void enqueue(AlertOp op);
  // Inserts or replaces the incident (by id) with all its actions. Never
  // dropped; applied in queue order with events and alert operations.
  void enqueue(IncidentRow incident);

  // Commits what is queued now and waits for that commit (tests, shutdown).
  Result<void> flush();
  // Runs compaction until nothing is due (the head holds only windows that
  // have not closed) and waits for it; flushes go on meanwhile. Tests and
  // benchmarks; vigild compacts between flushes by itself.
  Result<void> compact();
  // Flushes and stops the thread. Idempotent.
  void close();

  WriterStats stats() const;

 private:
  struct Impl;
  explicit StoreWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct SeriesInfo {
  std::int64_t id = 0;
  SeriesKey key;
};

struct Point {
  WallMs ts_ms = 0;
  double value = 0;
};

struct SeriesPoints {
  SeriesInfo series;
  std::vector<Point> points;  // ascending ts
  // Chunks of this series in the range that could not be decoded: each
  // "the chunk of WINDOW: WHAT", its samples left out (vigil db check
  // reports them too).
  std::vector<std::string> damaged;
  // With a step: the rollup tier's step the interior steps were read from
  // (store/rollup.hpp), 0 when every step came from the samples.
  std::int64_t tier_ms = 0;
};

// A selector (a metric and labels it must carry), a range and, optionally,
// a step and what to make of each step's samples (store/aggregate.hpp).
struct RangeQuery {
  std::string metric;
  Labels labels;
  WallMs since = 0, until = 0;  // both included
  std::int64_t step_ms = 0;     // 0: every sample
  Aggregation agg = Aggregation::kAvg;
  // false: the steps come from the samples alone, never a rollup tier
  // (tests compare the two; benchmarks time both).
  bool rollups = true;
};

struct EventQuery {
  std::optional<WallMs> since, until;
  std::optional<std::string> kind;  // glob
  std::optional<std::string> target;
  std::size_t limit = 0;  // 0 = no limit; the newest `limit` when set
};

struct IncidentQuery {
  std::optional<std::string> target;
  std::optional<WallMs> since, until;  // incidents whose [started, recovered or now] overlaps
  bool open_only = false;              // recovered_ms == 0
  std::size_t limit = 0;               // 0 = no limit
};

// What the store holds, by tier (vigil db stats).
struct StoreStats {
  std::string path;
  std::uint64_t file_bytes = 0, wal_bytes = 0;
  std::uint64_t page_size = 0, pages = 0, free_pages = 0;
  std::int64_t chunk_span_ms = 0;
  std::uint64_t series = 0;
  bool bytes_known = false;  // SQLite's dbstat table gave the bytes of each table
  // The head: samples not yet compacted.
  std::uint64_t head_samples = 0, head_series = 0, head_bytes = 0;
  std::optional<WallMs> head_oldest, head_newest;
  // Raw chunks.
  std::uint64_t chunks = 0, chunk_samples = 0, chunk_series = 0, chunk_bytes = 0;
  std::uint64_t chunk_payload_bytes = 0;  // the BLOBs alone
  std::optional<WallMs> chunk_oldest, chunk_newest;
  // The rollup tiers (store/rollup.hpp), finest first: rows, their series,
  // the BLOBs' bytes, the oldest and newest row's start.
  struct Rollups {
    std::int64_t step_ms = 0;
    std::uint64_t rows = 0, series = 0, payload_bytes = 0;
    std::optional<WallMs> oldest, newest;
  };
  std::vector<Rollups> rollups;
  std::uint64_t rollup_bytes = 0;  // the rollups table with its indexes
  std::uint64_t events = 0, incidents = 0, outbox = 0;
  std::uint64_t other_bytes = 0;  // events, incidents, series, indexes, ...
};

// Progress of a long read: `done` of `total` units (chunks).
using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Read-only access for the CLI and (later) the HTTP API. Works while vigild
// runs (WAL readers do not block the writer) and after it died.
class StoreReader {
 public:
  static Result<StoreReader> open(const std::string& path);
  StoreReader(StoreReader&&) noexcept;
  StoreReader& operator=(StoreReader&&) noexcept;
  ~StoreReader();

  int schema_version() const;
  // All series whose metric name matches the glob ("*" for all).
  Result<std::vector<SeriesInfo>> series(const std::string& metric_glob) const;
  // Distinct metric names (for "did you mean").
  Result<std::vector<std::string>> metrics() const;
  // Points of every series of `metric` whose labels include all of
  // `label_filter`, within [since, until].
  Result<std::vector<SeriesPoints>> query(const std::string& metric, const Labels& label_filter, WallMs since,
                                          WallMs until) const;
  // The one query path (the CLI, and later the API and reports): every
  // sample, or one point per step. With a step and an aggregation the
  // summaries can answer (avg, min, max, sum, last, count), the coarsest
  // rollup tier whose step divides the query's answers the steps that lie
  // inside the range in windows with no head rows left; the others (the
  // range's edges, the newest windows, late samples) come from the samples,
  // so the answer is the samples' own (up to the rounding of sums).
  Result<std::vector<SeriesPoints>> query(const RangeQuery& q) const;
  // The newest point of a series, if any.
  Result<std::optional<Point>> latest(std::int64_t series_id) const;
  // Newest sample time over all series.
  Result<std::optional<WallMs>> last_sample_ms() const;
  Result<std::uint64_t> sample_count() const;
  // Ascending by ts, then id.
  Result<std::vector<Event>> events(const EventQuery& q) const;
  // Every stored alert state, by rule then labels.
  Result<std::vector<AlertRow>> alerts() const;
  // Every pending delivery, ascending id.
  Result<std::vector<OutboxRow>> outbox() const;
  // Incidents with their actions, ascending id. The newest `limit` when set.
  Result<std::vector<IncidentRow>> incidents(const IncidentQuery& q) const;
  Result<std::optional<IncidentRow>> incident(std::int64_t id) const;
  // The highest id used (0 when none): vigild numbers new incidents after it.
  Result<std::int64_t> max_incident_id() const;

  // Sizes and counts by tier (store/inspect.cpp).
  Result<StoreStats> stats() const;
  // SQLite's integrity_check and the store's own invariants: every chunk
  // decodes, holds `count` samples of its window in time order between
  // first_ts and last_ts, of a series that exists, below head_rowid_floor;
  // every head row lies in a flush's rowid range and time range. Each
  // finding is "where: what"; none means the store is sound.
  Result<std::vector<std::string>> check(const Progress& progress = {}) const;

 private:
  StoreReader(sqlite3* db, std::int64_t chunk_span_ms);
  sqlite3* db_ = nullptr;  // owned
  std::int64_t chunk_span_ms_ = 0;
};

}  // namespace vigil
