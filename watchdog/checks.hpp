// watchdog/checks.hpp: every check's schedule, and where its results go.
//
// Each ScheduledCheck owns its runner (probes/checks/), its hysteresis
// state and its timers. A run that is still in flight when the next is due
// is not started again on top of itself: the round is counted as skipped,
// and one run starts as soon as the slow one ends (a hung service is probed
// again at once, not up to an interval later: detection is about
// fail_after x timeout, not x (timeout + interval)). A result goes through hysteresis (unless the
// remediation grace says failures are not judged yet), becomes samples and
// events (probes/checks/results.hpp), the check's alert state, and a report
// to the remediator.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "alerting/engine.hpp"
#include "config/config.hpp"
#include "heal/remediator.hpp"
#include "probes/checks/check.hpp"
#include "probes/checks/hysteresis.hpp"
#include "watchdog/loop.hpp"
#include "watchdog/recorder.hpp"

namespace vigil {

class ScheduledCheck;

class CheckScheduler {
 public:
  CheckScheduler(Loop& loop, CheckContext& context, Recorder& recorder);
  // The alert engine and the remediator, once they exist (either may stay null).
  void wire(AlertEngine* alerts, Remediator* remediator);

  // Before the loop turns; keyed by check.display_name().
  void add(const CheckConfig& check, Millis interval);
  // While the loop turns (a target found by [docker] auto): added and its
  // timer started; false when the timer could not be made.
  bool add_scheduled(const CheckConfig& check, Millis interval);
  // A target is gone: its checks stop (a run in flight is cancelled by its
  // runner's destructor) and are forgotten.
  void remove_target(const std::string& target);
  // Starts every check's timer: the first run waits for the check's offset
  // (within 2 s), so that start-up is not a burst of every check at once.
  bool schedule();
  // A restart finished: the target's checks run `delay` from now, then on
  // their schedule.
  void run_soon(const std::string& target, Millis delay);

  std::size_t size() const { return checks_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [name, c] : checks_) f(*c);
  }

 private:
  friend class ScheduledCheck;
  void finished(ScheduledCheck& check, CheckOutcome outcome);
  void alert(const ScheduledCheck& check, const std::string& reason, WallMs now);

  Loop& loop_;
  CheckContext& context_;
  Recorder& recorder_;
  AlertEngine* alerts_ = nullptr;
  Remediator* remediator_ = nullptr;
  std::map<std::string, std::unique_ptr<ScheduledCheck>> checks_;
};

class ScheduledCheck {
 public:
  ScheduledCheck(CheckScheduler& scheduler, const CheckConfig& cfg, Millis interval);
  const CheckSpec& spec() const { return spec_; }
  const CheckStatus& status() const { return status_; }
  Millis interval() const { return interval_; }
  // A run came due while one was in flight: it starts when that one returns.
  bool catch_up_pending() const { return missed_; }
  // Starts a run now, unless one is in flight (then the round is counted as
  // skipped, and a run starts as soon as that one returns).
  void start();
  // Starts a run after `delay` (the early check after a restart); when one
  // is in flight then, a run follows as soon as it returns.
  void start_after(Millis delay);
  bool schedule(Loop& loop);

 private:
  friend class CheckScheduler;
  CheckScheduler& scheduler_;
  CheckSpec spec_;
  Hysteresis hysteresis_;
  Millis interval_;
  CheckStatus status_;
  std::unique_ptr<CheckRunner> runner_;
  std::set<std::string> warned_;  // outcome warnings already logged
  bool missed_ = false;           // a run came due while one was in flight
  bool state_stored_ = false;     // check_state has a sample since vigild started
  WallMs first_failure_ms_ = 0;   // the first failing result of the current run of failures
  std::unique_ptr<Timer> timer_, soon_;
};

}  // namespace vigil
