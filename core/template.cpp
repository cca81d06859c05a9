#include "core/template.hpp"

#include <algorithm>
#include <optional>

namespace vigil {

namespace {

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One piece of a template: literal text, a `{{ ... }}` placeholder, or an
// unclosed `{{` with everything after it (literal, but reported by validate).
struct Piece {
  enum Kind { kText, kPlaceholder, kUnclosed } kind;
  std::string_view raw;   // exactly as written
  std::string_view name;  // placeholders: the trimmed inside
  std::size_t offset;     // of raw in the template
};

template <typename Visit>
void scan_template(std::string_view tmpl, Visit&& visit) {
  std::size_t pos = 0;
  while (pos < tmpl.size()) {
    const std::size_t open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) break;
    if (open > pos) visit(Piece{Piece::kText, tmpl.substr(pos, open - pos), {}, pos});
    const std::size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) {
      visit(Piece{Piece::kUnclosed, tmpl.substr(open), {}, open});
      return;
    }
    const std::string_view raw = tmpl.substr(open, close + 2 - open);
    visit(Piece{Piece::kPlaceholder, raw, trim_blanks(tmpl.substr(open + 2, close - open - 2)), open});
    pos = close + 2;
  }
  if (pos < tmpl.size()) visit(Piece{Piece::kText, tmpl.substr(pos), {}, pos});
}

}  // namespace

std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& vars,
                            std::vector<std::string>* unknown) {
  if (unknown) unknown->clear();
  std::string out;
  out.reserve(tmpl.size());
  scan_template(tmpl, [&](const Piece& p) {
    if (p.kind == Piece::kPlaceholder) {
      if (auto it = vars.find(std::string(p.name)); is_name(p.name) && it != vars.end()) {
        out += it->second;
        return;
      }
      if (unknown && std::find(unknown->begin(), unknown->end(), p.name) == unknown->end()) {
        unknown->emplace_back(p.name);
      }
    }
    out += p.raw;
  });
  return out;
}

Result<void> validate_template(std::string_view tmpl, const std::set<std::string>& known) {
  std::optional<Error> error;
  scan_template(tmpl, [&](const Piece& p) {
    if (error) return;
    if (p.kind == Piece::kUnclosed) {
      error = Error{ErrorKind::kParse, "unclosed '{{' at offset " + std::to_string(p.offset) + " in template"};
    } else if (p.kind == Piece::kPlaceholder && !(is_name(p.name) && known.count(std::string(p.name)))) {
      std::string names;
      for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
      error = Error{ErrorKind::kInvalid, "unknown template variable '" + std::string(p.name) + "' at offset " +
                                             std::to_string(p.offset) + " (known: " + names + ")"};
    }
  });
  if (error) return tl::unexpected<Error>(std::move(*error));
  return {};
}

}  // namespace vigil
