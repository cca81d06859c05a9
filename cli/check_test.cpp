// vigil check test: one configured check, run once here, as vigild runs it.
#include "probes/checks/check.hpp"

#include <signal.h>

#include <cstring>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/sd_handles.hpp"
#include "core/text.hpp"

namespace vigil::cli {

namespace {

// The check `name_arg` names: NAME, or TARGET/NAME when several targets have one.
const CheckConfig& find_check(const Config& config, const std::string& name_arg) {
  std::string want_target, want_name = name_arg;
  if (auto slash = name_arg.find('/'); slash != std::string::npos) {
    want_target = name_arg.substr(0, slash);
    want_name = name_arg.substr(slash + 1);
  }
  std::vector<const CheckConfig*> found;
  std::vector<std::string> all;
  for (const auto& check : config.checks) {
    all.push_back(check.display_name());
    if (check.name == want_name && (want_target.empty() || check.target == want_target)) found.push_back(&check);
  }
  if (found.empty()) {
    std::string known;
    for (const auto& a : all) known += (known.empty() ? "" : ", ") + a;
    const std::string files = config.files.empty() ? std::string("built-in defaults") : config.files.front();
    std::vector<std::string> candidates = all;
    for (const auto& check : config.checks) candidates.push_back(check.name);
    auto close = close_matches(name_arg, candidates, 1);
    throw UsageError{"no check \"" + name_arg + "\" in " + files +
                     (close.empty() ? std::string() : " (did you mean \"" + close.front() + "\"?)") +
                     "; configured: " + (known.empty() ? std::string("none") : known)};
  }
  if (found.size() > 1) {
    std::string which;
    for (const auto* chk : found) which += (which.empty() ? "" : ", ") + chk->display_name();
    throw UsageError{"\"" + name_arg + "\" names several checks (" + which + "): write TARGET/NAME"};
  }
  return *found.front();
}

// One run on an event loop of its own, until the result is in and the run
// has cleaned up (an exec child killed and reaped); the check's own timeout
// bounds it.
CheckOutcome run_once(const CheckSpec& check) {
  sd_event* raw = nullptr;
  int r = sd_event_new(&raw);
  if (r < 0) throw UsageError{std::string("cannot create an event loop: ") + std::strerror(-r)};
  SdEventPtr event(raw);
  std::optional<CheckOutcome> outcome;
  CheckContext context(event.get());
  auto runner = context.make(check);
  runner->start([&](CheckOutcome out) { outcome = std::move(out); });
  while (!outcome || runner->busy()) {
    r = sd_event_run(event.get(), UINT64_MAX);
    if (r < 0) throw UsageError{std::string("event loop failed: ") + std::strerror(-r)};
  }
  return std::move(*outcome);
}

void print(const CheckSpec& check, const CheckOutcome& out, Format f) {
  const std::string kind(to_string(check.kind));
  if (f == Format::kJson) {
    json values = json::array();
    for (const auto& v : out.values) {
      values.push_back({{"metric", v.metric}, {"labels", labels_json(v.labels)}, {"value", v.value}});
    }
    json j = {{"target", check.target}, {"check", check.name},     {"kind", kind},
              {"ok", out.ok},           {"reason", out.reason},    {"duration_seconds", out.total_seconds},
              {"values", values},       {"warnings", out.warnings}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << check.display_name() << " (" << kind << "): " << (out.ok ? "ok" : "FAILED") << "\n"
            << "  reason:   " << out.reason << "\n"
            << "  duration: " << format_ms(out.total_seconds) << "\n";
  std::size_t shown = 0;
  for (const auto& v : out.values) {
    if (++shown > 50) {
      std::cout << "  ... " << out.values.size() - 50 << " more values (use --format json)\n";
      break;
    }
    std::cout << "  " << SeriesKey(v.metric, v.labels).canonical() << " " << format_value(v.value) << "\n";
  }
  for (const auto& w : out.warnings) std::cout << "  warning: " << w << "\n";
}

int cmd_check_test(const Options& options, const std::string& name_arg) {
  const Format f = options.parsed_format({Format::kTable, Format::kJson});
  const Config config = options.load("");
  const CheckConfig& check = find_check(config, name_arg);
  signal(SIGPIPE, SIG_IGN);
  const CheckOutcome out = run_once(check);
  print(check, out, f);
  return out.ok ? 0 : 1;
}

}  // namespace

Command add_check_test(CLI::App& app, const Options& options) {
  auto name = std::make_shared<std::string>();
  auto* check = app.add_subcommand("check", "Work with one configured check");
  check->require_subcommand(1);
  auto* test = check->add_subcommand(
      "test", "Run a configured check once, here, and print the result and timings (exit 0 ok, 1 failed)");
  test->add_option("name", *name, "The check's name, or TARGET/NAME when several targets have one")->required();
  return {test, [&options, name] { return cmd_check_test(options, *name); }};
}

}  // namespace vigil::cli
