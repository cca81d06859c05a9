#include "watchdog/checks.hpp"

#include "core/log.hpp"
#include "probes/checks/results.hpp"

namespace vigil {

CheckScheduler::CheckScheduler(Loop& loop, CheckContext& context, Recorder& recorder)
    : loop_(loop), context_(context), recorder_(recorder) {}

void CheckScheduler::wire(AlertEngine* alerts, Remediator* remediator) {
  alerts_ = alerts;
  remediator_ = remediator;
}

void CheckScheduler::add(const CheckConfig& check, Millis interval) {
  checks_[check.display_name()] = std::make_unique<ScheduledCheck>(*this, check, interval);
}

bool CheckScheduler::add_scheduled(const CheckConfig& check, Millis interval) {
  auto& slot = checks_[check.display_name()];
  slot = std::make_unique<ScheduledCheck>(*this, check, interval);
  return slot->schedule(loop_);
}

void CheckScheduler::remove_target(const std::string& target) {
  std::erase_if(checks_, [&](const auto& kv) { return kv.second->spec_.target == target; });
}

bool CheckScheduler::schedule() {
  for (auto& [name, c] : checks_) {
    if (!c->schedule(loop_)) return false;
  }
  return true;
}

void CheckScheduler::run_soon(const std::string& target, Millis delay) {
  for (auto& [name, c] : checks_) {
    if (c->spec_.target == target) c->start_after(delay);
  }
}

ScheduledCheck::ScheduledCheck(CheckScheduler& scheduler, const CheckConfig& cfg, Millis interval)
    : scheduler_(scheduler),
      spec_(cfg),
      hysteresis_{cfg.fail_after, cfg.recover_after, cfg.flap_window, cfg.flap_threshold},
      interval_(interval),
      runner_(scheduler.context_.make(cfg)) {}

bool ScheduledCheck::schedule(Loop& loop) {
  const Millis offset = splay_for(spec_.display_name(), std::min(interval_, Millis(2000)));
  // Runs spread over the interval may each be up to 1 % of it (at most
  // 10 ms) late: sd-event then wakes once for the several due in that
  // window. With 500 checks a second, the wake-ups, not the probes, were
  // most of vigild's CPU.
  const auto accuracy = std::min<std::chrono::microseconds>(interval_ / 100, std::chrono::milliseconds(10));
  timer_ = std::make_unique<Timer>(
      loop, interval_, offset, [this] { start(); },
      std::max<std::chrono::microseconds>(accuracy, std::chrono::microseconds(1000)));
  return !timer_->failed();
}

void ScheduledCheck::start() {
  if (runner_->busy()) {
    ++scheduler_.loop_.stats().ticks_skipped;  // the previous run still waits for its answer or timeout
    missed_ = true;
    return;
  }
  runner_->start([this](CheckOutcome out) { scheduler_.finished(*this, std::move(out)); });
}

void ScheduledCheck::start_after(Millis delay) {
  soon_ = std::make_unique<Timer>(scheduler_.loop_, Millis(0), delay, [this] {
    // A run still out began before what asked for this one (a restart): its
    // answer is stale, so a fresh run follows as soon as it returns.
    if (runner_->busy()) {
      missed_ = true;
    } else {
      start();
    }
  });
}

void CheckScheduler::finished(ScheduledCheck& c, CheckOutcome out) {
  const WallMs now = wall_now_ms();
  const CheckSpec& spec = c.spec_;
  for (const auto& w : out.warnings) {
    if (c.warned_.size() < 100 && c.warned_.insert(w).second) {
      log_warning("check output has a problem (logged once)",
                  {{"target", spec.target}, {"check", spec.name}, {"problem", w}});
    }
  }
  if (out.ok) {
    c.first_failure_ms_ = 0;
  } else if (c.first_failure_ms_ == 0) {
    c.first_failure_ms_ = now;
  }
  // In the start-up grace after an action, failures are not judged (a
  // pass is: it ends the grace for this check's state).
  const bool judged = out.ok || remediator_ == nullptr || !remediator_->in_grace(spec.target, now);
  std::optional<Transition> t;
  if (judged) t = observe(c.status_, c.hysteresis_, out.ok, now);
  const Remediator::CheckReport report{out.ok, out.reason, out.timed_out, c.first_failure_ms_};
  // check_state when it changed, and at the first result (the store then
  // knows the state from vigild's start on).
  const bool state_news = (t && t->state_changed) || !c.state_stored_;
  c.state_stored_ = true;
  recorder_.publish(
      run_samples(spec, std::move(out), state_news ? std::optional<CheckState>(c.status_.state) : std::nullopt, now));
  if (t) {
    for (auto& e : transition_events(spec, *t, c.status_, report.reason, now)) recorder_.record(std::move(e));
  }
  alert(c, report.reason, now);  // after the check's own event
  if (remediator_ != nullptr && judged) remediator_->check_result(spec.target, spec.name, c.status_, report, now);
  if (c.missed_) {
    c.missed_ = false;
    c.start_after(Millis(0));  // on the next turn of the loop, when the runner has let go of this run
  }
}

void CheckScheduler::alert(const ScheduledCheck& c, const std::string& reason, WallMs now) {
  if (alerts_ == nullptr || !c.spec_.alert) return;
  alerts_->check_state(c.spec_.target, c.spec_.name, check_alert_state(c.status_.state), reason, now);
}

}  // namespace vigil
