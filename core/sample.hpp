// core/sample.hpp: what probes produce and the store keeps.
//
// A series is a metric name plus a sorted label set, named the Prometheus way
// (snake_case, base units, `_total` for counters). A sample is one value of a
// series at a wall-clock time in milliseconds. Events are the discrete
// things that happened (core/kinds.hpp lists their kinds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/kinds.hpp"
#include "core/result.hpp"
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

struct Event {
  WallMs ts_ms = 0;
  EventKind kind = EventKind::kUnknown;
  std::string target;
  std::string check;
  Severity severity = Severity::kInfo;
  std::string message;  // for people
  std::string details;  // a JSON object as text, "" when none
};

}  // namespace vigil
