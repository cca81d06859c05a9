// core/template.hpp: annotation templates, `{{name}}` placeholders.
//
// Pure text substitution for alert annotations and messages: `{{name}}` or
// `{{ name }}` (spaces and tabs allowed inside the braces) is replaced by
// vars[name] wherever it occurs.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace vigil {

// A placeholder whose name is not in `vars` (or is not a name at all, like
// `{{ .Value }}`) is left as written and its trimmed text is listed once in
// `*unknown` (cleared first), in order of first appearance. An unclosed `{{`
// is left as is. Replacement values are not scanned again.
std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& vars,
                            std::vector<std::string>* unknown = nullptr);

// For the config loader: the first unknown placeholder (ErrorKind::kInvalid,
// naming it, its byte offset and the known names) or unclosed `{{`
// (ErrorKind::kParse, with its offset). Stricter than render_template, which
// tolerates both, because at load time they are almost surely typos.
Result<void> validate_template(std::string_view tmpl, const std::set<std::string>& known);

}  // namespace vigil
