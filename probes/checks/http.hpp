// probes/checks/http.hpp: the http check kind, and what prometheus shares with it.
//
// A run is one request through net/ (a fresh connection each time unless
// reuse_connection); judge_http_response() is the pure part: given what
// came back, did the check pass, and why not, in words a person can act on.
#pragma once

#include <regex.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/keys.hpp"
#include "net/http.hpp"
#include "probes/checks/check.hpp"

namespace vigil {

// The keys of the request itself, shared by http and prometheus checks.
struct HttpClientFields {
  std::string url;
  StringPairs headers;
  std::optional<Millis> connect_timeout;  // default: the check's timeout
  int follow_redirects = 0;
  bool reuse_connection = false;  // keep-alive between runs (cheaper; blind to a stuck accept())
  bool insecure = false;
  std::string ca_file, client_cert, client_key;
  std::uint64_t max_body = 1u << 20;
  bool operator==(const HttpClientFields&) const = default;
};

struct HttpCheckSettings : HttpClientFields {
  std::string method = "GET";
  std::string body;
  StatusRanges expect_status;              // empty: 200-299
  std::string expect_body;                 // substring
  std::string expect_body_regex;           // POSIX extended regular expression
  std::vector<std::string> expect_header;  // "Name" (present) or "Name: text" (its value contains text)
  bool operator==(const HttpCheckSettings&) const = default;
};

// kOk or kFail with the reason ("HTTP 503 from URL", "body did not contain
// \"ok\" (first 80 bytes: ...)"). Never kNeedMore. `body_regex` is
// expect_body_regex compiled (REG_EXTENDED | REG_NOSUB); when null and the
// settings have one, it is compiled for this call.
Reply judge_http_response(const HttpCheckSettings& settings, const std::string& display_url, const HttpResult& result,
                          const regex_t* body_regex = nullptr);

// The request a check of these settings sends.
HttpRequest http_request(const HttpClientFields& fields, Millis timeout);

// The outcome of a transfer before judging its answer: its duration, its
// values (http_status_code, http_phase_seconds{phase}, http_body_bytes),
// and, without an answer, the failure and whether a deadline ended it.
CheckOutcome transfer_outcome(const HttpResult& result);

// A runner that sends `request` each run and turns the result into the
// outcome with `judge` (called only for an answered transfer).
using HttpJudge = std::function<void(const HttpResult& result, CheckOutcome& out)>;
std::unique_ptr<CheckRunner> make_http_runner(CheckContext& context, HttpRequest request, HttpJudge judge);

// Keys and validation http and prometheus share, for the settings type S
// (which derives from HttpClientFields).
template <class S>
std::vector<Key<KindSettings>> http_client_keys(const char* max_body_valid) {
  using F = HttpClientFields;
  return {
      kind_key<&F::url, S>("url", ValueType::kUrl, 0, 0,
                           "an http:// or https:// URL, e.g. \"http://127.0.0.1:8080/health\""),
      kind_key<&F::headers, S>("headers", ValueType::kStringMap, 0, 0,
                               "a table of header names and values, e.g. { Authorization = \"...\" }"),
      kind_key<&F::connect_timeout, S>("connect_timeout", ValueType::kDuration, 10, 600'000,
                                       "a duration from 10ms to 10m; default: timeout"),
      kind_key<&F::follow_redirects, S>("follow_redirects", ValueType::kCount, 0, 20,
                                        "an integer from 0 (do not follow, the default) to 20"),
      kind_key<&F::reuse_connection, S>(
          "reuse_connection", ValueType::kBool, 0, 0,
          "true to keep the connection open between runs (about half the CPU; blind to a server that stopped "
          "accepting); default false"),
      kind_key<&F::insecure, S>("insecure", ValueType::kBool, 0, 0,
                                "true to skip TLS certificate verification (default false)"),
      kind_key<&F::ca_file, S>("ca_file", ValueType::kPath, 0, 0, "a PEM file of CA certificates"),
      kind_key<&F::client_cert, S>("client_cert", ValueType::kPath, 0, 0, "a PEM client certificate"),
      kind_key<&F::client_key, S>("client_key", ValueType::kPath, 0, 0, "a PEM private key for client_cert"),
      kind_key<&F::max_body, S>("max_body", ValueType::kSize, 1, 256ll << 20, max_body_valid),
  };
}
void validate_http_client(const HttpClientFields& fields, const CheckSpec& check, const char* kind,
                          KeyProblems& problems);

}  // namespace vigil
