// store/rollup.hpp: the rollup tiers (issue 15): each series' samples
// summarised per minute and per hour (count, min, max, sum, last), so that a
// query with a step of minutes or hours reads a few summaries instead of
// every sample. Pure functions; compaction writes the summaries of a window
// in the transaction that writes its chunk (store/compaction.hpp), the
// reader merges them (store/aggregate.hpp).
//
// A tier is kept in a store when its step divides the store's chunk span
// (1 min and 1 h with the default span of 1 h). Its rows (table rollups:
// series_id, step_ms, row_start, data) hold the buckets of row_span(): one
// chunk window for the 1 min tier (60 buckets), one day for the 1 h tier
// (24 buckets, each written when its hour's chunk is).
//
// Format of a row's data, version 1 (a change of any bit is a new version
// byte):
//
//   byte 0        version, 1
//   five times    varint length (LEB128, as store/chunk.hpp's), then that
//                 many bytes: a store/chunk.hpp chunk whose timestamps are
//                 the buckets' starts (ascending, the same in all five) and
//                 whose values are, in this order, the buckets' counts,
//                 minimums, maximums, sums and last values
//
// The decoder refuses an unknown version, chunks that disagree on the
// buckets, starts not strictly ascending, a count that is not a whole
// number of at least 1, and bytes after the fifth chunk.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/result.hpp"
#include "store/chunk.hpp"

namespace vigil::rollup {

inline constexpr std::uint8_t kVersion = 1;

// The tiers' steps, finest first.
inline constexpr std::array<std::int64_t, 2> kTierSteps = {60'000, 3'600'000};

// The summary of the samples of one bucket [start, start + step). min and
// max skip NaN (fmin/fmax) unless every value is NaN; sum and last do not.
struct Bucket {
  std::int64_t start = 0;
  std::uint64_t count = 0;
  double min = 0, max = 0, sum = 0, last = 0;

  // One more sample, newer than those added.
  void add(double v);
  // The summary of newer samples of the same bucket (or of a bucket inside
  // this one, for a coarser step).
  void merge(const Bucket& newer);
};

// The span of the rows of the tier of `step` in a store whose chunk span is
// `span`: 0 when the tier is not kept (its step does not divide the span);
// the span itself when a window holds 24 buckets or more; else a day when a
// day is a whole number of windows; else the span.
std::int64_t row_span(std::int64_t step, std::int64_t span);

// The buckets of `step` of points in time order (empty buckets left out).
std::vector<Bucket> summarise(std::span<const chunk::Point> points, std::int64_t step);

std::vector<std::uint8_t> encode(std::span<const Bucket> buckets);

// The fields of a row, for decode(): the counts (and the buckets' starts)
// are always read.
enum Field : unsigned { kMin = 1, kMax = 2, kSum = 4, kLast = 8, kAllFields = 15 };

// A kParse error "rollup: WHAT (byte N)" for what encode() never writes.
// Fields left out of `fields` are skipped unread (their chunks' lengths
// only), and 0 in the buckets: a query reads the one or two it needs.
Result<std::vector<Bucket>> decode(std::span<const std::uint8_t> bytes, unsigned fields = kAllFields);

}  // namespace vigil::rollup
