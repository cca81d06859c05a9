#include "probes/checks/nagios.hpp"

#include <cmath>

#include "core/text.hpp"
#include "probes/checks/outcome.hpp"

namespace vigil {

namespace {

constexpr std::size_t kItemExcerpt = 60;  // bytes of a bad item quoted in an error

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A plain decimal number: "5", "-0.5", ".5", "1e3", "+2". Not "inf" or "nan",
// which std::from_chars would take but no plugin means.
std::optional<double> plain_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || !(is_digit(s.front()) || s.front() == '-' || s.front() == '.')) return std::nullopt;
  auto v = to_double(s);
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

// The plugin API's range: [@][start:][end], start may be "~" (minus infinity), end may be empty.
bool is_range(std::string_view s) {
  if (!s.empty() && s.front() == '@') s.remove_prefix(1);
  const std::size_t colon = s.find(':');
  if (colon == std::string_view::npos) return plain_number(s).has_value();
  const std::string_view start = s.substr(0, colon);
  const std::string_view end = s.substr(colon + 1);
  if (start.empty() && end.empty()) return false;
  const bool start_ok = start.empty() || start == "~" || plain_number(start).has_value();
  const bool end_ok = end.empty() || plain_number(end).has_value();
  return start_ok && end_ok;
}

class PerfParser {
 public:
  explicit PerfParser(PluginOutput& out) : out_(out) {}

