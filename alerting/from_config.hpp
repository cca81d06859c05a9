// alerting/from_config.hpp: the engine's rules and options from the config.
#pragma once

#include <vector>

#include "alerting/engine.hpp"
#include "config/config.hpp"

namespace vigil {

RuleSpec rule_spec(const RuleConfig& rule);
// `hostname` is the instance label when [alerting] instance is not set.
EngineOptions engine_options(const AlertingConfig& alerting, const std::string& hostname);
std::vector<ReceiverSpec> receiver_specs(const std::vector<ReceiverConfig>& receivers);

}  // namespace vigil
