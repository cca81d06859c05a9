// vigild: the Vigil daemon.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/config.hpp"
#include "config/help.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/version.hpp"
#include "watchdog/daemon.hpp"

extern char** environ;

int main(int argc, char** argv) {
  using namespace vigil;
  CLI::App app{"vigild: host watchdog daemon. Samples the host and its target processes into SQLite."};
  app.set_version_flag("--version", std::string("vigild ") + kVersion);
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path,
                 "Configuration file (default /etc/vigil/vigil.toml; drop-ins from vigil.d/ beside it)");
  app.add_flag("--check-config", check_only, "Validate the configuration, print the result and exit (0 valid, 1 not)");
  app.footer(keys_help() +
             "\nEvery configuration key can be overridden from the environment as VIGIL_<SECTION>_<KEY>\n"
             "(e.g. VIGIL_DAEMON_INTERVAL=2s), VIGIL_TARGET_<NAME>_<KEY> or VIGIL_CHECK_[<TARGET>_]<CHECK>_<KEY>.\n"
             "See vigild(8).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  LoadOptions options;
  if (!config_path.empty()) options.path = config_path;
  options.environ = environ;
  LoadResult loaded = load_config(options);

  if (check_only) {
    for (const auto& w : describe_problems(loaded.warnings)) std::cerr << "warning: " << w << "\n";
    for (const auto& e : describe_problems(loaded.errors)) std::cerr << "error: " << e << "\n";
    if (!loaded.ok()) {
      std::cerr << loaded.errors.size() << (loaded.errors.size() == 1 ? " error" : " errors")
                << " in the configuration\n";
      return 1;
    }
    const Config& c = loaded.config;
    std::cout << "config OK: " << count_of(c.targets.size(), "target") << ", " << count_of(c.checks.size(), "check");
    if (c.defaults_only) std::cout << " (no file at " << kDefaultConfigPath << ": built-in defaults)";
    std::cout << "\n";
    return 0;
  }

  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      log_error("invalid configuration", {{"where", e.where.describe()}, {"key", e.key}, {"error", e.message}});
    }
    log_error("not starting: fix the configuration (vigild --check-config shows every error)",
              {{"errors", static_cast<std::int64_t>(loaded.errors.size())}});
    return 1;
  }
  Config config = std::move(loaded.config);
  set_log_level(config.daemon.log_level);
  if (config.defaults_only) {
    log_warning(std::string("no config file at ") + kDefaultConfigPath +
                    ": running on built-in defaults (host monitoring only)",
                {{"version", kVersion}, {"state_dir", config.daemon.state_dir}});
  } else {
    std::string files;
    for (const auto& f : config.files) files += (files.empty() ? "" : ",") + f;
    log_info("vigild starting", {{"version", kVersion}, {"config", files}, {"state_dir", config.daemon.state_dir}});
  }
  for (const auto& w : loaded.warnings) log_warning(w.message, {{"where", w.where.describe()}, {"key", w.key}});

  Daemon daemon(std::move(config));
  return daemon.run();
}
