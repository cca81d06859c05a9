// tests/requirements.hpp: what a case needs from this machine,
// and skips that Meson counts as skips.
//
// A case that needs something this machine may lack (Alertmanager, Redis,
// a writable memory cgroup, systemd in a container) carries the label of
// that requirement: `*boost::unit_test::label("redis")`. The binary
// registers, for each label, a probe that says why the requirement is not
// met (VIGIL_REQUIREMENT below). Meson runs each label as a test of its own
// (`--run_test=@redis` with VIGIL_TEST_REQUIRES=redis) and the cases without
// a label as one more (`--run_test=!@redis:...`). When the requirement is not
// met, the binary prints the reason and exits 77 before any case runs:
// Meson reports the group as skipped, never as passed.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>

namespace harness {

// Why the requirement is not met, or nullopt when it is.
using Probe = std::function<std::optional<std::string>()>;

inline std::map<std::string, Probe>& requirement_probes() {
  static std::map<std::string, Probe> probes;
  return probes;
}

struct RegisterRequirement {
  RegisterRequirement(const char* label, Probe probe) { requirement_probes()[label] = std::move(probe); }
};

// Before any case: the group Meson asked for, if its requirement is unmet,
// is a skip with its reason.
struct SkipUnlessRequirementMet {
  SkipUnlessRequirementMet() {
    const char* wanted = std::getenv("VIGIL_TEST_REQUIRES");
    if (wanted == nullptr || *wanted == '\0') return;
    auto it = requirement_probes().find(wanted);
    if (it == requirement_probes().end()) {
      std::cerr << "VIGIL_TEST_REQUIRES=" << wanted << " names no requirement of this binary\n";
      std::_Exit(1);
    }
    if (auto why = it->second()) {
      std::cout << "SKIP (" << wanted << "): " << *why << std::endl;
      std::_Exit(77);
    }
  }
};
BOOST_TEST_GLOBAL_FIXTURE(SkipUnlessRequirementMet);

}  // namespace harness

#define VIGIL_REQUIREMENT_CAT2(a, b) a##b
#define VIGIL_REQUIREMENT_CAT(a, b) VIGIL_REQUIREMENT_CAT2(a, b)
// VIGIL_REQUIREMENT("redis", [] { return why_not_or_nullopt; });
#define VIGIL_REQUIREMENT(label, probe) \
  static ::harness::RegisterRequirement VIGIL_REQUIREMENT_CAT(vigil_requirement_, __LINE__)(label, probe)
