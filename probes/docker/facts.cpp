#include "probes/docker/facts.hpp"

#include <nlohmann/json.hpp>

#include "core/text.hpp"

namespace vigil::docker {

namespace {

// Docker's words when it ended a health check at its timeout (the entry's
// exit code is -1 then).
constexpr std::string_view kHealthTimeout = "Health check exceeded timeout";

std::string last_output(const ContainerInfo& c) {
  if (!c.last_health) return {};
  std::string out = c.last_health->output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.pop_back();
  if (out.empty()) return "exit code " + std::to_string(c.last_health->exit_code) + ", no output";
  return "exit code " + std::to_string(c.last_health->exit_code) + ": " + printable_excerpt(out, 300);
}

}  // namespace

std::string describe_state(const ContainerInfo& c) {
  std::string s(to_string(c.state));
  if (c.state == ContainerState::kExited || c.state == ContainerState::kDead) {
    s += " (exit code " + std::to_string(c.exit_code) + (c.oom_killed ? ", killed for memory" : "") + ")";
  }
  return s;
}

HealthVerdict judge_health(const ContainerInfo& c) {
  HealthVerdict v;
  if (c.state != ContainerState::kRunning) {
    v.reason = "container " + c.name + " is " + describe_state(c);
    return v;
  }
  switch (c.health) {
    case HealthStatus::kNone:
      v.ok = true;
      v.reason = "running; it has no HEALTHCHECK";
      return v;
    case HealthStatus::kStarting:
      v.ok = true;
      v.reason = "health: starting";
      return v;
    case HealthStatus::kHealthy:
      v.ok = true;
      v.reason = "health: healthy";
      return v;
    case HealthStatus::kUnhealthy:
      break;
  }
  v.reason = "unhealthy (" + std::to_string(c.failing_streak) +
             (c.failing_streak == 1 ? " failed health check" : " failed health checks in a row") + ")";
  if (const std::string out = last_output(c); !out.empty()) v.reason += "; last: " + out;
  v.timed_out = c.last_health && c.last_health->exit_code == -1 &&
                std::string_view(c.last_health->output).substr(0, kHealthTimeout.size()) == kHealthTimeout;
  return v;
}

std::optional<std::string> restart_hold(const ContainerInfo& c, WallMs now) {
  if (c.state == ContainerState::kRestarting) return "Docker is restarting it";
  if (c.state == ContainerState::kRemoving) return "Docker is removing it";
  if (c.state == ContainerState::kRunning && c.health == HealthStatus::kStarting && c.started_at &&
      c.health_start_period.count() > 0 && now < *c.started_at + c.health_start_period.count()) {
    return "its health check's start period runs until " +
           format_rfc3339_ms(*c.started_at + c.health_start_period.count());
  }
  return std::nullopt;
}

std::optional<std::string> restarted_by_docker(const ContainerInfo& c) {
  const bool stopped = c.state == ContainerState::kExited || c.state == ContainerState::kRestarting;
  if (!stopped) return std::nullopt;
  const std::string policy(to_string(c.restart_policy));
  switch (c.restart_policy) {
    case RestartPolicy::kNo:
      return std::nullopt;
    case RestartPolicy::kAlways:
    case RestartPolicy::kUnlessStopped:
      return "Docker restarts it (restart policy " + policy + ")";
    case RestartPolicy::kOnFailure:
      if (c.state == ContainerState::kExited && c.exit_code == 0) return std::nullopt;
      if (c.restart_max_retries > 0 && c.restart_count >= c.restart_max_retries) return std::nullopt;
      return "Docker restarts it (restart policy on-failure, " + std::to_string(c.restart_count) + " of " +
             (c.restart_max_retries > 0 ? std::to_string(c.restart_max_retries) : std::string("unlimited")) +
             " restarts)";
  }
  return std::nullopt;
}

ExitFacts exit_facts(const ContainerInfo& c) {
  ExitFacts f;
  f.oom_killed = c.oom_killed;
  // A shell's convention, which Docker follows: 128 + the signal's number.
  if (c.exit_code > 128 && c.exit_code <= 128 + 64) {
    f.signal = c.exit_code - 128;
  } else {
    f.code = c.exit_code;
  }
  return f;
}

std::optional<Event> container_event(const ContainerEvent& e, const ContainerInfo* now, WallMs at) {
  const std::string name = now != nullptr ? now->name : (e.name.empty() ? e.id.substr(0, 12) : e.name);
  const std::string who = "container " + name;
  Event out;
  out.ts_ms = at;
  nlohmann::json d;
  d["container"] = e.id;
  d["name"] = name;
  d["action"] = std::string(to_string(e.action));
  if (e.time_nano > 0) d["time_ms"] = e.time_nano / 1'000'000;  // when the engine saw it
  if (now != nullptr) {
    d["image"] = now->image;
    d["state"] = std::string(to_string(now->state));
    d["restart_count"] = now->restart_count;
  }
  switch (e.action) {
    case EventAction::kStart:
      out.kind = EventKind::kContainerStarted;
      out.message = who + " started";
      break;
    case EventAction::kDie: {
      out.kind = EventKind::kContainerDied;
      const int code = e.exit_code.value_or(now != nullptr ? now->exit_code : 0);
      const bool oom = now != nullptr && now->oom_killed;
      out.severity = code == 0 && !oom ? Severity::kWarning : Severity::kCritical;
      out.message = who + " died (exit code " + std::to_string(code) + (oom ? ", killed for memory" : "") + ")";
      d["exit_code"] = code;
      d["oom_killed"] = oom;
      break;
    }
    case EventAction::kOom:
      out.kind = EventKind::kContainerOom;
      out.severity = Severity::kCritical;
      out.message = who + ": the OOM killer killed a process in it";
      break;
    case EventAction::kHealthStatus: {
      out.kind = EventKind::kContainerHealth;
      d["health"] = std::string(to_string(e.health));
      out.message = who + " is " + std::string(to_string(e.health));
      if (e.health == HealthStatus::kUnhealthy) {
        out.severity = Severity::kCritical;
        if (now != nullptr) {
          const HealthVerdict v = judge_health(*now);
          out.message = who + " is " + v.reason;
        }
      }
      if (now != nullptr && now->last_health) {
        d["output"] = now->last_health->output;
        d["health_exit_code"] = now->last_health->exit_code;
      }
      break;
    }
    case EventAction::kRestart:
      out.kind = EventKind::kContainerRestarted;
      out.severity = Severity::kWarning;
      out.message = who + " was restarted" +
                    (now != nullptr ? " (restart count " + std::to_string(now->restart_count) + ")" : std::string());
      break;
    case EventAction::kPause:
      out.kind = EventKind::kContainerPaused;
      out.severity = Severity::kWarning;
      out.message = who + " was paused";
      break;
    case EventAction::kUnpause:
      out.kind = EventKind::kContainerUnpaused;
      out.message = who + " was unpaused";
      break;
    case EventAction::kDestroy:
      out.kind = EventKind::kContainerDestroyed;
      out.severity = Severity::kWarning;
      out.message = who + " was removed";
      break;
    case EventAction::kCreate:
    case EventAction::kKill:
    case EventAction::kStop:
    case EventAction::kRename:
      return std::nullopt;
  }
  out.details = d.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

void append_container_samples(const ContainerInfo& c, const std::string& target, WallMs now, Collection& out) {
  const Labels labels = {{"target", target}};
  out.add("container_running", labels, c.state == ContainerState::kRunning ? 1 : 0, now);
  out.add("container_restart_count", labels, c.restart_count, now);
  out.add("container_exit_code", labels, c.exit_code, now);
  out.add("container_oom_killed", labels, c.oom_killed ? 1 : 0, now);
  if (c.has_healthcheck) {
    out.add("container_healthy", labels, c.health == HealthStatus::kHealthy ? 1 : 0, now);
    out.add("container_health_failing_streak", labels, c.failing_streak, now);
  }
}

namespace {

std::optional<std::string_view> label_of(const ContainerInfo& c, std::string_view key) {
  for (const auto& [k, v] : c.labels) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

}  // namespace

bool selected_by(const ContainerInfo& c, TargetKind kind, std::string_view selector) {
  switch (kind) {
    case TargetKind::kContainer:
      return c.name == selector || c.id == selector || (selector.size() >= 12 && c.id.rfind(selector, 0) == 0);
    case TargetKind::kContainerLabel: {
      const auto eq = selector.find('=');
      const auto value = label_of(c, selector.substr(0, eq));
      return value && (eq == std::string_view::npos || *value == selector.substr(eq + 1));
    }
    case TargetKind::kComposeService: {
      const auto slash = selector.find('/');
      if (slash == std::string_view::npos) return false;
      return label_of(c, "com.docker.compose.project") == selector.substr(0, slash) &&
             label_of(c, "com.docker.compose.service") == selector.substr(slash + 1);
    }
    default:
      return false;
  }
}

bool auto_discovered(const ContainerInfo& c, DockerAuto mode) {
  if (mode == DockerAuto::kOff || c.state != ContainerState::kRunning) return false;
  const auto label = label_of(c, kAutoLabel);
  if (mode == DockerAuto::kAll) return label != "false";
  return label == "true";
}

}  // namespace vigil::docker
