#include "net/curl_loop.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/time.hpp"

namespace vigil {

CurlLoop::CurlLoop(sd_event* event) : event_(event), api_(curl_api()) {
  if (api_ == nullptr) return;  // HttpAttempt reports why; add() refuses
  multi_ = api_->multi_init();
  if (multi_ == nullptr) return;
  api_->multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlLoop::on_socket);
  api_->multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  api_->multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlLoop::on_timer_request);
  api_->multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  sd_event_source* timer = nullptr;
  if (sd_event_add_time(event_, &timer, CLOCK_MONOTONIC, UINT64_MAX, 1000, &CurlLoop::on_timer, this) >= 0) {
    sd_event_source_set_enabled(timer, SD_EVENT_OFF);
    timer_.reset(timer);
  }
}

CurlLoop::~CurlLoop() {
  if (multi_ == nullptr) return;
  for (auto& [easy, done] : transfers_) api_->multi_remove_handle(multi_, easy);
  transfers_.clear();
  api_->multi_cleanup(multi_);  // closes the sockets; their watches are freed through on_socket(REMOVE)
}

bool CurlLoop::add(CURL* easy, Done done) {
  if (multi_ == nullptr || !timer_) return false;
  if (in_action_) {
    // From inside one of curl's callbacks (a transfer's body starting
    // another request): curl refuses handles added there
    // (CURLM_RECURSIVE_API_CALL), so it is added once the action returns.
    pending_.push_back(easy);
  } else if (api_->multi_add_handle(multi_, easy) != CURLM_OK) {
    return false;
  }
  transfers_[easy] = std::move(done);
  return true;
}

void CurlLoop::cancel(CURL* easy) {
  watch_failed_.erase(easy);
  if (auto it = std::find(pending_.begin(), pending_.end(), easy); it != pending_.end()) {
    pending_.erase(it);
    transfers_.erase(easy);
    return;
  }
  if (transfers_.erase(easy) > 0) api_->multi_remove_handle(multi_, easy);
}

int CurlLoop::on_socket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp) {
  auto* self = static_cast<CurlLoop*>(userp);
  auto* watch = static_cast<SocketWatch*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    delete watch;
    self->api_->multi_assign(self->multi_, s, nullptr);
    return 0;
  }
  std::uint32_t events = ((what & CURL_POLL_IN) != 0 ? std::uint32_t{EPOLLIN} : 0u) |
                         ((what & CURL_POLL_OUT) != 0 ? std::uint32_t{EPOLLOUT} : 0u);
  if (watch == nullptr) {
    watch = new SocketWatch{self, s, nullptr};
    sd_event_source* source = nullptr;
    int r = sd_event_add_io(self->event_, &source, s, events, &CurlLoop::on_io, watch);
    if (r < 0) {
      delete watch;
      self->watch_failed_[easy] = std::string("cannot watch the connection's socket: ") + std::strerror(-r);
      return 0;
    }
    watch->source.reset(source);
    self->api_->multi_assign(self->multi_, s, watch);
  } else {
    sd_event_source_set_io_events(watch->source.get(), events);
  }
  return 0;
}

int CurlLoop::on_timer_request(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlLoop*>(userp);
  if (timeout_ms < 0) {
    sd_event_source_set_enabled(self->timer_.get(), SD_EVENT_OFF);
    return 0;
  }
  // 0 means "as soon as possible": fire on the next loop iteration rather
  // than calling back into curl from inside its own callback.
  sd_event_source_set_time(self->timer_.get(), mono_now_usec() + static_cast<std::uint64_t>(timeout_ms) * 1000);
  sd_event_source_set_enabled(self->timer_.get(), SD_EVENT_ONESHOT);
  return 0;
}

int CurlLoop::on_io(sd_event_source*, int fd, std::uint32_t revents, void* userdata) {
  auto* watch = static_cast<SocketWatch*>(userdata);
  int flags = (revents & EPOLLIN ? CURL_CSELECT_IN : 0) | (revents & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
              (revents & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
  watch->loop->action(fd, flags);  // may delete `watch`
  return 0;
}

int CurlLoop::on_timer(sd_event_source*, std::uint64_t, void* userdata) {
  static_cast<CurlLoop*>(userdata)->action(CURL_SOCKET_TIMEOUT, 0);
  return 0;
}

void CurlLoop::action(curl_socket_t fd, int flags) {
  int running = 0;
  in_action_ = true;
  api_->multi_socket_action(multi_, fd, flags, &running);
  in_action_ = false;
  std::vector<CURL*> pending;
  pending.swap(pending_);
  for (CURL* easy : pending) {
    if (api_->multi_add_handle(multi_, easy) != CURLM_OK) watch_failed_[easy] = "libcurl refused the transfer";
  }
  collect_done();
}

void CurlLoop::collect_done() {
  while (!watch_failed_.empty()) {
    auto [easy, why] = *watch_failed_.begin();
    watch_failed_.erase(watch_failed_.begin());
    api_->multi_remove_handle(multi_, easy);
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;
    Done done = std::move(it->second);
    transfers_.erase(it);
    done(CURLE_ABORTED_BY_CALLBACK, why);
  }
  int left = 0;
  while (CURLMsg* msg = api_->multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    api_->multi_remove_handle(multi_, easy);
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;
    Done done = std::move(it->second);
    transfers_.erase(it);
    done(code, std::string());  // may add a new transfer
  }
}

}  // namespace vigil
