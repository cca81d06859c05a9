// Helpers shared by the probes/ test binaries: where the fixture trees are,
// and scratch copies of them that a test may damage.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include "core/sample.hpp"
#include "probes/probe.hpp"

namespace vigil::testing {

inline std::string fixtures() {
  const char* dir = std::getenv("VIGIL_TEST_FIXTURES");
  BOOST_TEST_REQUIRE(dir != nullptr, "VIGIL_TEST_FIXTURES is not set (run through meson test)");
  return dir;
}

// A copy of a fixture tree in a fresh temporary directory, removed at the
// end of the test.
class ScratchCopy {
 public:
  explicit ScratchCopy(const std::string& fixture_subdir) {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil-probes-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    std::filesystem::copy(std::filesystem::path(fixtures()) / fixture_subdir, dir_,
                          std::filesystem::copy_options::recursive);
  }
  ~ScratchCopy() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchCopy(const ScratchCopy&) = delete;
  ScratchCopy& operator=(const ScratchCopy&) = delete;

  std::string path() const { return dir_.string(); }
  std::filesystem::path operator/(const std::string& rel) const { return dir_ / rel; }

 private:
  std::filesystem::path dir_;
};

// The value of the one sample with this metric and exactly these labels.
inline std::optional<double> value_of(const Collection& c, const std::string& metric,
                                      Labels labels = {}) {
  const SeriesKey key(metric, std::move(labels));
  std::optional<double> found;
  for (const auto& s : c.samples) {
    if (s.key == key) {
      BOOST_TEST_REQUIRE(!found.has_value(), "duplicate series " + key.canonical());
      found = s.value;
    }
  }
  return found;
}

inline std::size_t count_metric(const Collection& c, const std::string& metric) {
  std::size_t n = 0;
  for (const auto& s : c.samples) n += s.key.metric == metric ? 1 : 0;
  return n;
}

}  // namespace vigil::testing
