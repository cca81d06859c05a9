// probes/checks/runner_util.hpp: what the runners share (private to probes/checks/).
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/sd_handles.hpp"
#include "probes/checks/outcome.hpp"

namespace vigil::checks_detail {

// Watches `fd` for `events` into `slot`, or says why it cannot.
std::optional<std::string> watch_fd(sd_event* event, SdEventSourcePtr& slot, int fd, std::uint32_t events,
                                    sd_event_io_handler_t handler, void* userdata);

// A one-shot timer at `when` into `slot`, or why not.
std::optional<std::string> add_deadline(sd_event* event, SdEventSourcePtr& slot,
                                        std::chrono::steady_clock::time_point when, sd_event_time_handler_t handler,
                                        void* userdata);

// A failed run with this reason and nothing else.
CheckOutcome failed_outcome(std::string reason);

}  // namespace vigil::checks_detail
