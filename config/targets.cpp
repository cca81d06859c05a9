#include "config/targets.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "core/text.hpp"

namespace vigil {

namespace {

void validate_unit(const TargetConfig& t, KeyProblems& p) {
  const std::string& unit = t.finder.as<UnitTarget>().unit;
  if (unit.find('.') == std::string::npos) {
    p.bad("systemd_unit", "\"" + unit + "\" is not a unit name: write it with its type, e.g. \"" + unit + ".service\"");
  }
}

// Why vigild could not run `program` now (as posix_spawnp would look it up:
// a name without a slash in vigild's own PATH), or nullopt.
std::optional<std::string> not_runnable(const std::string& program) {
  auto runnable = [](const std::string& file) -> int {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return errno;
    if (!S_ISREG(st.st_mode)) return S_ISDIR(st.st_mode) ? EISDIR : EACCES;
    return ::access(file.c_str(), X_OK) == 0 ? 0 : errno;
  };
  if (program.find('/') != std::string::npos) {
    const int err = runnable(program);
    if (err == 0) return std::nullopt;
    return "\"" + program + "\" cannot be run now: " + errno_text(err);
  }
  const char* env_path = std::getenv("PATH");
  const std::string path = env_path != nullptr ? env_path : "/usr/local/bin:/usr/bin:/bin";
  for (const auto& dir : split(path, ':')) {
    if (!dir.empty() && runnable(std::string(dir) + "/" + program) == 0) return std::nullopt;
  }
  return "\"" + program + "\" is not in vigild's PATH (" + path + ")";
}

void validate_start(const TargetConfig& t, KeyProblems& p) {
  const StartTarget& s = t.finder.as<StartTarget>();
  if (s.argv.empty()) {
    p.bad("start", "an empty command: write the program and its arguments, e.g. [\"/usr/local/bin/worker\"]");
  } else if (s.argv[0].empty()) {
    p.bad("start", "the program (the first element) is empty");
  } else if (auto why = not_runnable(s.argv[0])) {
    p.warn("start", *why + ": vigild records target_start_failed and retries until it can start it");
  }
}

// Docker's own rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
bool docker_name(std::string_view s) {
  if (s.size() < 2 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

void validate_container(const TargetConfig& t, KeyProblems& p) {
  const std::string& s = t.finder.as<ContainerTarget>().selector;
  if (!docker_name(s)) {
    p.bad("container", "\"" + s + "\" is not a container name or id (Docker's names are [a-zA-Z0-9][a-zA-Z0-9_.-]+)");
  }
}

void validate_container_label(const TargetConfig& t, KeyProblems& p) {
  const std::string& s = t.finder.as<ContainerTarget>().selector;
  const auto eq = s.find('=');
  if (eq == 0 || s.empty()) {
    p.bad("container_label", "\"" + s + "\" names no label: write \"key=value\" or \"key\"");
  } else if (std::any_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(std::min(eq, s.size())),
                         [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; })) {
    p.bad("container_label", "\"" + s + "\": a label key has no spaces");
  }
}

void validate_compose_service(const TargetConfig& t, KeyProblems& p) {
  const std::string& s = t.finder.as<ContainerTarget>().selector;
  const auto slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size() ||
      s.find('/', slash + 1) != std::string::npos) {
    p.bad("compose_service", "\"" + s + "\" is not \"project/service\" (e.g. \"shop/web\")");
  }
}

}  // namespace

std::span<const TargetKindInfo> target_kinds() {
  static const std::array<Key<KindSettings>, 1> pidfile_keys = {
      kind_key<&PidfileTarget::path>("pidfile", ValueType::kPath, 0, 0, "a file path, e.g. \"/run/gateway.pid\""),
  };
  static const std::array<Key<KindSettings>, 1> match_keys = {
      kind_key<&MatchTarget::pattern>("match", ValueType::kRegex, 0, 0,
                                      "an ECMAScript regular expression over the command line"),
  };
  static const std::array<Key<KindSettings>, 1> pid_keys = {
      kind_key<&PidTarget::pid>("pid", ValueType::kCount, 1, 4'194'304, "a process ID from 1 to 4194304"),
  };
  static const std::array<Key<KindSettings>, 1> unit_keys = {
      kind_key<&UnitTarget::unit>("systemd_unit", ValueType::kText, 0, 0, "a unit name, e.g. \"gateway.service\""),
  };
  static const std::array<Key<KindSettings>, 3> start_keys = {
      kind_key<&StartTarget::argv>("start", ValueType::kStringList, 0, 0,
                                   "a command as an array, e.g. [\"/usr/local/bin/worker\", \"--port\", \"9000\"]"),
      kind_key<&StartTarget::stop_signal>("stop_signal", ValueType::kSignal, 0, 0,
                                          "a signal name, e.g. \"SIGTERM\" (default): sent to its process group"),
      kind_key<&StartTarget::stop_timeout>("stop_timeout", ValueType::kDuration, 100, 3'600'000,
                                           "a duration from 100ms to 1h, then SIGKILL (default 10s)"),
  };
  static const std::array<Key<KindSettings>, 1> container_keys = {
      kind_key<&ContainerTarget::selector>("container", ValueType::kText, 0, 0,
                                           "a container name or id, e.g. \"shop-web-1\""),
  };
  static const std::array<Key<KindSettings>, 1> container_label_keys = {
      kind_key<&ContainerTarget::selector>("container_label", ValueType::kText, 0, 0,
                                           "a label, \"key=value\" or \"key\", e.g. \"app=gateway\""),
  };
  static const std::array<Key<KindSettings>, 1> compose_keys = {
      kind_key<&ContainerTarget::selector>("compose_service", ValueType::kText, 0, 0,
                                           "\"project/service\" of Docker Compose, e.g. \"shop/web\""),
  };
  static const std::array<TargetKindInfo, 8> kinds = {{
      {TargetKind::kPidfile, "Its main process is the PID a file holds (read every round).", pidfile_keys,
       [] { return KindSettings::of(PidfileTarget{}); }, nullptr, false, false},
      {TargetKind::kMatch,
       "Its processes are those whose command line the pattern matches; a match whose parent matches too belongs "
       "to that parent's tree.",
       match_keys, [] { return KindSettings::of(MatchTarget{}); }, nullptr, false, false},
      {TargetKind::kPid, "Its main process is this PID.", pid_keys, [] { return KindSettings::of(PidTarget{}); },
       nullptr, false, false},
      {TargetKind::kSystemdUnit,
       "A systemd unit, watched over D-Bus: MainPID, ControlGroup, ActiveState, SubState, NRestarts and its exit "
       "status; a crash is seen at once; restarted with RestartUnit.",
       unit_keys, [] { return KindSettings::of(UnitTarget{}); }, &validate_unit, true, false},
      {TargetKind::kStart,
       "vigild starts the command in its own session (stdin /dev/null, stdout and stderr appended to "
       "<state_dir>/logs/NAME.log) and is its parent; a restarted vigild adopts the process named in "
       "<state_dir>/run/NAME.pid. Stopped with stop_signal to its process group, SIGKILL after stop_timeout.",
       start_keys, [] { return KindSettings::of(StartTarget{}); }, &validate_start, true, true},
      {TargetKind::kContainer,
       "A Docker container, by name or id, watched over the engine's API ([docker]): its init process and its "
       "tree are the target's processes; its death and health are seen from the events stream at once; "
       "restarted through the engine.",
       container_keys, [] { return KindSettings::of(ContainerTarget{}); }, &validate_container, true, false, true},
      {TargetKind::kContainerLabel,
       "The running Docker container carrying the label (the most recently started one, if several do); followed "
       "when it is replaced by another with the label.",
       container_label_keys, [] { return KindSettings::of(ContainerTarget{}); }, &validate_container_label, true, false,
       true},
      {TargetKind::kComposeService,
       "The running container of a Docker Compose service (labels com.docker.compose.project and "
       "com.docker.compose.service); followed when Compose recreates it.",
       compose_keys, [] { return KindSettings::of(ContainerTarget{}); }, &validate_compose_service, true, false, true},
  }};
  static_assert(kinds.size() == kind_names<TargetKind>().size());
  return kinds;
}

const TargetKindInfo& target_kind(TargetKind kind) {
  return target_kinds()[static_cast<std::size_t>(kind)];
}

std::span<const Key<TargetConfig>> common_target_keys() {
  static const std::array<Key<TargetConfig>, 5> keys = {
      field_key<&TargetConfig::name>("name", ValueType::kName, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]"),
      field_key<&TargetConfig::cgroup>("cgroup", ValueType::kPath, 0, 0,
                                       "a cgroup path such as \"/system.slice/gateway.service\""),
      field_key<&TargetConfig::interval>("interval", ValueType::kDuration, 100, 86'400'000,
                                         "a duration from 100ms to 24h, e.g. \"1s\""),
      field_key<&TargetConfig::depends_on>("depends_on", ValueType::kStringList, 0, 0,
                                           "a list of target names, e.g. [\"postgres\"]"),
      field_key<&TargetConfig::alert>("alert", ValueType::kBool, 0, 0,
                                      "true (default) for the built-in TargetDown alert when its main process is "
                                      "missing; false for none"),
  };
  return keys;
}

bool TargetConfig::can_restart() const {
  return target_kind(kind).can_restart;
}

}  // namespace vigil
