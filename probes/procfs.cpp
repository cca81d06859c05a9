#include "probes/procfs.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/text.hpp"

namespace vigil::procfs {

namespace {

// `why` may quote the file (a device or interface name): bounded, and
// shown with its control bytes escaped.
tl::unexpected<Error> malformed(std::string_view file, std::string_view why) {
  return fail(ErrorKind::kParse, std::string(file) + ": " + printable_excerpt(why, 512));
}

// "Key:  123 kB" -> the number in bytes when the unit is kB.
std::optional<std::uint64_t> kb_value(std::string_view rest) {
  auto fields = split_ws(trim(rest));
  if (fields.empty()) return std::nullopt;
  auto v = to_u64(fields[0]);
  if (!v) return std::nullopt;
  if (fields.size() >= 2 && fields[1] == "kB") return *v * 1024;
  return v;
}

// A load, pressure or uptime figure: a finite number >= 0 ("NaN", "inf" and
// "-1" are not; found by tests/fuzz/procfs).
std::optional<double> gauge(std::string_view s) {
  auto v = to_double(s);
  if (!v || !std::isfinite(*v) || *v < 0) return std::nullopt;
  return v;
}

// Splits "key: value" at the first ':'; false when there is none.
bool split_key(std::string_view line, std::string_view* key, std::string_view* value) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  *key = trim(line.substr(0, colon));
  *value = trim(line.substr(colon + 1));
  return true;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](std::string_view p) { return s.starts_with(p); });
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string decode_octal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && is_oct(s[i + 1]) && is_oct(s[i + 2]) && is_oct(s[i + 3])) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out += static_cast<char>(v);
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

}  // namespace

bool PidStat::is_kernel_thread() const {
  constexpr unsigned kPfKthread = 0x00200000;
  return (flags & kPfKthread) != 0;
}

Result<PidStat> parse_pid_stat(std::string_view text) {
  constexpr std::string_view kFile = "/proc/PID/stat";
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return malformed(kFile, "no (comm)");
  }
  PidStat st;
  auto pid = to_i64(trim(text.substr(0, open)));
  if (!pid || *pid <= 0) return malformed(kFile, "bad pid");
  st.pid = static_cast<int>(*pid);
  st.comm = std::string(text.substr(open + 1, close - open - 1));

  // rest[0] is field 3 (state); field N is rest[N - 3].
  auto rest = split_ws(trim(text.substr(close + 1)));
  if (rest.size() < 22) return malformed(kFile, "fewer than 24 fields");
  if (rest[0].size() != 1) return malformed(kFile, "bad state");
  st.state = rest[0][0];
  auto field_i = [&](int n) { return to_i64(rest[static_cast<std::size_t>(n - 3)]); };
  auto field_u = [&](int n) { return to_u64(rest[static_cast<std::size_t>(n - 3)]); };
  auto ppid = field_i(4), pgrp = field_i(5), session = field_i(6);
  auto flags = field_u(9), utime = field_u(14), stime = field_u(15);
  auto threads = field_i(20);
  auto start = field_u(22), vsize = field_u(23);
  auto rss = field_i(24);
  if (!ppid || !pgrp || !session || !flags || !utime || !stime || !threads || !start || !vsize || !rss) {
    return malformed(kFile, "non-numeric field");
  }
  if (*threads < 0 || *rss < 0) return malformed(kFile, "negative count");
  st.ppid = static_cast<int>(*ppid);
  st.pgrp = static_cast<int>(*pgrp);
  st.session = static_cast<int>(*session);
  st.flags = static_cast<unsigned>(*flags);
  st.utime_ticks = *utime;
  st.stime_ticks = *stime;
  st.num_threads = *threads;
  st.starttime_ticks = *start;
  st.vsize_bytes = *vsize;
  st.rss_pages = *rss;
  return st;
}

