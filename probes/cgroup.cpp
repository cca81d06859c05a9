#include "probes/cgroup.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <array>
#include <memory>

#include "core/text.hpp"

namespace vigil {

namespace {

// v1 controllers a hierarchy directory name may list ("cpu,cpuacct").
constexpr std::array<std::string_view, 14> kV1Controllers = {"blkio",      "cpu",     "cpuacct", "cpuset",  "devices",
                                                             "freezer",    "hugetlb", "memory",  "net_cls", "net_prio",
                                                             "perf_event", "pids",    "rdma",    "misc"};

// The v1 controllers the reader takes values from.
constexpr std::array<std::string_view, 5> kReadControllers = {"memory", "cpu", "cpuacct", "pids", "blkio"};

// v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes, which depends
// on the page size (0x7FFFFFFFFFFFF000 with 4 KiB pages); anything this
// large is no real limit.
constexpr std::uint64_t kUnlimitedThreshold = std::uint64_t{1} << 62;

bool is_v1_controller(std::string_view name) {
  return std::find(kV1Controllers.begin(), kV1Controllers.end(), name) != kV1Controllers.end();
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The cgroup directory for a relative path under a mount; "/" is the mount.
std::string under(const std::string& mount, const std::string& rel) {
  if (rel.empty() || rel == "/") return mount;
  return mount + (rel.front() == '/' ? "" : "/") + rel;
}

using KeyedValues = std::map<std::string, std::uint64_t>;

// Reads the files of one cgroup directory. A file that is absent (not
// offered by this hierarchy or kernel, or the cgroup went away mid-read)
// gives nullopt; content that does not parse, or a read that failed
// otherwise, also gives nullopt and records the first such error in
// `*error`, which read() returns once it has tried everything.
// One read() of a cgroup: its first error, the kept fds, and whether a
// file was not there (then the cgroup may be gone: its directories are
// looked up again next time).
struct Reading {
  std::optional<Error> error;
  KeptFiles* kept = nullptr;
  bool missing = false;
};

class FileReader {
 public:
  FileReader(std::string dir, Reading* r)
      : dir_(std::move(dir)), error_(&r->error), kept_(r->kept), missing_(&r->missing) {}

  std::optional<std::string> text(const char* name) const {
    auto r = kept_->read(dir_ + "/" + name, 64 * 1024, Shown::kAtOnce);
    if (r) return std::move(*r);
    if (r.error().kind == ErrorKind::kNotFound) {
      *missing_ = true;
    } else {
      record(r.error());
    }
    return std::nullopt;
  }

  std::optional<std::uint64_t> u64(const char* name) const {
    auto t = text(name);
    if (!t) return std::nullopt;
    auto v = to_u64(trim(*t));
    if (!v) record(Error{ErrorKind::kParse, dir_ + "/" + name + ": not a number"});
    return v;
  }

  // The outer optional: whether the file was read; the inner: the limit,
  // nullopt for "max" or v1's huge "unlimited".
  std::optional<std::optional<std::uint64_t>> limit(const char* name) const {
    auto t = text(name);
    if (!t) return std::nullopt;
    auto v = parse_cgroup_limit(*t);
    if (!v) {
      record(Error{v.error().kind, dir_ + "/" + name + ": " + v.error().message});
      return std::nullopt;
    }
    return *v;
  }

  // The file through `parse`; absent when missing or not read (recorded).
  template <typename Parse>
  auto parsed(const char* name, Parse parse) const -> std::optional<typename decltype(parse(""))::value_type> {
    auto t = text(name);
    if (!t) return std::nullopt;
    auto v = parse(*t);
    if (!v) {
      record(Error{v.error().kind, dir_ + "/" + name + ": " + v.error().message});
      return std::nullopt;
    }
    return std::move(*v);
  }

  std::optional<KeyedValues> keyed(const char* name) const {
    auto t = text(name);
    if (!t) return std::nullopt;
    auto v = parse_flat_keyed(*t);
    if (!v) {
      record(Error{v.error().kind, dir_ + "/" + name + ": " + v.error().message});
      return std::nullopt;
    }
    return std::move(*v);
  }

  std::optional<procfs::Psi> psi(const char* name) const {
    const std::string path = dir_ + "/" + name;
    auto r = kept_->read(path, 64 * 1024, Shown::kAtOnce);
    if (!r) {
      const ErrorKind kind = r.error().kind;
      if (kind == ErrorKind::kNotFound) *missing_ = true;
      if (kind != ErrorKind::kNotFound && kind != ErrorKind::kNotAvailable) record(r.error());
      return std::nullopt;
    }
    auto v = procfs::parse_psi(*r);
    if (!v) {
      record(Error{v.error().kind, path + ": " + v.error().message});
      return std::nullopt;
    }
    return *v;
  }

 private:
  void record(Error e) const {
    if (!*error_) *error_ = std::move(e);
  }

  std::string dir_;
  std::optional<Error>* error_;
  KeptFiles* kept_;
  bool* missing_;
};

std::optional<std::uint64_t> key_of(const std::optional<KeyedValues>& m, const char* key) {
  if (!m) return std::nullopt;
  auto it = m->find(key);
  if (it == m->end()) return std::nullopt;
  return it->second;
}

std::optional<double> scaled(std::optional<std::uint64_t> v, double divisor) {
  if (!v) return std::nullopt;
  return static_cast<double>(*v) / divisor;
}

}  // namespace

CgroupPaths cgroup_paths_from(const std::vector<procfs::CgroupLine>& lines) {
  CgroupPaths out;
  for (const auto& line : lines) {
    if (line.hierarchy_id == 0 && line.controllers.empty()) {
      out.v2 = line.path;
      continue;
    }
    for (const auto& c : line.controllers) {
      // Named hierarchies (name=systemd) carry no accounting.
      if (c.starts_with("name=")) continue;
      out.v1[c] = line.path;
    }
  }
  return out;
}

CgroupPaths cgroup_paths_everywhere(const std::string& path) {
  CgroupPaths out;
  out.v2 = path;
  for (auto c : kReadControllers) out.v1[std::string(c)] = path;
  return out;
}

CgroupReader::CgroupReader(std::string cgroup_root) : root_(std::move(cgroup_root)) {
  if (exists(root_ + "/cgroup.controllers")) {
    // A pure v2 host: nothing else can be mounted inside the v2 root.
    v2_mount_ = root_;
    return;
  }
  if (exists(root_ + "/unified/cgroup.controllers")) v2_mount_ = root_ + "/unified";

  DIR* raw = ::opendir(root_.c_str());
  if (!raw) return;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(raw, ::closedir);
  // A real directory ("cpu,cpuacct") wins over a symlink to it ("cpu"), so
  // the chosen path does not depend on readdir order.
  std::map<std::string, bool> from_symlink;
  while (const dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = root_ + "/" + name;
    if (!is_dir(path)) continue;  // stat() follows symlinks such as cpu -> cpu,cpuacct
    struct stat lst {};
    const bool symlink = ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode);
    for (auto part : split(name, ',')) {
      if (!is_v1_controller(part)) continue;
      std::string controller(part);
      auto seen = from_symlink.find(controller);
      if (seen != from_symlink.end() && (symlink || !seen->second)) continue;
      v1_mounts_[controller] = path;
      from_symlink[controller] = symlink;
    }
  }
}

namespace {

std::optional<std::uint64_t> limit_value(const std::optional<std::optional<std::uint64_t>>& v) {
  return v ? *v : std::nullopt;
}

// Memory from the v1 memory controller's directory, else from v2.
void read_memory(const std::optional<std::string>& memory, const std::optional<std::string>& v2, CgroupStats& out,
                 Reading* r) {
  if (memory) {
    FileReader f(*memory, r);
    out.memory_usage_bytes = f.u64("memory.usage_in_bytes");
    out.memory_limit_bytes = limit_value(f.limit("memory.limit_in_bytes"));
    out.memory_max_usage_bytes = f.u64("memory.max_usage_in_bytes");
    out.memory_failcnt = f.u64("memory.failcnt");
    out.oom_kill_events = key_of(f.keyed("memory.oom_control"), "oom_kill");
  } else if (v2) {
    FileReader f(*v2, r);
    out.memory_usage_bytes = f.u64("memory.current");
    out.memory_limit_bytes = limit_value(f.limit("memory.max"));
    out.memory_max_usage_bytes = f.u64("memory.peak");  // Linux >= 5.19
    const auto events = f.keyed("memory.events");
    out.oom_events = key_of(events, "oom");
    out.oom_kill_events = key_of(events, "oom_kill");
  }
}

// CPU usage from v1 cpuacct, throttling from v1 cpu, each else from v2's
// cpu.stat (which always has usage_usec; nr_periods and the throttling keys
// only where the cpu controller is enabled).
void read_cpu(const std::optional<std::string>& cpu, const std::optional<std::string>& cpuacct,
              const std::optional<std::string>& v2, CgroupStats& out, Reading* r) {
  std::optional<KeyedValues> v2_cpu_stat;
  if (v2 && (!cpuacct || !cpu)) v2_cpu_stat = FileReader(*v2, r).keyed("cpu.stat");
  if (cpuacct) {
    out.cpu_usage_seconds = scaled(FileReader(*cpuacct, r).u64("cpuacct.usage"), 1e9);
  } else {
    out.cpu_usage_seconds = scaled(key_of(v2_cpu_stat, "usage_usec"), 1e6);
  }
  if (cpu) {
    const auto stat = FileReader(*cpu, r).keyed("cpu.stat");
    out.cpu_periods = key_of(stat, "nr_periods");
    out.cpu_throttled_periods = key_of(stat, "nr_throttled");
    out.cpu_throttled_seconds = scaled(key_of(stat, "throttled_time"), 1e9);
  } else {
    out.cpu_periods = key_of(v2_cpu_stat, "nr_periods");
    out.cpu_throttled_periods = key_of(v2_cpu_stat, "nr_throttled");
    out.cpu_throttled_seconds = scaled(key_of(v2_cpu_stat, "throttled_usec"), 1e6);
  }
}

}  // namespace

Result<CgroupStats> CgroupReader::read(const CgroupPaths& paths) const {
  bool found = false;
  std::vector<std::string> used;  // the directories read
  // A directory seen before is not looked up again (a path walk per
  // controller per target per round, the largest cost of reading a
  // container's cgroup) until a file in it goes missing or forget_unused().
  auto exists = [&](const std::string& dir) {
    if (dirs_.count(dir) != 0 || is_dir(dir)) {
      dirs_.insert(dir);
      used.push_back(dir);
      found = true;
      return true;
    }
    return false;
  };
  auto v1_dir = [&](const char* controller) -> std::optional<std::string> {
    auto p = paths.v1.find(controller);
    auto m = v1_mounts_.find(controller);
    if (p == paths.v1.end() || m == v1_mounts_.end()) return std::nullopt;
    std::string dir = under(m->second, p->second);
    if (!exists(dir)) return std::nullopt;
    return dir;
  };
  std::optional<std::string> v2;
  if (paths.v2 && v2_mount_) {
    std::string dir = under(*v2_mount_, *paths.v2);
    if (exists(dir)) v2 = dir;
  }
  const auto memory = v1_dir("memory");
  const auto cpu = v1_dir("cpu");
  const auto cpuacct = v1_dir("cpuacct");
  const auto pids = v1_dir("pids");
  if (!found) return fail(ErrorKind::kNotFound, "cgroup not found under " + root_);

  // Each quantity comes from v1 when that controller holds the cgroup, else
  // from v2; a file the chosen hierarchy lacks leaves the value absent.
  CgroupStats out;
  Reading reading;
  reading.kept = &kept_;
  read_memory(memory, v2, out, &reading);
  read_cpu(cpu, cpuacct, v2, out, &reading);
  if (pids || v2) {
    FileReader f(pids ? *pids : *v2, &reading);
    out.pids_current = f.u64("pids.current");
    out.pids_max = limit_value(f.limit("pids.max"));
  }
  if (const auto blkio = v1_dir("blkio")) {
    FileReader f(*blkio, &reading);
    const auto bytes = f.parsed("blkio.throttle.io_service_bytes", parse_blkio_throttle);
    const auto ios = f.parsed("blkio.throttle.io_serviced", parse_blkio_throttle);
    if (bytes && ios) out.block_io = BlockIo{bytes->first, bytes->second, ios->first, ios->second};
  } else if (v2) {
    out.block_io = FileReader(*v2, &reading).parsed("io.stat", parse_io_stat);
  }
  if (v2) {
    FileReader f(*v2, &reading);
    out.cpu_pressure = f.psi("cpu.pressure");
    out.memory_pressure = f.psi("memory.pressure");
    out.io_pressure = f.psi("io.pressure");
  }
  if (reading.missing) {
    for (const auto& d : used) dirs_.erase(d);
  }
  if (reading.error) return tl::unexpected(std::move(*reading.error));
  return out;
}

Result<std::optional<std::uint64_t>> parse_cgroup_limit(std::string_view text) {
  auto t = trim(text);
  if (t == "max") return std::optional<std::uint64_t>();
  auto v = to_u64(t);
  if (!v)
    return fail(ErrorKind::kParse, "expected a number or \"max\", found \"" + std::string(t.substr(0, 32)) + "\"");
  if (*v >= kUnlimitedThreshold) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(*v);
}

Result<std::map<std::string, std::uint64_t>> parse_flat_keyed(std::string_view text) {
  std::map<std::string, std::uint64_t> out;
  for (auto line : lines(text)) {
    auto f = split_ws(line);
    if (f.empty()) continue;
    if (f.size() != 2) return fail(ErrorKind::kParse, "expected \"key value\" lines");
    auto v = to_u64(f[1]);
    if (!v) {
      return fail(ErrorKind::kParse, "value of " + std::string(f[0]) + " is not a number");
    }
    out[std::string(f[0])] = *v;
  }
  return out;
}

Result<std::pair<std::uint64_t, std::uint64_t>> parse_blkio_throttle(std::string_view text) {
  std::uint64_t read = 0, write = 0;
  for (auto line : lines(text)) {
    auto f = split_ws(line);
    if (f.empty()) continue;
    if (f[0] == "Total" && f.size() == 2) continue;
    if (f.size() != 3 || f[0].find(':') == std::string_view::npos) {
      return fail(ErrorKind::kParse,
                  "expected \"MAJ:MIN OPERATION N\" lines, found \"" + std::string(line.substr(0, 48)) + "\"");
    }
    auto v = to_u64(f[2]);
    if (!v) return fail(ErrorKind::kParse, "the count of " + std::string(f[0].substr(0, 16)) + " is not a number");
    if (f[1] == "Read") read += *v;
    if (f[1] == "Write") write += *v;  // Sync, Async, Discard and Total count the same bytes again
  }
  return std::pair{read, write};
}

Result<BlockIo> parse_io_stat(std::string_view text) {
  BlockIo out;
  for (auto line : lines(text)) {
    auto f = split_ws(line);
    if (f.empty()) continue;
    if (f[0].find(':') == std::string_view::npos) {
      return fail(ErrorKind::kParse,
                  "expected \"MAJ:MIN key=value...\" lines, found \"" + std::string(line.substr(0, 48)) + "\"");
    }
    for (std::size_t i = 1; i < f.size(); ++i) {
      const auto eq = f[i].find('=');
      if (eq == std::string_view::npos) {
        return fail(ErrorKind::kParse, "expected key=value, found \"" + std::string(f[i].substr(0, 32)) + "\"");
      }
      const std::string_view key = f[i].substr(0, eq);
      std::uint64_t* into = key == "rbytes"   ? &out.read_bytes
                            : key == "wbytes" ? &out.write_bytes
                            : key == "rios"   ? &out.reads
                            : key == "wios"   ? &out.writes
                                              : nullptr;
      if (into == nullptr) continue;
      auto v = to_u64(f[i].substr(eq + 1));
      if (!v) return fail(ErrorKind::kParse, "the value of " + std::string(key) + " is not a number");
      *into += *v;
    }
  }
  return out;
}

void append_cgroup_samples(const CgroupStats& stats, const std::string& target, WallMs now, Collection& out) {
  const Labels labels = {{"target", target}};
  auto add_u = [&](const char* metric, const std::optional<std::uint64_t>& v) {
    if (v) out.add(metric, labels, static_cast<double>(*v), now);
  };
  auto add_d = [&](const char* metric, const std::optional<double>& v) {
    if (v) out.add(metric, labels, *v, now);
  };
  add_u("cgroup_memory_usage_bytes", stats.memory_usage_bytes);
  add_u("cgroup_memory_limit_bytes", stats.memory_limit_bytes);
  add_u("cgroup_memory_max_usage_bytes", stats.memory_max_usage_bytes);
  add_u("cgroup_memory_failcnt_total", stats.memory_failcnt);
  add_u("cgroup_memory_oom_events_total", stats.oom_events);
  add_u("cgroup_memory_oom_kill_events_total", stats.oom_kill_events);
  add_d("cgroup_cpu_usage_seconds_total", stats.cpu_usage_seconds);
  add_u("cgroup_cpu_periods_total", stats.cpu_periods);
  add_u("cgroup_cpu_throttled_periods_total", stats.cpu_throttled_periods);
  add_d("cgroup_cpu_throttled_seconds_total", stats.cpu_throttled_seconds);
  add_u("cgroup_pids_current", stats.pids_current);
  add_u("cgroup_pids_max", stats.pids_max);
  if (stats.block_io) {
    add_u("cgroup_io_read_bytes_total", stats.block_io->read_bytes);
    add_u("cgroup_io_written_bytes_total", stats.block_io->write_bytes);
    add_u("cgroup_io_reads_total", stats.block_io->reads);
    add_u("cgroup_io_writes_total", stats.block_io->writes);
  }
  const std::pair<const char*, const std::optional<procfs::Psi>*> psi[] = {
      {"cpu", &stats.cpu_pressure}, {"memory", &stats.memory_pressure}, {"io", &stats.io_pressure}};
  for (const auto& [resource, p] : psi) {
    if (!*p) continue;
    out.add("cgroup_pressure_stalled_seconds_total", {{"target", target}, {"resource", resource}, {"kind", "some"}},
            static_cast<double>((*p)->some.total_us) / 1e6, now);
    if ((*p)->full) {
      out.add("cgroup_pressure_stalled_seconds_total", {{"target", target}, {"resource", resource}, {"kind", "full"}},
              static_cast<double>((*p)->full->total_us) / 1e6, now);
    }
  }
}

}  // namespace vigil
