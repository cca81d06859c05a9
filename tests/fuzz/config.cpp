// tests/fuzz/config.cpp: the configuration loader, TOML text in, a Config or
// errors out (config/config.hpp).
//
// Whatever the text, the loader answers with a verdict and never throws:
// every problem names a kind, a place inside the text and a message; a
// Config comes only without errors; and loading the same text twice says
// exactly the same (nothing depends on uninitialised state or on order).
#include "config/config.hpp"

#include <algorithm>
#include <string>

#include "tests/fuzz/fuzz.hpp"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vigil::fuzz::text_of(data, size);
  const std::string name = "fuzz.toml";
  const LoadResult first = load_config_text(text, name);
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto* list : {&first.errors, &first.warnings}) {
    for (const ConfigError& e : *list) {
      FUZZ_CHECK(!e.message.empty());
      // Only the text was read: a place is in it (no environment given).
      FUZZ_CHECK(e.where.env_var.empty());
      FUZZ_CHECK(e.where.file.empty() || e.where.file == name);
      FUZZ_CHECK(e.where.line >= 0 && e.where.line <= lines + 1);
      FUZZ_CHECK(e.where.column >= 0);
      FUZZ_CHECK(!e.describe().empty());
    }
  }
  if (first.ok()) {
    FUZZ_CHECK(first.config.files.size() == 1);
    FUZZ_CHECK(first.config.files.front() == name);
  }
  const LoadResult second = load_config_text(text, name);
  FUZZ_CHECK(second.ok() == first.ok());
  FUZZ_CHECK(describe_problems(second.errors) == describe_problems(first.errors));
  FUZZ_CHECK(describe_problems(second.warnings) == describe_problems(first.warnings));
  return 0;
}
