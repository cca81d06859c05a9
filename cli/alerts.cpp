// vigil alerts: alert states, and the durable outbox per receiver.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>

#include "cli/commands.hpp"
#include "cli/current.hpp"
#include "cli/output.hpp"
#include "core/builtin_rules.hpp"

namespace vigil::cli {

namespace {

// The alerts table: every alert vigild has evaluated, its phase and since when.
struct Row {
  AlertRow a;
  Labels labels;
  WallMs since_ms;
  std::string summary;
};

// The stored alerts in one phase (or all but inactive ones, which are
// pending alerts that never fired: noise), changed since `since`: firing
// first, then pending, resolved; newest first within each.
// The heartbeat says vigild is running: not shown while it is not.
std::vector<Row> read_rows(StoreReader& store, std::optional<AlertPhase> only, std::optional<WallMs> since,
                           bool running) {
  std::vector<Row> rows;
  for (auto& a : must(store.alerts())) {
    if (!running && a.rule == kHeartbeatRuleName) continue;
    if (only && a.phase != *only) continue;
    if (!only && a.phase == AlertPhase::kInactive) continue;
    if (since && a.updated_ms < *since) continue;
    Row r;
    r.labels = parse_labels_text(a.labels).value_or(Labels{});
    r.since_ms = a.phase == AlertPhase::kFiring     ? a.fired_ms
                 : a.phase == AlertPhase::kResolved ? a.resolved_ms
                 : a.phase == AlertPhase::kPending  ? a.active_since_ms
                                                    : a.updated_ms;
    auto ann = json::parse(a.annotations, nullptr, false);
    if (ann.is_object() && ann.contains("summary") && ann["summary"].is_string()) r.summary = ann["summary"];
    r.a = std::move(a);
    rows.push_back(std::move(r));
  }
  auto rank = [](AlertPhase p) {
    return p == AlertPhase::kFiring ? 0 : p == AlertPhase::kPending ? 1 : p == AlertPhase::kResolved ? 2 : 3;
  };
  std::sort(rows.begin(), rows.end(), [&](const Row& x, const Row& y) {
    if (rank(x.a.phase) != rank(y.a.phase)) return rank(x.a.phase) < rank(y.a.phase);
    return x.since_ms > y.since_ms;
  });
  return rows;
}

// The alert's labels other than those every alert has.
std::string own_labels(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (k == "alertname" || k == "instance" || k == "job" || k == "severity") continue;
    out += (out.empty() ? "" : ",") + k + "=" + v;
  }
  return out;
}

void print_json(const std::vector<Row>& rows) {
  json out = json::array();
  for (const auto& r : rows) {
    json j = {{"alertname", r.a.rule},
              {"state", std::string(to_string(r.a.phase))},
              {"labels", labels_json(r.labels)},
              {"since", format_rfc3339_ms(r.since_ms)},
              {"since_ms", r.since_ms},
              {"value", r.a.value},
              {"summary", r.summary}};
    j["fired_ms"] = r.a.fired_ms ? json(r.a.fired_ms) : json(nullptr);
    j["resolved_ms"] = r.a.resolved_ms ? json(r.a.resolved_ms) : json(nullptr);
    auto ann = json::parse(r.a.annotations, nullptr, false);
    j["annotations"] = ann.is_object() ? ann : json::object();
    out.push_back(std::move(j));
  }
  std::cout << out.dump(2) << "\n";
}

void print_csv(const std::vector<Row>& rows) {
  std::cout << "alertname,state,since_ms,severity,labels,value,summary\n";
  for (const auto& r : rows) {
    std::cout << csv_field(r.a.rule) << "," << std::string(to_string(r.a.phase)) << "," << r.since_ms << ","
              << csv_field(label_of(r.labels, "severity")) << "," << csv_field(own_labels(r.labels)) << ","
              << format_value(r.a.value) << "," << csv_field(r.summary) << "\n";
  }
}

void print_rows_table(const std::vector<Row>& rows, WallMs now) {
  std::vector<std::vector<std::string>> table;
  for (const auto& r : rows) {
    table.push_back({r.a.rule, std::string(to_string(r.a.phase)), ago(r.since_ms, now), label_of(r.labels, "severity"),
                     own_labels(r.labels), r.summary.empty() ? "-" : r.summary});
  }
  print_table({"ALERT", "STATE", "SINCE", "SEVERITY", "LABELS", "SUMMARY"}, table);
}

int cmd_alerts(const Options& c, const std::string& state, const std::string& since_text) {
  const Format f = c.parsed_format();
  std::optional<AlertPhase> only;
  if (!state.empty()) {
    only = parse_kind<AlertPhase>(state);
    if (!only) throw UsageError{"--state: \"" + state + "\" is not one of " + kind_list<AlertPhase>()};
  }
  const WallMs now = wall_now_ms();
  std::optional<WallMs> since;
  if (!since_text.empty()) since = time_arg("--since", since_text, now);
  StoreReader store = c.open();
  const Current current = read_current(store, c.db_path());
  const std::vector<Row> rows = read_rows(store, only, since, current.running());
  if (f == Format::kTable && !current.running()) {
    std::cout << current.stale_header("alert states are", now) << " (" << kHeartbeatRuleName << " stopped with it)\n";
  }
  if (f == Format::kJson) {
    print_json(rows);
  } else if (f == Format::kCsv) {
    print_csv(rows);
  } else if (rows.empty()) {
    std::cerr << "no " << (only ? state + " alerts" : std::string("alerts")) << " in the store\n";
  } else {
    print_rows_table(rows, now);
  }
  return 0;
}

int cmd_alerts_queue(const Options& c) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  StoreReader store = c.open();
  struct QueueRow {
    std::size_t pending = 0;
    WallMs oldest_ms = 0;
    int max_attempts = 0;
    WallMs next_attempt_ms = 0;
    std::string last_error;
  };
  std::map<std::string, QueueRow> rows;
  // Receivers of the configuration are listed even with nothing waiting.
  if (c.db.empty()) {
    LoadOptions options;
    if (!c.config.empty()) options.path = c.config;
    options.environ = environ;
    LoadResult loaded = load_config(options);
    if (loaded.ok()) {
      for (const auto& r : loaded.config.receivers) rows[r.name];
    }
  }
  for (const auto& o : must(store.outbox())) {  // ascending id: the head first
    QueueRow& r = rows[o.receiver];
    if (r.pending++ == 0) {
      r.oldest_ms = o.created_ms;
      r.next_attempt_ms = o.next_attempt_ms;
    }
    r.max_attempts = std::max(r.max_attempts, o.attempts);
    if (!o.last_error.empty()) r.last_error = o.last_error;
  }
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& [name, r] : rows) {
      json j = {{"receiver", name}, {"pending", r.pending}, {"attempts", r.max_attempts}, {"last_error", r.last_error}};
      j["oldest_ms"] = r.pending ? json(r.oldest_ms) : json(nullptr);
      j["oldest_age_seconds"] = r.pending ? json(static_cast<double>(now - r.oldest_ms) / 1000) : json(nullptr);
      j["next_attempt_ms"] = r.pending ? json(r.next_attempt_ms) : json(nullptr);
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
  } else if (f == Format::kCsv) {
    std::cout << "receiver,pending,oldest_ms,attempts,last_error\n";
    for (const auto& [name, r] : rows) {
      std::cout << csv_field(name) << "," << r.pending << "," << (r.pending ? std::to_string(r.oldest_ms) : "") << ","
                << r.max_attempts << "," << csv_field(r.last_error) << "\n";
    }
  } else if (rows.empty()) {
    std::cout << "nothing waits to be delivered\n";
  } else {
    std::vector<std::vector<std::string>> table;
    for (const auto& [name, r] : rows) {
      table.push_back({name, std::to_string(r.pending), r.pending ? ago(r.oldest_ms, now) : "-",
                       std::to_string(r.max_attempts), r.last_error.empty() ? "-" : r.last_error});
    }
    print_table({"RECEIVER", "PENDING", "OLDEST", "ATTEMPTS", "LAST ERROR"}, table);
  }
  return 0;
}

}  // namespace

std::vector<Command> add_alerts(CLI::App& app, const Options& options) {
  struct Args {
    std::string state, since;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("alerts", "Alerts: firing, pending and resolved, since when, and why");
  sub->require_subcommand(0, 1);
  sub->add_option("--state", a->state, "Only alerts in this state: firing, pending, resolved or inactive");
  sub->add_option("--since", a->since, "Only alerts that changed since this time (e.g. 1h)");
  auto* queue = sub->add_subcommand(
      "queue", "Per receiver: deliveries waiting in the durable outbox, the oldest one's age, attempts, last error");
  // The queue first: `vigil alerts queue` parses both.
  return {{queue, [&options] { return cmd_alerts_queue(options); }},
          {sub, [&options, a] { return cmd_alerts(options, a->state, a->since); }}};
}

}  // namespace vigil::cli
