// alerting/alert_state.hpp: one alert's life, as a pure function.
//
//   inactive --active--> pending --active for `for`--> firing --inactive--> resolved
//   pending --inactive--> inactive (never notified)
//   resolved --active--> pending (or firing at once when `for` is 0)
//
// `for` = 0 goes from inactive straight to firing. The caller evaluates the
// rule's condition (alerting/rules.hpp) and passes whether it holds and the
// time; what to notify follows from the transition returned: firing and
// resolved are sent to the receivers, pending is not. The state is plain
// data so that the store can keep it across restarts: a restarted vigild
// neither forgets a firing alert nor fires a resolved one again.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/kinds.hpp"
#include "core/time.hpp"

namespace vigil {

struct AlertStatus {
  AlertPhase phase = AlertPhase::kInactive;
  WallMs active_since_ms = 0;  // when the condition last started to hold (pending's start)
  WallMs fired_ms = 0;         // when it last went firing (startsAt)
  WallMs resolved_ms = 0;      // when it last resolved (endsAt)
  WallMs last_sent_ms = 0;     // for re-sending firing alerts every resend_interval
};

struct AlertTransition {
  AlertPhase from = AlertPhase::kInactive;
  AlertPhase to = AlertPhase::kInactive;
  // firing or resolved: the receivers must hear of it.
  bool notify() const { return to == AlertPhase::kFiring || to == AlertPhase::kResolved; }
};

// Applies one evaluation of the condition at `now`. Returns the change, or
// nullopt when the phase stays the same.
std::optional<AlertTransition> step(AlertStatus& status, bool active, Millis for_duration, WallMs now);

// A firing alert is sent again every resend_interval (Alertmanager forgets
// an alert whose endsAt passed): true when it is due at `now`.
bool resend_due(const AlertStatus& status, Millis resend_interval, WallMs now);

// endsAt while firing: now + 4 x resend_interval, as Prometheus does, so an
// alert expires by itself if vigild dies; once resolved, the real end.
WallMs ends_at(const AlertStatus& status, Millis resend_interval, WallMs now);

}  // namespace vigil
