// The pure half of the http kind: does a response pass, and why not.
#define BOOST_TEST_MODULE checks_http
#include <boost/test/unit_test.hpp>

#include "probes/checks/http.hpp"
#include "probes/checks/outcome.hpp"

using namespace vigil;

namespace {

HttpCheckSettings spec_for(const std::string& url = "http://127.0.0.1:8080/health") {
  HttpCheckSettings s;
  s.url = url;
  return s;
}

HttpResult response(long status, std::string_view body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResult r;
  r.answered = true;
  r.status = status;
  r.body = body;
  r.body_bytes = body.size();
  r.headers = std::move(headers);
  return r;
}

// As a run judges: the URL shown with its password hidden.
Reply judge(const HttpCheckSettings& s, const HttpResult& r) {
  return judge_http_response(s, redact_url(s.url), r);
}

bool ok(const Reply& r) {
  return r.verdict == Reply::Verdict::kOk;
}
bool failed(const Reply& r) {
  return r.verdict == Reply::Verdict::kFail;
}
bool says(const Reply& r, const std::string& text) {
  return r.reason.find(text) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_accepts_2xx_only) {
  auto s = spec_for();
  BOOST_TEST(ok(judge(s, response(200))));
  BOOST_TEST(ok(judge(s, response(204))));
  BOOST_TEST(ok(judge(s, response(299))));
  auto r = judge(s, response(503));
  BOOST_TEST(failed(r));
  BOOST_TEST(says(r, "HTTP 503 from http://127.0.0.1:8080/health"), r.reason);
  BOOST_TEST(failed(judge(s, response(199))));
  BOOST_TEST(failed(judge(s, response(300))));
}

BOOST_AUTO_TEST_CASE(status_lists_and_ranges) {
  auto s = spec_for();
  s.expect_status = {{200, 200}, {300, 399}, {404, 404}};
  BOOST_TEST(ok(judge(s, response(404))));
  BOOST_TEST(ok(judge(s, response(302))));
  auto r = judge(s, response(201));
  BOOST_TEST(failed(r));
  BOOST_TEST(says(r, "expected 200, 300-399, 404"), r.reason);
}

BOOST_AUTO_TEST_CASE(a_redirect_not_followed_says_so) {
  auto s = spec_for();
  auto resp = response(302);
  resp.location = "http://127.0.0.1:8080/login";
  auto r = judge(s, resp);
  BOOST_TEST(failed(r));
  BOOST_TEST(says(r, "not followed"), r.reason);
  BOOST_TEST(says(r, "/login"), r.reason);
}

BOOST_AUTO_TEST_CASE(body_substring_and_regex) {
  auto s = spec_for();
  s.expect_body = "ok";
  BOOST_TEST(ok(judge(s, response(200, "status: ok\n"))));
  auto r = judge(s, response(200, "status: degraded\n\x01"));
  BOOST_TEST(failed(r));
  BOOST_TEST(says(r, "body did not contain \"ok\""), r.reason);
  BOOST_TEST(says(r, "status: degraded\\n\\x01"), r.reason);  // printable excerpt

  auto re = spec_for();
  re.expect_body_regex = "\"status\": *\"(ok|degraded)\"";
  BOOST_TEST(ok(judge(re, response(200, "{\"status\":  \"degraded\"}"))));
  BOOST_TEST(failed(judge(re, response(200, "{\"status\": \"down\"}"))));
  // A NUL inside the body does not end the match early.
  std::string with_nul("x\0{\"status\": \"ok\"}", 18);
  BOOST_TEST(ok(judge(re, response(200, with_nul))));
}

BOOST_AUTO_TEST_CASE(headers_by_name_any_case_and_by_value) {
  auto s = spec_for();
  s.expect_header = {"content-type: json", "X-Request-Id"};
  BOOST_TEST(ok(judge(s, response(200, "", {{"Content-Type", "application/json"}, {"X-Request-ID", "1"}}))));
  auto r = judge(s, response(200, "", {{"Content-Type", "text/html"}, {"X-Request-Id", "1"}}));
  BOOST_TEST(failed(r));
  BOOST_TEST(says(r, "does not contain \"json\""), r.reason);
  r = judge(s, response(200, "", {{"Content-Type", "application/json"}}));
  BOOST_TEST(failed(r));
  BOOST_TEST(says(r, "no header X-Request-Id"), r.reason);
  // The name alone is trimmed as the validator trims it (found by
  // tests/fuzz/http_judge): " X-Ready " names X-Ready.
  s.expect_header = {" X-Ready\t"};
  BOOST_TEST(ok(judge(s, response(200, "", {{"x-ready", "1"}}))));
}

BOOST_AUTO_TEST_CASE(status_is_judged_before_the_body) {
  auto s = spec_for();
  s.expect_body = "ok";
  auto r = judge(s, response(500, "not ok"));
  BOOST_TEST(failed(r));
  BOOST_TEST(says(r, "HTTP 500"), r.reason);
}

BOOST_AUTO_TEST_CASE(printable_excerpt_is_bounded_and_escaped) {
  std::string big(1000, 'a');
  auto e = printable_excerpt(big);
  BOOST_TEST(e.size() == 83u);  // 80 + "..."
  BOOST_TEST(printable_excerpt("a\r\nb\\") == "a\\r\\nb\\\\");
  BOOST_TEST(printable_excerpt(std::string_view("\xff\x00", 2)) == "\\xff\\x00");
}

BOOST_AUTO_TEST_CASE(reasons_hide_a_password_in_the_url) {
  BOOST_TEST(redact_url("http://user:s3cret@127.0.0.1:8080/health") == "http://user:***@127.0.0.1:8080/health");
  BOOST_TEST(redact_url("http://127.0.0.1:8080/health") == "http://127.0.0.1:8080/health");
  auto s = spec_for("http://user:s3cret@127.0.0.1:8080/health");
  auto r = judge(s, response(500));
  BOOST_TEST(r.reason.find("s3cret") == std::string::npos, r.reason);
  BOOST_TEST(says(r, "HTTP 500 from http://user:***@127.0.0.1:8080/health"), r.reason);
}
