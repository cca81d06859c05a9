#include "core/kinds.hpp"

namespace vigil {

// Each names table must list every value of its enum, in order.
static_assert(KindNames<CheckKind>::names.size() == static_cast<std::size_t>(CheckKind::kDockerHealth) + 1);
static_assert(KindNames<CheckState>::names.size() == static_cast<std::size_t>(CheckState::kRecovering) + 1);
static_assert(KindNames<TargetKind>::names.size() == static_cast<std::size_t>(TargetKind::kComposeService) + 1);
static_assert(KindNames<ActionKind>::names.size() == static_cast<std::size_t>(ActionKind::kHttp) + 1);
static_assert(KindNames<ActionStatus>::names.size() == static_cast<std::size_t>(ActionStatus::kSkipped) + 1);
static_assert(KindNames<RootCause>::names.size() == static_cast<std::size_t>(RootCause::kStartFailed) + 1);
static_assert(KindNames<TriggerKind>::names.size() == static_cast<std::size_t>(TriggerKind::kRule) + 1);
static_assert(KindNames<AlertPhase>::names.size() == static_cast<std::size_t>(AlertPhase::kResolved) + 1);
static_assert(KindNames<RuleKind>::names.size() == static_cast<std::size_t>(RuleKind::kAbsence) + 1);
static_assert(KindNames<ReceiverKind>::names.size() == static_cast<std::size_t>(ReceiverKind::kWebhook) + 1);
static_assert(KindNames<Comparison>::names.size() == static_cast<std::size_t>(Comparison::kNe) + 1);
static_assert(KindNames<Severity>::names.size() == static_cast<std::size_t>(Severity::kCritical) + 1);
static_assert(KindNames<EventKind>::names.size() == static_cast<std::size_t>(EventKind::kStoreTrimmed) + 1);
static_assert(check_event_kind(CheckState::kRecovering) == EventKind::kCheckRecovering);
static_assert(check_event_kind(CheckState::kUnknown) == EventKind::kCheckUnknown);

std::string Trigger::text() const {
  if (kind == TriggerKind::kCrash) return std::string(to_string(kind));
  return std::string(to_string(kind)) + ":" + name;
}

std::optional<Trigger> Trigger::parse(std::string_view text) {
  if (text == to_string(TriggerKind::kCrash)) return Trigger{TriggerKind::kCrash, {}};
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return std::nullopt;
  auto kind = parse_kind<TriggerKind>(text.substr(0, colon));
  if (!kind || *kind == TriggerKind::kCrash) return std::nullopt;
  return Trigger{*kind, std::string(text.substr(colon + 1))};
}

}  // namespace vigil
