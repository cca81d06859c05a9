// alerting/delivery.hpp: what to send to a receiver, and what to do with its answer.
//
// Everything here is a pure function of its arguments: the time and the
// random draw for jitter are passed in, nothing reads a clock, a socket or a
// file, nothing logs. The sender (which owns the outbox, curl and the clock)
// asks these functions for the request body, for the verdict on an answer
// and for the delay before the next attempt, and does the I/O itself.
//
// Payloads:
//  - alertmanager_v2_body(): the JSON array for Alertmanager's
//    `POST /api/v2/alerts` (a list of postableAlert objects). `endsAt` is
//    omitted when the message has none, `generatorURL` when it is empty.
//  - webhook_body(): the JSON Alertmanager's own webhook notifier posts
//    (notify/webhook Message = template.Data + version "4", groupKey,
//    truncatedAlerts), so receivers written for Alertmanager accept it
//    unchanged. As upstream does, a firing alert shows the zero time
//    "0001-01-01T00:00:00Z" as `endsAt` (an end in the future is not exposed).
// Times are RFC 3339 in UTC with millisecond precision. Label and annotation
// text is JSON-escaped; bytes that are not valid UTF-8 become U+FFFD rather
// than failing the whole batch.
//
// Retries: an answer is delivered (2xx), retried (no answer, 408, 429, 5xx)
// or, for any other status, retried until `max_4xx_attempts` attempts and
// then dropped, so a poison message cannot block a receiver's queue.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "core/sample.hpp"
#include "core/time.hpp"

namespace vigil {

struct AlertMessage {
  Labels labels;  // sorted; alertname, severity, instance, job, target, check and the rule's labels
  // summary, description, runbook_url...; on a repeated name the last one wins in the JSON.
  std::vector<std::pair<std::string, std::string>> annotations;
  WallMs starts_ms = 0;
  // Set: resolved at that time, or, while firing, the expiry (now + 4 x
  // resend_interval) after which Alertmanager resolves it by itself should
  // Vigil die. Unset: firing with no expiry.
  std::optional<WallMs> ends_ms;
  std::string generator_url;
};

// The message as kept in the outbox (a JSON object with labels, annotations,
// startsAt and endsAt in ms, generatorURL), and back. A message without
// ends_ms is a firing one: the sender sets its expiry when it sends it.
std::string message_to_json(const AlertMessage& alert);
Result<AlertMessage> message_from_json(std::string_view text);

// Alertmanager's rule (model.Alert.Resolved): firing unless an end is set and
// is not after `now`.
bool is_firing(const AlertMessage& alert, WallMs now);

// Body of `POST /api/v2/alerts`:
// [{"labels":{...},"annotations":{...},"startsAt":"...","endsAt":"...","generatorURL":"..."}, ...]
std::string alertmanager_v2_body(const std::vector<AlertMessage>& batch);

// Body of a generic webhook, shaped like Alertmanager's webhook notifier:
// {"version":"4","groupKey":...,"truncatedAlerts":0,"status":"firing|resolved",
//  "receiver":...,"groupLabels":{...},"commonLabels":{...},"commonAnnotations":{...},
//  "externalURL":...,"alerts":[{"status","labels","annotations","startsAt","endsAt",
//  "generatorURL","fingerprint"}]}
// `status` is "firing" when any alert of the batch fires at `now`. Vigil does
// no grouping: groupLabels holds `alertname` when every alert of the batch
// shares one, else nothing, and groupKey is `{}:` followed by groupLabels in
// Alertmanager's LabelSet.String() form, e.g. `{}:{alertname="TargetDown"}`.
std::string webhook_body(const std::vector<AlertMessage>& batch, std::string_view receiver,
                         std::string_view external_url, WallMs now);

// Alertmanager's fingerprint of a label set, as 16 lower-case hex digits:
// FNV-1a 64 over the labels sorted by name, each as name, 0xff, value, 0xff
// (prometheus/common model.LabelSet.Fingerprint). Equal label sets give equal
// fingerprints whatever their order in `labels`.
std::string alert_fingerprint(const Labels& labels);

// Splits into consecutive batches of at most `max` alerts (> 0), keeping the
// order; no alerts give no batches.
std::vector<std::vector<AlertMessage>> batches(std::vector<AlertMessage> alerts, std::size_t max = 64);

// Stored nowhere; the order carries no meaning.
enum class DeliveryVerdict { kDelivered, kRetry, kDrop };

struct DeliveryResult {
  DeliveryVerdict verdict;
  // For people: "HTTP 400 from http://am:9093/api/v2/alerts: <body>" with at
  // most 200 bytes of the body, control characters replaced by spaces.
  std::string reason;
};

// The status of a request that was never sent: its credentials could not be
// read, or the transfer could not be set up; the message says why.
inline constexpr long kNotSent = -1;

// `status` is the HTTP status, or 0 when there was no answer (connection
// refused, timeout), or kNotSent; `body_excerpt` is then the error text.
// `refusals` counts the refusals of the message so far, this answer's
// included (1 for the first): answers of a receiver that was down are not
// refusals. 2xx: delivered. 0, 408, 429, 5xx: retry, with no limit (the
// receiver is down or busy, the message is fine). Anything else (other 4xx,
// 1xx, 3xx): retry while refusals < max_4xx_attempts, then drop; the reason
// says "(refusal 2 of 5)", and "(refusal 5 of 5: dropped)".
DeliveryResult classify_response(long status, int refusals, std::string_view url, std::string_view body_excerpt,
                                 int max_4xx_attempts = 5);

// Delay before retry number `attempt` (0 for the first retry): exponential
// backoff with jitter. base = min(max, min * 2^attempt); the delay is
// uniform in [base/2, base], picked by `unit_random` in [0, 1) (values outside
// are clamped). The lower bound is base/2, not `min`: the first retry waits
// 50..100 ms with the defaults, so that daemons that lost the same receiver
// at once do not retry in lock-step. Hence every delay lies in [min/2, max].
// A negative attempt counts as 0.
Millis backoff_delay(int attempt, double unit_random, Millis min = Millis(100), Millis max = Millis(30000));

}  // namespace vigil
