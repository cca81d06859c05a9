// heal/targets.hpp: a target's processes, found and controlled the way its kind says.
//
// One TargetProcesses per target, made by make_target_processes() from the
// target's config (a switch over TargetKind: config/targets.hpp has the
// table of kinds and their keys). Each round the loop asks it for the
// target's main processes (roots()); it knows how: a pidfile read, a PID, a
// pattern over command lines, a systemd unit's MainPID and cgroup, or the
// child vigild started. It also watches the main process's exit (a pidfd
// for every kind; systemd's signal for units) and says so through
// on_exit, and offers a ServiceController when the kind can be restarted.
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"
#include "core/sample.hpp"
#include "heal/service.hpp"
#include "heal/systemd_unit.hpp"
#include "net/curl_loop.hpp"
#include "probes/docker/watcher.hpp"
#include "probes/process.hpp"

namespace vigil {

// What the targets of one vigild share: the loop, the system bus (opened
// by the first unit target), and where things are.
class TargetContext {
 public:
  TargetContext(sd_event* event, std::string state_dir, std::string proc_root, std::string cgroup_root);
  sd_event* event() const { return event_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& proc_root() const { return proc_root_; }
  const std::string& cgroup_root() const { return cgroup_root_; }
  // The system bus; an error when it cannot be reached (no systemd).
  Result<SystemdBus*> bus();

  // The Docker engine the container targets share: set before the targets
  // are made; the first container target makes the client and the watcher
  // (which connects at once, and again with backoff while the engine does
  // not answer).
  struct DockerSetup {
    docker::ClientOptions client;
    std::function<CurlLoop&()> curl;
    docker::Watcher::Callbacks callbacks;
  };
  void set_docker(DockerSetup setup) { docker_setup_ = std::move(setup); }
  docker::Watcher& docker_watcher();
  docker::Client& docker_client();
  // The watcher if a container target made it, else null.
  const docker::Watcher* docker_if_used() const { return docker_watcher_.get(); }

 private:
  void make_docker();

  sd_event* event_;
  std::string state_dir_, proc_root_, cgroup_root_;
  std::unique_ptr<SystemdBus> bus_;
  DockerSetup docker_setup_;
  std::unique_ptr<CurlLoop> own_curl_;  // when the setup gives none
  std::unique_ptr<docker::Client> docker_client_;
  std::unique_ptr<docker::Watcher> docker_watcher_;  // after the client: goes first
};

// This round's answer: the main processes (main first), or why there are none.
struct FoundRoots {
  std::vector<int> roots;
  std::string problem;       // for people, logged once per change; empty when found
  bool read_failed = false;  // something could not be read (not: nothing is running)
};

class TargetProcesses {
 public:
  using OnExit = std::function<void(const ExitInfo&)>;
  using OnUnitChange = std::function<void(const UnitState& before, const UnitState& now)>;
  virtual ~TargetProcesses() = default;

  // At vigild's start: start (or adopt) the process vigild runs, look a
  // unit up. Returns what it did, for the log; an error when it could not.
  virtual Result<std::string> start() { return std::string(); }
  // The main processes now, from the process table (a match target reads
  // command lines through it).
  virtual FoundRoots roots(ProcessTable& table) = 0;
  // The round found `main_pid` (0: none): watch its exit.
  virtual void seen(int main_pid) { (void)main_pid; }
  // The main process now; 0 when none runs.
  virtual int main_pid() const = 0;
  // Sends `sig` to the main process, through a pidfd (never to a recycled
  // PID). Returns the PID signalled.
  virtual Result<int> signal(int sig) = 0;
  // For restarts; null when vigild cannot restart this kind.
  virtual ServiceController* controller() { return nullptr; }
  // A container's other actions (container kinds only; null otherwise).
  virtual ContainerController* container_controller() { return nullptr; }
  // The Docker container it follows now (container kinds; the pointer is
  // valid until the loop turns), or why there is none.
  virtual ContainerLookup container() const { return {nullptr, "not a container target"}; }
};

std::unique_ptr<TargetProcesses> make_target_processes(const TargetConfig& target, TargetContext& context,
                                                       TargetProcesses::OnExit on_exit,
                                                       TargetProcesses::OnUnitChange on_unit_change);

// What one sampling round saw of a target's main process.
struct TargetObservation {
  bool present = false;
  int main_pid = 0;
  WallMs main_start_ms = 0;
};

enum class TargetTransition { kNone, kAppeared, kRestarted, kVanished };

// A different start time (or PID) between two rounds in which the target
// was present is a restart; absent -> present is an appearance (also at the
// first round); present -> absent is a disappearance.
TargetTransition classify_transition(const std::optional<TargetObservation>& previous,
                                     const TargetObservation& current);

// The event recording a transition (target_appeared, target_restarted,
// target_vanished); kNone has none.
std::optional<Event> transition_event(const std::string& target, TargetTransition transition,
                                      const std::optional<TargetObservation>& previous,
                                      const TargetObservation& current, WallMs now);

}  // namespace vigil
