#include "watchdog/recorder.hpp"

#include "alerting/engine.hpp"
#include "core/log.hpp"
#include "heal/remediator.hpp"

namespace vigil {

void Recorder::publish(std::vector<Sample>&& samples) {
  if (alerts_ != nullptr) {
    for (const auto& sample : samples) alerts_->observe(sample);
  }
  if (remediator_ != nullptr) {
    for (const auto& sample : samples) remediator_->observe(sample);
  }
  store_.enqueue(std::move(samples));
}

void Recorder::record(Event e) {
  const LogLevel level = e.severity == Severity::kInfo ? LogLevel::kInfo : LogLevel::kWarning;
  if (e.target.empty()) {
    log(level, e.message, {{"event", to_string(e.kind)}});
  } else {
    log(level, e.message, {{"event", to_string(e.kind)}, {"target", e.target}});
  }
  store_.enqueue(std::move(e));
}

}  // namespace vigil
