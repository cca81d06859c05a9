// probes/http.hpp: the http check kind (and the transfer of a prometheus scrape).
//
// An HttpAttempt owns one libcurl easy handle, configured once from the
// check's HttpSpec and reused for every run (a fresh connection each time,
// so that a run measures what a new client would see). The caller adds the
// handle to a curl multi handle driven by its event loop, and calls
// finish() with the transfer's result code; nothing here blocks. Memory is
// bounded: the body is kept up to max_body (a larger one aborts the
// transfer and fails the run), the headers up to 64 KiB.
//
// judge_http_response() is the pure part: given a response, did the check
// pass, and why not, in words a person can act on.
#pragma once

#include <curl/curl.h>
#include <regex.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "probes/check_outcome.hpp"
#include "probes/curl_api.hpp"

namespace vigil {

struct HttpSpec {
  std::string url;
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::pair<int, int>> expect_status;  // inclusive ranges; empty: 200-299
  std::string expect_body;                         // substring
  std::string expect_body_regex;                   // POSIX ERE; validated by the config
  std::vector<std::string> expect_header;          // "Name" or "Name: substring"
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{5000};
  int follow_redirects = 0;
  bool reuse_connection = false;
  bool insecure = false;
  std::string ca_file, client_cert, client_key;
  std::uint64_t max_body = 1 << 20;
  bool keep_body = false;  // the caller needs the whole body (prometheus)
  std::string user_agent = "vigil";
  // The URL as reasons show it: `url` with a password replaced by "***".
  // HttpAttempt fills it; judge_http_response() uses it when set.
  std::string display_url;
};

// `url` with the password of its user-info (http://user:pass@host/) hidden.
std::string redact_url(const std::string& url);

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // of the last response, names as sent
  std::string_view body;                                     // what was kept of it
  std::uint64_t body_bytes = 0;
  std::string location;  // a redirect's target, when not followed
};

// kOk or kFail with the reason ("HTTP 503 from URL", "body did not contain
// \"ok\" (first 80 bytes: ...)"). Never kNeedMore.
// `body_regex` is spec.expect_body_regex compiled (REG_EXTENDED | REG_NOSUB);
// when null and the spec has one, it is compiled for this call.
Reply judge_http_response(const HttpSpec& spec, const HttpResponse& response, const regex_t* body_regex = nullptr);

// A handle exists only once curl_api() loaded the library.
struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_api()->easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_api()->slist_free_all(l); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

class HttpAttempt {
 public:
  // Configures the handle; an option libcurl refuses (e.g. an unsupported
  // TLS file type) makes every run fail with that reason.
  explicit HttpAttempt(HttpSpec spec);
  ~HttpAttempt();
  // libcurl keeps pointers to this object, its error buffer and its body.
  HttpAttempt(const HttpAttempt&) = delete;
  HttpAttempt& operator=(const HttpAttempt&) = delete;

  CURL* handle() const { return easy_.get(); }
  const HttpSpec& spec() const { return spec_; }

  // Clears what the previous run kept; call before adding the handle.
  void begin();
  // The transfer is over (from curl_multi_info_read). Judges it and fills
  // values: http_status_code, http_phase_seconds{phase}, http_body_bytes.
  CheckOutcome finish(CURLcode code);
  // The body kept by the last run (when spec.keep_body).
  const std::string& body() const { return body_; }
  // Set up failed: why (empty when the handle is usable).
  const std::string& setup_error() const { return setup_error_; }

 private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self);
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self);
  std::string timeout_phase() const;

  HttpSpec spec_;
  CurlEasyPtr easy_;
  CurlSlistPtr request_headers_;
  std::string setup_error_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  std::optional<regex_t> body_regex_;  // expect_body_regex, compiled once

  std::string body_;  // at most max_body (keep_body or an expectation on it), else a short prefix
  std::uint64_t body_bytes_ = 0;
  bool body_too_large_ = false;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::size_t header_bytes_ = 0;
};

}  // namespace vigil
