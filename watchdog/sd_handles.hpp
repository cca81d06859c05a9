// watchdog/sd_handles.hpp: RAII owners for libsystemd handles.
#pragma once

#include <systemd/sd-event.h>

#include <memory>

namespace vigil {

struct SdEventUnref {
  void operator()(sd_event* e) const { sd_event_unref(e); }
};
using SdEventPtr = std::unique_ptr<sd_event, SdEventUnref>;

struct SdEventSourceUnref {
  void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};
using SdEventSourcePtr = std::unique_ptr<sd_event_source, SdEventSourceUnref>;

}  // namespace vigil
