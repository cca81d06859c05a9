// probes/docker/api.hpp: the Docker Engine API's answers, read into typed
// values (pure: text in, a value or an error out).
//
// What vigild needs from the Engine API (v1.25 and later; Podman's
// Docker-compatible service answers the same): the API version (/version),
// the containers (/containers/json), one container's facts
// (/containers/ID/json) and the events stream (/events, one JSON object per
// line). Docker's own vocabulary (container states, health statuses,
// restart policies, event actions) is typed here, with Docker's spelling in
// each KindNames table: these are the names Docker sends, read at the edge,
// not names Vigil stores.
//
// Every parser takes the body as received and never throws: malformed JSON,
// a field of the wrong type or a missing required field is an ErrorKind::
// kParse error naming the field ("State.Pid: a number was expected, got a
// string") and the byte where the JSON broke. Unknown fields are ignored.
// Every string kept is bounded (kMaxField; a health check's output is kept
// to kMaxHealthOutput), so what a hostile engine sends cannot grow vigild
// beyond the body's own bound.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kinds.hpp"
#include "core/result.hpp"
#include "core/sample.hpp"
#include "core/time.hpp"

namespace vigil {
namespace docker {

// State.Status of /containers/ID/json and State of /containers/json.
enum class ContainerState : std::uint8_t { kCreated, kRunning, kPaused, kRestarting, kRemoving, kExited, kDead };

// State.Health.Status; kNone when the container has no HEALTHCHECK.
enum class HealthStatus : std::uint8_t { kNone, kStarting, kHealthy, kUnhealthy };

// HostConfig.RestartPolicy.Name ("" is "no").
enum class RestartPolicy : std::uint8_t { kNo, kAlways, kUnlessStopped, kOnFailure };

// The container events vigild acts on (the events stream's Action; a
// health_status event's action is "health_status: STATUS").
enum class EventAction : std::uint8_t {
  kCreate,
  kStart,
  kDie,
  kOom,
  kHealthStatus,
  kRestart,
  kDestroy,
  kPause,
  kUnpause,
  kKill,
  kStop,
  kRename,
};

}  // namespace docker

template <>
struct KindNames<docker::ContainerState> {
  static constexpr std::array<std::string_view, 7> names = {"created",  "running", "paused", "restarting",
                                                            "removing", "exited",  "dead"};
};
template <>
struct KindNames<docker::HealthStatus> {
  static constexpr std::array<std::string_view, 4> names = {"none", "starting", "healthy", "unhealthy"};
};
template <>
struct KindNames<docker::RestartPolicy> {
  static constexpr std::array<std::string_view, 4> names = {"no", "always", "unless-stopped", "on-failure"};
};
template <>
struct KindNames<docker::EventAction> {
  static constexpr std::array<std::string_view, 12> names = {"create",        "start",   "die",     "oom",
                                                             "health_status", "restart", "destroy", "pause",
                                                             "unpause",       "kill",    "stop",    "rename"};
};

namespace docker {

// Bounds on what is kept of any one string field, and of a health check's
// output (Docker itself keeps 4 KiB of it).
inline constexpr std::size_t kMaxField = 4096;
inline constexpr std::size_t kMaxHealthOutput = 1024;

// An Engine API version, "1.41".
struct ApiVersion {
  int major = 0;
  int minor = 0;
  friend auto operator<=>(const ApiVersion&, const ApiVersion&) = default;
  std::string text() const { return std::to_string(major) + "." + std::to_string(minor); }
};

// The oldest API version vigild speaks (State.Health arrived in 1.24, the
// events filters' JSON form in 1.22) and the newest it asks for.
inline constexpr ApiVersion kOldestApi{1, 25};
inline constexpr ApiVersion kNewestApi{1, 43};

Result<ApiVersion> parse_api_version(std::string_view text);

// A container id as the engine gives it: 12 to 64 lowercase hex digits.
// Every parser below refuses any other id, because ids go into request
// paths.
bool is_container_id(std::string_view id);

// /version.
struct EngineVersion {
  std::string version;  // "20.10.24+dfsg1", or Podman's
  ApiVersion api;       // the newest the engine speaks
  ApiVersion min_api;   // the oldest (1.12 when the engine does not say)
  std::string os;
};
Result<EngineVersion> parse_version(std::string_view body);

// The version to put in request paths ("/v1.41/..."): the engine's newest,
// capped at kNewestApi; an error when the engine is older than kOldestApi.
Result<ApiVersion> negotiate(const EngineVersion& engine);

// One entry of /containers/json.
struct ContainerSummary {
  std::string id;
  std::vector<std::string> names;  // without the leading '/'
  std::string image;
  ContainerState state = ContainerState::kCreated;
  Labels labels;  // sorted by name
};
Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body);

// The last entry of State.Health.Log.
struct HealthLogEntry {
  int exit_code = 0;
  std::string output;  // at most kMaxHealthOutput bytes
  std::optional<WallMs> end;
};

// /containers/ID/json: what vigild watches and decides on.
struct ContainerInfo {
  std::string id;
  std::string name;  // without the leading '/'
  std::string image;
  ContainerState state = ContainerState::kCreated;
  bool oom_killed = false;
  int pid = 0;  // the init process on the host; 0 when not running
  int exit_code = 0;
  std::string error;                              // State.Error: why the engine could not start it
  std::optional<WallMs> started_at, finished_at;  // absent: never (Docker's 0001-01-01)
  HealthStatus health = HealthStatus::kNone;
  int failing_streak = 0;
  std::optional<HealthLogEntry> last_health;
  bool has_healthcheck = false;  // Config.Healthcheck with a test other than NONE
  Millis health_start_period{0};
  Millis health_interval{0};
  int restart_count = 0;
  RestartPolicy restart_policy = RestartPolicy::kNo;
  int restart_max_retries = 0;
  Labels labels;                  // Config.Labels, sorted by name
  std::int64_t memory_limit = 0;  // HostConfig.Memory in bytes; 0: none
  std::string cgroup_parent;      // HostConfig.CgroupParent
};
Result<ContainerInfo> parse_container(std::string_view body);

// One container event of the /events stream. Events vigild does not act on
// (exec_*, other object types, actions not in EventAction) parse to nullopt.
struct ContainerEvent {
  std::string id;
  EventAction action = EventAction::kCreate;
  HealthStatus health = HealthStatus::kNone;  // for kHealthStatus
  std::optional<int> exit_code;               // for kDie
  std::string name;                           // Actor.Attributes.name
  Labels attributes;                          // every other attribute, sorted
  std::int64_t time_nano = 0;                 // timeNano, or time * 1e9
};
Result<std::optional<ContainerEvent>> parse_event(std::string_view line);

// The /events stream arrives in pieces: EventSplitter cuts it into lines
// (one JSON object each), holding at most `max_line` bytes of an
// unfinished line. A longer line is dropped up to its newline and
// reported as one error, so the stream goes on with the next event.
class EventSplitter {
 public:
  explicit EventSplitter(std::size_t max_line = 64 * 1024) : max_line_(max_line) {}

