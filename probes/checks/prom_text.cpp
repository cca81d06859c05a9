#include "probes/checks/prom_text.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>

#include "core/text.hpp"

namespace vigil {

namespace {

enum class FamilyType { kCounter, kGauge, kHistogram, kSummary, kUntyped };

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_letter_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_metric_char(char c, bool first) {
  return is_letter_or_underscore(c) || c == ':' || (!first && is_digit(c));
}
bool is_label_char(char c, bool first) {
  return is_letter_or_underscore(c) || (!first && is_digit(c));
}

bool valid_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_metric_char(s[i], i == 0)) return false;
  }
  return true;
}

// A bounded, printable rendering of input bytes for messages: a malformed
// line may be 64 KiB of anything, and the message ends up in events and logs.
std::string quoted(std::string_view s, std::size_t max = 40) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (s.size() > max) out += "...";
  return out + "\"";
}

std::string describe_char(std::string_view line, std::size_t i) {
  if (i >= line.size()) return "the end of the line";
  const std::string q = quoted(line.substr(i, 1));
  return "'" + q.substr(1, q.size() - 2) + "'";
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Lead byte: how many continuation bytes follow, and the smallest code
    // point that length may encode (longer forms are overlong, hence invalid).
    std::size_t extra = 0;
    unsigned min = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      min = 0x10000;
    } else {
      return false;
    }
    unsigned cp = c & (0x7fu >> (extra + 1));
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

// Resolves the three escapes of the format. Other backslash pairs are kept
// as written, as Prometheus's own scrape parser does, rather than failing a
// scrape the server would accept.
std::string unescape_label_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      const char next = raw[i + 1];
      if (next == '\\' || next == '"') {
        out += next;
        ++i;
        continue;
      }
      if (next == 'n') {
        out += '\n';
        ++i;
        continue;
      }
    }
    out += raw[i];
  }
  return out;
}

// Go's strconv.ParseFloat, which Prometheus uses, takes a leading '+' and
// any case of NaN/Inf/Infinity; std::from_chars takes the latter but not the
// former, and also takes "nan(...)", which Prometheus refuses.
std::optional<double> parse_value(std::string_view token) {
  if (token.size() > 1 && token[0] == '+' && token[1] != '+' && token[1] != '-') token.remove_prefix(1);
  if (token.find('(') != std::string_view::npos) return std::nullopt;
  return to_double(token);
}

std::optional<std::int64_t> parse_timestamp(std::string_view token) {
  if (token.size() > 1 && token[0] == '+' && token[1] != '+' && token[1] != '-') token.remove_prefix(1);
  return to_i64(token);
}

struct RawLabel {
  std::string_view name;
  std::string_view value;  // as written, between the quotes
  bool escaped = false;
};

struct SampleLine {
  std::string_view name;
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
};

class Parser {
 public:
  Parser(const std::vector<std::string>& allow, const ScrapeLimits& limits) : allow_(allow), limits_(limits) {}

  Result<ScrapeResult> run(std::string_view text) {
    ScrapeResult out;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      start = end + 1;
      line_no_ = ++out.lines;
      if (line.size() > limits_.max_line_bytes) {
        return error(std::to_string(line.size()) + " bytes, more than max_line_bytes (" +
                     std::to_string(limits_.max_line_bytes) + ")");
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      std::size_t i = 0;
      while (i < line.size() && is_blank(line[i])) ++i;
      if (i == line.size()) continue;
      if (line[i] == '#') {
        if (auto r = comment(line, i + 1); !r) return tl::unexpected(r.error());
        continue;
      }
      auto sample = sample_line(line, i);
      if (!sample) return tl::unexpected(sample.error());
      ++out.samples_seen;
      if (!keep(sample->name)) continue;
      if (out.samples.size() == limits_.max_samples) {
        return error("more than " + std::to_string(limits_.max_samples) + " samples kept (max_samples)");
      }
      out.samples.push_back(build(*sample));
    }
    out.samples_kept = out.samples.size();
    return out;
  }

 private:
  tl::unexpected<Error> error(const std::string& what) const {
    return fail(ErrorKind::kParse, "line " + std::to_string(line_no_) + ": " + what);
  }

  static std::size_t skip_blanks(std::string_view line, std::size_t i) {
    while (i < line.size() && is_blank(line[i])) ++i;
    return i;
  }
  static std::size_t token_end(std::string_view line, std::size_t i) {
    while (i < line.size() && !is_blank(line[i])) ++i;
    return i;
  }

