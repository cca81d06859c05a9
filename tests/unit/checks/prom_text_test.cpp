#define BOOST_TEST_MODULE probes_prom_text
#include "probes/checks/prom_text.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <string>

using namespace vigil;

namespace {

const std::vector<std::string> kAll = {"*"};

ScrapeResult parse_ok(std::string_view text, const std::vector<std::string>& allow = kAll,
                      const ScrapeLimits& limits = {}) {
  auto r = parse_exposition(text, allow, limits);
  BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().message));
  return *r;
}

Error parse_error(std::string_view text, const std::vector<std::string>& allow = kAll,
                  const ScrapeLimits& limits = {}) {
  auto r = parse_exposition(text, allow, limits);
  BOOST_TEST_REQUIRE(!r.has_value(), "expected an error for: " + std::string(text));
  BOOST_TEST((r.error().kind == ErrorKind::kParse));
  return r.error();
}

bool has(const std::string& message, std::string_view part) {
  return message.find(part) != std::string::npos;
}

std::set<std::string> names(const ScrapeResult& r) {
  std::set<std::string> out;
  for (const auto& s : r.samples) out.insert(s.name);
  return out;
}

const ScrapedSample* find(const ScrapeResult& r, std::string_view name, const Labels& labels = {}) {
  for (const auto& s : r.samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

// What a Go service built with client_golang exposes, trimmed, with a
// histogram, a summary, counters with and without labels, and a gauge.
constexpr std::string_view kGoService =
    "# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n"
    "# TYPE go_gc_duration_seconds summary\n"
    "go_gc_duration_seconds{quantile=\"0\"} 2.4931e-05\n"
    "go_gc_duration_seconds{quantile=\"0.25\"} 3.3872e-05\n"
    "go_gc_duration_seconds{quantile=\"0.5\"} 4.5162e-05\n"
    "go_gc_duration_seconds{quantile=\"1\"} 0.000487241\n"
    "go_gc_duration_seconds_sum 0.013570417\n"
    "go_gc_duration_seconds_count 212\n"
    "# HELP go_goroutines Number of goroutines that currently exist.\n"
    "# TYPE go_goroutines gauge\n"
    "go_goroutines 42\n"
    "# HELP http_request_duration_seconds Latency of HTTP requests.\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{handler=\"/api\",le=\"0.1\"} 890\n"
    "http_request_duration_seconds_bucket{handler=\"/api\",le=\"0.5\"} 1000\n"
    "http_request_duration_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 1012\n"
    "http_request_duration_seconds_sum{handler=\"/api\"} 53.5\n"
    "http_request_duration_seconds_count{handler=\"/api\"} 1012\n"
    "# HELP http_requests_total The total number of HTTP requests.\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
    "http_requests_total{method=\"post\",code=\"400\"} 3 1395066363000\n"
    "\n"
    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
    "# TYPE process_cpu_seconds_total counter\n"
    "process_cpu_seconds_total 12.47\n"
    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
    "# TYPE process_resident_memory_bytes gauge\n"
    "process_resident_memory_bytes 2.4576e+07\n"
    "# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.\n"
    "# TYPE node_filesystem_avail_bytes gauge\n"
    "node_filesystem_avail_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"} 1.2345678e+10\n"
    "# A plain comment\n"
    "# TYPE rpc_calls counter\n"
    "rpc_calls_total{service=\"a\"} 7\n"
    "rpc_calls_created{service=\"a\"} 1.7e+09\n";

}  // namespace

