#include "config/values.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <regex>

#include "core/text.hpp"
#include "net/curl_api.hpp"

namespace vigil::config_detail {

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto close = close_matches(word, candidates, 1);
  std::string out;
  if (!close.empty()) out = " (did you mean \"" + close.front() + "\"?)";
  return out + "; valid: " + join(candidates);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

ConfigLocation location_of(const std::string& file, const toml::source_region& src) {
  return ConfigLocation{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column), {}};
}

namespace {

class Converter {
 public:
  explicit Converter(std::vector<ConfigError>& errors) : errors_(errors) {}

  void error(ConfigErrorKind kind, ConfigLocation where, std::string key, std::string message) {
    errors_.push_back({kind, std::move(where), std::move(key), std::move(message)});
  }

  // Converts and range-checks one value; reports and returns nullopt when bad.
  std::optional<Value> convert(const KeyInfo& spec, const RawValue& raw, const ConfigLocation& where,
                               const std::string& key) {
    if (is_structured(spec.type)) return structured(spec, raw, where, key);
    if (raw.node == nullptr) return from_text(spec, raw.text, where, key);  // the environment: always text
    const toml::node& node = *raw.node;
    // A boolean and a count must be written as TOML's own types in a file.
    if (!node.is_string() || spec.type == ValueType::kBool || spec.type == ValueType::kCount) {
      return from_node(spec, node, where, key);
    }
    return from_text(spec, *node.value<std::string>(), where, key);
  }

  std::optional<Value> wrong_type(const KeyInfo& spec, const ConfigLocation& where, const std::string& key,
                                  const char* got) {
    error(ConfigErrorKind::kWrongType, where, key,
          std::string("expected ") +
              (spec.type == ValueType::kChoice &&
                       std::find(spec.choices.begin(), spec.choices.end(), "true") != spec.choices.end()
                   ? "true, false or a string"
                   : expected_type(spec.type)) +
              ", got " + got + "; valid: " + spec.valid);
    return std::nullopt;
  }

  // A list or a table: a TOML node in a file; from the environment, TOML
  // text (VIGIL_CHECK_..._COMMAND='["/bin/check", "-w", "5"]').
  std::optional<Value> structured(const KeyInfo& spec, const RawValue& raw, const ConfigLocation& where,
                                  const std::string& key) {
    if (raw.node != nullptr) return convert_structured(spec, *raw.node, where, key);
    // A command from the environment: an array as TOML text, else the one
    // string for a shell as written.
    if (spec.type == ValueType::kCommand && trim(raw.text).substr(0, 1) != "[") {
      if (trim(raw.text).empty()) {
        error(ConfigErrorKind::kBadValue, where, key, "an empty command; valid: " + std::string(spec.valid));
        return std::nullopt;
      }
      return Value(raw.text);
    }
    toml::table parsed;
    try {
      parsed = toml::parse("v = " + raw.text);
    } catch (const toml::parse_error& e) {
      error(ConfigErrorKind::kBadValue, where, key,
            "\"" + raw.text + "\" is not a TOML value (" + std::string(e.description()) + "); valid: " + spec.valid);
      return std::nullopt;
    }
    return convert_structured(spec, *parsed.get("v"), where, key);
  }

  // A value written as a TOML integer, float or boolean.
  std::optional<Value> from_node(const KeyInfo& spec, const toml::node& node, const ConfigLocation& where,
                                 const std::string& key) {
    if (spec.type == ValueType::kSize && node.is_integer()) {
      const std::int64_t n = *node.value<std::int64_t>();
      return check_range(spec, where, key, Value(static_cast<std::uint64_t>(std::max<std::int64_t>(n, 0))), n);
    }
    const bool numeric =
        spec.type == ValueType::kNumber || spec.type == ValueType::kPercent || spec.type == ValueType::kLimit;
    if (numeric && (node.is_integer() || node.is_floating_point())) {
      const double d = node.is_integer() ? static_cast<double>(*node.value<std::int64_t>()) : *node.value<double>();
      if (spec.type == ValueType::kLimit) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", d);
        return check_number(spec, where, key, Value(std::string(buf)), d, true);
      }
      return check_number(spec, where, key, Value(d), d, spec.type == ValueType::kPercent);
    }
    if (spec.type == ValueType::kBool && node.is_boolean()) return Value(*node.value<bool>());
    // A choice whose names include the booleans ([docker] auto = true or "all").
    if (spec.type == ValueType::kChoice && node.is_boolean() &&
        std::find(spec.choices.begin(), spec.choices.end(), "true") != spec.choices.end()) {
      if (auto c = choice(spec, *node.value<bool>() ? "true" : "false", where, key)) return Value(std::move(*c));
      return std::nullopt;
    }
    if (spec.type == ValueType::kCount && node.is_integer()) {
      const std::int64_t n = *node.value<std::int64_t>();
      return check_range(spec, where, key, Value(n), n);
    }
    return wrong_type(spec, where, key, toml_type_name(node));
  }

