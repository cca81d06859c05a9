// Alerts from the real vigild to a real Prometheus Alertmanager (Debian's
// prometheus-alertmanager, started here on kernel-chosen loopback ports) and
// to webhook receivers run by the test (vigil-test-httpd's /hook, which
// records every body it is posted with the status it answered).
#define BOOST_TEST_MODULE integration_alerting
#include <algorithm>

#include "tests/integration/alertmanager.hpp"

using namespace harness;
using nlohmann::json;

VIGIL_REQUIREMENT("alertmanager", alertmanager_missing);

namespace {

std::size_t count_status(const std::vector<std::pair<std::string, std::string>>& v, const std::string& status) {
  return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [&](const auto& p) { return p.first == status; }));
}

void set_health_mode(const Httpd& h, const std::string& mode) {
  std::string answer = http_request(h.port, "POST", "/control/health?mode=" + mode);
  BOOST_REQUIRE_MESSAGE(answer.find("mode " + mode) != std::string::npos, answer);
}

void set_hook_status(const Httpd& h, int status) {
  std::string answer = http_request(h.port, "POST", "/control/hook?status=" + std::to_string(status));
  BOOST_REQUIRE_MESSAGE(answer.find("hook status") != std::string::npos, answer);
}

std::string health_check(const Httpd& service) {
  return stand_in_target("gw") + "[[check]]\nname = \"web\"\ntarget = \"gw\"\nkind = \"http\"\nurl = \"" +
         service.url("/health") + "\"\nfail_after = 1\nrecover_after = 1\ntimeout = \"500ms\"\n";
}

std::string alertmanager(const std::string& url, const std::string& name = "") {
  return "[[alertmanager]]\nurl = \"" + url + "\"\n" + (name.empty() ? "" : "name = \"" + name + "\"\n");
}

std::string webhook(const Httpd& h, const std::string& name = "") {
  return "[[webhook]]\nurl = \"" + h.url("/hook") + "\"\n" + (name.empty() ? "" : "name = \"" + name + "\"\n");
}

const std::string kAlerting = "[alerting]\nresend_interval = \"2s\"\n";

}  // namespace

BOOST_AUTO_TEST_CASE(a_failed_check_reaches_alertmanager_and_the_webhook_and_resolves,
                     *boost::unit_test::label("alertmanager")) {
  Httpd service, am_sink, direct;
  Alertmanager am(am_sink.url("/hook"));
  Vigil v(kAlerting + alertmanager(am.url()) + webhook(direct) + health_check(service));
  v.start();
  BOOST_REQUIRE(wait_for(10s, [&] { return !am.active("VigilHeartbeat").is_null(); }));
  set_health_mode(service, "status-503");
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !am.active("CheckFailed").is_null(); }), v.log());
  json a = am.active("CheckFailed");
  BOOST_TEST(a["labels"]["target"] == "gw");
  BOOST_TEST(a["labels"]["check"] == "web");
  BOOST_TEST(a["labels"]["severity"] == "critical");
  BOOST_TEST(a["labels"]["job"] == "vigil");
  BOOST_TEST(!a["labels"].value("instance", "").empty());
  BOOST_TEST(a["annotations"].value("summary", "").find("HTTP 503") != std::string::npos);
  // The direct webhook and Alertmanager's own webhook both hear of it.
  BOOST_REQUIRE(wait_for(10s, [&] { return count_status(accepted_alerts(direct, "CheckFailed"), "firing") >= 1; }));
  BOOST_REQUIRE(wait_for(10s, [&] { return count_status(accepted_alerts(am_sink, "CheckFailed"), "firing") >= 1; }));
  BOOST_TEST(wait_for(5s, [&] {  // once the writer committed it
    return v.cli_json({"alerts", "--state", "firing"}).dump().find("CheckFailed") != std::string::npos;
  }));

  set_health_mode(service, "ok");
  BOOST_REQUIRE(wait_for(10s, [&] { return count_status(accepted_alerts(direct, "CheckFailed"), "resolved") >= 1; }));
  BOOST_REQUIRE(wait_for(10s, [&] { return am.active("CheckFailed").is_null(); }));
  BOOST_REQUIRE(wait_for(10s, [&] { return count_status(accepted_alerts(am_sink, "CheckFailed"), "resolved") >= 1; }));
  // The webhook body is Alertmanager's webhook format.
  for (const auto& hk : hooks(direct)) {
    BOOST_TEST(hk.body.value("version", "") == "4");
    BOOST_TEST(hk.body.contains("groupKey"));
    BOOST_TEST(hk.body["alerts"].is_array());
  }
  BOOST_REQUIRE(wait_for(5s, [&] {
    auto resolved = v.cli_json({"alerts", "--state", "resolved"});
    return resolved.dump().find("CheckFailed") != std::string::npos;
  }));
  BOOST_TEST(v.events("alert_firing").size() == 1u);
  BOOST_TEST(v.events("alert_resolved").size() == 1u);
  BOOST_REQUIRE(v.stop() == 0);
  auto queue = v.cli_json({"alerts", "queue"});
  for (const auto& r : queue) BOOST_TEST(r["pending"] == 0);
}

