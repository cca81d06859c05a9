// probes/checks/prom_text.hpp: the Prometheus text exposition format (version 0.0.4),
// parsed for the `prometheus` check kind.
//
// The check scrapes a service's own /metrics and keeps only the metrics its
// allow-list names. parse_exposition() is pure and bounded: it reads a
// string_view, allocates only for the samples it keeps, and refuses input
// past the limits (samples kept, bytes per line, labels per sample) instead
// of growing without end. The whole exposition is validated, kept or not, and
// the first malformed line fails the scrape with "line N: what was expected":
// like Prometheus, a scrape is all or nothing, so a service that emits a
// broken line never gets a partial, silently inconsistent set of series.
// Kept samples carry the labels of the line (sorted by name, as Labels
// requires), never a target or check label: the daemon adds those.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/sample.hpp"

namespace vigil {

struct ScrapedSample {
  std::string name;
  Labels labels;  // sorted by name, names unique, label value escapes resolved
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;  // as exposed; absent on most lines
};

struct ScrapeLimits {
  std::size_t max_samples = 10000;         // kept samples; more fails the scrape
  std::size_t max_line_bytes = 64 * 1024;  // without the '\n' (a '\r' before it counts)
  std::size_t max_labels = 64;             // per sample line
};

struct ScrapeResult {
  std::vector<ScrapedSample> samples;  // the kept ones only, in exposition order
  std::size_t lines = 0;               // every line read, comments and blank ones included
  std::size_t samples_seen = 0;        // sample lines, kept or not
  std::size_t samples_kept = 0;        // == samples.size()
};

// Parses a whole exposition. `allow` holds metric names or glob_match()
// patterns ("http_requests_total", "process_*"). A sample is kept when its
// name matches an entry, or when its family name does: the name without a
// _bucket/_sum/_count/_created suffix of a family declared histogram or
// summary by an earlier `# TYPE` line, or without a _total/_created suffix of
// a family declared counter. An empty allow-list keeps nothing (the
// exposition is still validated and counted). Every failure is
// ErrorKind::kParse, with a message that starts with "line N: " for a line.
Result<ScrapeResult> parse_exposition(std::string_view text, const std::vector<std::string>& allow,
                                      const ScrapeLimits& limits = {});

}  // namespace vigil
