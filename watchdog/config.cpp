#include "watchdog/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <toml++/toml.h>
#include <variant>

#include "core/text.hpp"
#include "probes/tcp.hpp"

namespace vigil {

namespace fs = std::filesystem;

std::string ConfigLocation::describe() const {
  if (!env_var.empty()) return "environment variable " + env_var;
  if (file.empty()) return "built-in default";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const char* to_string(ConfigErrorKind kind) {
  switch (kind) {
    case ConfigErrorKind::kFile: return "file";
    case ConfigErrorKind::kSyntax: return "syntax";
    case ConfigErrorKind::kUnknownKey: return "unknown_key";
    case ConfigErrorKind::kWrongType: return "wrong_type";
    case ConfigErrorKind::kBadValue: return "bad_value";
    case ConfigErrorKind::kOutOfRange: return "out_of_range";
    case ConfigErrorKind::kDuplicateName: return "duplicate_name";
    case ConfigErrorKind::kMissingKey: return "missing_key";
    case ConfigErrorKind::kConflict: return "conflict";
  }
  return "unknown";
}

std::string ConfigError::describe() const {
  std::string out = where.describe() + ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

std::string Config::store_path() const {
  if (!store.path.empty()) return store.path;
  return (fs::path(daemon.state_dir) / "vigil.db").string();
}

std::string env_name_for(std::string_view target_name) {
  std::string out;
  for (char c : target_name) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
  }
  return out;
}

namespace {

// Sizes ("512MiB", core/time.hpp parse_size) join when the first size key does.
enum class Type { kDuration, kCount, kBool, kString, kPath, kRegex, kLogLevel };

using Value = std::variant<Millis, std::int64_t, bool, std::string, LogLevel>;

struct KeySpec {
  const char* name;
  Type type;
  std::int64_t min;  // ms for durations, bytes for sizes
  std::int64_t max;
  const char* valid;  // what a valid value looks like, for messages
  std::function<void(Config&, const Value&)> set_global;
  std::function<void(TargetConfig&, const Value&)> set_target;
  std::function<void(CheckConfig&, const Value&)> set_check = nullptr;
};

constexpr std::int64_t kNoMax = INT64_MAX;

template <typename T>
const T& as(const Value& v) {
  return std::get<T>(v);
}

const std::vector<KeySpec>& daemon_keys() {
  static const std::vector<KeySpec> keys = {
      {"interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"1s\"",
       [](Config& c, const Value& v) { c.daemon.interval = as<Millis>(v); }, nullptr},
      {"state_dir", Type::kPath, 0, 0, "a directory path, e.g. \"/var/lib/vigil\"",
       [](Config& c, const Value& v) { c.daemon.state_dir = as<std::string>(v); }, nullptr},
      {"flush_interval", Type::kDuration, 100, 60'000, "a duration from 100ms to 1m, e.g. \"1s\"",
       [](Config& c, const Value& v) { c.daemon.flush_interval = as<Millis>(v); }, nullptr},
      {"status_interval", Type::kDuration, 1000, 3'600'000,
       "a duration from 1s to 1h, e.g. \"10s\"",
       [](Config& c, const Value& v) { c.daemon.status_interval = as<Millis>(v); }, nullptr},
      {"log_level", Type::kLogLevel, 0, 0, "one of \"debug\", \"info\", \"warning\", \"error\"",
       [](Config& c, const Value& v) { c.daemon.log_level = as<LogLevel>(v); }, nullptr},
      {"proc_root", Type::kPath, 0, 0, "a directory path, normally \"/proc\"",
       [](Config& c, const Value& v) { c.daemon.proc_root = as<std::string>(v); }, nullptr},
      {"cgroup_root", Type::kPath, 0, 0, "a directory path, normally \"/sys/fs/cgroup\"",
       [](Config& c, const Value& v) { c.daemon.cgroup_root = as<std::string>(v); }, nullptr},
  };
  return keys;
}

const std::vector<KeySpec>& store_keys() {
  static const std::vector<KeySpec> keys = {
      {"path", Type::kPath, 0, 0, "a file path; default <state_dir>/vigil.db",
       [](Config& c, const Value& v) { c.store.path = as<std::string>(v); }, nullptr},
      {"queue_capacity", Type::kCount, 1000, 100'000'000, "an integer from 1000 to 100000000 (samples)",
       [](Config& c, const Value& v) { c.store.queue_capacity = static_cast<std::uint64_t>(as<std::int64_t>(v)); },
       nullptr},
  };
  return keys;
}

const std::vector<KeySpec>& host_keys() {
  static const std::vector<KeySpec> keys = {
      {"enabled", Type::kBool, 0, 0, "true or false",
       [](Config& c, const Value& v) { c.host.enabled = as<bool>(v); }, nullptr},
      {"interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"5s\"",
       [](Config& c, const Value& v) { c.host.interval = as<Millis>(v); }, nullptr},
      {"rootfs", Type::kPath, 0, 0, "a directory path, normally \"/\"",
       [](Config& c, const Value& v) { c.host.rootfs = as<std::string>(v); }, nullptr},
  };
  return keys;
}

const std::vector<KeySpec>& target_keys() {
  static const std::vector<KeySpec> keys = {
      {"name", Type::kString, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]", nullptr,
       [](TargetConfig& t, const Value& v) { t.name = as<std::string>(v); }},
      {"pidfile", Type::kPath, 0, 0, "a file path, e.g. \"/run/gateway.pid\"", nullptr,
       [](TargetConfig& t, const Value& v) { t.pidfile = as<std::string>(v); }},
      {"match", Type::kRegex, 0, 0, "an ECMAScript regular expression over the command line",
       nullptr, [](TargetConfig& t, const Value& v) { t.match = as<std::string>(v); }},
      {"pid", Type::kCount, 1, 4'194'304, "a process ID from 1 to 4194304", nullptr,
       [](TargetConfig& t, const Value& v) { t.pid = static_cast<int>(as<std::int64_t>(v)); }},
      {"cgroup", Type::kPath, 0, 0, "a cgroup path such as \"/system.slice/gateway.service\"",
       nullptr, [](TargetConfig& t, const Value& v) { t.cgroup = as<std::string>(v); }},
      {"interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"1s\"",
       nullptr, [](TargetConfig& t, const Value& v) { t.interval = as<Millis>(v); }},
  };
  return keys;
}

const std::vector<KeySpec>& check_keys() {
  static const std::vector<KeySpec> keys = {
      {"name", Type::kString, 1, 64, "1 to 64 characters of [A-Za-z0-9_.-]", nullptr, nullptr,
       [](CheckConfig& c, const Value& v) { c.name = as<std::string>(v); }},
      {"target", Type::kString, 1, 64, "a target name: 1 to 64 characters of [A-Za-z0-9_.-]", nullptr,
       nullptr, [](CheckConfig& c, const Value& v) { c.target = as<std::string>(v); }},
      {"kind", Type::kString, 1, 64, "one of tcp (http, exec, redis, postgres, prometheus are coming)",
       nullptr, nullptr, [](CheckConfig& c, const Value& v) { c.kind = as<std::string>(v); }},
      {"interval", Type::kDuration, 100, 86'400'000, "a duration from 100ms to 24h, e.g. \"1s\"", nullptr,
       nullptr, [](CheckConfig& c, const Value& v) { c.interval = as<Millis>(v); }},
      {"timeout", Type::kDuration, 10, 600'000, "a duration from 10ms to 10m, e.g. \"5s\"", nullptr, nullptr,
       [](CheckConfig& c, const Value& v) { c.timeout = as<Millis>(v); }},
      {"fail_after", Type::kCount, 1, 100, "an integer from 1 to 100 (consecutive failures)", nullptr,
       nullptr, [](CheckConfig& c, const Value& v) { c.fail_after = static_cast<int>(as<std::int64_t>(v)); }},
      {"recover_after", Type::kCount, 1, 100, "an integer from 1 to 100 (consecutive successes)", nullptr,
       nullptr,
       [](CheckConfig& c, const Value& v) { c.recover_after = static_cast<int>(as<std::int64_t>(v)); }},
      {"flap_window", Type::kDuration, 1000, 86'400'000, "a duration from 1s to 24h, e.g. \"5m\"", nullptr,
       nullptr, [](CheckConfig& c, const Value& v) { c.flap_window = as<Millis>(v); }},
      {"flap_threshold", Type::kCount, 1, 1000, "an integer from 1 to 1000 (state changes in flap_window)",
       nullptr, nullptr,
       [](CheckConfig& c, const Value& v) { c.flap_threshold = static_cast<int>(as<std::int64_t>(v)); }},
      {"address", Type::kPath, 0, 0, "HOST:PORT with a numeric host, e.g. \"127.0.0.1:5432\" (tcp)", nullptr,
       nullptr, [](CheckConfig& c, const Value& v) { c.address = as<std::string>(v); }},
      {"send", Type::kPath, 0, 0, "text to send once connected (tcp)", nullptr, nullptr,
       [](CheckConfig& c, const Value& v) { c.send = as<std::string>(v); }},
      {"expect", Type::kPath, 0, 0, "text the answer must contain (tcp)", nullptr, nullptr,
       [](CheckConfig& c, const Value& v) { c.expect = as<std::string>(v); }},
  };
  return keys;
}

struct Section {
  const char* name;
  const std::vector<KeySpec>& (*keys)();
  bool array;  // [[name]] rather than [name]
};

const Section kSections[] = {
    {"daemon", daemon_keys, false},
    {"store", store_keys, false},
    {"host", host_keys, false},
    {"target", target_keys, true},
    {"check", check_keys, true},
};

std::vector<std::string> names_of(const std::vector<KeySpec>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.emplace_back(k.name);
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto close = close_matches(word, candidates, 1);
  std::string out;
  if (!close.empty()) out = " (did you mean \"" + close.front() + "\"?)";
  std::string all;
  for (const auto& c : candidates) all += (all.empty() ? "" : ", ") + c;
  return out + "; valid: " + all;
}

const KeySpec* find_key(const std::vector<KeySpec>& keys, std::string_view name) {
  for (const auto& k : keys) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

ConfigLocation location_of(const std::string& file, const toml::source_region& src) {
  return ConfigLocation{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column), {}};
}

// A value as written: a TOML node, or an environment variable's text.
struct Raw {
  const toml::node* node = nullptr;
  std::string text;  // when node == nullptr
};

class Loader {
 public:
  LoadResult result;

  void error(ConfigErrorKind kind, ConfigLocation where, std::string key, std::string message) {
    result.errors.push_back({kind, std::move(where), std::move(key), std::move(message)});
  }

  // Converts and range-checks one value; reports and returns nullopt when bad.
  std::optional<Value> convert(const KeySpec& spec, const Raw& raw, const ConfigLocation& where,
                               const std::string& key) {
    auto wrong_type = [&](const char* got) {
      error(ConfigErrorKind::kWrongType, where, key,
            std::string("expected ") + expected_type(spec.type) + ", got " + got + "; valid: " + spec.valid);
      return std::nullopt;
    };
    const bool from_env = raw.node == nullptr;
    std::string text;
    if (!from_env) {
      if (spec.type == Type::kBool) {
        if (auto b = raw.node->value<bool>(); raw.node->is_boolean()) return Value(*b);
        return wrong_type(toml_type_name(*raw.node));
      }
      if (spec.type == Type::kCount) {
        if (!raw.node->is_integer()) return wrong_type(toml_type_name(*raw.node));
        std::int64_t n = *raw.node->value<std::int64_t>();
        return check_range(spec, where, key, Value(n), n);
      }
      if (!raw.node->is_string()) return wrong_type(toml_type_name(*raw.node));
      text = *raw.node->value<std::string>();
    } else {
      text = raw.text;
    }
    switch (spec.type) {
      case Type::kBool: {
        if (text == "true" || text == "1" || text == "yes") return Value(true);
        if (text == "false" || text == "0" || text == "no") return Value(false);
        error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not a boolean; valid: " + spec.valid);
        return std::nullopt;
      }
      case Type::kCount: {
        auto n = to_i64(trim(text));
        if (!n) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not an integer; valid: " + spec.valid);
          return std::nullopt;
        }
        return check_range(spec, where, key, Value(*n), *n);
      }
      case Type::kDuration: {
        auto d = parse_duration(text);
        if (!d) {
          error(ConfigErrorKind::kBadValue, where, key, d.error().message + "; valid: " + spec.valid);
          return std::nullopt;
        }
        return check_range(spec, where, key, Value(*d), d->count());
      }
      case Type::kLogLevel: {
        LogLevel level;
        if (!parse_log_level(text, &level)) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not a log level; valid: " + spec.valid);
          return std::nullopt;
        }
        return Value(level);
      }
      case Type::kRegex: {
        try {
          std::regex re(text, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          error(ConfigErrorKind::kBadValue, where, key,
                "\"" + text + "\" is not a valid regular expression (" + e.what() + "); valid: " + spec.valid);
          return std::nullopt;
        }
        if (text.empty()) {
          error(ConfigErrorKind::kBadValue, where, key, "an empty pattern matches every process; valid: " + std::string(spec.valid));
          return std::nullopt;
        }
        return Value(text);
      }
      case Type::kPath:
        if (text.empty()) {
          error(ConfigErrorKind::kBadValue, where, key, std::string("empty; valid: ") + spec.valid);
          return std::nullopt;
        }
        if (text.find('\0') != std::string::npos) {
          error(ConfigErrorKind::kBadValue, where, key, "contains a NUL byte");
          return std::nullopt;
        }
        return Value(text);
      case Type::kString: {
        auto len = static_cast<std::int64_t>(text.size());
        bool chars_ok = std::all_of(text.begin(), text.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        });
        if (len < spec.min || len > spec.max || !chars_ok) {
          error(ConfigErrorKind::kBadValue, where, key, "\"" + text + "\" is not allowed; valid: " + spec.valid);
          return std::nullopt;
        }
        return Value(text);
      }
    }
    return std::nullopt;
  }

