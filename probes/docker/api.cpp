#include "probes/docker/api.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/text.hpp"

namespace vigil::docker {
namespace {

using nlohmann::json;

// JSON text into a value, or an error that says where it broke. Parsing
// with exceptions off gives no position, so the exceptions nlohmann throws
// for bad text (a syntax error; a number too large for any type, "1e999")
// are caught here and nowhere else.
Result<json> parse_json(std::string_view body, std::string_view what) {
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    return fail(ErrorKind::kParse, std::string(what) + ": not valid JSON at byte " + std::to_string(e.byte) + " of " +
                                       std::to_string(body.size()));
  } catch (const json::exception& e) {
    return fail(ErrorKind::kParse, std::string(what) + ": not valid JSON (" + printable_excerpt(e.what(), 160) + ")");
  }
}

// At most `max` bytes of `s`, cut before a UTF-8 sequence rather than
// inside one (the parser took only valid UTF-8; what is kept stays valid).
std::string utf8_prefix(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

const char* type_word(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::binary:
      return "binary data";
    case json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

// Reads the fields of one JSON object, naming each by its path
// ("State.Pid") in errors. Absent fields and nulls leave the default; a
// field of another type is an error.
class Fields {
 public:
  Fields(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  std::optional<Error> error() const { return error_; }

  const json* find(std::string_view key) const {
    if (!object_.is_object()) return nullptr;
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  std::string name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  void string(std::string_view key, std::string& out, std::size_t max = kMaxField) {
    if (const json* v = typed(key, json::value_t::string, "a string")) {
      out = utf8_prefix(v->get_ref<const std::string&>(), max);
    }
  }

  template <class Int>
  void integer(std::string_view key, Int& out) {
    const json* v = find(key);
    if (v == nullptr || error_) return;
    if (v->is_number_integer()) {
      const auto n = v->is_number_unsigned() ? static_cast<std::int64_t>(std::min<std::uint64_t>(
                                                   v->get<std::uint64_t>(), std::numeric_limits<std::int64_t>::max()))
                                             : v->get<std::int64_t>();
      if (n >= std::numeric_limits<Int>::min() && n <= std::numeric_limits<Int>::max()) {
        out = static_cast<Int>(n);
        return;
      }
      fail_with(name(key) + ": " + std::to_string(n) + " is out of range");
      return;
    }
    fail_with(name(key) + ": a whole number was expected, got " + type_word(*v));
  }

  void boolean(std::string_view key, bool& out) {
    if (const json* v = typed(key, json::value_t::boolean, "true or false")) out = v->get<bool>();
  }

  // An RFC 3339 time; Docker's zero time (year 1) is "never".
  void time(std::string_view key, std::optional<WallMs>& out) {
    std::string text;
    string(key, text, 64);
    if (text.empty() || error_ || text.rfind("0001-01-01", 0) == 0) return;
    auto t = parse_rfc3339(text);
    if (!t) {
      fail_with(name(key) + ": " + t.error().message);
      return;
    }
    out = *t;
  }

  // A duration in nanoseconds.
  void nanos(std::string_view key, Millis& out) {
    std::int64_t ns = 0;
    integer(key, ns);
    out = Millis(ns / 1'000'000);
  }

  // An object of strings, as sorted labels.
  void labels(std::string_view key, Labels& out) {
    const json* v = typed(key, json::value_t::object, "an object");
    if (v == nullptr) return;
    for (const auto& [k, val] : v->items()) {
      if (!val.is_string()) {
        fail_with(name(key) + "." + printable_excerpt(k, 64) + ": a string was expected, got " + type_word(val));
        return;
      }
      out.emplace_back(utf8_prefix(k, kMaxField), utf8_prefix(val.get_ref<const std::string&>(), kMaxField));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end(), [](const Label& a, const Label& b) { return a.first == b.first; }),
              out.end());
  }

  // A nested object ({} when absent).
  Fields object(std::string_view key) {
    static const json empty = json::object();
    const json* v = typed(key, json::value_t::object, "an object");
    Fields f(v != nullptr ? *v : empty, name(key));
    f.error_ = error_;
    return f;
  }

  void absorb(const Fields& inner) {
    if (!error_) error_ = inner.error_;
  }

  void fail_with(std::string message) {
    if (!error_) error_ = Error{ErrorKind::kParse, std::move(message)};
  }

  template <Kind E>
  void kind(std::string_view key, E& out) {
    std::string text;
    string(key, text, 64);
    if (text.empty() || error_) return;
    if (auto k = parse_kind<E>(text)) {
      out = *k;
    } else {
      fail_with(name(key) + ": \"" + printable_excerpt(text, 64) + "\" is not one of " + kind_list<E>());
    }
  }

 private:
  const json* typed(std::string_view key, json::value_t type, const char* expected) {
    const json* v = find(key);
    if (v == nullptr || error_) return nullptr;
    if (v->type() != type) {
      fail_with(name(key) + ": " + expected + " was expected, got " + type_word(*v));
      return nullptr;
    }
    return v;
  }

  const json& object_;
  std::string path_;
  std::optional<Error> error_;
};

// The body must be a JSON object (or an array, for lists).
Result<json> parse_object(std::string_view body, std::string_view what) {
  auto j = parse_json(body, what);
  if (!j) return tl::unexpected(j.error());
  if (!j->is_object())
    return fail(ErrorKind::kParse, std::string(what) + ": an object was expected, got " + type_word(*j));
  return j;
}

// Ids go into request paths (/containers/ID/restart): only hex is taken,
// so that an answer cannot steer a request elsewhere.
std::string bad_id(const std::string& id) {
  return id.empty() ? "is missing" : "\"" + printable_excerpt(id, 80) + "\" is not a container id (64 hex digits)";
}

// A container name without its leading '/', at most kMaxField bytes.
std::string container_name(const std::string& name) {
  return utf8_prefix(!name.empty() && name.front() == '/' ? name.substr(1) : name, kMaxField);
}

}  // namespace

bool is_container_id(std::string_view id) {
  return id.size() >= 12 && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<ApiVersion> parse_api_version(std::string_view text) {
  const auto dot = text.find('.');
  if (dot != std::string_view::npos) {
    const auto major = to_u64(text.substr(0, dot));
    const auto minor = to_u64(text.substr(dot + 1));
    if (major && minor && *major < 1000 && *minor < 1000) {
      return ApiVersion{static_cast<int>(*major), static_cast<int>(*minor)};
    }
  }
  return fail(ErrorKind::kParse, "\"" + printable_excerpt(text, 32) + "\" is not an API version (e.g. 1.41)");
}

Result<EngineVersion> parse_version(std::string_view body) {
  auto j = parse_object(body, "/version");
  if (!j) return tl::unexpected(j.error());
  Fields f(*j, "");
  EngineVersion out;
  std::string api, min_api;
  f.string("Version", out.version, 128);
  f.string("ApiVersion", api, 32);
  f.string("MinAPIVersion", min_api, 32);
  f.string("Os", out.os, 64);
  if (auto e = f.error()) return fail(ErrorKind::kParse, "/version: " + e->message);
  if (api.empty()) return fail(ErrorKind::kParse, "/version: no ApiVersion in the answer");
  auto a = parse_api_version(api);
  if (!a) return fail(ErrorKind::kParse, "/version: ApiVersion: " + a.error().message);
  out.api = *a;
  out.min_api = ApiVersion{1, 12};
  if (!min_api.empty()) {
    auto m = parse_api_version(min_api);
    if (!m) return fail(ErrorKind::kParse, "/version: MinAPIVersion: " + m.error().message);
    out.min_api = *m;
  }
  return out;
}

Result<ApiVersion> negotiate(const EngineVersion& engine) {
  if (engine.api < kOldestApi) {
    return fail(ErrorKind::kNotAvailable, "the engine speaks API " + engine.api.text() + ", older than " +
                                              kOldestApi.text() + ", the oldest vigild speaks");
  }
  const ApiVersion v = std::min(engine.api, kNewestApi);
  if (v < engine.min_api) {
    return fail(ErrorKind::kNotAvailable, "the engine's oldest API is " + engine.min_api.text() + ", newer than " +
                                              kNewestApi.text() + ", the newest vigild speaks");
  }
  return v;
}

Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body) {
  auto j = parse_json(body, "/containers/json");
  if (!j) return tl::unexpected(j.error());
  if (!j->is_array()) {
    return fail(ErrorKind::kParse, "/containers/json: an array was expected, got " + std::string(type_word(*j)));
  }
  std::vector<ContainerSummary> out;
  out.reserve(j->size());
  for (std::size_t i = 0; i < j->size(); ++i) {
    const json& entry = (*j)[i];
    const std::string where = "/containers/json[" + std::to_string(i) + "]";
    if (!entry.is_object()) return fail(ErrorKind::kParse, where + ": an object was expected, got " + type_word(entry));
    Fields f(entry, "");
    ContainerSummary c;
    f.string("Id", c.id, 128);
    f.string("Image", c.image);
    f.kind("State", c.state);
    f.labels("Labels", c.labels);
    if (const json* names = f.find("Names")) {
      if (!names->is_array()) {
        f.fail_with("Names: an array was expected, got " + std::string(type_word(*names)));
      } else {
        for (const json& n : *names) {
          if (!n.is_string()) {
            f.fail_with("Names: strings were expected, got " + std::string(type_word(n)));
            break;
          }
          c.names.push_back(container_name(utf8_prefix(n.get_ref<const std::string&>(), kMaxField + 1)));
        }
      }
    }
    if (auto e = f.error()) return fail(ErrorKind::kParse, where + "." + e->message);
    if (!is_container_id(c.id)) return fail(ErrorKind::kParse, where + ".Id " + bad_id(c.id));
    out.push_back(std::move(c));
  }
  return out;
}

Result<ContainerInfo> parse_container(std::string_view body) {
  auto j = parse_object(body, "/containers/ID/json");
  if (!j) return tl::unexpected(j.error());
  Fields f(*j, "");
  ContainerInfo c;
  f.string("Id", c.id, 128);
  std::string name;
  f.string("Name", name, kMaxField + 1);
  c.name = container_name(name);
  f.integer("RestartCount", c.restart_count);

  Fields state = f.object("State");
  state.kind("Status", c.state);
  state.boolean("OOMKilled", c.oom_killed);
  state.integer("Pid", c.pid);
  state.integer("ExitCode", c.exit_code);
  state.string("Error", c.error);
  state.time("StartedAt", c.started_at);
  state.time("FinishedAt", c.finished_at);
  Fields health = state.object("Health");
  health.kind("Status", c.health);
  health.integer("FailingStreak", c.failing_streak);
  if (const json* log = health.find("Log")) {
    if (!log->is_array()) {
      health.fail_with(health.name("Log") + ": an array was expected, got " + type_word(*log));
    } else if (!log->empty()) {
      Fields last(log->back(), health.name("Log") + "[" + std::to_string(log->size() - 1) + "]");
      if (!log->back().is_object()) last.fail_with(health.name("Log") + ": objects were expected");
      HealthLogEntry entry;
      last.integer("ExitCode", entry.exit_code);
      last.string("Output", entry.output, kMaxHealthOutput);
      last.time("End", entry.end);
      health.absorb(last);
      c.last_health = std::move(entry);
    }
  }
  state.absorb(health);
  f.absorb(state);

  Fields config = f.object("Config");
  config.string("Image", c.image);
  config.labels("Labels", c.labels);
  Fields check = config.object("Healthcheck");
  if (const json* test = check.find("Test")) {
    // ["NONE"] disables an image's check; [] inherits the image's (already
    // merged into Config by the engine).
    if (!test->is_array()) {
      check.fail_with(check.name("Test") + ": an array was expected, got " + type_word(*test));
    } else {
      c.has_healthcheck = !test->empty() && !(test->front().is_string() && test->front() == "NONE");
    }
  }
  check.nanos("StartPeriod", c.health_start_period);
  check.nanos("Interval", c.health_interval);
  config.absorb(check);
  f.absorb(config);

  Fields host = f.object("HostConfig");
  host.integer("Memory", c.memory_limit);
  host.string("CgroupParent", c.cgroup_parent);
  Fields restart = host.object("RestartPolicy");
  restart.kind("Name", c.restart_policy);
  restart.integer("MaximumRetryCount", c.restart_max_retries);
  host.absorb(restart);
  f.absorb(host);

  if (auto e = f.error()) return fail(ErrorKind::kParse, "/containers/ID/json: " + e->message);
  if (!is_container_id(c.id)) return fail(ErrorKind::kParse, "/containers/ID/json: Id " + bad_id(c.id));
  return c;
}

Result<std::optional<ContainerEvent>> parse_event(std::string_view line) {
  auto j = parse_object(line, "/events");
  if (!j) return tl::unexpected(j.error());
  Fields f(*j, "");
  std::string type, action;
  f.string("Type", type, 64);
  f.string("Action", action, 256);
  if (auto e = f.error()) return fail(ErrorKind::kParse, "/events: " + e->message);
  if (type != "container") return std::optional<ContainerEvent>();

  ContainerEvent ev;
  std::string_view verb = action;
  std::string_view detail;
  if (const auto colon = verb.find(':'); colon != std::string_view::npos) {
    detail = trim(verb.substr(colon + 1));
    verb = verb.substr(0, colon);
  }
  const auto kind = parse_kind<EventAction>(verb);
  if (!kind) return std::optional<ContainerEvent>();
  ev.action = *kind;
  if (ev.action == EventAction::kHealthStatus) {
    const auto h = parse_kind<HealthStatus>(detail);
    if (!h || *h == HealthStatus::kNone) {
      return fail(ErrorKind::kParse, "/events: \"" + printable_excerpt(action, 64) + "\" names no health status");
    }
    ev.health = *h;
  }

  Fields actor = f.object("Actor");
  actor.string("ID", ev.id, 128);
  Labels attributes;
  actor.labels("Attributes", attributes);
  f.absorb(actor);
  std::int64_t seconds = 0;
  f.integer("time", seconds);
  f.integer("timeNano", ev.time_nano);
  if (auto e = f.error()) return fail(ErrorKind::kParse, "/events: " + e->message);
  if (!is_container_id(ev.id)) return fail(ErrorKind::kParse, "/events: Actor.ID " + bad_id(ev.id));
  if (ev.time_nano == 0 && seconds > 0 && seconds < std::numeric_limits<std::int64_t>::max() / 1'000'000'000) {
    ev.time_nano = seconds * 1'000'000'000;
  }
  for (auto& [k, v] : attributes) {
    if (k == "name") {
      ev.name = v;
    } else if (k == "exitCode" && ev.action == EventAction::kDie) {
      const auto code = to_i64(v);
      if (!code || *code < 0 || *code > 255) {
        return fail(ErrorKind::kParse, "/events: exitCode \"" + printable_excerpt(v, 32) + "\" is not an exit code");
      }
      ev.exit_code = static_cast<int>(*code);
    } else {
      ev.attributes.emplace_back(std::move(k), std::move(v));
    }
  }
  return std::optional<ContainerEvent>(std::move(ev));
}

std::string engine_message(std::string_view body) {
  if (auto j = parse_json(body, "")) {
    if (j->is_object()) {
      const auto it = j->find("message");
      if (it != j->end() && it->is_string()) {
        const std::string_view m = trim(it->get_ref<const std::string&>());
        return m.empty() ? "(no message)" : printable_excerpt(m, 200);
      }
    }
  }
  const std::string_view text = trim(body);
  return text.empty() ? "(no message)" : printable_excerpt(text, 200);
}

std::string events_query(std::int64_t since_unix_s) {
  // {"type":["container"],"event":[...]}, URL-encoded.
  std::string filters = "%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B";
  bool first = true;
  for (auto name : kind_names<EventAction>()) {
    filters += (first ? "%22" : "%2C%22") + std::string(name) + "%22";
    first = false;
  }
  filters += "%5D%7D";
  std::string q = "filters=" + filters;
  if (since_unix_s > 0) q += "&since=" + std::to_string(since_unix_s);
  return q;
}

Result<std::string> action_path(std::string_view id, ContainerAction action, std::optional<int> seconds,
                                std::string_view signal) {
  if (!is_container_id(id)) return fail(ErrorKind::kInvalid, "container id " + bad_id(std::string(id)));
  std::string path = "/containers/" + std::string(id) + "/";
  switch (action) {
    case ContainerAction::kStart:
      return path + "start";
    case ContainerAction::kStop:
    case ContainerAction::kRestart:
      path += action == ContainerAction::kStop ? "stop" : "restart";
      if (seconds) {
        if (*seconds < 0) return fail(ErrorKind::kInvalid, "a stop timeout cannot be negative");
        path += "?t=" + std::to_string(*seconds);
      }
      return path;
    case ContainerAction::kPause:
      return path + "pause";
    case ContainerAction::kUnpause:
      return path + "unpause";
    case ContainerAction::kKill: {
      path += "kill";
      if (signal.empty()) return path;  // the engine's default, SIGKILL
      const bool name_or_number = signal.size() <= 16 && std::all_of(signal.begin(), signal.end(), [](char c) {
                                    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                                  });
      if (!name_or_number) {
        return fail(ErrorKind::kInvalid,
                    "\"" + printable_excerpt(std::string(signal), 32) + "\" is not a signal name or number");
      }
      return path + "?signal=" + std::string(signal);
    }
  }
  return fail(ErrorKind::kInvalid, "unknown container action");
}

Result<std::string> stats_path(std::string_view id) {
  if (!is_container_id(id)) return fail(ErrorKind::kInvalid, "container id " + bad_id(std::string(id)));
  return "/containers/" + std::string(id) + "/stats?stream=false&one-shot=true";
}

Result<EngineStats> parse_stats(std::string_view body) {
  auto j = parse_object(body, "/containers/ID/stats");
  if (!j) return tl::unexpected(j.error());
  Fields f(*j, "");
  EngineStats s;
  // A count: absent, null or negative (never sent) is absent.
  auto count = [](Fields& in, std::string_view key, std::optional<std::uint64_t>& out) {
    std::int64_t v = -1;
    in.integer(key, v);
    if (v >= 0) out = static_cast<std::uint64_t>(v);
  };
  Fields memory = f.object("memory_stats");
  count(memory, "usage", s.memory_usage);
  count(memory, "max_usage", s.memory_max_usage);
  count(memory, "failcnt", s.memory_failcnt);
  f.absorb(memory);
  Fields cpu = f.object("cpu_stats");
  Fields usage = cpu.object("cpu_usage");
  count(usage, "total_usage", s.cpu_usage_ns);
  cpu.absorb(usage);
  Fields throttling = cpu.object("throttling_data");
  count(throttling, "periods", s.cpu_periods);
  count(throttling, "throttled_periods", s.cpu_throttled_periods);
  count(throttling, "throttled_time", s.cpu_throttled_ns);
  cpu.absorb(throttling);
  f.absorb(cpu);
  Fields pids = f.object("pids_stats");
  count(pids, "current", s.pids_current);
  count(pids, "limit", s.pids_limit);
  if (s.pids_limit && (*s.pids_limit == 0 || *s.pids_limit >= (std::uint64_t{1} << 62))) s.pids_limit.reset();
  f.absorb(pids);
  Fields blkio = f.object("blkio_stats");
  // [{"major":8,"minor":0,"op":"Read","value":N}, ...]
  auto sum = [&](std::string_view key, std::optional<std::uint64_t>& read, std::optional<std::uint64_t>& write) {
    const json* list = blkio.find(key);
    if (list == nullptr) return;
    if (!list->is_array()) {
      blkio.fail_with(blkio.name(key) + ": an array was expected, got " + type_word(*list));
      return;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      Fields e((*list)[i], blkio.name(key) + "[" + std::to_string(i) + "]");
      if (!(*list)[i].is_object()) e.fail_with(blkio.name(key) + ": objects were expected");
      std::string op;
      e.string("op", op, 16);
      std::int64_t value = 0;
      e.integer("value", value);
      blkio.absorb(e);
      if (value < 0) continue;
      const auto v = static_cast<std::uint64_t>(value);
      if (op == "Read" || op == "read") read = read.value_or(0) + v;
      if (op == "Write" || op == "write") write = write.value_or(0) + v;
    }
  };
  sum("io_service_bytes_recursive", s.read_bytes, s.write_bytes);
  sum("io_serviced_recursive", s.reads, s.writes);
  f.absorb(blkio);
  if (auto e = f.error()) return tl::unexpected(Error{e->kind, "/containers/ID/stats: " + e->message});
  return s;
}

}  // namespace vigil::docker
