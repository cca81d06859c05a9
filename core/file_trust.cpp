#include "core/file_trust.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

#include "core/text.hpp"
#include "core/unique_fd.hpp"

namespace vigil {

std::optional<std::string> untrusted_mode(mode_t mode) {
  if ((mode & S_IWOTH) == 0) return std::nullopt;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  return std::string("is writable by other users (mode ") + octal + ")";
}

Result<std::string> read_trusted_file(const std::string& path, std::size_t limit) {
  // O_NONBLOCK: a FIFO put in the file's place must not hang the reader;
  // it is refused below as not a regular file.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    const int err = errno;
    return fail(errno_kind(err), "cannot be opened (" + errno_reason(err) + ")");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return fail(errno_kind(err), "cannot be examined (" + errno_reason(err) + ")");
  }
  if (S_ISDIR(st.st_mode)) return fail(ErrorKind::kInvalid, "is a directory, not a file");
  if (!S_ISREG(st.st_mode)) return fail(ErrorKind::kInvalid, "is not a regular file");
  if (auto why = untrusted_mode(st.st_mode)) {
    return fail(ErrorKind::kPermission, *why + ": any local user could change it; run chmod o-w " + path);
  }
  std::string out;
  char buf[8192];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return fail(errno_kind(err), "cannot be read (" + errno_reason(err) + ")");
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool passed_to_children(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  if (name.size() == entry.size()) return false;  // no '=': not an assignment
  static constexpr std::array<std::string_view, 10> kPassed = {"PATH",   "HOME", "USER", "LOGNAME", "SHELL",
                                                               "TMPDIR", "TERM", "TZ",   "LANG",    "LANGUAGE"};
  for (std::string_view k : kPassed) {
    if (name == k) return true;
  }
  return name.substr(0, 3) == "LC_";
}

}  // namespace vigil