Result<PidStatus> parse_pid_status(std::string_view text) {
  constexpr std::string_view kFile = "/proc/PID/status";
  PidStatus out;
  bool any = false;
  for (auto line : lines(text)) {
    std::string_view key, value;
    if (!split_key(line, &key, &value)) return malformed(kFile, "line without ':'");
    any = true;
    auto want_u = [&](std::optional<std::uint64_t>& dst, bool kb) -> bool {
      auto v = kb ? kb_value(value) : to_u64(value);
      dst = v;
      return v.has_value();
    };
    bool ok = true;
    if (key == "VmRSS") {
      ok = want_u(out.vm_rss_bytes, true);
    } else if (key == "VmHWM") {
      ok = want_u(out.vm_hwm_bytes, true);
    } else if (key == "Threads") {
      out.threads = to_i64(value);
      ok = out.threads.has_value() && *out.threads >= 0;
    } else if (key == "voluntary_ctxt_switches") {
      ok = want_u(out.voluntary_ctxt_switches, false);
    } else if (key == "nonvoluntary_ctxt_switches") {
      ok = want_u(out.nonvoluntary_ctxt_switches, false);
    }
    if (!ok) return malformed(kFile, "bad value for " + std::string(key));
  }
  if (!any) return malformed(kFile, "empty");
  return out;
}

Result<PidIo> parse_pid_io(std::string_view text) {
  constexpr std::string_view kFile = "/proc/PID/io";
  PidIo out;
  unsigned seen = 0;
  for (auto line : lines(text)) {
    std::string_view key, value;
    if (!split_key(line, &key, &value)) return malformed(kFile, "line without ':'");
    std::uint64_t* dst = nullptr;
    unsigned bit = 0;
    if (key == "rchar") {
      dst = &out.rchar, bit = 1;
    } else if (key == "wchar") {
      dst = &out.wchar, bit = 2;
    } else if (key == "read_bytes") {
      dst = &out.read_bytes, bit = 4;
    } else if (key == "write_bytes") {
      dst = &out.write_bytes, bit = 8;
    } else if (key == "cancelled_write_bytes") {
      dst = &out.cancelled_write_bytes, bit = 16;
    }
    if (!dst) continue;
    auto v = to_u64(value);
    if (!v) return malformed(kFile, "bad value for " + std::string(key));
    *dst = *v;
    seen |= bit;
  }
  if (seen != 31) return malformed(kFile, "missing fields");
  return out;
}

Result<PidLimits> parse_pid_limits(std::string_view text) {
  constexpr std::string_view kFile = "/proc/PID/limits";
  PidLimits out;
  bool seen_files = false;
  // Columns are aligned with spaces and the limit names contain spaces, so
  // match the name as a prefix and split what follows.
  auto parse_limit = [](std::string_view v, std::optional<std::uint64_t>* dst) {
    if (v == "unlimited") {
      dst->reset();
      return true;
    }
    *dst = to_u64(v);
    return dst->has_value();
  };
  for (auto line : lines(text)) {
    std::optional<std::uint64_t> soft, hard;
    std::string_view rest;
    bool files = line.starts_with("Max open files");
    bool procs = line.starts_with("Max processes");
    if (!files && !procs) continue;
    rest = line.substr(files ? 14 : 13);
    auto f = split_ws(rest);
    if (f.size() < 2 || !parse_limit(f[0], &soft) || !parse_limit(f[1], &hard)) {
      return malformed(kFile, "bad limit line");
    }
    if (files) {
      seen_files = true;
      out.max_open_files_soft = soft;
      out.max_open_files_hard = hard;
    } else {
      out.max_processes_soft = soft;
    }
  }
  if (!seen_files) return malformed(kFile, "no \"Max open files\" line");
  return out;
}

std::string cmdline_to_string(std::string_view raw) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  std::string out(raw);
  std::replace(out.begin(), out.end(), '\0', ' ');
  return out;
}

