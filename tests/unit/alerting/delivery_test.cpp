#define BOOST_TEST_MODULE alerting_delivery
#include "alerting/delivery.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace vigil;
using nlohmann::json;

namespace {

constexpr WallMs kStart = 1700000000123;  // 2023-11-14T22:13:20.123Z
constexpr WallMs kNow = kStart + 60000;

AlertMessage alert(std::string alertname, std::string target) {
  AlertMessage a;
  a.labels = {{"alertname", std::move(alertname)},
              {"check", "health"},
              {"instance", "host1"},
              {"job", "vigil"},
              {"severity", "page"},
              {"target", std::move(target)}};
  a.annotations = {{"summary", "health check failing"}, {"runbook_url", "https://runbooks/x"}};
  a.starts_ms = kStart;
  a.generator_url = "http://host1:9464/alerts";
  return a;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(payloads)

BOOST_AUTO_TEST_CASE(v2_body_fields) {
  AlertMessage firing = alert("TargetDown", "gateway");
  firing.ends_ms = kStart + 120000;
  AlertMessage open = alert("TargetDown", "cache");
  open.generator_url.clear();

  const json body = json::parse(alertmanager_v2_body({firing, open}));
  BOOST_TEST_REQUIRE(body.is_array());
  BOOST_TEST_REQUIRE(body.size() == 2u);
  const json& a = body[0];
  BOOST_TEST(a.size() == 5u);
  BOOST_TEST(a["labels"].size() == 6u);
  BOOST_TEST(a["labels"]["alertname"] == "TargetDown");
  BOOST_TEST(a["labels"]["job"] == "vigil");
  BOOST_TEST(a["labels"]["target"] == "gateway");
  BOOST_TEST(a["annotations"]["summary"] == "health check failing");
  BOOST_TEST(a["annotations"]["runbook_url"] == "https://runbooks/x");
  BOOST_TEST(a["startsAt"] == "2023-11-14T22:13:20.123Z");
  BOOST_TEST(a["endsAt"] == "2023-11-14T22:15:20.123Z");
  BOOST_TEST(a["generatorURL"] == "http://host1:9464/alerts");
  // The times read back through the project's own parser.
  auto parsed = parse_rfc3339(a["startsAt"].get<std::string>());
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(*parsed == kStart);

  const json& b = body[1];
  BOOST_TEST(b["labels"]["target"] == "cache");
  BOOST_TEST(!b.contains("endsAt"));
  BOOST_TEST(!b.contains("generatorURL"));
}

BOOST_AUTO_TEST_CASE(v2_body_empty_batch_and_empty_maps) {
  BOOST_TEST(json::parse(alertmanager_v2_body({})) == json::array());
  AlertMessage bare;
  const json body = json::parse(alertmanager_v2_body({bare}));
  BOOST_TEST(body[0]["labels"].is_object());
  BOOST_TEST(body[0]["annotations"].is_object());
  BOOST_TEST(body[0]["labels"].empty());
  BOOST_TEST(body[0]["startsAt"] == "1970-01-01T00:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(v2_body_escapes_text) {
  AlertMessage a = alert("TargetDown", "say \"hi\"\nback\\slash\ttab");
  a.annotations = {{"description", "caf\xC3\xA9 \xE2\x9C\x93 \x01"}, {"summary", "first"}, {"summary", "last"}};
  const std::string text = alertmanager_v2_body({a});
  BOOST_TEST(!contains(text, "\n"));  // the newline is escaped, not raw
  const json body = json::parse(text);
  BOOST_TEST(body[0]["labels"]["target"] == "say \"hi\"\nback\\slash\ttab");
  BOOST_TEST(body[0]["annotations"]["description"] == "caf\xC3\xA9 \xE2\x9C\x93 \x01");
  BOOST_TEST(body[0]["annotations"]["summary"] == "last");  // repeated name: the last wins
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced_not_fatal) {
  AlertMessage a = alert("TargetDown", "bad\xFFname");
  std::string text;
  BOOST_REQUIRE_NO_THROW(text = alertmanager_v2_body({a}));
  const json body = json::parse(text);
  BOOST_TEST(body[0]["labels"]["target"] == "bad\xEF\xBF\xBDname");  // U+FFFD
  BOOST_REQUIRE_NO_THROW(text = webhook_body({a}, "r", "", kNow));
  BOOST_TEST(json::parse(text)["alerts"][0]["labels"]["target"] == "bad\xEF\xBF\xBDname");
}

BOOST_AUTO_TEST_CASE(fingerprint_matches_prometheus) {
  // The vector from prometheus/common model/signature_test.go (5799056148416392346).
  BOOST_TEST(alert_fingerprint({{"fear", "love is not enough"}, {"name", "garland, briggs"}}) == "507a62d79ee76c9a");
  // Order of the input does not matter.
  BOOST_TEST(alert_fingerprint({{"name", "garland, briggs"}, {"fear", "love is not enough"}}) == "507a62d79ee76c9a");
  BOOST_TEST(alert_fingerprint({}) == "cbf29ce484222325");  // the FNV-1a offset basis
}

BOOST_AUTO_TEST_CASE(fingerprint_stable_and_distinct) {
  const Labels a = alert("TargetDown", "gateway").labels;
  const Labels b = alert("TargetDown", "cache").labels;
  BOOST_TEST(alert_fingerprint(a) == alert_fingerprint(a));
  BOOST_TEST(alert_fingerprint(a).size() == 16u);
  BOOST_TEST(alert_fingerprint(a) != alert_fingerprint(b));
  // The separators keep name/value boundaries apart.
  BOOST_TEST(alert_fingerprint({{"a", "bc"}}) != alert_fingerprint({{"ab", "c"}}));
  BOOST_TEST(alert_fingerprint({{"a", ""}, {"b", "x"}}) != alert_fingerprint({{"a", "b"}}));
}

BOOST_AUTO_TEST_CASE(webhook_shape_firing) {
  AlertMessage firing = alert("TargetDown", "gateway");
  firing.ends_ms = kNow + 120000;  // expiry in the future: still firing
  AlertMessage resolved = alert("TargetDown", "cache");
  resolved.ends_ms = kNow - 1000;
  resolved.annotations = {{"summary", "health check failing"}, {"runbook_url", "https://runbooks/y"}};

  const json w = json::parse(webhook_body({firing, resolved}, "ops", "http://vigil.example:9464", kNow));
  BOOST_TEST(w["version"] == "4");
  BOOST_TEST(w["status"] == "firing");
  BOOST_TEST(w["receiver"] == "ops");
  BOOST_TEST(w["externalURL"] == "http://vigil.example:9464");
  BOOST_TEST(w["truncatedAlerts"] == 0);
  BOOST_TEST(w["groupKey"] == "{}:{alertname=\"TargetDown\"}");
  BOOST_TEST(w["groupLabels"] == json({{"alertname", "TargetDown"}}));
  // Common labels: all but target; common annotations: only the equal summary.
  BOOST_TEST(w["commonLabels"].size() == 5u);
  BOOST_TEST(!w["commonLabels"].contains("target"));
  BOOST_TEST(w["commonLabels"]["instance"] == "host1");
  BOOST_TEST(w["commonAnnotations"] == json({{"summary", "health check failing"}}));

  BOOST_TEST_REQUIRE(w["alerts"].size() == 2u);
  const json& a = w["alerts"][0];
  BOOST_TEST(a["status"] == "firing");
  BOOST_TEST(a["labels"]["target"] == "gateway");
  BOOST_TEST(a["annotations"]["runbook_url"] == "https://runbooks/x");
  BOOST_TEST(a["startsAt"] == "2023-11-14T22:13:20.123Z");
  BOOST_TEST(a["endsAt"] == "0001-01-01T00:00:00Z");  // upstream hides a future end
  BOOST_TEST(a["generatorURL"] == "http://host1:9464/alerts");
  BOOST_TEST(a["fingerprint"] == alert_fingerprint(firing.labels));
  const json& b = w["alerts"][1];
  BOOST_TEST(b["status"] == "resolved");
  BOOST_TEST(b["endsAt"] == "2023-11-14T22:14:19.123Z");
  BOOST_TEST(b["fingerprint"] != a["fingerprint"]);
}

BOOST_AUTO_TEST_CASE(webhook_status_resolved_only_when_all_resolved) {
  AlertMessage r1 = alert("TargetDown", "gateway");
  r1.ends_ms = kNow;  // ending exactly now counts as resolved (Alertmanager: !EndsAt.After(now))
  AlertMessage r2 = alert("DiskFull", "cache");
  r2.ends_ms = kNow - 5;
  const json w = json::parse(webhook_body({r1, r2}, "ops", "", kNow));
  BOOST_TEST(w["status"] == "resolved");
  // Different alertnames: no group label.
  BOOST_TEST(w["groupLabels"] == json::object());
  BOOST_TEST(w["groupKey"] == "{}:{}");
  BOOST_TEST(!w["commonLabels"].contains("alertname"));

  AlertMessage open = alert("TargetDown", "db");  // no end at all: firing
  BOOST_TEST(json::parse(webhook_body({r1, open}, "ops", "", kNow))["status"] == "firing");
  BOOST_TEST(is_firing(open, kNow));
  BOOST_TEST(!is_firing(r1, kNow));
  BOOST_TEST(is_firing(r1, kNow - 1));
}

BOOST_AUTO_TEST_CASE(webhook_group_key_quotes_like_go) {
  AlertMessage a = alert("Odd \"name\"", "x");
  const json w = json::parse(webhook_body({a}, "ops", "", kNow));
  BOOST_TEST(w["groupKey"] == "{}:{alertname=\"Odd \\\"name\\\"\"}");
}

BOOST_AUTO_TEST_CASE(batches_of_64) {
  std::vector<AlertMessage> alerts;
  for (int i = 0; i < 130; ++i) alerts.push_back(alert("A", std::to_string(i)));
  const auto out = batches(alerts);
  BOOST_TEST_REQUIRE(out.size() == 3u);
  BOOST_TEST(out[0].size() == 64u);
  BOOST_TEST(out[1].size() == 64u);
  BOOST_TEST(out[2].size() == 2u);
  BOOST_TEST(out[0].front().labels.back().second == "0");
  BOOST_TEST(out[1].front().labels.back().second == "64");
  BOOST_TEST(out[2].back().labels.back().second == "129");

  BOOST_TEST(batches({}).empty());
  BOOST_TEST(batches(std::vector<AlertMessage>(64, alert("A", "x"))).size() == 1u);
  BOOST_TEST(batches(std::vector<AlertMessage>(65, alert("A", "x"))).size() == 2u);
  BOOST_TEST(batches(std::vector<AlertMessage>(5, alert("A", "x")), 2).size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(retries)

constexpr std::string_view kUrl = "http://127.0.0.1:9093/api/v2/alerts";

BOOST_AUTO_TEST_CASE(success_statuses_deliver) {
  for (long status : {200L, 202L, 204L}) {
    const auto r = classify_response(status, 1, kUrl, "");
    BOOST_TEST((r.verdict == DeliveryVerdict::kDelivered), "status " << status);
    BOOST_TEST(contains(r.reason, std::to_string(status)));
  }
}

BOOST_AUTO_TEST_CASE(transient_failures_retry_forever) {
  for (long status : {0L, 408L, 429L, 500L, 502L, 503L}) {
    for (int attempts : {1, 5, 1000}) {
      const auto r = classify_response(status, attempts, kUrl, "busy");
      BOOST_TEST((r.verdict == DeliveryVerdict::kRetry), "status " << status << " attempt " << attempts);
    }
  }
  const auto r = classify_response(0, 3, kUrl, "Connection refused");
  BOOST_TEST(contains(r.reason, std::string(kUrl)));
  BOOST_TEST(contains(r.reason, "Connection refused"));
}

BOOST_AUTO_TEST_CASE(client_errors_retry_then_drop) {
  for (long status : {400L, 401L, 404L}) {
    BOOST_TEST((classify_response(status, 1, kUrl, "").verdict == DeliveryVerdict::kRetry));
    BOOST_TEST((classify_response(status, 4, kUrl, "").verdict == DeliveryVerdict::kRetry));
    BOOST_TEST((classify_response(status, 5, kUrl, "").verdict == DeliveryVerdict::kDrop));
    BOOST_TEST((classify_response(status, 6, kUrl, "").verdict == DeliveryVerdict::kDrop));
  }
  BOOST_TEST((classify_response(400, 2, kUrl, "", 2).verdict == DeliveryVerdict::kDrop));
  BOOST_TEST((classify_response(400, 1, kUrl, "", 2).verdict == DeliveryVerdict::kRetry));

  const auto r = classify_response(400, 5, kUrl, "{\"code\":400,\"message\":\"bad labels\"}\n");
  BOOST_TEST(contains(r.reason, "HTTP 400 from http://127.0.0.1:9093/api/v2/alerts: "));
  BOOST_TEST(contains(r.reason, "bad labels"));
  BOOST_TEST(!contains(r.reason, "\n"));
}

BOOST_AUTO_TEST_CASE(reason_body_is_cut_and_printable) {
  std::string body(500, 'x');
  body[10] = '\r';
  body[11] = '\0';
  const auto r = classify_response(500, 1, kUrl, body);
  BOOST_TEST(contains(r.reason, std::string(188, 'x') + "..."));
  BOOST_TEST(!contains(r.reason, std::string(189, 'x')));
  BOOST_TEST(!contains(r.reason, "\r"));
  BOOST_TEST(r.reason.find('\0') == std::string::npos);

  // A multi-byte character across the cut is not split.
  std::string utf8 = std::string(199, 'y') + "\xC3\xA9" + "tail";
  const auto u = classify_response(503, 1, kUrl, utf8);
  BOOST_TEST(contains(u.reason, std::string(199, 'y') + "..."));
  BOOST_TEST(!contains(u.reason, "\xC3"));
}

BOOST_AUTO_TEST_CASE(backoff_bounds) {
  const Millis min(100), max(30000);
  for (int attempt = 0; attempt <= 20; ++attempt) {
    const long long base = std::min<long long>(30000, 100LL << attempt);
    const Millis lo = backoff_delay(attempt, 0.0);
    const Millis hi = backoff_delay(attempt, 0.999999);
    BOOST_TEST(lo.count() == base / 2, "attempt " << attempt);
    BOOST_TEST(hi.count() == base, "attempt " << attempt);
    for (double u : {0.0, 0.25, 0.5, 0.75, 0.999999}) {
      const Millis d = backoff_delay(attempt, u);
      BOOST_TEST(d.count() <= max.count());
      BOOST_TEST(d.count() >= (min / 2).count());
      BOOST_TEST(d.count() >= base / 2);
      BOOST_TEST(d.count() <= base);
    }
  }
  BOOST_TEST(backoff_delay(0, 0.0).count() == 50);
  BOOST_TEST(backoff_delay(0, 0.5).count() == 75);
  BOOST_TEST(backoff_delay(3, 0.5).count() == 600);    // base 800: 400 + 0.5 * 401
  BOOST_TEST(backoff_delay(9, 0.0).count() == 15000);  // base capped at 30 s
  // Nonsense inputs stay in bounds.
  BOOST_TEST(backoff_delay(1000000, 1.0).count() == 30000);
  BOOST_TEST(backoff_delay(-3, -1.0).count() == 50);
  BOOST_TEST(backoff_delay(2, 0.5, Millis(10), Millis(25)).count() == 19);  // base 25: 12 + floor(0.5 * 14)
}

BOOST_AUTO_TEST_CASE(backoff_increases_on_average) {
  BOOST_TEST(backoff_delay(1, 0.5).count() < backoff_delay(2, 0.5).count());
  BOOST_TEST(backoff_delay(5, 0.5).count() < backoff_delay(6, 0.5).count());
  BOOST_TEST(backoff_delay(9, 0.5).count() == backoff_delay(20, 0.5).count());  // flat at the cap
}

// A request that was never sent (its token file cannot be read) says so,
// not "no answer", and is retried like an outage, never dropped.
BOOST_AUTO_TEST_CASE(not_sent_says_why_and_retries) {
  const auto r = classify_response(kNotSent, 9, kUrl, "cannot read bearer_token_file /x: No such file");
  BOOST_TEST((r.verdict == DeliveryVerdict::kRetry));
  BOOST_TEST(
      r.reason == std::string("not sent to ") + std::string(kUrl) + ": cannot read bearer_token_file /x: No such file",
      r.reason);
}

BOOST_AUTO_TEST_SUITE_END()
