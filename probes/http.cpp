#include "probes/http.hpp"

#include <regex.h>

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

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string describe_ranges(const std::vector<std::pair<int, int>>& ranges) {
  std::string out;
  for (const auto& [lo, hi] : ranges) {
    if (!out.empty()) out += ", ";
    out += lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
  }
  return out;
}

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

Reply judge_http_response(const HttpSpec& spec, const HttpResponse& r, const regex_t* body_regex) {
  const std::string& url = spec.display_url.empty() ? spec.url : spec.display_url;
  static const std::vector<std::pair<int, int>> k2xx = {{200, 299}};
  const auto& ranges = spec.expect_status.empty() ? k2xx : spec.expect_status;
  bool status_ok = std::any_of(ranges.begin(), ranges.end(),
                               [&](const auto& range) { return r.status >= range.first && r.status <= range.second; });
  if (!status_ok) {
    std::string why = "HTTP " + std::to_string(r.status) + " from " + url;
    if (!r.location.empty()) {
      why += " (redirect to " + printable_excerpt(r.location) + " not followed; set follow_redirects)";
    } else {
      why += " (expected " + describe_ranges(ranges) + ")";
    }
    return Reply::fail(why);
  }
  for (const auto& want : spec.expect_header) {
    std::string_view name = want;
    std::string_view text;
    if (auto colon = name.find(':'); colon != std::string_view::npos) {
      text = trim(name.substr(colon + 1));
      name = trim(name.substr(0, colon));
    }
    auto it = std::find_if(r.headers.begin(), r.headers.end(), [&](const auto& h) { return iequals(h.first, name); });
    if (it == r.headers.end()) return Reply::fail("no header " + std::string(name) + " in the response from " + url);
    if (!text.empty() && it->second.find(text) == std::string::npos) {
      return Reply::fail("header " + std::string(name) + " is \"" + printable_excerpt(it->second) +
                         "\", which does not contain \"" + std::string(text) + "\"");
    }
  }
  if (!spec.expect_body.empty() && r.body.find(spec.expect_body) == std::string_view::npos) {
    return Reply::fail("body did not contain \"" + printable_excerpt(spec.expect_body, 40) + "\" (first 80 bytes: " +
                       printable_excerpt(r.body) + ")");
  }
  if (!spec.expect_body_regex.empty()) {
    regex_t local;
    const regex_t* re = body_regex;
    if (re == nullptr) {
      if (regcomp(&local, spec.expect_body_regex.c_str(), REG_EXTENDED | REG_NOSUB) != 0) {
        return Reply::fail("expect_body_regex does not compile");  // the config validated it
      }
      re = &local;
    }
    // REG_STARTEND: the body is not NUL-terminated and may hold NULs.
    regmatch_t span[1];
    span[0].rm_so = 0;
    span[0].rm_eo = static_cast<regoff_t>(r.body.size());
    int rc = regexec(re, r.body.data(), 1, span, REG_STARTEND);
    if (re == &local) regfree(&local);
    if (rc != 0) {
      return Reply::fail("body did not match /" + printable_excerpt(spec.expect_body_regex, 40) +
                         "/ (first 80 bytes: " + printable_excerpt(r.body) + ")");
    }
  }
  return Reply::ok("HTTP " + std::to_string(r.status));
}

