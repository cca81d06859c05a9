// watchdog/recorder.hpp: where everything the loop produces goes.
//
// Samples go to the alert rules and the remediator's evidence, then to the
// store writer's queue; events to the log and the store. Nothing here waits
// for the disk.
#pragma once

#include <vector>

#include "core/sample.hpp"
#include "store/store.hpp"

namespace vigil {

class AlertEngine;
class Remediator;

class Recorder {
 public:
  explicit Recorder(StoreWriter& store) : store_(store) {}
  // Set once each exists (both are optional while vigild starts).
  void set_alerts(AlertEngine* alerts) { alerts_ = alerts; }
  void set_remediator(Remediator* remediator) { remediator_ = remediator; }

  void publish(std::vector<Sample>&& samples);
  void record(Event e);
  StoreWriter& store() { return store_; }

 private:
  StoreWriter& store_;
  AlertEngine* alerts_ = nullptr;
  Remediator* remediator_ = nullptr;
};

}  // namespace vigil