  // One perfdata section: items separated by white space (newlines included).
  void parse_section(std::string_view s) {
    std::size_t i = 0;
    while (true) {
      while (i < s.size() && is_space(s[i])) ++i;
      if (i >= s.size()) return;
      const std::size_t start = i;
      ++index_;
      std::string label;
      if (s[i] == '\'') {
        // Quoted: may hold spaces and '=', and '' stands for one quote.
        ++i;
        bool closed = false;
        while (i < s.size()) {
          if (s[i] == '\'') {
            if (i + 1 < s.size() && s[i + 1] == '\'') {
              label += '\'';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          label += s[i++];
        }
        if (!closed) {
          error(s.substr(start), "the label's opening quote is not closed");
          return;  // the rest of the section is inside the quote
        }
      } else {
        while (i < s.size() && s[i] != '=' && !is_space(s[i])) label += s[i++];
      }
      if (i >= s.size() || s[i] != '=') {
        while (i < s.size() && !is_space(s[i])) ++i;
        error(s.substr(start, i - start), "no '=' after the label (expected 'label'=value[UOM];warn;crit;min;max)");
        continue;
      }
      ++i;  // '='
      const std::size_t value_start = i;
      while (i < s.size() && !is_space(s[i])) ++i;
      const std::string_view item = s.substr(start, i - start);
      if (label.empty()) {
        error(item, "the label is empty");
        continue;
      }
      parse_item(item, std::move(label), s.substr(value_start, i - value_start));
    }
  }

 private:
  void error(std::string_view item, const std::string& why) {
    out_.perfdata_errors.push_back("perfdata item " + std::to_string(index_) + " '" +
                                   printable_excerpt(item, kItemExcerpt) + "': " + why);
  }

  void parse_item(std::string_view item, std::string label, std::string_view rest) {
    std::vector<std::string_view> fields = split(rest, ';');
    // Some plugins end with a ';' too many; only non-empty extra fields are wrong.
    while (fields.size() > 5 && fields.back().empty()) fields.pop_back();
    if (fields.size() > 5) {
      error(item, "more than 5 ';'-separated fields (value;warn;crit;min;max)");
      return;
    }
    const std::string_view value_text = fields[0];
    if (value_text == "U") return;  // "undetermined", allowed by the guidelines: nothing to record
    if (value_text.empty()) {
      error(item, "the value is missing");
      return;
    }

    // The value is a number, then the UOM: [-+]digits[.digits][e[-+]digits]UOM.
    std::size_t j = 0;
    if (value_text[j] == '-' || value_text[j] == '+') ++j;
    bool digits = false;
    while (j < value_text.size() && (is_digit(value_text[j]) || value_text[j] == '.')) {
      digits = digits || is_digit(value_text[j]);
      ++j;
    }
    if (digits && j < value_text.size() && (value_text[j] == 'e' || value_text[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < value_text.size() && (value_text[k] == '-' || value_text[k] == '+')) ++k;
      if (k < value_text.size() && is_digit(value_text[k])) {
        while (k < value_text.size() && is_digit(value_text[k])) ++k;
        j = k;
      }
    }
    const std::string_view number = value_text.substr(0, j);
    const std::string_view uom = value_text.substr(j);
    auto value = digits ? plain_number(number) : std::nullopt;
    if (!value) {
      error(item, "value '" + printable_excerpt(value_text, kItemExcerpt) + "' is not a number");
      return;
    }
    for (char c : uom) {
      if (!is_alpha(c) && c != '%') {
        error(item, "value '" + printable_excerpt(value_text, kItemExcerpt) +
                        "' is not a number followed by a unit (a unit is letters or %; a decimal comma is not read)");
        return;
      }
    }

    PerfDatum d;
    d.label = std::move(label);
    d.value = *value;
    d.uom = std::string(uom);
    // Thresholds and bounds are in the value's unit; some plugins repeat it ("80%"), which is harmless.
    auto strip_uom = [&](std::string_view f) {
      if (!uom.empty() && f.size() > uom.size() && f.substr(f.size() - uom.size()) == uom) {
        f.remove_suffix(uom.size());
      }
      return f;
    };
    static constexpr const char* kNames[] = {"value", "warn threshold", "crit threshold", "min", "max"};
    std::optional<double>* slots[] = {nullptr, &d.warn, &d.crit, &d.min, &d.max};
    for (std::size_t f = 1; f < fields.size(); ++f) {
      const std::string_view text = strip_uom(fields[f]);
      if (text.empty()) continue;
      if (auto n = plain_number(text)) {
        *slots[f] = n;
      } else if (f <= 2 && is_range(text)) {
        // A valid range, kept as nullopt (see PerfDatum).
      } else {
        error(item, std::string(kNames[f]) + " '" + printable_excerpt(fields[f], kItemExcerpt) + "' is not a number" +
                        (f <= 2 ? " or a range" : ""));
      }
    }
    out_.perfdata.push_back(std::move(d));
  }

  PluginOutput& out_;
  std::size_t index_ = 0;  // 1-based number of the item being read, across sections
};

}  // namespace

PluginOutput parse_plugin_output(std::string_view output) {
  PluginOutput out;
  const std::size_t nl = output.find('\n');
  const std::string_view first = output.substr(0, nl);
  const std::string_view rest = nl == std::string_view::npos ? std::string_view{} : output.substr(nl + 1);

  const std::size_t bar = first.find('|');
  out.status_text = std::string(trim(first.substr(0, bar)));

  // Long text runs up to the first '|' of the following lines; everything after it is perfdata.
  const std::size_t long_bar = rest.find('|');
  for (std::string_view line : lines(rest.substr(0, long_bar))) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.long_text += line;
    out.long_text += '\n';
  }
  out.long_text.resize(rtrim(out.long_text).size());

  PerfParser perf(out);
  if (bar != std::string_view::npos) perf.parse_section(first.substr(bar + 1));
  if (long_bar != std::string_view::npos) perf.parse_section(rest.substr(long_bar + 1));
  return out;
}

PerfSample to_base_units(const PerfDatum& datum) {
  struct Scale {
    std::string_view uom;
    std::string_view unit;
    double factor;
  };
  static constexpr double kKi = 1024.0;
  static constexpr Scale kScales[] = {
      {"s", "seconds", 1.0},
      {"ms", "seconds", 1e-3},
      {"us", "seconds", 1e-6},
      {"B", "bytes", 1.0},
      {"KB", "bytes", kKi},
      {"kB", "bytes", kKi},
      {"MB", "bytes", kKi * kKi},
      {"GB", "bytes", kKi * kKi * kKi},
      {"TB", "bytes", kKi * kKi * kKi * kKi},
      {"%", "percent", 1.0},
      {"c", "total", 1.0},
      {"", "", 1.0},
  };
  for (const Scale& s : kScales) {
    if (datum.uom == s.uom) return PerfSample{datum.label, std::string(s.unit), datum.value * s.factor};
  }
  return PerfSample{datum.label, datum.uom, datum.value};
}

std::string_view nagios_status_name(int exit_code) {
  switch (exit_code) {
    case 0:
      return "OK";
    case 1:
      return "WARNING";
    case 2:
      return "CRITICAL";
    default:
      return "UNKNOWN";
  }
}

}  // namespace vigil
