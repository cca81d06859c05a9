#include "heal/systemd_unit.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <cstring>

#include "core/log.hpp"

namespace vigil {

namespace {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kProperties = "org.freedesktop.DBus.Properties";

std::string bus_error_text(const sd_bus_error* e, int r) {
  if (e != nullptr && sd_bus_error_is_set(e)) {
    return std::string(e->message != nullptr ? e->message : e->name);
  }
  return std::strerror(r < 0 ? -r : r);
}

// Reads the variant of one a{sv} entry into `st` when it is a property we use.
int read_property(sd_bus_message* m, const char* name, UnitState& st) {
  auto read_string = [&](std::string& out) {
    const char* v = nullptr;
    int r = sd_bus_message_read(m, "v", "s", &v);
    if (r >= 0 && v != nullptr) out = v;
    return r;
  };
  if (std::strcmp(name, "MainPID") == 0) {
    std::uint32_t v = 0;
    int r = sd_bus_message_read(m, "v", "u", &v);
    st.main_pid = static_cast<int>(v);
    return r;
  }
  if (std::strcmp(name, "NRestarts") == 0) return sd_bus_message_read(m, "v", "u", &st.n_restarts);
  if (std::strcmp(name, "ExecMainCode") == 0) return sd_bus_message_read(m, "v", "i", &st.exec_main_code);
  if (std::strcmp(name, "ExecMainStatus") == 0) return sd_bus_message_read(m, "v", "i", &st.exec_main_status);
  if (std::strcmp(name, "ControlGroup") == 0) return read_string(st.control_group);
  if (std::strcmp(name, "ActiveState") == 0) return read_string(st.active_state);
  if (std::strcmp(name, "SubState") == 0) return read_string(st.sub_state);
  if (std::strcmp(name, "LoadState") == 0) return read_string(st.load_state);
  if (std::strcmp(name, "Job") == 0) {
    std::uint32_t id = 0;
    const char* path = nullptr;
    int r = sd_bus_message_read(m, "v", "(uo)", &id, &path);
    st.job_pending = r >= 0 && id != 0;
    return r;
  }
  return sd_bus_message_skip(m, "v");
}

}  // namespace

// ---- SystemdBus -------------------------------------------------------------

Result<std::unique_ptr<SystemdBus>> SystemdBus::open(sd_event* event) {
  std::unique_ptr<SystemdBus> b(new SystemdBus());
  sd_bus* bus = nullptr;
  int r = sd_bus_open_system(&bus);
  if (r < 0) {
    return fail(ErrorKind::kNotAvailable,
                std::string("cannot connect to the system bus (is systemd running?): ") + std::strerror(-r));
  }
  b->bus_.reset(bus);
  r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r < 0) return fail(ErrorKind::kIo, std::string("cannot attach the system bus to the loop: ") + std::strerror(-r));
  sd_bus_slot* slot = nullptr;
  r = sd_bus_match_signal_async(bus, &slot, kDestination, kManagerPath, kManager, "JobRemoved",
                                &SystemdBus::on_job_signal, nullptr, b.get());
  if (r < 0) return fail(ErrorKind::kIo, std::string("cannot watch systemd's jobs: ") + std::strerror(-r));
  b->job_slot_.reset(slot);
  // systemd sends unit and job signals only to subscribed clients.
  slot = nullptr;
  // (A slot with a null callback would make sd-bus call a null pointer
  // when the reply comes.)
  r = sd_bus_call_method_async(bus, &slot, kDestination, kManagerPath, kManager, "Subscribe",
                               &SystemdBus::on_subscribed, nullptr, "");
  if (r < 0) return fail(ErrorKind::kIo, std::string("cannot subscribe to systemd's signals: ") + std::strerror(-r));
  b->subscribe_slot_.reset(slot);
  return b;
}

int SystemdBus::on_subscribed(sd_bus_message* m, void*, sd_bus_error*) {
  if (const sd_bus_error* e = sd_bus_message_get_error(m)) {
    log_warning("systemd refused Subscribe: unit changes are seen at the next sampling round only",
                {{"error", bus_error_text(e, 0)}});
  }
  return 0;
}

int SystemdBus::on_job_signal(sd_bus_message* m, void* self, sd_bus_error*) {
  std::uint32_t id = 0;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  auto* b = static_cast<SystemdBus*>(self);
  const std::vector<UnitService*> units = b->units_;
  for (UnitService* u : units) u->job_removed(job, result);
  return 0;
}

