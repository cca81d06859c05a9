// tests/fuzz/postgres.cpp: the postgres check's startup reply judge
// (probes/checks/postgres.hpp).
//
// Whatever the peer sends after the StartupMessage: the verdict is decided
// once (a longer read never changes it), a failure says why in a bounded
// reason, and a pass names an authentication request, a protocol downgrade
// or an error other than 57P03/53300. NoticeResponses before the answer
// are skipped, so the judge alone has no bound: the TCP runner stops at
// kMaxTcpReply (probes/checks/tcp.cpp).
#include "probes/checks/postgres.hpp"

#include "tests/fuzz/fuzz.hpp"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view received = vigil::fuzz::text_of(data, size);
  vigil::fuzz::check_judge(&judge_postgres_startup_reply, received, 0);
  const Reply reply = judge_postgres_startup_reply(received);
  if (reply.verdict == Reply::Verdict::kOk) FUZZ_CHECK(reply.reason.starts_with("accepting connections"));
  // A single message longer than the limit is refused, not waited for (an
  // 'E' whose length does not start with 0 is a pre-3.0 error, text up to NUL).
  if (size >= 5 && (data[0] == 'R' || data[0] == 'v' || data[0] == 'N' || (data[0] == 'E' && data[1] == 0))) {
    const std::uint32_t length = (std::uint32_t{data[1]} << 24) | (std::uint32_t{data[2]} << 16) |
                                 (std::uint32_t{data[3]} << 8) | std::uint32_t{data[4]};
    if (length > kPostgresMaxMessage) FUZZ_CHECK(reply.verdict == Reply::Verdict::kFail);
  }
  return 0;
}
