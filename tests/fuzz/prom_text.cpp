// tests/fuzz/prom_text.cpp: the Prometheus text exposition parser
// (probes/checks/prom_text.hpp).
//
// A service's /metrics is outside input. Whatever it serves: a scrape is
// all or nothing, the counts agree with what was kept, kept labels are
// sorted and unique, the kept samples written back in the format read back
// the same (values bit for bit, NaN as NaN), and an allow-list only ever
// keeps fewer of the same samples.
#include "probes/checks/prom_text.hpp"

#include <cmath>
#include <cstdio>

#include "tests/fuzz/fuzz.hpp"

using namespace vigil;

namespace {

std::string value_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render(const ScrapedSample& s) {
  std::string out = s.name;
  if (!s.labels.empty()) {
    out += '{';
    for (std::size_t i = 0; i < s.labels.size(); ++i) {
      if (i > 0) out += ',';
      out += s.labels[i].first + "=\"" + escaped(s.labels[i].second) + "\"";
    }
    out += '}';
  }
  out += " " + value_text(s.value);
  if (s.timestamp_ms) out += " " + std::to_string(*s.timestamp_ms);
  return out + "\n";
}

bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

bool same(const ScrapedSample& a, const ScrapedSample& b) {
  return a.name == b.name && a.labels == b.labels && same_value(a.value, b.value) && a.timestamp_ms == b.timestamp_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vigil::fuzz::text_of(data, size);
  // Small limits, so that the fuzzer reaches them.
  ScrapeLimits limits;
  limits.max_samples = 50;
  limits.max_line_bytes = 512;
  limits.max_labels = 8;

  const auto all = parse_exposition(text, {"*"}, limits);
  if (!all) {
    FUZZ_CHECK(all.error().kind == ErrorKind::kParse);
    FUZZ_CHECK(all.error().message.size() <= vigil::fuzz::kMaxMessage);
    // Keeping fewer samples never turns a broken exposition into a good one,
    // unless it was refused only for keeping too many.
    const auto none = parse_exposition(text, {}, limits);
    FUZZ_CHECK(!none || all.error().message.find("max_samples") != std::string::npos);
    return 0;
  }
  FUZZ_CHECK(all->samples.size() == all->samples_kept);
  FUZZ_CHECK(all->samples_kept == all->samples_seen);  // "*" keeps every sample
  FUZZ_CHECK(all->samples_seen <= all->lines);
  FUZZ_CHECK(all->samples.size() <= limits.max_samples);
  std::string again;
  for (const auto& s : all->samples) {
    FUZZ_CHECK(!s.name.empty());
    FUZZ_CHECK(s.labels.size() <= limits.max_labels);
    for (std::size_t i = 1; i < s.labels.size(); ++i) FUZZ_CHECK(s.labels[i - 1].first < s.labels[i].first);
    again += render(s);
  }

  // Round trip. Escapes can double a line's length.
  ScrapeLimits wide = limits;
  wide.max_line_bytes = 4 * limits.max_line_bytes + 64;
  const auto reread = parse_exposition(again, {"*"}, wide);
  FUZZ_CHECK(reread.has_value());
  FUZZ_CHECK(reread->samples.size() == all->samples.size());
  for (std::size_t i = 0; i < all->samples.size(); ++i) FUZZ_CHECK(same(reread->samples[i], all->samples[i]));

  // An allow-list keeps a subsequence of the same samples.
  const auto some = parse_exposition(text, {"up", "http_*", "process_cpu_seconds"}, limits);
  FUZZ_CHECK(some.has_value());
  FUZZ_CHECK(some->samples_seen == all->samples_seen);
  std::size_t j = 0;
  for (const auto& s : some->samples) {
    while (j < all->samples.size() && !same(all->samples[j], s)) ++j;
    FUZZ_CHECK(j < all->samples.size());
    ++j;
  }
  return 0;
}
