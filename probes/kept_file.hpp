// probes/kept_file.hpp: files kept open and re-read from the start.
//
// procfs and cgroupfs files read every interval are cheaper through a kept
// fd and pread(2) than through open/read/close: no path walk, no file
// object to create and tear down (4.6 us instead of 13.8 us per process
// for stat, see process.cpp; the same holds for status, io and the cgroup
// files). A kept fd outlives nothing it describes: once its process exits
// or its cgroup is removed, reads fail with ESRCH/ENODEV/ENOENT.
#pragma once

#include <string>
#include <unordered_map>

#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace vigil {

enum class OnGone {
  kAbsent,  // per-process files: a new process with the same PID is not ours
  kReopen,  // cgroup files: a cgroup recreated at the same path is the same one
};

// How a file's text comes out of the kernel. A seq_file that shows all of
// it at once (single_open: /proc/PID/stat, status, io, cgroup; cgroupfs
// files) fills a read with everything that fits, so a read that comes back
// well short was the end, and the read that would see EOF can be skipped.
// One that shows a record at a time (mountinfo, net/dev, diskstats) returns
// about a page per read whatever the buffer, so only EOF is the end: taking
// a short read for it lost every mount after the first 4 KiB.
enum class Shown {
  kAtOnce,
  kByRecord,
};

// Reads `path` through `slot`, opening it first when `slot` is empty. With
// `keep` false (fds running short) the fd is closed again after the read.
Result<std::string> read_kept(UniqueFd& slot, const std::string& path, bool keep, OnGone on_gone,
                              std::size_t limit = 64 * 1024, Shown shown = Shown::kByRecord);

// Kept fds by path, for files whose owner has no natural place to keep
// them (cgroup directories). forget_unused() closes the ones not read since
// its previous call, so removed cgroups do not pin kernel objects for long.
class KeptFiles {
 public:
  explicit KeptFiles(std::size_t max_files = 4096) : max_files_(max_files) {}
  Result<std::string> read(const std::string& path, std::size_t limit = 64 * 1024, Shown shown = Shown::kByRecord);
  void forget_unused();
  std::size_t size() const { return files_.size(); }

 private:
  struct Kept {
    UniqueFd fd;
    bool used = false;
  };
  std::unordered_map<std::string, Kept> files_;
  std::size_t max_files_;
};

}  // namespace vigil
