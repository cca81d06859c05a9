// probes/docker/facts.hpp: what a container's facts mean for vigild (pure).
//
// Decisions over one ContainerInfo (api.hpp), kept here as pure functions
// so that each rule is a unit test: how its HEALTHCHECK is judged (the
// docker_health check), whether a restart must wait (Docker is already at
// it, or the health check's start period runs), and whether Docker's own
// restart policy brings it back after this exit.
#pragma once

#include <optional>
#include <string>

#include "core/sample.hpp"
#include "core/time.hpp"
#include "probes/docker/api.hpp"
#include "probes/probe.hpp"

namespace vigil::docker {

// The docker_health check's verdict on a container.
//   running, no HEALTHCHECK        pass ("running; it has no HEALTHCHECK")
//   running, starting or healthy   pass
//   running, unhealthy             fail, with the failing streak and the
//                                  last health check's output; timed_out
//                                  when Docker ended that check at its
//                                  timeout
//   paused, restarting, exited...  fail, with the state (and exit code)
struct HealthVerdict {
  bool ok = false;
  std::string reason;
  bool timed_out = false;
};
HealthVerdict judge_health(const ContainerInfo& c);

// Why vigild must not restart the container now, or nullopt: Docker is
// restarting it, or its HEALTHCHECK is inside the start period (a slow
// starter restarted there never gets to start: docker-autoheal #53).
std::optional<std::string> restart_hold(const ContainerInfo& c, WallMs now);

// Whether Docker's own restart policy brings the stopped container back,
// and how it says so ("Docker restarts it: restart policy always"); nullopt
// when it does not (policy no, on-failure after exit code 0 or past its
// retries, or the container is running).
std::optional<std::string> restarted_by_docker(const ContainerInfo& c);

// The container's state for people: "exited (exit code 137, killed for
// memory)", "running", "restarting".
std::string describe_state(const ContainerInfo& c);

// How the container's process ended, as vigild tells exits: Docker's exit
// code 128+N is signal N (137: SIGKILL), and OOMKilled.
struct ExitFacts {
  std::optional<int> code;
  std::optional<int> signal;
  bool oom_killed = false;
};
ExitFacts exit_facts(const ContainerInfo& c);

// The Vigil event an engine event becomes (container_started,
// container_died, container_oom, container_health, container_restarted,
// container_paused, container_unpaused, container_destroyed), with the
// container's facts after it (`now`: null when it is gone) in its details;
// nullopt for the actions vigild only follows (create, kill, stop, rename).
// The caller sets the target.
std::optional<Event> container_event(const ContainerEvent& e, const ContainerInfo* now, WallMs at);

// The engine's facts as series of the target following `c`, labelled
// target=NAME: container_running (1 while running, else 0),
// container_restart_count (Docker's own restarts of it), container_exit_code
// and container_oom_killed (1 or 0) of its last exit, and with a
// HEALTHCHECK container_healthy (1 healthy, 0 starting or unhealthy) and
// container_health_failing_streak.
void append_container_samples(const ContainerInfo& c, const std::string& target, WallMs now, Collection& out);

// [docker] auto: whether a container is a target of its own. Only a running
// one becomes one (it then stays while the container exists); with
// kLabelled it needs the label vigil.enable=true, with kAll any but
// vigil.enable=false.
inline constexpr std::string_view kAutoLabel = "vigil.enable";
// Whether a target of a container kind may follow `c`: kContainer by name,
// id or a unique-length id prefix (12 characters or more); kContainerLabel
// by "key=value" or "key"; kComposeService by "project/service" (Compose's
// labels). Other kinds follow no container.
bool selected_by(const ContainerInfo& c, TargetKind kind, std::string_view selector);
bool auto_discovered(const ContainerInfo& c, DockerAuto mode);

}  // namespace vigil::docker