Result<std::vector<CgroupLine>> parse_pid_cgroup(std::string_view text) {
  constexpr std::string_view kFile = "/proc/PID/cgroup";
  std::vector<CgroupLine> out;
  for (auto line : lines(text)) {
    if (line.empty()) continue;
    auto c1 = line.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) return malformed(kFile, "expected ID:controllers:path");
    auto id = to_i64(line.substr(0, c1));
    if (!id || *id < 0) return malformed(kFile, "bad hierarchy ID");
    CgroupLine cl;
    cl.hierarchy_id = static_cast<int>(*id);
    auto ctrl = line.substr(c1 + 1, c2 - c1 - 1);
    if (!ctrl.empty()) {
      for (auto c : split(ctrl, ',')) cl.controllers.emplace_back(c);
    }
    cl.path = std::string(line.substr(c2 + 1));  // a path may itself contain ':'
    if (cl.path.empty() || cl.path[0] != '/') return malformed(kFile, "path is not absolute");
    out.push_back(std::move(cl));
  }
  return out;
}

Result<Stat> parse_stat(std::string_view text) {
  constexpr std::string_view kFile = "/proc/stat";
  Stat out;
  bool seen_cpu = false;
  for (auto line : lines(text)) {
    auto f = split_ws(line);
    if (f.empty()) continue;
    if (f[0] == "cpu") {
      // Older kernels have fewer columns; the four first always exist.
      if (f.size() < 5) return malformed(kFile, "short cpu line");
      std::array<std::uint64_t*, 10> dst = {
          &out.total.user, &out.total.nice,    &out.total.system, &out.total.idle,  &out.total.iowait,
          &out.total.irq,  &out.total.softirq, &out.total.steal,  &out.total.guest, &out.total.guest_nice};
      for (std::size_t i = 1; i < f.size() && i <= dst.size(); ++i) {
        auto v = to_u64(f[i]);
        if (!v) return malformed(kFile, "bad cpu value");
        *dst[i - 1] = *v;
      }
      seen_cpu = true;
    } else if (f[0].starts_with("cpu")) {
      ++out.cpu_count;
    } else if (f.size() >= 2) {
      std::uint64_t* dst = nullptr;
      if (f[0] == "ctxt") {
        dst = &out.context_switches;
      } else if (f[0] == "processes") {
        dst = &out.processes_forked;
      } else if (f[0] == "procs_running") {
        dst = &out.procs_running;
      } else if (f[0] == "procs_blocked") {
        dst = &out.procs_blocked;
      } else if (f[0] == "btime") {
        dst = &out.boot_time_seconds;
      }
      if (dst) {
        auto v = to_u64(f[1]);
        if (!v) return malformed(kFile, "bad value for " + std::string(f[0]));
        *dst = *v;
      }
    }
  }
  if (!seen_cpu) return malformed(kFile, "no aggregate cpu line");
  return out;
}

Result<MemInfo> parse_meminfo(std::string_view text) {
  constexpr std::string_view kFile = "/proc/meminfo";
  MemInfo out;
  bool seen_total = false;
  for (auto line : lines(text)) {
    std::string_view key, value;
    if (!split_key(line, &key, &value)) return malformed(kFile, "line without ':'");
    std::uint64_t* dst = nullptr;
    if (key == "MemTotal") {
      dst = &out.total;
      seen_total = true;
    } else if (key == "MemFree") {
      dst = &out.free;
    } else if (key == "MemAvailable") {
      dst = &out.available;
      out.has_available = true;
    } else if (key == "Buffers") {
      dst = &out.buffers;
    } else if (key == "Cached") {
      dst = &out.cached;
    } else if (key == "SReclaimable") {
      dst = &out.sreclaimable;
    } else if (key == "Shmem") {
      dst = &out.shmem;
    } else if (key == "SwapTotal") {
      dst = &out.swap_total;
    } else if (key == "SwapFree") {
      dst = &out.swap_free;
    }
    if (!dst) continue;
    auto v = kb_value(value);
    if (!v) return malformed(kFile, "bad value for " + std::string(key));
    *dst = *v;
  }
  if (!seen_total) return malformed(kFile, "no MemTotal");
  return out;
}