  // A value written as text (a TOML string, or an environment variable).
  std::optional<Value> from_text(const KeyInfo& spec, const std::string& text, const ConfigLocation& where,
                                 const std::string& key) {
    auto bad = [&](const std::string& why) -> std::optional<Value> {
      error(ConfigErrorKind::kBadValue, where, key, why + "; valid: " + spec.valid);
      return std::nullopt;
    };
    const std::string quoted = "\"" + text + "\"";
    switch (spec.type) {
      case ValueType::kBool:
        if (text == "true" || text == "1" || text == "yes") return Value(true);
        if (text == "false" || text == "0" || text == "no") return Value(false);
        return bad(quoted + " is not a boolean");
      case ValueType::kCount: {
        auto n = to_i64(trim(text));
        if (!n) return bad(quoted + " is not an integer");
        return check_range(spec, where, key, Value(*n), *n);
      }
      case ValueType::kDuration: {
        auto d = parse_duration(text);
        if (!d) return bad(d.error().message);
        return check_range(spec, where, key, Value(*d), d->count());
      }
      case ValueType::kLogLevel: {
        LogLevel level;
        if (!parse_log_level(text, &level)) return bad(quoted + " is not a log level");
        return Value(level);
      }
      case ValueType::kRegex:
        if (auto problem = regex_problem(text)) return bad(*problem);
        return Value(text);
      case ValueType::kPath:
      case ValueType::kText:
        if (text.empty()) return bad("empty");
        if (text.find('\0') != std::string::npos) return bad("contains a NUL byte");
        return Value(text);
      case ValueType::kSize: {
        auto n = parse_size(text);
        if (!n) return bad(n.error().message);
        return check_range(spec, where, key, Value(static_cast<std::uint64_t>(*n)), static_cast<std::int64_t>(*n));
      }
      case ValueType::kUrl:
        if (auto problem = url_problem(text)) return bad(quoted + ": " + *problem);
        return Value(text);
      case ValueType::kNumber:
      case ValueType::kPercent: {
        std::string_view t = trim(text);
        if (spec.type == ValueType::kPercent && !t.empty() && t.back() == '%') t = trim(t.substr(0, t.size() - 1));
        auto d = parse_number(t);
        if (!d) return bad(quoted + " is not a number");
        return check_number(spec, where, key, Value(*d), *d, spec.type == ValueType::kPercent);
      }
      case ValueType::kLimit: {
        std::string t(trim(text));
        if (t.empty()) return bad("empty");
        if (auto d = parse_number(t)) return check_number(spec, where, key, Value(t), *d, true);
        return Value(t);  // a limit's name or a metric's, resolved by validation
      }
      case ValueType::kChoice:
        if (auto c = choice(spec, text, where, key)) return Value(std::move(*c));
        return std::nullopt;
      case ValueType::kSignal: {
        const int sig = signal_number(text);
        if (sig == 0) return bad(quoted + " is not a signal");
        return Value(sig);
      }
      case ValueType::kName:
        if (!name_ok(text, spec)) return bad(quoted + " is not allowed");
        return Value(text);
      case ValueType::kStringList:
      case ValueType::kStringMap:
      case ValueType::kStatusList:
      case ValueType::kChoiceList:
      case ValueType::kCommand:
        break;  // structured: never text
    }
    return std::nullopt;
  }

