// probes/docker/client.hpp: requests to the Docker Engine API on the loop.
//
// Over the engine's unix socket, through the CurlLoop (curl multi on
// sd-event), so nothing blocks the loop: every request has a deadline and
// a bound on its answer. The first request asks /version and negotiates
// the API version (api.hpp, negotiate()); requests made meanwhile wait
// for it. The events stream is a request without end whose lines become
// ContainerEvents as they arrive.
//
// Errors say which endpoint and why, with the engine's own message when it
// sent one ("POST /containers/web1/restart: 409 Conflict: Container ... is
// paused"). Their kinds: kNotAvailable when no engine answers on the socket
// (missing, refused, permission denied), kNotFound for a 404 (no such
// container), kParse for an answer that does not read, kIo for the rest
// (a deadline, a 5xx, a connection closed mid-answer).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "core/sd_handles.hpp"
#include "core/time.hpp"
#include "net/curl_loop.hpp"
#include "net/http.hpp"
#include "probes/docker/api.hpp"

namespace vigil::docker {

inline constexpr const char* kDefaultSocket = "/var/run/docker.sock";

// The engine's socket: `configured` ([docker] socket) when set, else
// DOCKER_HOST's unix:// path when given, else kDefaultSocket. A DOCKER_HOST
// of another scheme (tcp://, ssh://) is an error: vigild speaks to a local
// engine over its socket only.
Result<std::string> engine_socket(std::string_view configured, const char* docker_host);

struct ClientOptions {
  std::string socket = kDefaultSocket;
  Millis timeout{5000};                // each request's deadline (not the events stream's)
  std::uint64_t max_body = 16u << 20;  // the largest answer taken (a list of many containers)
  std::size_t max_event_line = 64 * 1024;
};

// One /events request in flight (Client::events() makes them).
class EventStream {
 public:
  EventStream(CurlLoop& curl, std::size_t max_line, std::function<void(ContainerEvent)> on_event,
              std::function<void(Error)> on_bad, std::function<void(Error)> on_end);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  Result<void> start(HttpRequest request);
  // Bytes of the stream so far.
  std::uint64_t bytes() const { return bytes_; }

 private:
  CurlLoop& curl_;
  EventSplitter split_;
  std::size_t max_line_;
  std::uint64_t bytes_ = 0;
  std::function<void(ContainerEvent)> on_event_;
  std::function<void(Error)> on_bad_;
  std::function<void(Error)> on_end_;
  std::unique_ptr<HttpTransfer> transfer_;
};

class Client {
 public:
  using Done = std::function<void(Result<std::string> body)>;

  Client(sd_event* event, CurlLoop& curl, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // GET or POST `path` ("/containers/json?all=1"; the version prefix is
  // added) and call `done` on the loop with the body of a 2xx answer, or
  // why not. `done` never runs from inside get()/post(), nor after the
  // client is gone.
  // `timeout` (0: the client's) for a request the engine takes long to
  // answer on purpose (a restart waits for the container to stop).
  void get(std::string path, Done done, Millis timeout = Millis(0)) {
    call("GET", std::move(path), std::move(done), timeout);
  }
  void post(std::string path, Done done, Millis timeout = Millis(0)) {
    call("POST", std::move(path), std::move(done), timeout);
  }

  // The negotiated version, once known.
  std::optional<ApiVersion> api() const { return api_; }
  const EngineVersion& engine() const { return engine_; }
  const std::string& socket() const { return options_.socket; }
  // Ask /version again before the next request (the engine restarted).
  void forget_version() { api_.reset(); }
  std::size_t in_flight() const { return calls_.size(); }

  // The events stream (from `since_unix_s`, 0: from now): on_event for
  // each container event vigild acts on, on_bad for a line that does not
  // read (the stream goes on), then on_end once with why it ended (it
  // may drop the stream). Dropping the stream ends it (on_end does not run
  // then), but not from inside on_event or on_bad. An error when the API
  // version is not known yet (make a request first) or curl refuses.
  Result<std::unique_ptr<EventStream>> events(std::int64_t since_unix_s, std::function<void(ContainerEvent)> on_event,
                                              std::function<void(Error)> on_bad, std::function<void(Error)> on_end);

 private:
  struct Call;
  void call(std::string method, std::string path, Done done, Millis timeout = Millis(0));
  void start(std::unique_ptr<Call> c);
  void finish(Call* c, CURLcode code, const std::string& watch_error);
  void versioned(Result<std::string> body);
  // Runs `done` with `error` on a later turn of the loop.
  void fail_later(Done done, Error error);
  static int on_defer(sd_event_source* source, void* userdata);

  sd_event* event_;
  CurlLoop& curl_;
  ClientOptions options_;
  std::optional<ApiVersion> api_;
  EngineVersion engine_;
  bool asking_version_ = false;
  std::deque<std::unique_ptr<Call>> waiting_;  // for the version
  std::deque<std::unique_ptr<Call>> calls_;    // in flight
  std::deque<std::pair<Done, Error>> failed_;  // to report on the next turn
  SdEventSourcePtr defer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
};

}  // namespace vigil::docker
