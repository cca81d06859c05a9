#include "alerting/alert_state.hpp"

namespace vigil {

std::optional<AlertTransition> step(AlertStatus& s, bool active, Millis for_duration, WallMs now) {
  const AlertPhase from = s.phase;
  auto go = [&](AlertPhase to) -> std::optional<AlertTransition> {
    s.phase = to;
    if (to == AlertPhase::kFiring) s.fired_ms = now;
    if (to == AlertPhase::kResolved) s.resolved_ms = now;
    return AlertTransition{from, to};
  };
  switch (s.phase) {
    case AlertPhase::kInactive:
    case AlertPhase::kResolved:
      if (!active) return std::nullopt;
      s.active_since_ms = now;
      return go(for_duration.count() <= 0 ? AlertPhase::kFiring : AlertPhase::kPending);
    case AlertPhase::kPending:
      if (!active) return go(AlertPhase::kInactive);
      if (now - s.active_since_ms >= for_duration.count()) return go(AlertPhase::kFiring);
      return std::nullopt;
    case AlertPhase::kFiring:
      if (active) return std::nullopt;
      return go(AlertPhase::kResolved);
  }
  return std::nullopt;
}

bool resend_due(const AlertStatus& s, Millis resend_interval, WallMs now) {
  return s.phase == AlertPhase::kFiring && now - s.last_sent_ms >= resend_interval.count();
}

WallMs ends_at(const AlertStatus& s, Millis resend_interval, WallMs now) {
  if (s.phase == AlertPhase::kResolved) return s.resolved_ms;
  return now + 4 * resend_interval.count();
}

}  // namespace vigil
