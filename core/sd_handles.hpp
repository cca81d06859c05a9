// core/sd_handles.hpp: RAII owners of libsystemd's handles (sd-event, sd-bus).
// Each destructor accepts null.
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <memory>

namespace vigil {

struct SdEventUnref {
  void operator()(sd_event* e) const { sd_event_unref(e); }
};
using SdEventPtr = std::unique_ptr<sd_event, SdEventUnref>;

// Disables the source before dropping it: a source owned by an object goes
// quiet when the object does, even if the loop holds another reference.
struct SdEventSourceUnref {
  void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};
using SdEventSourcePtr = std::unique_ptr<sd_event_source, SdEventSourceUnref>;

struct SdBusUnref {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
using SdBusPtr = std::unique_ptr<sd_bus, SdBusUnref>;

struct SdBusSlotUnref {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using SdBusSlotPtr = std::unique_ptr<sd_bus_slot, SdBusSlotUnref>;

struct SdBusMessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using SdBusMessagePtr = std::unique_ptr<sd_bus_message, SdBusMessageUnref>;

}  // namespace vigil
