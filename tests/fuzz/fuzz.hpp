// tests/fuzz/fuzz.hpp: what every libFuzzer target here shares.
//
// A target feeds the fuzzer's bytes to one parser of outside input and checks
// the parser's own promises (bounds on what it returns, a round trip, the
// same verdict for the same reply), not only that it returned. A broken
// promise prints what and where, then aborts: libFuzzer saves the input as
// a crash artifact, which becomes a regression fixture (README, "Fuzzing").
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(condition)                                                                      \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

namespace vigil::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An error message quotes at most an excerpt of the input: a hostile file
// or peer never makes vigild log (or store) its whole content.
inline constexpr std::size_t kMaxMessage = 1024;

}  // namespace vigil::fuzz

#include "probes/checks/outcome.hpp"

namespace vigil::fuzz {

// What every request/response judge (probes/checks/outcome.hpp) promises:
// called after each read with everything received so far, it decides at
// most once. So a prefix that already decides decides the same as the
// whole (bytes after the answer are ignored; a failure's reason may quote
// more of what arrived, an excerpt of the garbage), a failure says why in
// a bounded reason, and `bound` (when not 0) is the most it ever buffers
// waiting for more.
template <class Judge>
void check_judge(Judge judge, std::string_view received, std::size_t bound) {
  const Reply whole = judge(received);
  if (whole.verdict == Reply::Verdict::kFail) FUZZ_CHECK(!whole.reason.empty());
  FUZZ_CHECK(whole.reason.size() <= kMaxMessage);
  if (bound != 0 && received.size() > bound) FUZZ_CHECK(whole.verdict != Reply::Verdict::kNeedMore);
  auto same_as_whole = [&](std::size_t n) {
    const Reply part = judge(received.substr(0, n));
    if (part.verdict == Reply::Verdict::kNeedMore) return;
    FUZZ_CHECK(part.verdict == whole.verdict);
    if (whole.verdict == Reply::Verdict::kOk) FUZZ_CHECK(part.reason == whole.reason);
  };
  // Every short prefix, and a few long ones (all of them would be quadratic).
  for (std::size_t n = 0; n < received.size() && n < 64; ++n) same_as_whole(n);
  for (std::size_t n : {received.size() / 3, received.size() / 2, received.size() - received.size() / 4}) {
    if (n < received.size()) same_as_whole(n);
  }
  if (!received.empty()) same_as_whole(received.size() - 1);
}

}  // namespace vigil::fuzz
