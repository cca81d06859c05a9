// probes/checks/kinds.hpp: the one table of check kinds.
//
// Each row says everything about a kind: its name (core/kinds.hpp), what it
// does (for --help and the man page), its keys, the settings struct they
// fill, the checks of the settings that go beyond one key's range, and the
// factory of its runner. The config loader, `vigild --help`, the man page's
// key lists and the loop all read this table: a new kind is a new file with
// its row (and its name in core/kinds.hpp).
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "core/keys.hpp"
#include "core/kinds.hpp"
#include "probes/checks/check.hpp"

namespace vigil {

struct CheckKindInfo {
  CheckKind kind;
  // One paragraph for people: what a run does, when it passes, what it samples.
  std::string_view summary;
  // The kind's own keys (the common ones are common_check_keys()).
  std::span<const Key<KindSettings>> keys;
  // Settings with every key at its default.
  KindSettings (*defaults)();
  // Problems of the settings as a whole (a required key, keys that go
  // together); every key's own value has been range-checked already.
  void (*validate)(const CheckSpec& check, KeyProblems& problems);
  std::unique_ptr<CheckRunner> (*make_runner)(CheckContext& context, const CheckSpec& check);
};

// In CheckKind order.
std::span<const CheckKindInfo> check_kinds();
const CheckKindInfo& check_kind(CheckKind kind);

// The keys every check has: name, target, kind, interval, timeout,
// fail_after, recover_after, flap_window, flap_threshold, alert.
std::span<const Key<CheckSpec>> common_check_keys();

// A check of `kind` with every key at its default (its settings included).
CheckSpec default_check(CheckKind kind);

// The kinds whose keys include `key`: "http, prometheus" (empty when none).
std::string kinds_with_key(std::string_view key);

// Each kind's row, defined in the kind's own file.
const CheckKindInfo& tcp_check_kind();
const CheckKindInfo& http_check_kind();
const CheckKindInfo& exec_check_kind();
const CheckKindInfo& redis_check_kind();
const CheckKindInfo& postgres_check_kind();
const CheckKindInfo& prometheus_check_kind();
const CheckKindInfo& docker_health_check_kind();

}  // namespace vigil
