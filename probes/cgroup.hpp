// probes/cgroup.hpp: cgroup v1 and v2 accounting for a target.
//
// A host may have v1 controllers (root/memory, root/cpu,cpuacct, root/pids),
// a v2 hierarchy (root itself when root/cgroup.controllers exists, or
// root/unified on a hybrid host), or both side by side. A target's cgroup
// comes from /proc/PID/cgroup (each hierarchy may place it differently) or
// from a configured path, looked up under every hierarchy present.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "probes/kept_file.hpp"
#include "probes/probe.hpp"
#include "probes/procfs.hpp"

namespace vigil {

// Where a target's cgroup is, per hierarchy, as paths relative to the
// hierarchy's mount (e.g. "/system.slice/gateway.service").
struct CgroupPaths {
  std::optional<std::string> v2;
  std::map<std::string, std::string> v1;  // controller ("memory", "cpu", "cpuacct", "pids") -> path
  bool empty() const { return !v2 && v1.empty(); }
  auto operator<=>(const CgroupPaths&) const = default;
};
CgroupPaths cgroup_paths_from(const std::vector<procfs::CgroupLine>& lines);
// The same path in every hierarchy (a configured `cgroup = "..."`).
CgroupPaths cgroup_paths_everywhere(const std::string& path);

// Block I/O of a cgroup, summed over its devices.
struct BlockIo {
  std::uint64_t read_bytes = 0, write_bytes = 0, reads = 0, writes = 0;
  auto operator<=>(const BlockIo&) const = default;
};

struct CgroupStats {
  // Each value comes from whichever hierarchy has the controller: on a
  // hybrid host memory may come from v1 while PSI comes from v2.
  std::optional<std::uint64_t> memory_usage_bytes;
  std::optional<std::uint64_t> memory_limit_bytes;  // absent when unlimited
  std::optional<std::uint64_t> memory_max_usage_bytes;
  std::optional<std::uint64_t> memory_failcnt;   // v1 only
  std::optional<std::uint64_t> oom_events;       // v2 memory.events "oom"
  std::optional<std::uint64_t> oom_kill_events;  // v1 memory.oom_control / v2 memory.events
  std::optional<double> cpu_usage_seconds;
  std::optional<std::uint64_t> cpu_periods;
  std::optional<std::uint64_t> cpu_throttled_periods;
  std::optional<double> cpu_throttled_seconds;
  std::optional<std::uint64_t> pids_current;
  std::optional<std::uint64_t> pids_max;                                  // absent when "max"
  std::optional<BlockIo> block_io;                                        // v1 blkio (throttle counters), v2 io.stat
  std::optional<procfs::Psi> cpu_pressure, memory_pressure, io_pressure;  // v2 only
};

class CgroupReader {
 public:
  // cgroup_root: "/sys/fs/cgroup" in production.
  explicit CgroupReader(std::string cgroup_root);

  bool has_v1() const { return !v1_mounts_.empty(); }
  bool has_v2() const { return v2_mount_.has_value(); }

  // Reads what each hierarchy offers for `paths`. A value present in v2 is
  // preferred over v1 for the same quantity only when the v1 controller is
  // absent. kNotFound when the cgroup is gone from every hierarchy.
  Result<CgroupStats> read(const CgroupPaths& paths) const;

  // Closes the kept fds of cgroup files not read since the previous call
  // (cgroups no target uses any more). Call it now and then.
  // Directories are looked up again after it, too.
  void forget_unused() {
    kept_.forget_unused();
    dirs_.clear();
  }

 private:
  mutable KeptFiles kept_;              // a read cache, not state
  mutable std::set<std::string> dirs_;  // directories known to exist: a cache too
  std::string root_;
  std::optional<std::string> v2_mount_;           // absolute directory
  std::map<std::string, std::string> v1_mounts_;  // controller -> absolute directory
};

// Pure parsers for cgroup files.
// "max" -> nullopt; a number -> value. v1 "unlimited" is a huge number
// (PAGE_COUNTER_MAX * page size): values >= 2^62 are treated as unlimited.
Result<std::optional<std::uint64_t>> parse_cgroup_limit(std::string_view text);
// Flat-keyed files: memory.events, cpu.stat, memory.oom_control, memory.stat.
Result<std::map<std::string, std::uint64_t>> parse_flat_keyed(std::string_view text);

// v1 blkio.throttle.io_service_bytes or io_serviced ("MAJ:MIN Read N" per
// device and operation, then "Total N"): (read, write) summed over devices.
Result<std::pair<std::uint64_t, std::uint64_t>> parse_blkio_throttle(std::string_view text);
// v2 io.stat ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per
// device; keys it does not know are skipped): summed over devices.
Result<BlockIo> parse_io_stat(std::string_view text);

// The OOM kill counter's series (heal/ compares it before and after an exit).
inline constexpr const char* kOomKillMetric = "cgroup_memory_oom_kill_events_total";

// cgroup_* series labelled target=NAME:
// cgroup_memory_usage_bytes, cgroup_memory_limit_bytes,
// cgroup_memory_max_usage_bytes, cgroup_memory_failcnt_total,
// cgroup_memory_oom_events_total, cgroup_memory_oom_kill_events_total,
// cgroup_cpu_usage_seconds_total, cgroup_cpu_periods_total,
// cgroup_cpu_throttled_periods_total, cgroup_cpu_throttled_seconds_total,
// cgroup_pids_current, cgroup_pids_max, cgroup_io_read_bytes_total,
// cgroup_io_written_bytes_total, cgroup_io_reads_total, cgroup_io_writes_total,
// cgroup_pressure_stalled_seconds_total{resource,kind}.
void append_cgroup_samples(const CgroupStats& stats, const std::string& target, WallMs now, Collection& out);

}  // namespace vigil
