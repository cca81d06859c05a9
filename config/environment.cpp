// VIGIL_ environment overrides, applied after the files.
#include <algorithm>

#include "config/loader.hpp"
#include "config/sections.hpp"
#include "config/targets.hpp"
#include "core/text.hpp"
#include "probes/checks/kinds.hpp"

namespace vigil::config_detail {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Of `names` (env_name_for spellings), the longest that `rest` starts with
// followed by '_' and at least one character; its index, or -1.
long longest_prefix(const std::string& rest, const std::vector<std::string>& names) {
  long best = -1;
  std::size_t best_len = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string n = names[i] + "_";
    if (rest.rfind(n, 0) == 0 && rest.size() > n.size() && n.size() > best_len) {
      best = static_cast<long>(i);
      best_len = n.size();
    }
  }
  return best;
}

}  // namespace

void Loader::read_environment(char** env) {
  if (env == nullptr) return;
  for (char** e = env; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 6) != "VIGIL_") continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string var(entry.substr(0, eq));
    const std::string value(entry.substr(eq + 1));
    const std::string rest = var.substr(6);
    const ConfigLocation where{{}, 0, 0, var};
    // VIGIL_<SECTION>_<KEY>. Variables whose section is not one of ours
    // (VIGIL_TEST_..., another tool's) are left alone.
    const SectionName* section = nullptr;
    std::string key_part;
    for (const auto& s : section_names()) {
      const std::string prefix = env_name_for(s.name) + "_";
      if (rest.rfind(prefix, 0) == 0) {
        section = &s;
        key_part = rest.substr(prefix.size());
      }
    }
    if (section == nullptr) continue;
    const std::string name = section->name;
    const RawValue raw{nullptr, value};
    if (name == "check") {
      read_check_env(var, key_part, value);
    } else if (name == "target") {
      read_target_env(var, key_part, value);
    } else if (section->array) {
      error(ConfigErrorKind::kUnknownKey, where, name,
            "[[" + name +
                "]] entries cannot be set from the environment; write them in the config file or a "
                "drop-in in vigil.d/");
    } else {
      const std::string key_name = lower(key_part);
      const std::string dotted = name + "." + key_name;
      Config& c = result.config;
      auto set = [&](auto keys, auto& holder) {
        if (const auto* key = find_key(keys, key_name)) {
          apply(*key, holder, raw, where, dotted);
        } else {
          error(ConfigErrorKind::kUnknownKey, where, dotted, "unknown key" + did_you_mean(key_name, key_names(keys)));
        }
      };
      if (name == "daemon") set(daemon_keys(), c.daemon);
      if (name == "store") set(store_keys(), c.store);
      if (name == "host") set(host_keys(), c.host);
      if (name == "docker") set(docker_keys(), c.docker);
      if (name == "alerting") set(alerting_keys(), c.alerting);
    }
  }
}

