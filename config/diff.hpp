// config/diff.hpp: what a new config changes, entry by entry (for reload).
//
// A pure function of two validated configs. Targets are matched by name,
// checks by target and name ("web/health"), rules and receivers by name;
// each is added, removed, changed (any setting differs) or unchanged.
// Where a value was written (file, line) is not part of it: a check moved
// to another line or file is unchanged.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace vigil {

enum class Change { kAdded, kRemoved, kChanged, kUnchanged };
const char* to_string(Change c);

struct EntryChange {
  std::string name;  // the target, rule or receiver name; "target/check" or "check" for checks
  Change change;
  bool operator==(const EntryChange&) const = default;
};

struct ConfigDiff {
  // In the new config's order, then the removed ones in the old config's.
  std::vector<EntryChange> targets, checks, rules, receivers;
  // The single sections ([daemon], [store], [host], [docker], [alerting]).
  bool daemon = false, store = false, host = false, docker = false, alerting = false;

  // The names with this change, in order.
  static std::vector<std::string> names(const std::vector<EntryChange>& entries, Change change);
  // Nothing differs.
  bool empty() const;
};

ConfigDiff diff(const Config& before, const Config& after);

}  // namespace vigil
