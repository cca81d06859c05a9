#include "alerting/delivery.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace vigil {

namespace {

using nlohmann::json;

// What Go's encoding/json writes for time.Time{}: Alertmanager's webhook shows
// it as the end of every alert that still fires.
constexpr const char* kGoZeroTime = "0001-01-01T00:00:00Z";

json labels_object(const Labels& labels) {
  json out = json::object();
  for (const auto& [name, value] : labels) out[name] = value;
  return out;
}

json annotations_object(const std::vector<std::pair<std::string, std::string>>& annotations) {
  json out = json::object();
  for (const auto& [name, value] : annotations) out[name] = value;
  return out;
}

// A label value may come from a process name or a file: invalid UTF-8 must
// not throw away the whole batch, so it is replaced instead of rejected.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Alertmanager's LabelSet.String(): {a="x", b="y"} with Go %q quoting.
std::string go_labelset_string(const Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ", ";
    first = false;
    out += name;
    out += "=\"";
    for (char c : value) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

// Names to values; on a repeated name the last one wins, as in the JSON.
template <typename Pairs>
std::map<std::string, std::string> to_map(const Pairs& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : pairs) out[k] = v;
  return out;
}

// Keeps what both sides hold with the same value (template.Data's common labels).
template <typename Pairs>
std::map<std::string, std::string> intersect(std::map<std::string, std::string> common, const Pairs& next) {
  const auto mine = to_map(next);
  for (auto it = common.begin(); it != common.end();) {
    auto found = mine.find(it->first);
    if (found == mine.end() || found->second != it->second) {
      it = common.erase(it);
    } else {
      ++it;
    }
  }
  return common;
}

std::string printable_excerpt(std::string_view body, std::size_t limit = 200) {
  std::string out;
  std::size_t n = std::min(body.size(), limit);
  // Do not cut a UTF-8 sequence in half: back up over continuation bytes.
  if (n < body.size()) {
    while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
  }
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    out += (c < 0x20 || c == 0x7f) ? ' ' : body[i];
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  if (n < body.size()) out += "...";
  return out;
}

}  // namespace

std::string message_to_json(const AlertMessage& alert) {
  json j = {{"labels", labels_object(alert.labels)}, {"starts_ms", alert.starts_ms}};
  json annotations = json::array();
  for (const auto& [name, value] : alert.annotations) annotations.push_back(json::array({name, value}));
  j["annotations"] = std::move(annotations);
  if (alert.ends_ms) j["ends_ms"] = *alert.ends_ms;
  if (!alert.generator_url.empty()) j["generator_url"] = alert.generator_url;
  return dump(j);
}

Result<AlertMessage> message_from_json(std::string_view text) {
  auto bad = [&](const std::string& why) { return tl::unexpected(Error{ErrorKind::kParse, "outbox payload: " + why}); };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  AlertMessage m;
  const json* labels = j.contains("labels") ? &j["labels"] : nullptr;
  if (labels == nullptr || !labels->is_object()) return bad("no labels object");
  for (const auto& [name, value] : labels->items()) {
    if (!value.is_string()) return bad("label " + name + " is not a string");
    m.labels.emplace_back(name, value.get<std::string>());
  }
  std::sort(m.labels.begin(), m.labels.end());
  if (j.contains("annotations")) {
    const json& a = j["annotations"];
    if (!a.is_array()) return bad("annotations is not an array");
    for (const auto& pair : a) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        return bad("an annotation is not a [name, value] pair");
      }
      m.annotations.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
  }
  if (!j.contains("starts_ms") || !j["starts_ms"].is_number_integer()) return bad("no starts_ms");
  m.starts_ms = j["starts_ms"].get<WallMs>();
  if (j.contains("ends_ms")) {
    if (!j["ends_ms"].is_number_integer()) return bad("ends_ms is not an integer");
    m.ends_ms = j["ends_ms"].get<WallMs>();
  }
  if (j.contains("generator_url") && j["generator_url"].is_string()) {
    m.generator_url = j["generator_url"].get<std::string>();
  }
  return m;
}

bool is_firing(const AlertMessage& alert, WallMs now) {
  return !alert.ends_ms || *alert.ends_ms > now;
}

std::string alertmanager_v2_body(const std::vector<AlertMessage>& batch) {
  json out = json::array();
  for (const auto& alert : batch) {
    json a = json::object();
    a["labels"] = labels_object(alert.labels);
    a["annotations"] = annotations_object(alert.annotations);
    a["startsAt"] = format_rfc3339_ms(alert.starts_ms);
    if (alert.ends_ms) a["endsAt"] = format_rfc3339_ms(*alert.ends_ms);
    if (!alert.generator_url.empty()) a["generatorURL"] = alert.generator_url;
    out.push_back(std::move(a));
  }
  return dump(out);
}

