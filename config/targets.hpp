// config/targets.hpp: the one table of target kinds.
//
// A target is found one of several ways, each a kind: by pidfile, by a
// pattern over command lines, by PID, as a systemd unit, or as a process
// vigild starts itself. Each row holds the kind's keys (the first one is the
// key whose presence selects the kind), the settings struct they fill, and
// the checks beyond one key's range. The config loader and --help read it;
// heal/targets.cpp makes each kind's finder and service controller from the
// settings (a switch over TargetKind, so that the compiler names a kind it
// forgot). A new kind is its name in core/kinds.hpp, a row here, and its
// case there.
#pragma once

#include <signal.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/keys.hpp"
#include "core/kinds.hpp"
#include "core/result.hpp"

namespace vigil {

struct PidfileTarget {
  std::string path;  // holds the main PID
  bool operator==(const PidfileTarget&) const = default;
};
struct MatchTarget {
  std::string pattern;  // ECMAScript regex over the command line
  bool operator==(const MatchTarget&) const = default;
};
struct PidTarget {
  int pid = 0;
  bool operator==(const PidTarget&) const = default;
};
struct UnitTarget {
  std::string unit;  // "gateway.service": found and restarted over D-Bus
  bool operator==(const UnitTarget&) const = default;
};
struct StartTarget {
  std::vector<std::string> argv;  // vigild starts it and is its parent
  int stop_signal = SIGTERM;      // how it is asked to stop
  Millis stop_timeout{10'000};    // then SIGKILL
  bool operator==(const StartTarget&) const = default;
};

// container, container_label, compose_service: which Docker container
// (probes/docker/ watches the engine; heal/container.cpp finds it).
struct ContainerTarget {
  std::string selector;  // "web-1" or an id; "key=value" or "key"; "project/service"
  bool operator==(const ContainerTarget&) const = default;
};

struct TargetKindInfo {
  TargetKind kind;
  std::string_view summary;  // for --help and the man page
  // The kind's keys; keys[0] selects the kind (pidfile, match, pid,
  // systemd_unit, start).
  std::span<const Key<KindSettings>> keys;
  KindSettings (*defaults)();
  void (*validate)(const TargetConfig& target, KeyProblems& problems);  // nullptr: nothing beyond the keys
  bool can_restart;                                                     // vigild can restart it
  bool started_by_vigild;                                               // its crashes trigger remediation by default
  // A Docker container: it gets a docker_health check, and its crashes
  // trigger remediation by default unless Docker's restart policy restarts it.
  bool container = false;
};

// In TargetKind order.
std::span<const TargetKindInfo> target_kinds();
const TargetKindInfo& target_kind(TargetKind kind);
// The keys every target has: name, cgroup, interval, depends_on.
std::span<const Key<TargetConfig>> common_target_keys();

// The docker_health check every container target has unless it names one
// (config/validate.cpp): run on the engine's events, scheduled every 30 s
// or the target's interval if longer.
CheckConfig docker_health_check(const Config& cfg, const TargetConfig& target);
// [docker] auto: the target watching a running container found while
// vigild runs, named after it (`container = "<name>"`, the daemon's
// interval); an error when its name cannot be a target's or a configured
// target has it.
Result<TargetConfig> discovered_container_target(const Config& cfg, const std::string& container);

}  // namespace vigil
