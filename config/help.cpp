#include "config/help.hpp"

#include "config/sections.hpp"
#include "config/targets.hpp"
#include "probes/checks/kinds.hpp"

namespace vigil {

using namespace config_detail;

namespace {

template <class H>
std::string names(std::span<const Key<H>> keys) {
  std::string out;
  for (const auto& k : keys) out += std::string(" ") + k.name;
  return out;
}

// Text safe in a roff line: backslashes doubled, no control word at the start.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

template <class H>
std::string man_keys(std::span<const Key<H>> keys) {
  std::string out;
  for (const auto& k : keys) out += ".TP\n.B " + roff(k.name) + "\n" + roff(k.valid) + "\n";
  return out;
}

}  // namespace

std::string keys_help() {
  std::string out = "Configuration keys (vigild(8) says what each takes):\n";
  out += "  [daemon]:" + names(daemon_keys()) + "\n";
  out += "  [store]:" + names(store_keys()) + "\n";
  out += "  [host]:" + names(host_keys()) + "\n";
  out += "  [docker]:" + names(docker_keys()) + "\n";
  out += "  [[target]]:" + names(common_target_keys()) + ", and the keys of one kind:\n";
  for (const auto& k : target_kinds()) out += "    " + std::string(to_string(k.kind)) + ":" + names(k.keys) + "\n";
  out += "  [target.remediate]:" + names(remediate_keys()) + "\n";
  out += "  [[check]], [[target.check]], every kind:" + names(common_check_keys()) + "\n";
  for (const auto& k : check_kinds()) {
    out += "    " + std::string(to_string(k.kind)) + ":" + (k.keys.empty() ? " (no keys of its own)" : names(k.keys)) +
           "\n";
  }
  out += "  [alerting]:" + names(alerting_keys()) + "\n";
  out += "  [[alertmanager]], [[webhook]]:" + names(receiver_keys()) + "\n";
  std::string every;
  for (const auto& rk : rule_keys()) {
    if (rk.kinds.empty()) every += std::string(" ") + rk.key.name;
  }
  out += "  [[rule]], every kind:" + every + "\n";
  for (auto kind : kind_names<RuleKind>()) {
    std::string own;
    for (const auto& rk : rule_keys()) {
      if (!rk.kinds.empty() && rk.applies_to(*parse_kind<RuleKind>(kind))) own += std::string(" ") + rk.key.name;
    }
    out += "    " + std::string(kind) + ":" + own + "\n";
  }
  return out;
}

std::string keys_man() {
  std::string out;
  auto section = [&](const std::string& title, const std::string& body) { out += ".SS " + roff(title) + "\n" + body; };
  section("[daemon]", man_keys(daemon_keys()));
  section("[store]", man_keys(store_keys()));
  section("[host]", man_keys(host_keys()));
  section("[docker]", man_keys(docker_keys()));
  section("[[target]]", ".PP\nEvery target has a name and exactly one kind, chosen by the key written.\n" +
                            man_keys(common_target_keys()));
  for (const auto& k : target_kinds()) {
    section("[[target]] of kind " + std::string(to_string(k.kind)),
            ".PP\n" + roff(k.summary) + "\n" + man_keys(k.keys));
  }
  section("[target.remediate]", man_keys(remediate_keys()));
  section("[[check]] and [[target.check]]",
          ".PP\nEvery check has these keys; a key of another kind is an error.\n" + man_keys(common_check_keys()));
  for (const auto& k : check_kinds()) {
    section("kind = \"" + std::string(to_string(k.kind)) + "\"", ".PP\n" + roff(k.summary) + "\n" + man_keys(k.keys));
  }
  section("[alerting]", man_keys(alerting_keys()));
  section("[[alertmanager]] and [[webhook]]", man_keys(receiver_keys()));
  std::string rules;
  for (const auto& rk : rule_keys()) {
    rules += ".TP\n.B " + roff(rk.key.name) + "\n" + roff(rk.key.valid) +
             (rk.kinds.empty() ? std::string() : " (" + roff(rk.kinds_text()) + ")") + "\n";
  }
  section("[[rule]]", rules);
  return out;
}

}  // namespace vigil