  // `# HELP name text`, `# TYPE name type`; any other comment is ignored.
  // HELP text is not kept: the check stores values, not documentation.
  Result<void> comment(std::string_view line, std::size_t i) {
    i = skip_blanks(line, i);
    std::size_t e = token_end(line, i);
    const std::string_view keyword = line.substr(i, e - i);
    if (keyword != "HELP" && keyword != "TYPE") return {};
    i = skip_blanks(line, e);
    if (i == line.size()) return {};  // a bare "# TYPE" is only a comment
    e = token_end(line, i);
    const std::string_view name = line.substr(i, e - i);
    if (!valid_metric_name(name)) {
      return error("metric name " + quoted(name) + " in # " + std::string(keyword) +
                   " is not valid (expected [a-zA-Z_:][a-zA-Z0-9_:]*)");
    }
    if (keyword == "HELP") return {};
    const std::string_view type = trim(line.substr(e));
    static constexpr std::array<std::pair<std::string_view, FamilyType>, 5> kTypes{{
        {"counter", FamilyType::kCounter},
        {"gauge", FamilyType::kGauge},
        {"histogram", FamilyType::kHistogram},
        {"summary", FamilyType::kSummary},
        {"untyped", FamilyType::kUntyped},
    }};
    for (const auto& [word, kind] : kTypes) {
      if (type == word) {
        // A later TYPE for the same name replaces the earlier one, as in
        // Prometheus's scrape parser; the keep decisions cached so far may
        // have used the old one.
        types_.insert_or_assign(std::string(name), kind);
        last_name_ = {};
        return {};
      }
    }
    if (type.empty()) return error("expected a metric type after \"# TYPE " + std::string(name) + "\"");
    return error("unknown metric type " + quoted(type) + " (expected counter, gauge, histogram, summary or untyped)");
  }

  // name [{label="value",...}] value [timestamp]
  Result<SampleLine> sample_line(std::string_view line, std::size_t i) {
    SampleLine out;
    labels_.clear();
    const std::size_t name_start = i;
    while (i < line.size() && is_metric_char(line[i], i == name_start)) ++i;
    if (i == name_start) {
      return error("expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), found " + describe_char(line, i));
    }
    out.name = line.substr(name_start, i - name_start);
    if (i < line.size() && !is_blank(line[i]) && line[i] != '{') {
      return error("expected '{' or a space after metric name " + quoted(out.name) + ", found " +
                   describe_char(line, i));
    }
    i = skip_blanks(line, i);
    if (i < line.size() && line[i] == '{') {
      auto after = label_set(line, i + 1, out.name);
      if (!after) return tl::unexpected(after.error());
      i = skip_blanks(line, *after);
    }
    std::size_t e = token_end(line, i);
    if (e == i) return error("expected a value after " + quoted(out.name));
    const std::string_view value = line.substr(i, e - i);
    auto v = parse_value(value);
    if (!v) return error("value " + quoted(value) + " is not a number");
    out.value = *v;
    i = skip_blanks(line, e);
    if (i == line.size()) return out;
    e = token_end(line, i);
    const std::string_view ts = line.substr(i, e - i);
    auto t = parse_timestamp(ts);
    if (!t) return error("timestamp " + quoted(ts) + " is not an integer (milliseconds since the epoch)");
    out.timestamp_ms = *t;
    i = skip_blanks(line, e);
    if (i != line.size()) return error("unexpected " + quoted(line.substr(i)) + " after the timestamp");
    return out;
  }

