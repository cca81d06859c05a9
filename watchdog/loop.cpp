#include "watchdog/loop.hpp"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cstring>

#include "core/log.hpp"

namespace vigil {

namespace {

std::uint64_t usec(Millis d) {
  return static_cast<std::uint64_t>(d.count()) * 1000;
}

}  // namespace

void LoopStats::record_lag(std::uint64_t lag_usec) {
  const double seconds = static_cast<double>(lag_usec) / 1e6;
  std::size_t i = 0;
  while (i < kLagBounds.size() && seconds > kLagBounds[i]) ++i;
  ++lag_buckets[i];
  ++lag_count;
  lag_sum_seconds += seconds;
  max_lag_usec = std::max(max_lag_usec, lag_usec);
}

Result<std::unique_ptr<Loop>> Loop::make() {
  // Signals must be blocked before any thread starts (the store writer),
  // so that only the loop's signalfd sees them.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  std::unique_ptr<Loop> loop(new Loop());
  sd_event* e = nullptr;
  int r = sd_event_new(&e);
  if (r < 0) return fail(ErrorKind::kIo, std::string("cannot create the event loop: ") + std::strerror(-r));
  loop->event_.reset(e);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) {
    r = sd_event_add_signal(e, nullptr, s, &Loop::on_signal, loop.get());
    if (r < 0) {
      return fail(ErrorKind::kIo, std::string("cannot watch ") + strsignal(s) + ": " + std::strerror(-r));
    }
  }
  // Pings WATCHDOG=1 at half of WATCHDOG_USEC while the loop turns; a no-op
  // when systemd did not ask for it.
  r = sd_event_set_watchdog(e, 1);
  if (r < 0) log_warning("cannot enable the systemd watchdog", {{"error", std::strerror(-r)}});
  return loop;
}

int Loop::on_signal(sd_event_source* source, const struct signalfd_siginfo* si, void*) {
  if (si->ssi_signo == SIGHUP) {
    log_info("SIGHUP: configuration reload is not supported yet; restart vigild to apply changes");
    return 0;
  }
  log_info("stopping", {{"signal", strsignal(static_cast<int>(si->ssi_signo))}});
  sd_event_exit(sd_event_source_get_event(source), 0);
  return 0;
}

int Loop::run() {
  // sd_event_loop(), unrolled so that each dispatch (one handler) is timed.
  sd_event* e = event_.get();
  while (sd_event_get_state(e) != SD_EVENT_FINISHED) {
    int r = sd_event_prepare(e);
    if (r == 0) r = sd_event_wait(e, UINT64_MAX);
    if (r > 0) {
      const std::uint64_t start = mono_now_usec();
      r = sd_event_dispatch(e);
      stats_.max_turn_usec = std::max(stats_.max_turn_usec, mono_now_usec() - start);
    }
    if (r < 0) return r;
  }
  return 0;
}

Timer::Timer(Loop& loop, Millis interval, Millis first_delay, std::function<void()> work,
             std::chrono::microseconds accuracy)
    : loop_(loop),
      interval_(interval),
      accuracy_usec_(static_cast<std::uint64_t>(accuracy.count())),
      work_(std::move(work)) {
  sd_event_source* s = nullptr;
  const int r = sd_event_add_time(loop.event(), &s, CLOCK_MONOTONIC, mono_now_usec() + usec(first_delay),
                                  static_cast<std::uint64_t>(accuracy.count()), &Timer::on_time, this);
  if (r < 0) {
    log_error("cannot add timer", {{"error", std::strerror(-r)}});
    return;
  }
  source_.reset(s);
}

int Timer::on_time(sd_event_source* source, std::uint64_t due, void* self) {
  auto* t = static_cast<Timer*>(self);
  LoopStats& stats = t->loop_.stats();
  const std::uint64_t now = mono_now_usec();
  // Lag is lateness beyond what the timer allowed (its accuracy window).
  const std::uint64_t allowed = due + t->accuracy_usec_;
  stats.record_lag(now > allowed ? now - allowed : 0);
  if (t->interval_.count() == 0) {
    // One-shot (sd-event turned it off): its work may replace this very
    // timer (a check re-armed from its own result), so it runs from a copy
    // and nothing touches `t` after it.
    auto work = t->work_;
    work();
    return 0;
  }
  t->work_();
  // Next due time keeps the phase; a round that overran is skipped, not
  // run twice in a row.
  const std::uint64_t step = usec(t->interval_);
  std::uint64_t next = due + step;
  if (const std::uint64_t after = mono_now_usec(); next <= after) {
    const std::uint64_t behind = (after - next) / step + 1;
    stats.ticks_skipped += behind;
    next += behind * step;
  }
  sd_event_source_set_time(source, next);
  sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
  return 0;
}

Millis splay_for(std::string_view name, Millis window) {
  if (window.count() <= 0) return Millis(0);
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return Millis(static_cast<std::int64_t>(h % static_cast<std::uint64_t>(window.count())));
}

}  // namespace vigil
