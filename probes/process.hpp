// probes/process.hpp: the process table and per-target process trees.
//
// The table re-reads /proc/PID/stat of every process on each refresh, to know
// parents (for trees) and new processes (for `match`). That is the hot path
// (one read per process per interval), so it keeps each stat file open and
// re-reads it with pread(); see the measurements in process.cpp. A cached fd
// is bound to the process, not the PID: once the process exits, pread fails
// with ESRCH even if the PID is reused, and the entry is dropped.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/unique_fd.hpp"
#include "probes/deadline_read.hpp"
#include "probes/probe.hpp"
#include "probes/procfs.hpp"

namespace vigil {

// Per-process files besides stat, read for target trees only.
// net/dev: the network namespace the process is in (a container's own).
enum class PidFile { kStatus = 0, kIo = 1, kLimits = 2, kCgroup = 3, kNetDev = 4 };

struct ProcessEntry {
  procfs::PidStat stat;
  UniqueFd stat_fd;                    // invalid when fds ran out: then open/read/close
  std::optional<std::string> cmdline;  // read lazily, once per process
  // Kept fds of the PidFile files (see kept_file.hpp): they belong to this
  // process and go with its entry. Mutable: a read cache, not state.
  mutable std::array<UniqueFd, 5> detail_fds;
  // An O_PATH fd of /proc/PID/fd, whose fstat gives the number of open fds
  // without a path walk (Linux >= 6.2); bound to the process as the others.
  mutable UniqueFd fd_dir;
};

class ProcessTable {
 public:
  explicit ProcessTable(std::string proc_root);

  // Lists proc_root and reads the stat of new processes and of the ones
  // that may matter: those marked hot since the previous refresh, those
  // started in the last 10 s, and every process on each `cold_every`-th
  // refresh. Processes that exited are dropped. Fails only if proc_root
  // cannot be listed.
  //
  // Why skipping the rest is safe: a process joins a target's tree only by
  // being forked into it (a new PID, read at once); it can leave only
  // through its own stat (read while it is hot). It matches a `match`
  // pattern only after an exec, which launchers do when the process is
  // young. What a cold process can hide for up to cold_every refreshes is a
  // late exec or a PID reused by a child of a target.
  Result<void> refresh();
  // 1 (the default) reads every process on every refresh.
  void set_cold_every(unsigned n) { cold_every_ = n == 0 ? 1 : n; }
  // PIDs whose stat the next refresh must read (target trees).
  void mark_hot(const std::vector<int>& pids) { hot_.insert(pids.begin(), pids.end()); }

  const std::unordered_map<int, ProcessEntry>& entries() const { return entries_; }
  const ProcessEntry* find(int pid) const;

  // The command line joined with spaces, read on first use and kept for
  // the life of the process (a process may rewrite its argv; the first
  // reading is what `match` sees). nullptr if the process is gone, or if
  // the read did not finish within 20 ms: reading cmdline takes the
  // process's mmap lock, which a stuck process may hold for good, so the
  // read runs off this thread (DeadlineReader) and a later call picks up
  // its result.
  const std::string* cmdline(int pid);
  // cmdline reads still stuck past their deadline.
  std::size_t stalled_reads() const { return slow_reads_.stalled(); }

  // `roots` and all their descendants (each once), roots first.
  std::vector<int> tree(const std::vector<int>& roots) const;

  // Reads one of a known process's files through a kept fd. kNotFound when
  // the process is gone (or unknown to the table).
  Result<std::string> read_pid_file(int pid, PidFile which) const;
  // The number of fds a known process has open. kNotFound when it is gone.
  Result<std::uint64_t> open_fds(int pid) const;

  const std::string& proc_root() const { return proc_root_; }
  // Whether proc_root is a real procfs (fixture trees are not), where the
  // size of /proc/PID/fd is the number of open fds (Linux >= 6.2).
  bool on_procfs() const { return on_procfs_; }
  int self_pid() const { return self_pid_; }
  // Boot time in seconds since the epoch (from proc_root/stat "btime"),
  // read at the first refresh; turns start ticks into wall time.
  std::uint64_t boot_time_seconds() const { return boot_time_seconds_; }