std::string webhook_body(const std::vector<AlertMessage>& batch, std::string_view receiver,
                         std::string_view external_url, WallMs now) {
  json alerts = json::array();
  bool any_firing = false;
  std::map<std::string, std::string> common_labels;
  std::map<std::string, std::string> common_annotations;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const AlertMessage& alert = batch[i];
    const bool firing = is_firing(alert, now);
    any_firing = any_firing || firing;
    json a = json::object();
    a["status"] = firing ? "firing" : "resolved";
    a["labels"] = labels_object(alert.labels);
    a["annotations"] = annotations_object(alert.annotations);
    a["startsAt"] = format_rfc3339_ms(alert.starts_ms);
    a["endsAt"] = firing ? std::string(kGoZeroTime) : format_rfc3339_ms(*alert.ends_ms);
    a["generatorURL"] = alert.generator_url;
    a["fingerprint"] = alert_fingerprint(alert.labels);
    alerts.push_back(std::move(a));
    if (i == 0) {
      common_labels = to_map(alert.labels);
      common_annotations = to_map(alert.annotations);
    } else {
      common_labels = intersect(std::move(common_labels), alert.labels);
      common_annotations = intersect(std::move(common_annotations), alert.annotations);
    }
  }

  Labels group_labels;
  if (auto it = common_labels.find("alertname"); it != common_labels.end()) group_labels.emplace_back(*it);

  json out = json::object();
  out["version"] = "4";
  out["groupKey"] = "{}:" + go_labelset_string(group_labels);
  out["truncatedAlerts"] = 0;
  out["status"] = any_firing ? "firing" : "resolved";
  out["receiver"] = std::string(receiver);
  out["groupLabels"] = labels_object(group_labels);
  out["commonLabels"] = json(common_labels);
  out["commonAnnotations"] = json(common_annotations);
  out["externalURL"] = std::string(external_url);
  out["alerts"] = std::move(alerts);
  return dump(out);
}

std::string alert_fingerprint(const Labels& labels) {
  std::vector<const Label*> sorted;
  sorted.reserve(labels.size());
  for (const auto& l : labels) sorted.push_back(&l);
  std::sort(sorted.begin(), sorted.end(), [](const Label* a, const Label* b) { return a->first < b->first; });

  constexpr std::uint64_t kOffset = 14695981039346656037ULL;
  constexpr std::uint64_t kPrime = 1099511628211ULL;
  std::uint64_t h = kOffset;
  auto add = [&h](unsigned char c) {
    h ^= c;
    h *= kPrime;
  };
  for (const Label* l : sorted) {
    for (char c : l->first) add(static_cast<unsigned char>(c));
    add(0xff);
    for (char c : l->second) add(static_cast<unsigned char>(c));
    add(0xff);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::vector<AlertMessage>> batches(std::vector<AlertMessage> alerts, std::size_t max) {
  assert(max > 0);
  std::vector<std::vector<AlertMessage>> out;
  out.reserve((alerts.size() + max - 1) / max);
  for (std::size_t i = 0; i < alerts.size(); i += max) {
    const std::size_t end = std::min(alerts.size(), i + max);
    out.emplace_back(std::make_move_iterator(alerts.begin() + static_cast<std::ptrdiff_t>(i)),
                     std::make_move_iterator(alerts.begin() + static_cast<std::ptrdiff_t>(end)));
  }
  return out;
}

DeliveryResult classify_response(long status, int refusals, std::string_view url, std::string_view body_excerpt,
                                 int max_4xx_attempts) {
  const std::string excerpt = printable_excerpt(body_excerpt);
  const std::string url_text(url);
  if (status < 0) return {DeliveryVerdict::kRetry, "not sent to " + url_text + ": " + std::string(body_excerpt)};
  if (status == 0) {
    return {DeliveryVerdict::kRetry, "no answer from " + url_text + (excerpt.empty() ? "" : ": " + excerpt)};
  }
  std::string reason = "HTTP " + std::to_string(status) + " from " + url_text;
  if (status >= 200 && status < 300) return {DeliveryVerdict::kDelivered, reason};
  if (!excerpt.empty()) reason += ": " + excerpt;
  // The receiver is down, overloaded or slow: the message itself is fine, so
  // it waits as long as it takes.
  if (status == 408 || status == 429 || (status >= 500 && status < 600)) return {DeliveryVerdict::kRetry, reason};
  // The receiver rejects this message; a few retries cover a receiver being
  // reconfigured, then it must not block the queue any longer.
  reason += " (refusal " + std::to_string(refusals) + " of " + std::to_string(max_4xx_attempts);
  if (refusals >= max_4xx_attempts) return {DeliveryVerdict::kDrop, reason + ": dropped)"};
  return {DeliveryVerdict::kRetry, reason + ")"};
}

Millis backoff_delay(int attempt, double unit_random, Millis min, Millis max) {
  assert(min.count() > 0 && max >= min);
  Millis base = min;
  for (int i = 0; i < attempt && base < max; ++i) base *= 2;  // stops long before overflow
  base = std::min(base, max);
  if (!(unit_random >= 0)) unit_random = 0;  // also NaN
  if (unit_random >= 1) unit_random = std::nextafter(1.0, 0.0);
  const auto half = base.count() / 2;
  const auto span = static_cast<double>(base.count() - half);
  const auto jitter = static_cast<Millis::rep>(std::floor(unit_random * (span + 1)));
  return Millis(std::min<Millis::rep>(half + jitter, base.count()));
}

}  // namespace vigil
