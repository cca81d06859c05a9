// watchdog/remediator.hpp: incidents, and the actions that end them.
//
// The loop reports what it sees of each target: check results (after
// hysteresis), crashes (the pidfd or systemd's signal), rules firing, and
// every sample (the evidence). The Remediator turns that into incidents and,
// for targets with [target.remediate], into actions under the safety rules
// of watchdog/remediation_policy.hpp.
//
// An incident opens at the first failing result of a check that then
// reached failed (its true start, not the moment fail_after was reached),
// at a crash, or when a rule named in `on` fires for the target; it records
// the evidence at detection, the root cause (watchdog/root_cause.hpp), each
// action with its result, and closes when the target is healthy again:
// every check of the target ok (with a passing result after the last
// action) and, for targets vigild runs or systemd runs, the main process
// up. A target without checks has recovered when its main process has
// stayed up for the grace (30 s without [target.remediate]); the incident
// records the time it came up. One incident per target is open at a time. Every change rewrites the
// incident row in the store.
//
// Actions run asynchronously on the loop, one at a time per target, each
// with the remediate timeout: restart (ServiceController), signal (to the
// main process), exec and http (through the check runners: an exec check
// with the incident in its environment, an http POST of the incident as
// JSON). dry_run records "would <action>" and touches nothing.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/sample.hpp"
#include "store/store.hpp"
#include "watchdog/check_runner.hpp"
#include "watchdog/check_state.hpp"
#include "watchdog/config.hpp"
#include "watchdog/remediation_policy.hpp"
#include "watchdog/root_cause.hpp"
#include "watchdog/service.hpp"

namespace vigil {

class Remediator {
 public:
  struct Sinks {
    std::function<void(IncidentRow)> incident;
    std::function<void(Event)> event;
    // The RemediationGivenUp alert of a target: firing or resolved.
    std::function<void(const std::string& target, bool active, const std::string& reason, WallMs now)> given_up;
    // A restart finished: the loop runs the target's checks soon, rather
    // than on their old schedule, so that recovery is seen at once.
    std::function<void(const std::string& target)> restarted;
  };
  // What the loop knows of a target's processes, asked when needed.
  struct TargetHooks {
    ServiceController* controller = nullptr;  // systemd_unit and start targets
    std::function<int()> main_pid;            // 0: not running
    // Sends a signal to the main process through its pidfd (never to a
    // recycled PID); returns the PID, or an error.
    std::function<Result<int>(int sig)> signal;
    // The cgroup read now (for a crash): its OOM-kill count and its memory
    // peak, when it has them.
    struct CgroupNow {
      std::optional<double> oom_kills, memory_peak_bytes;
    };
    std::function<CgroupNow()> cgroup_now;
  };

  Remediator(CheckRunners* runners, Sinks sinks);
  ~Remediator();
  Remediator(const Remediator&) = delete;
  Remediator& operator=(const Remediator&) = delete;

  // Before the loop turns: every target, then every check.
  void add_target(const TargetConfig& cfg, TargetHooks hooks);
  void add_check(const std::string& target, const std::string& check);
  // What the last vigild left: open incidents continue, ids go on.
  void restore(const std::vector<IncidentRow>& open, std::int64_t max_id, WallMs now);

  // Each check result, after its state was updated. `first_failure_ms` is
  // the time of the first failing result of the current run of failures.
  void check_result(const std::string& target, const std::string& check, const CheckStatus& status, bool ok,
                    const std::string& reason, WallMs first_failure_ms, WallMs now);
  // Failures of the target's checks are not judged in its start-up grace.
  bool in_grace(const std::string& target, WallMs now) const;
  // The main process exited.
  void crashed(const std::string& target, const ExitInfo& exit, WallMs now);
  // The process of a supervised target runs again (found, started by systemd).
  void running(const std::string& target, WallMs now);
  // A rule's alert for the target: firing or not (from the alert engine).
  void rule_state(const std::string& target, const std::string& rule, bool firing, const std::string& reason,
                  WallMs now);
  // Every sample: the newest values of the evidence metrics per target.
  void observe(const Sample& s);
  // Every second: triggers still active get their next action when the
  // backoff allows, given-up targets resume when the window frees a slot.
  void tick(WallMs now);

  // An incident is open for the target (depends_on: it counts as failed).
  bool failed(const std::string& target) const;
  std::size_t open_incidents() const;

 private:
  struct Target;
  struct Action;
  Target* find(const std::string& name);
  const Target* find(const std::string& name) const;
  void open_incident(Target& t, const std::string& trigger, WallMs started, WallMs now, Evidence evidence);
  Evidence evidence_of(const Target& t) const;
  void classify(Target& t, const Evidence& e);
  bool trigger_active(const Target& t, bool* only_checks) const;
  void consider(Target& t, WallMs now);
  void act(Target& t, const std::string& action, WallMs now);
  void action_done(Target& t, std::size_t index, ActionResult r);
  void check_healthy(Target& t, WallMs now);
  void save(Target& t, WallMs now);
  void record(Target& t, std::string kind, Severity severity, std::string message, WallMs now);

  CheckRunners* runners_;
  Sinks sinks_;
  std::map<std::string, std::unique_ptr<Target>> targets_;
  std::int64_t next_id_ = 1;
};

}  // namespace vigil
