#include "cli/options.hpp"

#include "cli/timearg.hpp"
#include "core/text.hpp"

extern char** environ;

namespace vigil::cli {

Format Options::parsed_format(std::initializer_list<Format> allowed) const {
  Format f;
  if (format == "table" || format == "text") {
    f = Format::kTable;
  } else if (format == "json") {
    f = Format::kJson;
  } else if (format == "csv") {
    f = Format::kCsv;
  } else {
    throw UsageError{"--format: \"" + format + "\" is not one of table, json, csv"};
  }
  for (Format a : allowed) {
    if (a == f) return f;
  }
  std::string names;
  for (Format a : allowed) {
    names += (names.empty() ? "" : ", ") + std::string(a == Format::kTable  ? "table"
                                                       : a == Format::kJson ? "json"
                                                                            : "csv");
  }
  throw UsageError{"--format: this command writes " + names + ", not " + format};
}

Config Options::load(const char* why) const {
  LoadOptions options;
  if (!config.empty()) options.path = config;
  options.environ = environ;
  LoadResult loaded = load_config(options);
  if (!loaded.ok()) {
    std::string msg = std::string("the configuration has errors") + why + ":";
    for (const auto& e : describe_problems(loaded.errors)) msg += "\n  " + e;
    throw UsageError{msg};
  }
  return std::move(loaded.config);
}

std::string Options::db_path() const {
  if (!db.empty()) return db;
  return load(", so the database cannot be located (or pass --db PATH)").store_path();
}

StoreReader Options::open() const {
  const std::string path = db_path();
  auto reader = StoreReader::open(path);
  if (!reader) {
    const std::string hint = reader.error().kind == ErrorKind::kNotFound
                                 ? " (has vigild run with this state_dir? pass --db PATH or --config PATH)"
                                 : "";
    throw UsageError{"cannot open the store: " + reader.error().message + hint};
  }
  return std::move(*reader);
}

void add_limit(CLI::App* sub, std::int64_t& limit, const std::string& what) {
  sub->add_option("--limit", limit, "Only the newest N " + what + " (0, the default: all of them)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            auto n = to_i64(text);
            if (!n || *n < 0) return "\"" + text + "\" is not a count: write 0 (all, the default) or more";
            return {};
          },
          "N>=0"));
}

WallMs time_arg(const std::string& flag, const std::string& text, WallMs now) {
  auto t = parse_time_arg(text, now);
  if (!t) throw UsageError{flag + ": " + t.error().message};
  return *t;
}

Labels parse_label_args(const std::vector<std::string>& args, const std::string& target) {
  Labels out;
  for (const auto& a : args) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError{"--label: \"" + a + "\" is not NAME=VALUE"};
    out.emplace_back(a.substr(0, eq), a.substr(eq + 1));
  }
  if (!target.empty()) out.emplace_back("target", target);
  return out;
}

}  // namespace vigil::cli
