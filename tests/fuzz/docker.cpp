// tests/fuzz/docker.cpp: the Docker Engine API's answers (probes/docker/
// api.hpp): /version, /containers/json, /containers/ID/json,
// /containers/ID/stats, an error answer's message and the /events stream,
// the same bytes given to each.
//
// Promises checked: no parser throws or crashes; an error is a kParse with
// a bounded message; what is kept is bounded (kMaxField, kMaxHealthOutput),
// valid UTF-8 (the strings go into stored JSON), ids are container ids and
// labels are sorted and unique; a container, event or stats read back from JSON
// written from what was read (written here, independently of the parser)
// is the same; and the events splitter gives the same lines whatever the
// pieces the stream arrives in.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "probes/docker/api.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace vigil;
using namespace vigil::docker;
using nlohmann::json;

namespace {

template <class T>
void check_error(const Result<T>& r) {
  if (r) return;
  FUZZ_CHECK(r.error().kind == ErrorKind::kParse || r.error().kind == ErrorKind::kNotAvailable);
  FUZZ_CHECK(!r.error().message.empty());
  FUZZ_CHECK(r.error().message.size() <= fuzz::kMaxMessage);
}

// Valid UTF-8 (strict dump() throws on anything else; that would abort).
void check_text(const std::string& s, std::size_t max) {
  FUZZ_CHECK(s.size() <= max);
  (void)json(s).dump();
}

void check_labels(const Labels& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    check_text(labels[i].first, kMaxField);
    check_text(labels[i].second, kMaxField);
    if (i > 0) FUZZ_CHECK(labels[i - 1].first < labels[i].first);
  }
}

json labels_json(const Labels& labels) {
  json o = json::object();
  for (const auto& [k, v] : labels) o[k] = v;
  return o;
}

std::string time_text(const std::optional<WallMs>& t) {
  return t ? format_rfc3339_ms(*t) : "0001-01-01T00:00:00Z";
}

// What a Docker engine would have sent for `c`.
json container_json(const ContainerInfo& c) {
  json health = {{"Status", std::string(to_string(c.health))}, {"FailingStreak", c.failing_streak}};
  if (c.last_health) {
    json entry = {{"ExitCode", c.last_health->exit_code}, {"Output", c.last_health->output}};
    if (c.last_health->end) entry["End"] = time_text(c.last_health->end);
    health["Log"] = json::array({entry});
  }
  json state = {{"Status", std::string(to_string(c.state))},
                {"OOMKilled", c.oom_killed},
                {"Pid", c.pid},
                {"ExitCode", c.exit_code},
                {"Error", c.error},
                {"StartedAt", time_text(c.started_at)},
                {"FinishedAt", time_text(c.finished_at)},
                {"Health", health}};
  json check = {{"Test", c.has_healthcheck ? json::array({"CMD", "true"}) : json::array({"NONE"})},
                {"StartPeriod", std::int64_t{c.health_start_period.count()} * 1'000'000},
                {"Interval", std::int64_t{c.health_interval.count()} * 1'000'000}};
  return {{"Id", c.id},
          {"Name", "/" + c.name},
          {"RestartCount", c.restart_count},
          {"State", state},
          {"Config", {{"Image", c.image}, {"Labels", labels_json(c.labels)}, {"Healthcheck", check}}},
          {"HostConfig",
           {{"Memory", c.memory_limit},
            {"CgroupParent", c.cgroup_parent},
            {"RestartPolicy",
             {{"Name", std::string(to_string(c.restart_policy))}, {"MaximumRetryCount", c.restart_max_retries}}}}}};
}

bool same(const ContainerInfo& a, const ContainerInfo& b) {
  const auto log_same = [](const std::optional<HealthLogEntry>& x, const std::optional<HealthLogEntry>& y) {
    return x.has_value() == y.has_value() &&
           (!x || (x->exit_code == y->exit_code && x->output == y->output && x->end == y->end));
  };
  return a.id == b.id && a.name == b.name && a.image == b.image && a.state == b.state && a.oom_killed == b.oom_killed &&
         a.pid == b.pid && a.exit_code == b.exit_code && a.error == b.error && a.started_at == b.started_at &&
         a.finished_at == b.finished_at && a.health == b.health && a.failing_streak == b.failing_streak &&
         log_same(a.last_health, b.last_health) && a.has_healthcheck == b.has_healthcheck &&
         a.health_start_period == b.health_start_period && a.health_interval == b.health_interval &&
         a.restart_count == b.restart_count && a.restart_policy == b.restart_policy &&
         a.restart_max_retries == b.restart_max_retries && a.labels == b.labels && a.memory_limit == b.memory_limit &&
         a.cgroup_parent == b.cgroup_parent;
}

void check_container(std::string_view text) {
  const auto c = parse_container(text);
  check_error(c);
  if (!c) return;
  FUZZ_CHECK(is_container_id(c->id));
  check_text(c->name, kMaxField);
  check_text(c->image, kMaxField);
  check_text(c->error, kMaxField);
  check_text(c->cgroup_parent, kMaxField);
  check_labels(c->labels);
  FUZZ_CHECK(to_string(c->state) != "unknown" && to_string(c->health) != "unknown" &&
             to_string(c->restart_policy) != "unknown");
  if (c->last_health) check_text(c->last_health->output, kMaxHealthOutput);
  // Times out of the range format_rfc3339_ms spells (years 1-9999) do not
  // round-trip through text; everything else must.
  const auto writable = [](const std::optional<WallMs>& t) {
    return !t || (*t > -62135596800000LL + 86400000 && *t < 253402300799000LL);
  };
  if (!writable(c->started_at) || !writable(c->finished_at) || (c->last_health && !writable(c->last_health->end))) {
    return;
  }
  const auto again = parse_container(container_json(*c).dump());
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(same(*c, *again));
}

