// Why the table keeps one open fd per /proc/PID/stat and re-reads it with
// pread(): refresh() reads the stat of every process on the host on every
// interval, so its cost per process is the cost of the probe.
// tests/bench/proc_read.cpp lists /proc and reads and parses stat+statm of
// every process three ways (median of 50 rounds, microseconds per process;
// this host: 2 cores, Linux 6.18, ~70 processes; the team's earlier floor
// was measured on ~290 processes):
//
//   method                      measured here   earlier floor
//   cached fd + pread                4.6             4.6
//   open/read/close                 13.1            13.8
//   libproc2 procps_pids_reap       16.8            19.4
//
// pread is about 3x cheaper than open/read/close: it skips the path walk and
// the creation and teardown of a procfs file per read, which is most of the
// cost of a few hundred bytes of text. libproc2 opens every file again and
// does more than we need. The price is one fd per process (the daemon raises
// RLIMIT_NOFILE); near that limit the table stops caching and reads the
// remaining processes with open/read/close instead of failing.
#include "probes/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <unordered_set>

#include "core/text.hpp"
#include "probes/kept_file.hpp"

namespace vigil {

namespace {

// A stat line is at most 52 numeric fields and a 16-byte comm: well under this.
constexpr std::size_t kStatBufferBytes = 4096;
// Regexes match the start of a command line; a huge argv (up to ARG_MAX)
// kept for every process would cost memory for nothing.
constexpr std::size_t kCmdlineLimitBytes = 64 * 1024;
// fds below RLIMIT_NOFILE the table leaves to the rest of the daemon.
constexpr long kFdHeadroom = 256;

std::optional<int> parse_pid_name(const char* name) {
  std::string_view s(name);
  if (s.empty() || s[0] < '1' || s[0] > '9') return std::nullopt;
  auto v = to_i64(s);
  if (!v || *v > 0x7fffffff) return std::nullopt;
  return static_cast<int>(*v);
}

// Reads the whole stat through a cached fd. Returns the errno on failure.
int pread_all(int fd, std::string* out) {
  char buf[kStatBufferBytes];
  while (true) {
    ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    if (n >= 0) {
      out->assign(buf, static_cast<std::size_t>(n));
      return 0;
    }
    if (errno != EINTR) return errno;
  }
}

struct DirCloser {
  void operator()(DIR* d) const {
    if (d) ::closedir(d);
  }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

// Entries of a /proc/PID/fd directory, for kernels (< 6.2) and fixture trees
// where its st_size is not the count.
Result<std::uint64_t> count_dir_entries(const std::string& dir) {
  UniqueDir d(::opendir(dir.c_str()));
  if (!d) {
    int err = errno;
    return fail(errno_kind(err), dir + ": " + std::strerror(err));
  }
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(d.get())) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  }
  return n;
}

// Keeps the cached command line only while it is the same program: a
// process seen between fork and exec must not keep its parent's command
// line (exec changes comm), and a PID read by path may be a new process
// (another start time).
void update_entry(ProcessEntry& entry, procfs::PidStat st) {
  if (st.comm != entry.stat.comm || st.starttime_ticks != entry.stat.starttime_ticks) {
    entry.cmdline.reset();
  }
  entry.stat = std::move(st);
}

void add_optional(std::optional<std::uint64_t>& sum, std::optional<std::uint64_t> v) {
  if (v) sum = sum.value_or(0) + *v;
}

}  // namespace

