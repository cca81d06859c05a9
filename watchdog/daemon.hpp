// watchdog/daemon.hpp: vigild, the rooms wired together around one loop.
//
// Contract of watchdog/: wiring and the event loop, not logic. The loop
// thread owns every piece of monitoring state: targets and checks keyed by
// name (each owning its timers), the alert engine, the remediator. Nothing
// on it waits for the disk (samples and events go to the store writer's
// queue; reads of the store happen before the loop turns, or on a worker
// thread) or for the network (curl's multi handle on the loop).
#pragma once

#include <memory>

#include "config/config.hpp"

namespace vigil {

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM or SIGINT. Returns the process exit status: 0 after a
  // clean stop, 1 when start-up failed (the reason is logged).
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
