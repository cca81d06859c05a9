// alerting/sender.hpp: delivers the engine's outbox over HTTP, on the loop.
//
// One ReceiverQueue per [[alertmanager]] or [[webhook]] (alerting/outbox.hpp
// decides what to send and what an answer means); this file only turns a
// batch into a POST on the shared CurlLoop (net/) and hands the answer back. Each
// receiver has its own queue and at most one request in flight, so one that
// is down or refusing never delays another. Credentials are read from their
// files at every send (a rotated token is picked up without a restart).
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "alerting/engine.hpp"
#include "config/config.hpp"
#include "core/sd_handles.hpp"
#include "net/curl_loop.hpp"
#include "net/http.hpp"

namespace vigil {

class AlertSender {
 public:
  using OpSink = std::function<void(AlertOp)>;
  AlertSender(sd_event* event, CurlLoop& curl, AlertEngine& engine, const Config& cfg, OpSink ops);
  ~AlertSender();
  AlertSender(const AlertSender&) = delete;
  AlertSender& operator=(const AlertSender&) = delete;

  // Starts every batch that may go now, and arms the timer for the next.
  void pump();

  // The POST URL of a receiver: Alertmanager's <url>/api/v2/alerts, a
  // webhook's url as written.
  static std::string post_url(const ReceiverConfig& r);

 private:
  struct Receiver {
    ReceiverConfig cfg;
    std::string url;
    std::unique_ptr<HttpTransfer> transfer;
    std::string logged_error;  // the last failure logged, so that each is logged once
  };
  void send(Receiver& r, ReceiverQueue& q, const SendBatch& batch);
  void done(Receiver& r, ReceiverQueue& q, long status, const std::string& detail);
  void arm();
  static int on_timer(sd_event_source* s, std::uint64_t usec, void* self);

  sd_event* event_;
  CurlLoop& curl_;
  AlertEngine& engine_;
  Millis resend_interval_;
  std::string external_url_;
  OpSink ops_;
  std::vector<std::unique_ptr<Receiver>> receivers_;  // in the engine's queue order
  SdEventSourcePtr timer_;
  std::mt19937_64 random_;
};

}  // namespace vigil