ProcessTable::ProcessTable(std::string proc_root)
    : proc_root_(std::move(proc_root)), self_pid_(static_cast<int>(::getpid())) {
  struct statfs fs {};
  on_procfs_ = ::statfs(proc_root_.c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
}

Result<std::string> ProcessTable::read_pid_file(int pid, PidFile which) const {
  static constexpr const char* kNames[] = {"status", "io", "limits", "cgroup", "net/dev"};
  const auto index = static_cast<std::size_t>(which);
  const std::string path = proc_root_ + "/" + std::to_string(pid) + "/" + kNames[index];
  const ProcessEntry* entry = find(pid);
  if (entry == nullptr) return fail(ErrorKind::kNotFound, path + ": no such process");
  // net/dev shows an interface at a time; the others all at once.
  const Shown shown = which == PidFile::kNetDev ? Shown::kByRecord : Shown::kAtOnce;
  return read_kept(entry->detail_fds[index], path, !fds_exhausted_, OnGone::kAbsent, 64 * 1024, shown);
}

Result<std::uint64_t> ProcessTable::open_fds(int pid) const {
  const std::string dir = proc_root_ + "/" + std::to_string(pid) + "/fd";
  const ProcessEntry* entry = find(pid);
  if (entry == nullptr) return fail(ErrorKind::kNotFound, dir + ": no such process");
  if (on_procfs_) {
    // procfs in Linux >= 6.2 reports the number of open fds as the size of
    // the directory, computed at each fstat, also through an O_PATH fd kept
    // from the first time (no path walk); before 6.2 the size is 0, which
    // is also what a process without fds shows: then count the entries.
    UniqueFd& kept = entry->fd_dir;
    if (!kept) kept.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (!kept || ::fstat(kept.get(), &st) != 0) {
      // The fd belongs to the process: ENOENT means this one is gone, even
      // if its PID was taken again since.
      const int err = errno;
      kept.reset();
      return fail(errno_kind(err), dir + ": " + std::strerror(err));
    }
    if (fds_exhausted_) kept.reset();
    if (st.st_size > 0) return static_cast<std::uint64_t>(st.st_size);
  }
  return count_dir_entries(dir);
}

const ProcessEntry* ProcessTable::find(int pid) const {
  auto it = entries_.find(pid);
  return it == entries_.end() ? nullptr : &it->second;
}

namespace {

Result<std::vector<int>> list_pids(const std::string& proc_root) {
  UniqueDir dir(::opendir(proc_root.c_str()));
  if (!dir) {
    int err = errno;
    return fail(errno_kind(err), proc_root + ": " + std::strerror(err));
  }
  std::vector<int> listed;
  while (const dirent* e = ::readdir(dir.get())) {
    if (auto pid = parse_pid_name(e->d_name)) listed.push_back(*pid);
  }
  return listed;
}

// Cached fds stop short of RLIMIT_NOFILE by kFdHeadroom: the table must
// not starve the rest of the daemon (sockets, the store, children) of fds.
long fd_ceiling() {
  struct rlimit nofile {};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<long>::max();
  }
  const auto soft = static_cast<long>(std::min<rlim_t>(nofile.rlim_cur, 1 << 30));
  return soft > kFdHeadroom ? soft - kFdHeadroom : 0;
}

}  // namespace

