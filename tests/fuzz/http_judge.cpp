// tests/fuzz/http_judge.cpp: the http check's judge (probes/checks/http.hpp).
//
// The answer (status, headers, body, redirect location) comes from the
// fuzzer; so do the expectations, within what the config validator lets
// through. The judge's verdict is compared with an independent, naive
// reading of the same expectations, and a failure's reason stays short
// however large the body or a header is. Body regexes are taken from a
// fixed set whose meaning is known (substring, prefix, suffix), so the
// oracle does not need a regex engine of its own; bodies hold NUL bytes,
// which the judge must match past (REG_STARTEND).
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cctype>

#include "probes/checks/http.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace vigil;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view trimmed(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  HttpCheckSettings spec;
  const int ranges = in.ConsumeIntegralInRange(0, 2);
  for (int i = 0; i < ranges; ++i) {
    const int lo = in.ConsumeIntegralInRange(100, 599);
    spec.expect_status.emplace_back(lo, in.ConsumeIntegralInRange(lo, 599));
  }
  const int headers_wanted = in.ConsumeIntegralInRange(0, 2);
  for (int i = 0; i < headers_wanted; ++i) {
    std::string want = in.ConsumeRandomLengthString(24);
    // The validator lets through only a token (RFC 9110) as the name.
    const std::string_view name = trimmed(std::string_view(want).substr(0, want.find(':')));
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
    if (!token) continue;
    spec.expect_header.push_back(want);
  }
  spec.expect_body = in.ConsumeRandomLengthString(8);
  static const char* const kRegexes[] = {"", "ok", "^ok", "ok$"};
  const int regex = in.ConsumeIntegralInRange(0, 3);
  spec.expect_body_regex = kRegexes[regex];

  HttpResult answer;
  answer.answered = true;
  answer.status = in.ConsumeIntegralInRange<long>(-1, 1000);
  if (in.ConsumeBool()) answer.location = in.ConsumeRandomLengthString(300);
  const int headers = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < headers; ++i) {
    std::string name = in.ConsumeRandomLengthString(16);
    answer.headers.emplace_back(std::move(name), in.ConsumeRandomLengthString(600));
  }
  const std::string body = in.ConsumeRemainingBytesAsString();
  answer.body = body;
  answer.body_bytes = body.size();

  const Reply reply = judge_http_response(spec, "http://127.0.0.1:8080/health", answer);
  FUZZ_CHECK(reply.verdict != Reply::Verdict::kNeedMore);
  FUZZ_CHECK(reply.reason.size() <= vigil::fuzz::kMaxMessage);
  if (reply.verdict == Reply::Verdict::kFail) FUZZ_CHECK(!reply.reason.empty());

  // The oracle.
  bool pass = false;
  if (spec.expect_status.empty()) {
    pass = answer.status >= 200 && answer.status <= 299;
  } else {
    for (const auto& [lo, hi] : spec.expect_status) pass = pass || (answer.status >= lo && answer.status <= hi);
  }
  for (const std::string& want : spec.expect_header) {
    const std::size_t colon = want.find(':');
    const std::string_view name = trimmed(std::string_view(want).substr(0, colon));
    const std::string_view text = colon == std::string::npos ? std::string_view() : trimmed(std::string_view(want).substr(colon + 1));
    auto it = std::find_if(answer.headers.begin(), answer.headers.end(),
                           [&](const auto& h) { return iequals(h.first, name); });
    pass = pass && it != answer.headers.end() && (text.empty() || it->second.find(text) != std::string::npos);
  }
  pass = pass && (spec.expect_body.empty() || body.find(spec.expect_body) != std::string::npos);
  const std::string_view b = body;
  switch (regex) {
    case 1:
      pass = pass && b.find("ok") != std::string_view::npos;
      break;
    case 2:
      pass = pass && b.starts_with("ok");
      break;
    case 3:
      pass = pass && b.ends_with("ok");
      break;
    default:
      break;
  }
  FUZZ_CHECK(pass == (reply.verdict == Reply::Verdict::kOk));
  return 0;
}
