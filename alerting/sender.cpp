#include "alerting/sender.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/file_trust.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/version.hpp"

namespace vigil {

namespace {

constexpr std::uint64_t kMaxAnswer = 64 * 1024;

std::string base64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A secret file's first line (a trailing newline is not part of a token).
Result<std::string> read_secret(const std::string& path, const char* what) {
  // Refused when other users can write it (core/file_trust.hpp).
  auto text = read_trusted_file(path, 64 * 1024);
  if (!text) {
    return tl::unexpected(Error{text.error().kind, std::string(what) + " " + path + " " + text.error().message});
  }
  std::string_view s = *text;
  if (auto nl = s.find('\n'); nl != std::string_view::npos) s = s.substr(0, nl);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  if (s.empty()) return tl::unexpected(Error{ErrorKind::kInvalid, std::string(what) + " " + path + " is empty"});
  return std::string(s);
}

}  // namespace

std::string AlertSender::post_url(const ReceiverConfig& r) {
  if (r.kind != ReceiverKind::kAlertmanager) return r.url;
  std::string base = r.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string suffix = "/api/v2/alerts";
  if (base.size() >= suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return base;
  }
  return base + suffix;
}

AlertSender::AlertSender(sd_event* event, CurlLoop& curl, AlertEngine& engine, const Config& cfg, OpSink ops)
    : event_(event),
      curl_(curl),
      engine_(engine),
      resend_interval_(cfg.alerting.resend_interval),
      external_url_(cfg.alerting.external_url),
      ops_(std::move(ops)),
      random_(std::random_device{}()) {
  for (auto& q : engine_.queues()) {
    auto r = std::make_unique<Receiver>();
    for (const auto& rc : cfg.receivers) {
      if (rc.name == q.name()) r->cfg = rc;
    }
    if (!r->cfg.timeout) r->cfg.timeout = cfg.alerting.timeout;
    r->url = post_url(r->cfg);
    receivers_.push_back(std::move(r));
  }
  sd_event_source* s = nullptr;
  int rc = sd_event_add_time(event_, &s, CLOCK_MONOTONIC, UINT64_MAX, 1000, &AlertSender::on_timer, this);
  if (rc < 0) {
    log_error("cannot add the alert sender's timer: deliveries wait for the next alert",
              {{"error", std::strerror(-rc)}});
  } else {
    timer_.reset(s);
    sd_event_source_set_enabled(s, SD_EVENT_OFF);
  }
}

AlertSender::~AlertSender() {
  for (auto& r : receivers_) {
    if (r->transfer) curl_.cancel(r->transfer->handle());
  }
}

void AlertSender::pump() {
  const WallMs now = wall_now_ms();
  auto& queues = engine_.queues();
  for (std::size_t i = 0; i < queues.size() && i < receivers_.size(); ++i) {
    if (auto batch = queues[i].take(now)) send(*receivers_[i], queues[i], *batch);
  }
  arm();
}

void AlertSender::send(Receiver& r, ReceiverQueue& q, const SendBatch& batch) {
  const WallMs now = wall_now_ms();
  std::vector<AlertMessage> messages;
  for (const auto& payload : batch.payloads) {
    auto m = message_from_json(payload);
    if (!m) {
      log_error("an outbox row does not parse; it is skipped",
                {{"receiver", r.cfg.name}, {"error", m.error().message}});
      continue;
    }
    // A firing alert expires 4 resend intervals after it was sent, so that
    // Alertmanager resolves it by itself should vigild die.
    if (!m->ends_ms) m->ends_ms = now + 4 * resend_interval_.count();
    messages.push_back(std::move(*m));
  }
  if (messages.empty()) {
    done(r, q, 200, "");  // nothing usable: the rows go, the error was logged
    return;
  }
  HttpRequest request;
  request.url = r.url;
  request.method = "POST";
  request.headers.emplace_back("Content-Type", "application/json");
  if (!r.cfg.username.empty()) {
    auto password = read_secret(r.cfg.password_file, "password_file");
    if (!password) {
      done(r, q, kNotSent, password.error().message);
      return;
    }
    request.headers.emplace_back("Authorization", "Basic " + base64(r.cfg.username + ":" + *password));
  } else if (!r.cfg.bearer_token_file.empty()) {
    auto token = read_secret(r.cfg.bearer_token_file, "bearer_token_file");
    if (!token) {
      done(r, q, kNotSent, token.error().message);
      return;
    }
    request.headers.emplace_back("Authorization", "Bearer " + *token);
  }
  request.body = r.cfg.kind == ReceiverKind::kAlertmanager ? alertmanager_v2_body(messages)
                                                           : webhook_body(messages, r.cfg.name, external_url_, now);
  request.timeout = *r.cfg.timeout;
  request.connect_timeout = *r.cfg.timeout;
  request.insecure = r.cfg.insecure;
  request.ca_file = r.cfg.ca_file;
  request.client_cert = r.cfg.client_cert;
  request.client_key = r.cfg.client_key;
  request.max_body = kMaxAnswer;
  request.keep_body = true;
  request.user_agent = std::string("vigil/") + kVersion;
  r.transfer = std::make_unique<HttpTransfer>(std::move(request));
  if (!r.transfer->setup_error().empty()) {
    done(r, q, kNotSent, r.transfer->setup_error());
    return;
  }
  r.transfer->begin();
  Receiver* rp = &r;
  ReceiverQueue* qp = &q;
  bool added = curl_.add(r.transfer->handle(), [this, rp, qp](CURLcode code, const std::string& watch_error) {
    HttpResult result = rp->transfer->finish(code);
    if (!watch_error.empty()) {
      done(*rp, *qp, 0, watch_error);
    } else if (!result.answered) {
      done(*rp, *qp, 0, result.error);
    } else {
      done(*rp, *qp, result.status, std::string(result.body));
    }
    pump();
  });
  if (!added) done(r, q, kNotSent, "libcurl refused the transfer");
}

void AlertSender::done(Receiver& r, ReceiverQueue& q, long status, const std::string& detail) {
  const WallMs now = wall_now_ms();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto f = q.finish(status, redact_url(r.url), detail, now, unit(random_));
  for (auto& op : f.ops) ops_(std::move(op));
  for (const auto& d : f.dropped) engine_.report_dropped(r.cfg.name, d.row, d.refusals, f.result.reason, now);
  if (f.result.verdict == DeliveryVerdict::kDrop) {
    // Each drop is news (its event says the same); the next row goes at once.
    log_warning("alert delivery refused: dropped the alert", {{"receiver", r.cfg.name}, {"error", f.result.reason}});
    r.logged_error.clear();
  } else if (f.result.verdict == DeliveryVerdict::kDelivered) {
    if (!r.logged_error.empty()) log_info("alert receiver answers again", {{"receiver", r.cfg.name}});
    r.logged_error.clear();
  } else if (f.result.reason != r.logged_error) {
    r.logged_error = f.result.reason;
    log_warning("alert delivery failed; retrying with backoff", {{"receiver", r.cfg.name}, {"error", f.result.reason}});
  }
}

void AlertSender::arm() {
  if (!timer_) return;
  std::optional<WallMs> due;
  for (const auto& q : engine_.queues()) {
    if (auto d = q.next_due()) due = due ? std::min(*due, *d) : *d;
  }
  if (!due) {
    sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
    return;
  }
  const WallMs wait = std::max<WallMs>(*due - wall_now_ms(), 0);
  sd_event_source_set_time(timer_.get(), mono_now_usec() + static_cast<std::uint64_t>(wait) * 1000);
  sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT);
}

int AlertSender::on_timer(sd_event_source*, std::uint64_t, void* self) {
  static_cast<AlertSender*>(self)->pump();
  return 0;
}

}  // namespace vigil
