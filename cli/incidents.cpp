// vigil incidents and vigil incident ID: failures, their root causes, actions and recovery.
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace vigil::cli {

namespace {

// "+2.013s", "-0.500s", "+1h2m5.120s": a time relative to the incident's
// start, to the millisecond.
std::string offset_text(WallMs offset) {
  const WallMs magnitude = offset < 0 ? -offset : offset;
  const WallMs below_minute = magnitude % 60'000;
  std::string out(1, offset < 0 ? '-' : '+');
  if (magnitude >= 60'000) out += format_duration(Millis(magnitude - below_minute));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03llds", static_cast<long long>(below_minute / 1000),
                static_cast<long long>(below_minute % 1000));
  return out + buf;
}

// Unset times (0) stay unset rather than a 1970 date or a negative span.
std::optional<WallMs> detect_ms(const IncidentRow& r) {
  if (r.detected_ms == 0) return std::nullopt;
  return std::max<WallMs>(0, r.detected_ms - r.started_ms);
}

std::optional<WallMs> recover_ms(const IncidentRow& r) {
  if (r.recovered_ms == 0) return std::nullopt;
  return std::max<WallMs>(0, r.recovered_ms - r.started_ms);
}

std::string action_short(const IncidentAction& a) {
  const std::string action(to_string(a.action));
  if (a.result == ActionStatus::kWould) return "would " + action;  // dry run
  return action + " " + std::string(to_string(a.result));
}

// The target, or "NAME (check)" for a check of its own.
std::string subject(const IncidentRow& r) {
  return r.target.empty() ? r.check + " (check)" : r.target;
}

// "restart failed, restart ok"; a long escalation is cut (the JSON has all).
std::string actions_summary(const IncidentRow& r) {
  if (r.actions.empty()) return "-";
  constexpr std::size_t kShown = 4;
  std::string out;
  for (std::size_t i = 0; i < r.actions.size() && i < kShown; ++i) {
    if (i > 0) out += ", ";
    out += action_short(r.actions[i]);
  }
  if (r.actions.size() > kShown) out += ", +" + std::to_string(r.actions.size() - kShown) + " more";
  return out;
}

std::string recover_text(const IncidentRow& r) {
  if (auto ms = recover_ms(r)) return human_ms(*ms);
  return r.given_up ? "open (given up)" : "open";
}

// A stored time of 0 means "not yet" (an open incident, a running action).
std::optional<WallMs> unless_zero(WallMs ms) {
  return ms != 0 ? std::optional<WallMs>(ms) : std::nullopt;
}
json optional_json(std::optional<WallMs> ms) {
  return ms ? json(*ms) : json(nullptr);
}
json ms_json(WallMs ms) {
  return optional_json(unless_zero(ms));
}
json time_json(WallMs ms) {
  return ms != 0 ? json(format_rfc3339_ms(ms)) : json(nullptr);
}

json incident_json(const IncidentRow& r) {
  json actions = json::array();
  std::int64_t seq = 0;
  for (const auto& a : r.actions) {
    json ja = {{"seq", ++seq},
               {"action", to_string(a.action)},
               {"detail", a.detail},
               {"result", to_string(a.result)},
               {"message", a.message},
               {"started", time_json(a.started_ms)},
               {"started_ms", a.started_ms}};
    ja["finished"] = time_json(a.finished_ms);
    ja["finished_ms"] = ms_json(a.finished_ms);
    ja["duration_ms"] = a.finished_ms != 0 ? json(std::max<WallMs>(0, a.finished_ms - a.started_ms)) : json(nullptr);
    actions.push_back(std::move(ja));
  }
  json j = {{"id", r.id},
            {"target", r.target},
            {"check", r.check},
            {"trigger", r.trigger.text()},
            {"root_cause", to_string(r.root_cause)},
            {"summary", r.summary},
            {"started", format_rfc3339_ms(r.started_ms)},
            {"started_ms", r.started_ms},
            {"open", r.recovered_ms == 0},
            {"given_up", r.given_up},
            {"dry_run", r.dry_run}};
  j["detected"] = time_json(r.detected_ms);
  j["detected_ms"] = ms_json(r.detected_ms);
  j["recovered"] = time_json(r.recovered_ms);
  j["recovered_ms"] = ms_json(r.recovered_ms);
  j["detect_ms"] = optional_json(detect_ms(r));
  j["recover_ms"] = optional_json(recover_ms(r));
  j["updated"] = time_json(r.updated_ms);
  j["updated_ms"] = ms_json(r.updated_ms);
  json evidence = json::parse(r.evidence, nullptr, false);
  j["evidence"] = evidence.is_discarded() ? json(r.evidence) : std::move(evidence);
  j["actions"] = std::move(actions);
  return j;
}

int cmd_incidents(const Options& c, const std::string& target, const std::string& since_text,
                  const std::string& until_text, bool open_only, std::int64_t limit) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  IncidentQuery q;
  if (!target.empty()) q.target = target;
  if (!since_text.empty()) q.since = time_arg("--since", since_text, now);
  if (!until_text.empty()) q.until = time_arg("--until", until_text, now);
  if (q.since && q.until && *q.since > *q.until) throw UsageError{"--since is after --until"};
  q.open_only = open_only;
  q.limit = static_cast<std::size_t>(limit);
  StoreReader store = c.open();
  auto incidents = must(store.incidents(q));
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& r : incidents) out.push_back(incident_json(r));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (f == Format::kCsv) {
    std::cout << "id,target,trigger,started_ms,started,detected_ms,recovered_ms,detect_ms,recover_ms,root_cause,"
                 "summary,actions,given_up,dry_run,check\n";
    auto field = [](std::optional<WallMs> ms) { return ms ? std::to_string(*ms) : std::string(); };
    for (const auto& r : incidents) {
      std::cout << r.id << "," << csv_field(r.target) << "," << csv_field(r.trigger.text()) << "," << r.started_ms
                << "," << format_rfc3339_ms(r.started_ms) << "," << field(unless_zero(r.detected_ms)) << ","
                << field(unless_zero(r.recovered_ms)) << "," << field(detect_ms(r)) << "," << field(recover_ms(r))
                << "," << csv_field(to_string(r.root_cause)) << "," << csv_field(r.summary) << ","
                << csv_field(r.actions.empty() ? "" : actions_summary(r)) << "," << (r.given_up ? "true" : "false")
                << "," << (r.dry_run ? "true" : "false") << "," << csv_field(r.check) << "\n";
    }
    return 0;
  }
  if (incidents.empty()) {
    std::cerr << "no " << (open_only ? "open incidents" : "incidents") << (target.empty() ? "" : " of " + target)
              << (q.since || q.until ? " in that time range" : "") << " in " << c.db_path() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> table;
  std::size_t recovered = 0;
  WallMs recover_total = 0;
  for (const auto& r : incidents) {
    if (auto ms = recover_ms(r)) {
      ++recovered;
      recover_total += *ms;
    }
    auto detect = detect_ms(r);
    table.push_back({std::to_string(r.id), subject(r), format_rfc3339_ms(r.started_ms),
                     std::string(to_string(r.root_cause)), detect ? human_ms(*detect) : "-", recover_text(r),
                     actions_summary(r), r.trigger.text()});
  }
  print_table({"ID", "TARGET", "STARTED", "ROOT CAUSE", "DETECT", "RECOVER", "ACTIONS", "TRIGGER"}, table);
  if (recovered > 0) {
    std::cout << incidents.size() << (incidents.size() == 1 ? " incident, " : " incidents, ") << recovered
              << " recovered, MTTR " << human_ms(recover_total / static_cast<WallMs>(recovered)) << "\n";
  }
  return 0;
}

// What the incident's start was, by its trigger.
std::string start_text(const IncidentRow& r) {
  switch (r.trigger.kind) {
    case TriggerKind::kCrash:
      return "started (the exit)";
    case TriggerKind::kCheck:
      return "started (first failing result)";
    case TriggerKind::kRule:
      return "started (the rule's condition first held)";
  }
  return "started";
}

struct TimelineEntry {
  WallMs ts_ms = 0;
  std::string kind;  // started, detected, action, event, recovered, open
  std::string text;
};

// The incident's own moments, then the target's events; a stable sort puts
// the incident's moment first when an event has the same time.
std::vector<TimelineEntry> timeline(const IncidentRow& r, const std::vector<Event>& events, WallMs now) {
  std::vector<TimelineEntry> out;
  out.push_back({r.started_ms, "started", start_text(r)});
  if (r.detected_ms != 0) out.push_back({r.detected_ms, "detected", "detected: " + r.trigger.text()});
  for (const auto& a : r.actions) {
    auto with = [](std::string head, const std::string& tail) { return tail.empty() ? head : head + ": " + tail; };
    const std::string action(to_string(a.action));
    if (a.result == ActionStatus::kWould) {
      out.push_back({a.started_ms, "action",
                     with("would " + action, a.detail) + (a.message.empty() ? "" : " (" + a.message + ")")});
    } else if (a.result == ActionStatus::kSkipped) {
      out.push_back({a.started_ms, "action", with(action + " skipped", a.message.empty() ? a.detail : a.message)});
    } else {
      out.push_back({a.started_ms, "action", with(action + " started", a.detail)});
      if (a.finished_ms != 0) {
        out.push_back({a.finished_ms, "action", with(action + " " + std::string(to_string(a.result)), a.message)});
      }
    }
  }
  if (r.recovered_ms != 0) {
    out.push_back({r.recovered_ms, "recovered", "recovered"});
  } else {
    out.push_back({now, "open", r.given_up ? "still open (actions given up)" : "still open"});
  }
  for (const auto& e : events) {
    out.push_back({e.ts_ms, "event", "event " + std::string(to_string(e.kind)) + ": " + e.message});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TimelineEntry& a, const TimelineEntry& b) { return a.ts_ms < b.ts_ms; });
  return out;
}