bool ProcessTable::open_stat(int pid, long ceiling, std::string& text) {
  auto it = entries_.find(pid);
  UniqueFd fd(::open((proc_root_ + "/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == EMFILE || err == ENFILE) {
      fds_exhausted_ = true;
      return it != entries_.end();  // keep what we knew rather than report a live process as gone
    }
    return false;  // it exited since the listing
  }
  if (pread_all(fd.get(), &text) != 0) return false;
  auto st = procfs::parse_pid_stat(text);
  if (!st) return false;
  if (fds_exhausted_ || fd.get() >= ceiling) {
    fds_exhausted_ = true;
    fd.reset();
  }
  if (it == entries_.end()) {
    ProcessEntry entry;
    entry.stat = std::move(*st);
    entry.stat_fd = std::move(fd);
    entries_.emplace(pid, std::move(entry));
  } else {
    update_entry(it->second, std::move(*st));
    it->second.stat_fd = std::move(fd);
  }
  return true;
}

Result<void> ProcessTable::refresh() {
  if (boot_time_seconds_ == 0) {
    // Without btime start times are unknown, but the tree still works: try
    // again next time rather than fail the refresh.
    if (auto text = read_file(proc_root_ + "/stat")) {
      if (auto st = procfs::parse_stat(*text)) boot_time_seconds_ = st->boot_time_seconds;
    }
  }
  auto listed = list_pids(proc_root_);
  if (!listed) return tl::unexpected(listed.error());

  // Above the fd ceiling, and after EMFILE/ENFILE, a process is read with
  // open/read/close. Each refresh tries again, so a brief shortage does not
  // leave the table on the slow path for good.
  fds_exhausted_ = false;
  const long ceiling = fd_ceiling();
  const bool read_all = refreshes_++ % cold_every_ == 0;
  // Start times are ticks since boot (CLOCK_BOOTTIME).
  struct timespec boot {};
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  const auto now_ticks = static_cast<std::uint64_t>(boot.tv_sec) * 100;
  constexpr std::uint64_t kYoungTicks = 10 * 100;  // launchers exec within milliseconds

  std::unordered_set<int> alive;
  alive.reserve(listed->size());
  std::string text;
  for (int pid : *listed) {
    auto it = entries_.find(pid);
    if (!read_all && it != entries_.end() && !hot_.contains(pid) &&
        it->second.stat.starttime_ticks + kYoungTicks < now_ticks) {
      alive.insert(pid);  // cold: keep what we know
      continue;
    }
    if (it != entries_.end() && it->second.stat_fd) {
      if (pread_all(it->second.stat_fd.get(), &text) == 0) {
        if (auto st = procfs::parse_pid_stat(text)) {
          update_entry(it->second, std::move(*st));
          alive.insert(pid);
          continue;
        }
      }
      // ESRCH: the process the fd was opened on exited, even if its PID
      // was reused since; a new process with this PID is read below.
      entries_.erase(it);
    }
    if (open_stat(pid, ceiling, text)) alive.insert(pid);
  }
  std::erase_if(entries_, [&](const auto& kv) { return !alive.contains(kv.first); });
  hot_.clear();
  children_built_ = false;
  return {};
}

const std::string* ProcessTable::cmdline(int pid) {
  auto it = entries_.find(pid);
  if (it == entries_.end()) return nullptr;
  if (!it->second.cmdline) {
    auto got = slow_reads_.read(proc_root_ + "/" + std::to_string(pid) + "/cmdline", kCmdlineLimitBytes,
                                std::to_string(it->second.stat.starttime_ticks));
    if (got.status != DeadlineReader::Status::kDone || !got.content) return nullptr;
    it->second.cmdline = procfs::cmdline_to_string(*got.content);
  }
  return &*it->second.cmdline;
}

std::vector<int> ProcessMatcher::matching(ProcessTable& table) {
  std::vector<int> out;
  for (const auto& [pid, entry] : table.entries()) {
    if (pid == table.self_pid() || entry.stat.is_kernel_thread() || entry.stat.state == 'Z') continue;
    auto known = verdicts_.find(pid);
    if (known != verdicts_.end() && known->second.starttime_ticks == entry.stat.starttime_ticks &&
        known->second.comm == entry.stat.comm) {
      if (known->second.matches) out.push_back(pid);
      continue;
    }
    const std::string* cmd = table.cmdline(pid);
    if (cmd == nullptr) continue;  // gone since the refresh: decide next time
    bool matches = !cmd->empty() && std::regex_search(*cmd, re_);
    verdicts_[pid] = Verdict{entry.stat.starttime_ticks, entry.stat.comm, matches};
    if (matches) out.push_back(pid);
  }
  std::erase_if(verdicts_, [&](const auto& kv) { return table.find(kv.first) == nullptr; });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int> ProcessTable::tree(const std::vector<int>& roots) const {
  if (!children_built_) {
    children_.clear();
    for (const auto& [pid, entry] : entries_) children_[entry.stat.ppid].push_back(pid);
    for (auto& [ppid, kids] : children_) std::sort(kids.begin(), kids.end());
    children_built_ = true;
  }
  const auto& children = children_;

  // Roots stay in front even if they are gone, so that collect_tree can
  // tell roots from children by position.
  std::vector<int> out;
  std::unordered_set<int> seen;
  for (int r : roots) {
    if (seen.insert(r).second) out.push_back(r);
  }
  std::deque<int> queue(out.begin(), out.end());
  while (!queue.empty()) {
    int pid = queue.front();
    queue.pop_front();
    auto it = children.find(pid);
    if (it == children.end()) continue;
    for (int child : it->second) {
      if (seen.insert(child).second) {
        out.push_back(child);
        queue.push_back(child);
      }
    }
  }
  return out;
}

Result<int> read_pidfile(const std::string& path) {
  auto text = read_file(path, 64);
  if (!text) return tl::unexpected(text.error());
  auto v = to_i64(trim(*text));
  if (!v || *v <= 0 || *v > 0x7fffffff) {
    return fail(ErrorKind::kParse,
                path + ": expected a process ID, found \"" + std::string(trim(*text).substr(0, 32)) + "\"");
  }
  return static_cast<int>(*v);
}

namespace {

// What collect_tree reads of one process beyond its stat.
struct ProcessFiles {
  std::optional<procfs::PidStatus> status;
  std::optional<procfs::PidIo> io;
  std::optional<std::uint64_t> fds;
  std::optional<procfs::PidLimits> limits;  // the main process's only
};

// Reads everything first, so that a process is counted only if it was there
// for all of it: one that exits halfway is skipped (nullopt), not half
// counted. A missing file of a process that still exists is just not
// offered (no io accounting in this kernel; EACCES for other users').
std::optional<ProcessFiles> read_process_files(const ProcessTable& table, int pid, bool main) {
  const std::string dir = table.proc_root() + "/" + std::to_string(pid);
  auto status_text = table.read_pid_file(pid, PidFile::kStatus);
  if (!status_text && status_text.error().kind == ErrorKind::kNotFound) return std::nullopt;
  bool maybe_gone = false;
  auto note = [&](const Error& e) { maybe_gone |= e.kind == ErrorKind::kNotFound; };
  ProcessFiles out;
  if (status_text) {
    if (auto s = procfs::parse_pid_status(*status_text)) out.status = *s;
  }
  if (auto text = table.read_pid_file(pid, PidFile::kIo)) {
    if (auto parsed = procfs::parse_pid_io(*text)) out.io = *parsed;
  } else {
    note(text.error());
  }
  if (auto n = table.open_fds(pid)) {
    out.fds = *n;
  } else {
    note(n.error());
  }
  if (main) {
    if (auto text = table.read_pid_file(pid, PidFile::kLimits)) {
      if (auto parsed = procfs::parse_pid_limits(*text)) out.limits = *parsed;
    } else {
      note(text.error());
    }
  }
  struct stat dir_st {};
  if (maybe_gone && ::stat(dir.c_str(), &dir_st) != 0) return std::nullopt;
  return out;
}

}  // namespace

TreeStats collect_tree(const ProcessTable& table, const std::vector<int>& pids, std::size_t roots) {
  TreeStats out;
  static const std::uint64_t page_bytes = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  for (std::size_t i = 0; i < pids.size(); ++i) {
    const int pid = pids[i];
    const ProcessEntry* entry = table.find(pid);
    if (!entry) continue;
    const auto files = read_process_files(table, pid, i == 0);
    if (!files) continue;
    const procfs::PidStat& s = entry->stat;
    ++out.processes;
    if (i >= roots) ++out.children;
    if (s.state == 'Z') ++out.zombies;
    out.threads += s.num_threads;
    out.resident_bytes += static_cast<std::uint64_t>(std::max<std::int64_t>(s.rss_pages, 0)) * page_bytes;
    out.cpu_seconds += static_cast<double>(s.utime_ticks + s.stime_ticks) / procfs::kTicksPerSecond;
    add_optional(out.open_fds, files->fds);
    if (files->io) {
      add_optional(out.read_bytes, files->io->read_bytes);
      add_optional(out.write_bytes, files->io->write_bytes);
    }
    if (files->status) {
      add_optional(out.voluntary_ctxt_switches, files->status->voluntary_ctxt_switches);
      add_optional(out.nonvoluntary_ctxt_switches, files->status->nonvoluntary_ctxt_switches);
    }
    if (i == 0) {
      out.main_pid = pid;
      out.main_state = s.state;
      // In integer milliseconds: going through double seconds would round
      // 123.45 s down to 123449 ms.
      out.main_start_ms = static_cast<WallMs>(table.boot_time_seconds()) * 1000 +
                          std::llround(static_cast<double>(s.starttime_ticks) * 1000.0 / procfs::kTicksPerSecond);
      if (files->limits) out.max_fds = files->limits->max_open_files_soft;
    }
  }
  return out;
}

void append_tree_samples(const TreeStats& stats, const std::string& target, WallMs now, Collection& out) {
  const Labels labels = {{"target", target}};
  auto add = [&](const char* metric, double v) { out.add(metric, labels, v, now); };
  auto add_opt = [&](const char* metric, const std::optional<std::uint64_t>& v) {
    if (v) add(metric, static_cast<double>(*v));
  };
  add("process_count", static_cast<double>(stats.processes));
  add("process_resident_memory_bytes", static_cast<double>(stats.resident_bytes));
  add("process_cpu_seconds_total", stats.cpu_seconds);
  add("process_threads", static_cast<double>(stats.threads));
  add("process_children", static_cast<double>(stats.children));
  add("process_zombies", static_cast<double>(stats.zombies));
  add_opt("process_open_fds", stats.open_fds);
  add_opt("process_max_fds", stats.max_fds);
  add_opt("process_read_bytes_total", stats.read_bytes);
  add_opt("process_written_bytes_total", stats.write_bytes);
  if (stats.voluntary_ctxt_switches) {
    out.add("process_context_switches_total", {{"target", target}, {"kind", "voluntary"}},
            static_cast<double>(*stats.voluntary_ctxt_switches), now);
  }
  if (stats.nonvoluntary_ctxt_switches) {
    out.add("process_context_switches_total", {{"target", target}, {"kind", "involuntary"}},
            static_cast<double>(*stats.nonvoluntary_ctxt_switches), now);
  }
  // Without a main process there is no start time to report.
  if (stats.main_pid != 0) {
    add("process_start_time_seconds", static_cast<double>(stats.main_start_ms) / 1000.0);
  }
}

std::vector<int> roots_of(const ProcessTable& table, const std::vector<int>& matched) {
  std::unordered_set<int> set(matched.begin(), matched.end());
  std::vector<int> roots;
  for (int pid : matched) {
    const ProcessEntry* e = table.find(pid);
    if (e == nullptr) continue;
    if (!set.count(e->stat.ppid)) roots.push_back(pid);
  }
  std::sort(roots.begin(), roots.end(), [&](int a, int b) {
    auto sa = table.find(a)->stat.starttime_ticks, sb = table.find(b)->stat.starttime_ticks;
    return sa != sb ? sa < sb : a < b;
  });
  return roots;
}

}  // namespace vigil
