#include "config/loader.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "config/sections.hpp"
#include "config/targets.hpp"
#include "core/file_trust.hpp"
#include "core/text.hpp"
#include "probes/checks/kinds.hpp"

namespace vigil {

namespace fs = std::filesystem;
using namespace config_detail;

namespace {

// Why `path` cannot be read now, or nullopt.
std::optional<std::string> unreadable_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cannot read \"" + path + "\": " + errno_text(errno);
  if (S_ISDIR(st.st_mode)) return "\"" + path + "\" is a directory, not a file";
  if (::access(path.c_str(), R_OK) != 0) return "cannot read \"" + path + "\": " + errno_text(errno);
  return std::nullopt;
}

}  // namespace

std::string ConfigLocation::describe() const {
  if (!env_var.empty()) return "environment variable " + env_var;
  if (file.empty()) return "built-in default";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const char* to_string(ConfigErrorKind kind) {
  switch (kind) {
    case ConfigErrorKind::kFile:
      return "file";
    case ConfigErrorKind::kSyntax:
      return "syntax";
    case ConfigErrorKind::kUnknownKey:
      return "unknown_key";
    case ConfigErrorKind::kWrongType:
      return "wrong_type";
    case ConfigErrorKind::kBadValue:
      return "bad_value";
    case ConfigErrorKind::kOutOfRange:
      return "out_of_range";
    case ConfigErrorKind::kDuplicateName:
      return "duplicate_name";
    case ConfigErrorKind::kMissingKey:
      return "missing_key";
    case ConfigErrorKind::kConflict:
      return "conflict";
  }
  return "unknown";
}

std::string ConfigError::describe() const {
  std::string out = where.describe() + ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

std::vector<std::string> describe_problems(const std::vector<ConfigError>& problems) {
  std::vector<std::string> out;
  std::set<std::string> lists;
  for (const auto& p : problems) {
    std::string line = p.describe();
    if (auto at = line.rfind("; valid: "); at != std::string::npos) {
      if (!lists.insert(line.substr(at)).second) line = line.substr(0, at) + "; valid: as above";
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string Config::store_path() const {
  if (!store.path.empty()) return store.path;
  return (fs::path(daemon.state_dir) / "vigil.db").string();
}

const TargetConfig* Config::target(const std::string& name) const {
  for (const auto& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string env_name_for(std::string_view name) {
  std::string out;
  for (char c : name) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                                                       : '_';
  }
  return out;
}

const char* limit_metric_for(std::string_view limit_name) {
  if (limit_name == "cgroup_memory_limit") return "cgroup_memory_limit_bytes";
  if (limit_name == "fd_limit") return "process_max_fds";
  if (limit_name == "disk_size") return "host_filesystem_size_bytes";
  return nullptr;
}

namespace config_detail {

std::string target_label(const TargetConfig& t) {
  return t.name.empty() ? "target" : "target[" + t.name + "]";
}

std::string check_label(const CheckSpec& c) {
  return c.name.empty() ? "check" : "check[" + c.name + "]";
}

const Key<KindSettings>* target_kind_key(std::string_view name, TargetKind* kind) {
  for (const auto& k : target_kinds()) {
    if (const auto* key = find_key(k.keys, name)) {
      *kind = k.kind;
      return key;
    }
  }
  return nullptr;
}

const Key<CheckSpec>* common_check_key(std::string_view name) {
  return find_key(common_check_keys(), name);
}

const Key<KindSettings>* kind_check_key(CheckKind kind, std::string_view name) {
  return find_key(check_kind(kind).keys, name);
}

std::vector<std::string> all_check_key_names() {
  std::vector<std::string> out = key_names(common_check_keys());
  for (const auto& k : check_kinds()) {
    for (const auto& key : k.keys) {
      if (std::find(out.begin(), out.end(), key.name) == out.end()) out.emplace_back(key.name);
    }
  }
  return out;
}

void Loader::error(ConfigErrorKind kind, ConfigLocation where, std::string key, std::string message) {
  result.errors.push_back({kind, std::move(where), std::move(key), std::move(message)});
}

void Loader::warning(ConfigErrorKind kind, ConfigLocation where, std::string key, std::string message) {
  result.warnings.push_back({kind, std::move(where), std::move(key), std::move(message)});
}

template <class T>
void Loader::read_table(const std::string& path, const std::string& section, const toml::table& table,
                        std::span<const Key<T>> keys, T& holder) {
  for (auto&& [k, value] : table) {
    const std::string name(k.str());
    const std::string dotted = section + "." + name;
    const Key<T>* key = find_key(keys, name);
    if (key == nullptr) {
      error(ConfigErrorKind::kUnknownKey, location_of(path, k.source()), dotted,
            "unknown key" + did_you_mean(name, key_names(keys)));
      continue;
    }
    apply(*key, holder, RawValue{&value, {}}, location_of(path, value.source()), dotted);
  }
}

void Loader::read_file(const std::string& path, bool required) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) {
    if (required) error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", "no such file");
    return;
  }
  // Whether named or found: a directory or a device is never an empty config.
  if (ec) {
    error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", "cannot access: " + ec.message());
    return;
  }
  if (status.type() == fs::file_type::directory) {
    error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "",
          "is a directory, not a config file: name the file itself (drop-in files go in a vigil.d/ "
          "directory beside it)");
    return;
  }
  if (status.type() != fs::file_type::regular) {
    error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", "is not a regular file");
    return;
  }
  // A configuration is a few KiB: a larger file is refused, and never read
  // past the bound.
  constexpr std::size_t kMaxConfigBytes = 16 << 20;
  // A config names the commands vigild runs, as root: one that any local
  // user can write is refused (core/file_trust.hpp).
  auto text = read_trusted_file(path, kMaxConfigBytes + 1);
  if (!text) {
    error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", text.error().message);
    return;
  }
  if (text->size() > kMaxConfigBytes) {
    error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "",
          "is larger than 16 MiB: not a configuration file");
    return;
  }
  read_text(path, *text);
}

void Loader::read_text(const std::string& path, std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    error(ConfigErrorKind::kSyntax, location_of(path, e.source()), "", std::string(e.description()));
    return;
  } catch (const std::exception& e) {
    error(ConfigErrorKind::kFile, ConfigLocation{path, 0, 0, {}}, "", e.what());
    return;
  }
  result.config.files.push_back(path);
  for (auto&& [k, node] : root) {
    const std::string name(k.str());
    const auto sections = section_names();
    auto section = std::find_if(sections.begin(), sections.end(), [&](const auto& s) { return name == s.name; });
    if (section == sections.end()) {
      std::vector<std::string> names;
      for (const auto& s : sections) names.emplace_back(s.name);
      error(ConfigErrorKind::kUnknownKey, location_of(path, k.source()), name,
            "unknown section" + did_you_mean(name, names));
      continue;
    }
    if (section->array) {
      const toml::array* arr = node.as_array();
      if (arr == nullptr || !arr->is_array_of_tables()) {
        error(ConfigErrorKind::kWrongType, location_of(path, node.source()), name,
              "expected an array of tables ([[" + name + "]]), got " + toml_type_name(node));
        continue;
      }
      for (const auto& element : *arr) read_section(path, name, element);
      continue;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      error(ConfigErrorKind::kWrongType, location_of(path, node.source()), name,
            "expected a table ([" + name + "]), got " + toml_type_name(node));
      continue;
    }
    Config& c = result.config;
    if (name == "daemon") read_table(path, name, *table, daemon_keys(), c.daemon);
    if (name == "store") read_table(path, name, *table, store_keys(), c.store);
    if (name == "host") read_table(path, name, *table, host_keys(), c.host);
    if (name == "docker") read_table(path, name, *table, docker_keys(), c.docker);
    if (name == "alerting") read_table(path, name, *table, alerting_keys(), c.alerting);
  }
}

// One element of an array of tables: [[target]], [[check]], [[rule]], or a receiver.
void Loader::read_section(const std::string& path, const std::string& name, const toml::node& node) {
  const toml::table& table = *node.as_table();
  if (name == "target") return read_target(path, table);
  if (name == "check") return read_check(path, table, nullptr);
  if (name == "rule") return read_rule(path, table);
  read_receiver(path, table, *parse_kind<ReceiverKind>(name));
}

void Loader::read_target(const std::string& path, const toml::table& table) {
  TargetConfig target;
  target.where = location_of(path, table.source());
  WrittenKeys written, remediate_written;
  if (auto n = table["name"].value<std::string>()) target.name = *n;
  const std::string label = target_label(target);
  // The kind is the one whose selecting key (keys[0]) is written.
  std::vector<TargetKind> kinds;
  for (const auto& k : target_kinds()) {
    if (table.contains(k.keys[0].name)) kinds.push_back(k.kind);
  }
  if (kinds.size() == 1) {
    target.kind = kinds.front();
    target.finder = target_kind(target.kind).defaults();
  } else if (kinds.empty()) {
    error(ConfigErrorKind::kMissingKey, target.where, label,
          "says nothing about how to find its processes: set one of pidfile, match, pid, systemd_unit or start");
  } else {
    std::string names;
    for (TargetKind k : kinds) names += (names.empty() ? "" : ", ") + std::string(target_kind(k).keys[0].name);
    error(ConfigErrorKind::kConflict, target.where, label,
          names + " exclude each other: pidfile, match, pid, systemd_unit and start; set exactly one");
  }
  std::vector<std::string> valid = key_names(common_target_keys());
  for (const auto& k : target_kinds()) {
    for (const auto& key : k.keys) valid.emplace_back(key.name);
  }
  valid.insert(valid.end(), {"check", "remediate"});
  for (auto&& [k, value] : table) {
    const std::string name(k.str());
    const std::string dotted = label + "." + name;
    const ConfigLocation at = location_of(path, k.source());
    written[name] = at;
    if (name == "check") {
      const toml::array* arr = value.as_array();
      if (arr == nullptr || !arr->is_array_of_tables()) {
        error(ConfigErrorKind::kWrongType, location_of(path, value.source()), dotted,
              std::string("expected an array of tables ([[target.check]]), got ") + toml_type_name(value));
        continue;
      }
      for (const auto& element : *arr) read_check(path, *element.as_table(), &target.name);
      continue;
    }
    if (name == "remediate") {
      read_remediate(path, label, value, target, remediate_written);
      continue;
    }
    if (const auto* key = find_key(common_target_keys(), name)) {
      apply(*key, target, RawValue{&value, {}}, location_of(path, value.source()), dotted);
      continue;
    }
    TargetKind owner{};
    const auto* key = target_kind_key(name, &owner);
    if (key == nullptr) {
      error(ConfigErrorKind::kUnknownKey, at, dotted, "unknown key" + did_you_mean(name, valid));
    } else if (kinds.size() == 1 && owner == target.kind) {
      apply(*key, target.finder, RawValue{&value, {}}, location_of(path, value.source()), dotted);
    } else if (kinds.size() == 1 && name != target_kind(owner).keys[0].name) {
      // Checked all the same (a bad value is an error), then set nowhere.
      KindSettings unused = target_kind(owner).defaults();
      apply(*key, unused, RawValue{&value, {}}, location_of(path, value.source()), dotted);
      warning(ConfigErrorKind::kConflict, at, dotted,
              "has no effect: it is for " + std::string(to_string(owner)) + " targets, and " + target.name +
                  " is found by " + std::string(target_kind(target.kind).keys[0].name));
    }
  }
  if (!table.contains("name")) {
    error(ConfigErrorKind::kMissingKey, target.where, "target.name",
          "every [[target]] needs a name (1 to 64 characters of [A-Za-z0-9_.-])");
  }
  result.config.targets.push_back(std::move(target));
  target_keys_at.push_back(std::move(written));
  remediate_keys_at.push_back(std::move(remediate_written));
}

void Loader::read_remediate(const std::string& path, const std::string& label, const toml::node& node,
                            TargetConfig& target, WrittenKeys& written) {
  const std::string prefix = label + ".remediate";
  const toml::table* sub = node.as_table();
  if (sub == nullptr) {
    error(ConfigErrorKind::kWrongType, location_of(path, node.source()), prefix,
          std::string("expected a table ([target.remediate]), got ") + toml_type_name(node));
    return;
  }
  RemediateConfig rem;
  rem.where = location_of(path, sub->source());
  for (auto&& [k, value] : *sub) {
    const std::string name(k.str());
    written[name] = location_of(path, k.source());
    const auto* key = find_key(remediate_keys(), name);
    if (key == nullptr) {
      error(ConfigErrorKind::kUnknownKey, location_of(path, k.source()), prefix + "." + name,
            "unknown key" + did_you_mean(name, key_names(remediate_keys())));
      continue;
    }
    apply(*key, rem, RawValue{&value, {}}, location_of(path, value.source()), prefix + "." + name);
  }
  target.remediate = std::move(rem);
}

// `[[check]]` (target_name null: `target` is optional) or `[[target.check]]`
// (the enclosing target's name; `target` is not allowed).
void Loader::read_check(const std::string& path, const toml::table& table, const std::string* target_name) {
  CheckSpec named;  // for the label, before any key is converted
  named.name = table["name"].value_or(std::string());
  named.target = target_name != nullptr ? *target_name : table["target"].value_or(std::string());
  const std::string label = check_label(named);
  // The kind first: it decides which keys apply.
  std::optional<CheckKind> kind;
  if (const toml::node* k = table.get("kind")) {
    auto v = convert_value(*common_check_key("kind"), RawValue{k, {}}, location_of(path, k->source()), label + ".kind",
                           result.errors);
    if (v) kind = parse_kind<CheckKind>(as<std::string>(*v));
  } else {
    error(ConfigErrorKind::kMissingKey, location_of(path, table.source()), label + ".kind", "every check needs a kind");
  }
  CheckConfig check;
  if (kind) static_cast<CheckSpec&>(check) = default_check(*kind);
  check.where = location_of(path, table.source());
  if (target_name != nullptr) check.target = *target_name;
  WrittenKeys written;
  for (auto&& [k, value] : table) {
    const std::string name(k.str());
    const std::string dotted = label + "." + name;
    const ConfigLocation at = location_of(path, k.source());
    written[name] = at;
    if (name == "kind") continue;
    if (name == "target" && target_name != nullptr) {
      error(ConfigErrorKind::kUnknownKey, at, dotted, "a [[target.check]] belongs to its target: remove \"target\"");
      continue;
    }
    if (const auto* key = common_check_key(name)) {
      apply(*key, static_cast<CheckSpec&>(check), RawValue{&value, {}}, location_of(path, value.source()), dotted);
      continue;
    }
    const auto* own = kind ? kind_check_key(*kind, name) : nullptr;
    if (own != nullptr) {
      apply(*own, check.settings, RawValue{&value, {}}, location_of(path, value.source()), dotted);
    } else if (const std::string kinds = kinds_with_key(name); !kinds.empty()) {
      if (kind) {
        error(
            ConfigErrorKind::kConflict, at, dotted,
            "\"" + name + "\" does not apply to kind " + std::string(to_string(*kind)) + " (it is for " + kinds + ")");
      }
    } else {
      error(ConfigErrorKind::kUnknownKey, at, dotted, "unknown key" + did_you_mean(name, all_check_key_names()));
    }
  }
  if (!table.contains("name"))
    error(ConfigErrorKind::kMissingKey, check.where, label + ".name", "every check needs a name");
  result.config.checks.push_back(std::move(check));
  check_keys_at.push_back(std::move(written));
}

void Loader::read_receiver(const std::string& path, const toml::table& table, ReceiverKind kind) {
  ReceiverConfig r;
  r.kind = kind;
  r.where = location_of(path, table.source());
  const std::string kind_name(to_string(kind));
  std::string label = kind_name;
  if (auto n = table["name"].value<std::string>()) label = kind_name + "[" + *n + "]";
  read_table(path, label, table, receiver_keys(), r);
  // Credential and TLS files are read at each send (a rotated token is used
  // at once), so one that cannot be read now is a warning, not a refusal.
  struct ReadAtSend {
    const char* key;
    const std::string* file;
    bool tls;  // else a credential
  };
  for (const ReadAtSend& f :
       {ReadAtSend{"password_file", &r.password_file, false},
        ReadAtSend{"bearer_token_file", &r.bearer_token_file, false}, ReadAtSend{"ca_file", &r.ca_file, true},
        ReadAtSend{"client_cert", &r.client_cert, true}, ReadAtSend{"client_key", &r.client_key, true}}) {
    if (f.file->empty()) continue;
    const toml::node* node = table.get(f.key);
    // Credentials and the TLS trust a local user could replace: refused.
    struct stat st {};
    if (::stat(f.file->c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (auto why = untrusted_mode(st.st_mode)) {
        error(ConfigErrorKind::kFile, node != nullptr ? location_of(path, node->source()) : r.where,
              label + "." + f.key,
              "\"" + *f.file + "\" " + *why + ": any local user could change it; run chmod o-w " + *f.file);
        continue;
      }
    }
    if (auto why = unreadable_file(*f.file)) {
      warning(ConfigErrorKind::kFile, node != nullptr ? location_of(path, node->source()) : r.where,
              label + "." + f.key,
              *why + (f.tls ? ": TLS connections to this receiver fail until it can be read"
                            : ": every delivery to this receiver fails, saying so, until it can be read"));
    }
  }
  if (!table.contains("url")) {
    error(ConfigErrorKind::kMissingKey, r.where, label + ".url",
          kind == ReceiverKind::kAlertmanager ? "an [[alertmanager]] needs its url, e.g. \"http://127.0.0.1:9093\""
                                              : "a [[webhook]] needs the url to post to");
  }
  result.config.receivers.push_back(std::move(r));
}

void Loader::read_rule(const std::string& path, const toml::table& table) {
  RuleConfig r;
  r.where = location_of(path, table.source());
  WrittenKeys written;
  std::string label = "rule";
  if (auto n = table["name"].value<std::string>()) label = "rule[" + *n + "]";
  std::optional<RuleKind> kind;
  if (auto k = table["kind"].value<std::string>()) kind = parse_kind<RuleKind>(trim(*k));
  std::vector<std::string> names;
  for (const auto& rk : rule_keys()) names.emplace_back(rk.key.name);
  for (auto&& [k, value] : table) {
    const std::string name(k.str());
    const std::string dotted = label + "." + name;
    const auto keys = rule_keys();
    auto rk = std::find_if(keys.begin(), keys.end(), [&](const RuleKey& x) { return name == x.key.name; });
    if (rk == keys.end()) {
      error(ConfigErrorKind::kUnknownKey, location_of(path, k.source()), dotted,
            "unknown key" + did_you_mean(name, names));
      continue;
    }
    if (kind && !rk->applies_to(*kind)) {
      error(ConfigErrorKind::kConflict, location_of(path, k.source()), dotted,
            "\"" + name + "\" does not apply to kind " + std::string(to_string(*kind)) + " (it is for " +
                rk->kinds_text() + ")");
      continue;
    }
    written[name] = location_of(path, value.source());
    apply(rk->key, r, RawValue{&value, {}}, location_of(path, value.source()), dotted);
  }
  for (const char* required : {"name", "kind"}) {
    if (!table.contains(required)) {
      error(ConfigErrorKind::kMissingKey, r.where, label + "." + required,
            std::string("every [[rule]] needs a ") + required);
    }
  }
  result.config.rules.push_back(std::move(r));
  rule_keys_at.push_back(std::move(written));
}

namespace {

// In file order (the main file, then the drop-ins), by line and column;
// then the environment's, then those of no place. Problems of one place keep
// the order they were found in.
void sort_by_place(std::vector<ConfigError>& problems, const std::vector<std::string>& files) {
  std::vector<std::string> order = files;
  for (const auto& p : problems) {
    if (!p.where.file.empty() && std::find(order.begin(), order.end(), p.where.file) == order.end()) {
      order.push_back(p.where.file);
    }
  }
  auto rank = [&](const ConfigLocation& w) -> std::size_t {
    if (!w.env_var.empty()) return order.size();
    if (w.file.empty()) return order.size() + 1;
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), w.file) - order.begin());
  };
  std::stable_sort(problems.begin(), problems.end(), [&](const ConfigError& a, const ConfigError& b) {
    return std::tuple(rank(a.where), a.where.line, a.where.column) <
           std::tuple(rank(b.where), b.where.line, b.where.column);
  });
}

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

}  // namespace config_detail

