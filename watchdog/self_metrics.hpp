// watchdog/self_metrics.hpp: vigild's own health, as samples and STATUS=.
//
// Every status_interval: the store writer's queue and commits, the loop's
// lag histogram and skipped rounds, the alert queues, open incidents; a
// samples_dropped event when the writer fell behind; and the STATUS= line
// systemd shows.
#pragma once

#include <cstdint>

#include "alerting/engine.hpp"
#include "heal/remediator.hpp"
#include "probes/docker/watcher.hpp"
#include "watchdog/loop.hpp"
#include "watchdog/recorder.hpp"

namespace vigil {

class SelfMetrics {
 public:
  SelfMetrics(Loop& loop, Recorder& recorder) : loop_(loop), recorder_(recorder) {}
  // One round. `targets` and `running` are for STATUS=.
  // `stalled_reads`: /proc reads stuck past their deadline (Sampler).
  // `docker`: the engine's watcher when a container target made one.
  void sample(const AlertEngine* alerts, const Remediator* remediator, std::size_t targets, std::size_t running,
              std::size_t stalled_reads, const docker::Watcher* docker = nullptr);
  // STATUS= only (before the first round).
  void notify_status(std::size_t targets, std::size_t running) const;

 private:
  Loop& loop_;
  Recorder& recorder_;
  std::uint64_t dropped_reported_ = 0;
  std::size_t stalled_reported_ = 0;
  std::uint64_t trimmed_reported_ = 0;  // WriterStats::trimmed_chunks already told as store_trimmed
};

}  // namespace vigil
