// core/sample.hpp: what probes produce and the store keeps.
//
// A series is a metric name plus a sorted label set, named the Prometheus way
// (snake_case, base units, `_total` for counters). A sample is one value of a
// series at a wall-clock time in milliseconds. Events are the discrete
// things that happened (daemon start/stop, a target's process restarted).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.hpp"

namespace vigil {

using Label = std::pair<std::string, std::string>;
using Labels = std::vector<Label>;  // kept sorted by name, names unique

struct SeriesKey {
  std::string metric;
  Labels labels;

  SeriesKey() = default;
  SeriesKey(std::string metric_name, Labels label_set);

  // `metric{a="1",b="x"}` with Prometheus text-format escaping of values;
  // just `metric` without labels. Equal keys give equal strings.
  std::string canonical() const;
  // Only the `{...}` part ("" without labels), as stored in series.labels.
  std::string labels_text() const;

  bool operator==(const SeriesKey&) const = default;
};

// Parses the `{a="1",b="x"}` text back; used by readers of the store.
Result<Labels> parse_labels_text(std::string_view text);

struct Sample {
  SeriesKey key;
  WallMs ts_ms = 0;
  double value = 0;
};

// Stored as text in events.severity; the order is meaningful for filtering.
enum class Severity { kInfo, kWarning, kCritical };
const char* to_string(Severity s);

struct Event {
  WallMs ts_ms = 0;
  std::string kind;  // snake_case: daemon_start, daemon_stop, target_restarted, ...
  std::string target;
  std::string check;
  Severity severity = Severity::kInfo;
  std::string message;  // for people
  std::string details;  // a JSON object as text, "" when none
};

// Event kinds recorded by the spine. Stored as text: never rename one.
namespace event_kind {
inline constexpr std::string_view kDaemonStart = "daemon_start";
inline constexpr std::string_view kDaemonStop = "daemon_stop";
inline constexpr std::string_view kStoreRecovered = "store_recovered";
inline constexpr std::string_view kSamplesDropped = "samples_dropped";
inline constexpr std::string_view kTargetAppeared = "target_appeared";
inline constexpr std::string_view kTargetRestarted = "target_restarted";
inline constexpr std::string_view kTargetVanished = "target_vanished";
}  // namespace event_kind

}  // namespace vigil
