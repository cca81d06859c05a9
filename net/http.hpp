// net/http.hpp: one HTTP request, as a libcurl easy handle the loop drives.
//
// An HttpTransfer owns one easy handle, configured once from its
// HttpRequest and reused for every run (by default a fresh connection each
// time, so that a run sees what a new client would). The caller adds the
// handle to a CurlLoop (net/curl_loop.hpp) and, when the loop reports the
// transfer done, calls finish() with curl's result code: what came back
// (status, headers, body, the time of each phase) or, when nothing usable
// did, why, in words for people. Nothing here blocks; memory is bounded (the
// body up to max_body, the headers up to 64 KiB). What an answer means (a
// check passing, an alert delivered) is the caller's to judge.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/curl_api.hpp"

namespace vigil {

struct HttpRequest {
  std::string url;
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{5000};
  int follow_redirects = 0;
  bool reuse_connection = false;  // keep-alive between runs
  bool insecure = false;          // skip TLS verification
  std::string ca_file, client_cert, client_key;
  std::uint64_t max_body = 1 << 20;  // a larger body fails the transfer
  bool keep_body = false;            // keep all of the body (else its first KiB, for messages)
  std::string user_agent = "vigil";
  // Connect to this unix socket instead of the URL's host (the URL's path
  // and Host header stay): the Docker Engine's /var/run/docker.sock.
  std::string unix_socket;
  // A body without end (an events stream): when set, each piece of a 2xx
  // answer's body goes here as it arrives, nothing of it is kept and
  // max_body does not apply (the receiver bounds what it holds). Returning
  // false ends the transfer. Other statuses keep their body as usual, for
  // the error message. A stream has no overall `timeout` (0 is none).
  std::function<bool(std::string_view)> on_stream;
};

// `url` with the password of its user-info (http://user:pass@host/) hidden.
std::string redact_url(const std::string& url);

// What one run of a transfer gave.
struct HttpResult {
  // The transfer completed: an answer arrived (whatever its status).
  bool answered = false;
  // Not answered because a deadline (connect_timeout or timeout) ended it.
  bool timed_out = false;
  // Not answered: why, for people ("connection refused: http://...",
  // "timed out after 5s (connected, no first byte)", "TLS: ...").
  std::string error;
  long status = 0;                                           // 0 without an answer
  std::vector<std::pair<std::string, std::string>> headers;  // of the last response, names as sent
  std::string_view body;                                     // what was kept of it
  std::uint64_t body_bytes = 0;
  std::string location;  // a redirect's target, when not followed
  // Seconds: the whole transfer, and each phase's own duration when it
  // was reached (dns, connect, tls, first_byte, transfer).
  double total_seconds = 0;
  std::vector<std::pair<std::string_view, double>> phases;
};

// A handle exists only once curl_api() loaded the library.
struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_api()->easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_api()->slist_free_all(l); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

class HttpTransfer {
 public:
  // Configures the handle; an option libcurl refuses (e.g. an unsupported
  // TLS file type) makes every run fail with that reason (setup_error()).
  explicit HttpTransfer(HttpRequest request);
  // libcurl keeps pointers to this object, its error buffer and its body.
  HttpTransfer(const HttpTransfer&) = delete;
  HttpTransfer& operator=(const HttpTransfer&) = delete;

  CURL* handle() const { return easy_.get(); }
  const HttpRequest& request() const { return request_; }
  // The URL as messages show it (its password hidden), or the unix socket.
  const std::string& display_url() const { return display_url_; }
  // Set up failed: why (empty when the handle is usable).
  const std::string& setup_error() const { return setup_error_; }

  // Clears what the previous run kept; call before adding the handle.
  void begin();
  // The transfer is over (the loop reported it with curl's code). The
  // result's body and headers stay valid until the next begin().
  HttpResult finish(CURLcode code);

 private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self);
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self);
  std::string timeout_phase() const;
  std::string transport_error(CURLcode code, bool connected) const;

  HttpRequest request_;
  std::string display_url_;
  bool resolves_ = true;  // the URL names a host (not an address literal): there is a lookup
  CurlEasyPtr easy_;
  CurlSlistPtr request_headers_;
  std::string setup_error_;
  char error_buffer_[CURL_ERROR_SIZE] = {};

  std::string body_;  // at most max_body with keep_body, else a short prefix
  std::uint64_t body_bytes_ = 0;
  bool body_too_large_ = false;
  bool streaming_ = false;       // this answer's body goes to request_.on_stream
  bool stream_stopped_ = false;  // on_stream returned false
  std::vector<std::pair<std::string, std::string>> headers_;
  std::size_t header_bytes_ = 0;
};

}  // namespace vigil
