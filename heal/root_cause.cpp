#include "heal/root_cause.hpp"

#include <signal.h>
#include <string.h>

#include <cmath>
#include <cstdio>

#include "core/text.hpp"

namespace vigil {

namespace {

constexpr double kNearLimit = 0.95;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

// A limit that means something: cgroups report "no limit" as a huge number.
bool real_limit(const std::optional<double>& limit) {
  return limit && std::isfinite(*limit) && *limit > 0 && *limit < 9.0e18;
}

bool near(const std::optional<double>& value, const std::optional<double>& limit) {
  return value && real_limit(limit) && *value >= kNearLimit * *limit;
}

}  // namespace

Classification classify_root_cause(const Evidence& e) {
  // Nothing ran, so nothing else can be the cause.
  if (!e.start_error.empty()) return {RootCause::kStartFailed, "could not be started: " + e.start_error};
  if (!e.dependencies_down.empty()) {
    std::string names;
    for (const auto& d : e.dependencies_down) names += (names.empty() ? "" : ", ") + d;
    return {RootCause::kDependencyDown,
            "depends on " + names + ", which " + (e.dependencies_down.size() == 1 ? "was" : "were") + " failed"};
  }
  const bool oom_counter_rose = e.oom_kills_before && e.oom_kills_after && *e.oom_kills_after > *e.oom_kills_before;
  const bool killed_at_limit = e.exit_signal == SIGKILL && near(e.memory_bytes, e.memory_limit_bytes);
  if (oom_counter_rose || e.oom_reported || killed_at_limit) {
    std::string s = "killed by the OOM killer (";
    if (oom_counter_rose) {
      s += "oom_kill " + number(*e.oom_kills_before) + " -> " + number(*e.oom_kills_after);
    } else if (e.oom_reported) {
      s += "Docker: OOMKilled";
    } else {
      s += "SIGKILL";
    }
    if (e.memory_bytes && real_limit(e.memory_limit_bytes)) {
      s += ", memory " + mib(*e.memory_bytes) + " of " + mib(*e.memory_limit_bytes);
    }
    return {RootCause::kOomKilled, s + ")"};
  }
  if (!e.process_alive && (e.exit_code || e.exit_signal)) {
    return {RootCause::kCrashed, e.exit_signal ? "killed by " + signal_name(*e.exit_signal)
                                               : "exited with code " + std::to_string(*e.exit_code)};
  }
  if (!e.process_alive) return {RootCause::kCrashed, "the process is gone (exit status unknown)"};
  if (near(e.open_fds, e.max_fds)) {
    return {RootCause::kResourceExhausted, "open fds " + number(*e.open_fds) + " of " + number(*e.max_fds)};
  }
  if (near(e.threads, e.max_threads)) {
    return {RootCause::kResourceExhausted, "threads " + number(*e.threads) + " of " + number(*e.max_threads)};
  }
  if (near(e.memory_bytes, e.memory_limit_bytes)) {
    return {RootCause::kResourceExhausted,
            "memory " + mib(*e.memory_bytes) + " of its limit " + mib(*e.memory_limit_bytes)};
  }
  if (e.check_timed_out) {
    std::string s = "alive but not answering (" + e.check_reason + ")";
    if (e.process_stopped) {
      s += "; stopped (state T: SIGSTOP or a debugger), so it could not answer";
    } else if (e.cpu_percent) {
      s += *e.cpu_percent >= 90 ? "; spinning at " + number(*e.cpu_percent) + " % CPU"
                                : "; idle at " + number(*e.cpu_percent) + " % CPU (blocked or deadlocked)";
    }
    return {RootCause::kHung, s};
  }
  return {RootCause::kUnknown, e.check_reason.empty() ? "no evidence points to a cause" : e.check_reason};
}

}  // namespace vigil
