// probes/probe.hpp: the contract every probe follows.
//
// A probe reads one part of the world (a procfs root, a cgroup root) and
// returns values; it never logs, never writes the store, never sleeps. Every
// reader takes its root directory as a parameter ("/proc" in production,
// tests/fixtures/... in tests). A process or cgroup that vanishes mid-read is
// absent, not an error (ENOENT, ESRCH, ENODEV). "Not available on this host"
// (no PSI, no io accounting) is ErrorKind::kNotAvailable, distinct from a
// failure.
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/sample.hpp"

namespace vigil {

// What one collect call returns: the samples, plus the partial failures
// that did not stop the rest (one unreadable file among many). The caller
// logs the warnings and counts them; a probe never logs.
struct Collection {
  std::vector<Sample> samples;
  std::vector<Error> warnings;

  void add(std::string metric, Labels labels, double value, WallMs ts) {
    samples.push_back(Sample{SeriesKey(std::move(metric), std::move(labels)), ts, value});
  }
};

}  // namespace vigil
