#include "probes/checks/results.hpp"

#include <algorithm>

#include "core/log.hpp"

namespace vigil {

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  return out + "\"";
}

}  // namespace

Labels check_labels(const CheckSpec& c) {
  Labels labels{{"check", c.name}};
  if (!c.target.empty()) labels.emplace_back("target", c.target);
  return labels;
}

std::vector<Sample> run_samples(const CheckSpec& c, CheckOutcome&& out, std::optional<CheckState> state, WallMs now) {
  const Labels labels = check_labels(c);
  std::vector<Sample> samples;
  samples.reserve(out.values.size() + 3);
  auto add = [&](std::string metric, Labels l, double value) {
    samples.push_back(Sample{SeriesKey(std::move(metric), std::move(l)), now, value});
  };
  add("check_up", labels, out.ok ? 1 : 0);
  add("check_duration_seconds", labels, out.total_seconds);
  // The label a scraped series gets, and what a scraped one of that name becomes.
  const bool own = c.target.empty();
  const Label scrape_label = own ? Label{"check", c.name} : Label{"target", c.target};
  const std::string exported = own ? "exported_check" : "exported_target";
  for (auto& v : out.values) {
    Labels l = std::move(v.labels);
    if (v.scraped) {
      for (auto& [name, value] : l) {
        if (name == scrape_label.first) name = exported;
      }
      l.push_back(scrape_label);
    } else {
      l.insert(l.end(), labels.begin(), labels.end());
    }
    add(std::move(v.metric), std::move(l), v.value);
  }
  if (state) add("check_state", labels, static_cast<double>(*state));
  return samples;
}

std::vector<Event> transition_events(const CheckSpec& c, const Transition& t, const CheckStatus& status,
                                     const std::string& reason, WallMs now) {
  std::vector<Event> out;
  const std::string who = c.display_name();
  if (t.state_changed) {
    Event e;
    e.ts_ms = now;
    e.kind = check_event_kind(t.to);
    e.target = c.target;
    e.check = c.name;
    e.severity = t.to == CheckState::kFailed ? Severity::kCritical
                 : t.to == CheckState::kOk   ? Severity::kInfo
                                             : Severity::kWarning;
    e.message = "check " + who + " is " + std::string(to_string(t.to)) + ": " + reason;
    e.details = "{\"from\":" + json_string(to_string(t.from)) + ",\"reason\":" + json_string(reason) +
                ",\"consecutive_failures\":" + std::to_string(status.consecutive_failures) + "}";
    out.push_back(std::move(e));
  }
  if (t.flapping_changed) {
    out.push_back(Event{now, status.flapping ? EventKind::kCheckFlapping : EventKind::kCheckFlappingStopped, c.target,
                        c.name, Severity::kWarning,
                        "check " + who + (status.flapping ? " is flapping: " : " stopped flapping: ") +
                            std::to_string(status.changes_ms.size()) + " state changes in " +
                            format_duration(c.flap_window),
                        "{}"});
  }
  return out;
}

}  // namespace vigil