BOOST_AUTO_TEST_CASE(an_outage_with_a_kill_9_loses_no_transition, *boost::unit_test::label("alertmanager")) {
  Httpd service, am_sink, direct;
  set_hook_status(direct, 503);     // the webhook is down too
  const int am_port = free_port();  // Alertmanager starts later, on this port
  Vigil v(kAlerting + alertmanager("http://127.0.0.1:" + std::to_string(am_port)) + webhook(direct) +
          health_check(service));
  v.start();
  set_health_mode(service, "status-503");
  BOOST_REQUIRE(wait_for(10s, [&] { return v.events("alert_firing").size() == 1; }));
  set_health_mode(service, "ok");
  BOOST_REQUIRE(wait_for(10s, [&] { return v.events("alert_resolved").size() == 1; }));
  // Both transitions wait in the outbox (one row per receiver), committed.
  BOOST_REQUIRE(wait_for(5s, [&] {
    auto q = v.cli_json({"alerts", "queue"});
    std::size_t pending = 0;
    for (const auto& r : q) pending += r["pending"].get<std::size_t>();
    return pending >= 4;  // firing + resolved, for each receiver (the heartbeat's too)
  }));
  v.daemon.signal(SIGKILL);
  BOOST_REQUIRE(v.daemon.wait(5s).has_value());

  v.start();
  set_health_mode(service, "status-503");
  BOOST_REQUIRE(wait_for(15s, [&] { return v.events("alert_firing").size() == 2; }));
  // Failed retries during the outage, with their error.
  BOOST_TEST(wait_for(15s, [&] {
    for (const auto& r : v.cli_json({"alerts", "queue"})) {
      if (!r["last_error"].get<std::string>().empty()) return true;
    }
    return false;
  }));

  // The receivers come back.
  set_hook_status(direct, 200);
  Alertmanager am(am_sink.url("/hook"), am_port);
  BOOST_REQUIRE_MESSAGE(wait_for(60s, [&] { return accepted_alerts(direct, "CheckFailed").size() >= 3; }), v.log());
  auto seen = accepted_alerts(direct, "CheckFailed");
  BOOST_REQUIRE(seen.size() >= 3u);
  BOOST_TEST(seen[0].first == "firing");
  BOOST_TEST(seen[1].first == "resolved");
  BOOST_TEST(seen[2].first == "firing");
  BOOST_TEST(seen[0].second == seen[1].second);  // the same alert: startsAt of the first firing
  BOOST_TEST(seen[2].second != seen[0].second);  // fired again later
  // Alertmanager ends with the last state: firing.
  BOOST_REQUIRE(wait_for(30s, [&] { return !am.active("CheckFailed").is_null(); }));
  BOOST_REQUIRE(wait_for(30s, [&] {
    auto queue = v.cli_json({"alerts", "queue"});
    for (const auto& r : queue) {
      if (r["pending"] != 0) return false;
    }
    return true;
  }));
  BOOST_REQUIRE(v.stop() == 0);
}

