#include <cerrno>
#include <cstring>

#include "core/result.hpp"

namespace vigil {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kNotAvailable: return "not_available";
    case ErrorKind::kPermission: return "permission";
    case ErrorKind::kParse: return "parse";
    case ErrorKind::kInvalid: return "invalid";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kStore: return "store";
    case ErrorKind::kCorrupt: return "corrupt";
  }
  return "unknown";
}

ErrorKind errno_kind(int err) {
  switch (err) {
    case ENOENT:
    case ESRCH:
    case ENODEV:
    case ENXIO: return ErrorKind::kNotFound;
    case EACCES:
    case EPERM: return ErrorKind::kPermission;
    // The file exists but this host switched the feature off: reading a
    // pressure file under psi=0 fails so.
    case EOPNOTSUPP: return ErrorKind::kNotAvailable;
    default: return ErrorKind::kIo;
  }
}

std::string errno_text(int err) {
  std::string out = std::strerror(err);
  if (const char* name = ::strerrorname_np(err); name != nullptr) out += std::string(" (") + name + ")";
  return out;
}

}  // namespace vigil
