#include "probes/checks/http.hpp"

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "core/text.hpp"
#include "core/version.hpp"
#include "probes/checks/kinds.hpp"
#include "probes/checks/runner_util.hpp"

namespace vigil {

namespace {

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

// Compiled once per runner, freed with it.
class CompiledRegex {
 public:
  explicit CompiledRegex(const std::string& pattern) {
    if (!pattern.empty() && regcomp(&re_, pattern.c_str(), REG_EXTENDED | REG_NOSUB) == 0) ok_ = true;
  }
  ~CompiledRegex() {
    if (ok_) regfree(&re_);
  }
  CompiledRegex(const CompiledRegex&) = delete;
  CompiledRegex& operator=(const CompiledRegex&) = delete;
  const regex_t* get() const { return ok_ ? &re_ : nullptr; }

 private:
  regex_t re_{};
  bool ok_ = false;
};

class HttpRunner : public CheckRunner {
 public:
  HttpRunner(CurlLoop& curl, HttpRequest request, HttpJudge judge)
      : curl_(curl), transfer_(std::move(request)), judge_(std::move(judge)) {}
  ~HttpRunner() override { curl_.cancel(transfer_.handle()); }

  bool busy() const override { return busy_; }

  void start(Done done) override {
    if (!transfer_.setup_error().empty()) return done(checks_detail::failed_outcome(transfer_.setup_error()));
    transfer_.begin();
    done_ = std::move(done);
    busy_ = true;
    if (!curl_.add(transfer_.handle(),
                   [this](CURLcode code, const std::string& watch_error) { finish(code, watch_error); })) {
      busy_ = false;
      Done d = std::move(done_);
      d(checks_detail::failed_outcome("cannot start the HTTP transfer (out of memory or no event loop timer)"));
    }
  }

 private:
  void finish(CURLcode code, const std::string& watch_error) {
    busy_ = false;
    HttpResult result = transfer_.finish(code);
    CheckOutcome out = transfer_outcome(result);
    if (!watch_error.empty()) {
      out.ok = false;
      out.timed_out = false;
      out.reason = watch_error;
    } else if (result.answered) {
      judge_(result, out);
    }
    Done d = std::move(done_);
    d(std::move(out));
  }

  CurlLoop& curl_;
  HttpTransfer transfer_;
  HttpJudge judge_;
  Done done_;
  bool busy_ = false;
};

const HttpCheckSettings& http(const CheckSpec& c) {
  return c.settings.as<HttpCheckSettings>();
}

void validate_http(const CheckSpec& c, KeyProblems& p) {
  const HttpCheckSettings& s = http(c);
  validate_http_client(s, c, "http", p);
  if (!std::all_of(s.method.begin(), s.method.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
    p.bad("method", "\"" + s.method + "\" is not an HTTP method: upper-case letters, e.g. \"GET\"");
  }
  if (!s.expect_body_regex.empty()) {
    regex_t re;
    const int rc = regcomp(&re, s.expect_body_regex.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char buf[256];
      regerror(rc, &re, buf, sizeof buf);
      p.bad("expect_body_regex",
            "\"" + s.expect_body_regex + "\" is not a POSIX extended regular expression (" + buf + ")");
    } else {
      regfree(&re);
    }
  }
  for (const auto& h : s.expect_header) {
    std::string_view name = h;
    if (auto colon = name.find(':'); colon != std::string_view::npos) name = name.substr(0, colon);
    name = trim(name);
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
    });
    if (!token) p.bad("expect_header", "\"" + h + "\": write \"Name\" or \"Name: text\"");
  }
}

std::unique_ptr<CheckRunner> make_http_check_runner(CheckContext& context, const CheckSpec& c) {
  const HttpCheckSettings s = http(c);
  HttpRequest request = http_request(s, c.timeout);
  request.method = s.method;
  request.body = s.body;
  request.keep_body = !s.expect_body.empty() || !s.expect_body_regex.empty();
  auto regex = std::make_shared<CompiledRegex>(s.expect_body_regex);
  auto display = std::make_shared<std::string>(redact_url(s.url));
  return make_http_runner(context, std::move(request), [s, regex, display](const HttpResult& r, CheckOutcome& out) {
    Reply verdict = judge_http_response(s, *display, r, regex->get());
    out.ok = verdict.verdict == Reply::Verdict::kOk;
    out.reason = std::move(verdict.reason);
  });
}

}  // namespace

