#include "watchdog/check_runner.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "core/text.hpp"
#include "core/time.hpp"
#include "probes/exec.hpp"
#include "probes/http.hpp"
#include "probes/nagios.hpp"
#include "probes/postgres.hpp"
#include "probes/prom_text.hpp"
#include "probes/redis.hpp"
#include "probes/tcp.hpp"
#include "watchdog/version.hpp"

namespace vigil {

namespace {

constexpr std::uint64_t kAccuracyUsec = 1000;

std::uint64_t usec_after(std::chrono::steady_clock::time_point when) {
  // sd-event's CLOCK_MONOTONIC and steady_clock are the same clock on Linux.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}

CheckOutcome failed(std::string reason) {
  CheckOutcome out;
  out.reason = std::move(reason);
  return out;
}

// Adds an io source or a timer, or explains why not.
std::optional<std::string> watch_fd(sd_event* event, SdEventSourcePtr& slot, int fd, std::uint32_t events,
                                    sd_event_io_handler_t handler, void* userdata) {
  sd_event_source* s = nullptr;
  int r = sd_event_add_io(event, &s, fd, events, handler, userdata);
  if (r < 0) return std::string("cannot watch a file descriptor: ") + std::strerror(-r);
  slot.reset(s);
  return std::nullopt;
}

std::optional<std::string> add_timer(sd_event* event, SdEventSourcePtr& slot,
                                     std::chrono::steady_clock::time_point when, sd_event_time_handler_t handler,
                                     void* userdata) {
  sd_event_source* s = nullptr;
  int r = sd_event_add_time(event, &s, CLOCK_MONOTONIC, usec_after(when), kAccuracyUsec, handler, userdata);
  if (r < 0) return std::string("cannot add a timer: ") + std::strerror(-r);
  slot.reset(s);
  return std::nullopt;
}

// ---- tcp, redis, postgres ---------------------------------------------------

class TcpRunner : public CheckRunner {
 public:
  // Builds the dialog for one run (a redis password is read at each run,
  // so that a rotated one is picked up), or says why it cannot.
  using DialogMaker = std::function<Result<TcpDialog>()>;

  TcpRunner(sd_event* event, const CheckConfig& cfg, DialogMaker maker)
      : event_(event), timeout_(cfg.timeout), address_(*parse_tcp_address(cfg.address)), maker_(std::move(maker)) {}

  bool busy() const override { return attempt_.has_value() && !attempt_->done(); }

  void start(Done done) override {
    done_ = std::move(done);
    auto dialog = maker_();
    if (!dialog) return deliver(failed(dialog.error().message));
    attempt_.emplace(address_, std::move(*dialog), mono_now());
    if (attempt_->done()) return deliver(*attempt_->done());
    auto problem = watch_fd(event_, io_, attempt_->fd(), attempt_->want_write() ? EPOLLOUT : EPOLLIN,
                            &TcpRunner::on_io, this);
    if (!problem) problem = add_timer(event_, deadline_, mono_now() + timeout_, &TcpRunner::on_deadline, this);
    if (problem) {
      attempt_->on_timeout(Millis(0), mono_now());
      CheckOutcome out = *attempt_->done();
      out.reason = *problem;
      deliver(std::move(out));
    }
  }

 private:
  static int on_io(sd_event_source* source, int, std::uint32_t revents, void* userdata) {
    auto& self = *static_cast<TcpRunner*>(userdata);
    self.attempt_->on_ready((revents & EPOLLIN) != 0, (revents & EPOLLOUT) != 0,
                            (revents & (EPOLLERR | EPOLLHUP)) != 0, mono_now());
    if (self.attempt_->done()) {
      self.deliver(*self.attempt_->done());
    } else {
      sd_event_source_set_io_events(source, self.attempt_->want_write() ? EPOLLOUT : EPOLLIN);
    }
    return 0;
  }

  static int on_deadline(sd_event_source*, std::uint64_t, void* userdata) {
    auto& self = *static_cast<TcpRunner*>(userdata);
    self.attempt_->on_timeout(self.timeout_, mono_now());
    self.deliver(*self.attempt_->done());
    return 0;
  }

  void deliver(CheckOutcome out) {
    // Disabling a source from its own callback is allowed: sd-event holds a
    // reference while it dispatches.
    io_.reset();
    deadline_.reset();
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(out));
  }

  sd_event* event_;
  Millis timeout_;
  TcpAddress address_;
  DialogMaker maker_;
  std::optional<TcpAttempt> attempt_;
  SdEventSourcePtr io_, deadline_;
  Done done_;
};

Result<TcpDialog> redis_dialog(const CheckConfig& cfg) {
  std::optional<std::string> password;
  if (!cfg.password_file.empty()) {
    auto text = read_file(cfg.password_file);
    if (!text) return fail(text.error().kind, "cannot read password_file: " + text.error().message);
    std::string p(trim(*text));
    if (p.empty()) return fail(ErrorKind::kInvalid, "password_file " + cfg.password_file + " is empty");
    password = std::move(p);
  }
  std::optional<std::string> user;
  if (!cfg.username.empty()) user = cfg.username;
  bool with_auth = password.has_value();
  return TcpDialog{redis_ping_request(user, password),
                   [with_auth](std::string_view received) { return judge_redis_replies(received, with_auth); },
                   with_auth ? "no answer to AUTH and PING yet" : "no answer to PING yet"};
}

// ---- http, prometheus -------------------------------------------------------

HttpSpec http_spec(const CheckConfig& cfg) {
  HttpSpec s;
  s.url = cfg.url;
  s.method = cfg.method;
  s.headers = cfg.headers;
  s.body = cfg.body;
  s.expect_status = cfg.expect_status;
  s.expect_body = cfg.expect_body;
  s.expect_body_regex = cfg.expect_body_regex;
  s.expect_header = cfg.expect_header;
  s.timeout = cfg.timeout;
  s.connect_timeout = cfg.connect_timeout.value_or(cfg.timeout);
  s.follow_redirects = cfg.follow_redirects;
  s.reuse_connection = cfg.reuse_connection;
  s.insecure = cfg.insecure;
  s.ca_file = cfg.ca_file;
  s.client_cert = cfg.client_cert;
  s.client_key = cfg.client_key;
  s.max_body = cfg.body_limit();
  s.keep_body = cfg.kind == "prometheus";
  s.user_agent = std::string("vigil/") + kVersion;
  return s;
}

class HttpRunner : public CheckRunner {
 public:
  HttpRunner(CurlLoop& curl, const CheckConfig& cfg) : curl_(curl), cfg_(cfg), attempt_(http_spec(cfg)) {}
  ~HttpRunner() override { curl_.cancel(attempt_.handle()); }

