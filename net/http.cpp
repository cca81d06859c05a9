#include "net/http.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/text.hpp"
#include "core/time.hpp"

namespace vigil {

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kBodyPrefix = 1024;  // kept for messages when nothing else needs the body

std::string format_size(std::uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

double seconds_of(CURL* h, CURLINFO info) {
  curl_off_t us = 0;
  if (curl_api()->easy_getinfo(h, info, &us) != CURLE_OK) return 0;
  return static_cast<double>(us) / 1e6;
}

// The URL's host is an IPv4 or IPv6 literal.
bool host_is_address(const CurlApi& api, const std::string& url) {
  CURLU* u = api.url();
  if (u == nullptr) return false;
  bool literal = false;
  char* host = nullptr;
  if (api.url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      api.url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host != nullptr) {
    std::string h = host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    in_addr v4{};
    in6_addr v6{};
    literal = ::inet_pton(AF_INET, h.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, h.c_str(), &v6) == 1;
  }
  api.free(host);
  api.url_cleanup(u);
  return literal;
}

}  // namespace

std::string redact_url(const std::string& url) {
  const CurlApi* api = curl_api();
  if (api == nullptr) return url;
  CURLU* u = api->url();
  if (u == nullptr) return url;
  std::string out = url;
  char* password = nullptr;
  if (api->url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      api->url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK && password != nullptr) {
    char* shown = nullptr;
    if (api->url_set(u, CURLUPART_PASSWORD, "***", 0) == CURLUE_OK &&
        api->url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK && shown != nullptr) {
      out = shown;
    }
    api->free(shown);
  }
  api->free(password);
  api->url_cleanup(u);
  return out;
}

HttpTransfer::HttpTransfer(HttpRequest request)
    : request_(std::move(request)),
      // Over a unix socket, the socket is where it went (the URL's host is a placeholder).
      display_url_(request_.unix_socket.empty() ? redact_url(request_.url) : request_.unix_socket) {
  const CurlApi* api = curl_api(&setup_error_);
  if (api == nullptr) return;  // every run fails with why
  easy_.reset(api->easy_init());
  if (!easy_) {
    setup_error_ = "cannot create a curl handle";
    return;
  }
  CURL* h = easy_.get();
  auto set = [&](CURLoption opt, auto value, const char* what) {
    CURLcode rc = api->easy_setopt(h, opt, value);
    if (rc != CURLE_OK && setup_error_.empty()) {
      setup_error_ = std::string("cannot set ") + what + ": " + api->easy_strerror(rc);
    }
  };
  set(CURLOPT_URL, request_.url.c_str(), "url");
  if (!request_.unix_socket.empty()) set(CURLOPT_UNIX_SOCKET_PATH, request_.unix_socket.c_str(), "unix socket");
  resolves_ = request_.unix_socket.empty() && !host_is_address(*api, request_.url);
  set(CURLOPT_PROTOCOLS_STR, "http,https", "protocols");
  // A check talks to the service itself, never through http_proxy and
  // friends from vigild's (or the shell's, for `vigil check test`) environment.
  set(CURLOPT_PROXY, "", "proxy");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https", "redirect protocols");
  set(CURLOPT_NOSIGNAL, 1L, "nosignal");
  set(CURLOPT_ERRORBUFFER, error_buffer_, "error buffer");
  set(CURLOPT_USERAGENT, request_.user_agent.c_str(), "user agent");
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request_.connect_timeout.count()), "connect_timeout");
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(request_.timeout.count()), "timeout");
  // By default each run opens its own connection: a check must see what a
  // new client sees (a listener that stopped accepting, fds exhausted), not
  // a kept-alive socket. reuse_connection trades that for fewer syscalls.
  if (!request_.reuse_connection) {
    set(CURLOPT_FRESH_CONNECT, 1L, "fresh connect");
    set(CURLOPT_FORBID_REUSE, 1L, "forbid reuse");
  }
  set(CURLOPT_FOLLOWLOCATION, request_.follow_redirects > 0 ? 1L : 0L, "follow_redirects");
  set(CURLOPT_MAXREDIRS, static_cast<long>(request_.follow_redirects), "follow_redirects");
  if (!request_.on_stream) set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request_.max_body), "max_body");
  set(CURLOPT_WRITEFUNCTION, &HttpTransfer::on_body, "write function");
  set(CURLOPT_WRITEDATA, this, "write data");
  set(CURLOPT_HEADERFUNCTION, &HttpTransfer::on_header, "header function");
  set(CURLOPT_HEADERDATA, this, "header data");
  set(CURLOPT_SSL_VERIFYPEER, request_.insecure ? 0L : 1L, "insecure");
  set(CURLOPT_SSL_VERIFYHOST, request_.insecure ? 0L : 2L, "insecure");
  if (!request_.ca_file.empty()) set(CURLOPT_CAINFO, request_.ca_file.c_str(), "ca_file");
  // Trust comes from one CA file (ca_file, or curl's default bundle), not a
  // CA directory besides: curl keeps a loaded CA file in memory between
  // connections (for CURLOPT_CA_CACHE_TIMEOUT), but only when no directory
  // is set, and Debian's libcurl sets /etc/ssl/certs by default. Reading
  // the ~140 certificates of ca-certificates.crt again cost 20-30 ms on the
  // loop at every https connection (the hostile benchmark's worst lag).
  // It also means that a ca_file is the whole trust, as its name says.
  // Without a CA file to use, curl's defaults stay.
  char* default_ca = nullptr;
  if (!request_.ca_file.empty() || (api->easy_getinfo(h, CURLINFO_CAINFO, &default_ca) == CURLE_OK &&
                                    default_ca != nullptr && default_ca[0] != '\0')) {
    set(CURLOPT_CAPATH, static_cast<char*>(nullptr), "CA directory");
    // A CA bundle that changes (ca-certificates updated) is read again
    // within the hour. Older libcurl without the option: its default.
    api->easy_setopt(h, CURLOPT_CA_CACHE_TIMEOUT, 3600L);
  }
  if (!request_.client_cert.empty()) set(CURLOPT_SSLCERT, request_.client_cert.c_str(), "client_cert");
  if (!request_.client_key.empty()) set(CURLOPT_SSLKEY, request_.client_key.c_str(), "client_key");
  if (request_.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L, "method");
  } else if (request_.method != "GET") {
    set(CURLOPT_CUSTOMREQUEST, request_.method.c_str(), "method");
  }
  if (!request_.body.empty()) {
    set(CURLOPT_POSTFIELDS, request_.body.c_str(), "body");
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_.body.size()), "body");
    if (request_.method == "GET") set(CURLOPT_CUSTOMREQUEST, "GET", "method");  // a body alone would make it a POST
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : request_.headers) {
    std::string line = name + ": " + value;
    curl_slist* next = api->slist_append(list, line.c_str());
    if (next == nullptr) {
      setup_error_ = "cannot build the request headers";
      break;
    }
    list = next;
  }
  request_headers_.reset(list);
  if (list != nullptr) set(CURLOPT_HTTPHEADER, list, "headers");
}