BOOST_AUTO_TEST_CASE(realistic_exposition_keeps_everything_with_a_catch_all) {
  ScrapeResult r = parse_ok(kGoService);
  BOOST_TEST(r.lines == 36u);
  BOOST_TEST(r.samples_seen == 19u);
  BOOST_TEST(r.samples_kept == 19u);
  BOOST_TEST(r.samples.size() == 19u);

  const ScrapedSample* q = find(r, "go_gc_duration_seconds", {{"quantile", "0.25"}});
  BOOST_TEST_REQUIRE(q != nullptr);
  BOOST_TEST(q->value == 3.3872e-05);
  BOOST_TEST(!q->timestamp_ms.has_value());

  const ScrapedSample* inf = find(r, "http_request_duration_seconds_bucket", {{"handler", "/api"}, {"le", "+Inf"}});
  BOOST_TEST_REQUIRE(inf != nullptr);
  BOOST_TEST(inf->value == 1012.0);

  // Labels come back sorted by name, whatever the order on the line.
  const ScrapedSample* post = find(r, "http_requests_total", {{"code", "200"}, {"method", "post"}});
  BOOST_TEST_REQUIRE(post != nullptr);
  BOOST_TEST(post->value == 1027.0);
  BOOST_TEST_REQUIRE(post->timestamp_ms.has_value());
  BOOST_TEST(*post->timestamp_ms == 1395066363000);

  const ScrapedSample* fs =
      find(r, "node_filesystem_avail_bytes", {{"device", "/dev/sda1"}, {"fstype", "ext4"}, {"mountpoint", "/"}});
  BOOST_TEST_REQUIRE(fs != nullptr);
  BOOST_TEST(fs->value == 1.2345678e+10);

  // Exposition order is kept.
  BOOST_TEST(r.samples.front().name == "go_gc_duration_seconds");
  BOOST_TEST(r.samples.back().name == "rpc_calls_created");
}

BOOST_AUTO_TEST_CASE(allow_list_exact_names) {
  ScrapeResult r = parse_ok(kGoService, {"go_goroutines", "process_cpu_seconds_total"});
  BOOST_TEST(r.samples_seen == 19u);
  BOOST_TEST(r.samples_kept == 2u);
  BOOST_TEST((names(r) == std::set<std::string>{"go_goroutines", "process_cpu_seconds_total"}));
  BOOST_TEST(find(r, "go_goroutines")->value == 42.0);
}

BOOST_AUTO_TEST_CASE(allow_list_globs) {
  ScrapeResult r = parse_ok(kGoService, {"process_*"});
  BOOST_TEST((names(r) == std::set<std::string>{"process_cpu_seconds_total", "process_resident_memory_bytes"}));

  r = parse_ok(kGoService, {"node_filesystem_[a-z]vail_bytes", "go_goroutine?"});
  BOOST_TEST((names(r) == std::set<std::string>{"node_filesystem_avail_bytes", "go_goroutines"}));

  // A glob matches the whole name, not a part of it.
  r = parse_ok(kGoService, {"process"});
  BOOST_TEST(r.samples_kept == 0u);
}

BOOST_AUTO_TEST_CASE(allow_list_histogram_family) {
  ScrapeResult r = parse_ok(kGoService, {"http_request_duration_seconds"});
  BOOST_TEST(r.samples_kept == 5u);
  BOOST_TEST(
      (names(r) == std::set<std::string>{"http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
                                         "http_request_duration_seconds_count"}));
  // A glob matches the family too.
  BOOST_TEST(parse_ok(kGoService, {"http_request_duration_*"}).samples_kept == 5u);
}

BOOST_AUTO_TEST_CASE(allow_list_summary_family) {
  ScrapeResult r = parse_ok(kGoService, {"go_gc_duration_seconds"});
  BOOST_TEST(r.samples_kept == 6u);
  BOOST_TEST((names(r) == std::set<std::string>{"go_gc_duration_seconds", "go_gc_duration_seconds_sum",
                                                "go_gc_duration_seconds_count"}));
  BOOST_TEST(find(r, "go_gc_duration_seconds_count")->value == 212.0);
}

