// config/values.hpp: one written value into the Value its key takes
// (private to config/).
//
// Conversion is where a key's type and range are enforced: a duration that
// does not parse, a size out of range, a URL that is not http(s), a name
// that is not one of a key's choices. Each problem becomes a ConfigError
// at the value's location, naming the key and saying what would be valid.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/keys.hpp"

namespace vigil::config_detail {

// A value as written: a TOML node, or an environment variable's text
// (lists and tables written in TOML: '["/bin/check", "-w", "5"]').
struct RawValue {
  const toml::node* node = nullptr;
  std::string text;  // when node == nullptr
};

// Converts and range-checks; on a problem appends to `errors` and returns
// nullopt.
std::optional<Value> convert_value(const KeyInfo& key, const RawValue& raw, const ConfigLocation& where,
                                   const std::string& dotted, std::vector<ConfigError>& errors);

// " (did you mean \"x\"?); valid: a, b, c"
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
const char* toml_type_name(const toml::node& n);
ConfigLocation location_of(const std::string& file, const toml::source_region& src);
std::string join(const std::vector<std::string>& items);

template <class H>
std::vector<std::string> key_names(std::span<const Key<H>> keys) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.emplace_back(k.name);
  return out;
}

template <class H>
const Key<H>* find_key(std::span<const Key<H>> keys, std::string_view name) {
  for (const auto& k : keys) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

}  // namespace vigil::config_detail
