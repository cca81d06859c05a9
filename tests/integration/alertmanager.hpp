// tests/integration/alertmanager.hpp: a real Prometheus Alertmanager for the
// tests and benchmarks, and the records of vigil-test-httpd's /hook.
#pragma once

#include <sstream>

#include "tests/integration/harness.hpp"

namespace harness {

using nlohmann::json;

inline constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

// The "alertmanager" requirement of the cases that start one.
inline std::optional<std::string> alertmanager_missing() {
  if (fs::exists(kAlertmanager)) return std::nullopt;
  return std::string(kAlertmanager) + " is not installed (apt install prometheus-alertmanager)";
}

// One Alertmanager whose only receiver is a webhook to `hook_url`, with
// group_wait 0s and no grouping, so each alert is notified on its own.
struct Alertmanager {
  TempDir dir;
  Child child;
  int port = 0;
  int cluster_port = 0;

  Alertmanager(const std::string& hook_url, int want_port = 0, int peer_cluster_port = 0, bool cluster = false) {
    port = want_port != 0 ? want_port : free_port();
    write_file(dir / "am.yml",
               "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
               "  group_by: ['...']\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: " +
                   hook_url + "\n        send_resolved: true\n");
    std::vector<std::string> argv = {kAlertmanager, "--config.file=" + (dir / "am.yml"),
                                     "--storage.path=" + (dir / "data"),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port)};
    if (cluster) {
      cluster_port = free_port();
      argv.push_back("--cluster.listen-address=127.0.0.1:" + std::to_string(cluster_port));
      argv.push_back("--cluster.advertise-address=127.0.0.1:" + std::to_string(cluster_port));
      argv.push_back("--cluster.peer-timeout=2s");
      argv.push_back("--cluster.settle-timeout=2s");
      if (peer_cluster_port != 0) argv.push_back("--cluster.peer=127.0.0.1:" + std::to_string(peer_cluster_port));
    } else {
      argv.push_back("--cluster.listen-address=");
    }
    child = Child::start(argv, {}, dir / "am.log");
    BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return ready(); }),
                          "Alertmanager did not become ready: " << slurp(dir / "am.log"));
  }
  ~Alertmanager() {
    child.signal(SIGTERM);
    child.wait(5s);
  }
  bool ready() const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return up && http_request(port, "GET", "/-/ready").find(" 200 ") != std::string::npos;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

  // Its alerts (GET /api/v2/alerts), or an empty array.
  json alerts() const {
    std::string answer = http_request(port, "GET", "/api/v2/alerts");
    auto body = answer.find("\r\n\r\n");
    if (body == std::string::npos) return json::array();
    auto j = json::parse(answer.substr(body + 4), nullptr, false);
    return j.is_array() ? j : json::array();
  }
  // A counter of its own /metrics (0 when absent or unreadable).
  double metric(const std::string& name) const {
    std::string answer = http_request(port, "GET", "/metrics");
    auto at = answer.find("\n" + name + " ");
    return at == std::string::npos ? 0.0 : std::atof(answer.c_str() + at + name.size() + 2);
  }
  // The active alert named `alertname`, or null.
  json active(const std::string& alertname) const {
    for (const auto& a : alerts()) {
      if (a["labels"].value("alertname", "") == alertname && a["status"].value("state", "") == "active") return a;
    }
    return json();
  }
};

// What a /hook recorded: (time, status answered, Authorization, body), in arrival order.
struct Hook {
  long long ms = 0;
  int status;
  std::string authorization;  // "Bearer_TOKEN" (spaces as _), or "-"
  json body;
};
inline std::vector<Hook> hooks(const Httpd& h) {
  std::string answer = http_request(h.port, "GET", "/hooks");
  std::vector<Hook> out;
  auto body = answer.find("\r\n\r\n");
  if (body == std::string::npos) return out;
  std::istringstream in(answer.substr(body + 4));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Hook hk;
    fields >> hk.ms >> hk.status >> hk.authorization;
    std::string rest;
    std::getline(fields, rest);
    hk.body = json::parse(rest, nullptr, false);
    out.push_back(std::move(hk));
  }
  return out;
}

// The (status, alertname) of every alert in the accepted (2xx) bodies, in order.
inline std::vector<std::pair<std::string, std::string>> accepted_alerts(const Httpd& h, const std::string& alertname) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& hk : hooks(h)) {
    if (hk.status >= 300 || !hk.body.is_object()) continue;
    for (const auto& a : hk.body["alerts"]) {
      if (a["labels"].value("alertname", "") == alertname) out.emplace_back(a.value("status", ""), a["startsAt"]);
    }
  }
  return out;
}

}  // namespace harness
