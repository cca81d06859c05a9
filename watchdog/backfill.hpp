// watchdog/backfill.hpp: growth baselines read back from the store, off the loop.
//
// A target found running at start-up began before this vigild: the
// baseline window of its growth rules is in the store, not in memory. The
// loop asks for it (request()); a worker thread runs the bounded range
// queries (two per rule) on a read-only connection and hands the points
// back through an eventfd, and the loop gives them to the alert engine. The
// loop thread never touches SQLite: a busy store delays the baseline, never
// the loop.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerting/engine.hpp"
#include "config/config.hpp"
#include "core/sd_handles.hpp"
#include "core/unique_fd.hpp"
#include "watchdog/loop.hpp"

namespace vigil {

class Backfill {
 public:
  Backfill(Loop& loop, std::string store_path, std::vector<RuleConfig> rules, AlertEngine& alerts);
  ~Backfill();  // stops the worker (a query in flight finishes first)
  Backfill(const Backfill&) = delete;
  Backfill& operator=(const Backfill&) = delete;

  // `target`'s main process started at start_ms: its growth rules whose
  // baseline window began before `now` - 2 s (older than the live samples)
  // are read back.
  void request(const std::string& target, WallMs start_ms, WallMs now);
  // Requests not yet handed to the engine (tests, the self metrics).
  std::size_t pending() const;

 private:
  struct Job {
    std::string target;
    WallMs start_ms = 0;
    WallMs now = 0;
  };
  struct Found {
    SeriesKey key;
    Series points;
  };
  void work();
  std::vector<Found> read(const Job& job) const;
  static int on_ready(sd_event_source* source, int fd, std::uint32_t revents, void* self);

  std::string store_path_;
  std::vector<RuleConfig> rules_;  // the growth rules only
  AlertEngine& alerts_;
  UniqueFd ready_;  // eventfd: results wait
  SdEventSourcePtr source_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Found> results_;
  std::size_t in_flight_ = 0;  // requested, not yet applied
  bool stopping_ = false;
  std::thread worker_;  // started by the first request
};

}  // namespace vigil