BOOST_AUTO_TEST_CASE(two_clustered_alertmanagers_both_get_the_alert_and_notify_once,
                     *boost::unit_test::label("alertmanager")) {
  Httpd service, am_sink;
  Alertmanager am1(am_sink.url("/hook"), 0, 0, true);
  Alertmanager am2(am_sink.url("/hook"), 0, am1.cluster_port, true);
  Vigil v(kAlerting + "heartbeat = false\n" + alertmanager(am1.url(), "am1") + alertmanager(am2.url(), "am2") +
          health_check(service));
  v.start();
  BOOST_REQUIRE(wait_for(15s, [&] { return !v.events("check_ok").empty(); }));
  set_health_mode(service, "status-503");
  BOOST_REQUIRE(wait_for(15s, [&] { return !am1.active("CheckFailed").is_null(); }));
  BOOST_REQUIRE(wait_for(15s, [&] { return !am2.active("CheckFailed").is_null(); }));
  BOOST_REQUIRE(wait_for(15s, [&] { return count_status(accepted_alerts(am_sink, "CheckFailed"), "firing") >= 1; }));
  // Each one waits its position x peer_timeout, then looks its notification
  // up in the gossiped log (an nflog query) before it would send: once both
  // have looked, exactly one has notified.
  BOOST_REQUIRE(wait_for(20s, [&] {
    return am1.metric("alertmanager_nflog_queries_total") >= 1 && am2.metric("alertmanager_nflog_queries_total") >= 1;
  }));
  BOOST_TEST(count_status(accepted_alerts(am_sink, "CheckFailed"), "firing") == 1u);
  BOOST_REQUIRE(v.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_receiver_that_answers_400_does_not_block_another) {
  Httpd service, refusing, healthy;
  set_hook_status(refusing, 400);
  // And an Alertmanager that is down (nothing listens on its port): its
  // queue backs off on its own.
  const std::string down = "http://127.0.0.1:" + std::to_string(free_port());
  Vigil v(kAlerting + "heartbeat = false\n" + webhook(refusing, "refusing") + webhook(healthy, "healthy") +
          alertmanager(down, "down") + health_check(service));
  v.start();
  set_health_mode(service, "status-503");
  BOOST_REQUIRE(wait_for(10s, [&] { return count_status(accepted_alerts(healthy, "CheckFailed"), "firing") == 1; }));
  // The refused message is tried 5 times, then dropped and recorded.
  BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return v.events("alert_delivery_dropped").size() == 1; }), v.log());
  auto dropped = v.events("alert_delivery_dropped")[0];
  std::size_t attempts = 0;
  for (const auto& hk : hooks(refusing)) attempts += hk.status == 400 ? 1 : 0;
  BOOST_TEST(attempts == 5u);
  // Counted as the receiver saw them, and said to be dropped, in the event and the log.
  const std::string message = dropped["message"].get<std::string>();
  BOOST_TEST(message.rfind("receiver refusing refused an alert 5 times: dropped it so that the queue goes on: HTTP 400 "
                           "from ",
                           0) == 0,
             message);
  BOOST_TEST(message.find("(refusal 5 of 5: dropped)") != std::string::npos, message);
  BOOST_TEST(dropped["details"]["refusals"] == 5);
  BOOST_TEST(dropped["details"]["attempts"] == 5);
  std::istringstream log(v.log());
  std::size_t drop_lines = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.find("refusal 5 of 5") == std::string::npos) continue;
    drop_lines += line.find("dropped the alert") != std::string::npos;
    BOOST_TEST(line.find("retrying") == std::string::npos, line);
  }
  BOOST_TEST(drop_lines == 1u);
  // The next transition goes through to the healthy one, and is tried on the refusing one.
  set_health_mode(service, "ok");
  BOOST_REQUIRE(wait_for(10s, [&] { return count_status(accepted_alerts(healthy, "CheckFailed"), "resolved") == 1; }));
  BOOST_REQUIRE(wait_for(15s, [&] { return v.events("alert_delivery_dropped").size() == 2; }));
  // The one that is down keeps both transitions, in order, with its error.
  BOOST_REQUIRE(wait_for(5s, [&] {
    for (const auto& r : v.cli_json({"alerts", "queue"})) {
      if (r["receiver"] == "down") return r["pending"] == 2 && !r["last_error"].get<std::string>().empty();
    }
    return false;
  }));
  BOOST_REQUIRE(v.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_growth_rule_fires_for_a_leaking_process) {
  Httpd hook;
  TempDir work;
  std::string pidfile = work / "hog.pid";
  Child hog = Child::start({env_path("MEMHOG"), "--pidfile", pidfile}, {}, "", true);
  BOOST_REQUIRE(hog.read_line().rfind("ready", 0) == 0);
  Vigil v("[alerting]\nheartbeat = false\n" + webhook(hook) + "[[target]]\nname = \"hog\"\npidfile = \"" + pidfile +
          "\"\n[[rule]]\nname = \"HogLeak\"\nkind = \"growth\"\nmetric = \"process_resident_memory_bytes\"\n"
          "target = \"hog\"\nbaseline = \"3s\"\nmax_growth = \"10%\"\nfor = \"2s\"\n"
          "annotations = { summary = \"{{target}} grew to {{value}} (fires above {{threshold}})\" }\n");
  v.start();
  // The baseline window (3 s) passes with a flat RSS: five samples, a second apart.
  auto rss = [&] { return v.cli_json({"query", "process_resident_memory_bytes", "--target", "hog", "--since", "5m"}); };
  auto points = [&] {
    auto r = rss();
    return r.is_array() && !r.empty() ? r[0]["points"] : json::array();
  };
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return points().size() >= 5; }), v.log());
  BOOST_TEST(v.events("alert_firing").empty());
  for (int i = 0; i < 8; ++i) {  // then it leaks 8 MiB a sample
    const std::size_t seen = points().size();
    hog.send_line("alloc 8");
    BOOST_REQUIRE(hog.read_line() == "ok");
    BOOST_REQUIRE(wait_for(10s, [&] { return points().size() > seen; }));
  }
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return count_status(accepted_alerts(hook, "HogLeak"), "firing") == 1; }),
                        v.log());
  auto firing = v.cli_json({"alerts", "--state", "firing"});
  BOOST_REQUIRE(firing.is_array() && !firing.empty());
  BOOST_TEST(firing[0]["alertname"] == "HogLeak");
  BOOST_TEST(firing[0]["labels"]["target"] == "hog");
  std::string summary = firing[0]["summary"];
  BOOST_TEST(summary.find("hog grew to") != std::string::npos, summary);
  BOOST_TEST(summary.find("MiB") != std::string::npos, summary);
  auto fired = v.events("alert_firing");
  BOOST_REQUIRE(!fired.empty());
  BOOST_TEST(fired[0]["message"].get<std::string>().find("above its baseline") != std::string::npos);

  // A restarted vigild keeps the alert firing (no second notification) and
  // reads the baseline window back from the store: when the process gives
  // its memory back, the alert resolves without waiting for a restart of
  // the process.
  BOOST_REQUIRE(v.stop() == 0);
  const std::size_t before_restart = points().size();
  v.start();
  // Three new samples: the rule decided again with the read-back baseline.
  BOOST_REQUIRE(wait_for(20s, [&] { return points().size() >= before_restart + 3; }));
  BOOST_TEST(v.events("alert_firing").size() == 1u);
  BOOST_TEST(v.events("alert_resolved").empty());
  hog.send_line("free");
  BOOST_REQUIRE(hog.read_line() == "ok");
  BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return count_status(accepted_alerts(hook, "HogLeak"), "resolved") == 1; }),
                        v.log());
  BOOST_TEST(count_status(accepted_alerts(hook, "HogLeak"), "firing") == 1u);
  BOOST_REQUIRE(v.stop() == 0);
  hog.send_line("exit 0");
}

