// net/curl_loop.hpp: libcurl's multi interface on the sd-event loop.
//
// curl tells us which sockets to watch and when its next timeout is
// (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION); sd-event io sources and
// one timer source do the watching, and curl_multi_socket_action() moves the
// transfers on. Host names are resolved by libcurl's threaded resolver, so
// nothing here blocks the loop. Completion callbacks run on the loop.
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/sd_handles.hpp"
#include "net/curl_api.hpp"

namespace vigil {

class CurlLoop {
 public:
  // The transfer's result; `watch_error` is set (and the code then
  // meaningless) when the loop could not watch one of its sockets.
  using Done = std::function<void(CURLcode code, const std::string& watch_error)>;

  explicit CurlLoop(sd_event* event);
  ~CurlLoop();
  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // Starts a transfer; `done` runs once, on the loop, after the handle has
  // been removed from the multi handle. False (and `done` never runs) when
  // curl refuses the handle. May be called from inside a transfer's
  // callbacks (its body arriving): the handle is then added when curl
  // returns.
  bool add(CURL* easy, Done done);
  // Abandons a transfer in flight (its owner is going away); `done` does not run.
  void cancel(CURL* easy);
  std::size_t in_flight() const { return transfers_.size(); }

 private:
  struct SocketWatch {
    CurlLoop* loop = nullptr;
    curl_socket_t fd = -1;
    SdEventSourcePtr source;
  };
  static int on_socket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int on_timer_request(CURLM* multi, long timeout_ms, void* userp);
  static int on_io(sd_event_source* source, int fd, std::uint32_t revents, void* userdata);
  static int on_timer(sd_event_source* source, std::uint64_t usec, void* userdata);
  void action(curl_socket_t fd, int flags);
  void collect_done();

  sd_event* event_;
  const CurlApi* api_;  // null when libcurl could not be loaded
  CURLM* multi_ = nullptr;
  SdEventSourcePtr timer_;
  std::map<CURL*, Done> transfers_;
  // Transfers whose socket could not be watched: finished by collect_done().
  // (Returning -1 from the socket callback would abort every transfer of
  // the multi handle for good.)
  std::map<CURL*, std::string> watch_failed_;
  // Inside multi_socket_action (curl's callbacks run there): transfers
  // added meanwhile wait in pending_ until it returns.
  bool in_action_ = false;
  std::vector<CURL*> pending_;
};

}  // namespace vigil
