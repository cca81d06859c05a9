// watchdog/daemon.hpp: vigild's event loop.
//
// One thread runs sd-event and owns every piece of monitoring state: the
// process table, per-target state, timers, signals and the systemd
// watchdog. Nothing on it waits for the disk: samples go to the store's
// writer thread through its bounded queue.
#pragma once

#include <memory>

#include "watchdog/config.hpp"

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
