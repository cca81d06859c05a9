#include "cli/current.hpp"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>

#include "cli/output.hpp"
#include "core/unique_fd.hpp"

namespace vigil::cli {

std::optional<int> running_pid(const std::string& state_dir) {
  const std::string pidfile = (std::filesystem::path(state_dir) / "vigild.pid").string();
  UniqueFd fd(::open(pidfile.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (fcntl(fd.get(), F_GETLK, &lock) != 0 || lock.l_type == F_UNLCK) return std::nullopt;
  return static_cast<int>(lock.l_pid);
}

bool Current::target_removed(const std::string& target) const {
  return targets && !target.empty() && !targets->count(target);
}

bool Current::check_removed(const std::string& target, const std::string& check) const {
  return checks && !checks->count({target, check});
}

std::string Current::stale_header(const std::string& what, WallMs now) const {
  if (running()) return "";
  std::string out = "vigild is not running: " + what + " as of its last sample";
  if (last_sample) {
    out += ", " + format_rfc3339_ms(*last_sample) + " (" + ago(*last_sample, now) + ")";
  } else {
    out += " (none was stored)";
  }
  return out;
}

namespace {

std::string string_at(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Targets added ([docker] auto) and removed since vigild started, in the
// order they came, on top of what its daemon_start named.
void apply_found_targets(StoreReader& store, WallMs started_ms, Current& c) {
  EventQuery q;
  q.since = started_ms;
  q.kind = "target_added";
  auto added = must(store.events(q));
  q.kind = "target_removed";
  auto removed = must(store.events(q));
  std::vector<Event> all;
  all.reserve(added.size() + removed.size());
  all.insert(all.end(), added.begin(), added.end());
  all.insert(all.end(), removed.begin(), removed.end());
  std::stable_sort(all.begin(), all.end(), [](const Event& a, const Event& b) { return a.ts_ms < b.ts_ms; });
  for (const Event& e : all) {
    if (e.target.empty()) continue;
    if (e.kind == EventKind::kTargetRemoved) {
      c.targets->erase(e.target);
      if (c.checks) std::erase_if(*c.checks, [&](const auto& k) { return k.first == e.target; });
      continue;
    }
    c.targets->insert(e.target);
    const json d = json::parse(e.details, nullptr, false);
    if (!c.checks || !d.is_object() || !d.contains("checks") || !d["checks"].is_array()) continue;
    for (const auto& check : d["checks"]) {
      if (check.is_string()) c.checks->emplace(e.target, check.get<std::string>());
    }
  }
}

}  // namespace

Current read_current(StoreReader& store, const std::string& db_path) {
  Current c;
  c.db_path = db_path;
  std::string state_dir = std::filesystem::path(db_path).parent_path().string();
  EventQuery q;
  q.kind = "daemon_*";
  q.limit = 1;
  auto last = must(store.events(q));
  if (!last.empty()) c.last_daemon = last[0];
  q.kind = "daemon_start";
  auto start = must(store.events(q));
  if (!start.empty()) {
    c.started_ms = start[0].ts_ms;
    const json d = json::parse(start[0].details, nullptr, false);
    if (d.is_object() && !string_at(d, "state_dir").empty()) state_dir = string_at(d, "state_dir");
    if (d.is_object() && d.contains("targets") && d["targets"].is_array()) {
      c.targets.emplace();
      for (const auto& t : d["targets"]) {
        if (t.is_string()) c.targets->insert(t.get<std::string>());
      }
    }
    if (d.is_object() && d.contains("checks") && d["checks"].is_array()) {
      c.checks.emplace();
      for (const auto& k : d["checks"]) {
        if (k.is_object()) c.checks->emplace(string_at(k, "target"), string_at(k, "check"));
      }
    }
  }
  if (c.started_ms && c.targets) apply_found_targets(store, *c.started_ms, c);
  c.pid = running_pid(state_dir.empty() ? "." : state_dir);
  c.last_sample = must(store.last_sample_ms());
  return c;
}

}  // namespace vigil::cli