BOOST_AUTO_TEST_CASE(allow_list_counter_family) {
  // `# TYPE rpc_calls counter` declares the family; its samples are rpc_calls_total and _created.
  ScrapeResult r = parse_ok(kGoService, {"rpc_calls"});
  BOOST_TEST((names(r) == std::set<std::string>{"rpc_calls_total", "rpc_calls_created"}));
  // A counter declared with its _total name is matched by that name only.
  BOOST_TEST(parse_ok(kGoService, {"http_requests"}).samples_kept == 0u);
  BOOST_TEST(parse_ok(kGoService, {"http_requests_total"}).samples_kept == 2u);
}

BOOST_AUTO_TEST_CASE(family_needs_a_type_line_of_a_kind_with_that_suffix) {
  const std::string_view text =
      "# TYPE temp gauge\n"
      "temp_sum 1\n"
      "untyped_count 2\n"
      "# TYPE lat histogram\n"
      "lat_total 3\n"
      "lat_bucket{le=\"1\"} 4\n"
      "# TYPE rpc summary\n"
      "rpc_bucket 5\n"
      "rpc_count 6\n";
  BOOST_TEST(parse_ok(text, {"temp", "untyped"}).samples_kept == 0u);
  BOOST_TEST((names(parse_ok(text, {"lat"})) == std::set<std::string>{"lat_bucket"}));
  BOOST_TEST((names(parse_ok(text, {"rpc"})) == std::set<std::string>{"rpc_count"}));
  // A sample before its family's TYPE line is not in the family.
  BOOST_TEST(parse_ok("lat_sum 1\n# TYPE lat histogram\nlat_sum 2\n", {"lat"}).samples_kept == 1u);
}

BOOST_AUTO_TEST_CASE(empty_allow_list_keeps_nothing_but_validates) {
  ScrapeResult r = parse_ok(kGoService, {});
  BOOST_TEST(r.samples_seen == 19u);
  BOOST_TEST(r.samples_kept == 0u);
  BOOST_TEST(r.samples.empty());
  Error e = parse_error("a 1\nb{x=\"1\",x=\"2\"} 1\n", {});
  BOOST_TEST(has(e.message, "line 2"));
}

BOOST_AUTO_TEST_CASE(values_nan_inf_and_scientific) {
  ScrapeResult r =
      parse_ok("a NaN\nb +Inf\nc -Inf\nd 1.5e3\ne -2E-2\nf 0\ng nan\nh inf\ni +12\nj .5\nk 1e+308\nl Infinity\n");
  BOOST_TEST_REQUIRE(r.samples.size() == 12u);
  BOOST_TEST(std::isnan(r.samples[0].value));
  BOOST_TEST((std::isinf(r.samples[1].value) && r.samples[1].value > 0));
  BOOST_TEST((std::isinf(r.samples[2].value) && r.samples[2].value < 0));
  BOOST_TEST(r.samples[3].value == 1500.0);
  BOOST_TEST(r.samples[4].value == -0.02);
  BOOST_TEST(r.samples[5].value == 0.0);
  BOOST_TEST(std::isnan(r.samples[6].value));
  BOOST_TEST(std::isinf(r.samples[7].value));
  BOOST_TEST(r.samples[8].value == 12.0);
  BOOST_TEST(r.samples[9].value == 0.5);
  BOOST_TEST(r.samples[10].value == 1e308);
  BOOST_TEST(std::isinf(r.samples[11].value));
}

BOOST_AUTO_TEST_CASE(values_that_are_not_numbers) {
  for (std::string_view bad : {"abc", "1.2.3", "0x10", "1_000", "++1", "1e", "nan(1)", "1e999", "12abc", "-"}) {
    std::string text = "ok 1\nok 2\nm " + std::string(bad) + "\n";
    Error e = parse_error(text);
    BOOST_TEST(has(e.message, "line 3"), e.message);
    BOOST_TEST(has(e.message, "is not a number"), e.message);
    BOOST_TEST(has(e.message, std::string("\"") + std::string(bad) + "\""), e.message);
  }
  Error e = parse_error("m\n");
  BOOST_TEST(has(e.message, "line 1: expected a value"), e.message);
  e = parse_error("m{a=\"b\"}\n");
  BOOST_TEST(has(e.message, "line 1: expected a value"), e.message);
}

