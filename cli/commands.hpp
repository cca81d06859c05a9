// cli/commands.hpp: the subcommands; each file registers its own.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "cli/options.hpp"

namespace vigil::cli {

// A subcommand and what running it does (its exit status). The options it
// reads live as long as the returned function.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_series(CLI::App& app, const Options& options);
Command add_query(CLI::App& app, const Options& options);
Command add_events(CLI::App& app, const Options& options);
Command add_status(CLI::App& app, const Options& options);
Command add_checks(CLI::App& app, const Options& options);
std::vector<Command> add_alerts(CLI::App& app, const Options& options);     // alerts queue, alerts
std::vector<Command> add_incidents(CLI::App& app, const Options& options);  // incidents, incident
Command add_check_test(CLI::App& app, const Options& options);
std::vector<Command> add_db(CLI::App& app, const Options& options);  // db stats, db check

}  // namespace vigil::cli
