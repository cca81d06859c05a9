#include "probes/kept_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vigil {

namespace {

// Reads from offset 0 to EOF (or `limit`). Returns 0 or the errno.
int pread_from_start(int fd, std::size_t limit, Shown shown, std::string* out) {
  out->clear();
  char buf[8192];
  while (out->size() < limit) {
    const std::size_t want = std::min(sizeof buf, limit - out->size());
    const ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(out->size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    out->append(buf, static_cast<std::size_t>(n));
    // Shown at once (see Shown): a read that came back with more than half
    // the buffer free was the end, which saves the syscall that sees EOF.
    if (shown == Shown::kAtOnce && static_cast<std::size_t>(n) < want / 2) break;
  }
  return 0;
}

bool is_gone(int err) {
  return err == ESRCH || err == ENOENT || err == ENODEV;
}

}  // namespace

Result<std::string> read_kept(UniqueFd& slot, const std::string& path, bool keep, OnGone on_gone, std::size_t limit,
                              Shown shown) {
  std::string out;
  if (slot) {
    const int err = pread_from_start(slot.get(), limit, shown, &out);
    if (err == 0) {
      if (!keep) slot.reset();
      return out;
    }
    slot.reset();
    if (!is_gone(err) || on_gone == OnGone::kAbsent) {
      return fail(errno_kind(err), path + ": " + std::strerror(err));
    }
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return fail(errno_kind(err), path + ": " + std::strerror(err));
  }
  const int err = pread_from_start(fd.get(), limit, shown, &out);
  if (err != 0) return fail(errno_kind(err), path + ": " + std::strerror(err));
  if (keep) slot = std::move(fd);
  return out;
}

Result<std::string> KeptFiles::read(const std::string& path, std::size_t limit, Shown shown) {
  auto it = files_.find(path);
  if (it == files_.end()) {
    UniqueFd none;
    auto text = read_kept(none, path, files_.size() < max_files_, OnGone::kReopen, limit, shown);
    if (text && none) files_.emplace(path, Kept{std::move(none), true});
    return text;
  }
  it->second.used = true;
  auto text = read_kept(it->second.fd, path, true, OnGone::kReopen, limit, shown);
  if (!it->second.fd) files_.erase(it);
  return text;
}

void KeptFiles::forget_unused() {
  std::erase_if(files_, [](const auto& kv) { return !kv.second.used; });
  for (auto& [path, kept] : files_) kept.used = false;
}

}  // namespace vigil
