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
      if (name == "alerting") set(alerting_keys(), c.alerting);
    }
  }
}

// VIGIL_TARGET_<NAME>_<KEY>: NAME is the target's env_name_for() spelling.
// The longest target name that fits wins, so "WEB" and "WEB_GW" coexist.
void Loader::read_target_env(const std::string& var, const std::string& rest, const std::string& value) {
  const ConfigLocation where{{}, 0, 0, var};
  std::vector<std::string> names;
  for (const auto& t : result.config.targets) names.push_back(env_name_for(t.name));
  const long i = longest_prefix(rest, names);
  if (i < 0) {
    error(ConfigErrorKind::kUnknownKey, where, "target",
          "no configured target matches; write VIGIL_TARGET_<NAME>_<KEY> with NAME one of: " +
              (names.empty() ? std::string("(no targets configured)") : join(names)));
    return;
  }
  TargetConfig& t = result.config.targets[static_cast<std::size_t>(i)];
  const std::string key_name = lower(rest.substr(names[static_cast<std::size_t>(i)].size() + 1));
  const std::string dotted = target_label(t) + "." + key_name;
  const RawValue raw{nullptr, value};
  if (const auto* key = find_key(common_target_keys(), key_name); key != nullptr && key_name != "name") {
    apply(*key, t, raw, where, dotted);
    return;
  }
  TargetKind owner{};
  if (const auto* key = target_kind_key(key_name, &owner); key != nullptr && owner == t.kind && !t.finder.empty()) {
    apply(*key, t.finder, raw, where, dotted);
    return;
  }
  std::vector<std::string> valid = key_names(common_target_keys());
  for (const auto& key : target_kind(t.kind).keys) valid.emplace_back(key.name);
  error(ConfigErrorKind::kUnknownKey, where, dotted,
        "unknown or not overridable key for a " + std::string(to_string(t.kind)) + " target" +
            did_you_mean(key_name, valid));
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
