// probes/procfs.hpp: pure parsers for procfs text.
//
// Every function here takes the content of one file as a string_view and
// returns a struct or an Error of kind kParse naming what was malformed. No
// function reads a file: the readers in host.hpp, process.hpp and cgroup.hpp
// do that, under a root path a test can point at tests/fixtures/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace vigil::procfs {

// The kernel's USER_HZ: /proc reports CPU times in these ticks. It is 100 on
// every Linux ABI; sysconf(_SC_CLK_TCK) says so too.
inline constexpr double kTicksPerSecond = 100.0;

// /proc/PID/stat. `comm` may hold spaces and parentheses: "(a) b)" is the
// command name "a) b"; the name ends at the last ')'.
struct PidStat {
  int pid = 0;
  std::string comm;
  char state = '?';  // R S D Z T t X I ...
  int ppid = 0;
  int pgrp = 0;
  int session = 0;
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::int64_t num_threads = 0;
  std::uint64_t starttime_ticks = 0;  // since boot
  std::uint64_t vsize_bytes = 0;
  std::int64_t rss_pages = 0;
  unsigned flags = 0;
  bool is_kernel_thread() const;  // PF_KTHREAD
};
Result<PidStat> parse_pid_stat(std::string_view text);

// /proc/PID/status: the fields the spine uses.
struct PidStatus {
  std::optional<std::uint64_t> vm_rss_bytes;
  std::optional<std::uint64_t> vm_hwm_bytes;
  std::optional<std::int64_t> threads;
  std::optional<std::uint64_t> voluntary_ctxt_switches;
  std::optional<std::uint64_t> nonvoluntary_ctxt_switches;
};
Result<PidStatus> parse_pid_status(std::string_view text);

// /proc/PID/io (root or same user only).
struct PidIo {
  std::uint64_t rchar = 0;
  std::uint64_t wchar = 0;
  std::uint64_t read_bytes = 0;
  std::uint64_t write_bytes = 0;
  std::uint64_t cancelled_write_bytes = 0;
};
Result<PidIo> parse_pid_io(std::string_view text);

// /proc/PID/limits: "Max open files" soft and hard; nullopt = unlimited.
struct PidLimits {
  std::optional<std::uint64_t> max_open_files_soft;
  std::optional<std::uint64_t> max_open_files_hard;
  std::optional<std::uint64_t> max_processes_soft;
};
Result<PidLimits> parse_pid_limits(std::string_view text);

// /proc/PID/cmdline: NUL-separated argv; returned joined with spaces (what
// `match` regexes see). Empty for kernel threads and zombies.
std::string cmdline_to_string(std::string_view raw);

// /proc/PID/cgroup: "hierarchy-ID:controller-list:path" per line. v2 is the
// line with ID 0 and an empty controller list.
struct CgroupLine {
  int hierarchy_id = 0;
  std::vector<std::string> controllers;  // empty for v2; "name=systemd" kept as is
  std::string path;
};
Result<std::vector<CgroupLine>> parse_pid_cgroup(std::string_view text);

// /proc/stat
struct CpuTimes {  // ticks
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0, guest = 0,
                guest_nice = 0;
};
struct Stat {
  CpuTimes total;
  int cpu_count = 0;
  std::uint64_t context_switches = 0;
  std::uint64_t processes_forked = 0;
  std::uint64_t procs_running = 0;
  std::uint64_t procs_blocked = 0;
  std::uint64_t boot_time_seconds = 0;  // btime
};
Result<Stat> parse_stat(std::string_view text);

// /proc/meminfo, values in bytes (the file says kB).
struct MemInfo {
  std::uint64_t total = 0, free = 0, available = 0, buffers = 0, cached = 0, sreclaimable = 0, shmem = 0,
                swap_total = 0, swap_free = 0;
  bool has_available = false;  // MemAvailable appeared in Linux 3.14
};
Result<MemInfo> parse_meminfo(std::string_view text);

struct LoadAvg {
  double load1 = 0, load5 = 0, load15 = 0;
  std::uint64_t runnable = 0, total_threads = 0;
};
Result<LoadAvg> parse_loadavg(std::string_view text);

// /proc/diskstats; sectors are 512 bytes whatever the device's sector size.
struct DiskStat {
  std::string device;
  std::uint64_t reads_completed = 0, sectors_read = 0, read_time_ms = 0;
  std::uint64_t writes_completed = 0, sectors_written = 0, write_time_ms = 0;
  std::uint64_t io_in_progress = 0, io_time_ms = 0;
};
Result<std::vector<DiskStat>> parse_diskstats(std::string_view text);
// Partitions and virtual devices (loop, ram, dm-*, zram) are skipped by the
// host probe: whole disks only, as their counters already include partitions.
bool is_whole_disk_name(std::string_view device);

// /proc/net/dev
struct NetDev {
  std::string interface;
  std::uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  std::uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};
Result<std::vector<NetDev>> parse_net_dev(std::string_view text);

// /proc/pressure/{cpu,memory,io} and cgroup v2 *.pressure.
struct PsiLine {
  double avg10 = 0, avg60 = 0, avg300 = 0;
  std::uint64_t total_us = 0;
};
struct Psi {
  PsiLine some;
  std::optional<PsiLine> full;  // cpu has no "full" line before Linux 5.13
};
Result<Psi> parse_psi(std::string_view text);

// /proc/sys/fs/file-nr: allocated, unused, max.
struct FileNr {
  std::uint64_t allocated = 0, unused = 0, max = 0;
};
Result<FileNr> parse_file_nr(std::string_view text);

// /proc/uptime: seconds since boot, idle seconds.
Result<double> parse_uptime(std::string_view text);

// /proc/self/mountinfo (octal escapes such as \040 in paths are decoded).
struct Mount {
  std::string mount_point;
  std::string fs_type;
  std::string source;
};
Result<std::vector<Mount>> parse_mountinfo(std::string_view text);
// proc, sysfs, cgroup, tmpfs-like and other file systems with no disk
// behind them (and autofs, whose statvfs could trigger a mount).
bool is_pseudo_fs(std::string_view fs_type);
// NFS, CIFS, Ceph, GlusterFS, sshfs...: statvfs() on a hung server blocks
// uninterruptibly, and the host probe runs on the event loop, so these are
// not sampled (a later remote-storage check can do it off the loop).
bool is_network_fs(std::string_view fs_type);

}  // namespace vigil::procfs