// ---- UnitService ------------------------------------------------------------

UnitService::UnitService(SystemdBus& bus, std::string unit, OnExit on_crash, OnChange on_change)
    : bus_(bus), unit_(std::move(unit)), on_crash_(std::move(on_crash)), on_change_(std::move(on_change)) {
  bus_.add(this);
}

UnitService::~UnitService() {
  bus_.remove(this);
}

void UnitService::start() {
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_call_method_async(bus_.bus(), &slot, kDestination, kManagerPath, kManager, "LoadUnit",
                                   &UnitService::on_loaded, this, "s", unit_.c_str());
  if (r < 0) {
    problem_ = std::string("cannot ask systemd for ") + unit_ + ": " + std::strerror(-r);
    return;
  }
  load_slot_.reset(slot);
}

int UnitService::on_loaded(sd_bus_message* m, void* self, sd_bus_error*) {
  auto* u = static_cast<UnitService*>(self);
  const sd_bus_error* e = sd_bus_message_get_error(m);
  if (e != nullptr) {
    u->problem_ = "systemd does not know " + u->unit_ + ": " + bus_error_text(e, 0);
    log_warning(u->problem_, {});
    return 0;
  }
  const char* path = nullptr;
  if (sd_bus_message_read(m, "o", &path) < 0 || path == nullptr) return 0;
  u->path_ = path;
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_match_signal_async(u->bus_.bus(), &slot, kDestination, path, kProperties, "PropertiesChanged",
                                    &UnitService::on_properties_changed, nullptr, u);
  if (r < 0) {
    u->problem_ = std::string("cannot watch ") + u->unit_ + ": " + std::strerror(-r);
    return 0;
  }
  u->match_slot_.reset(slot);
  u->problem_.clear();
  u->refresh();
  return 0;
}

int UnitService::on_properties_changed(sd_bus_message*, void* self, sd_bus_error*) {
  // Whatever changed, read the set again: systemd sends some properties as
  // "invalidated" without their value.
  static_cast<UnitService*>(self)->refresh();
  return 0;
}

void UnitService::refresh() {
  if (pending_reads_ > 0) {
    refresh_again_ = true;  // a read is under way: read once more after it
    return;
  }
  reading_ = UnitState{};
  reading_.known = true;
  int i = 0;
  for (const char* iface : {"org.freedesktop.systemd1.Unit", "org.freedesktop.systemd1.Service"}) {
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_call_method_async(bus_.bus(), &slot, kDestination, path_.c_str(), kProperties, "GetAll",
                                     &UnitService::on_properties, this, "s", iface);
    if (r < 0) {
      problem_ = std::string("cannot read the properties of ") + unit_ + ": " + std::strerror(-r);
      continue;
    }
    props_slot_[i++].reset(slot);
    ++pending_reads_;
  }
}

int UnitService::on_properties(sd_bus_message* m, void* self, sd_bus_error*) {
  auto* u = static_cast<UnitService*>(self);
  --u->pending_reads_;
  if (const sd_bus_error* e = sd_bus_message_get_error(m)) {
    // A failed read (a timeout during daemon-reload) is no news about the
    // unit: keep what we knew; the next change reads again.
    u->read_failed_ = true;
    u->problem_ = "cannot read the properties of " + u->unit_ + ": " + bus_error_text(e, 0);
  } else if (sd_bus_message_enter_container(m, 'a', "{sv}") >= 0) {
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
      const char* name = nullptr;
      if (sd_bus_message_read(m, "s", &name) < 0 || read_property(m, name, u->reading_) < 0) break;
      if (sd_bus_message_exit_container(m) < 0) break;
    }
  }
  if (u->pending_reads_ > 0) return 0;
  const UnitState next = u->reading_;
  const bool failed = u->read_failed_;
  u->read_failed_ = false;
  if (u->refresh_again_) {
    u->refresh_again_ = false;
    u->refresh();
  }
  if (!failed) {
    u->problem_.clear();
    u->apply(next);
  }
  return 0;
}

