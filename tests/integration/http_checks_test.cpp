// http and prometheus checks run by the real vigild against the real test
// HTTP server (tests/helpers/httpd.cpp) on loopback.
#define BOOST_TEST_MODULE integration_http_checks
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "tests/integration/harness.hpp"

using namespace harness;
using nlohmann::json;

namespace {

void set_health_mode(const Httpd& h, const std::string& mode) {
  std::string answer = http_request(h.port, "POST", "/control/health?mode=" + mode);
  BOOST_REQUIRE_MESSAGE(answer.find("mode " + mode) != std::string::npos, answer);
}

std::string target_header() {
  return "[[target]]\nname = \"svc\"\npid = 1\n";
}

// One [[target.check]] of target "svc"; `extra` holds more "  key = value\n" lines.
std::string check(const std::string& name, const std::string& url, const std::string& extra = "",
                  const std::string& kind = "http", const std::string& timeout = "1s") {
  return "\n  [[target.check]]\n  name = \"" + name + "\"\n  kind = \"" + kind + "\"\n  url = \"" + url +
         "\"\n  interval = \"300ms\"\n  timeout = \"" + timeout + "\"\n  fail_after = 1\n  recover_after = 2\n" + extra;
}

std::vector<json> events_of(Vigil& v, const std::string& kind, const std::string& check_name) {
  auto all = v.events(kind);
  std::erase_if(all, [&](const json& e) { return e["check"] != check_name; });
  return all;
}

// The first `kind` event of `check_name`, waiting up to `timeout` for it.
json wait_event(Vigil& v, const std::string& kind, const std::string& check_name,
                std::chrono::milliseconds timeout = 6s) {
  std::vector<json> found;
  bool ok = wait_for(timeout, [&] {
    found = events_of(v, kind, check_name);
    return !found.empty();
  });
  BOOST_REQUIRE_MESSAGE(ok, "no " << kind << " event for check " << check_name << "; log:\n" << v.log());
  BOOST_TEST_MESSAGE(check_name << ": " << kind << ": " << found.front()["message"].get<std::string>());
  return found.front();
}

std::string reason_of(const json& event) {
  const auto& d = event["details"];
  return d.is_object() && d.contains("reason") && d["reason"].is_string() ? d["reason"].get<std::string>()
                                                                          : std::string();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Series of `metric` whose labels include `labels`, as returned by vigil query.
json query(Vigil& v, const std::string& metric, const std::map<std::string, std::string>& labels) {
  std::vector<std::string> args = {"query", metric, "--since", "10m"};
  for (const auto& [k, val] : labels) {
    args.push_back("--label");
    args.push_back(k + "=" + val);
  }
  auto j = v.cli_json(args);
  return j.is_array() ? j : json::array();
}

std::vector<double> values_of(Vigil& v, const std::string& metric, const std::map<std::string, std::string>& labels) {
  std::vector<double> out;
  for (const auto& s : query(v, metric, labels)) {
    for (const auto& p : s["points"]) out.push_back(p["value"].get<double>());
  }
  return out;
}

// The newest value of `metric` in the series matching `labels`; NaN when there is none.
double last_value(Vigil& v, const std::string& metric, const std::map<std::string, std::string>& labels) {
  auto all = values_of(v, metric, labels);
  return all.empty() ? std::nan("") : all.back();
}

}  // namespace

BOOST_AUTO_TEST_CASE(healthy_then_503_then_recovers) {
  Httpd h;
  // The same endpoint by name: its transfer has a lookup phase.
  std::string by_name = h.url("/health");
  by_name.replace(by_name.find("127.0.0.1"), 9, "localhost");
  Vigil v(target_header() + check("health", h.url("/health"), "  expect_body = \"ok\"\n") + check("named", by_name));
  v.start();
  auto ok = wait_event(v, "check_ok", "health");
  BOOST_TEST(ok["target"] == "svc");
  BOOST_TEST(ok["severity"] == "info");
  BOOST_REQUIRE_MESSAGE(wait_for(3s,
                                 [&] {
                                   return !values_of(v, "check_up", {{"check", "health"}}).empty();
                                 }),
                        v.log());
  BOOST_TEST(last_value(v, "check_up", {{"check", "health"}}) == 1);
  BOOST_TEST(last_value(v, "http_status_code", {{"check", "health"}, {"target", "svc"}}) == 200);
  BOOST_TEST(!values_of(v, "check_duration_seconds", {{"check", "health"}}).empty());
  BOOST_TEST(last_value(v, "http_body_bytes", {{"check", "health"}}) == 3);  // "ok\n"
  for (const char* phase : {"connect", "first_byte", "transfer"}) {
    auto phase_values = values_of(v, "http_phase_seconds", {{"check", "health"}, {"phase", phase}});
    BOOST_TEST(!phase_values.empty(), "no http_phase_seconds{phase=" << phase << "}");
    for (double s : phase_values) BOOST_TEST(s >= 0, phase << " took " << s << " s");
  }
  BOOST_TEST(values_of(v, "http_phase_seconds", {{"check", "health"}, {"phase", "tls"}}).empty());
  // An address literal is not looked up: no dns phase is stored for it; a name is.
  BOOST_TEST(values_of(v, "http_phase_seconds", {{"check", "health"}, {"phase", "dns"}}).empty());
  wait_event(v, "check_ok", "named");
  BOOST_REQUIRE_MESSAGE(
      wait_for(3s,
               [&] {
                 return !values_of(v, "http_phase_seconds", {{"check", "named"}, {"phase", "dns"}}).empty();
               }),
      v.log());

  set_health_mode(h, "status-503");
  auto failed = wait_event(v, "check_failed", "health");
  std::string reason = reason_of(failed);
  BOOST_TEST(contains(reason, "HTTP 503 from " + h.url("/health")), reason);
  BOOST_TEST(contains(failed["message"].get<std::string>(), "HTTP 503"));
  BOOST_TEST(failed["details"]["from"] == "ok");
  BOOST_TEST(failed["severity"] == "critical");
  BOOST_TEST(last_value(v, "http_status_code", {{"check", "health"}}) == 503);

  set_health_mode(h, "ok");
  auto recovering = wait_event(v, "check_recovering", "health");
  BOOST_TEST(recovering["details"]["from"] == "failed");
  BOOST_REQUIRE_MESSAGE(wait_for(5s, [&] { return events_of(v, "check_ok", "health").size() == 2u; }), v.log());
  BOOST_TEST(events_of(v, "check_ok", "health").back()["details"]["from"] == "recovering");
  BOOST_TEST(events_of(v, "check_failing", "health").empty());           // fail_after = 1: straight to failed
  BOOST_TEST(last_value(v, "check_state", {{"check", "health"}}) == 1);  // CheckState::kOk
  auto st = v.stop();
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}

BOOST_AUTO_TEST_CASE(hanging_endpoint_times_out_with_the_phase) {
  Httpd h;
  set_health_mode(h, "hang");
  Vigil v(target_header() + check("health", h.url("/health")));
  v.start();
  auto failed = wait_event(v, "check_failed", "health", 8s);
  std::string reason = reason_of(failed);
  BOOST_TEST(contains(reason, "timed out after 1s"), reason);
  BOOST_TEST(contains(reason, "no first byte"), reason);
  auto up = values_of(v, "check_up", {{"check", "health"}});
  BOOST_REQUIRE(!up.empty());
  BOOST_TEST(up.back() == 0);
  auto took = values_of(v, "check_duration_seconds", {{"check", "health"}});
  BOOST_REQUIRE(!took.empty());
  BOOST_TEST(took.back() >= 0.9, "took " << took.back() << " s");  // it waited for the timeout
  auto st = v.stop();
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}

BOOST_AUTO_TEST_CASE(delay_body_status_and_redirects) {
  Httpd h;
  Vigil v(target_header() +                         //
          check("delay", h.url("/delay?ms=300")) +  //
          check("body", h.url("/health"), "  expect_body = \"healthy\"\n") +
          check("notfound", h.url("/status/404"), "  expect_status = [\"404\"]\n") +
          check("teapot", h.url("/status/418")) +  // default: 2xx only
          check("loop", h.url("/redirect-loop")) + check("loop3", h.url("/redirect-loop"), "  follow_redirects = 3\n") +
          check("followed", h.url("/redirect?to=/health"), "  follow_redirects = 1\n"));
  v.start();

  wait_event(v, "check_ok", "delay");
  auto delay_took = values_of(v, "check_duration_seconds", {{"check", "delay"}});
  BOOST_REQUIRE(!delay_took.empty());
  BOOST_TEST(delay_took.front() >= 0.29, "a 300 ms delay took " << delay_took.front() << " s");
  auto first_byte = values_of(v, "http_phase_seconds", {{"check", "delay"}, {"phase", "first_byte"}});
  BOOST_REQUIRE(!first_byte.empty());
  BOOST_TEST(first_byte.front() >= 0.25, "first byte after " << first_byte.front() << " s");

  std::string reason = reason_of(wait_event(v, "check_failed", "body"));
  BOOST_TEST(contains(reason, "body did not contain \"healthy\""), reason);
  BOOST_TEST(contains(reason, "ok"), reason);  // the start of what came

  wait_event(v, "check_ok", "notfound");
  BOOST_TEST(last_value(v, "http_status_code", {{"check", "notfound"}}) == 404);

  reason = reason_of(wait_event(v, "check_failed", "teapot"));
  BOOST_TEST(contains(reason, "HTTP 418"), reason);

  reason = reason_of(wait_event(v, "check_failed", "loop"));
  BOOST_TEST(contains(reason, "redirect"), reason);
  BOOST_TEST(contains(reason, "not followed"), reason);

  reason = reason_of(wait_event(v, "check_failed", "loop3"));
  BOOST_TEST(contains(reason, "more than 3 redirects"), reason);

  wait_event(v, "check_ok", "followed");
  BOOST_TEST(last_value(v, "http_status_code", {{"check", "followed"}}) == 200);

  // None of the good ones ever failed.
  for (const char* name : {"delay", "notfound", "followed"}) {
    BOOST_TEST(events_of(v, "check_failed", name).empty(), name << " failed: " << v.log());
  }
  v.stop();
}

BOOST_AUTO_TEST_CASE(oversized_bodies_fail_without_growing_memory) {
  Httpd h;
  const std::string max = "  max_body = \"1MiB\"\n";
  Vigil v(target_header() +  //
          check("big", h.url("/big?bytes=104857600"), max) +
          check("chunked", h.url("/big?bytes=104857600&chunked=1"), max) +
          check("chunked_regex", h.url("/big?bytes=104857600&chunked=1"), max + "  expect_body_regex = \"^y\"\n"));
  v.start();
  for (const char* name : {"big", "chunked", "chunked_regex"}) {
    std::string reason = reason_of(wait_event(v, "check_failed", name));
    BOOST_TEST(contains(reason, "larger than max_body"), name << ": " << reason);
    BOOST_TEST(contains(reason, "1MiB"), name << ": " << reason);
  }
  // Several runs each, so that a leak or an unbounded buffer would show.
  BOOST_REQUIRE_MESSAGE(wait_for(10s,
                                 [&] {
                                   for (const char* name : {"big", "chunked", "chunked_regex"}) {
                                     if (values_of(v, "check_up", {{"check", name}}).size() < 4) {
                                       return false;
                                     }
                                   }
                                   return true;
                                 }),
                        v.log());
  for (const char* name : {"chunked", "chunked_regex"}) {
    auto bytes = values_of(v, "http_body_bytes", {{"check", name}});
    BOOST_REQUIRE(!bytes.empty());
    BOOST_TEST(*std::max_element(bytes.begin(), bytes.end()) <= 1024.0 * 1024.0, name);
  }
  BOOST_TEST_MESSAGE("vigild VmHWM " << status_kib(v.daemon.pid(), "VmHWM") << " KiB");  // a figure, not a limit
  auto st = v.stop();
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}

BOOST_AUTO_TEST_CASE(closed_mid_response_and_connection_refused) {
  Httpd h;
  const int dead_port = free_port();
  const std::string dead_url = "http://127.0.0.1:" + std::to_string(dead_port) + "/health";
  Vigil v(target_header() + check("close", h.url("/close")) + check("refused", dead_url));
  v.start();
  std::string reason = reason_of(wait_event(v, "check_failed", "close"));
  BOOST_TEST(contains(reason, "closed mid-response"), reason);
  reason = reason_of(wait_event(v, "check_failed", "refused"));
  BOOST_TEST(contains(reason, "connection refused"), reason);
  BOOST_TEST(contains(reason, dead_url), reason);
  BOOST_TEST(values_of(v, "http_status_code", {{"check", "refused"}}).empty());
  v.stop();
}

BOOST_AUTO_TEST_CASE(tls_verification) {
  TempDir certs;
  const std::string cert = certs / "cert.pem", key = certs / "key.pem";
  RunResult gen = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                       "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  BOOST_REQUIRE_MESSAGE(gen.exit_code == 0, "openssl: " << gen.err);
  Httpd h({"--tls", cert, key});
  const std::string url = h.url("/health", "https");
  Vigil v(target_header() +  //
          check("with_ca", url, "  ca_file = \"" + cert + "\"\n") + check("system_ca", url) +
          check("insecure", url, "  insecure = true\n"));
  v.start();
  wait_event(v, "check_ok", "with_ca");
  auto tls = values_of(v, "http_phase_seconds", {{"check", "with_ca"}, {"phase", "tls"}});
  BOOST_TEST(!tls.empty(), "no tls phase for an https check");
  std::string reason = reason_of(wait_event(v, "check_failed", "system_ca"));
  BOOST_TEST(reason.rfind("TLS:", 0) == 0u, reason);
  wait_event(v, "check_ok", "insecure");
  for (const char* name : {"with_ca", "insecure"}) {
    BOOST_TEST(events_of(v, "check_failed", name).empty(), name << ": " << v.log());
  }
  v.stop();
}

BOOST_AUTO_TEST_CASE(expected_headers) {
  Httpd h;
  Vigil v(target_header() +  //
          check("content_type", h.url("/metrics"), "  expect_header = [\"Content-Type: text/plain\"]\n") +
          check("present", h.url("/header?name=X-Foo&value=bar"), "  expect_header = [\"x-foo\"]\n") +
          check("wrong_value", h.url("/header?name=X-Foo&value=bar"), "  expect_header = [\"X-Foo: baz\"]\n") +
          check("missing", h.url("/health"), "  expect_header = [\"X-Missing\"]\n"));
  v.start();
  wait_event(v, "check_ok", "content_type");
  wait_event(v, "check_ok", "present");
  std::string reason = reason_of(wait_event(v, "check_failed", "wrong_value"));
  BOOST_TEST(contains(reason, "X-Foo"), reason);
  BOOST_TEST(contains(reason, "baz"), reason);
  reason = reason_of(wait_event(v, "check_failed", "missing"));
  BOOST_TEST(contains(reason, "X-Missing"), reason);
  v.stop();
}

BOOST_AUTO_TEST_CASE(prometheus_scrape) {
  Httpd h;
  TempDir files;
  // A target label in the service's own exposition must not replace the check's target.
  write_file(files / "expo.txt", "# TYPE app_up gauge\napp_up{target=\"db\",shard=\"2\"} 1\napp_other 5\n");
  Vigil v(target_header() +  //
          check("scrape", h.url("/metrics"), "  metrics = [\"test_up\", \"test_latency_seconds\"]\n", "prometheus") +
          check("own_target", h.url("/metrics-file?path=" + (files / "expo.txt")), "  metrics = [\"app_up\"]\n",
                "prometheus") +
          check("bad", h.url("/metrics-bad"), "  metrics = [\"*\"]\n", "prometheus"));
  v.start();
  wait_event(v, "check_ok", "scrape");
  BOOST_REQUIRE_MESSAGE(wait_for(3s, [&] { return !query(v, "test_up", {{"target", "svc"}}).empty(); }), v.log());
  auto up = query(v, "test_up", {{"target", "svc"}});
  BOOST_REQUIRE_EQUAL(up.size(), 1u);
  BOOST_TEST(up[0]["labels"]["target"] == "svc");
  BOOST_TEST(up[0]["points"].back()["value"].get<double>() == 1);

  auto buckets = query(v, "test_latency_seconds_bucket", {{"target", "svc"}});
  std::set<std::string> les;
  double inf_count = -1;
  for (const auto& s : buckets) {
    BOOST_REQUIRE(s["labels"].contains("le"));
    std::string le = s["labels"]["le"];
    les.insert(le);
    if (le == "+Inf") inf_count = s["points"].back()["value"].get<double>();
  }
  BOOST_TEST(les.size() == 4u, "le labels: " << buckets.dump());
  BOOST_TEST(inf_count == 10);
  BOOST_TEST(last_value(v, "test_latency_seconds_count", {{"target", "svc"}}) == 10);
  BOOST_TEST(last_value(v, "test_latency_seconds_sum", {{"target", "svc"}}) == 3.5);

  auto kept = values_of(v, "scrape_samples_kept", {{"check", "scrape"}});
  auto seen = values_of(v, "scrape_samples_seen", {{"check", "scrape"}});
  BOOST_REQUIRE(!kept.empty());
  BOOST_REQUIRE(!seen.empty());
  BOOST_TEST(kept.back() == 7);  // test_up + 4 buckets + sum + count
  BOOST_TEST(seen.back() > kept.back());

  // Not in the allow-list: never stored.
  for (const char* name : {"test_requests*", "test_http_responses*", "app_other"}) {
    auto listed = v.cli_json({"series", "--match", name});
    BOOST_TEST(listed.is_array());
    BOOST_TEST(listed.empty(), name << " stored: " << listed.dump());
  }

  wait_event(v, "check_ok", "own_target");
  BOOST_REQUIRE_MESSAGE(wait_for(3s, [&] { return !query(v, "app_up", {}).empty(); }), v.log());
  auto app = query(v, "app_up", {});
  BOOST_REQUIRE_EQUAL(app.size(), 1u);
  BOOST_TEST(app[0]["labels"]["target"] == "svc");
  BOOST_TEST(app[0]["labels"]["exported_target"] == "db");
  BOOST_TEST(app[0]["labels"]["shard"] == "2");

  std::string reason = reason_of(wait_event(v, "check_failed", "bad"));
  BOOST_TEST(contains(reason, "line 3"), reason);
  v.stop();
}

BOOST_AUTO_TEST_CASE(hung_transfers_neither_block_the_loop_nor_shutdown) {
  Httpd h;
  Vigil v(target_header() +  //
          check("healthy", h.url("/health")) + check("hang", h.url("/hang")) +
          check("drip", h.url("/drip?bytes=100000&interval_ms=100")) +
          check("hang_long", h.url("/hang"), "", "http", "30s") +
          check("drip_long", h.url("/drip?bytes=100000&interval_ms=100"), "", "http", "30s"));
  v.start();
  std::string reason = reason_of(wait_event(v, "check_failed", "hang"));
  BOOST_TEST(contains(reason, "no first byte"), reason);
  reason = reason_of(wait_event(v, "check_failed", "drip"));
  BOOST_TEST(contains(reason, "timed out after 1s"), reason);
  BOOST_TEST(contains(reason, "receiving the body"), reason);

  // The healthy check kept running on time while the others waited.
  auto runs_before = values_of(v, "check_up", {{"check", "healthy"}}).size();
  BOOST_REQUIRE_MESSAGE(wait_for(3s,
                                 [&] {
                                   return values_of(v, "check_up", {{"check", "healthy"}}).size() >= runs_before + 3;
                                 }),
                        v.log());
  BOOST_TEST(events_of(v, "check_failed", "healthy").empty());
  BOOST_TEST(values_of(v, "check_up", {{"check", "hang_long"}}).empty());  // still in flight

  auto asked = Clock::now();
  auto st = v.stop(2s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - asked);
  BOOST_REQUIRE_MESSAGE(st.has_value(), "vigild still running 2 s after SIGTERM; log:\n" << v.log());
  BOOST_TEST_MESSAGE("vigild stopped " << took.count() << " ms after SIGTERM");
  BOOST_TEST(WIFEXITED(*st));
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}
