// store/aggregate.hpp: a query's steps (vigil query --step --agg). Pure
// functions over points in time order and rollup buckets; the reader
// (store/reader.cpp) feeds them from chunks, the head and the rollup tiers.
//
// Steps are aligned to the epoch: the step of a sample at ts starts at
// floor(ts / step) * step, and each result point is (that start, the
// aggregate of the step's samples); steps without samples give no point.
// avg, min, max, sum, last and count come from the samples' summaries
// (rollup::Bucket), so a rollup tier can answer them; p50, p95 and p99 are
// nearest-rank percentiles of the step's values (NaN ranked last); rate is
// a counter's increase per second of step: each sample adds its rise over
// the sample before it (within the queried range), or its whole value
// when it fell (the counter restarted from 0), to the step it is in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/kinds.hpp"
#include "store/chunk.hpp"
#include "store/rollup.hpp"

namespace vigil::aggregate {

// Whether `agg` is computed from summaries (and so a rollup tier can
// answer it).
bool from_summaries(Aggregation agg);

// The rollup fields (rollup::Field) that one of those reads.
unsigned fields_of(Aggregation agg);

// The value of a summary for one of those.
double value_of(const rollup::Bucket& b, Aggregation agg);

// Folds samples and summaries, in time order, into steps.
class StepFolder {
 public:
  explicit StepFolder(std::int64_t step) : step_(step) {}
  void add(const chunk::Point& p);
  // A summary of a bucket that lies within one step (its start aligned to
  // a step that divides this one).
  void add(const rollup::Bucket& b);
  // One point per step with samples, for a from_summaries() aggregation.
  std::vector<chunk::Point> finish(Aggregation agg) const;
  void finish(Aggregation agg, std::vector<chunk::Point>& out) const;
  // Empty again, keeping its memory (the next series).
  void clear() { steps_.clear(); }

 private:
  rollup::Bucket& step_of(std::int64_t ts);
  std::int64_t step_;
  std::vector<rollup::Bucket> steps_;
};

// The steps of `points` (in time order) under any aggregation.
std::vector<chunk::Point> steps(std::span<const chunk::Point> points, std::int64_t step, Aggregation agg);

}  // namespace vigil::aggregate