Reply judge_http_response(const HttpCheckSettings& spec, const std::string& url, const HttpResult& r,
                          const regex_t* body_regex) {
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
      name = name.substr(0, colon);
    }
    name = trim(name);  // as the validator read it: " X-Ready " names X-Ready
    auto it = std::find_if(r.headers.begin(), r.headers.end(), [&](const auto& h) { return iequals(h.first, name); });
    if (it == r.headers.end()) return Reply::fail("no header " + std::string(name) + " in the response from " + url);
    if (!text.empty() && it->second.find(text) == std::string::npos) {
      return Reply::fail("header " + std::string(name) + " is \"" + printable_excerpt(it->second) +
                         "\", which does not contain \"" + std::string(text) + "\"");
    }
  }
  if (!spec.expect_body.empty() && r.body.find(spec.expect_body) == std::string_view::npos) {
    return Reply::fail("body did not contain \"" + printable_excerpt(spec.expect_body, 40) +
                       "\" (first 80 bytes: " + printable_excerpt(r.body) + ")");
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

HttpRequest http_request(const HttpClientFields& f, Millis timeout) {
  HttpRequest r;
  r.url = f.url;
  r.headers = f.headers;
  r.timeout = timeout;
  r.connect_timeout = f.connect_timeout.value_or(timeout);
  r.follow_redirects = f.follow_redirects;
  r.reuse_connection = f.reuse_connection;
  r.insecure = f.insecure;
  r.ca_file = f.ca_file;
  r.client_cert = f.client_cert;
  r.client_key = f.client_key;
  r.max_body = f.max_body;
  r.user_agent = std::string("vigil/") + kVersion;
  return r;
}

CheckOutcome transfer_outcome(const HttpResult& r) {
  CheckOutcome out;
  out.total_seconds = r.total_seconds;
  if (r.status > 0) out.values.push_back({"http_status_code", {}, static_cast<double>(r.status)});
  for (const auto& [phase, seconds] : r.phases) {
    out.values.push_back({"http_phase_seconds", {{"phase", std::string(phase)}}, seconds});
  }
  out.values.push_back({"http_body_bytes", {}, static_cast<double>(r.body_bytes)});
  if (!r.answered) {
    out.reason = r.error;
    out.timed_out = r.timed_out;
  }
  return out;
}

std::unique_ptr<CheckRunner> make_http_runner(CheckContext& context, HttpRequest request, HttpJudge judge) {
  return std::make_unique<HttpRunner>(context.curl(), std::move(request), std::move(judge));
}

void validate_http_client(const HttpClientFields& f, const CheckSpec& c, const char* kind, KeyProblems& p) {
  if (f.url.empty()) {
    p.missing("url", std::string("an ") + kind + " check needs a url, e.g. \"http://127.0.0.1:8080/health\"");
  }
  for (const auto& [name, value] : f.headers) {
    if (name.find_first_of(": \t\r\n") != std::string::npos) {
      p.bad("headers", "\"" + name + "\" is not a header name");
    } else if (trim(value).empty()) {
      p.bad("headers", "\"" + name + "\" has an empty value, which HTTP clients do not send");
    }
  }
  if (!f.client_key.empty() && f.client_cert.empty()) {
    p.missing("client_cert", "client_key is set but client_cert is not");
  }
  if (f.connect_timeout && *f.connect_timeout > c.timeout) {
    p.warn("connect_timeout", "connect_timeout " + format_duration(*f.connect_timeout) + " is longer than timeout " +
                                  format_duration(c.timeout) + ": the timeout ends the run first");
  }
}

const CheckKindInfo& http_check_kind() {
  using S = HttpCheckSettings;
  static const std::vector<Key<KindSettings>> keys = [] {
    auto k = http_client_keys<S>("a size from 1B to 256MiB, e.g. \"1MiB\" (default 1MiB; a larger body fails the run)");
    for (auto own : {
             kind_key<&S::method>("method", ValueType::kName, 1, 16,
                                  "an HTTP method such as \"GET\" (default), \"HEAD\" or \"POST\""),
             kind_key<&S::body>("body", ValueType::kText, 0, 0, "the request body"),
             kind_key<&S::expect_status>("expect_status", ValueType::kStatusList, 0, 0,
                                         "a list of status codes, ranges and classes, e.g. [\"200-299\", \"301\", "
                                         "\"4xx\"] (default 2xx)"),
             kind_key<&S::expect_body>("expect_body", ValueType::kText, 0, 0, "text the response body must contain"),
             kind_key<&S::expect_body_regex>("expect_body_regex", ValueType::kText, 0, 0,
                                             "a POSIX extended regular expression the response body must match"),
             kind_key<&S::expect_header>("expect_header", ValueType::kStringList, 0, 0,
                                         "a list of \"Name\" (present) or \"Name: text\" (its value contains text)"),
         }) {
      k.push_back(own);
    }
    return k;
  }();
  static const CheckKindInfo info{
      CheckKind::kHttp,
      "Sends one request and passes when the status is expected and every expectation on the headers and the "
      "body holds. Samples http_status_code, http_phase_seconds{phase} (dns, connect, tls, first_byte, transfer) "
      "and http_body_bytes.",
      keys,
      [] { return KindSettings::of(HttpCheckSettings{}); },
      &validate_http,
      &make_http_check_runner,
  };
  return info;
}

}  // namespace vigil
