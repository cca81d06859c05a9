#include "config/diff.hpp"

#include <algorithm>
#include <functional>

namespace vigil {

namespace {

template <class T>
std::vector<EntryChange> diff_entries(const std::vector<T>& before, const std::vector<T>& after,
                                      const std::function<std::string(const T&)>& key) {
  std::vector<EntryChange> out;
  for (const T& a : after) {
    auto old = std::find_if(before.begin(), before.end(), [&](const T& b) { return key(b) == key(a); });
    const Change c = old == before.end() ? Change::kAdded : *old == a ? Change::kUnchanged : Change::kChanged;
    out.push_back({key(a), c});
  }
  for (const T& b : before) {
    if (std::none_of(after.begin(), after.end(), [&](const T& a) { return key(a) == key(b); })) {
      out.push_back({key(b), Change::kRemoved});
    }
  }
  return out;
}

}  // namespace

const char* to_string(Change c) {
  switch (c) {
    case Change::kAdded:
      return "added";
    case Change::kRemoved:
      return "removed";
    case Change::kChanged:
      return "changed";
    case Change::kUnchanged:
      return "unchanged";
  }
  return "unknown";
}

std::vector<std::string> ConfigDiff::names(const std::vector<EntryChange>& entries, Change change) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (e.change == change) out.push_back(e.name);
  }
  return out;
}

bool ConfigDiff::empty() const {
  auto same = [](const std::vector<EntryChange>& v) {
    return std::all_of(v.begin(), v.end(), [](const EntryChange& e) { return e.change == Change::kUnchanged; });
  };
  return !daemon && !store && !host && !docker && !alerting && same(targets) && same(checks) && same(rules) &&
         same(receivers);
}

ConfigDiff diff(const Config& before, const Config& after) {
  ConfigDiff d;
  d.targets = diff_entries<TargetConfig>(before.targets, after.targets, [](const TargetConfig& t) { return t.name; });
  d.checks =
      diff_entries<CheckConfig>(before.checks, after.checks, [](const CheckConfig& c) { return c.display_name(); });
  d.rules = diff_entries<RuleConfig>(before.rules, after.rules, [](const RuleConfig& r) { return r.name; });
  d.receivers =
      diff_entries<ReceiverConfig>(before.receivers, after.receivers, [](const ReceiverConfig& r) { return r.name; });
  d.daemon = !(before.daemon == after.daemon);
  d.store = !(before.store == after.store);
  d.host = !(before.host == after.host);
  d.docker = !(before.docker == after.docker);
  d.alerting = !(before.alerting == after.alerting);
  return d;
}

}  // namespace vigil
