#include "probes/checks/kinds.hpp"

#include <time.h>

#include <array>
#include <cstring>

#include "probes/checks/runner_util.hpp"

namespace vigil {

namespace checks_detail {

std::optional<std::string> watch_fd(sd_event* event, SdEventSourcePtr& slot, int fd, std::uint32_t events,
                                    sd_event_io_handler_t handler, void* userdata) {
  sd_event_source* s = nullptr;
  int r = sd_event_add_io(event, &s, fd, events, handler, userdata);
  if (r < 0) return std::string("cannot watch a file descriptor: ") + std::strerror(-r);
  slot.reset(s);
  return std::nullopt;
}

std::optional<std::string> add_deadline(sd_event* event, SdEventSourcePtr& slot,
                                        std::chrono::steady_clock::time_point when, sd_event_time_handler_t handler,
                                        void* userdata) {
  // sd-event's CLOCK_MONOTONIC and steady_clock are the same clock on Linux.
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  sd_event_source* s = nullptr;
  int r = sd_event_add_time(event, &s, CLOCK_MONOTONIC, us < 0 ? 0 : static_cast<std::uint64_t>(us), 1000, handler,
                            userdata);
  if (r < 0) return std::string("cannot add a timer: ") + std::strerror(-r);
  slot.reset(s);
  return std::nullopt;
}

CheckOutcome failed_outcome(std::string reason) {
  CheckOutcome out;
  out.reason = std::move(reason);
  return out;
}

}  // namespace checks_detail

CheckContext::CheckContext(sd_event* event) : event_(event) {}
CheckContext::~CheckContext() = default;

CurlLoop& CheckContext::curl() {
  if (!curl_) curl_ = std::make_unique<CurlLoop>(event_);
  return *curl_;
}

ContainerLookup CheckContext::container_of(const std::string& target) const {
  if (!container_lookup_) return {nullptr, "vigild watches no container here"};
  return container_lookup_(target);
}

std::unique_ptr<CheckRunner> CheckContext::make(const CheckSpec& check) {
  return check_kind(check.kind).make_runner(*this, check);
}

std::span<const CheckKindInfo> check_kinds() {
  // In CheckKind order: check_kind() indexes it.
  static const std::array<CheckKindInfo, 7> kinds = {
      tcp_check_kind(),      http_check_kind(),       exec_check_kind(),         redis_check_kind(),
      postgres_check_kind(), prometheus_check_kind(), docker_health_check_kind()};
  static_assert(kinds.size() == kind_names<CheckKind>().size());
  return kinds;
}

const CheckKindInfo& check_kind(CheckKind kind) {
  return check_kinds()[static_cast<std::size_t>(kind)];
}

std::span<const Key<CheckSpec>> common_check_keys() {
  static const std::array<Key<CheckSpec>, 10> keys = {
      field_key<&CheckSpec::name>("name", ValueType::kName, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]"),
      field_key<&CheckSpec::target>("target", ValueType::kName, 1, 64,
                                    "the target it belongs to (omit it for a remote endpoint)"),
      choice_key<&CheckSpec::kind, CheckKind>("kind", ValueType::kChoice,
                                              "one of tcp, http, exec, redis, postgres, prometheus, docker_health"),
      field_key<&CheckSpec::interval>("interval", ValueType::kDuration, 100, 86'400'000,
                                      "a duration from 100ms to 24h, e.g. \"1s\"; default: daemon.interval"),
      field_key<&CheckSpec::timeout>("timeout", ValueType::kDuration, 10, 600'000,
                                     "a duration from 10ms to 10m, e.g. \"5s\" (default 5s)"),
      field_key<&CheckSpec::fail_after>("fail_after", ValueType::kCount, 1, 100,
                                        "an integer from 1 to 100: consecutive failures to fail (default 2)"),
      field_key<&CheckSpec::recover_after>("recover_after", ValueType::kCount, 1, 100,
                                           "an integer from 1 to 100: consecutive successes to recover (default 2)"),
      field_key<&CheckSpec::flap_window>("flap_window", ValueType::kDuration, 1000, 86'400'000,
                                         "a duration from 1s to 24h, e.g. \"5m\" (default 5m)"),
      field_key<&CheckSpec::flap_threshold>(
          "flap_threshold", ValueType::kCount, 1, 1000,
          "an integer from 1 to 1000: state changes in flap_window that make it flapping (default 6)"),
      field_key<&CheckSpec::alert>("alert", ValueType::kBool, 0, 0,
                                   "true (default) to raise an alert while the check is failed"),
  };
  return keys;
}

CheckSpec default_check(CheckKind kind) {
  CheckSpec c;
  c.kind = kind;
  c.settings = check_kind(kind).defaults();
  return c;
}

std::string kinds_with_key(std::string_view key) {
  std::string out;
  for (const auto& k : check_kinds()) {
    for (const auto& spec : k.keys) {
      if (key == spec.name) out += (out.empty() ? "" : ", ") + std::string(to_string(k.kind));
    }
  }
  return out;
}

}  // namespace vigil
