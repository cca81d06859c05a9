// probes/read_psi.hpp: internal to probes/, not part of the contract.
#pragma once

#include <string>

#include "core/result.hpp"

namespace vigil::detail {

// Reads a pressure file. Unlike read_file it tells "PSI is compiled in but
// switched off" (psi=0 on the kernel command line: the files exist and the
// read fails with EOPNOTSUPP) apart as kNotAvailable, which callers skip
// silently like a missing file.
Result<std::string> read_pressure_file(const std::string& path);

}  // namespace vigil::detail
