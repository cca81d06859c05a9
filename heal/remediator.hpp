// heal/remediator.hpp: incidents, and the actions that end them.
//
// Contract of heal/: the loop reports what it sees of each target (check
// results after hysteresis, crashes from the pidfd or systemd's signal,
// rules firing, every sample as evidence); heal/ turns that into incidents
// with a root cause (root_cause.hpp) and, for targets with
// [target.remediate], into actions under the safety rules of policy.hpp,
// run through the target's processes (targets.hpp, service.hpp,
// systemd_unit.hpp). The time is passed in; incidents and events leave
// through Sinks; nothing here reads the store.
//
// Subjects: every target, and every check that belongs to no target (a
// remote endpoint: its incidents are the check's, and nothing is acted on).
//
// An incident opens at the first failing result of a check that then
// reached failed (its true start), at a crash, or when a rule named in `on`
// fires; it records the evidence at detection, the root cause, and each
// action with its result. It recovers only when the subject stayed healthy
// for a stability period: every check passing since the last action and
// the main process up, with no crash, for the remediation grace (30 s
// without [target.remediate]); its recovery time is when that healthy
// stretch began. A crash inside the stability period continues the same
// incident. One incident per subject is open at a time; every change
// rewrites the incident row in the store.
//
// Actions run asynchronously on the loop, one at a time per target, each
// with the remediate timeout: restart (the ServiceController), signal (to
// the main process through its pidfd), exec and http (as one-off checks of
// those kinds: an exec with the incident in its environment, a POST of the
// incident as JSON). dry_run records "would <action>" and touches nothing.
// A crash loop counts toward the rate limit like any failure and ends in
// give-up with the RemediationGivenUp alert (as systemd's StartLimitBurst);
// flapping that vigild's own actions caused does not block them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/sample.hpp"
#include "heal/policy.hpp"
#include "heal/root_cause.hpp"
#include "heal/service.hpp"
#include "probes/checks/check.hpp"
#include "probes/checks/hysteresis.hpp"
#include "store/store.hpp"

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
    // The cgroup read now: its OOM-kill count and its memory peak, when it
    // has them.
    struct CgroupNow {
      std::optional<double> oom_kills, memory_peak_bytes;
    };
    std::function<CgroupNow()> cgroup_now;
    // The main process is stopped (state T or t) now.
    std::function<bool()> main_stopped;
    // What its manager (Docker) is doing now: why to let it be, and whether
    // it restarts the target on its own (empty: no); see policy.hpp.
    struct ManagerNow {
      std::string hold, restarts_itself;
      bool settling = false;  // the manager has not reported the exit yet: exit_known() follows
    };
    std::function<ManagerNow()> manager;
  };
  // One check result, after its state was updated.
  struct CheckReport {
    bool ok = false;
    std::string reason;
    bool timed_out = false;       // its deadline ended the run
    WallMs first_failure_ms = 0;  // the first failing result of the current run of failures
  };

  // `context` runs the exec and http actions; it may be null when no
  // target has those. `clock` stamps the end of an action (which arrives
  // from the loop, not from a call with the time).
  Remediator(CheckContext* context, Sinks sinks, std::function<WallMs()> clock = &wall_now_ms);
  ~Remediator();
  Remediator(const Remediator&) = delete;
  Remediator& operator=(const Remediator&) = delete;

  // Before the loop turns: every target, then every check.
  void add_target(const TargetConfig& cfg, TargetHooks hooks);
  void add_check(const CheckSpec& check);
  // What the last vigild left: open incidents continue, ids go on.
  void restore(const std::vector<IncidentRow>& open, std::int64_t max_id, WallMs now);

  // `target` is "" for a check of its own.
  void check_result(const std::string& target, const std::string& check, const CheckStatus& status,
                    const CheckReport& report, WallMs now);
  // Failures of the target's checks are not judged in its start-up grace.
  bool in_grace(const std::string& target, WallMs now) const;
  // The main process exited. Told twice for the same exit (a container's
  // die event and its pidfd, in either order), the second call only adds
  // what it knows.
  void crashed(const std::string& target, const ExitInfo& exit, WallMs now);
  // What ended the main process became known after crashed() (Docker's
  // die event: the exit code, OOMKilled): the crash incident's evidence and
  // root cause are updated; nothing is recorded twice.
  void exit_known(const std::string& target, const ExitInfo& exit, WallMs now);
  // A restart of vigild's is running for the target (an exit now is its doing).
  bool restarting(const std::string& target) const;
  // The main process of a target runs (found, started, restarted by systemd).
  void running(const std::string& target, WallMs now);
  // A rule's alert for the target: firing or not (from the alert engine).
  void rule_state(const std::string& target, const std::string& rule, bool firing, const std::string& reason,
                  WallMs now);
  // Every sample: the newest values of the evidence metrics per target.
  void observe(const Sample& s);
  // Every second: triggers still active get their next action when the
  // backoff allows, healthy stretches long enough end incidents.
  void tick(WallMs now);

  // An incident is open for the target (depends_on: it counts as failed).
  bool failed(const std::string& target) const;
  std::size_t open_incidents() const;

 private:
  struct Subject;
  // (target, "") for a target; ("", check) for a check of its own.
  using SubjectKey = std::pair<std::string, std::string>;
  Subject* find(const std::string& target, const std::string& check = {});
  const Subject* find(const std::string& target, const std::string& check = {}) const;
  void open_incident(Subject& s, Trigger trigger, WallMs started, WallMs now, Evidence evidence);
  Evidence evidence_of(const Subject& s) const;
  void classify(Subject& s, const Evidence& e);
  bool trigger_active(const Subject& s, bool* only_checks) const;
  bool flapping_of_its_own(const Subject& s, WallMs now) const;
  void consider(Subject& s, WallMs now);
  void decide(Subject& s, WallMs now);
  void act(Subject& s, ActionKind action, WallMs now);
  void run_action(Subject& s, ActionKind action, std::size_t index, const std::string& detail);
  void action_done(Subject& s, std::size_t index, ActionResult r);
  bool healthy_now(const Subject& s) const;
  void check_healthy(Subject& s, WallMs now);
  void recover(Subject& s, WallMs recovered, WallMs now);
  void started(Subject& s, WallMs now);
  void save(Subject& s, WallMs now);
  void record(Subject& s, EventKind kind, Severity severity, std::string message, WallMs now);

  CheckContext* context_;
  Sinks sinks_;
  std::function<WallMs()> clock_;
  std::map<SubjectKey, std::unique_ptr<Subject>> subjects_;
  std::int64_t next_id_ = 1;
};

}  // namespace vigil
