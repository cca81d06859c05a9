#include "probes/deadline_read.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/text.hpp"

namespace vigil {

namespace {

struct Job {
  std::string path;
  std::size_t limit = 0;
  bool done = false;
  std::chrono::steady_clock::time_point finished;
  Result<std::string> content = std::string();
};

// A late result nobody asked for within this long (its process exited) is
// dropped: the pending map stays as small as the number of stuck reads.
constexpr std::chrono::seconds kKeepLateResult{60};

}  // namespace

// Shared with the workers, which may outlive the reader (a stuck read).
struct DeadlineReader::Shared {
  std::mutex mu;
  std::condition_variable work;  // workers wait for jobs
  std::condition_variable done;  // callers wait for their job
  std::deque<std::shared_ptr<Job>> queue;
  std::map<std::string, std::shared_ptr<Job>> pending;  // by path and tag: past their deadline, or finished since
  std::size_t workers = 0;
  std::size_t idle = 0;
  std::size_t max_workers = 1;
  bool stopping = false;

  static void run(const std::shared_ptr<Shared>& self) {
    std::unique_lock lock(self->mu);
    for (;;) {
      ++self->idle;
      self->work.wait(lock, [&] { return self->stopping || !self->queue.empty(); });
      --self->idle;
      if (self->stopping) {
        --self->workers;
        return;
      }
      std::shared_ptr<Job> job = std::move(self->queue.front());
      self->queue.pop_front();
      lock.unlock();
      Result<std::string> content = read_file(job->path, job->limit);  // may block for as long as the process is stuck
      lock.lock();
      job->content = std::move(content);
      job->done = true;
      job->finished = std::chrono::steady_clock::now();
      self->done.notify_all();
    }
  }
};

DeadlineReader::DeadlineReader(std::chrono::milliseconds deadline, std::size_t max_workers)
    : shared_(std::make_shared<Shared>()), deadline_(deadline) {
  shared_->max_workers = max_workers == 0 ? 1 : max_workers;
}

DeadlineReader::~DeadlineReader() {
  if (!shared_) return;  // moved from
  std::lock_guard lock(shared_->mu);
  shared_->stopping = true;
  shared_->work.notify_all();
}

DeadlineReader::Outcome DeadlineReader::read(const std::string& path, std::size_t limit, const std::string& tag) {
  Shared& s = *shared_;
  const std::string key = path + '\0' + tag;
  std::unique_lock lock(s.mu);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(s.pending, [&](const auto& kv) {
    return kv.first != key && kv.second->done && now - kv.second->finished > kKeepLateResult;
  });
  std::shared_ptr<Job> job;
  if (auto it = s.pending.find(key); it != s.pending.end()) {
    if (!it->second->done) return Outcome{Status::kPending, std::string()};
    job = std::move(it->second);
    s.pending.erase(it);
    return Outcome{Status::kDone, std::move(job->content)};
  }
  // Busy workers are stuck ones (a finished read frees its worker at once):
  // with all of them stuck, refuse rather than queue behind them.
  if (s.idle == 0 && s.workers >= s.max_workers) return Outcome{Status::kBusy, std::string()};
  job = std::make_shared<Job>();
  job->path = path;
  job->limit = limit;
  s.queue.push_back(job);
  if (s.idle == 0) {
    ++s.workers;
    std::thread([shared = shared_] { Shared::run(shared); }).detach();
  }
  s.work.notify_one();
  if (s.done.wait_for(lock, deadline_, [&] { return job->done; })) {
    return Outcome{Status::kDone, std::move(job->content)};
  }
  s.pending[key] = job;
  return Outcome{Status::kPending, std::string()};
}

std::size_t DeadlineReader::stalled() const {
  std::lock_guard lock(shared_->mu);
  std::size_t n = 0;
  for (const auto& [path, job] : shared_->pending) n += job->done ? 0 : 1;
  return n;
}

}  // namespace vigil