  // From just after '{' to just after '}'; fills labels_.
  Result<std::size_t> label_set(std::string_view line, std::size_t i, std::string_view metric) {
    while (true) {
      i = skip_blanks(line, i);
      if (i < line.size() && line[i] == '}') return i + 1;
      const std::size_t name_start = i;
      while (i < line.size() && is_label_char(line[i], i == name_start)) ++i;
      if (i == name_start) {
        if (i == line.size()) return error("label set of " + quoted(metric) + " not terminated (expected '}')");
        return error("expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}', found " + describe_char(line, i));
      }
      RawLabel label;
      label.name = line.substr(name_start, i - name_start);
      i = skip_blanks(line, i);
      if (i == line.size() || line[i] != '=') {
        return error("expected '=' after label name " + quoted(label.name) + ", found " + describe_char(line, i));
      }
      i = skip_blanks(line, i + 1);
      if (i == line.size() || line[i] != '"') {
        return error("expected '\"' to open the value of label " + quoted(label.name) + ", found " +
                     describe_char(line, i));
      }
      const std::size_t value_start = ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          label.escaped = true;
          ++i;  // the escaped byte, whatever it is, cannot close the value
        }
        ++i;
      }
      if (i >= line.size()) return error("label value not terminated (label " + quoted(label.name) + ")");
      label.value = line.substr(value_start, i - value_start);
      ++i;
      if (!valid_utf8(label.value)) return error("value of label " + quoted(label.name) + " is not valid UTF-8");
      if (label.name == "__name__") return error("label name \"__name__\" is reserved");
      for (const RawLabel& seen : labels_) {
        if (seen.name == label.name) return error("duplicate label " + quoted(label.name));
      }
      if (labels_.size() == limits_.max_labels) {
        return error("more than " + std::to_string(limits_.max_labels) + " labels on " + quoted(metric) +
                     " (max_labels)");
      }
      labels_.push_back(label);
      i = skip_blanks(line, i);
      if (i < line.size() && line[i] == ',') {
        ++i;  // a trailing comma before '}' is allowed
        continue;
      }
      if (i < line.size() && line[i] == '}') return i + 1;
      return error("expected ',' or '}' after the value of label " + quoted(label.name) + ", found " +
                   describe_char(line, i));
    }
  }

  bool matches(std::string_view name) const {
    for (const auto& pattern : allow_) {
      if (glob_match(pattern, name)) return true;
    }
    return false;
  }

  // The family a suffixed sample belongs to, when a TYPE line declared one
  // that has that suffix.
  std::optional<std::string_view> family_of(std::string_view name) const {
    struct Suffix {
      std::string_view text;
      bool counter, histogram, summary;
    };
    static constexpr std::array<Suffix, 5> kSuffixes{{
        {"_bucket", false, true, false},
        {"_sum", false, true, true},
        {"_count", false, true, true},
        {"_total", true, false, false},
        {"_created", true, true, true},
    }};
    for (const Suffix& s : kSuffixes) {
      if (name.size() <= s.text.size() || name.substr(name.size() - s.text.size()) != s.text) continue;
      const std::string_view base = name.substr(0, name.size() - s.text.size());
      auto it = types_.find(base);
      if (it == types_.end()) continue;
      if ((it->second == FamilyType::kCounter && s.counter) || (it->second == FamilyType::kHistogram && s.histogram) ||
          (it->second == FamilyType::kSummary && s.summary)) {
        return base;
      }
    }
    return std::nullopt;
  }

  // Lines of one series family come together, so the decision for the
  // previous name answers most lines without matching globs again.
  bool keep(std::string_view name) {
    if (name != last_name_) {  // never empty, so the first line always decides
      last_name_ = name;
      auto family = family_of(name);
      last_keep_ = matches(name) || (family && matches(*family));
    }
    return last_keep_;
  }

  ScrapedSample build(const SampleLine& line) const {
    ScrapedSample out;
    out.name = std::string(line.name);
    out.value = line.value;
    out.timestamp_ms = line.timestamp_ms;
    out.labels.reserve(labels_.size());
    for (const RawLabel& l : labels_) {
      out.labels.emplace_back(std::string(l.name), l.escaped ? unescape_label_value(l.value) : std::string(l.value));
    }
    std::sort(out.labels.begin(), out.labels.end(), [](const Label& a, const Label& b) { return a.first < b.first; });
    return out;
  }

  const std::vector<std::string>& allow_;
  const ScrapeLimits& limits_;
  std::size_t line_no_ = 0;
  std::map<std::string, FamilyType, std::less<>> types_;  // from # TYPE lines
  std::vector<RawLabel> labels_;                          // of the current line; reused
  std::string_view last_name_;
  bool last_keep_ = false;
};

}  // namespace

// The first malformed line fails the whole scrape rather than being skipped.
// Prometheus does the same (its scrape loop rolls back every sample of a
// scrape whose parse failed and reports up=0): the series kept from one
// exposition must be one consistent snapshot (a histogram missing some of its
// buckets is wrong, not partial), and a loud failure gets a broken exporter
// fixed, where silently dropped lines go unnoticed.
Result<ScrapeResult> parse_exposition(std::string_view text, const std::vector<std::string>& allow,
                                      const ScrapeLimits& limits) {
  return Parser(allow, limits).run(text);
}

}  // namespace vigil