HttpAttempt::HttpAttempt(HttpSpec spec) : spec_(std::move(spec)) {
  spec_.display_url = redact_url(spec_.url);
  if (!spec_.expect_body_regex.empty()) {
    regex_t re;
    if (regcomp(&re, spec_.expect_body_regex.c_str(), REG_EXTENDED | REG_NOSUB) == 0) body_regex_ = re;
  }
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
  set(CURLOPT_URL, spec_.url.c_str(), "url");
  set(CURLOPT_PROTOCOLS_STR, "http,https", "protocols");
  // A check talks to the service itself, never through http_proxy and
  // friends from vigild's (or the shell's, for `vigil check test`) environment.
  set(CURLOPT_PROXY, "", "proxy");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https", "redirect protocols");
  set(CURLOPT_NOSIGNAL, 1L, "nosignal");
  set(CURLOPT_ERRORBUFFER, error_buffer_, "error buffer");
  set(CURLOPT_USERAGENT, spec_.user_agent.c_str(), "user agent");
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(spec_.connect_timeout.count()), "connect_timeout");
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(spec_.timeout.count()), "timeout");
  // By default each run opens its own connection: a check must see what a
  // new client sees (a listener that stopped accepting, fds exhausted), not
  // a kept-alive socket. reuse_connection trades that for fewer syscalls.
  if (!spec_.reuse_connection) {
    set(CURLOPT_FRESH_CONNECT, 1L, "fresh connect");
    set(CURLOPT_FORBID_REUSE, 1L, "forbid reuse");
  }
  set(CURLOPT_FOLLOWLOCATION, spec_.follow_redirects > 0 ? 1L : 0L, "follow_redirects");
  set(CURLOPT_MAXREDIRS, static_cast<long>(spec_.follow_redirects), "follow_redirects");
  set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(spec_.max_body), "max_body");
  set(CURLOPT_WRITEFUNCTION, &HttpAttempt::on_body, "write function");
  set(CURLOPT_WRITEDATA, this, "write data");
  set(CURLOPT_HEADERFUNCTION, &HttpAttempt::on_header, "header function");
  set(CURLOPT_HEADERDATA, this, "header data");
  set(CURLOPT_SSL_VERIFYPEER, spec_.insecure ? 0L : 1L, "insecure");
  set(CURLOPT_SSL_VERIFYHOST, spec_.insecure ? 0L : 2L, "insecure");
  if (!spec_.ca_file.empty()) set(CURLOPT_CAINFO, spec_.ca_file.c_str(), "ca_file");
  if (!spec_.client_cert.empty()) set(CURLOPT_SSLCERT, spec_.client_cert.c_str(), "client_cert");
  if (!spec_.client_key.empty()) set(CURLOPT_SSLKEY, spec_.client_key.c_str(), "client_key");
  if (spec_.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L, "method");
  } else if (spec_.method != "GET") {
    set(CURLOPT_CUSTOMREQUEST, spec_.method.c_str(), "method");
  }
  if (!spec_.body.empty()) {
    set(CURLOPT_POSTFIELDS, spec_.body.c_str(), "body");
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(spec_.body.size()), "body");
    if (spec_.method == "GET") set(CURLOPT_CUSTOMREQUEST, "GET", "method");  // a body alone would make it a POST
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : spec_.headers) {
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

HttpAttempt::~HttpAttempt() {
  if (body_regex_) regfree(&*body_regex_);
}

void HttpAttempt::begin() {
  body_.clear();
  body_bytes_ = 0;
  body_too_large_ = false;
  headers_.clear();
  header_bytes_ = 0;
  error_buffer_[0] = '\0';
}

std::size_t HttpAttempt::on_body(char* data, std::size_t size, std::size_t n, void* self) {
  auto& a = *static_cast<HttpAttempt*>(self);
  std::size_t len = size * n;
  if (a.body_bytes_ + len > a.spec_.max_body) {
    // A chunked or lying response: stop here, never grow memory.
    a.body_too_large_ = true;
    return 0;
  }
  a.body_bytes_ += len;
  bool keep_all = a.spec_.keep_body || !a.spec_.expect_body.empty() || !a.spec_.expect_body_regex.empty();
  std::size_t room = keep_all ? len : (a.body_.size() < kBodyPrefix ? kBodyPrefix - a.body_.size() : 0);
  a.body_.append(data, std::min(room, len));
  return len;
}

std::size_t HttpAttempt::on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto& a = *static_cast<HttpAttempt*>(self);
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

std::string HttpAttempt::timeout_phase() const {
  CURL* h = easy_.get();
  double connect = seconds_of(h, CURLINFO_CONNECT_TIME_T);
  double tls = seconds_of(h, CURLINFO_APPCONNECT_TIME_T);
  double first = seconds_of(h, CURLINFO_STARTTRANSFER_TIME_T);
  bool https = spec_.url.rfind("https:", 0) == 0;
  if (connect <= 0) return "not connected";
  if (https && tls <= 0) return "connected, TLS handshake not done";
  if (first <= 0) return "connected, no first byte";
  return "receiving the body, " + std::to_string(body_bytes_) + " bytes so far";
}

CheckOutcome HttpAttempt::finish(CURLcode code) {
  CheckOutcome out;
  CURL* h = easy_.get();
  const CurlApi* api = curl_api();  // loaded: there is a handle
  out.total_seconds = seconds_of(h, CURLINFO_TOTAL_TIME_T);
  long status = 0;
  api->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status > 0) out.values.push_back({"http_status_code", {}, static_cast<double>(status)});
  double dns = seconds_of(h, CURLINFO_NAMELOOKUP_TIME_T);
  double connect = seconds_of(h, CURLINFO_CONNECT_TIME_T);
  double tls = seconds_of(h, CURLINFO_APPCONNECT_TIME_T);
  double first = seconds_of(h, CURLINFO_STARTTRANSFER_TIME_T);
  // Each phase's own duration (curl reports times since the start).
  out.values.push_back({"http_phase_seconds", {{"phase", "dns"}}, dns});
  if (connect > 0) out.values.push_back({"http_phase_seconds", {{"phase", "connect"}}, connect - dns});
  if (tls > 0) out.values.push_back({"http_phase_seconds", {{"phase", "tls"}}, tls - connect});
  if (first > 0) {
    out.values.push_back({"http_phase_seconds", {{"phase", "first_byte"}}, first - std::max(connect, tls)});
    out.values.push_back({"http_phase_seconds", {{"phase", "transfer"}}, out.total_seconds - first});
  }
  out.values.push_back({"http_body_bytes", {}, static_cast<double>(body_bytes_)});

  std::string detail = error_buffer_[0] != '\0' ? std::string(error_buffer_) : api->easy_strerror(code);
  switch (code) {
    case CURLE_OK: {
      HttpResponse r;
      r.status = status;
      r.headers = headers_;
      r.body = body_;
      r.body_bytes = body_bytes_;
      if (status >= 300 && status < 400) {
        char* location = nullptr;
        if (api->easy_getinfo(h, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != nullptr) {
          r.location = location;
        }
      }
      Reply verdict = judge_http_response(spec_, r, body_regex_ ? &*body_regex_ : nullptr);
      out.ok = verdict.verdict == Reply::Verdict::kOk;
      out.reason = std::move(verdict.reason);
      return out;
    }
    case CURLE_OPERATION_TIMEDOUT: {
      // curl says the same for connect_timeout and timeout: name the one that ended it.
      bool connect_limit = connect <= 0 && spec_.connect_timeout < spec_.timeout &&
                           out.total_seconds < std::chrono::duration<double>(spec_.timeout).count() - 0.001;
      auto limit = connect_limit ? spec_.connect_timeout : spec_.timeout;
      out.reason = "timed out after " + format_duration(std::chrono::duration_cast<Millis>(limit)) + " (" +
                   timeout_phase() + ")";
      break;
    }
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      api->easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
      out.reason = (os_errno != 0 ? errno_reason(static_cast<int>(os_errno)) : "cannot connect") +
                   ": " + spec_.display_url;
      break;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
      out.reason = "cannot resolve the host of " + spec_.display_url + " (" + detail + ")";
      break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      if (body_too_large_ || code == CURLE_FILESIZE_EXCEEDED) {
        out.reason = "body larger than max_body " + format_size(spec_.max_body) + " from " + spec_.display_url;
      } else {
        out.reason = "cannot store the body: " + detail;
      }
      break;
    case CURLE_PARTIAL_FILE:
      out.reason = "connection closed mid-response after " + std::to_string(body_bytes_) + " bytes of the body (" +
                   detail + ")";
      break;
    case CURLE_GOT_NOTHING:
      out.reason = "the server closed the connection without answering: " + spec_.display_url;
      break;
    case CURLE_TOO_MANY_REDIRECTS:
      out.reason = "more than " + std::to_string(spec_.follow_redirects) + " redirects from " + spec_.display_url;
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      out.reason = "TLS: " + detail;
      break;
    default:
      out.reason = detail;
  }
  return out;
}

}  // namespace vigil