BOOST_AUTO_TEST_CASE(timestamps) {
  ScrapeResult r = parse_ok("a 1 1700000000000\nb 2 -5\nc 3 +7\nd 4\ne{x=\"y\"} 5 0\n");
  BOOST_TEST_REQUIRE(r.samples.size() == 5u);
  BOOST_TEST(r.samples[0].timestamp_ms.value() == 1700000000000);
  BOOST_TEST(r.samples[1].timestamp_ms.value() == -5);
  BOOST_TEST(r.samples[2].timestamp_ms.value() == 7);
  BOOST_TEST(!r.samples[3].timestamp_ms.has_value());
  BOOST_TEST(r.samples[4].timestamp_ms.value() == 0);

  Error e = parse_error("a 1\na 1 1.5\n");
  BOOST_TEST(has(e.message, "line 2"), e.message);
  BOOST_TEST(has(e.message, "timestamp \"1.5\" is not an integer"), e.message);
  e = parse_error("a 1 99999999999999999999\n");
  BOOST_TEST(has(e.message, "line 1"), e.message);
  e = parse_error("a 1 2 3\n");
  BOOST_TEST(has(e.message, "line 1: unexpected \"3\" after the timestamp"), e.message);
}

BOOST_AUTO_TEST_CASE(label_value_escapes) {
  ScrapeResult r = parse_ok(R"(m{path="C:\\dir\\f",msg="say \"hi\"",multi="a\nb",other="\t stays",plain="x y,z}{="} 1)"
                            "\n");
  BOOST_TEST_REQUIRE(r.samples.size() == 1u);
  const Labels expected = {
      {"msg", "say \"hi\""}, {"multi", "a\nb"}, {"other", "\\t stays"}, {"path", "C:\\dir\\f"}, {"plain", "x y,z}{="}};
  BOOST_TEST((r.samples[0].labels == expected));
  // An escaped quote does not end the value; an escaped backslash before the quote does not escape it.
  r = parse_ok(R"(m{a="\\",b="\""} 1)"
               "\n");
  BOOST_TEST((r.samples[0].labels == Labels{{"a", "\\"}, {"b", "\""}}));
  // UTF-8 in values is fine; broken UTF-8 is not.
  r = parse_ok("m{city=\"Z\xc3\xbcrich\"} 1\n");
  BOOST_TEST(r.samples[0].labels[0].second == "Z\xc3\xbcrich");
  Error e = parse_error("m 1\nm{city=\"Z\xfcrich\"} 1\n");
  BOOST_TEST(has(e.message, "line 2"), e.message);
  BOOST_TEST(parse_ok("m{smile=\"\xf0\x9f\x98\x80\",euro=\"\xe2\x82\xac\"} 1\n").samples_kept == 1u);
  for (std::string_view bad : {"\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80"}) {
    e = parse_error("m{v=\"" + std::string(bad) + "\"} 1\n");
    BOOST_TEST(has(e.message, "line 1: value of label \"v\" is not valid UTF-8"), e.message);
  }
}

BOOST_AUTO_TEST_CASE(label_set_syntax_variants) {
  ScrapeResult r = parse_ok(
      "a{} 1\n"
      "b{x=\"1\",} 2\n"
      "c { x = \"1\" , y=\"2\" , } 3\n"
      "d{x=\"\"} 4\n"
      "\t e{x=\"1\"}5\n"
      "f:rate5m{_under=\"1\",Mixed_9=\"2\"} 6\n");
  BOOST_TEST_REQUIRE(r.samples.size() == 6u);
  BOOST_TEST(r.samples[0].labels.empty());
  BOOST_TEST((r.samples[1].labels == Labels{{"x", "1"}}));
  BOOST_TEST((r.samples[2].labels == Labels{{"x", "1"}, {"y", "2"}}));
  BOOST_TEST((r.samples[3].labels == Labels{{"x", ""}}));
  BOOST_TEST(r.samples[4].name == "e");
  BOOST_TEST(r.samples[4].value == 5.0);
  BOOST_TEST(r.samples[5].name == "f:rate5m");
  BOOST_TEST((r.samples[5].labels == Labels{{"Mixed_9", "2"}, {"_under", "1"}}));
}

