// Helpers shared by the config unit tests.
#pragma once

#include <boost/test/unit_test.hpp>
#include <string>

#include "watchdog/config.hpp"

namespace vigil::config_test {

// An error of `kind`, at `line` (0: any) and for the dotted `key` ("": any).
inline bool has_error(const LoadResult& r, ConfigErrorKind kind, int line, const std::string& key) {
  for (const auto& e : r.errors) {
    if (e.kind == kind && (line == 0 || e.where.line == line) && (key.empty() || e.key == key)) return true;
  }
  return false;
}

// Every error and warning, one per line, for failure messages.
inline std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += std::string(to_string(e.kind)) + " " + e.describe() + "\n";
  for (const auto& w : r.warnings) out += "warning " + w.describe() + "\n";
  return out;
}

}  // namespace vigil::config_test
