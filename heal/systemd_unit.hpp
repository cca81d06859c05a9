// heal/systemd_unit.hpp: `systemd_unit` targets, over sd-bus on the loop.
//
// vigild asks systemd (the system bus, attached to sd-event: nothing
// blocks) for the unit's object path (LoadUnit), subscribes to its
// PropertiesChanged signal (Manager.Subscribe makes systemd send them) and
// re-reads the properties it uses whenever one changes: MainPID,
// ControlGroup, ActiveState, SubState, NRestarts, ExecMainCode,
// ExecMainStatus and the pending Job. A main process that goes away while
// no job of anyone's is pending and vigild is not restarting the unit
// itself, and that did not end with a plain stop signal (SIGTERM, SIGINT,
// SIGHUP) or exit code 0, is a crash, reported with systemd's exit status.
// Restart is Manager.RestartUnit(unit, "replace"); it is done when systemd
// reports the job removed (JobRemoved) with its result.
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/sd_handles.hpp"
#include "heal/service.hpp"

namespace vigil {

struct UnitState {
  bool known = false;  // read at least once
  std::string load_state, active_state, sub_state, control_group;
  int main_pid = 0;
  std::uint32_t n_restarts = 0;
  int exec_main_code = 0;  // CLD_EXITED (1), CLD_KILLED (2), CLD_DUMPED (3); 0: none yet
  int exec_main_status = 0;
  bool job_pending = false;
};

// The system bus, shared by every unit target. Connecting is synchronous
// (a local socket) and done once at start-up; everything after is async.
class SystemdBus {
 public:
  static Result<std::unique_ptr<SystemdBus>> open(sd_event* event);
  sd_bus* bus() const { return bus_.get(); }
  // Units hear JobRemoved(id, path, unit, result) through this.
  void add(class UnitService* unit) { units_.push_back(unit); }
  void remove(class UnitService* unit) { std::erase(units_, unit); }

 private:
  SystemdBus() = default;
  static int on_job_signal(sd_bus_message* m, void* self, sd_bus_error*);
  static int on_subscribed(sd_bus_message* m, void* self, sd_bus_error*);
  SdBusPtr bus_;
  SdBusSlotPtr job_slot_;
  SdBusSlotPtr subscribe_slot_;
  std::vector<class UnitService*> units_;
};

class UnitService : public ServiceController {
 public:
  using OnExit = std::function<void(const ExitInfo&)>;
  using OnChange = std::function<void(const UnitState& before, const UnitState& now)>;
  UnitService(SystemdBus& bus, std::string unit, OnExit on_crash, OnChange on_change);
  ~UnitService() override;

  // Looks the unit up and starts watching it (asynchronously).
  void start();
  const UnitState& state() const { return state_; }
  // Why the unit cannot be watched (no such unit, the bus refused); empty when fine.
  const std::string& problem() const { return problem_; }

  int main_pid() const override { return state_.main_pid; }
  void restart(Millis timeout, ActionDone done) override;
  std::string what() const override { return unit_; }

  // SystemdBus forwards every JobRemoved here.
  void job_removed(const std::string& job, const std::string& result);

 private:
  static int on_loaded(sd_bus_message* m, void* self, sd_bus_error*);
  static int on_properties_changed(sd_bus_message* m, void* self, sd_bus_error*);
  static int on_properties(sd_bus_message* m, void* self, sd_bus_error*);
  static int on_restart_queued(sd_bus_message* m, void* self, sd_bus_error*);
  static int on_restart_timeout(sd_event_source*, std::uint64_t, void* self);
  void refresh();
  void apply(const UnitState& next);
  bool is_crash(const UnitState& before, const UnitState& next) const;
  void finish_restart(ActionResult r);

  SystemdBus& bus_;
  std::string unit_;
  std::string path_;
  OnExit on_crash_;
  OnChange on_change_;
  UnitState state_;
  UnitState reading_;  // filled by the two GetAll replies
  int pending_reads_ = 0;
  bool refresh_again_ = false;
  bool read_failed_ = false;
  int restart_old_pid_ = 0;  // the main process a restart of ours replaces: its exit is no crash
  std::string problem_;
  SdBusSlotPtr load_slot_, match_slot_, props_slot_[2], restart_slot_;
  // A restart in flight.
  ActionDone restart_done_;
  std::string restart_job_;
  SdEventSourcePtr restart_timer_;
};

}  // namespace vigil
