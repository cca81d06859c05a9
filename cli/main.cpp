// vigil: the Vigil command-line interface (cli/options.hpp says what it is).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "core/version.hpp"

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
      "Times: a duration back from now (30m, 2h, 1d), an RFC 3339 time (2026-11-22T08:00:00Z),\n"
      "a date (2026-11-22), Unix seconds, or \"now\". See vigil(1).");

  std::vector<Command> commands = {add_series(app, options), add_query(app, options), add_events(app, options),
                                   add_status(app, options), add_checks(app, options)};
  for (auto& c : add_alerts(app, options)) commands.push_back(std::move(c));
  for (auto& c : add_incidents(app, options)) commands.push_back(std::move(c));
  commands.push_back(add_check_test(app, options));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
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