  void read_file(const std::string& path, bool required) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (required) error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", "no such file");
      return;
    }
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      error(ConfigErrorKind::kSyntax, location_of(path, e.source()), "",
            std::string(e.description()));
      return;
    } catch (const std::exception& e) {
      error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", e.what());
      return;
    }
    result.config.files.push_back(path);
    for (auto&& [k, node] : root) {
      std::string name(k.str());
      const Section* section = nullptr;
      for (const auto& s : kSections) {
        if (name == s.name) section = &s;
      }
      if (section == nullptr) {
        std::vector<std::string> names;
        for (const auto& s : kSections) names.emplace_back(s.name);
        error(ConfigErrorKind::kUnknownKey, location_of(path, k.source()), name,
              "unknown section" + did_you_mean(name, names));
        continue;
      }
      if (section->array) {
        const toml::array* arr = node.as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) {
          error(ConfigErrorKind::kWrongType, location_of(path, node.source()), name,
                std::string("expected an array of tables ([[") + name + "]]), got " + toml_type_name(node));
          continue;
        }
        for (const auto& element : *arr) {
          if (name == "check") {
            read_check(path, *element.as_table(), nullptr);
          } else {
            read_target(path, *element.as_table());
          }
        }
      } else {
        const toml::table* table = node.as_table();
        if (table == nullptr) {
          error(ConfigErrorKind::kWrongType, location_of(path, node.source()), name,
                std::string("expected a table ([") + name + "]), got " + toml_type_name(node));
          continue;
        }
        for (auto&& [key, value] : *table) {
          std::string key_name(key.str());
          std::string dotted = name + "." + key_name;
          const KeySpec* spec = find_key(section->keys(), key_name);
          if (spec == nullptr) {
            error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
                  "unknown key" + did_you_mean(key_name, names_of(section->keys())));
            continue;
          }
          if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
            spec->set_global(result.config, *v);
          }
        }
      }
    }
  }

  void read_target(const std::string& path, const toml::table& table) {
    TargetConfig target;
    target.where = location_of(path, table.source());
    std::string label = "target";
    if (auto n = table["name"].value<std::string>()) label = "target[" + *n + "]";
    for (auto&& [key, value] : table) {
      std::string key_name(key.str());
      std::string dotted = label + "." + key_name;
      if (key_name == "check") {
        const toml::array* arr = value.as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) {
          error(ConfigErrorKind::kWrongType, location_of(path, value.source()), dotted,
                std::string("expected an array of tables ([[target.check]]), got ") + toml_type_name(value));
          continue;
        }
        const std::string target_name = table["name"].value_or(std::string());
        for (const auto& element : *arr) read_check(path, *element.as_table(), &target_name);
        continue;
      }
      const KeySpec* spec = find_key(target_keys(), key_name);
      if (spec == nullptr) {
        error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
              "unknown key" + did_you_mean(key_name, with_check(names_of(target_keys()))));
        continue;
      }
      if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
        spec->set_target(target, *v);
      }
    }
    if (!table.contains("name")) {
      error(ConfigErrorKind::kMissingKey, target.where, "target.name",
            "every [[target]] needs a name (1 to 64 characters of [A-Za-z0-9_.-])");
    }
    // A finder key that was written but invalid already has its error; do
    // not add "says nothing about how to find its processes" on top.
    bool wrote_finder = table.contains("pidfile") || table.contains("match") || table.contains("pid");
    if (wrote_finder && !target.pidfile && !target.match && !target.pid) {
      invalid_finder_.insert(result.config.targets.size());
    }
    result.config.targets.push_back(std::move(target));
  }

  // `[[check]]` (target_name null: `target` is required) or
  // `[[target.check]]` (the enclosing target's name; `target` not allowed).
  void read_check(const std::string& path, const toml::table& table, const std::string* target_name) {
    CheckConfig check;
    check.where = location_of(path, table.source());
    if (target_name != nullptr) check.target = *target_name;
    std::string label = "check";
    if (auto n = table["name"].value<std::string>()) label = "check[" + *n + "]";
    for (auto&& [key, value] : table) {
      std::string key_name(key.str());
      std::string dotted = label + "." + key_name;
      const KeySpec* spec = find_key(check_keys(), key_name);
      if (spec == nullptr || (target_name != nullptr && key_name == "target")) {
        error(ConfigErrorKind::kUnknownKey, location_of(path, key.source()), dotted,
              spec == nullptr ? "unknown key" + did_you_mean(key_name, names_of(check_keys()))
                              : "a [[target.check]] belongs to its target: remove \"target\"");
        continue;
      }
      if (auto v = convert(*spec, Raw{&value, {}}, location_of(path, value.source()), dotted)) {
        spec->set_check(check, *v);
      }
    }
    for (const char* required : {"name", "kind"}) {
      if (!table.contains(required)) {
        error(ConfigErrorKind::kMissingKey, check.where, label + "." + required,
              std::string("every check needs a ") + required);
      }
    }
    if (target_name == nullptr && !table.contains("target")) {
      error(ConfigErrorKind::kMissingKey, check.where, label + ".target",
            "a [[check]] names the target it belongs to (or write it as [[target.check]])");
    }
    result.config.checks.push_back(std::move(check));
  }

  void read_environment(char** env) {
    if (env == nullptr) return;
    std::vector<std::string> section_names;
    for (const auto& s : kSections) section_names.emplace_back(s.name);
    for (char** e = env; *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (entry.substr(0, 6) != "VIGIL_") continue;
      auto eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      std::string var(entry.substr(0, eq));
      std::string value(entry.substr(eq + 1));
      std::string rest = var.substr(6);
      ConfigLocation where{{}, 0, 0, var};
      // VIGIL_<SECTION>_<KEY>. Variables whose section is not one of ours
      // (VIGIL_TEST_..., another tool's) are left alone.
      const Section* section = nullptr;
      std::string key_part;
      for (const auto& s : kSections) {
        std::string prefix = env_name_for(s.name) + "_";
        if (rest.rfind(prefix, 0) == 0) {
          section = &s;
          key_part = rest.substr(prefix.size());
        }
      }
      if (section == nullptr) continue;
      if (section->array) {
        if (std::string(section->name) == "check") {
          error(ConfigErrorKind::kUnknownKey, where, "check",
                "check keys cannot be overridden from the environment yet; edit the file");
        } else {
          read_target_env(var, key_part, value);
        }
        continue;
      }
      std::string key_name = lower(key_part);
      std::string dotted = std::string(section->name) + "." + key_name;
      const KeySpec* spec = find_key(section->keys(), key_name);
      if (spec == nullptr) {
        error(ConfigErrorKind::kUnknownKey, where, dotted,
              "unknown key" + did_you_mean(key_name, names_of(section->keys())));
        continue;
      }
      if (auto v = convert(*spec, Raw{nullptr, value}, where, dotted)) spec->set_global(result.config, *v);
    }
  }

  // VIGIL_TARGET_<NAME>_<KEY>: NAME is the target's env_name_for() spelling.
  // The longest target name that fits wins, so "WEB" and "WEB_GW" coexist.
  void read_target_env(const std::string& var, const std::string& rest, const std::string& value) {
    ConfigLocation where{{}, 0, 0, var};
    TargetConfig* best = nullptr;
    std::size_t best_len = 0;
    for (auto& t : result.config.targets) {
      std::string n = env_name_for(t.name) + "_";
      if (rest.rfind(n, 0) == 0 && n.size() > best_len) {
        best = &t;
        best_len = n.size();
      }
    }
    if (best == nullptr || t_key_missing(rest, best_len)) {
      std::vector<std::string> names;
      for (const auto& t : result.config.targets) names.push_back(env_name_for(t.name));
      error(ConfigErrorKind::kUnknownKey, where, "target",
            "no configured target matches; write VIGIL_TARGET_<NAME>_<KEY> with NAME one of: " +
                (names.empty() ? std::string("(no targets configured)") : join(names)));
      return;
    }
    std::string key_name = lower(rest.substr(best_len));
    std::string dotted = "target[" + best->name + "]." + key_name;
    const KeySpec* spec = find_key(target_keys(), key_name);
    if (spec == nullptr || key_name == "name") {
      error(ConfigErrorKind::kUnknownKey, where, dotted,
            "unknown or not overridable key" + did_you_mean(key_name, names_of(target_keys())));
      return;
    }
    if (auto v = convert(*spec, Raw{nullptr, value}, where, dotted)) spec->set_target(*best, *v);
  }

  void validate() {
    auto& cfg = result.config;
    std::map<std::string, const TargetConfig*> seen;
    for (std::size_t i = 0; i < cfg.targets.size(); ++i) {
      TargetConfig& t = cfg.targets[i];
      std::string label = "target[" + t.name + "]";
      if (!t.name.empty()) {
        auto [it, inserted] = seen.emplace(t.name, &t);
        if (!inserted) {
          error(ConfigErrorKind::kDuplicateName, t.where, label + ".name",
                "target name \"" + t.name + "\" is already used at " + it->second->where.describe());
        }
      }
      int ways = (t.pidfile ? 1 : 0) + (t.match ? 1 : 0) + (t.pid ? 1 : 0);
      if (ways == 0 && !invalid_finder_.count(i)) {
        error(ConfigErrorKind::kMissingKey, t.where, label,
              "says nothing about how to find its processes: set one of pidfile, match or pid");
      } else if (ways > 1) {
        error(ConfigErrorKind::kConflict, t.where, label,
              "pidfile, match and pid exclude each other: set exactly one");
      }
      if (t.cgroup && t.cgroup->front() != '/') {
        error(ConfigErrorKind::kBadValue, t.where, label + ".cgroup",
              "\"" + *t.cgroup + "\" must be an absolute cgroup path such as \"/system.slice/gateway.service\"");
      }
    }
    validate_checks();
    if (cfg.daemon.flush_interval > cfg.daemon.interval * 60) {
      result.warnings.push_back({ConfigErrorKind::kOutOfRange, {}, "daemon.flush_interval",
                                 "flush_interval " + format_duration(cfg.daemon.flush_interval) +
                                     " is far longer than interval: a crash loses that much data"});
    }
  }

  void validate_checks() {
    auto& cfg = result.config;
    static const std::vector<std::string> kImplemented = {"tcp"};
    static const std::vector<std::string> kComing = {"http", "exec", "redis", "postgres", "prometheus"};
    std::map<std::pair<std::string, std::string>, const CheckConfig*> seen;
    for (const auto& c : cfg.checks) {
      const std::string label = "check[" + c.name + "]";
      if (!c.name.empty() && !c.target.empty()) {
        auto [it, inserted] = seen.emplace(std::make_pair(c.target, c.name), &c);
        if (!inserted) {
          error(ConfigErrorKind::kDuplicateName, c.where, label + ".name",
                "target " + c.target + " already has a check \"" + c.name + "\" at " + it->second->where.describe());
        }
      }
      if (c.kind.empty()) continue;  // reported as missing
      if (std::find(kComing.begin(), kComing.end(), c.kind) != kComing.end()) {
        error(ConfigErrorKind::kBadValue, c.where, label + ".kind",
              "kind \"" + c.kind + "\" is not implemented yet; available: tcp");
        continue;
      }
      if (std::find(kImplemented.begin(), kImplemented.end(), c.kind) == kImplemented.end()) {
        std::vector<std::string> all = kImplemented;
        all.insert(all.end(), kComing.begin(), kComing.end());
        error(ConfigErrorKind::kBadValue, c.where, label + ".kind",
              "unknown kind \"" + c.kind + "\"" + did_you_mean(c.kind, all));
        continue;
      }
      if (c.address.empty()) {
        error(ConfigErrorKind::kMissingKey, c.where, label + ".address",
              "a tcp check needs an address, e.g. \"127.0.0.1:5432\"");
      } else if (auto a = parse_tcp_address(c.address); !a) {
        error(ConfigErrorKind::kBadValue, c.where, label + ".address", a.error().message);
      }
      if (c.timeout > cfg.check_interval(c)) {
        result.warnings.push_back({ConfigErrorKind::kOutOfRange, c.where, label + ".timeout",
                                   "timeout " + format_duration(c.timeout) + " is longer than interval " +
                                       format_duration(cfg.check_interval(c)) +
                                       ": a slow answer delays the next run"});
      }
    }
  }

 private:
  static std::vector<std::string> with_check(std::vector<std::string> names) {
    names.emplace_back("check");
    return names;
  }

  std::set<std::size_t> invalid_finder_;  // indexes of targets whose finder key had an error

  static const char* expected_type(Type t) {
    switch (t) {
      case Type::kDuration: return "a duration string";
      case Type::kCount: return "an integer";
      case Type::kBool: return "a boolean";
      case Type::kString: return "a string";
      case Type::kPath: return "a path string";
      case Type::kRegex: return "a regular expression string";
      case Type::kLogLevel: return "a log level string";
    }
    return "a value";
  }

  std::optional<Value> check_range(const KeySpec& spec, const ConfigLocation& where,
                                   const std::string& key, Value v, std::int64_t n) {
    if (n >= spec.min && n <= spec.max) return v;
    const std::string shown =
        spec.type == Type::kDuration ? format_duration(std::get<Millis>(v)) : std::to_string(n);
    error(ConfigErrorKind::kOutOfRange, where, key, shown + " is out of range; valid: " + spec.valid);
    return std::nullopt;
  }

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  static bool t_key_missing(const std::string& rest, std::size_t prefix_len) {
    return rest.size() <= prefix_len;
  }
};

std::vector<std::string> drop_ins(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml" && !entry.is_directory(ec)) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

LoadResult load_config(const LoadOptions& options) {
  Loader loader;
  const bool explicit_path = options.path.has_value();
  const std::string main = explicit_path ? *options.path : kDefaultConfigPath;
  loader.read_file(main, explicit_path);
  for (const auto& file : drop_ins(fs::path(main).parent_path() / "vigil.d")) {
    loader.read_file(file, true);
  }
  loader.result.config.defaults_only = loader.result.config.files.empty() && loader.result.errors.empty();
  loader.read_environment(options.environ);
  loader.validate();
  return std::move(loader.result);
}

}  // namespace vigil