void HttpTransfer::begin() {
  body_.clear();
  body_bytes_ = 0;
  body_too_large_ = false;
  streaming_ = false;
  stream_stopped_ = false;
  headers_.clear();
  header_bytes_ = 0;
  error_buffer_[0] = '\0';
}

std::size_t HttpTransfer::on_body(char* data, std::size_t size, std::size_t n, void* self) {
  auto& a = *static_cast<HttpTransfer*>(self);
  std::size_t len = size * n;
  if (a.request_.on_stream && a.body_bytes_ == 0 && !a.streaming_) {
    long status = 0;
    curl_api()->easy_getinfo(a.easy_.get(), CURLINFO_RESPONSE_CODE, &status);
    a.streaming_ = status >= 200 && status < 300;
  }
  if (a.streaming_) {
    a.body_bytes_ += len;
    if (a.request_.on_stream(std::string_view(data, len))) return len;
    a.stream_stopped_ = true;
    return 0;
  }
  if (a.body_bytes_ + len > a.request_.max_body) {
    // A chunked or lying response: stop here, never grow memory.
    a.body_too_large_ = true;
    return 0;
  }
  a.body_bytes_ += len;
  std::size_t room = a.request_.keep_body ? len : (a.body_.size() < kBodyPrefix ? kBodyPrefix - a.body_.size() : 0);
  a.body_.append(data, std::min(room, len));
  return len;
}

std::size_t HttpTransfer::on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto& a = *static_cast<HttpTransfer*>(self);
  std::size_t len = size * n;
  std::string_view line(data, len);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a redirect or a 100 Continue): its headers count.
    a.headers_.clear();
    a.header_bytes_ = 0;
    return len;
  }
  a.header_bytes_ += len;
  if (a.header_bytes_ > kMaxHeaderBytes) return len;  // keep reading, stop keeping
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  a.headers_.emplace_back(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return len;
}

