#include "watchdog/targets.hpp"

#include <algorithm>
#include <unordered_set>

#include "core/sample.hpp"

namespace vigil {

TargetTransition classify_transition(const std::optional<TargetObservation>& previous,
                                     const TargetObservation& current) {
  const bool was_present = previous && previous->present;
  if (!was_present) return current.present ? TargetTransition::kAppeared : TargetTransition::kNone;
  if (!current.present) return TargetTransition::kVanished;
  if (previous->main_pid != current.main_pid || previous->main_start_ms != current.main_start_ms) {
    return TargetTransition::kRestarted;
  }
  return TargetTransition::kNone;
}

std::string_view event_kind_of(TargetTransition t) {
  switch (t) {
    case TargetTransition::kAppeared: return event_kind::kTargetAppeared;
    case TargetTransition::kRestarted: return event_kind::kTargetRestarted;
    case TargetTransition::kVanished: return event_kind::kTargetVanished;
    case TargetTransition::kNone: break;
  }
  return {};
}

std::vector<int> roots_of(const ProcessTable& table, const std::vector<int>& matched) {
  std::unordered_set<int> set(matched.begin(), matched.end());
  std::vector<int> roots;
  for (int pid : matched) {
    const ProcessEntry* e = table.find(pid);
    if (e == nullptr) continue;
    if (!set.count(e->stat.ppid)) roots.push_back(pid);
  }
  std::sort(roots.begin(), roots.end(), [&](int a, int b) {
    auto sa = table.find(a)->stat.starttime_ticks, sb = table.find(b)->stat.starttime_ticks;
    return sa != sb ? sa < sb : a < b;
  });
  return roots;
}

}  // namespace vigil
