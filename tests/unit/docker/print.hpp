// tests/unit/docker/print.hpp: kinds print by name in Boost.Test's failure
// messages (found by argument-dependent lookup).
#pragma once

#include <ostream>

#include "core/result.hpp"
#include "probes/docker/api.hpp"

namespace vigil {
inline std::ostream& operator<<(std::ostream& o, ErrorKind k) {
  return o << to_string(k);
}
namespace docker {
template <Kind E>
std::ostream& operator<<(std::ostream& o, E e) {
  return o << to_string(e);
}
inline std::ostream& operator<<(std::ostream& o, const ApiVersion& v) {
  return o << v.text();
}
}  // namespace docker
}  // namespace vigil