BOOST_AUTO_TEST_CASE(whitespace_crlf_comments_and_blank_lines) {
  ScrapeResult r = parse_ok(
      "# HELP a Some help with \\\\ and \\n escapes.\r\n"
      "# TYPE a counter\r\n"
      "a_total 1\r\n"
      "\r\n"
      "   \t\n"
      "#\n"
      "# TYPE\n"
      "#just a comment {{{ \"\n"
      "  a_total{x=\"1\"}   \t 2   \t 1000  \r\n"
      "b 3",  // no final line end
      {"a"});
  BOOST_TEST(r.lines == 10u);
  BOOST_TEST(r.samples_seen == 3u);
  BOOST_TEST_REQUIRE(r.samples.size() == 2u);
  BOOST_TEST(r.samples[0].value == 1.0);
  BOOST_TEST(r.samples[1].value == 2.0);
  BOOST_TEST(r.samples[1].timestamp_ms.value() == 1000);

  BOOST_TEST(parse_ok("").lines == 0u);
  BOOST_TEST(parse_ok("\n\n").lines == 2u);
}

BOOST_AUTO_TEST_CASE(bad_type_and_help_lines) {
  Error e = parse_error("a 1\n# TYPE a countr\n");
  BOOST_TEST(has(e.message, "line 2"), e.message);
  BOOST_TEST(has(e.message, "unknown metric type \"countr\""), e.message);
  e = parse_error("# TYPE a\n");
  BOOST_TEST(has(e.message, "line 1: expected a metric type"), e.message);
  e = parse_error("\n\n# HELP 9lives text\n");
  BOOST_TEST(has(e.message, "line 3"), e.message);
  BOOST_TEST(has(e.message, "\"9lives\""), e.message);
  e = parse_error("# TYPE a-b gauge\n");
  BOOST_TEST(has(e.message, "line 1"), e.message);
}

BOOST_AUTO_TEST_CASE(errors_name_the_line_and_what_was_expected) {
  struct Case {
    std::string_view text;
    std::string_view line;
    std::string_view what;
  };
  const Case cases[] = {
      {"a 1\nb 2\nc 3\nd 4\ne 5\nf 6\ng 7\nh 8\ni 9\nj 10\nk 11\nreq{code 200} 1\n", "line 12",
       "expected '=' after label name \"code\""},
      {"a 1\nb 2\nm abc\n", "line 3", "value \"abc\" is not a number"},
      {"a 1\n\n# c\n\n\n\nm{job=\"a\",x=\"1\",job=\"b\"} 1\n", "line 7", "duplicate label \"job\""},
      {"a 1\na 2\na 3\na 4\na 5\na 6\na 7\na 8\nm{a=\"unterminated} 1\n", "line 9", "label value not terminated"},
      {"9m 1\n", "line 1", "expected a metric name"},
      {"{a=\"b\"} 1\n", "line 1", "expected a metric name"},
      {"a 1\nm-x 1\n", "line 2", "after metric name \"m\""},
      {"m{9a=\"b\"} 1\n", "line 1", "expected a label name"},
      {"m{a=b} 1\n", "line 1", "expected '\"' to open the value of label \"a\""},
      {"m{a=\"b\" c=\"d\"} 1\n", "line 1", "expected ',' or '}' after the value of label \"a\""},
      {"m{a=\"b\"\n", "line 1", "expected ',' or '}'"},
      {"m{a=\"b\",\n", "line 1", "not terminated"},
      {"m{,} 1\n", "line 1", "expected a label name"},
      {"m{__name__=\"x\"} 1\n", "line 1", "reserved"},
      {"m{a=\"b\"}} 1\n", "line 1", "is not a number"},
  };
  for (const Case& c : cases) {
    Error e = parse_error(c.text);
    BOOST_TEST(has(e.message, c.line), e.message);
    BOOST_TEST(has(e.message, c.what), e.message);
  }
}