namespace {

LoadResult finish(config_detail::Loader& loader, char** environ) {
  loader.result.config.defaults_only = loader.result.config.files.empty() && loader.result.errors.empty();
  loader.read_environment(environ);
  loader.validate();
  config_detail::sort_by_place(loader.result.errors, loader.result.config.files);
  config_detail::sort_by_place(loader.result.warnings, loader.result.config.files);
  return std::move(loader.result);
}

}  // namespace

LoadResult load_config_text(std::string_view text, const std::string& name, char** environ) {
  config_detail::Loader loader;
  loader.read_text(name, text);
  return finish(loader, environ);
}

LoadResult load_config(const LoadOptions& options) {
  config_detail::Loader loader;
  const bool explicit_path = options.path.has_value();
  const std::string main = explicit_path ? *options.path : kDefaultConfigPath;
  loader.read_file(main, explicit_path);
  const fs::path drop_in_dir = fs::path(main).parent_path() / "vigil.d";
  struct stat st {};
  if (::stat(drop_in_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && untrusted_mode(st.st_mode)) {
    // Anyone could add a drop-in there: none of them is read.
    loader.error(ConfigErrorKind::kFile, ConfigLocation{drop_in_dir.string(), 0, 0, {}}, "",
                 *untrusted_mode(st.st_mode) +
                     ": any local user could add a drop-in file, so none is read; run "
                     "chmod o-w " +
                     drop_in_dir.string());
  } else {
    for (const auto& file : config_detail::drop_ins(drop_in_dir)) loader.read_file(file, true);
  }
  return finish(loader, options.environ);
}

}  // namespace vigil
