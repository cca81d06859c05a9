// config/sections.hpp: the key table of each section (private to config/).
//
// [daemon], [store], [host], [docker], [alerting], [[alertmanager]]/[[webhook]],
// [[rule]] and [target.remediate] have one table each here; a target's
// keys are in targets.hpp, a check's in probes/checks/kinds.hpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/keys.hpp"

namespace vigil::config_detail {

std::span<const Key<DaemonConfig>> daemon_keys();
std::span<const Key<StoreConfig>> store_keys();
std::span<const Key<HostConfig>> host_keys();
std::span<const Key<DockerConfig>> docker_keys();
std::span<const Key<AlertingConfig>> alerting_keys();
std::span<const Key<ReceiverConfig>> receiver_keys();
std::span<const Key<RemediateConfig>> remediate_keys();

// A [[rule]] key, and the rule kinds it applies to (empty: every kind).
struct RuleKey {
  Key<RuleConfig> key;
  std::vector<RuleKind> kinds;
  bool applies_to(RuleKind kind) const;
  std::string kinds_text() const;  // "threshold, growth"
};
std::span<const RuleKey> rule_keys();

// The section names a file may hold, and whether each is an array of tables.
struct SectionName {
  const char* name;
  bool array;  // [[name]] rather than [name]
};
std::span<const SectionName> section_names();

}  // namespace vigil::config_detail
