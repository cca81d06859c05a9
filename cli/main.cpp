// vigil: the Vigil command-line interface (cli/options.hpp says what it is).
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/text.hpp"
#include "core/version.hpp"

namespace {

// The first word of the command line that is not a global option (or its
// value), when it names no subcommand.
std::optional<std::string> unknown_subcommand(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--db" || word == "-c" || word == "--config" || word == "--format") {
      ++i;  // its value
      continue;
    }
    if (!word.empty() && word[0] == '-') {
      const std::string name = word.substr(0, word.find('='));
      const bool known = name == "--db" || name == "--config" || name == "--format" || name == "--help" ||
                         name == "-h" || name == "--version";
      if (!known) return std::nullopt;  // a misspelled option: CLI11 names it
      continue;
    }
    if (word.empty()) continue;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->check_name(word)) return std::nullopt;
    }
    return word;
  }
  return std::nullopt;
}

// ", did you mean status?", or the list of subcommands.
std::string suggest_subcommand(CLI::App& app, const std::string& word) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  const auto close = vigil::close_matches(word, names, 1);
  if (!close.empty()) return ", did you mean " + close.front() + "?";
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return "; the subcommands are " + all;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vigil::cli;
  CLI::App app{"vigil: query what vigild recorded. Reads the store read-only; works while vigild is stopped."};
  app.set_version_flag("--version", std::string("vigil ") + vigil::kVersion);
  app.require_subcommand(1);
  // Global options, accepted before the subcommand (vigil --db PATH query ...)
  // or after it (vigil query ... --db PATH): subcommands pass what they do
  // not know to the app.
  app.fallthrough();
  Options options;
  app.add_option("--db", options.db, "The database file (default: from the configuration)");
  app.add_option("-c,--config", options.config,
                 "vigild's configuration file, to find the database (default /etc/vigil/vigil.toml)");
  app.add_option("--format", options.format, "Output: table (default), json or csv");
  app.footer(
      "Times: a duration back from now (30m, 2h, 1d, 1w), an RFC 3339 time (2026-11-22T08:00:00Z),\n"
      "a date (2026-11-22), Unix seconds or milliseconds, or \"now\". See vigil(1).");

  std::vector<Command> commands = {add_series(app, options), add_query(app, options), add_events(app, options),
                                   add_status(app, options), add_checks(app, options)};
  for (auto& c : add_alerts(app, options)) commands.push_back(std::move(c));
  for (auto& c : add_incidents(app, options)) commands.push_back(std::move(c));
  commands.push_back(add_check_test(app, options));
  for (auto& c : add_db(app, options)) commands.push_back(std::move(c));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 calls a misspelled subcommand "A subcommand is required".
    if (auto word = unknown_subcommand(app, argc, argv)) {
      std::cerr << "vigil: unknown subcommand \"" << *word << "\"" << suggest_subcommand(app, *word)
                << "\nRun with --help for more information.\n";
      return kUsageError;
    }
    const int code = app.exit(e);
    return code == 0 ? 0 : kUsageError;
  }
  try {
    for (const auto& c : commands) {
      if (c.app->parsed()) return c.run();
    }
  } catch (const UsageError& e) {
    std::cerr << "vigil: " << e.message << "\n";
    return kUsageError;
  }
  return kUsageError;
}
