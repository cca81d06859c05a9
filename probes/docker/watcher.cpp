#include "probes/docker/watcher.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace vigil::docker {

Millis retry_delay(int failures) {
  if (failures <= 0) return Millis(0);
  const int doublings = std::min(failures - 1, 10);
  return std::min(Millis(250) * (1 << doublings), Millis(30'000));
}

bool differs(const ContainerInfo& a, const ContainerInfo& b) {
  return a.id != b.id || a.state != b.state || a.health != b.health || a.pid != b.pid || a.started_at != b.started_at ||
         a.finished_at != b.finished_at || a.restart_count != b.restart_count || a.oom_killed != b.oom_killed ||
         a.exit_code != b.exit_code;
}

Watcher::Watcher(sd_event* event, Client& client, Callbacks callbacks)
    : event_(event),
      client_(client),
      callbacks_(std::move(callbacks)),
      why_("no answer yet from the engine on " + client.socket()) {}

Watcher::~Watcher() {
  *alive_ = false;
  stream_.reset();
}

void Watcher::start() {
  connect();
}

const ContainerInfo* Watcher::find(std::string_view name_or_id) const {
  const ContainerInfo* by_prefix = nullptr;
  int prefixes = 0;
  for (const auto& [id, c] : containers_) {
    if (c.name == name_or_id || id == name_or_id) return &c;
    if (name_or_id.size() >= 12 && id.rfind(name_or_id, 0) == 0) {
      by_prefix = &c;
      ++prefixes;
    }
  }
  return prefixes == 1 ? by_prefix : nullptr;
}

std::vector<const ContainerInfo*> Watcher::with_label(std::string_view key,
                                                      std::optional<std::string_view> value) const {
  std::vector<const ContainerInfo*> out;
  for (const auto& [id, c] : containers_) {
    for (const auto& [k, v] : c.labels) {
      if (k == key && (!value || v == *value)) {
        out.push_back(&c);
        break;
      }
    }
  }
  return out;
}

void Watcher::connect() {
  const std::uint64_t gen = ++generation_;
  stream_.reset();
  client_.forget_version();  // the engine may have been upgraded meanwhile
  // The stream opens once the list answered (the list negotiates the
  // version), from a second before the list was asked: the engine replays
  // what happened since, so nothing between the two is missed.
  const std::int64_t since = wall_now_ms() / 1000 - 1;
  const std::shared_ptr<bool> alive = alive_;
  client_.get("/containers/json?all=1", [this, alive, gen, since](Result<std::string> body) {
    if (!*alive || gen != generation_) return;
    if (!body) return failed(body.error());
    auto list = parse_container_list(*body);
    if (!list) return failed(list.error());
    auto stream = client_.events(
        since,
        [this, alive](ContainerEvent ev) {
          if (*alive) on_event(std::move(ev));
        },
        [this, alive](Error e) {
          if (*alive && callbacks_.on_problem) callbacks_.on_problem(e);
        },
        [this, alive, gen](Error why) {
          if (*alive && gen == generation_) stream_ended(std::move(why));
        });
    if (!stream) return failed(stream.error());
    stream_ = std::move(*stream);
    stream_opened_usec_ = mono_now_usec();
    failures_ = 0;
    set_up(true, "the engine answers on " + client_.socket() + " (API " + client_.api()->text() + ")");
    // Every container again: what changed while away is reported, what
    // is gone is reported gone.
    std::set<std::string> listed;
    listing_ = list->size();
    if (listing_ == 0) synced_ = true;
    for (const auto& c : *list) {
      listed.insert(c.id);
      inspect(c.id, std::nullopt, true);
    }
    for (auto it = containers_.begin(); it != containers_.end();) {
      if (listed.count(it->first) != 0) {
        ++it;
        continue;
      }
      const ContainerInfo before = std::move(it->second);
      applied_.erase(it->first);
      it = containers_.erase(it);
      if (callbacks_.on_change) callbacks_.on_change(ContainerChange{&before, nullptr, std::nullopt});
    }
  });
}

void Watcher::inspect(const std::string& id, std::optional<ContainerEvent> event, bool listing) {
  const std::shared_ptr<bool> alive = alive_;
  const std::uint64_t gen = generation_;
  const std::uint64_t seq = ++inspects_;
  client_.get("/containers/" + id + "/json",
              [this, alive, gen, seq, id, listing, event = std::move(event)](Result<std::string> body) mutable {
                if (!*alive || gen != generation_) return;
                inspected(id, seq, std::move(event), std::move(body));
                if (listing && listing_ > 0 && --listing_ == 0) synced_ = true;
              });
}

void Watcher::inspected(const std::string& id, std::uint64_t seq, std::optional<ContainerEvent> event,
                        Result<std::string> body) {
  auto it = containers_.find(id);
  if (auto a = applied_.find(id); a != applied_.end() && seq < a->second) {
    // A newer answer is already in: this one's facts are older.
    if (event && it != containers_.end() && callbacks_.on_change)
      callbacks_.on_change(ContainerChange{&it->second, &it->second, std::move(event)});
    return;
  }
  if (!body && body.error().kind == ErrorKind::kNotFound) {
    // Removed before the inspect: gone.
    if (it == containers_.end()) return;
    const ContainerInfo before = std::move(it->second);
    containers_.erase(it);
    applied_.erase(id);
    if (callbacks_.on_change) callbacks_.on_change(ContainerChange{&before, nullptr, std::move(event)});
    return;
  }
  Result<ContainerInfo> info = body ? parse_container(*body) : tl::unexpected(body.error());
  if (!info) {
    if (callbacks_.on_problem) callbacks_.on_problem(info.error());
    return;
  }
  if (info->id != id) {
    if (callbacks_.on_problem) {
      callbacks_.on_problem(
          Error{ErrorKind::kParse, "GET /containers/" + id + "/json: the answer is about " + info->id});
    }
    return;
  }
  applied_[id] = seq;
  if (it == containers_.end()) {
    auto [inserted, ok] = containers_.emplace(id, std::move(*info));
    if (callbacks_.on_change) callbacks_.on_change(ContainerChange{nullptr, &inserted->second, std::move(event)});
    return;
  }
  if (!event && !differs(it->second, *info)) {
    it->second = std::move(*info);  // labels, limits: kept current, not news
    return;
  }
  const ContainerInfo before = std::exchange(it->second, std::move(*info));
  if (callbacks_.on_change) callbacks_.on_change(ContainerChange{&before, &it->second, std::move(event)});
}

void Watcher::on_event(ContainerEvent event) {
  ++events_seen_;
  if (event.action == EventAction::kDestroy) {
    auto it = containers_.find(event.id);
    if (it == containers_.end()) return;
    const ContainerInfo before = std::move(it->second);
    containers_.erase(it);
    applied_.erase(event.id);
    if (callbacks_.on_change) callbacks_.on_change(ContainerChange{&before, nullptr, std::move(event)});
    return;
  }
  const std::string id = event.id;
  inspect(id, std::move(event), false);
}

void Watcher::stream_ended(Error why) {
  // The engine stopped or restarted: connect again at once (the list says
  // whether it answers), then with backoff. The stream is dropped by
  // connect(), not here (this runs from inside it).
  ++reconnects_;
  if (mono_now_usec() - stream_opened_usec_ < 1'000'000) ++failures_;  // not a restart: something is wrong
  if (callbacks_.on_problem) callbacks_.on_problem(why);
  schedule(retry_delay(failures_));
}

void Watcher::failed(const Error& why) {
  stream_.reset();
  ++failures_;
  set_up(false, why.message);
  schedule(retry_delay(failures_));
}

void Watcher::set_up(bool up, const std::string& why) {
  why_ = why;
  if (reported_ && up == up_) return;
  up_ = up;
  reported_ = true;
  if (callbacks_.on_availability) callbacks_.on_availability(up, why);
}

void Watcher::schedule(Millis delay) {
  const std::uint64_t at = mono_now_usec() + static_cast<std::uint64_t>(delay.count()) * 1000;
  if (!timer_) {
    sd_event_source* s = nullptr;
    if (sd_event_add_time(event_, &s, CLOCK_MONOTONIC, at, 1000, &Watcher::on_timer, this) < 0) return;
    timer_.reset(s);
  } else {
    sd_event_source_set_time(timer_.get(), at);
  }
  sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT);
}

int Watcher::on_timer(sd_event_source*, std::uint64_t, void* userdata) {
  static_cast<Watcher*>(userdata)->connect();
  return 0;
}

}  // namespace vigil::docker
