// cli/options.hpp: what every vigil command shares.
//
// Contract of cli/: `vigil` reads the store read-only (StoreReader), so
// every command works while vigild is stopped (post-mortems). It links the
// store, the config (to find the store) and, for `vigil check test`, the
// check kinds and net/; never watchdog/ or heal/. One file per subcommand;
// each registers itself (commands.hpp) and returns the exit status:
// 0 done, 1 it ran and found a problem (status: not running; check test:
// failed), 2 it could not run (bad arguments, no database, unknown metric).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace vigil::cli {

inline constexpr int kUsageError = 2;

// Thrown for anything that makes the command unable to run; main prints it
// and exits 2.
struct UsageError {
  std::string message;
};

enum class Format { kTable, kJson, kCsv };

// The global options: they may be written before the subcommand or after it.
struct Options {
  std::string db;
  std::string config;
  std::string format = "table";

  // --format, refused unless it is one of `allowed` (table is also spelled text).
  Format parsed_format(std::initializer_list<Format> allowed = {Format::kTable, Format::kJson, Format::kCsv}) const;
  // The configuration (--config or the default, with the same VIGIL_
  // overrides as vigild); a UsageError listing its errors when invalid.
  Config load(const char* why) const;
  // --db, else the store path of the configuration.
  std::string db_path() const;
  StoreReader open() const;
};

template <typename T>
T must(Result<T> r) {
  if (!r) throw UsageError{r.error().message};
  return std::move(*r);
}

// --limit N: the newest N; 0 (the default) for all; negatives are refused.
void add_limit(CLI::App* sub, std::int64_t& limit, const std::string& what);

// --since/--until: see timearg.hpp.
WallMs time_arg(const std::string& flag, const std::string& text, WallMs now);
// --label NAME=VALUE (repeatable), plus target=... when `target` is set.
Labels parse_label_args(const std::vector<std::string>& args, const std::string& target);

}  // namespace vigil::cli