  // Calls on_line(std::string_view) for each complete line (without its
  // '\n'; empty lines skipped) and on_overlong(std::size_t bytes) for each
  // line that was too long.
  template <class OnLine, class OnOverlong>
  void feed(std::string_view data, OnLine&& on_line, OnOverlong&& on_overlong);

  std::size_t pending() const { return partial_.size(); }

 private:
  std::size_t max_line_;
  std::string partial_;
  bool skipping_ = false;
  std::size_t skipped_ = 0;
};

// The engine's error answer ({"message": "No such container: web1"}) as
// text for a message, or an excerpt of the body when it is not that.
std::string engine_message(std::string_view body);

// The query of the /events request: container events only, of the actions
// vigild acts on, from `since_unix_s` (0: from now).
std::string events_query(std::int64_t since_unix_s);

// /containers/ID/stats?stream=false&one-shot=true: the engine's own reading
// of the container's cgroup (one-shot, API >= 1.41, answers at once; an
// older engine ignores it and takes about a second to sample CPU). vigild
// reads cgroups itself; this is its fallback where it cannot (vigild in a
// container without the host's /sys/fs/cgroup). Absent fields stay absent;
// block I/O is summed over devices (v1 "Read"/"Write", v2 "read"/"write").
struct EngineStats {
  std::optional<std::uint64_t> memory_usage, memory_max_usage, memory_failcnt;
  std::optional<std::uint64_t> cpu_usage_ns, cpu_periods, cpu_throttled_periods, cpu_throttled_ns;
  std::optional<std::uint64_t> pids_current, pids_limit;
  std::optional<std::uint64_t> read_bytes, write_bytes, reads, writes;
  bool operator==(const EngineStats&) const = default;
};
Result<EngineStats> parse_stats(std::string_view body);
// The request path of a container's stats (the id checked as in action_path).
Result<std::string> stats_path(std::string_view id);

// What vigild asks the engine to do to a container: heal/ restarts with
// it; chaos stops, starts, pauses and signals with it.
enum class ContainerAction { kStart, kStop, kRestart, kPause, kUnpause, kKill };
// The request path (without the version prefix) of `action` on container
// `id`: /containers/ID/ACTION, with ?t=SECONDS for stop and restart (how
// long the engine waits after the stop signal before SIGKILL) and
// ?signal=NAME for kill. kInvalid for an id that is not a container id
// (is_container_id) or a signal that is not a name or number ("SIGUSR1",
// "HUP", "9").
Result<std::string> action_path(std::string_view id, ContainerAction action, std::optional<int> seconds = std::nullopt,
                                std::string_view signal = {});

template <class OnLine, class OnOverlong>
void EventSplitter::feed(std::string_view data, OnLine&& on_line, OnOverlong&& on_overlong) {
  while (!data.empty()) {
    const std::size_t nl = data.find('\n');
    const std::string_view piece = data.substr(0, nl);
    if (skipping_) {
      skipped_ += piece.size();
    } else if (partial_.size() + piece.size() > max_line_) {
      skipping_ = true;
      skipped_ = partial_.size() + piece.size();
      partial_.clear();
      partial_.shrink_to_fit();
    } else if (nl != std::string_view::npos && partial_.empty()) {
      if (!piece.empty()) on_line(piece);  // the whole line is in this piece: no copy
    } else {
      partial_.append(piece);
    }
    if (nl == std::string_view::npos) return;
    if (skipping_) {
      on_overlong(skipped_);
      skipping_ = false;
      skipped_ = 0;
    } else if (!partial_.empty()) {
      const std::string line = std::move(partial_);
      partial_.clear();
      on_line(std::string_view(line));
    }
    data.remove_prefix(nl + 1);
  }
}

}  // namespace docker
}  // namespace vigil
