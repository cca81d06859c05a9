#include "probes/docker/client.hpp"

#include <algorithm>

#include "core/text.hpp"
#include "core/version.hpp"

namespace vigil::docker {
namespace {

// The URL's host is a name only (the socket is what connects); the engine
// reads the path.
constexpr const char* kBase = "http://docker";

std::string http_status(long status) {
  switch (status) {
    case 304:
      return "304 Not Modified";
    case 400:
      return "400 Bad Request";
    case 401:
      return "401 Unauthorized";
    case 403:
      return "403 Forbidden";
    case 404:
      return "404 Not Found";
    case 409:
      return "409 Conflict";
    case 500:
      return "500 Internal Server Error";
    case 503:
      return "503 Service Unavailable";
    default:
      return "HTTP " + std::to_string(status);
  }
}

// Why a request got no usable answer, as an Error naming the endpoint.
Error transfer_error(const std::string& where, CURLcode code, const HttpResult& r, const std::string& watch_error) {
  if (!watch_error.empty()) return Error{ErrorKind::kIo, where + ": " + watch_error};
  if (!r.answered) {
    // Nothing listens on the socket (missing, refused, not ours to open):
    // the engine is not available, as opposed to failing.
    const ErrorKind kind = code == CURLE_COULDNT_CONNECT ? ErrorKind::kNotAvailable : ErrorKind::kIo;
    return Error{kind, where + ": " + r.error};
  }
  const ErrorKind kind = r.status == 404 ? ErrorKind::kNotFound : ErrorKind::kIo;
  return Error{kind, where + ": " + http_status(r.status) + ": " + engine_message(r.body)};
}

}  // namespace

Result<std::string> engine_socket(std::string_view configured, const char* docker_host) {
  if (!configured.empty()) return std::string(configured);
  const std::string_view host = docker_host != nullptr ? docker_host : "";
  if (host.empty()) return std::string(kDefaultSocket);
  if (host.rfind("unix://", 0) == 0 && host.size() > 7 && host[7] == '/') return std::string(host.substr(7));
  return fail(ErrorKind::kInvalid, "DOCKER_HOST=" + printable_excerpt(host, 120) +
                                       ": vigild talks to a local engine over its unix socket only "
                                       "(DOCKER_HOST=unix:///PATH, or [docker] socket = \"/PATH\")");
}

struct Client::Call {
  std::string method;
  std::string path;
  bool versioned = true;  // under /vX.Y (all but /version itself)
  Millis timeout{0};      // 0: the client's
  Done done;
  std::unique_ptr<HttpTransfer> transfer;
};

EventStream::EventStream(CurlLoop& curl, std::size_t max_line, std::function<void(ContainerEvent)> on_event,
                         std::function<void(Error)> on_bad, std::function<void(Error)> on_end)
    : curl_(curl),
      split_(max_line),
      max_line_(max_line),
      on_event_(std::move(on_event)),
      on_bad_(std::move(on_bad)),
      on_end_(std::move(on_end)) {}

EventStream::~EventStream() {
  if (transfer_) curl_.cancel(transfer_->handle());
}

Result<void> EventStream::start(HttpRequest request) {
  request.on_stream = [this](std::string_view piece) {
    bytes_ += piece.size();
    split_.feed(
        piece,
        [this](std::string_view line) {
          auto ev = parse_event(line);
          if (!ev) {
            on_bad_(ev.error());
          } else if (ev->has_value()) {
            on_event_(std::move(**ev));
          }
        },
        [this](std::size_t bytes) {
          on_bad_(Error{ErrorKind::kParse, "GET /events: a line of " + std::to_string(bytes) + " bytes, longer than " +
                                               std::to_string(max_line_) + ", skipped"});
        });
    return true;
  };
  transfer_ = std::make_unique<HttpTransfer>(std::move(request));
  if (!transfer_->setup_error().empty()) return fail(ErrorKind::kIo, "GET /events: " + transfer_->setup_error());
  transfer_->begin();
  const bool added = curl_.add(transfer_->handle(), [this](CURLcode code, const std::string& watch_error) {
    const HttpResult r = transfer_->finish(code);
    // A stream that had begun and ends, cleanly or not (a chunked stream
    // cut by the engine's exit), was closed by the engine.
    const bool began = (r.answered && r.status >= 200 && r.status < 300) || code == CURLE_PARTIAL_FILE;
    Error why = began && watch_error.empty() ? Error{ErrorKind::kIo, "GET /events: the engine closed the stream"}
                                             : transfer_error("GET /events", code, r, watch_error);
    auto on_end = std::move(on_end_);
    on_end(std::move(why));  // may drop this stream: nothing after
  });
  if (!added) {
    transfer_.reset();
    return fail(ErrorKind::kIo, "GET /events: libcurl refused the transfer");
  }
  return {};
}

Client::Client(sd_event* event, CurlLoop& curl, ClientOptions options)
    : event_(event), curl_(curl), options_(std::move(options)) {}

Client::~Client() {
  *alive_ = false;
  for (auto& c : calls_) curl_.cancel(c->transfer->handle());
}

void Client::call(std::string method, std::string path, Done done, Millis timeout) {
  auto c = std::make_unique<Call>();
  c->timeout = timeout;
  c->method = std::move(method);
  c->path = std::move(path);
  c->done = std::move(done);
  if (api_) return start(std::move(c));
  waiting_.push_back(std::move(c));
  if (asking_version_) return;
  asking_version_ = true;
  auto v = std::make_unique<Call>();
  v->method = "GET";
  v->path = "/version";
  v->versioned = false;
  v->done = [this](Result<std::string> body) { versioned(std::move(body)); };
  start(std::move(v));
}

void Client::start(std::unique_ptr<Call> c) {
  HttpRequest r;
  r.url = std::string(kBase) + (c->versioned ? "/v" + api_->text() : "") + c->path;
  r.method = c->method;
  r.unix_socket = options_.socket;
  r.timeout = c->timeout.count() > 0 ? c->timeout : options_.timeout;
  r.connect_timeout = options_.timeout;
  r.max_body = options_.max_body;
  r.keep_body = true;
  r.reuse_connection = true;  // one connection to the engine, kept
  r.user_agent = std::string("vigil/") + kVersion;
  c->transfer = std::make_unique<HttpTransfer>(std::move(r));
  const std::string where = c->method + " " + c->path;
  if (!c->transfer->setup_error().empty()) {
    return fail_later(std::move(c->done), Error{ErrorKind::kIo, where + ": " + c->transfer->setup_error()});
  }
  c->transfer->begin();
  Call* raw = c.get();
  calls_.push_back(std::move(c));
  if (!curl_.add(raw->transfer->handle(),
                 [this, raw](CURLcode code, const std::string& watch_error) { finish(raw, code, watch_error); })) {
    auto it = std::find_if(calls_.begin(), calls_.end(), [&](const auto& p) { return p.get() == raw; });
    Done done = std::move((*it)->done);
    calls_.erase(it);
    fail_later(std::move(done), Error{ErrorKind::kIo, where + ": libcurl refused the transfer"});
  }
}

void Client::finish(Call* raw, CURLcode code, const std::string& watch_error) {
  auto it = std::find_if(calls_.begin(), calls_.end(), [&](const auto& p) { return p.get() == raw; });
  if (it == calls_.end()) return;
  std::unique_ptr<Call> c = std::move(*it);
  calls_.erase(it);
  const HttpResult r = c->transfer->finish(code);
  Result<std::string> out = std::string();
  // 304 Not Modified: a start or stop of a container already started or
  // stopped; done, as asked.
  if (watch_error.empty() && r.answered && ((r.status >= 200 && r.status < 300) || r.status == 304)) {
    out = std::string(r.body);
  } else {
    out = tl::unexpected(transfer_error(c->method + " " + c->path, code, r, watch_error));
  }
  Done done = std::move(c->done);
  done(std::move(out));  // may destroy this client: nothing after
}

void Client::versioned(Result<std::string> body) {
  asking_version_ = false;
  Result<ApiVersion> v = tl::unexpected(Error{});
  if (!body) {
    v = tl::unexpected(body.error());
  } else if (auto e = parse_version(*body); !e) {
    v = tl::unexpected(Error{e.error().kind, "GET " + e.error().message});
  } else {
    v = negotiate(*e);
    if (v) engine_ = *e;
  }
  if (v) api_ = *v;
  std::deque<std::unique_ptr<Call>> waiting;
  waiting.swap(waiting_);
  for (auto& c : waiting) {
    if (api_) {
      start(std::move(c));
    } else {
      fail_later(std::move(c->done), v.error());
    }
  }
}

void Client::fail_later(Done done, Error error) {
  failed_.emplace_back(std::move(done), std::move(error));
  if (!defer_) {
    sd_event_source* s = nullptr;
    if (sd_event_add_defer(event_, &s, &Client::on_defer, this) < 0) {
      // No source to run it later: run it now rather than never.
      auto [d, e] = std::move(failed_.front());
      failed_.pop_front();
      d(tl::unexpected(std::move(e)));
      return;
    }
    defer_.reset(s);
  }
  sd_event_source_set_enabled(defer_.get(), SD_EVENT_ONESHOT);
}

int Client::on_defer(sd_event_source*, void* userdata) {
  auto* self = static_cast<Client*>(userdata);
  std::deque<std::pair<Done, Error>> failed;
  failed.swap(self->failed_);
  const std::shared_ptr<bool> alive = self->alive_;
  for (auto& [done, error] : failed) {
    if (!*alive) break;  // a callback dropped the client
    done(tl::unexpected(std::move(error)));
  }
  return 0;
}

Result<std::unique_ptr<EventStream>> Client::events(std::int64_t since_unix_s,
                                                    std::function<void(ContainerEvent)> on_event,
                                                    std::function<void(Error)> on_bad,
                                                    std::function<void(Error)> on_end) {
  if (!api_)
    return fail(ErrorKind::kInvalid, "GET /events: the API version is not known yet (no answer from /version)");
  HttpRequest r;
  r.url = std::string(kBase) + "/v" + api_->text() + "/events?" + events_query(since_unix_s);
  r.unix_socket = options_.socket;
  r.connect_timeout = options_.timeout;
  r.timeout = Millis(0);           // a stream without end
  r.max_body = options_.max_body;  // for an error answer's body
  r.user_agent = std::string("vigil/") + kVersion;
  auto stream = std::make_unique<EventStream>(curl_, options_.max_event_line, std::move(on_event), std::move(on_bad),
                                              std::move(on_end));
  if (auto started = stream->start(std::move(r)); !started) return tl::unexpected(started.error());
  return stream;
}

}  // namespace vigil::docker