BOOST_AUTO_TEST_CASE(first_error_fails_the_whole_scrape) {
  // Good samples before and after do not make a partial result.
  auto r = parse_exposition("a 1\nb{x=\"1\"} 2\nc oops\nd 4\n", kAll, {});
  BOOST_TEST(!r.has_value());
}

BOOST_AUTO_TEST_CASE(error_messages_are_bounded_and_printable) {
  std::string text = "m " + std::string(10000, 'x') + "\x01\n";
  Error e = parse_error(text);
  BOOST_TEST(e.message.size() < 200u);
  for (char c : e.message) BOOST_TEST((c >= 0x20 && c < 0x7f));
}

BOOST_AUTO_TEST_CASE(limit_on_kept_samples) {
  std::string text;
  for (int i = 0; i < 11; ++i) text += "keep{i=\"" + std::to_string(i) + "\"} 1\nskip 1\n";
  ScrapeLimits limits;
  limits.max_samples = 11;
  BOOST_TEST(parse_ok(text, {"keep"}, limits).samples_kept == 11u);
  // Only kept samples count: 22 sample lines are fine with 11 kept.
  BOOST_TEST(parse_ok(text, {"keep"}, limits).samples_seen == 22u);
  limits.max_samples = 10;
  Error e = parse_error(text, {"keep"}, limits);
  BOOST_TEST(has(e.message, "more than 10 samples kept (max_samples)"), e.message);
  BOOST_TEST(has(e.message, "line 21"), e.message);
  BOOST_TEST(parse_ok(text, {"none"}, limits).samples_seen == 22u);

  // The default is 10000.
  std::string big;
  for (int i = 0; i <= 10000; ++i) big += "m{i=\"" + std::to_string(i) + "\"} 1\n";
  e = parse_error(big);
  BOOST_TEST(has(e.message, "more than 10000 samples kept (max_samples)"), e.message);
}

BOOST_AUTO_TEST_CASE(limit_on_line_bytes) {
  ScrapeLimits limits;
  limits.max_line_bytes = 20;
  BOOST_TEST(parse_ok("m{a=\"12345678901\"} 1\n", kAll, limits).samples_kept == 1u);  // 20 bytes
  Error e = parse_error("m 1\nm{a=\"123456789012\"} 1\n", kAll, limits);              // 21 bytes
  BOOST_TEST(has(e.message, "line 2"), e.message);
  BOOST_TEST(has(e.message, "max_line_bytes"), e.message);
  // Comments count too: a huge HELP line is no cheaper to scan.
  e = parse_error("# HELP m " + std::string(30, 'h') + "\n", kAll, limits);
  BOOST_TEST(has(e.message, "line 1"), e.message);
  // The default is 64 KiB.
  e = parse_error("m{a=\"" + std::string(70000, 'v') + "\"} 1\n");
  BOOST_TEST(has(e.message, "line 1: 70009 bytes"), e.message);
}

BOOST_AUTO_TEST_CASE(limit_on_labels) {
  ScrapeLimits limits;
  limits.max_labels = 3;
  BOOST_TEST(parse_ok("m{a=\"1\",b=\"2\",c=\"3\"} 1\n", kAll, limits).samples[0].labels.size() == 3u);
  Error e = parse_error("m 1\nm{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1\n", kAll, limits);
  BOOST_TEST(has(e.message, "line 2"), e.message);
  BOOST_TEST(has(e.message, "max_labels"), e.message);
  // Also on samples that are not kept.
  e = parse_error("m{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1\n", {"other"}, limits);
  BOOST_TEST(has(e.message, "max_labels"), e.message);
}

