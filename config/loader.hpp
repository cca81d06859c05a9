// config/loader.hpp: the loader's state while it reads (private to config/).
//
// load_config() (loader.cpp) reads the files, then the environment
// (environment.cpp), then validates the whole (validate.cpp). Every key
// written is remembered with its location, so that a problem found later
// (a missing companion key, an unknown target name) points at the line
// that causes it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/values.hpp"

namespace vigil::config_detail {

// Where each key of one entry (a target, a check, a rule) was written.
using WrittenKeys = std::map<std::string, ConfigLocation, std::less<>>;

class Loader {
 public:
  LoadResult result;

  void error(ConfigErrorKind kind, ConfigLocation where, std::string key, std::string message);
  void warning(ConfigErrorKind kind, ConfigLocation where, std::string key, std::string message);

  // loader.cpp
  void read_file(const std::string& path, bool required);
  // The content of one file, named `path` in messages.
  void read_text(const std::string& path, std::string_view text);
  // environment.cpp
  void read_environment(char** env);
  // validate.cpp
  void validate();

  // Converts `raw` for `key` and stores it in `holder`; false when it was
  // not usable (the error is recorded).
  template <class H>
  bool apply(const Key<H>& key, H& holder, const RawValue& raw, const ConfigLocation& where,
             const std::string& dotted) {
    auto v = convert_value(key, raw, where, dotted, result.errors);
    if (!v) return false;
    key.set(holder, *v);
    return true;
  }

  // Per target, check, rule (same index as in Config): every key written.
  std::vector<WrittenKeys> target_keys_at, check_keys_at, rule_keys_at;
  std::vector<WrittenKeys> remediate_keys_at;  // per target; empty without [target.remediate]

 private:
  void read_section(const std::string& path, const std::string& name, const toml::node& node);
  void read_target(const std::string& path, const toml::table& table);
  void read_remediate(const std::string& path, const std::string& label, const toml::node& node, TargetConfig& target,
                      WrittenKeys& written);
  void read_check(const std::string& path, const toml::table& table, const std::string* target_name);
  void read_receiver(const std::string& path, const toml::table& table, ReceiverKind kind);
  void read_rule(const std::string& path, const toml::table& table);
  void read_target_env(const std::string& var, const std::string& rest, const std::string& value);
  void read_check_env(const std::string& var, const std::string& rest, const std::string& value);
  std::vector<std::string> target_names() const;
  void validate_targets();
  void validate_checks();
  void add_container_checks();
  void validate_alerting();
  void validate_rule(RuleConfig& rule, KeyProblems& problems);
  void validate_remediation();
  void validate_remediate(TargetConfig& target, class EntryProblems& problems);
  template <class T>
  void read_table(const std::string& path, const std::string& section, const toml::table& table,
                  std::span<const Key<T>> keys, T& holder);
};

// The label of an entry in messages: "target[gateway]", "check[web/health]".
std::string target_label(const TargetConfig& t);
std::string check_label(const CheckSpec& c);

// A target kind's key, the kind it belongs to; nullptr for none.
const Key<KindSettings>* target_kind_key(std::string_view name, TargetKind* kind);
// A check key: common (`common` set) or of the kind; nullptr for neither.
const Key<CheckSpec>* common_check_key(std::string_view name);
const Key<KindSettings>* kind_check_key(CheckKind kind, std::string_view name);
std::vector<std::string> all_check_key_names();

}  // namespace vigil::config_detail
