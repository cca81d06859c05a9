// The table of check kinds: one row per kind, in CheckKind order, each with
// keys of its own, defaults, and a runner on a real loop.
#define BOOST_TEST_MODULE checks_kinds
#include "probes/checks/kinds.hpp"

#include <boost/test/unit_test.hpp>
#include <set>

#include "core/sd_handles.hpp"
#include "probes/checks/exec.hpp"
#include "probes/checks/results.hpp"
#include "probes/checks/tcp.hpp"

using namespace vigil;

BOOST_AUTO_TEST_CASE(every_kind_has_its_row_in_order) {
  BOOST_REQUIRE(check_kinds().size() == kind_names<CheckKind>().size());
  for (std::size_t i = 0; i < check_kinds().size(); ++i) {
    const CheckKindInfo& k = check_kinds()[i];
    BOOST_TEST_INFO(to_string(k.kind));
    BOOST_TEST(static_cast<std::size_t>(k.kind) == i);
    // docker_health judges what the Docker watcher knows: nothing to set.
    if (k.kind != CheckKind::kDockerHealth) BOOST_TEST(!k.keys.empty());
    BOOST_TEST(!k.summary.empty());
    BOOST_TEST(!k.defaults().empty());
    BOOST_TEST(k.validate != nullptr);
    BOOST_TEST(k.make_runner != nullptr);
    std::set<std::string> names;
    for (const auto& key : k.keys) {
      BOOST_TEST(names.insert(key.name).second, key.name << " twice");
      BOOST_TEST(std::string(key.valid).size() > 0u, key.name << " says nothing of what is valid");
    }
    for (const auto& common : common_check_keys()) BOOST_TEST(!names.count(common.name), common.name);
  }
}

BOOST_AUTO_TEST_CASE(keys_shared_by_kinds_are_listed_with_each) {
  BOOST_TEST(kinds_with_key("address") == "tcp, redis, postgres");
  BOOST_TEST(kinds_with_key("url") == "http, prometheus");
  BOOST_TEST(kinds_with_key("command") == "exec");
  BOOST_TEST(kinds_with_key("nonsense").empty());
}

BOOST_AUTO_TEST_CASE(settings_compare_by_value) {
  CheckSpec a = default_check(CheckKind::kTcp);
  CheckSpec b = default_check(CheckKind::kTcp);
  BOOST_TEST((a == b));
  b.settings.as<TcpSettings>().address = "127.0.0.1:1";
  BOOST_TEST(!(a == b));
  CheckSpec c = b;  // a copy holds its own settings
  c.settings.as<TcpSettings>().address = "127.0.0.1:2";
  BOOST_TEST(b.settings.as<TcpSettings>().address == "127.0.0.1:1");
  BOOST_TEST(!(default_check(CheckKind::kTcp) == default_check(CheckKind::kRedis)));
}

// A run through the table's factory on a real loop: a refused connection
// fails at once, an exec runs its program and reads its exit code.
BOOST_AUTO_TEST_CASE(runners_come_from_the_table) {
  sd_event* e = nullptr;
  BOOST_REQUIRE(sd_event_new(&e) >= 0);
  SdEventPtr event(e);
  CheckContext context(event.get());
  auto run = [&](const CheckSpec& c) {
    std::optional<CheckOutcome> out;
    auto runner = context.make(c);
    BOOST_REQUIRE(runner != nullptr);
    runner->start([&](CheckOutcome o) { out = std::move(o); });
    while (!out || runner->busy()) BOOST_REQUIRE(sd_event_run(event.get(), 5'000'000) >= 0);
    return std::move(*out);
  };
  CheckSpec tcp = default_check(CheckKind::kTcp);
  tcp.settings.as<TcpSettings>().address = "127.0.0.1:1";
  CheckOutcome refused = run(tcp);
  BOOST_TEST(!refused.ok);
  BOOST_TEST(!refused.timed_out);
  CheckSpec exec = default_check(CheckKind::kExec);
  exec.settings.as<ExecSettings>().command = {"/bin/sh", "-c", "echo 'DISK WARNING - 90% used'; exit 1"};
  CheckOutcome warning = run(exec);
  BOOST_TEST(warning.ok);  // WARNING passes unless warning_is_failure
  exec.settings.as<ExecSettings>().warning_is_failure = true;
  BOOST_TEST(!run(exec).ok);
  exec.settings.as<ExecSettings>().command = {"/bin/sleep", "5"};
  exec.timeout = Millis(100);
  exec.settings.as<ExecSettings>().kill_grace = Millis(0);
  CheckOutcome hung = run(exec);
  BOOST_TEST(!hung.ok);
  BOOST_TEST(hung.timed_out);
}

BOOST_AUTO_TEST_CASE(run_samples_label_the_check_and_its_target) {
  CheckSpec c = default_check(CheckKind::kTcp);
  c.name = "health";
  c.target = "web";
  CheckOutcome out;
  out.ok = true;
  out.values.push_back({"tcp_connect_seconds", {}, 0.001});
  out.values.push_back({"up", {{"target", "x"}}, 1, true});  // scraped
  auto samples = run_samples(c, std::move(out), CheckState::kOk, 1000);
  BOOST_REQUIRE(samples.size() == 5u);
  BOOST_TEST(samples[0].key.canonical() == "check_up{check=\"health\",target=\"web\"}");
  BOOST_TEST(samples[2].key.canonical() == "tcp_connect_seconds{check=\"health\",target=\"web\"}");
  BOOST_TEST(samples[3].key.canonical() == "up{exported_target=\"x\",target=\"web\"}");
  BOOST_TEST(samples[4].key.canonical() == "check_state{check=\"health\",target=\"web\"}");
  BOOST_TEST(samples[4].value == 1.0);
  // A check of its own: keyed by the check.
  c.target.clear();
  CheckOutcome scraped;
  scraped.values.push_back({"up", {{"check", "y"}}, 1, true});
  auto own = run_samples(c, std::move(scraped), std::nullopt, 1000);  // no state change: no check_state
  BOOST_TEST(own.size() == 3u);
  BOOST_TEST(own[0].key.canonical() == "check_up{check=\"health\"}");
  BOOST_TEST(own[2].key.canonical() == "up{check=\"health\",exported_check=\"y\"}");
}

BOOST_AUTO_TEST_CASE(transitions_become_typed_events) {
  CheckSpec c = default_check(CheckKind::kTcp);
  c.name = "health";
  c.target = "web";
  CheckStatus status;
  status.consecutive_failures = 2;
  status.flapping = true;
  Transition t{CheckState::kFailing, CheckState::kFailed, true, true};
  auto events = transition_events(c, t, status, "connection refused", 5000);
  BOOST_REQUIRE(events.size() == 2u);
  BOOST_TEST((events[0].kind == EventKind::kCheckFailed));
  BOOST_TEST((events[0].severity == Severity::kCritical));
  BOOST_TEST((events[1].kind == EventKind::kCheckFlapping));
}
