// tests/fuzz/redis.cpp: the redis check's reply judge (probes/checks/redis.hpp).
//
// The first byte says whether the request carried AUTH (two replies
// expected) or not; the rest is what the "server" sent. A peer that sends
// garbage or never ends a line is failed once kRedisMaxLine is passed, so
// the judge never waits on more than a bounded reply.
#include "probes/checks/redis.hpp"

#include "tests/fuzz/fuzz.hpp"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool with_auth = (data[0] & 1) != 0;
  const std::string_view received = vigil::fuzz::text_of(data + 1, size - 1);
  // Two replies (AUTH's and PING's), each a line or a bulk string of at
  // most kRedisMaxLine bytes with its header and CRLFs.
  const std::size_t bound = 2 * (kRedisMaxLine + 32);
  vigil::fuzz::check_judge([&](std::string_view r) { return judge_redis_replies(r, with_auth); }, received, bound);
  const Reply reply = judge_redis_replies(received, with_auth);
  if (reply.verdict == Reply::Verdict::kOk) {
    FUZZ_CHECK(reply.reason == "PONG");
    FUZZ_CHECK(received.find("PONG") != std::string_view::npos);
  }
  return 0;
}
