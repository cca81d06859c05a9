#include "core/sample.hpp"

#include <algorithm>

namespace vigil {

SeriesKey::SeriesKey(std::string metric_name, Labels label_set)
    : metric(std::move(metric_name)), labels(std::move(label_set)) {
  std::sort(labels.begin(), labels.end(), [](const Label& a, const Label& b) { return a.first < b.first; });
}

std::string SeriesKey::labels_text() const {
  if (labels.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    for (char c : value) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string SeriesKey::canonical() const {
  return metric + labels_text();
}

Result<Labels> parse_labels_text(std::string_view text) {
  Labels out;
  if (text.empty()) return out;
  auto bad = [&](std::string why) {
    return fail(ErrorKind::kParse, "invalid label set " + std::string(text) + ": " + why);
  };
  if (text.front() != '{' || text.back() != '}') return bad("expected {name=\"value\",...}");
  std::size_t i = 1;
  const std::size_t end = text.size() - 1;
  while (i < end) {
    std::size_t eq = text.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= end || text[eq + 1] != '"') {
      return bad("expected name=\"value\"");
    }
    std::string name(text.substr(i, eq - i));
    std::string value;
    std::size_t j = eq + 2;
    bool closed = false;
    while (j < end) {
      char c = text[j];
      if (c == '\\' && j + 1 < end) {
        char n = text[j + 1];
        value += n == 'n' ? '\n' : n;
        j += 2;
      } else if (c == '"') {
        closed = true;
        ++j;
        break;
      } else {
        value += c;
        ++j;
      }
    }
    if (!closed) return bad("unterminated value");
    out.emplace_back(std::move(name), std::move(value));
    if (j < end) {
      if (text[j] != ',') return bad("expected ','");
      ++j;
    }
    i = j;
  }
  return out;
}

}  // namespace vigil