Result<LoadAvg> parse_loadavg(std::string_view text) {
  constexpr std::string_view kFile = "/proc/loadavg";
  auto f = split_ws(trim(text));
  if (f.size() < 4) return malformed(kFile, "fewer than 4 fields");
  auto l1 = gauge(f[0]), l5 = gauge(f[1]), l15 = gauge(f[2]);
  auto slash = f[3].find('/');
  if (!l1 || !l5 || !l15 || slash == std::string_view::npos) {
    return malformed(kFile, "bad field");
  }
  auto run = to_u64(f[3].substr(0, slash)), total = to_u64(f[3].substr(slash + 1));
  if (!run || !total) return malformed(kFile, "bad runnable/total field");
  return LoadAvg{*l1, *l5, *l15, *run, *total};
}

Result<std::vector<DiskStat>> parse_diskstats(std::string_view text) {
  constexpr std::string_view kFile = "/proc/diskstats";
  std::vector<DiskStat> out;
  for (auto line : lines(text)) {
    auto f = split_ws(line);
    if (f.empty()) continue;
    // major minor name, then 11 counters (more on newer kernels: discards, flushes).
    if (f.size() < 14) return malformed(kFile, "fewer than 14 fields");
    std::array<std::optional<std::uint64_t>, 11> v;
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = to_u64(f[3 + i]);
      if (!v[i]) return malformed(kFile, "bad counter for " + printable_excerpt(f[2], 64));
    }
    DiskStat d;
    d.device = std::string(f[2]);
    d.reads_completed = *v[0];
    d.sectors_read = *v[2];
    d.read_time_ms = *v[3];
    d.writes_completed = *v[4];
    d.sectors_written = *v[6];
    d.write_time_ms = *v[7];
    d.io_in_progress = *v[8];
    d.io_time_ms = *v[9];
    out.push_back(std::move(d));
  }
  return out;
}

bool is_whole_disk_name(std::string_view device) {
  if (device.empty()) return false;
  // Virtual devices: loop files, RAM disks, optical drives, and device
  // mapper and md arrays, whose I/O is already counted on the disks below.
  if (starts_with_any(device, {"loop", "ram", "zram", "dm-", "md", "sr"})) return false;
  const bool ends_digit = device.back() >= '0' && device.back() <= '9';
  // Classic names: sda, hdb, vda, xvda; a partition appends digits.
  for (std::string_view prefix : {"xvd", "sd", "hd", "vd"}) {
    if (device.starts_with(prefix)) {
      auto letters = device.substr(prefix.size());
      bool all_alpha =
          !letters.empty() && std::all_of(letters.begin(), letters.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      if (all_alpha) return true;
      if (ends_digit) return false;
    }
  }
  // Names that end in a unit number (nvme0n1, mmcblk0): a partition is
  // "<disk>p<N>".
  auto p = device.rfind('p');
  if (p != std::string_view::npos && p > 0 && all_digits(device.substr(p + 1)) && device[p - 1] >= '0' &&
      device[p - 1] <= '9') {
    return false;
  }
  return true;
}

Result<std::vector<NetDev>> parse_net_dev(std::string_view text) {
  constexpr std::string_view kFile = "/proc/net/dev";
  std::vector<NetDev> out;
  for (auto line : lines(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // the two header lines
    NetDev d;
    d.interface = std::string(trim(line.substr(0, colon)));
    auto f = split_ws(line.substr(colon + 1));
    if (f.size() < 16 || d.interface.empty()) {
      return malformed(kFile, "fewer than 16 counters for " + printable_excerpt(d.interface, 64));
    }
    std::array<std::optional<std::uint64_t>, 16> v;
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = to_u64(f[i]);
      if (!v[i]) return malformed(kFile, "bad counter for " + printable_excerpt(d.interface, 64));
    }
    d.rx_bytes = *v[0];
    d.rx_packets = *v[1];
    d.rx_errors = *v[2];
    d.rx_dropped = *v[3];
    d.tx_bytes = *v[8];
    d.tx_packets = *v[9];
    d.tx_errors = *v[10];
    d.tx_dropped = *v[11];
    out.push_back(std::move(d));
  }
  return out;
}

Result<Psi> parse_psi(std::string_view text) {
  constexpr std::string_view kFile = "pressure";
  Psi out;
  bool seen_some = false;
  for (auto line : lines(text)) {
    auto f = split_ws(line);
    if (f.empty()) continue;
    if (f.size() != 5 || (f[0] != "some" && f[0] != "full")) {
      return malformed(kFile, "expected some|full avg10= avg60= avg300= total=");
    }
    PsiLine pl;
    std::array<std::string_view, 4> keys = {"avg10=", "avg60=", "avg300=", "total="};
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!f[i + 1].starts_with(keys[i])) return malformed(kFile, "missing " + std::string(keys[i]));
      auto value = f[i + 1].substr(keys[i].size());
      if (i < 3) {
        auto d = gauge(value);
        if (!d) return malformed(kFile, "bad " + std::string(keys[i]));
        (i == 0 ? pl.avg10 : i == 1 ? pl.avg60 : pl.avg300) = *d;
      } else {
        auto u = to_u64(value);
        if (!u) return malformed(kFile, "bad total=");
        pl.total_us = *u;
      }
    }
    if (f[0] == "some") {
      out.some = pl;
      seen_some = true;
    } else {
      out.full = pl;
    }
  }
  if (!seen_some) return malformed(kFile, "no \"some\" line");
  return out;
}

