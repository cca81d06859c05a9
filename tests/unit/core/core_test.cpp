#define BOOST_TEST_MODULE core
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <string>

#include "core/file_trust.hpp"
#include "core/log.hpp"
#include "core/sample.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

using namespace vigil;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(durations_parse) {
  BOOST_TEST(parse_duration("500ms")->count() == 500);
  BOOST_TEST(parse_duration("5s")->count() == 5000);
  BOOST_TEST(parse_duration("2m")->count() == 120000);
  BOOST_TEST(parse_duration("48h")->count() == 48LL * 3600 * 1000);
  BOOST_TEST(parse_duration("1h30m")->count() == 5400000);
  BOOST_TEST(parse_duration("1d")->count() == 86400000);
  BOOST_TEST(parse_duration("1m500ms")->count() == 60500);
}

BOOST_AUTO_TEST_CASE(durations_reject) {
  for (const char* bad : {"", "5", "5 s", "s", "-5s", "5x", "1.5s", "99999999999999999999s"}) {
    auto r = parse_duration(bad);
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!r.has_value());
    if (!r) BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(ErrorKind::kParse));
  }
}

BOOST_AUTO_TEST_CASE(durations_format_round_trip) {
  BOOST_TEST(format_duration(0ms) == "0s");
  BOOST_TEST(format_duration(90000ms) == "1m30s");
  BOOST_TEST(format_duration(1500ms) == "1s500ms");
  for (const char* s : {"1s", "2m", "1h30m", "1d", "250ms"}) {
    BOOST_TEST(format_duration(*parse_duration(s)) == s);
  }
}

BOOST_AUTO_TEST_CASE(sizes) {
  BOOST_TEST(*parse_size("512MiB") == 512ull << 20);
  BOOST_TEST(*parse_size("4KiB") == 4096u);
  BOOST_TEST(*parse_size("1GB") == 1000000000u);
  BOOST_TEST(*parse_size("4096") == 4096u);
  BOOST_TEST(*parse_size("10B") == 10u);
  BOOST_TEST(!parse_size("10 MiB").has_value());
  BOOST_TEST(!parse_size("MiB").has_value());
  BOOST_TEST(!parse_size("10mib").has_value());
  BOOST_TEST(!parse_size("99999999999TiB").has_value());
}

BOOST_AUTO_TEST_CASE(rfc3339) {
  BOOST_TEST(*parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  BOOST_TEST(*parse_rfc3339("2026-11-22T08:35:53.123Z") == 1795336553123LL);
  BOOST_TEST(*parse_rfc3339("2026-11-22 09:35:53.123+01:00") == 1795336553123LL);
  BOOST_TEST(*parse_rfc3339("2026-11-22") == 1795305600000LL);
  BOOST_TEST(format_rfc3339_ms(1795336553123LL) == "2026-11-22T08:35:53.123Z");
  for (const char* bad : {"2026-13-01", "2026-11-22T25:00:00Z", "2026-11-22T08:35", "yesterday", "2026-11-22Tx"}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!parse_rfc3339(bad).has_value());
  }
}

BOOST_AUTO_TEST_CASE(series_key_canonical_and_back) {
  SeriesKey k("process_resident_memory_bytes", {{"target", "gw"}, {"kind", "a\"b\\c\nd"}});
  BOOST_TEST(k.labels.front().first == "kind");  // sorted
  BOOST_TEST(k.canonical() == "process_resident_memory_bytes{kind=\"a\\\"b\\\\c\\nd\",target=\"gw\"}");
  auto back = parse_labels_text(k.labels_text());
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST((*back == k.labels));
  BOOST_TEST(SeriesKey("up", {}).canonical() == "up");
  BOOST_TEST(!parse_labels_text("{a=1}").has_value());
  BOOST_TEST(!parse_labels_text("{a=\"1\"").has_value());
}

BOOST_AUTO_TEST_CASE(text_helpers) {
  BOOST_TEST(trim("  a b \n") == "a b");
  auto f = split_ws("  a\tb   c ");
  BOOST_TEST(f.size() == 3u);
  BOOST_TEST(lines("a\nb\n").size() == 2u);
  BOOST_TEST(!to_u64("12a").has_value());
  BOOST_TEST(*to_i64("-3") == -3);
  BOOST_TEST(edit_distance("interval", "intervall") == 1u);
  auto m = close_matches("intervall", {"interval", "state_dir", "flush_interval"});
  BOOST_REQUIRE(!m.empty());
  BOOST_TEST(m.front() == "interval");
  // Lengths far apart are not compared letter by letter, and never match.
  BOOST_TEST(close_matches(std::string(1 << 20, 'x'), {"interval", "state_dir"}).empty());
  BOOST_TEST(close_matches("intervalxxxx", {"interval"}).size() == 1u);  // 4 extra letters: within 12 / 3
  BOOST_TEST(close_matches("intervalxxxxxxx", {"interval"}).empty());    // 7 extra letters: beyond 15 / 3
  BOOST_TEST(glob_match("process_*", "process_threads"));
  BOOST_TEST(!glob_match("process_*", "host_load1"));
  BOOST_TEST(glob_match("host_load[15]", "host_load5"));
  BOOST_TEST(!glob_match("host_load[15]", "host_load15"));
  BOOST_TEST(glob_match("*", ""));
  BOOST_TEST(glob_match("a?c", "abc"));
  BOOST_TEST(glob_match("a[b", "a[b"));  // an unclosed '[' is a literal
  BOOST_TEST(!glob_match("a[b", "ab"));
}