  // A number in a pattern (a back reference "\\12", a count "{2,5}")
  // larger than std::regex can take: libstdc++ reads such numbers into a
  // long without checking for overflow (undefined behaviour, found by the
  // config fuzzer), and a count of millions builds millions of states.
  static std::optional<std::string> regex_number_problem(const std::string& text) {
    constexpr std::size_t kMaxCount = 1000;
    auto digits_at = [&](std::size_t i) {
      std::size_t j = i;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
      return j - i;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        if (digits_at(i + 1) > 3) return "the back reference at byte " + std::to_string(i + 1) + " is too large";
        ++i;  // the escaped character
      } else if (text[i] == '{') {
        for (std::size_t j = i + 1; j < text.size() && text[j] != '}'; ++j) {
          const std::size_t n = digits_at(j);
          if (n > 4 || (n > 0 && std::stoul(text.substr(j, n)) > kMaxCount)) {
            return "the count at byte " + std::to_string(j + 1) + " is larger than " + std::to_string(kMaxCount);
          }
          j += n > 0 ? n - 1 : 0;
        }
      }
    }
    return std::nullopt;
  }

  // Why `text` cannot be a target's command-line pattern, or nullopt.
  static std::optional<std::string> regex_problem(const std::string& text) {
    if (auto why = regex_number_problem(text)) {
      return "\"" + text + "\" is not a valid regular expression (" + *why + ")";
    }
    try {
      std::regex re(text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return "\"" + text + "\" is not a valid regular expression (" + e.what() + ")";
    }
    if (text.empty()) return "an empty pattern matches every process";
    return std::nullopt;
  }

  static bool name_ok(const std::string& text, const KeyInfo& spec) {
    const auto len = static_cast<std::int64_t>(text.size());
    return len >= spec.min && len <= spec.max && std::all_of(text.begin(), text.end(), [](char c) {
             return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
           });
  }

  static bool is_structured(ValueType t) {
    return t == ValueType::kStringList || t == ValueType::kStringMap || t == ValueType::kStatusList ||
           t == ValueType::kChoiceList || t == ValueType::kCommand;
  }

  // `text` is one of the key's choices (blanks around it allowed).
  std::optional<std::string> choice(const KeyInfo& spec, std::string_view text, const ConfigLocation& where,
                                    const std::string& key) {
    const std::string t(trim(text));
    for (auto c : spec.choices) {
      if (c == t) return t;
    }
    std::vector<std::string> names(spec.choices.begin(), spec.choices.end());
    error(ConfigErrorKind::kBadValue, where, key, "\"" + std::string(text) + "\" is unknown" + did_you_mean(t, names));
    return std::nullopt;
  }

  std::optional<Value> convert_structured(const KeyInfo& spec, const toml::node& node, const ConfigLocation& where,
                                          const std::string& key) {
    auto wrong = [&](const std::string& what) {
      error(ConfigErrorKind::kWrongType, where, key, what + "; valid: " + spec.valid);
      return std::nullopt;
    };
    if (spec.type == ValueType::kStringMap) {
      const toml::table* t = node.as_table();
      if (t == nullptr) return wrong(std::string("expected a table, got ") + toml_type_name(node));
      StringPairs out;
      for (auto&& [k, v] : *t) {
        auto text = v.value<std::string>();
        if (!v.is_string()) return wrong("\"" + std::string(k.str()) + "\" is " + toml_type_name(v) + ", not a string");
        if (k.str().empty() || text->find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
          error(ConfigErrorKind::kBadValue, where, key,
                "\"" + std::string(k.str()) + "\": names must be non-empty and values one line without NUL");
          return std::nullopt;
        }
        out.emplace_back(std::string(k.str()), *text);
      }
      return Value(std::move(out));
    }
    if (spec.type == ValueType::kCommand && node.is_string()) return Value(*node.value<std::string>());
    const toml::array* a = node.as_array();
    if (a == nullptr) return wrong(std::string("expected an array, got ") + toml_type_name(node));
    if (spec.type == ValueType::kStringList || spec.type == ValueType::kChoiceList ||
        spec.type == ValueType::kCommand) {
      std::vector<std::string> out;
      for (const auto& e : *a) {
        if (!e.is_string()) return wrong(std::string("every element must be a string; got ") + toml_type_name(e));
        if (spec.type != ValueType::kChoiceList) {
          out.push_back(*e.value<std::string>());
        } else if (auto c = choice(spec, *e.value<std::string>(), where, key)) {
          out.push_back(std::move(*c));
        } else {
          return std::nullopt;
        }
      }
      return Value(std::move(out));
    }
    StatusRanges out;  // kStatusList
    for (const auto& e : *a) {
      std::string text;
      if (e.is_integer()) {
        text = std::to_string(*e.value<std::int64_t>());
      } else if (e.is_string()) {
        text = *e.value<std::string>();
      } else {
        return wrong(std::string("every element must be a status code or a range; got ") + toml_type_name(e));
      }
      auto range = parse_status_range(text);
      if (!range) {
        error(ConfigErrorKind::kBadValue, where, key,
              "\"" + text + "\" is not a status code (100-599), a range (200-299) or a class (2xx)");
        return std::nullopt;
      }
      out.push_back(*range);
    }
    if (out.empty()) return wrong("an empty list accepts no status");
    return Value(std::move(out));
  }

  static std::optional<std::pair<int, int>> parse_status_range(std::string_view text) {
    auto code = [](std::string_view t) -> std::optional<int> {
      auto n = to_u64(t);
      if (!n || *n < 100 || *n > 599) return std::nullopt;
      return static_cast<int>(*n);
    };
    if (text.size() == 3 && (text.substr(1) == "xx" || text.substr(1) == "XX") && text[0] >= '1' && text[0] <= '5') {
      int base = (text[0] - '0') * 100;
      return std::make_pair(base, base + 99);
    }
    if (auto dash = text.find('-'); dash != std::string_view::npos) {
      auto lo = code(trim(text.substr(0, dash)));
      auto hi = code(trim(text.substr(dash + 1)));
      if (!lo || !hi || *lo > *hi) return std::nullopt;
      return std::make_pair(*lo, *hi);
    }
    auto c = code(trim(text));
    if (!c) return std::nullopt;
    return std::make_pair(*c, *c);
  }

  // Why a URL cannot be used for an http check, or nullopt.
  static std::optional<std::string> url_problem(const std::string& text) {
    std::string why;
    const CurlApi* api = curl_api(&why);
    if (api == nullptr) return "cannot be checked: " + why;
    CURLU* u = api->url();
    if (u == nullptr) return "out of memory";
    std::optional<std::string> problem;
    CURLUcode rc = api->url_set(u, CURLUPART_URL, text.c_str(), 0);
    if (rc != CURLUE_OK) {
      problem = std::string("does not parse (") + api->url_strerror(rc) + ")";
    } else {
      char* scheme = nullptr;
      char* host = nullptr;
      if (api->url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == nullptr ||
          (std::string_view(scheme) != "http" && std::string_view(scheme) != "https")) {
        problem = "the scheme must be http or https";
      } else if (api->url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr || *host == '\0') {
        problem = "no host";
      }
      api->free(scheme);
      api->free(host);
    }
    api->url_cleanup(u);
    return problem;
  }

  static const char* expected_type(ValueType t) {
    switch (t) {
      case ValueType::kDuration:
        return "a duration string";
      case ValueType::kCount:
        return "an integer";
      case ValueType::kBool:
        return "a boolean";
      case ValueType::kName:
        return "a string";
      case ValueType::kPath:
        return "a path string";
      case ValueType::kRegex:
        return "a regular expression string";
      case ValueType::kLogLevel:
        return "a log level string";
      case ValueType::kText:
        return "a string";
      case ValueType::kSize:
        return "a size string or an integer";
      case ValueType::kUrl:
        return "a URL string";
      case ValueType::kStringList:
        return "an array of strings";
      case ValueType::kStringMap:
        return "a table of strings";
      case ValueType::kChoice:
        return "a string";
      case ValueType::kChoiceList:
        return "an array of strings";
      case ValueType::kCommand:
        return "an array of strings (or, with shell = true, one string)";
      case ValueType::kSignal:
        return "a signal name";
      case ValueType::kStatusList:
        return "an array of status codes";
      case ValueType::kNumber:
        return "a number";
      case ValueType::kPercent:
        return "a percentage";
      case ValueType::kLimit:
        return "a number or a limit name";
    }
    return "a value";
  }

  // Numbers: finite, and within [min, max] when `ranged`.
  std::optional<Value> check_number(const KeyInfo& spec, const ConfigLocation& where, const std::string& key, Value v,
                                    double d, bool ranged) {
    if (!std::isfinite(d)) {
      error(ConfigErrorKind::kBadValue, where, key, "not a finite number; valid: " + std::string(spec.valid));
      return std::nullopt;
    }
    if (ranged && (d < static_cast<double>(spec.min) || d > static_cast<double>(spec.max))) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%g", d);
      error(ConfigErrorKind::kOutOfRange, where, key, std::string(buf) + " is out of range; valid: " + spec.valid);
      return std::nullopt;
    }
    return v;
  }

  std::optional<Value> check_range(const KeyInfo& spec, const ConfigLocation& where, const std::string& key, Value v,
                                   std::int64_t n) {
    if (n >= spec.min && n <= spec.max) return v;
    const std::string shown =
        spec.type == ValueType::kDuration ? format_duration(std::get<Millis>(v)) : std::to_string(n);
    error(ConfigErrorKind::kOutOfRange, where, key, shown + " is out of range; valid: " + spec.valid);
    return std::nullopt;
  }

 private:
  std::vector<ConfigError>& errors_;
};

}  // namespace

std::optional<Value> convert_value(const KeyInfo& key, const RawValue& raw, const ConfigLocation& where,
                                   const std::string& dotted, std::vector<ConfigError>& errors) {
  return Converter(errors).convert(key, raw, where, dotted);
}

}  // namespace vigil::config_detail
