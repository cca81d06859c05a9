// watchdog/check_runner.hpp: one run of a check, of any kind, on the sd-event loop.
//
// The daemon's scheduler and `vigil check test` both use this: a
// CheckRunner turns a CheckConfig into runs, each ending in one
// CheckOutcome delivered on the loop. The kinds' protocol work lives in
// probes/ (tcp, http, exec, redis, postgres, prom_text, nagios); this file
// watches their file descriptors and deadlines with sd-event sources and
// maps their results to outcomes. Nothing here blocks the loop.
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <memory>

#include "probes/check_outcome.hpp"
#include "watchdog/config.hpp"
#include "watchdog/curl_loop.hpp"

namespace vigil {

class CheckRunner {
 public:
  using Done = std::function<void(CheckOutcome)>;
  virtual ~CheckRunner() = default;
  // A run is in flight (waiting for an answer or its timeout).
  virtual bool busy() const = 0;
  // Starts a run. `done` is called exactly once, on the loop, possibly
  // before start() returns (a refused connection, a missing executable).
  // Must not be called while busy().
  virtual void start(Done done) = 0;
};

// What the runners of one loop share: the loop and the curl multi handle.
class CheckRunners {
 public:
  explicit CheckRunners(sd_event* event);
  ~CheckRunners();
  // The config has been validated; a runner is made for every valid check.
  std::unique_ptr<CheckRunner> make(const CheckConfig& check);

  sd_event* event() const { return event_; }
  // Made (and libcurl loaded) by the first http or prometheus check.
  CurlLoop& curl();

 private:
  sd_event* event_;
  std::unique_ptr<CurlLoop> curl_;
};

}  // namespace vigil
