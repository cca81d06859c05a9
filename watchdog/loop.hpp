// watchdog/loop.hpp: vigild's event loop and its timers.
//
// One sd-event loop runs everything; Loop owns it and measures it: every
// timer's lag (callback time minus due time) goes into a histogram that the
// self metrics publish, with the longest single handler run (turn), and a
// periodic timer that overran skips the rounds it missed rather than
// running them back to back. A Timer owns its sd-event source: whoever
// schedules work owns the timer, so that the work can never run after its
// owner is gone (a reload replaces targets and checks; their timers go
// with them).
#pragma once

#include <systemd/sd-event.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "core/sd_handles.hpp"
#include "core/time.hpp"

namespace vigil {

// The loop's own health, for the self metrics. A timer's lag is how late its
// callback ran beyond its accuracy window (time the timer allowed itself).
struct LoopStats {
  static constexpr std::array<double, 11> kLagBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                        0.05,   0.1,   0.2,   0.5,   1.0};
  std::array<std::uint64_t, kLagBounds.size() + 1> lag_buckets{};  // the last one is +Inf
  std::uint64_t lag_count = 0;
  double lag_sum_seconds = 0;
  std::uint64_t max_lag_usec = 0;  // since the self metrics last took it
  // The longest single handler run (one sd-event dispatch: a timer's work,
  // one curl socket action, a probe's reply): what every other source
  // waited for. Lag only shows it when a timer happened to be due.
  std::uint64_t max_turn_usec = 0;  // since the self metrics last took it
  std::uint64_t ticks_skipped = 0;  // periodic rounds skipped, and check runs skipped while busy

  void record_lag(std::uint64_t lag_usec);
};

class Loop {
 public:
  // Blocks SIGTERM, SIGINT and SIGHUP (before any thread starts) and makes
  // the loop, which stops on the first two.
  static Result<std::unique_ptr<Loop>> make();
  sd_event* event() const { return event_.get(); }
  LoopStats& stats() { return stats_; }
  // Runs until stopped; the loop's own error, or 0.
  int run();

 private:
  Loop() = default;
  static int on_signal(sd_event_source* source, const struct signalfd_siginfo* si, void* self);
  SdEventPtr event_;
  LoopStats stats_;
};

// Runs `work` every `interval` (the first time after `first_delay`),
// keeping its phase; one-shot when interval is 0. Destroying it cancels it;
// a periodic timer's `work` must not destroy its own timer (a one-shot's may).
class Timer {
 public:
  // `accuracy`: how late sd-event may run it, so that it can wake once for
  // several timers due close together (fewer wake-ups, each handling more).
  Timer(Loop& loop, Millis interval, Millis first_delay, std::function<void()> work,
        std::chrono::microseconds accuracy = std::chrono::microseconds(1000));
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  // The source could not be added (the reason was logged).
  bool failed() const { return !source_; }

 private:
  static int on_time(sd_event_source* source, std::uint64_t due, void* self);
  Loop& loop_;
  Millis interval_;
  std::uint64_t accuracy_usec_;
  std::function<void()> work_;
  SdEventSourcePtr source_;
};

// A stable offset in [0, window) from a name, so that timers do not all
// fire on the same millisecond, and a restart of vigild keeps each one's
// phase.
Millis splay_for(std::string_view name, Millis window);

}  // namespace vigil
