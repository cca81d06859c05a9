// core/result.hpp: the error vocabulary shared by every layer.
//
// Expected environment failures (a file that is missing, a value that does
// not parse, a database that is corrupt) are returned as Result<T>, never
// thrown. Each Error carries a kind a caller can branch on and a message a
// person can act on (what, which path or key, the errno text). Programming
// errors assert instead.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace vigil {

enum class ErrorKind {
  kNotFound,      // the thing read does not exist (ENOENT, ESRCH, ENODEV: absent, not failed)
  kNotAvailable,  // this host does not offer it (no PSI, no cgroup v2, no io accounting)
  kPermission,    // EACCES/EPERM
  kParse,         // content did not have the expected shape
  kInvalid,       // a value is out of range or not allowed
  kIo,            // any other system call failure
  kStore,         // SQLite refused
  kCorrupt,       // on-disk data failed an integrity check
};

const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind;
  std::string message;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message)});
}

// Maps an errno value after a failed read of procfs/sysfs to the error kind:
// a process or cgroup that vanished is kNotFound, which callers treat as
// "no value"; EOPNOTSUPP (a pressure file under psi=0) is kNotAvailable.
ErrorKind errno_kind(int err);

// "No such file or directory (ENOENT)": strerror with the errno's name, so a
// message can be searched for and told apart whatever the locale.
std::string errno_text(int err);

}  // namespace vigil