Result<FileNr> parse_file_nr(std::string_view text) {
  auto f = split_ws(trim(text));
  if (f.size() != 3) return malformed("/proc/sys/fs/file-nr", "expected 3 fields");
  auto a = to_u64(f[0]), u = to_u64(f[1]), m = to_u64(f[2]);
  if (!a || !u || !m) return malformed("/proc/sys/fs/file-nr", "non-numeric field");
  return FileNr{*a, *u, *m};
}

Result<double> parse_uptime(std::string_view text) {
  auto f = split_ws(trim(text));
  if (f.empty()) return malformed("/proc/uptime", "empty");
  auto v = gauge(f[0]);
  if (!v) return malformed("/proc/uptime", "bad uptime");
  return *v;
}

Result<std::vector<Mount>> parse_mountinfo(std::string_view text) {
  constexpr std::string_view kFile = "/proc/self/mountinfo";
  std::vector<Mount> out;
  for (auto line : lines(text)) {
    auto f = split_ws(line);
    if (f.empty()) continue;
    // id parent major:minor root mount_point options [optional...] - fstype source superopts
    auto sep = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 6 || sep == f.end() || sep - f.begin() < 6 || f.end() - sep < 3) {
      return malformed(kFile, "expected \"... - fstype source options\"");
    }
    Mount m;
    m.mount_point = decode_octal(f[4]);
    m.fs_type = std::string(*(sep + 1));
    m.source = decode_octal(*(sep + 2));
    out.push_back(std::move(m));
  }
  return out;
}

bool is_pseudo_fs(std::string_view fs_type) {
  static constexpr std::array<std::string_view, 27> kPseudo = {
      "autofs",     "binfmt_misc", "bpf",       "cgroup",   "cgroup2", "configfs", "debugfs", "devpts",  "devtmpfs",
      "efivarfs",   "fusectl",     "hugetlbfs", "mqueue",   "nsfs",    "overlay",  "proc",    "pstore",  "ramfs",
      "rpc_pipefs", "securityfs",  "selinuxfs", "squashfs", "sysfs",   "tmpfs",    "tracefs", "iso9660", "nfsd"};
  return std::find(kPseudo.begin(), kPseudo.end(), fs_type) != kPseudo.end();
}

bool is_network_fs(std::string_view fs_type) {
  static constexpr std::array<std::string_view, 11> kNetwork = {
      "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.glusterfs", "fuse.sshfs", "afs", "lustre"};
  return std::find(kNetwork.begin(), kNetwork.end(), fs_type) != kNetwork.end();
}

}  // namespace vigil::procfs