BOOST_AUTO_TEST_CASE(read_file_missing_is_not_found) {
  auto r = read_file("/nonexistent/vigil/file");
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(ErrorKind::kNotFound));
}

BOOST_AUTO_TEST_CASE(untrusted_modes) {
  BOOST_TEST(!untrusted_mode(S_IFREG | 0644).has_value());
  BOOST_TEST(!untrusted_mode(S_IFREG | 0600).has_value());
  BOOST_TEST(!untrusted_mode(S_IFREG | 0664).has_value());  // a group the owner chose may write
  BOOST_TEST(!untrusted_mode(S_IFDIR | 0700).has_value());
  BOOST_TEST(untrusted_mode(S_IFREG | 0666).value_or("") == "is writable by other users (mode 0666)");
  BOOST_TEST(untrusted_mode(S_IFDIR | 01777).value_or("") == "is writable by other users (mode 1777)");
  BOOST_TEST(untrusted_mode(S_IFREG | 0602).has_value());
}

namespace {
// A file in a fresh directory under /tmp, with a chosen mode.
std::string file_with_mode(const std::string& dir, const char* name, const std::string& text, mode_t mode) {
  const std::string path = dir + "/" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  BOOST_REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}
}  // namespace

BOOST_AUTO_TEST_CASE(read_trusted_file_refuses_what_others_can_write) {
  char tmpl[] = "/tmp/vigil-trust-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string mine = file_with_mode(dir, "mine", "s3cret\n", 0600);
  BOOST_TEST(read_trusted_file(mine, 1024).value_or("?") == "s3cret\n");
  BOOST_TEST(read_trusted_file(mine, 3).value_or("?") == "s3c");  // never past the bound

  const std::string open_to_all = file_with_mode(dir, "open", "x", 0646);
  auto r = read_trusted_file(open_to_all, 1024);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(ErrorKind::kPermission));
  BOOST_TEST(r.error().message ==
             "is writable by other users (mode 0646): any local user could change it; run "
             "chmod o-w " +
                 open_to_all);

  auto d = read_trusted_file(dir, 1024);
  BOOST_REQUIRE(!d.has_value());
  BOOST_TEST(d.error().message == "is a directory, not a file");

  BOOST_REQUIRE(::mkfifo((dir + "/fifo").c_str(), 0600) == 0);
  auto f = read_trusted_file(dir + "/fifo", 1024);  // must not wait for a writer
  BOOST_REQUIRE(!f.has_value());
  BOOST_TEST(f.error().message == "is not a regular file");

  auto missing = read_trusted_file(dir + "/none", 1024);
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST(static_cast<int>(missing.error().kind) == static_cast<int>(ErrorKind::kNotFound));
  BOOST_TEST(missing.error().message.find("cannot be opened (") == 0, missing.error().message);

  for (const char* name : {"mine", "open", "fifo"}) ::unlink((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}

BOOST_AUTO_TEST_CASE(environment_passed_to_children) {
  for (const char* passed : {"PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "LC_TIME=de_DE", "TZ=UTC", "TERM=xterm",
                             "USER=root", "LOGNAME=root", "SHELL=/bin/sh", "TMPDIR=/tmp", "LANGUAGE=de", "PATH="}) {
    BOOST_TEST_INFO(passed);
    BOOST_TEST(passed_to_children(passed));
  }
  for (const char* kept :
       {"AWS_SECRET_ACCESS_KEY=x", "VIGIL_ALERTING_RESEND_INTERVAL=1s", "NOTIFY_SOCKET=/run/x", "WATCHDOG_USEC=1",
        "LISTEN_FDS=3", "PATHX=/bin", "XPATH=/bin", "PATH", "LD_PRELOAD=/x.so", "", "=x"}) {
    BOOST_TEST_INFO(kept);
    BOOST_TEST(!passed_to_children(kept));
  }
}

BOOST_AUTO_TEST_CASE(json_escape) {
  std::string out;
  append_json_escaped(out, "a\"b\\\n\x01");
  BOOST_TEST(out == "a\\\"b\\\\\\n\\u0001");
}