std::string HttpTransfer::timeout_phase() const {
  CURL* h = easy_.get();
  double connect = seconds_of(h, CURLINFO_CONNECT_TIME_T);
  double tls = seconds_of(h, CURLINFO_APPCONNECT_TIME_T);
  double first = seconds_of(h, CURLINFO_STARTTRANSFER_TIME_T);
  bool https = request_.url.rfind("https:", 0) == 0;
  // curl counts an https connection as connected only once TLS is done:
  // the local port tells a TCP connection whose handshake stalled.
  long local_port = 0;
  if (connect <= 0 && https && curl_api()->easy_getinfo(h, CURLINFO_LOCAL_PORT, &local_port) == CURLE_OK &&
      local_port > 0) {
    return "connected, TLS handshake not done";
  }
  if (connect <= 0) return "not connected";
  if (https && tls <= 0) return "connected, TLS handshake not done";
  if (first <= 0) return "connected, no first byte";
  return "receiving the body, " + std::to_string(body_bytes_) + " bytes so far";
}

HttpResult HttpTransfer::finish(CURLcode code) {
  HttpResult out;
  CURL* h = easy_.get();
  const CurlApi* api = curl_api();  // loaded: there is a handle
  out.total_seconds = seconds_of(h, CURLINFO_TOTAL_TIME_T);
  const double dns = seconds_of(h, CURLINFO_NAMELOOKUP_TIME_T);
  const double connect = seconds_of(h, CURLINFO_CONNECT_TIME_T);
  const double tls = seconds_of(h, CURLINFO_APPCONNECT_TIME_T);
  const double first = seconds_of(h, CURLINFO_STARTTRANSFER_TIME_T);
  // Each phase's own duration (curl reports times since the start).
  if (resolves_) out.phases.emplace_back("dns", dns);  // an address literal is not looked up
  if (connect > 0) out.phases.emplace_back("connect", connect - dns);
  if (tls > 0) out.phases.emplace_back("tls", tls - connect);
  if (first > 0) {
    out.phases.emplace_back("first_byte", first - std::max(connect, tls));
    out.phases.emplace_back("transfer", out.total_seconds - first);
  }
  out.body_bytes = body_bytes_;
  if (code != CURLE_OK) {
    out.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    out.error = transport_error(code, connect > 0);
    return out;
  }
  out.answered = true;
  api->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  out.headers = headers_;
  out.body = body_;
  if (out.status >= 300 && out.status < 400) {
    char* location = nullptr;
    if (api->easy_getinfo(h, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != nullptr) {
      out.location = location;
    }
  }
  return out;
}

std::string HttpTransfer::transport_error(CURLcode code, bool connected) const {
  const CurlApi* api = curl_api();
  CURL* h = easy_.get();
  const std::string detail = error_buffer_[0] != '\0' ? std::string(error_buffer_) : api->easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: {
      // curl says the same for connect_timeout and timeout: name the one that ended it.
      const double total = seconds_of(h, CURLINFO_TOTAL_TIME_T);
      const bool connect_limit = !connected && request_.connect_timeout < request_.timeout &&
                                 total < std::chrono::duration<double>(request_.timeout).count() - 0.001;
      const auto limit = connect_limit ? request_.connect_timeout : request_.timeout;
      return "timed out after " + format_duration(std::chrono::duration_cast<Millis>(limit)) + " (" + timeout_phase() +
             ")";
    }
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      api->easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
      return (os_errno != 0 ? errno_reason(static_cast<int>(os_errno)) : "cannot connect") + ": " + display_url_;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
      return "cannot resolve the host of " + display_url_ + " (" + detail + ")";
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      if (stream_stopped_) return "stream ended by its reader: " + display_url_;
      if (body_too_large_ || code == CURLE_FILESIZE_EXCEEDED) {
        return "body larger than max_body " + format_size(request_.max_body) + " from " + display_url_;
      }
      return "cannot store the body: " + detail;
    case CURLE_PARTIAL_FILE:
      return "connection closed mid-response after " + std::to_string(body_bytes_) + " bytes of the body (" + detail +
             ")";
    case CURLE_GOT_NOTHING:
      return "the server closed the connection without answering: " + display_url_;
    case CURLE_TOO_MANY_REDIRECTS:
      return "more than " + std::to_string(request_.follow_redirects) + " redirects from " + display_url_;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return "TLS: " + detail;
    default:
      return detail;
  }
}

}  // namespace vigil