// Nested objects as dotted keys; strings bare, other values as JSON.
void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
    return;
  }
  out.emplace_back(prefix, j.is_string() ? j.get<std::string>() : j.dump());
}

int cmd_incident(const Options& c, const std::string& id_text) {
  const Format format = c.parsed_format({Format::kTable, Format::kJson});
  auto id = to_i64(id_text);
  if (!id || *id <= 0) {
    throw UsageError{"incident ID: \"" + id_text + "\" is not an incident number (vigil incidents lists them)"};
  }
  const std::string path = c.db_path();
  StoreReader store = c.open();
  auto found = must(store.incident(*id));
  if (!found) throw UsageError{"no incident " + std::to_string(*id) + " in " + path + " (vigil incidents lists them)"};
  const IncidentRow& r = *found;
  const WallMs now = wall_now_ms();
  // The target's events from just before the start to just after the end.
  EventQuery q;
  q.target = r.target;  // "" for a check of its own: every event of the time, filtered below
  q.since = r.started_ms - 1000;
  q.until = (r.recovered_ms != 0 ? r.recovered_ms : now) + 1000;
  auto events = must(store.events(q));
  if (r.target.empty()) std::erase_if(events, [&](const Event& e) { return e.check != r.check; });
  auto entries = timeline(r, events, now);

  if (format == Format::kJson) {
    json j = incident_json(r);
    json items = json::array();
    for (const auto& e : entries) {
      items.push_back({{"offset_ms", e.ts_ms - r.started_ms},
                       {"time", format_rfc3339_ms(e.ts_ms)},
                       {"ts_ms", e.ts_ms},
                       {"kind", e.kind},
                       {"text", e.text}});
    }
    j["timeline"] = std::move(items);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "incident " << r.id << ": " << subject(r) << ", started " << format_rfc3339_ms(r.started_ms) << ", "
            << (r.recovered_ms != 0 ? "recovered after " + human_ms(*recover_ms(r))
                                    : "open for " + human_ms(now - r.started_ms))
            << (r.dry_run ? " (dry run: no action taken)" : "") << "\n";
  std::vector<std::string> offsets;
  std::size_t width = 0;
  for (const auto& e : entries) {
    offsets.push_back(offset_text(e.ts_ms - r.started_ms));
    width = std::max(width, offsets.back().size());
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::cout << "  " << std::string(width - offsets[i].size(), ' ') << offsets[i] << "  " << entries[i].text << "\n";
  }
  std::cout << "root cause: " << to_string(r.root_cause) << (r.summary.empty() ? "" : ": " + r.summary) << "\n";
  if (r.given_up) std::cout << "actions: given up (the rate limit stopped further actions)\n";
  json evidence = json::parse(r.evidence, nullptr, false);
  if (evidence.is_discarded()) {
    std::cout << "evidence: " << (r.evidence.empty() ? "none" : r.evidence) << "\n";
  } else {
    std::vector<std::pair<std::string, std::string>> lines;
    flatten(evidence, "", lines);
    if (lines.empty() || (lines.size() == 1 && lines[0].first.empty() && lines[0].second == "{}")) {
      std::cout << "evidence: none\n";
    } else {
      std::cout << "evidence:\n";
      for (const auto& [k, v] : lines) std::cout << "  " << (k.empty() ? "" : k + ": ") << v << "\n";
    }
  }
  return 0;
}

}  // namespace

std::vector<Command> add_incidents(CLI::App& app, const Options& options) {
  struct Args {
    std::string target, since, until, id;
    bool open = false;
    std::int64_t limit = 0;
  };
  auto a = std::make_shared<Args>();
  auto* list = app.add_subcommand(
      "incidents", "Incidents: when each target failed, the root cause, the actions, time to detect and recover, MTTR");
  list->add_option("--target", a->target, "Only the incidents of this target");
  list->add_option("--since", a->since, "Only incidents still open or recovered at this time (default: all)");
  list->add_option("--until", a->until, "Only incidents started by this time (default now)");
  list->add_flag("--open", a->open, "Only the incidents not recovered yet");
  add_limit(list, a->limit, "incidents");
  auto* one = app.add_subcommand(
      "incident", "One incident's timeline (detection, actions, recovery, the target's events), root cause, evidence");
  one->add_option("id", a->id, "The incident's number, from vigil incidents")->required();
  return {{list, [&options, a] { return cmd_incidents(options, a->target, a->since, a->until, a->open, a->limit); }},
          {one, [&options, a] { return cmd_incident(options, a->id); }}};
}

}  // namespace vigil::cli
