// probes/docker/watcher.hpp: what the engine's containers are, kept current.
//
// The Watcher holds every container the engine has (running or not) with
// its facts (ContainerInfo, from /containers/ID/json), and keeps them
// current from the events stream: an event is followed by an inspect of
// its container, and the change is reported with the event that caused it.
// On every (re)connection it opens the stream first (from a second before)
// and then lists and inspects everything, so nothing that happened while
// it was away is missed: a container that died while the engine restarted
// is reported as changed, without an event.
//
// Availability: no answer on the socket (missing, refused, permission
// denied) is "down", reported once per change with why, and tried again
// with backoff (retry_delay()); a stream that ends (the engine restarted)
// is reconnected at once, then with backoff. It never logs: its owner
// turns the callbacks into logs, events and metrics.
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/sd_handles.hpp"
#include "core/time.hpp"
#include "probes/docker/client.hpp"

namespace vigil::docker {

// How long to wait before the next attempt after `failures` failed ones in
// a row: 250 ms, doubling, at most 30 s.
Millis retry_delay(int failures);

// What changed in a container between two readings; the kinds of change
// the owner acts on.
struct ContainerChange {
  const ContainerInfo* before = nullptr;  // null: new to the watcher
  const ContainerInfo* now = nullptr;     // null: gone (destroyed)
  std::optional<ContainerEvent> event;    // the event that caused it, if one did
};

// Whether two readings of one container differ in what is watched: its
// id, state, health, init process, start or finish time, restart count,
// OOM kill or exit code.
bool differs(const ContainerInfo& a, const ContainerInfo& b);

class Watcher {
 public:
  struct Callbacks {
    // The engine answers again (true), or stopped answering (false), with why.
    std::function<void(bool up, const std::string& why)> on_availability;
    // A container changed (see ContainerChange); pointers valid during the call.
    std::function<void(const ContainerChange&)> on_change;
    // Something that did not read or failed, without stopping the watch
    // (a bad event line, an inspect that failed): for counting and logs.
    std::function<void(const Error&)> on_problem;
  };

  Watcher(sd_event* event, Client& client, Callbacks callbacks);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Connects (at once; again with backoff while the engine does not answer).
  void start();

  // Whether the engine answered the last attempt, and what it said then
  // (why it is down, or which engine answers).
  bool up() const { return up_; }
  const std::string& why() const { return why_; }
  // Every container listed at the first connection has been inspected
  // (until then, a container not found may just not be read yet).
  bool synced() const { return synced_; }
  // Every container, by id.
  const std::map<std::string, ContainerInfo>& containers() const { return containers_; }
  // By name (without '/'), full id or unique id prefix (at least 12 digits).
  const ContainerInfo* find(std::string_view name_or_id) const;
  // Those carrying label `key` (with `value`, unless value is nullopt).
  std::vector<const ContainerInfo*> with_label(std::string_view key, std::optional<std::string_view> value) const;

  // Counts, for metrics.
  std::uint64_t events_seen() const { return events_seen_; }
  std::uint64_t reconnects() const { return reconnects_; }

 private:
  void connect();
  void inspect(const std::string& id, std::optional<ContainerEvent> event, bool listing);
  void inspected(const std::string& id, std::uint64_t seq, std::optional<ContainerEvent> event,
                 Result<std::string> body);
  void on_event(ContainerEvent event);
  void stream_ended(Error why);
  void failed(const Error& why);
  void schedule(Millis delay);
  void set_up(bool up, const std::string& why);
  static int on_timer(sd_event_source* source, std::uint64_t usec, void* userdata);

  sd_event* event_;
  Client& client_;
  Callbacks callbacks_;
  std::map<std::string, ContainerInfo> containers_;
  std::unique_ptr<EventStream> stream_;
  SdEventSourcePtr timer_;
  bool up_ = false;
  std::string why_;
  bool reported_ = false;  // availability reported at least once
  bool synced_ = false;
  std::size_t listing_ = 0;  // inspects of the current listing not answered yet
  int failures_ = 0;
  std::uint64_t stream_opened_usec_ = 0;  // a stream that ends within a second counts as a failure
  // Each connection attempt's answers carry its generation; answers to an
  // older attempt are dropped.
  std::uint64_t generation_ = 0;
  // Inspects run side by side and may be answered out of order (a restart
  // brings die, start and restart at once): each carries a sequence number,
  // and an answer older than the one a container last took is not applied
  // over it (its event is still reported, with the newer facts).
  std::uint64_t inspects_ = 0;
  std::map<std::string, std::uint64_t> applied_;
  std::uint64_t events_seen_ = 0;
  std::uint64_t reconnects_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vigil::docker
