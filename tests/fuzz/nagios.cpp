// tests/fuzz/nagios.cpp: the Nagios plugin output and perfdata parser
// (probes/checks/nagios.hpp).
//
// Whatever a plugin prints: the status text is one line without '|', every
// perfdata item is either kept or named in an error (never both, never
// neither, "U" aside), and the kept items written back in the plugin API's
// own syntax read back the same.
#include "probes/checks/nagios.hpp"

#include <cmath>
#include <cstdio>

#include "tests/fuzz/fuzz.hpp"

using namespace vigil;

namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string quoted(const std::string& label) {
  std::string out = "'";
  for (char c : label) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string render(const PerfDatum& d) {
  auto field = [](const std::optional<double>& v) { return v ? number(*v) : std::string(); };
  return quoted(d.label) + "=" + number(d.value) + d.uom + ";" + field(d.warn) + ";" + field(d.crit) + ";" +
         field(d.min) + ";" + field(d.max);
}

bool same(const PerfDatum& a, const PerfDatum& b) {
  return a.label == b.label && a.value == b.value && a.uom == b.uom && a.warn == b.warn && a.crit == b.crit &&
         a.min == b.min && a.max == b.max;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vigil::fuzz::text_of(data, size);
  const PluginOutput out = parse_plugin_output(text);

  FUZZ_CHECK(out.status_text.find('\n') == std::string::npos);
  FUZZ_CHECK(out.status_text.find('|') == std::string::npos);
  FUZZ_CHECK(out.status_text.size() <= size);
  FUZZ_CHECK(out.long_text.size() <= size);
  // An item is at least "x=1" and items are separated by white space.
  FUZZ_CHECK(out.perfdata.size() * 4 <= size + 1);
  for (const auto& e : out.perfdata_errors) {
    FUZZ_CHECK(e.starts_with("perfdata item "));
    FUZZ_CHECK(e.size() <= vigil::fuzz::kMaxMessage);
  }
  for (const auto& d : out.perfdata) {
    FUZZ_CHECK(!d.label.empty());
    FUZZ_CHECK(std::isfinite(d.value));
    for (const auto& v : {d.warn, d.crit, d.min, d.max}) FUZZ_CHECK(!v || std::isfinite(*v));
    const PerfSample sample = to_base_units(d);
    FUZZ_CHECK(sample.metric_label == d.label);
  }

  // Round trip: the kept items, written back after a '|' that ends the long
  // text, parse to the same items and no error.
  std::string again = "OK\n|";
  for (const auto& d : out.perfdata) again += render(d) + "\n";
  const PluginOutput reread = parse_plugin_output(again);
  FUZZ_CHECK(reread.perfdata_errors.empty());
  FUZZ_CHECK(reread.perfdata.size() == out.perfdata.size());
  for (std::size_t i = 0; i < out.perfdata.size(); ++i) FUZZ_CHECK(same(reread.perfdata[i], out.perfdata[i]));
  return 0;
}
