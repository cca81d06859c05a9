#include "probes/host.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "core/text.hpp"
#include "core/unique_fd.hpp"
#include "probes/procfs.hpp"

namespace vigil {

namespace {

constexpr double kSectorBytes = 512.0;  // diskstats counts 512-byte sectors on every device
// mountinfo on a host with hundreds of container mounts runs to 100s of KiB.
constexpr std::size_t kHostFileLimitBytes = 4 << 20;

// Reads and parses one procfs file; an unreadable or malformed file becomes
// a warning and nullopt, so one bad file does not cost the other metrics.
template <typename Parser>
auto read_part(KeptFiles& kept, const std::string& path, Parser parse, Collection& out)
    -> std::optional<typename decltype(parse(std::string_view{}))::value_type> {
  auto text = kept.read(path, kHostFileLimitBytes);
  if (!text) {
    out.warnings.push_back(text.error());
    return std::nullopt;
  }
  auto parsed = parse(*text);
  if (!parsed) {
    out.warnings.push_back(Error{parsed.error().kind, path + ": " + parsed.error().message});
    return std::nullopt;
  }
  return std::move(*parsed);
}

std::string join_root(const std::string& rootfs, const std::string& mount_point) {
  std::string base = rootfs;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + mount_point;
}

void add_cpu(const procfs::CpuTimes& t, WallMs now, Collection& out) {
  // guest and guest_nice are already included in user and nice.
  const std::pair<const char*, std::uint64_t> modes[] = {
      {"user", t.user},     {"nice", t.nice}, {"system", t.system},   {"idle", t.idle},
      {"iowait", t.iowait}, {"irq", t.irq},   {"softirq", t.softirq}, {"steal", t.steal},
  };
  for (const auto& [mode, ticks] : modes) {
    out.add("host_cpu_seconds_total", {{"mode", mode}}, static_cast<double>(ticks) / procfs::kTicksPerSecond, now);
  }
}

void add_memory(const procfs::MemInfo& m, WallMs now, Collection& out) {
  // Without MemAvailable (before Linux 3.14) page cache and buffers are the
  // usual estimate of what could be reclaimed.
  const std::uint64_t available = m.has_available ? m.available : m.free + m.buffers + m.cached;
  const std::uint64_t used = m.total > available ? m.total - available : 0;
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  out.add("host_memory_total_bytes", {}, d(m.total), now);
  out.add("host_memory_available_bytes", {}, d(available), now);
  out.add("host_memory_used_bytes", {}, d(used), now);
  out.add("host_memory_buffers_bytes", {}, d(m.buffers), now);
  out.add("host_memory_cached_bytes", {}, d(m.cached), now);
  out.add("host_swap_total_bytes", {}, d(m.swap_total), now);
  out.add("host_swap_used_bytes", {}, d(m.swap_total > m.swap_free ? m.swap_total - m.swap_free : 0), now);
}

void add_filesystems(const std::vector<procfs::Mount>& mounts, const std::string& rootfs, WallMs now, Collection& out) {
  // A later mount on the same point hides the earlier one, and statvfs sees
  // the visible one: keep the last entry per mount point.
  std::map<std::string, const procfs::Mount*> visible;
  for (const auto& m : mounts) {
    if (procfs::is_pseudo_fs(m.fs_type) || procfs::is_network_fs(m.fs_type)) continue;
    visible[m.mount_point] = &m;
  }
  for (const auto& [point, m] : visible) {
    const std::string path = join_root(rootfs, point);
    struct statvfs vfs {};
    if (::statvfs(path.c_str(), &vfs) != 0) {
      int err = errno;
      // Mount points we may not enter, or that vanished since mountinfo was
      // read, are not failures of the host.
      if (err == ENOENT || err == EACCES || err == EPERM || err == ENOTDIR) continue;
      out.warnings.push_back(Error{errno_kind(err), "statvfs " + path + ": " + std::strerror(err)});
      continue;
    }
    Labels labels = {{"mountpoint", point}, {"fstype", m->fs_type}, {"device", m->source}};
    const double frsize = static_cast<double>(vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize);
    out.add("host_filesystem_size_bytes", labels, static_cast<double>(vfs.f_blocks) * frsize, now);
    out.add("host_filesystem_free_bytes", labels, static_cast<double>(vfs.f_bfree) * frsize, now);
    out.add("host_filesystem_avail_bytes", labels, static_cast<double>(vfs.f_bavail) * frsize, now);
    out.add("host_filesystem_files", labels, static_cast<double>(vfs.f_files), now);
    out.add("host_filesystem_files_free", std::move(labels), static_cast<double>(vfs.f_ffree), now);
  }
}

void add_disks(const std::vector<procfs::DiskStat>& disks, WallMs now, Collection& out) {
  for (const auto& d : disks) {
    if (!procfs::is_whole_disk_name(d.device)) continue;
    Labels labels = {{"device", d.device}};
    out.add("host_disk_read_bytes_total", labels, static_cast<double>(d.sectors_read) * kSectorBytes, now);
    out.add("host_disk_written_bytes_total", labels, static_cast<double>(d.sectors_written) * kSectorBytes, now);
    out.add("host_disk_reads_completed_total", labels, static_cast<double>(d.reads_completed), now);
    out.add("host_disk_writes_completed_total", labels, static_cast<double>(d.writes_completed), now);
    out.add("host_disk_io_time_seconds_total", std::move(labels), static_cast<double>(d.io_time_ms) / 1000.0, now);
  }
}

void add_pressure(KeptFiles& kept, const std::string& dir, WallMs now, Collection& out) {
  for (const char* resource : {"cpu", "memory", "io"}) {
    const std::string path = dir + "/" + resource;
    auto text = kept.read(path);
    if (!text) {
      // Absent (a kernel without CONFIG_PSI) or switched off (psi=0, the
      // read fails with EOPNOTSUPP): not offered here, not failed.
      const ErrorKind kind = text.error().kind;
      if (kind == ErrorKind::kNotFound || kind == ErrorKind::kNotAvailable) continue;
      out.warnings.push_back(text.error());
      continue;
    }
    auto psi = procfs::parse_psi(*text);
    if (!psi) {
      out.warnings.push_back(Error{psi.error().kind, path + ": " + psi.error().message});
      continue;
    }
    auto add = [&](const char* kind, const procfs::PsiLine& line) {
      Labels labels = {{"resource", resource}, {"kind", kind}};
      out.add("host_pressure_stalled_seconds_total", labels, static_cast<double>(line.total_us) / 1e6, now);
      out.add("host_pressure_avg10_ratio", std::move(labels), line.avg10 / 100.0, now);
    };
    add("some", psi->some);
    if (psi->full) add("full", *psi->full);
  }
}

}  // namespace

const std::vector<procfs::Mount>* HostProbe::mounts(Collection& out) const {
  if (mounts_ && mountinfo_fd_ && mountinfo_pollable_) {
    // procfs reports a change of the mount namespace's table as POLLPRI
    // (and POLLERR) once per change, to each open file.
    struct pollfd p {
      mountinfo_fd_.get(), POLLPRI, 0
    };
    if (::poll(&p, 1, 0) == 0) return &*mounts_;
  }
  const std::string path = proc_root_ + "/self/mountinfo";
  const bool opening = !mountinfo_fd_;
  auto text = read_kept(mountinfo_fd_, path, true, OnGone::kReopen, kHostFileLimitBytes);
  if (opening && mountinfo_fd_) {
    struct statfs fs {};
    mountinfo_pollable_ = ::fstatfs(mountinfo_fd_.get(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
  }
  mounts_.reset();
  if (!text) {
    out.warnings.push_back(text.error());
    return nullptr;
  }
  auto parsed = procfs::parse_mountinfo(*text);
  if (!parsed) {
    out.warnings.push_back(Error{parsed.error().kind, path + ": " + parsed.error().message});
    return nullptr;
  }
  mounts_ = std::move(*parsed);
  return &*mounts_;
}

HostProbe::HostProbe(std::string proc_root, std::string rootfs)
    : proc_root_(std::move(proc_root)), rootfs_(std::move(rootfs)) {}

Result<Collection> HostProbe::collect(WallMs now) const {
  Collection out;
  const std::string& p = proc_root_;

  // /proc/stat is the one part without which the host cannot be described:
  // failing here says "this is not a procfs" rather than "one file was odd".
  auto stat_text = kept_.read(p + "/stat", kHostFileLimitBytes);
  if (!stat_text) return tl::unexpected(stat_text.error());
  auto stat = procfs::parse_stat(*stat_text);
  if (!stat) return fail(stat.error().kind, p + "/stat: " + stat.error().message);
  add_cpu(stat->total, now, out);
  out.add("host_context_switches_total", {}, static_cast<double>(stat->context_switches), now);
  out.add("host_procs_running", {}, static_cast<double>(stat->procs_running), now);
  out.add("host_procs_blocked", {}, static_cast<double>(stat->procs_blocked), now);

  if (auto load = read_part(kept_, p + "/loadavg", procfs::parse_loadavg, out)) {
    out.add("host_load1", {}, load->load1, now);
    out.add("host_load5", {}, load->load5, now);
    out.add("host_load15", {}, load->load15, now);
  }
  if (auto mem = read_part(kept_, p + "/meminfo", procfs::parse_meminfo, out)) add_memory(*mem, now, out);
  if (const auto* mounts = this->mounts(out)) add_filesystems(*mounts, rootfs_, now, out);
  if (auto disks = read_part(kept_, p + "/diskstats", procfs::parse_diskstats, out)) {
    add_disks(*disks, now, out);
  }
  if (auto devs = read_part(kept_, p + "/net/dev", procfs::parse_net_dev, out)) {
    append_network_samples(*devs, "host", {}, now, out);
  }
  add_pressure(kept_, p + "/pressure", now, out);
  if (auto files = read_part(kept_, p + "/sys/fs/file-nr", procfs::parse_file_nr, out)) {
    // Since Linux 2.6 "unused" is always 0, but subtracting keeps older
    // kernels right.
    const std::uint64_t open = files->allocated > files->unused ? files->allocated - files->unused : 0;
    out.add("host_open_files", {}, static_cast<double>(open), now);
    out.add("host_open_files_max", {}, static_cast<double>(files->max), now);
  }
  if (auto up = read_part(kept_, p + "/uptime", procfs::parse_uptime, out)) {
    out.add("host_uptime_seconds", {}, *up, now);
  }
  return out;
}

void append_network_samples(const std::vector<procfs::NetDev>& devs, std::string_view prefix, const Labels& labels,
                            WallMs now, Collection& out) {
  const std::string p(prefix);
  for (const auto& n : devs) {
    const std::pair<const char*, std::uint64_t> values[] = {
        {"_network_receive_bytes_total", n.rx_bytes},    {"_network_receive_packets_total", n.rx_packets},
        {"_network_receive_errors_total", n.rx_errors},  {"_network_receive_drop_total", n.rx_dropped},
        {"_network_transmit_bytes_total", n.tx_bytes},   {"_network_transmit_packets_total", n.tx_packets},
        {"_network_transmit_errors_total", n.tx_errors}, {"_network_transmit_drop_total", n.tx_dropped},
    };
    for (const auto& [metric, v] : values) {
      Labels l = labels;
      l.emplace_back("device", n.interface);
      std::sort(l.begin(), l.end());
      out.add(p + metric, std::move(l), static_cast<double>(v), now);
    }
  }
}

}  // namespace vigil