  bool busy() const override { return busy_; }

  void start(Done done) override {
    if (!attempt_.setup_error().empty()) return done(failed(attempt_.setup_error()));
    attempt_.begin();
    done_ = std::move(done);
    busy_ = true;
    if (!curl_.add(attempt_.handle(), [this](CURLcode code, const std::string& watch_error) {
          finish(code, watch_error);
        })) {
      busy_ = false;
      Done d = std::move(done_);
      d(failed("cannot start the HTTP transfer (out of memory or no event loop timer)"));
    }
  }

 private:
  void scrape(CheckOutcome& out) {
    ScrapeLimits limits;
    limits.max_samples = static_cast<std::size_t>(cfg_.max_samples);
    auto parsed = parse_exposition(attempt_.body(), cfg_.metrics, limits);
    if (!parsed) {
      out.ok = false;
      out.reason = "cannot use the exposition from " + redact_url(cfg_.url) + ": " + parsed.error().message;
      return;
    }
    for (auto& s : parsed->samples) {
      out.values.push_back(CheckValue{std::move(s.name), std::move(s.labels), s.value, true});
    }
    out.values.push_back({"scrape_samples_seen", {}, static_cast<double>(parsed->samples_seen)});
    out.values.push_back({"scrape_samples_kept", {}, static_cast<double>(parsed->samples_kept)});
    out.reason = "scraped " + std::to_string(parsed->samples_kept) + " of " + std::to_string(parsed->samples_seen) +
                 " samples";
  }

