#include "store/aggregate.hpp"

#include <algorithm>
#include <cmath>

namespace vigil::aggregate {

namespace {

double percentile(std::vector<double>& values, double p) {
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
    return a < b;
  });
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

}  // namespace

bool from_summaries(Aggregation agg) {
  switch (agg) {
    case Aggregation::kAvg:
    case Aggregation::kMin:
    case Aggregation::kMax:
    case Aggregation::kSum:
    case Aggregation::kLast:
    case Aggregation::kCount: return true;
    case Aggregation::kP50:
    case Aggregation::kP95:
    case Aggregation::kP99:
    case Aggregation::kRate: return false;
  }
  return false;
}

unsigned fields_of(Aggregation agg) {
  switch (agg) {
    case Aggregation::kAvg:
    case Aggregation::kSum: return rollup::kSum;
    case Aggregation::kMin: return rollup::kMin;
    case Aggregation::kMax: return rollup::kMax;
    case Aggregation::kLast: return rollup::kLast;
    case Aggregation::kCount: return 0;
    default: return rollup::kAllFields;
  }
}

double value_of(const rollup::Bucket& b, Aggregation agg) {
  switch (agg) {
    case Aggregation::kAvg: return b.sum / static_cast<double>(b.count);
    case Aggregation::kMin: return b.min;
    case Aggregation::kMax: return b.max;
    case Aggregation::kSum: return b.sum;
    case Aggregation::kLast: return b.last;
    case Aggregation::kCount: return static_cast<double>(b.count);
    default: return std::nan("");
  }
}

rollup::Bucket& StepFolder::step_of(std::int64_t ts) {
  if (!steps_.empty() && ts >= steps_.back().start && ts - steps_.back().start < step_) return steps_.back();
  const std::int64_t start = chunk::window_of(ts, step_);
  if (steps_.empty() || steps_.back().start != start) steps_.push_back(rollup::Bucket{start, 0, 0, 0, 0, 0});
  return steps_.back();
}

void StepFolder::add(const chunk::Point& p) {
  step_of(p.ts_ms).add(p.value);
}

void StepFolder::add(const rollup::Bucket& b) {
  step_of(b.start).merge(b);
}

std::vector<chunk::Point> StepFolder::finish(Aggregation agg) const {
  std::vector<chunk::Point> out;
  finish(agg, out);
  return out;
}

void StepFolder::finish(Aggregation agg, std::vector<chunk::Point>& out) const {
  out.clear();
  out.reserve(steps_.size());
  for (const rollup::Bucket& b : steps_) out.push_back(chunk::Point{b.start, value_of(b, agg)});
}

std::vector<chunk::Point> steps(std::span<const chunk::Point> points, std::int64_t step, Aggregation agg) {
  if (from_summaries(agg)) {
    StepFolder folder(step);
    for (const chunk::Point& p : points) folder.add(p);
    return folder.finish(agg);
  }
  std::vector<chunk::Point> out;
  if (agg == Aggregation::kRate) {
    const double seconds = static_cast<double>(step) / 1000.0;
    for (std::size_t i = 1; i < points.size(); ++i) {
      const double rise = points[i].value - points[i - 1].value;
      const double increase = rise >= 0 ? rise : points[i].value;
      const std::int64_t start = chunk::window_of(points[i].ts_ms, step);
      if (out.empty() || out.back().ts_ms != start) out.push_back(chunk::Point{start, 0});
      out.back().value += increase;
    }
    for (chunk::Point& p : out) p.value /= seconds;
    return out;
  }
  const double p = agg == Aggregation::kP50 ? 50 : agg == Aggregation::kP95 ? 95 : 99;
  std::vector<double> values;
  for (std::size_t i = 0; i < points.size();) {
    const std::int64_t start = chunk::window_of(points[i].ts_ms, step);
    values.clear();
    for (; i < points.size() && chunk::window_of(points[i].ts_ms, step) == start; ++i) values.push_back(points[i].value);
    out.push_back(chunk::Point{start, percentile(values, p)});
  }
  return out;
}

}  // namespace vigil::aggregate
