// probes/checks/check.hpp: what a check is, and how one run of it happens.
//
// Contract of probes/checks/: a check is a probe with a schedule and
// hysteresis. Its kind (tcp, http, exec, redis, postgres, prometheus,
// docker_health) is a
// row of the table in kinds.hpp: the kind's keys, their validation, and the
// factory of its CheckRunner. One file per kind holds all of that and the
// kind's protocol work; kinds.cpp lists the rows. A runner does its I/O on
// the caller's sd-event loop (non-blocking sockets, pidfds, curl's multi
// handle through net/), bounded by the check's timeout, and ends each run
// with one CheckOutcome. Nothing here logs, writes the store or sleeps;
// parsers and judges are pure functions over string_views.
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/keys.hpp"
#include "core/kinds.hpp"
#include "core/time.hpp"
#include "net/curl_loop.hpp"
#include "probes/checks/outcome.hpp"

namespace vigil {

namespace docker {
struct ContainerInfo;
}

// One configured check. `settings` holds the kind's own struct (TcpSettings,
// HttpCheckSettings, ...: see each kind's header).
struct CheckSpec {
  std::string name;
  std::string target;  // the target it belongs to; "" for a check of its own (a remote endpoint)
  CheckKind kind = CheckKind::kTcp;
  std::optional<Millis> interval;  // default: daemon.interval
  Millis timeout{5000};
  int fail_after = 2;
  int recover_after = 2;
  Millis flap_window{300000};
  int flap_threshold = 6;
  bool alert = true;  // the check's failure raises an alert (CheckFailed or a [[rule]] of kind check)
  KindSettings settings;

  // "web/health", or "health" for a check without a target.
  std::string display_name() const { return target.empty() ? name : target + "/" + name; }
  bool operator==(const CheckSpec&) const = default;
};

class CheckRunner {
 public:
  using Done = std::function<void(CheckOutcome)>;
  virtual ~CheckRunner() = default;
  // A run is in flight (waiting for an answer, its timeout, or its child).
  virtual bool busy() const = 0;
  // Starts a run. `done` is called exactly once, on the loop, possibly
  // before start() returns (a refused connection, a missing executable).
  // Must not be called while busy().
  virtual void start(Done done) = 0;
};

// The container a target follows now (docker_health checks), or why there
// is none ("Docker is not available: ...", "no container named web").
struct ContainerLookup {
  const docker::ContainerInfo* container = nullptr;  // valid until the loop turns
  std::string problem;
};

// What the runners of one loop share: the loop, the curl multi handle
// (made, and libcurl loaded, by the first http or prometheus check), and
// the daemon's view of container targets.
class CheckContext {
 public:
  explicit CheckContext(sd_event* event);
  ~CheckContext();
  CheckContext(const CheckContext&) = delete;
  CheckContext& operator=(const CheckContext&) = delete;

  // A runner for a validated check.
  std::unique_ptr<CheckRunner> make(const CheckSpec& check);

  sd_event* event() const { return event_; }
  CurlLoop& curl();

  // Set by the daemon before the first check runs; without it every
  // docker_health check fails saying so.
  void set_container_lookup(std::function<ContainerLookup(const std::string& target)> lookup) {
    container_lookup_ = std::move(lookup);
  }
  ContainerLookup container_of(const std::string& target) const;

 private:
  sd_event* event_;
  std::unique_ptr<CurlLoop> curl_;
  std::function<ContainerLookup(const std::string& target)> container_lookup_;
};

}  // namespace vigil