BOOST_AUTO_TEST_CASE(receivers_authenticate_with_credentials_read_from_files) {
  Httpd bearer, basic;
  TempDir secrets;
  write_file(secrets / "token", "s3cret-token\n");
  write_file(secrets / "password", "pa:ss\n");
  Vigil v("[alerting]\nresend_interval = \"2s\"\n[[webhook]]\nname = \"bearer\"\nurl = \"" + bearer.url("/hook") +
              "\"\nbearer_token_file = \"" + (secrets / "token") +
              "\"\nresend = true\n[[webhook]]\nname = \"basic\"\nurl = \"" + basic.url("/hook") +
              "\"\nusername = \"vigil\"\npassword_file = \"" + (secrets / "password") + "\"\n",
          "status_interval = \"1s\"\n");
  v.start();
  // The heartbeat is the first alert each one gets.
  BOOST_REQUIRE(wait_for(10s, [&] { return !hooks(bearer).empty() && !hooks(basic).empty(); }));
  BOOST_TEST(hooks(bearer)[0].authorization == "Bearer_s3cret-token");
  BOOST_TEST(hooks(basic)[0].authorization == "Basic_dmlnaWw6cGE6c3M=");  // base64("vigil:pa:ss")
  // A rotated token is used from the next send on (resend = true re-sends every 2s).
  write_file(secrets / "token", "rotated\n");
  BOOST_REQUIRE(wait_for(10s, [&] { return hooks(bearer).back().authorization == "Bearer_rotated"; }));
  // An unreadable token file fails the delivery with its reason (not as
  // "no answer"), and nothing is sent.
  fs::remove(secrets / "token");
  const std::string unreadable = "bearer_token_file " + (secrets / "token") + " cannot be opened";
  BOOST_REQUIRE(wait_for(10s, [&] { return v.log().find(unreadable) != std::string::npos; }));
  BOOST_TEST(v.log().find("not sent to " + bearer.url("/hook") + ": " + unreadable) != std::string::npos, v.log());
  // And --check-config warns of it at its key, the config still valid.
  RunResult check = run({env_path("VIGILD"), "--check-config", "--config", v.config_path});
  BOOST_TEST(check.exit_code == 0, check.out << check.err);
  BOOST_TEST((check.out + check.err).find("webhook[bearer].bearer_token_file") != std::string::npos,
             check.out << check.err);
  BOOST_TEST((check.out + check.err).find("every delivery to this receiver fails") != std::string::npos);
  const std::size_t sent = hooks(bearer).size();
  // Two more failed sends (the self metric, every status_interval of 1 s) and nothing arrived.
  auto failures = [&] {
    auto r =
        v.cli_json({"query", "vigil_alert_delivery_failures_total", "--label", "receiver=bearer", "--since", "5m"});
    return r.is_array() && !r.empty() && !r[0]["points"].empty() ? r[0]["points"].back()["value"].get<double>() : 0.0;
  };
  const double failed_before = failures();
  BOOST_REQUIRE(wait_for(20s, [&] { return failures() >= failed_before + 2; }));
  BOOST_TEST(hooks(bearer).size() == sent);
  BOOST_REQUIRE(v.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_tls_receiver_is_verified_with_its_ca_file) {
  TempDir certs;
  const std::string cert = certs / "cert.pem", key = certs / "key.pem";
  RunResult gen = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                       "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  BOOST_REQUIRE_MESSAGE(gen.exit_code == 0, "openssl: " << gen.err);
  Httpd tls({"--tls", cert, key});
  Vigil v("[[webhook]]\nname = \"trusted\"\nurl = \"" + tls.url("/hook", "https") + "\"\nca_file = \"" + cert +
              "\"\n[[webhook]]\nname = \"untrusted\"\nurl = \"" + tls.url("/hook", "https") + "\"\n",
          "status_interval = \"1s\"\n");
  v.start();
  // The heartbeat reaches it through the receiver that trusts the certificate
  // (its delivery counter, sampled every second) ...
  BOOST_REQUIRE_MESSAGE(wait_for(10s,
                                 [&] {
                                   auto d = v.cli_json({"query", "vigil_alert_delivered_total", "--label",
                                                        "receiver=trusted", "--since", "1m"});
                                   return d.is_array() && !d.empty() && !d[0]["points"].empty() &&
                                          d[0]["points"].back()["value"] == 1;
                                 }),
                        v.log());
  // ... and waits, with a certificate error, in the queue of the one that does not.
  BOOST_REQUIRE(wait_for(10s, [&] {
    for (const auto& r : v.cli_json({"alerts", "queue"})) {
      if (r["receiver"] == "untrusted") {
        const std::string e = r["last_error"];
        return r["pending"] == 1 && (e.find("certificate") != std::string::npos || e.find("SSL") != std::string::npos);
      }
    }
    return false;
  }));
  BOOST_REQUIRE(v.stop() == 0);
}
