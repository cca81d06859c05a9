// vigil events: what happened, newest last.
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace vigil::cli {

namespace {

int cmd_events(const Options& c, const std::string& since_text, const std::string& until_text, const std::string& kind,
               const std::string& target, std::int64_t limit) {
  Format f = c.parsed_format();
  WallMs now = wall_now_ms();
  EventQuery q;
  q.since = time_arg("--since", since_text, now);
  if (!until_text.empty()) q.until = time_arg("--until", until_text, now);
  if (!kind.empty()) q.kind = kind;
  if (!target.empty()) q.target = target;
  q.limit = static_cast<std::size_t>(limit);
  StoreReader store = c.open();
  auto events = must(store.events(q));
  if (f == Format::kJson) {
    json out = json::array();
    for (const auto& e : events) {
      json j = {
          {"ts", e.ts_ms},    {"time", format_rfc3339_ms(e.ts_ms)}, {"kind", to_string(e.kind)}, {"target", e.target},
          {"check", e.check}, {"severity", to_string(e.severity)},  {"message", e.message}};
      j["details"] = e.details.empty() ? json(nullptr) : json::parse(e.details, nullptr, false);
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
  } else if (f == Format::kCsv) {
    std::cout << "ts_ms,time,severity,kind,target,check,message,details\n";
    for (const auto& e : events) {
      std::cout << e.ts_ms << "," << format_rfc3339_ms(e.ts_ms) << "," << to_string(e.severity) << ","
                << csv_field(to_string(e.kind)) << "," << csv_field(e.target) << "," << csv_field(e.check) << ","
                << csv_field(e.message) << "," << csv_field(e.details) << "\n";
    }
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : events) {
      rows.push_back({format_rfc3339_ms(e.ts_ms), std::string(to_string(e.severity)), std::string(to_string(e.kind)),
                      e.target.empty() ? "-" : e.target, e.message});
    }
    if (rows.empty()) {
      std::cerr << "no events since " << format_rfc3339_ms(*q.since) << "\n";
    } else {
      print_table({"TIME", "SEVERITY", "KIND", "TARGET", "MESSAGE"}, rows);
    }
  }
  return 0;
}

}  // namespace

Command add_events(CLI::App& app, const Options& options) {
  struct Args {
    std::string since = "24h", until, kind, target;
    std::int64_t limit = 0;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("events", "Print recorded events (daemon start/stop, target restarts, ...)");
  sub->add_option("--since", a->since, "Start of the range (default 24h)");
  sub->add_option("--until", a->until, "End of the range (default now)");
  // Every kind that is recorded: not "unknown" (a name this build does not
  // know) nor check_unknown (a check's state never returns to unknown).
  std::string kinds;
  for (std::string_view n : kind_names<EventKind>()) {
    const EventKind k = *parse_kind<EventKind>(n);
    if (k != EventKind::kUnknown && k != EventKind::kCheckUnknown)
      kinds += (kinds.empty() ? "" : ", ") + std::string(n);
  }
  sub->add_option("--kind", a->kind, "Only events whose kind matches this glob, e.g. target_*. Kinds: " + kinds);
  sub->add_option("--target", a->target, "Only events of this target");
  add_limit(sub, a->limit, "events");
  return {sub, [&options, a] { return cmd_events(options, a->since, a->until, a->kind, a->target, a->limit); }};
}

}  // namespace vigil::cli