  void finish(CURLcode code, const std::string& watch_error) {
    busy_ = false;
    CheckOutcome out = attempt_.finish(code);
    if (!watch_error.empty()) {
      out.ok = false;
      out.reason = watch_error;
    }
    if (cfg_.kind == "prometheus" && out.ok) scrape(out);
    Done d = std::move(done_);
    d(std::move(out));
  }

  CurlLoop& curl_;
  Done done_;
  CheckConfig cfg_;
  HttpAttempt attempt_;
  bool busy_ = false;
};

// ---- exec -------------------------------------------------------------------

ExecSpec exec_spec(const CheckConfig& cfg) {
  ExecSpec s;
  s.argv = cfg.command;
  s.shell = cfg.shell;
  s.env = cfg.env;
  s.cwd = cfg.cwd;
  s.max_output = static_cast<std::size_t>(cfg.max_output);
  s.kill_grace = cfg.kill_grace;
  return s;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The Nagios plugin convention: exit 0 OK, 1 WARNING, 2 CRITICAL, 3
// UNKNOWN; the first line is the status text; perfdata become samples.
CheckOutcome nagios_outcome(const ExecResult& r, const CheckConfig& cfg) {
  CheckOutcome out;
  out.total_seconds = r.seconds;
  if (!r.spawned) {
    out.reason = r.spawn_error;
    return out;
  }
  PluginOutput parsed = parse_plugin_output(r.output);
  std::string text = parsed.status_text.empty() ? std::string("no output") : printable_excerpt(parsed.status_text, 200);
  out.values.push_back({"exec_output_bytes", {}, static_cast<double>(r.output_bytes)});
  if (r.timed_out) {
    out.reason = "timed out after " + format_duration(cfg.timeout) + "; process group killed (output so far: " +
                 text + ")";
    return out;
  }
  if (r.signal) {
    out.reason = "killed by " + signal_name(*r.signal) + " (" + text + ")";
    return out;
  }
  int code = r.exit_code.value_or(-1);
  out.values.push_back({"exec_exit_code", {}, static_cast<double>(code)});
  out.ok = code == 0 || (code == 1 && !cfg.warning_is_failure);
  out.reason = "exit " + std::to_string(code) + ": " + text;
  for (const auto& d : parsed.perfdata) {
    PerfSample p = to_base_units(d);
    Labels labels{{"label", p.metric_label}};
    if (!p.unit.empty()) labels.push_back({"unit", p.unit});
    out.values.push_back({"check_perfdata", std::move(labels), p.value});
  }
  for (auto& e : parsed.perfdata_errors) out.warnings.push_back(std::move(e));
  return out;
}

class ExecRunner : public CheckRunner {
 public:
  ExecRunner(sd_event* event, const CheckConfig& cfg) : event_(event), cfg_(cfg), spec_(exec_spec(cfg)) {}

  // A run is over for the scheduler only when its child is gone too: a
  // plugin that ignores SIGTERM is not started again on top of itself.
  bool busy() const override { return attempt_ && !attempt_->finished(); }

  void start(Done done) override {
    done_ = std::move(done);
    delivered_ = false;
    attempt_ = std::make_unique<ExecAttempt>(spec_, mono_now());
    std::optional<std::string> problem;
    if (attempt_->output_fd() >= 0) {
      problem = watch_fd(event_, output_, attempt_->output_fd(), EPOLLIN, &ExecRunner::on_output, this);
    }
    if (!problem && attempt_->pid_fd() >= 0) {
      problem = watch_fd(event_, exit_, attempt_->pid_fd(), EPOLLIN, &ExecRunner::on_exit, this);
    }
    if (!problem && !attempt_->done()) {
      problem = add_timer(event_, timeout_, mono_now() + cfg_.timeout, &ExecRunner::on_timeout, this);
    }
    if (problem) {
      attempt_->on_timeout(Millis(0), mono_now());
      attempt_->on_kill_deadline();
      problem_ = std::move(problem);
    }
    after_change();  // delivers last: `done` may destroy this runner
  }

 private:
  static int on_output(sd_event_source*, int, std::uint32_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_output(mono_now());
    self.after_change();
    return 0;
  }
  static int on_exit(sd_event_source*, int, std::uint32_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_exit(mono_now());
    self.after_change();
    return 0;
  }
  static int on_timeout(sd_event_source*, std::uint64_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_timeout(self.cfg_.timeout, mono_now());
    self.after_change();
    return 0;
  }
  static int on_kill(sd_event_source*, std::uint64_t, void* userdata) {
    auto& self = *static_cast<ExecRunner*>(userdata);
    self.attempt_->on_kill_deadline();
    self.after_change();
    return 0;
  }

  // After any call into the attempt: drop the sources of closed fds before
  // a new fd can take their number, arm the kill deadline, deliver once.
  void after_change() {
    if (attempt_->output_fd() < 0) output_.reset();
    if (attempt_->pid_fd() < 0) exit_.reset();
    if (attempt_->pid_fd() >= 0 && !exit_) {
      // start() could not watch it (fd exhaustion): retry, or the child
      // would never be reaped and the check never run again.
      watch_fd(event_, exit_, attempt_->pid_fd(), EPOLLIN, &ExecRunner::on_exit, this);
    }
    if (attempt_->done()) timeout_.reset();
    if (auto when = attempt_->kill_deadline(); when && !kill_ && !attempt_->finished()) {
      add_timer(event_, kill_, *when, &ExecRunner::on_kill, this);
    }
    if (attempt_->finished()) kill_.reset();
    if (attempt_->done() && !delivered_) {
      CheckOutcome out = problem_ ? failed(*problem_) : nagios_outcome(*attempt_->done(), cfg_);
      problem_.reset();
      deliver(std::move(out));
    }
  }

  void deliver(CheckOutcome out) {
    delivered_ = true;
    Done done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(out));
  }

  sd_event* event_;
  CheckConfig cfg_;
  ExecSpec spec_;
  std::unique_ptr<ExecAttempt> attempt_;
  SdEventSourcePtr output_, exit_, timeout_, kill_;
  Done done_;
  bool delivered_ = false;
  std::optional<std::string> problem_;  // start() could not watch the child
};

}  // namespace

CheckRunners::CheckRunners(sd_event* event) : event_(event) {}
CheckRunners::~CheckRunners() = default;

CurlLoop& CheckRunners::curl() {
  if (!curl_) curl_ = std::make_unique<CurlLoop>(event_);
  return *curl_;
}

std::unique_ptr<CheckRunner> CheckRunners::make(const CheckConfig& cfg) {
  if (cfg.kind == "tcp") {
    TcpDialog dialog;
    dialog.request = cfg.send;
    if (!cfg.expect.empty()) {
      dialog.judge = expect_substring(cfg.expect);
      dialog.awaiting = "no \"" + printable_excerpt(cfg.expect, 40) + "\" yet";
    }
    return std::make_unique<TcpRunner>(event_, cfg, [dialog] { return Result<TcpDialog>(dialog); });
  }
  if (cfg.kind == "redis") {
    return std::make_unique<TcpRunner>(event_, cfg, [cfg] { return redis_dialog(cfg); });
  }
  if (cfg.kind == "postgres") {
    TcpDialog dialog{postgres_startup_request(cfg.user, cfg.database), &judge_postgres_startup_reply,
                     "no answer to the startup message yet"};
    return std::make_unique<TcpRunner>(event_, cfg, [dialog] { return Result<TcpDialog>(dialog); });
  }
  if (cfg.kind == "http" || cfg.kind == "prometheus") return std::make_unique<HttpRunner>(curl(), cfg);
  if (cfg.kind == "exec") return std::make_unique<ExecRunner>(event_, cfg);
  return nullptr;
}

}  // namespace vigil