void check_event(std::string_view line) {
  const auto ev = parse_event(line);
  check_error(ev);
  if (!ev || !ev->has_value()) return;
  const ContainerEvent& e = **ev;
  FUZZ_CHECK(is_container_id(e.id));
  FUZZ_CHECK((e.action == EventAction::kHealthStatus) == (e.health != HealthStatus::kNone));
  FUZZ_CHECK(!e.exit_code || (e.action == EventAction::kDie && *e.exit_code >= 0 && *e.exit_code <= 255));
  check_text(e.name, kMaxField);
  check_labels(e.attributes);
  std::string action(to_string(e.action));
  if (e.action == EventAction::kHealthStatus) action += ": " + std::string(to_string(e.health));
  json attributes = labels_json(e.attributes);
  if (!e.name.empty()) attributes["name"] = e.name;
  if (e.exit_code) attributes["exitCode"] = std::to_string(*e.exit_code);
  const json written = {{"Type", "container"},
                        {"Action", action},
                        {"Actor", {{"ID", e.id}, {"Attributes", attributes}}},
                        {"timeNano", e.time_nano}};
  const auto again = parse_event(written.dump());
  FUZZ_CHECK(again.has_value() && again->has_value());
  const ContainerEvent& b = **again;
  // A time of 0 with "time" given reads as time * 1e9; written back as
  // timeNano it reads the same.
  FUZZ_CHECK(b.id == e.id && b.action == e.action && b.health == e.health && b.exit_code == e.exit_code &&
             b.name == e.name && b.attributes == e.attributes && b.time_nano == e.time_nano);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text_of(data, size);

  const auto version = parse_version(text);
  check_error(version);
  if (version) {
    check_error(negotiate(*version));
    if (const auto v = negotiate(*version)) FUZZ_CHECK(*v >= kOldestApi && *v <= kNewestApi && *v <= version->api);
  }

  const auto list = parse_container_list(text);
  check_error(list);
  if (list) {
    for (const auto& c : *list) {
      FUZZ_CHECK(is_container_id(c.id));
      for (const auto& n : c.names) check_text(n, kMaxField);
      check_labels(c.labels);
    }
  }

  check_container(text);

  // Stats: read back from JSON written (here) from what was read, the same.
  const auto stats = parse_stats(text);
  check_error(stats);
  if (stats) {
    json j = json::object();
    auto put = [](json& at, const char* key, const std::optional<std::uint64_t>& v) {
      if (v) at[key] = *v;
    };
    put(j["memory_stats"], "usage", stats->memory_usage);
    put(j["memory_stats"], "max_usage", stats->memory_max_usage);
    put(j["memory_stats"], "failcnt", stats->memory_failcnt);
    put(j["cpu_stats"]["cpu_usage"], "total_usage", stats->cpu_usage_ns);
    put(j["cpu_stats"]["throttling_data"], "periods", stats->cpu_periods);
    put(j["cpu_stats"]["throttling_data"], "throttled_periods", stats->cpu_throttled_periods);
    put(j["cpu_stats"]["throttling_data"], "throttled_time", stats->cpu_throttled_ns);
    put(j["pids_stats"], "current", stats->pids_current);
    put(j["pids_stats"], "limit", stats->pids_limit);
    auto ops = [](const std::optional<std::uint64_t>& r, const std::optional<std::uint64_t>& w) {
      json list = json::array();
      if (r) list.push_back({{"major", 8}, {"minor", 0}, {"op", "Read"}, {"value", *r}});
      if (w) list.push_back({{"major", 8}, {"minor", 0}, {"op", "Write"}, {"value", *w}});
      return list;
    };
    j["blkio_stats"]["io_service_bytes_recursive"] = ops(stats->read_bytes, stats->write_bytes);
    j["blkio_stats"]["io_serviced_recursive"] = ops(stats->reads, stats->writes);
    const auto again = parse_stats(j.dump());
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *stats);
  }

  const std::string message = engine_message(text);
  FUZZ_CHECK(!message.empty() && message.size() <= fuzz::kMaxMessage);

  // The stream: whole, then in pieces cut where the input's bytes say.
  constexpr std::size_t kMaxLine = 4096;
  std::vector<std::string> whole, pieces;
  std::size_t whole_overlong = 0, pieces_overlong = 0;
  EventSplitter a(kMaxLine), b(kMaxLine);
  a.feed(
      text, [&](std::string_view l) { whole.emplace_back(l); }, [&](std::size_t) { ++whole_overlong; });
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = 1 + static_cast<unsigned char>(text[i]) % 97;
    b.feed(
        text.substr(i, n), [&](std::string_view l) { pieces.emplace_back(l); },
        [&](std::size_t) { ++pieces_overlong; });
    FUZZ_CHECK(b.pending() <= kMaxLine);
    i += n;
  }
  FUZZ_CHECK(whole == pieces);
  FUZZ_CHECK(whole_overlong == pieces_overlong);
  FUZZ_CHECK(a.pending() == b.pending());
  for (const auto& line : whole) {
    FUZZ_CHECK(!line.empty() && line.size() <= kMaxLine && line.find('\n') == std::string::npos);
    check_event(line);
  }
  return 0;
}
