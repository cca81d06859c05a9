// What one ProcessTable refresh costs per process, three ways, over the live
// /proc: list /proc, then read and parse stat and statm of every process.
//
//   openread  open/read/close each file on every round
//   pread     fds opened once (outside the timing), re-read with pread
//   libproc2  procps_pids_reap with the fields the table needs
//
// Prints the median over the rounds of microseconds per process as
// "figure NAME VALUE UNIT" lines. Never fails on timing.
#include <dirent.h>
#include <fcntl.h>
#include <libproc2/pids.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "core/unique_fd.hpp"
#include "probes/procfs.hpp"

namespace {

constexpr int kRounds = 50;

// Parsed values kept so the compiler cannot drop the work.
volatile std::uint64_t g_sink = 0;

struct DirCloser {
  void operator()(DIR* d) const {
    if (d) ::closedir(d);
  }
};

std::vector<int> list_pids() {
  std::vector<int> out;
  std::unique_ptr<DIR, DirCloser> d(::opendir("/proc"));
  if (!d) return out;
  while (const dirent* e = ::readdir(d.get())) {
    if (e->d_name[0] >= '1' && e->d_name[0] <= '9') out.push_back(std::atoi(e->d_name));
  }
  return out;
}

void consume(std::string_view stat_text, std::string_view statm_text) {
  if (auto st = vigil::procfs::parse_pid_stat(stat_text)) {
    g_sink = g_sink + st->utime_ticks + static_cast<std::uint64_t>(st->ppid);
  }
  auto f = vigil::split_ws(statm_text);
  if (f.size() >= 2) g_sink = g_sink + vigil::to_u64(f[1]).value_or(0);
}

std::size_t read_fd(int fd, char* buf, std::size_t size) {
  ssize_t n = ::read(fd, buf, size);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t pread_fd(int fd, char* buf, std::size_t size) {
  ssize_t n = ::pread(fd, buf, size, 0);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// One round of open/read/close; returns microseconds per process.
double round_openread() {
  char stat_buf[4096], statm_buf[512];
  const auto start = Clock::now();
  const auto pids = list_pids();
  std::size_t read = 0;
  for (int pid : pids) {
    const std::string dir = "/proc/" + std::to_string(pid);
    vigil::UniqueFd s(::open((dir + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
    vigil::UniqueFd m(::open((dir + "/statm").c_str(), O_RDONLY | O_CLOEXEC));
    if (!s || !m) continue;
    const std::size_t ns = read_fd(s.get(), stat_buf, sizeof stat_buf);
    const std::size_t nm = read_fd(m.get(), statm_buf, sizeof statm_buf);
    consume({stat_buf, ns}, {statm_buf, nm});
    ++read;
  }
  const double us = us_since(start);
  return read ? us / static_cast<double>(read) : 0;
}

struct CachedFds {
  vigil::UniqueFd stat, statm;
};

std::vector<CachedFds> open_all() {
  std::vector<CachedFds> out;
  for (int pid : list_pids()) {
    const std::string dir = "/proc/" + std::to_string(pid);
    CachedFds c{vigil::UniqueFd(::open((dir + "/stat").c_str(), O_RDONLY | O_CLOEXEC)),
                vigil::UniqueFd(::open((dir + "/statm").c_str(), O_RDONLY | O_CLOEXEC))};
    if (c.stat && c.statm) out.push_back(std::move(c));
  }
  return out;
}

// One round of the table's hot path: the listing (to find new processes)
// and a pread per cached fd.
double round_pread(const std::vector<CachedFds>& fds) {
  char stat_buf[4096], statm_buf[512];
  const auto start = Clock::now();
  const auto pids = list_pids();
  g_sink = g_sink + pids.size();
  std::size_t read = 0;
  for (const auto& c : fds) {
    const std::size_t ns = pread_fd(c.stat.get(), stat_buf, sizeof stat_buf);
    const std::size_t nm = pread_fd(c.statm.get(), statm_buf, sizeof statm_buf);
    if (ns == 0) continue;  // exited since the fds were opened
    consume({stat_buf, ns}, {statm_buf, nm});
    ++read;
  }
  const double us = us_since(start);
  return read ? us / static_cast<double>(read) : 0;
}

struct PidsInfoUnref {
  void operator()(pids_info* info) const {
    if (info) procps_pids_unref(&info);
  }
};
using PidsInfo = std::unique_ptr<pids_info, PidsInfoUnref>;

enum pids_item kItems[] = {PIDS_ID_PID,  PIDS_ID_PPID,  PIDS_STATE, PIDS_TICS_ALL,
                           PIDS_MEM_RES, PIDS_MEM_VIRT, PIDS_NLWP,  PIDS_TICS_BEGAN,
                           PIDS_FLAGS,   PIDS_CMD};
constexpr int kItemCount = static_cast<int>(sizeof kItems / sizeof kItems[0]);

double round_libproc2(pids_info* info) {
  const auto start = Clock::now();
  pids_fetch* fetched = procps_pids_reap(info, PIDS_FETCH_TASKS_ONLY);
  if (!fetched) return 0;
  const int total = fetched->counts->total;
  for (int i = 0; i < total; ++i) {
    pids_stack* s = fetched->stacks[i];
    g_sink = g_sink + static_cast<std::uint64_t>(PIDS_VAL(1, s_int, s, info)) +
             PIDS_VAL(3, ull_int, s, info) + PIDS_VAL(4, ul_int, s, info);
  }
  const double us = us_since(start);
  return total > 0 ? us / total : 0;
}

}  // namespace

int main() {
  const std::size_t processes = list_pids().size();

  std::vector<double> openread, pread, libproc2;
  round_openread();  // warm the dentry cache like a running daemon has
  for (int i = 0; i < kRounds; ++i) openread.push_back(round_openread());

  const auto fds = open_all();
  round_pread(fds);
  for (int i = 0; i < kRounds; ++i) pread.push_back(round_pread(fds));

  pids_info* raw = nullptr;
  if (procps_pids_new(&raw, kItems, kItemCount) < 0) {
    std::fprintf(stderr, "procps_pids_new failed\n");
  } else {
    PidsInfo info(raw);
    round_libproc2(info.get());
    for (int i = 0; i < kRounds; ++i) libproc2.push_back(round_libproc2(info.get()));
  }

  std::printf("figure proc_read_us_per_process_openread %.2f us\n", median(openread));
  std::printf("figure proc_read_us_per_process_pread %.2f us\n", median(pread));
  if (!libproc2.empty()) {
    std::printf("figure proc_read_us_per_process_libproc2 %.2f us\n", median(libproc2));
  }
  std::printf("figure proc_read_processes %zu count\n", processes);
  return 0;
}