// VIGIL_TARGET_<NAME>_<KEY> and VIGIL_TARGET_<NAME>_REMEDIATE_<KEY>: NAME is
// the target's env_name_for() spelling. Every key but `name` can be set so;
// a [target.remediate] key only where the file has that section (the
// environment changes a target, it does not add one's remediation).
void Loader::read_target_env(const std::string& var, const std::string& rest, const std::string& value) {
  const ConfigLocation where{{}, 0, 0, var};
  std::vector<std::string> names;
  for (const auto& t : result.config.targets) names.push_back(env_name_for(t.name));
  // Every reading that names a target and one of its keys: two mean the
  // variable is ambiguous ("WEB" with STOP_SIGNAL, "WEB_STOP" with SIGNAL).
  struct Reading {
    std::size_t target;
    std::string key;  // lower case; "remediate.on" for a remediate key
  };
  std::vector<Reading> readings;
  long fallback = -1;  // the longest name that fits, for the message when no key does
  std::size_t fallback_len = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string prefix = names[i] + "_";
    if (rest.rfind(prefix, 0) != 0 || rest.size() <= prefix.size()) continue;
    const std::string key_name = lower(rest.substr(prefix.size()));
    if (prefix.size() > fallback_len) {
      fallback = static_cast<long>(i);
      fallback_len = prefix.size();
    }
    const TargetConfig& t = result.config.targets[i];
    TargetKind owner{};
    if ((find_key(common_target_keys(), key_name) != nullptr && key_name != "name") ||
        (target_kind_key(key_name, &owner) != nullptr && owner == t.kind && !t.finder.empty())) {
      readings.push_back({i, key_name});
    } else if (key_name.rfind("remediate_", 0) == 0 && find_key(remediate_keys(), key_name.substr(10)) != nullptr) {
      readings.push_back({i, "remediate." + key_name.substr(10)});
    }
  }
  if (readings.size() > 1) {
    std::string both;
    for (const auto& r : readings) {
      both += (both.empty() ? "" : " or ") + target_label(result.config.targets[r.target]) + "." + r.key;
    }
    error(ConfigErrorKind::kConflict, where, "target",
          "ambiguous: it sets " + both +
              "; rename one of the targets so that their names do not run into each "
              "other's keys");
    return;
  }
  if (readings.empty()) {
    if (fallback < 0) {
      error(ConfigErrorKind::kUnknownKey, where, "target",
            "no configured target matches; write VIGIL_TARGET_<NAME>_<KEY> with NAME one of: " +
                (names.empty() ? std::string("(no targets configured)") : join(names)));
      return;
    }
    const TargetConfig& t = result.config.targets[static_cast<std::size_t>(fallback)];
    const std::string key_name = lower(rest.substr(fallback_len));
    std::vector<std::string> valid;
    for (const auto& k : key_names(common_target_keys())) {
      if (k != "name") valid.push_back(k);
    }
    for (const auto& key : target_kind(t.kind).keys) valid.emplace_back(key.name);
    for (const auto& k : key_names(remediate_keys())) valid.push_back("remediate_" + k);
    error(ConfigErrorKind::kUnknownKey, where, target_label(t) + "." + key_name,
          "unknown key for a " + std::string(to_string(t.kind)) + " target" + did_you_mean(key_name, valid) +
              (key_name == "name" ? " (a name cannot be overridden: it is what the variable names)" : ""));
    return;
  }
  const Reading& r = readings.front();
  TargetConfig& t = result.config.targets[r.target];
  const std::string dotted = target_label(t) + "." + r.key;
  const RawValue raw{nullptr, value};
  if (r.key.rfind("remediate.", 0) == 0) {
    const std::string key_name = r.key.substr(10);
    if (!t.remediate) {
      error(ConfigErrorKind::kUnknownKey, where, dotted,
            "target " + t.name + " has no [target.remediate] to override: write the section in the config file");
      return;
    }
    remediate_keys_at[r.target][key_name] = where;
    apply(*find_key(remediate_keys(), key_name), *t.remediate, raw, where, dotted);
    return;
  }
  target_keys_at[r.target][r.key] = where;
  if (const auto* key = find_key(common_target_keys(), r.key)) {
    apply(*key, t, raw, where, dotted);
    return;
  }
  TargetKind owner{};
  apply(*target_kind_key(r.key, &owner), t.finder, raw, where, dotted);
}

// VIGIL_CHECK_[<TARGET>_]<CHECK>_<KEY>, each name in its env_name_for()
// spelling; the longest prefix that fits wins.
void Loader::read_check_env(const std::string& var, const std::string& rest, const std::string& value) {
  const ConfigLocation where{{}, 0, 0, var};
  std::vector<std::string> names;
  for (const auto& c : result.config.checks) {
    names.push_back(c.target.empty() ? env_name_for(c.name) : env_name_for(c.target) + "_" + env_name_for(c.name));
  }
  const long i = longest_prefix(rest, names);
  if (i < 0) {
    error(ConfigErrorKind::kUnknownKey, where, "check",
          "no configured check matches; write VIGIL_CHECK_<TARGET>_<CHECK>_<KEY> (VIGIL_CHECK_<CHECK>_<KEY> for a "
          "check without a target) with one of: " +
              (names.empty() ? std::string("(no checks configured)") : join(names)));
    return;
  }
  const auto index = static_cast<std::size_t>(i);
  CheckConfig& c = result.config.checks[index];
  const std::string key_name = lower(rest.substr(names[index].size() + 1));
  const std::string dotted = check_label(c) + "." + key_name;
  const RawValue raw{nullptr, value};
  const auto* common = common_check_key(key_name);
  if (common != nullptr && key_name != "name" && key_name != "target" && key_name != "kind") {
    check_keys_at[index][key_name] = where;
    apply(*common, static_cast<CheckSpec&>(c), raw, where, dotted);
    return;
  }
  if (const auto* own = c.settings.empty() ? nullptr : kind_check_key(c.kind, key_name)) {
    check_keys_at[index][key_name] = where;
    apply(*own, c.settings, raw, where, dotted);
    return;
  }
  if (const std::string kinds = kinds_with_key(key_name); !kinds.empty()) {
    error(
        ConfigErrorKind::kConflict, where, dotted,
        "\"" + key_name + "\" does not apply to kind " + std::string(to_string(c.kind)) + " (it is for " + kinds + ")");
    return;
  }
  error(ConfigErrorKind::kUnknownKey, where, dotted,
        "unknown or not overridable key" + did_you_mean(key_name, all_check_key_names()));
}

}  // namespace vigil::config_detail
