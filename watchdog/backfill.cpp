#include "watchdog/backfill.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "core/log.hpp"
#include "store/store.hpp"

namespace vigil {

Backfill::Backfill(Loop& loop, std::string store_path, std::vector<RuleConfig> rules, AlertEngine& alerts)
    : store_path_(std::move(store_path)), alerts_(alerts) {
  for (auto& r : rules) {
    if (r.kind == RuleKind::kGrowth && !r.target.empty()) rules_.push_back(std::move(r));
  }
  if (rules_.empty()) return;
  ready_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  sd_event_source* s = nullptr;
  const int r = ready_ ? sd_event_add_io(loop.event(), &s, ready_.get(), EPOLLIN, &Backfill::on_ready, this) : -errno;
  if (r < 0) {
    log_warning("growth baselines will not be read back from the store", {{"error", std::strerror(-r)}});
    rules_.clear();
    return;
  }
  source_.reset(s);
}

Backfill::~Backfill() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Backfill::request(const std::string& target, WallMs start_ms, WallMs now) {
  bool wanted = false;
  for (const auto& r : rules_) {
    // Only a window that began before the live samples: they cover the rest.
    if (r.target == target && start_ms + r.baseline.count() < now - 2000) wanted = true;
  }
  if (!wanted) return;
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.push_back(Job{target, start_ms, now});
  ++in_flight_;
  if (!worker_.joinable()) worker_ = std::thread([this] { work(); });
  cv_.notify_one();
}

std::size_t Backfill::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

void Backfill::work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    std::vector<Found> found = read(job);
    lock.lock();
    for (auto& f : found) results_.push_back(std::move(f));
    const std::uint64_t one = 1;
    if (::write(ready_.get(), &one, sizeof one) < 0) {
      // The counter is full or the fd is gone: the loop reads what is there.
    }
  }
}

std::vector<Backfill::Found> Backfill::read(const Job& job) const {
  std::vector<Found> out;
  auto reader = StoreReader::open(store_path_);
  if (!reader) {
    log_warning("cannot read the growth baseline back", {{"target", job.target}, {"error", reader.error().message}});
    return out;
  }
  for (const auto& r : rules_) {
    if (r.target != job.target || job.start_ms + r.baseline.count() >= job.now - 2000) continue;
    Labels filter = r.select;
    filter.emplace_back("target", job.target);
    // The baseline window, and the last minutes for the current value and slope.
    for (auto [from, to] :
         {std::pair{job.start_ms, job.start_ms + r.baseline.count()}, std::pair{job.now - 600'000, job.now}}) {
      auto series = reader->query(r.metric, filter, from, to);
      if (!series) continue;  // an unknown metric: nothing stored yet
      for (const auto& s : *series) {
        Found f{s.series.key, {}};
        for (const auto& p : s.points) f.points.push_back(SeriesPoint{p.ts_ms, p.value});
        out.push_back(std::move(f));
      }
    }
  }
  return out;
}

int Backfill::on_ready(sd_event_source*, int fd, std::uint32_t, void* self) {
  auto* b = static_cast<Backfill*>(self);
  std::uint64_t count = 0;
  if (::read(fd, &count, sizeof count) < 0) return 0;
  std::vector<Found> found;
  {
    std::lock_guard<std::mutex> lock(b->mu_);
    found.swap(b->results_);
    b->in_flight_ -= std::min<std::size_t>(b->in_flight_, static_cast<std::size_t>(count));
  }
  for (const auto& f : found) b->alerts_.backfill(f.key, f.points);
  return 0;
}

}  // namespace vigil
