// probes/deadline_read.hpp: reads of /proc files that can block, off the
// caller's thread, with a deadline (STYLE #11).
//
// Reading /proc/PID/cmdline takes the process's mmap lock: a process stuck
// with that lock held (a hung page fault, a FUSE-backed mapping, a kernel
// bug) makes the read wait for as long as it is stuck. The event loop must
// never wait for it. DeadlineReader runs such reads on a few worker threads;
// the caller waits at most `deadline`, and a read that has not finished by
// then is reported as pending, not waited for: the caller asks again later
// (the next refresh) and gets the result once the read is done. A read
// stuck for good keeps its worker; with every worker stuck, new reads are
// refused at once (kBusy) instead of queueing behind them.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace vigil {

class DeadlineReader {
 public:
  enum class Status { kDone, kPending, kBusy };
  struct Outcome {
    Status status = Status::kDone;
    Result<std::string> content = std::string();  // when kDone: the text or why it could not be read
  };

  explicit DeadlineReader(std::chrono::milliseconds deadline, std::size_t max_workers = 4);
  ~DeadlineReader();  // workers stuck in a read are left to finish on their own
  DeadlineReader(const DeadlineReader&) = delete;
  DeadlineReader& operator=(const DeadlineReader&) = delete;
  DeadlineReader(DeadlineReader&&) = default;
  DeadlineReader& operator=(DeadlineReader&&) = delete;

  // Reads at most `limit` bytes of `path`: kDone with the outcome when the
  // read finished within the deadline (or an earlier read of the same path
  // and `tag` finished since), kPending while a read of it runs, kBusy when
  // every worker is stuck. `tag` tells apart reads of one path that are not
  // the same (a PID's file, for a process with another start time).
  Outcome read(const std::string& path, std::size_t limit, const std::string& tag = {});

  // Reads still running past their deadline (a stuck process each).
  std::size_t stalled() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::chrono::milliseconds deadline_;
};

}  // namespace vigil
