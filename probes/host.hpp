// probes/host.hpp: host-wide metrics from procfs and statvfs.
//
// Series (no target label): host_cpu_seconds_total{mode}, host_load1/5/15,
// host_memory_{total,available,used,buffers,cached}_bytes,
// host_swap_{total,used}_bytes, host_filesystem_{size,free,avail}_bytes and
// host_filesystem_files{,_free}{mountpoint,fstype,device},
// host_disk_{read,written}_bytes_total, host_disk_{reads,writes}_completed_total,
// host_disk_io_time_seconds_total{device}, host_network_{receive,transmit}_
// {bytes,packets,errors,drop}_total{device},
// host_pressure_{stalled_seconds_total,avg10_ratio}{resource,kind},
// host_open_files, host_open_files_max, host_uptime_seconds,
// host_context_switches_total, host_procs_running, host_procs_blocked.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/kept_file.hpp"
#include "probes/probe.hpp"
#include "probes/procfs.hpp"

namespace vigil {

class HostProbe {
 public:
  // proc_root: "/proc" in production. rootfs: prefix for statvfs() of the
  // mount points listed in proc_root/self/mountinfo ("/" in production).
  HostProbe(std::string proc_root, std::string rootfs);

  // Samples stamped `now`. Fails only when nothing at all could be read
  // (proc_root/stat missing); a missing optional part (PSI) is skipped
  // silently, an unreadable one becomes a warning.
  Result<Collection> collect(WallMs now) const;

 private:
  // The mount table, re-read only when procfs says it changed (poll's
  // POLLPRI on the kept mountinfo fd); on anything but procfs, every round.
  const std::vector<procfs::Mount>* mounts(Collection& out) const;

  std::string proc_root_;
  std::string rootfs_;
  // The procfs files read every round, kept open and re-read with pread
  // (kept_file.hpp): a dozen opens and closes fewer per round.
  mutable KeptFiles kept_;
  mutable UniqueFd mountinfo_fd_;
  mutable bool mountinfo_pollable_ = false;
  mutable std::optional<std::vector<procfs::Mount>> mounts_;
};

// PREFIX_network_{receive,transmit}_{bytes,packets,errors,drop}_total with
// `labels` and device=INTERFACE, from a net/dev file: the host's
// (prefix "host"), or a container's network namespace through its init
// process's /proc/PID/net/dev (prefix "container", target=NAME).
void append_network_samples(const std::vector<procfs::NetDev>& devs, std::string_view prefix, const Labels& labels,
                            WallMs now, Collection& out);

}  // namespace vigil
