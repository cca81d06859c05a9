// Helpers shared by the config unit tests.
#pragma once

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"

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

// Loads `toml`, written to a file of its own in a private temporary
// directory (no vigil.d/ next to it), so that each test shows its whole
// input. `env` becomes a NULL-terminated environment block, as environ.
inline LoadResult load_toml(const std::string& toml, std::vector<std::string> env = {}) {
  namespace fs = std::filesystem;
  struct Dir {
    fs::path path;
    Dir() {
      std::string tmpl = (fs::temp_directory_path() / "vigil-config-test-XXXXXX").string();
      BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
      path = tmpl;
    }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static Dir dir;
  static int n = 0;
  const std::string path = (dir.path / ("vigil-" + std::to_string(++n) + ".toml")).string();
  std::ofstream(path) << toml;
  std::vector<char*> block;
  for (auto& var : env) block.push_back(var.data());
  block.push_back(nullptr);
  return load_config(LoadOptions{path, block.data()});
}

}  // namespace vigil::config_test