 private:
  // Opens and reads the stat of `pid` (new, or one whose fd could not be
  // kept), keeping the fd below `fd_ceiling`; returns whether it is alive.
  bool open_stat(int pid, long fd_ceiling, std::string& text);

  std::string proc_root_;
  DeadlineReader slow_reads_{std::chrono::milliseconds(20)};
  std::unordered_map<int, ProcessEntry> entries_;
  std::uint64_t boot_time_seconds_ = 0;
  int self_pid_;
  bool on_procfs_ = false;
  bool fds_exhausted_ = false;
  unsigned cold_every_ = 1;
  std::uint64_t refreshes_ = 0;
  std::unordered_set<int> hot_;
  // Children by parent (ascending PIDs), built by the first tree() after a
  // refresh and shared by every target's tree until the next.
  mutable std::unordered_map<int, std::vector<int>> children_;
  mutable bool children_built_ = false;
};

// Finds the processes whose command line matches a regex
// (std::regex_search); kernel threads, zombies and our own PID never match.
// The verdict is kept for the life of each process (same start time and
// comm), as its command line is: std::regex costs microseconds per search,
// and searching every process on every tick was about half of vigild's CPU
// with 10 match targets on a host of ~270 processes (perf, 2026-11-22).
class ProcessMatcher {
 public:
  explicit ProcessMatcher(std::regex re) : re_(std::move(re)) {}
  // Ascending PIDs.
  std::vector<int> matching(ProcessTable& table);

 private:
  struct Verdict {
    std::uint64_t starttime_ticks = 0;
    std::string comm;
    bool matches = false;
  };
  std::regex re_;
  std::unordered_map<int, Verdict> verdicts_;
};

// Of the matched PIDs, those whose parent is not matched too (a pre-forking
// server's workers belong to its master's tree), the main one first: the
// earliest started, then the lowest PID.
std::vector<int> roots_of(const ProcessTable& table, const std::vector<int>& matched);

// Reads "PID\n" from a pidfile. kNotFound when the file is missing;
// kParse when its content is not a positive integer.
Result<int> read_pidfile(const std::string& path);

// What a target's process tree adds up to. Counters are summed over the
// processes alive now (a child that exits takes its share with it; rate()
// treats the drop as a counter reset). Optional fields are absent when no
// process in the tree allowed reading them.
struct TreeStats {
  int main_pid = 0;
  WallMs main_start_ms = 0;  // wall time the main process started
  char main_state = 0;       // its state letter in stat: R, S, D, T (stopped), t (traced), Z
  std::int64_t processes = 0;
  std::int64_t children = 0;  // processes in the tree other than the roots
  std::int64_t zombies = 0;
  std::int64_t threads = 0;
  std::uint64_t resident_bytes = 0;
  double cpu_seconds = 0;
  std::optional<std::uint64_t> open_fds;
  std::optional<std::uint64_t> max_fds;  // the main process's soft RLIMIT_NOFILE
  std::optional<std::uint64_t> read_bytes;
  std::optional<std::uint64_t> write_bytes;
  std::optional<std::uint64_t> voluntary_ctxt_switches;
  std::optional<std::uint64_t> nonvoluntary_ctxt_switches;
};

// Reads the per-process details (status, io, fd count, limits of the main
// process) for `pids` (from ProcessTable::tree; pids[0] is the main
// process) and sums them. Processes that vanished meanwhile are skipped.
TreeStats collect_tree(const ProcessTable& table, const std::vector<int>& pids, std::size_t roots);

// process_* series for one target, labelled target=NAME:
// process_count, process_resident_memory_bytes, process_cpu_seconds_total,
// process_threads, process_open_fds, process_max_fds, process_children,
// process_zombies, process_read_bytes_total, process_written_bytes_total,
// process_context_switches_total{kind=voluntary|involuntary},
// process_start_time_seconds.
void append_tree_samples(const TreeStats& stats, const std::string& target, WallMs now, Collection& out);

}  // namespace vigil
