#include "watchdog/self_metrics.hpp"

#include <malloc.h>
#include <systemd/sd-daemon.h>

#include <cstdio>

#include "core/log.hpp"
#include "core/text.hpp"
#include "probes/probe.hpp"

namespace vigil {

namespace {

// "0.0005", "1": the le label of a histogram bucket, as Prometheus writes it.
std::string format_value_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void SelfMetrics::sample(const AlertEngine* alerts, const Remediator* remediator, std::size_t targets,
                         std::size_t running, std::size_t stalled_reads, const docker::Watcher* docker) {
  const WallMs now = wall_now_ms();
  if (stalled_reads > stalled_reported_) {
    log_warning(
        "a /proc read is stuck (a process holds its memory map lock); its command line is skipped, not "
        "waited for, until the read returns",
        {{"stalled_reads", static_cast<std::uint64_t>(stalled_reads)}});
  }
  stalled_reported_ = stalled_reads;
  const WriterStats s = recorder_.store().stats();
  LoopStats& loop = loop_.stats();
  Collection out;
  out.add("vigil_samples_dropped_total", {}, static_cast<double>(s.samples_dropped), now);
  out.add("vigil_store_queued_samples", {}, static_cast<double>(s.queued), now);
  out.add("vigil_store_commits_total", {}, static_cast<double>(s.commits), now);
  out.add("vigil_store_commit_failures_total", {}, static_cast<double>(s.commit_failures), now);
  out.add("vigil_store_events_dropped_total", {}, static_cast<double>(s.events_dropped), now);
  out.add("vigil_store_alert_ops_dropped_total", {}, static_cast<double>(s.alert_ops_dropped), now);
  out.add("vigil_store_last_commit_duration_seconds", {}, s.last_commit_seconds, now);
  out.add("vigil_store_samples_compacted_total", {}, static_cast<double>(s.samples_compacted), now);
  out.add("vigil_store_chunks_written_total", {}, static_cast<double>(s.chunks_written), now);
  out.add("vigil_store_compaction_failures_total", {}, static_cast<double>(s.compaction_failures), now);
  out.add("vigil_store_compaction_step_max_seconds", {}, s.compaction_step_max_seconds, now);
  out.add("vigil_store_retention_deleted_total", {{"kind", "chunks"}},
          static_cast<double>(s.retention_deleted_chunks), now);
  out.add("vigil_store_retention_deleted_total", {{"kind", "rollup_rows"}},
          static_cast<double>(s.retention_deleted_rollup_rows), now);
  out.add("vigil_store_retention_deleted_total", {{"kind", "events"}},
          static_cast<double>(s.retention_deleted_events), now);
  out.add("vigil_store_retention_deleted_total", {{"kind", "incidents"}},
          static_cast<double>(s.retention_deleted_incidents), now);
  out.add("vigil_store_retention_failures_total", {}, static_cast<double>(s.retention_failures), now);
  out.add("vigil_store_trimmed_chunks_total", {}, static_cast<double>(s.trimmed_chunks), now);
  out.add("vigil_proc_reads_stalled", {}, static_cast<double>(stalled_reads), now);
  out.add("vigil_loop_lag_max_seconds", {}, static_cast<double>(loop.max_lag_usec) / 1e6, now);
  out.add("vigil_loop_turn_max_seconds", {}, static_cast<double>(loop.max_turn_usec) / 1e6, now);
  if (docker != nullptr) {
    out.add("vigil_docker_up", {}, docker->up() ? 1.0 : 0.0, now);
    out.add("vigil_docker_containers", {}, static_cast<double>(docker->containers().size()), now);
    out.add("vigil_docker_events_total", {}, static_cast<double>(docker->events_seen()), now);
    out.add("vigil_docker_reconnects_total", {}, static_cast<double>(docker->reconnects()), now);
  }
  out.add("vigil_ticks_skipped_total", {}, static_cast<double>(loop.ticks_skipped), now);
  // The heap: what is in use, and what malloc holds free. Free memory is
  // given back to the kernel at each round (malloc_trim), so that vigild's
  // RSS follows what it uses now, not the highest it ever reached (a slow
  // commit once let the sample queue grow, and glibc keeps such pages).
  ::malloc_trim(0);
  const struct mallinfo2 heap = ::mallinfo2();
  out.add("vigil_heap_in_use_bytes", {}, static_cast<double>(heap.uordblks + heap.hblkhd), now);
  out.add("vigil_heap_free_bytes", {}, static_cast<double>(heap.fordblks), now);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < loop.lag_buckets.size(); ++i) {
    cumulative += loop.lag_buckets[i];
    const std::string le = i < LoopStats::kLagBounds.size() ? format_value_text(LoopStats::kLagBounds[i]) : "+Inf";
    out.add("vigil_loop_lag_seconds_bucket", {{"le", le}}, static_cast<double>(cumulative), now);
  }
  out.add("vigil_loop_lag_seconds_sum", {}, loop.lag_sum_seconds, now);
  out.add("vigil_loop_lag_seconds_count", {}, static_cast<double>(loop.lag_count), now);
  loop.max_lag_usec = 0;
  loop.max_turn_usec = 0;
  if (alerts != nullptr) {
    std::size_t firing = 0;
    for (const auto& a : alerts->alerts()) firing += a.status.phase == AlertPhase::kFiring ? 1 : 0;
    out.add("vigil_alerts_firing", {}, static_cast<double>(firing), now);
    for (const auto& q : alerts->queues()) {
      const QueueStats qs = q.stats();
      const Labels l{{"receiver", q.name()}};
      out.add("vigil_alert_queue_pending", l, static_cast<double>(qs.pending), now);
      out.add("vigil_alert_queue_oldest_age_seconds", l,
              qs.oldest_created_ms == 0 ? 0.0 : static_cast<double>(now - qs.oldest_created_ms) / 1000, now);
      out.add("vigil_alert_delivered_total", l, static_cast<double>(qs.delivered), now);
      out.add("vigil_alert_delivery_failures_total", l, static_cast<double>(qs.failed_attempts), now);
      out.add("vigil_alert_dropped_total", l, static_cast<double>(qs.dropped), now);
    }
  }
  if (remediator != nullptr) {
    out.add("vigil_incidents_open", {}, static_cast<double>(remediator->open_incidents()), now);
  }
  recorder_.publish(std::move(out.samples));
  if (s.samples_dropped > dropped_reported_) {
    const std::uint64_t lost = s.samples_dropped - dropped_reported_;
    dropped_reported_ = s.samples_dropped;
    recorder_.record(Event{now,
                           EventKind::kSamplesDropped,
                           {},
                           {},
                           Severity::kWarning,
                           std::to_string(lost) + " samples dropped: the store writer is not keeping up (" +
                               (s.last_error.empty() ? std::string("queue full") : s.last_error) + ")",
                           "{\"dropped\":" + std::to_string(lost) + "}"});
  }
  if (s.trimmed_chunks > trimmed_reported_) {
    const std::uint64_t n = s.trimmed_chunks - trimmed_reported_;
    trimmed_reported_ = s.trimmed_chunks;
    recorder_.record(Event{now,
                           EventKind::kStoreTrimmed,
                           {},
                           {},
                           Severity::kWarning,
                           std::to_string(n) + " chunks of the oldest raw samples deleted, through the hour of " +
                               format_rfc3339_ms(s.trimmed_through_ms) + ": " +
                               (s.trimmed_for_disk ? "free disk space is under [store] min_free_disk"
                                                   : "the store is over [store] max_size") +
                               " (the rollups keep their summaries)",
                           "{\"chunks\":" + std::to_string(n) + ",\"through_ms\":" +
                               std::to_string(s.trimmed_through_ms) + ",\"reason\":\"" +
                               (s.trimmed_for_disk ? "min_free_disk" : "max_size") + "\"}"});
  }
  notify_status(targets, running);
}

void SelfMetrics::notify_status(std::size_t targets, std::size_t running) const {
  const WriterStats s = recorder_.store().stats();
  const std::string status = "STATUS=watching " + count_of(targets, "target") + " (" + std::to_string(running) +
                             " running); " + std::to_string(s.series) + " series, " +
                             std::to_string(s.samples_committed) + " samples stored, " +
                             std::to_string(s.samples_dropped) + " dropped";
  sd_notify(0, status.c_str());
}

}  // namespace vigil