void UnitService::apply(const UnitState& next) {
  const UnitState before = state_;
  state_ = next;
  // The crash first: the change callback then sees the new main process
  // as running again.
  if (is_crash(before, next)) {
    ExitInfo info;
    info.pid = before.main_pid;
    info.status_known = next.exec_main_code != 0;
    if (next.exec_main_code == CLD_EXITED) {
      info.code = next.exec_main_status;
    } else if (next.exec_main_code != 0) {
      info.signal = next.exec_main_status;
    }
    on_crash_(info);
  }
  if (before.main_pid != next.main_pid && before.main_pid == restart_old_pid_) restart_old_pid_ = 0;
  if (on_change_) on_change_(before, state_);
}

// A main process that went away, not stopped or restarted on purpose.
bool UnitService::is_crash(const UnitState& before, const UnitState& next) const {
  if (!before.known || before.main_pid == 0 || next.main_pid == before.main_pid) return false;
  // A restart or stop someone asked for: vigild's own (also when its read
  // comes after systemd's JobRemoved), an operator's, systemd's.
  if (restart_done_ || before.main_pid == restart_old_pid_ || next.job_pending || before.job_pending) return false;
  // systemd resets the exit status when it sets a new main process: a
  // straight X -> Y with no status is a restart whose middle we did not see.
  if (next.exec_main_code == 0) return false;
  const int status = next.exec_main_status;
  const bool plain_stop =
      (next.exec_main_code == CLD_EXITED && status == 0) ||
      (next.exec_main_code != CLD_EXITED && (status == SIGTERM || status == SIGINT || status == SIGHUP));
  return !plain_stop;
}

void UnitService::restart(Millis timeout, ActionDone done) {
  if (restart_done_) {
    done(ActionResult{ActionStatus::kFailed, "a restart is already running"});
    return;
  }
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus_.bus(), &raw, kDestination, kManagerPath, kManager, "RestartUnit");
  const SdBusMessagePtr msg(raw);
  if (r >= 0) r = sd_bus_message_append(msg.get(), "ss", unit_.c_str(), "replace");
  sd_bus_slot* slot = nullptr;
  const std::uint64_t usec = static_cast<std::uint64_t>(timeout.count()) * 1000;
  if (r >= 0) r = sd_bus_call_async(bus_.bus(), &slot, msg.get(), &UnitService::on_restart_queued, this, usec);
  if (r < 0) {
    done(ActionResult{ActionStatus::kFailed,
                      std::string("cannot ask systemd to restart ") + unit_ + ": " + std::strerror(-r)});
    return;
  }
  restart_slot_.reset(slot);
  restart_done_ = std::move(done);
  restart_old_pid_ = state_.main_pid;
  restart_job_.clear();
  sd_event_source* t = nullptr;
  sd_event_add_time_relative(sd_bus_get_event(bus_.bus()), &t, CLOCK_MONOTONIC, usec, 1000,
                             &UnitService::on_restart_timeout, this);
  restart_timer_.reset(t);
}

int UnitService::on_restart_queued(sd_bus_message* m, void* self, sd_bus_error*) {
  auto* u = static_cast<UnitService*>(self);
  const sd_bus_error* e = sd_bus_message_get_error(m);
  if (e != nullptr) {
    u->finish_restart(
        ActionResult{ActionStatus::kFailed, "systemd refused to restart " + u->unit_ + ": " + bus_error_text(e, 0)});
    return 0;
  }
  const char* job = nullptr;
  if (sd_bus_message_read(m, "o", &job) >= 0 && job != nullptr) u->restart_job_ = job;
  return 0;
}

void UnitService::job_removed(const std::string& job, const std::string& result) {
  if (!restart_done_ || restart_job_.empty() || job != restart_job_) return;
  if (result == "done") {
    finish_restart(ActionResult{ActionStatus::kOk, "systemd restarted " + unit_});
  } else {
    finish_restart(
        ActionResult{ActionStatus::kFailed, "systemd's restart job of " + unit_ + " ended with \"" + result + "\""});
  }
  refresh();
}

int UnitService::on_restart_timeout(sd_event_source*, std::uint64_t, void* self) {
  auto* u = static_cast<UnitService*>(self);
  u->finish_restart(ActionResult{ActionStatus::kTimeout, "systemd did not finish restarting " + u->unit_ + " in time"});
  return 0;
}

void UnitService::finish_restart(ActionResult r) {
  restart_timer_.reset();
  restart_slot_.reset();
  ActionDone done = std::move(restart_done_);
  restart_done_ = nullptr;
  restart_job_.clear();
  if (done) done(std::move(r));
}

}  // namespace vigil
