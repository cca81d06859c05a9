// cli/current.hpp: what is current and what is history. `vigil` reads a
// store that outlives vigild's runs: while vigild runs its newest values are
// the present; after it stopped they are the state as of its last sample, and
// targets and checks a later configuration no longer names are history.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "cli/options.hpp"

namespace vigil::cli {

struct Current {
  std::string db_path;
  std::optional<int> pid;            // vigild's, while it runs
  std::optional<Event> last_daemon;  // the newest daemon_start or daemon_stop
  std::optional<WallMs> started_ms;  // the newest daemon_start
  std::optional<WallMs> last_sample;
  // What the newest daemon_start named as configured; nullopt when the store
  // does not say (written by a vigild from before it recorded them).
  std::optional<std::set<std::string>> targets;
  std::optional<std::set<std::pair<std::string, std::string>>> checks;  // (target, check)

  bool running() const { return pid.has_value(); }
  bool target_removed(const std::string& target) const;
  bool check_removed(const std::string& target, const std::string& check) const;
  // "" while vigild runs; else one line that says vigild is not running
  // and `what` is as of its last sample ("vigild is not running: alert
  // states as of its last sample, 2026-... (5m ago)").
  std::string stale_header(const std::string& what, WallMs now) const;
};

// vigild holds a write lock on <state_dir>/vigild.pid while it runs;
// F_GETLK names the holder without taking the lock.
std::optional<int> running_pid(const std::string& state_dir);

// The state directory is the one the newest daemon_start recorded (the
// store may live elsewhere, [store] path), else the store's own directory.
Current read_current(StoreReader& store, const std::string& db_path);

}  // namespace vigil::cli