BOOST_AUTO_TEST_CASE(every_prefix_parses_or_fails_cleanly) {
  const std::string text(kGoService);
  std::size_t last_seen = 0;
  for (std::size_t n = 0; n <= text.size(); ++n) {
    auto r = parse_exposition(std::string_view(text).substr(0, n), {"*"}, {});
    if (n == 0 || text[n - 1] == '\n') {
      // Cut at a line end: a valid exposition, one that only grows.
      BOOST_TEST_REQUIRE(r.has_value(), "prefix of " << n << " bytes: " << r.error().message);
      BOOST_TEST(r->samples_seen >= last_seen);
      last_seen = r->samples_seen;
    }
    if (r) {
      BOOST_TEST(r->samples_kept == r->samples.size());
    } else {
      BOOST_TEST((r.error().kind == ErrorKind::kParse));
      BOOST_TEST(has(r.error().message, "line "));
    }
  }
  BOOST_TEST(last_seen == 19u);
}

BOOST_AUTO_TEST_CASE(random_garbage_never_crashes) {
  std::mt19937 rng(12345);  // fixed: a failure reproduces
  const std::string_view alphabet = "ab_:{}=\",\\# \t\n\r01.e+-InfNa";
  std::size_t ok = 0, failed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const std::size_t len = rng() % 120;
    for (std::size_t i = 0; i < len; ++i) {
      // Mostly syntax characters, so that parsing gets deep; sometimes any byte.
      text += (rng() % 8 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    ScrapeLimits limits;
    limits.max_samples = 3;
    limits.max_labels = 2;
    limits.max_line_bytes = 60;
    auto r = parse_exposition(text, {"a*", "b"}, limits);
    if (r) {
      ++ok;
      BOOST_TEST_REQUIRE(r->samples.size() == r->samples_kept);
      BOOST_TEST_REQUIRE(r->samples_kept <= r->samples_seen);
      BOOST_TEST_REQUIRE(r->samples_kept <= 3u);
      for (const auto& s : r->samples) {
        BOOST_TEST_REQUIRE(s.labels.size() <= 2u);
        BOOST_TEST_REQUIRE(std::is_sorted(s.labels.begin(), s.labels.end()));
      }
    } else {
      ++failed;
      BOOST_TEST_REQUIRE((r.error().kind == ErrorKind::kParse));
    }
  }
  // Both outcomes were exercised.
  BOOST_TEST(ok > 100u);
  BOOST_TEST(failed > 100u);
}

BOOST_AUTO_TEST_CASE(a_megabyte_exposition) {
  std::string text;
  int lines = 0;
  for (int i = 0; text.size() < (1u << 20); ++i) {
    text += "# HELP svc_requests_" + std::to_string(i) + "_total Requests.\n# TYPE svc_requests_" + std::to_string(i) +
            "_total counter\n";
    lines += 2;
    for (int j = 0; j < 8; ++j, ++lines) {
      text += "svc_requests_" + std::to_string(i) + "_total{code=\"" + std::to_string(200 + j) +
              "\",method=\"GET\",path=\"/api/v1/items\"} " + std::to_string(i * 1000 + j) + "\n";
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = parse_exposition(text, {"svc_requests_1*"}, {});
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->lines == static_cast<std::size_t>(lines));
  BOOST_TEST(r->samples_seen == static_cast<std::size_t>(lines / 10 * 8));
  BOOST_TEST(r->samples_kept > 0u);
  // Read, not asserted: timing depends on the machine and the build type.
  const double took_ms = std::chrono::duration<double, std::milli>(took).count();
  BOOST_TEST_MESSAGE("parsed " << text.size() << " bytes, " << lines << " lines in " << took_ms << " ms");
}
