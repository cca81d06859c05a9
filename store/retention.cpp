#include "store/retention.hpp"

#include <algorithm>
#include <utility>

#include "core/log.hpp"
#include "store/rollup.hpp"

namespace vigil::store_detail {

namespace {

constexpr auto kRetryAfter = std::chrono::seconds(10);

}  // namespace

Retainer::Retainer(sqlite3* db, std::string path, std::int64_t span_ms, RetentionPolicy policy,
                   std::chrono::milliseconds every, std::size_t rows_per_step)
    : db_(db),
      path_(std::move(path)),
      span_ms_(span_ms),
      policy_(policy),
      every_(every),
      rows_per_step_(rows_per_step) {}

bool Retainer::due() const {
  if (!policy_.any()) return false;
  return kind_ != Kind::kDone || std::chrono::steady_clock::now() >= next_sweep_;
}

std::chrono::steady_clock::time_point Retainer::next_due() const {
  if (!policy_.any()) return std::chrono::steady_clock::time_point::max();
  return kind_ != Kind::kDone ? std::chrono::steady_clock::now() : next_sweep_;
}

Result<std::size_t> Retainer::delete_some(Kind kind, WallMs now) {
  // Each statement deletes at most ?2 rows older than ?1 (the cutoff), found
  // through an index.
  std::int64_t keep = 0;
  const char* sql = nullptr;
  const char* actions = nullptr;
  std::int64_t step = 0;
  switch (kind) {
    case Kind::kChunks:
      keep = policy_.raw;
      sql = "DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks WHERE window_start <= ?1 - ?3 LIMIT ?2)";
      step = span_ms_;
      break;
    case Kind::kRollups1m:
    case Kind::kRollups1h:
      keep = kind == Kind::kRollups1m ? policy_.rollup_1m : policy_.rollup_1h;
      step = rollup::kTierSteps[kind == Kind::kRollups1m ? 0 : 1];
      sql = "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE step_ms = ?4 AND "
            "row_start <= ?1 - ?3 LIMIT ?2)";
      break;
    case Kind::kEvents:
      keep = policy_.events;
      sql = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ?1 LIMIT ?2)";
      break;
    case Kind::kIncidents:
      keep = policy_.incidents;
      actions =
          "DELETE FROM incident_actions WHERE incident_id IN (SELECT id FROM incidents WHERE recovered > 0 AND "
          "recovered < ?1 AND id < (SELECT max(id) FROM incidents) ORDER BY id LIMIT ?2)";
      sql = "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE recovered > 0 AND recovered < ?1 "
            "AND id < (SELECT max(id) FROM incidents) ORDER BY id LIMIT ?2)";
      break;
    case Kind::kDone: return std::size_t{0};
  }
  if (keep <= 0) return std::size_t{0};
  const std::int64_t row_span = kind == Kind::kRollups1m || kind == Kind::kRollups1h ? rollup::row_span(step, span_ms_)
                                                                                       : span_ms_;
  if ((kind == Kind::kRollups1m || kind == Kind::kRollups1h) && row_span == 0) return std::size_t{0};
  Transaction txn(db_, path_);
  if (auto r = txn.begin_immediate(); !r) return tl::unexpected(r.error());
  auto run = [&](const char* text) -> Result<std::size_t> {
    auto stmt = prepare(db_, text, path_);
    if (!stmt) return tl::unexpected(stmt.error());
    sqlite3_stmt* s = stmt->get();
    sqlite3_bind_int64(s, 1, now - keep);
    sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(rows_per_step_));
    const int params = sqlite3_bind_parameter_count(s);
    if (params >= 3) sqlite3_bind_int64(s, 3, row_span);
    if (params >= 4) sqlite3_bind_int64(s, 4, step);
    if (const int rc = sqlite3_step(s); rc != SQLITE_DONE) {
      return tl::unexpected(sqlite_error(db_, rc, "cannot delete what outlived its retention", path_));
    }
    return static_cast<std::size_t>(sqlite3_changes(db_));
  };
  if (actions != nullptr) {
    if (auto r = run(actions); !r) return r;
  }
  auto n = run(sql);
  if (!n) return n;
  if (auto r = txn.commit(); !r) return tl::unexpected(r.error());
  return n;
}

Result<void> Retainer::step(WallMs now) {
  if (!due()) return {};
  const auto started = std::chrono::steady_clock::now();
  if (kind_ == Kind::kDone) {
    kind_ = Kind::kChunks;
    at_sweep_start_ = stats_;
  }
  auto n = delete_some(kind_, now);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stats_.seconds += took;
  stats_.step_max_seconds = std::max(stats_.step_max_seconds, took);
  if (!n) {
    ++stats_.failures;
    kind_ = Kind::kDone;
    next_sweep_ = std::chrono::steady_clock::now() + kRetryAfter;
    log_warning("store retention failed; it retries in 10s", {{"path", path_}, {"error", n.error().message}});
    return tl::unexpected(n.error());
  }
  switch (kind_) {
    case Kind::kChunks: stats_.chunks += *n; break;
    case Kind::kRollups1m:
    case Kind::kRollups1h: stats_.rollup_rows += *n; break;
    case Kind::kEvents: stats_.events += *n; break;
    case Kind::kIncidents: stats_.incidents += *n; break;
    case Kind::kDone: break;
  }
  if (*n >= rows_per_step_) return {};  // more of this kind next step
  kind_ = static_cast<Kind>(static_cast<int>(kind_) + 1);
  if (kind_ == Kind::kDone) {
    ++stats_.sweeps;
    next_sweep_ = std::chrono::steady_clock::now() + every_;
    const std::uint64_t chunks = stats_.chunks - at_sweep_start_.chunks;
    const std::uint64_t rows = stats_.rollup_rows - at_sweep_start_.rollup_rows;
    const std::uint64_t events = stats_.events - at_sweep_start_.events;
    const std::uint64_t incidents = stats_.incidents - at_sweep_start_.incidents;
    if (chunks + rows + events + incidents > 0) {
      log_info("store retention deleted what outlived its retention",
               {{"path", path_}, {"chunks", chunks}, {"rollup_rows", rows}, {"events", events},
                {"incidents", incidents}});
    }
  }
  return {};
}

}  // namespace vigil::store_detail
