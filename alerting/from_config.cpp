#include "alerting/from_config.hpp"

#include <algorithm>

#include "core/text.hpp"

namespace vigil {

RuleSpec rule_spec(const RuleConfig& r) {
  RuleSpec spec;
  spec.name = r.name;
  spec.kind = r.kind;
  spec.metric = r.metric;
  spec.match = r.select;
  if (!r.target.empty()) spec.match.emplace_back("target", r.target);
  std::sort(spec.match.begin(), spec.match.end());
  spec.check_target = r.kind == RuleKind::kCheck ? r.target : std::string();
  spec.check_name = r.check;
  spec.for_duration = r.for_duration;
  spec.op = r.op;
  spec.threshold = r.value.value_or(0);
  spec.max_age = r.max_age;
  spec.growth = GrowthParams{r.baseline, r.max_growth_percent};
  spec.window = r.window;
  spec.horizon = r.horizon;
  if (!r.limit.empty()) {
    if (auto d = parse_number(r.limit)) {
      spec.limit = *d;
    } else {
      const char* metric = limit_metric_for(r.limit);
      spec.limit_metric = metric != nullptr ? metric : r.limit;
    }
  }
  spec.severity = r.severity;
  spec.labels = r.labels;
  std::sort(spec.labels.begin(), spec.labels.end());
  spec.annotations = r.annotations;
  return spec;
}

EngineOptions engine_options(const AlertingConfig& a, const std::string& hostname) {
  EngineOptions options;
  options.instance = a.instance.empty() ? hostname : a.instance;
  options.external_url = a.external_url;
  while (!options.external_url.empty() && options.external_url.back() == '/') options.external_url.pop_back();
  options.resend_interval = a.resend_interval;
  options.heartbeat = a.heartbeat;
  options.target_down = a.target_down;
  options.target_down_for = a.target_down_for;
  options.stale_after = a.stale_after;
  return options;
}

std::vector<ReceiverSpec> receiver_specs(const std::vector<ReceiverConfig>& receivers) {
  std::vector<ReceiverSpec> out;
  for (const auto& r : receivers) out.push_back(ReceiverSpec{r.name, r.resends()});
  return out;
}

}  // namespace vigil
