#define BOOST_TEST_MODULE probes_protocols
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>
#include <string>
#include <string_view>

#include "probes/checks/nagios.hpp"
#include "probes/checks/postgres.hpp"
#include "probes/checks/redis.hpp"

using namespace vigil;
using namespace std::string_view_literals;
using Verdict = Reply::Verdict;

namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every strict prefix of a complete reply must ask for more: the daemon
// calls the judge after each read, and a reply may arrive one byte at a time.
template <typename Judge>
void every_prefix_needs_more(std::string_view complete, Judge judge) {
  for (std::size_t n = 0; n < complete.size(); ++n) {
    BOOST_TEST_CONTEXT("prefix of " << n << " bytes") {
      BOOST_TEST((judge(complete.substr(0, n)).verdict == Verdict::kNeedMore));
    }
  }
}

// A PostgreSQL backend message: type, Int32 length counting itself, body.
std::string pg_message(char type, std::string_view body) {
  const auto len = static_cast<std::uint32_t>(body.size() + 4);
  std::string out(1, type);
  out.push_back(static_cast<char>(len >> 24));
  out.push_back(static_cast<char>((len >> 16) & 0xff));
  out.push_back(static_cast<char>((len >> 8) & 0xff));
  out.push_back(static_cast<char>(len & 0xff));
  out += body;
  return out;
}

}  // namespace

// ---------------------------------------------------------------- redis

BOOST_AUTO_TEST_CASE(redis_request_is_resp_arrays) {
  BOOST_TEST(redis_ping_request(std::nullopt, std::nullopt) == "*1\r\n$4\r\nPING\r\n");
  BOOST_TEST(redis_ping_request(std::nullopt, std::string("secret")) ==
             "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n");
  BOOST_TEST(redis_ping_request(std::string("alice"), std::string("secret")) ==
             "*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n");
  // Binary safe: a password with CR LF and spaces is counted, not split.
  BOOST_TEST(redis_ping_request(std::nullopt, std::string("a b\r\nc")) ==
             "*2\r\n$4\r\nAUTH\r\n$6\r\na b\r\nc\r\n*1\r\n$4\r\nPING\r\n");
  // A username alone cannot authenticate: no AUTH.
  BOOST_TEST(redis_ping_request(std::string("alice"), std::nullopt) == "*1\r\n$4\r\nPING\r\n");
}

BOOST_AUTO_TEST_CASE(redis_pong_is_ok) {
  auto judge = [](std::string_view r) { return judge_redis_replies(r, false); };
  every_prefix_needs_more("+PONG\r\n", judge);
  Reply r = judge("+PONG\r\n");
  BOOST_TEST((r.verdict == Verdict::kOk));
  BOOST_TEST(r.reason == "PONG");
  // What follows the reply does not matter.
  BOOST_TEST((judge("+PONG\r\n+extra\r\n").verdict == Verdict::kOk));
  BOOST_TEST((judge("$4\r\nPONG\r\n").verdict == Verdict::kOk));
  every_prefix_needs_more("$4\r\nPONG\r\n", judge);
}

BOOST_AUTO_TEST_CASE(redis_auth_then_pong_is_ok) {
  auto judge = [](std::string_view r) { return judge_redis_replies(r, true); };
  every_prefix_needs_more("+OK\r\n+PONG\r\n", judge);
  BOOST_TEST((judge("+OK\r\n+PONG\r\n").verdict == Verdict::kOk));
  // Without AUTH sent, +OK is not an answer to PING.
  Reply r = judge_redis_replies("+OK\r\n+PONG\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "unexpected reply to PING"));
  // With AUTH sent, +PONG first is not an answer to AUTH.
  r = judge("+PONG\r\n");
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "unexpected reply to AUTH"));
}

BOOST_AUTO_TEST_CASE(redis_auth_refused_quotes_the_server) {
  Reply r = judge_redis_replies("-WRONGPASS invalid username-password pair or user is disabled.\r\n", true);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "AUTH refused: WRONGPASS invalid username-password pair"));

  r = judge_redis_replies(
      "-ERR AUTH <password> called without any password configured for the default user. Are you sure "
      "your configuration is correct?\r\n",
      true);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "AUTH refused: ERR AUTH <password> called without any password"));
}

BOOST_AUTO_TEST_CASE(redis_known_errors_say_what_to_do) {
  Reply r = judge_redis_replies("-NOAUTH Authentication required.\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "password_file"));
  BOOST_TEST(contains(r.reason, "NOAUTH Authentication required."));

  r = judge_redis_replies("-LOADING Redis is loading the dataset in memory\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "loading the dataset"));
  // AUTH works while loading; PING does not.
  r = judge_redis_replies("+OK\r\n-LOADING Redis is loading the dataset in memory\r\n", true);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "loading the dataset"));

  r = judge_redis_replies("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
                          false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "PING failed: MASTERDOWN Link with MASTER is down"));

  r = judge_redis_replies("-DENIED Redis is running in protected mode because protected mode is enabled\r\n", true);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "protected mode"));
}

BOOST_AUTO_TEST_CASE(redis_error_text_is_printable_and_bounded) {
  Reply r = judge_redis_replies("-ERR " + std::string(3000, 'x') + "\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(r.reason.size() < 400u);
  BOOST_TEST(contains(r.reason, "..."));

  r = judge_redis_replies("-ERR bad\x1b[31m\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(!contains(r.reason, "\x1b"));
  BOOST_TEST(contains(r.reason, "\\x1b"));
}

BOOST_AUTO_TEST_CASE(redis_garbage_fails_at_once) {
  Reply r = judge_redis_replies("HTTP/1.1 400 Bad Request\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "not a Redis reply"));
  BOOST_TEST(contains(r.reason, "HTTP/1.1 400"));

  // One byte is enough to tell (a TLS server answering with an alert).
  r = judge_redis_replies("\x15"sv, false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "\\x15"));

  // A PostgreSQL server's answer.
  r = judge_redis_replies("E\0\0\0\x5bSFATAL"sv, true);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "not a Redis reply"));

  // A bare LF is not RESP.
  r = judge_redis_replies("+PONG\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "not a Redis reply"));
}

BOOST_AUTO_TEST_CASE(redis_line_length_is_capped) {
  const std::string max_line(kRedisMaxLine, 'a');
  // Up to the cap, with or without the '\r' yet, the line may still end.
  BOOST_TEST((judge_redis_replies("+" + max_line, false).verdict == Verdict::kNeedMore));
  BOOST_TEST((judge_redis_replies("+" + max_line + "\r", false).verdict == Verdict::kNeedMore));
  Reply r = judge_redis_replies("+" + max_line + "\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "unexpected reply to PING"));

  r = judge_redis_replies("+" + max_line + "aa", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "longer than 4096 bytes"));
  r = judge_redis_replies("+" + max_line + "a\r\n", false);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "longer than 4096 bytes"));
  // The cap holds however much arrived.
  r = judge_redis_replies("+" + std::string(1 << 20, 'a'), false);
  BOOST_TEST((r.verdict == Verdict::kFail));
}

BOOST_AUTO_TEST_CASE(redis_bulk_and_other_types) {
  auto judge = [](std::string_view r) { return judge_redis_replies(r, false); };
  BOOST_TEST((judge("$99999999999\r\n").verdict == Verdict::kFail));
  BOOST_TEST((judge("$9223372036854775808\r\n").verdict == Verdict::kFail));  // does not fit an int64
  BOOST_TEST((judge("$-5\r\n").verdict == Verdict::kFail));
  BOOST_TEST((judge("$abc\r\n").verdict == Verdict::kFail));
  BOOST_TEST((judge("$4\r\nPONGxx").verdict == Verdict::kFail));
  BOOST_TEST((judge("$4\r\nPON").verdict == Verdict::kNeedMore));
  BOOST_TEST((judge("$4\r\nPONG\r").verdict == Verdict::kNeedMore));

  Reply r = judge("$-1\r\n");
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "null bulk string"));
  r = judge(":1\r\n");
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "integer 1"));
  r = judge("*1\r\n$4\r\nPONG\r\n");
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "array of 1 elements"));
  r = judge("+pong\r\n");
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "+pong"));
}

// ---------------------------------------------------------------- postgres

BOOST_AUTO_TEST_CASE(postgres_startup_message_layout) {
  // Int32 length (56, counting itself), Int32 protocol 3.0 (0x00030000 = 196608),
  // name/value pairs as C strings, and a final NUL.
  const std::string_view expected =
      "\x00\x00\x00\x38"
      "\x00\x03\x00\x00"
      "user\0vigil\0database\0app\0application_name\0vigil\0\0"sv;
  BOOST_TEST(postgres_startup_request("vigil", "app") == expected);

  // No database: the server defaults it to the user name.
  const std::string_view no_db =
      "\x00\x00\x00\x2b"
      "\x00\x03\x00\x00"
      "user\0vigil\0application_name\0vigil\0\0"sv;
  BOOST_TEST(postgres_startup_request("vigil", "") == no_db);

  // A NUL inside a value would shift every field after it: values are cut there.
  const std::string cut = postgres_startup_request("vig\0il"sv, "app\0x"sv);
  BOOST_TEST(cut == postgres_startup_request("vig", "app"));
}

BOOST_AUTO_TEST_CASE(postgres_authentication_request_is_accepting) {
  const std::string_view auth_ok = "R\0\0\0\x08\0\0\0\0"sv;  // AuthenticationOk (trust)
  every_prefix_needs_more(auth_ok, judge_postgres_startup_reply);
  Reply r = judge_postgres_startup_reply(auth_ok);
  BOOST_TEST((r.verdict == Verdict::kOk));
  BOOST_TEST(r.reason == "accepting connections");

  // AuthenticationSASL (scram-sha-256) and AuthenticationMD5Password.
  const std::string_view sasl = "R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"sv;
  every_prefix_needs_more(sasl, judge_postgres_startup_reply);
  BOOST_TEST((judge_postgres_startup_reply(sasl).verdict == Verdict::kOk));
  BOOST_TEST((judge_postgres_startup_reply("R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04"sv).verdict == Verdict::kOk));

  // NegotiateProtocolVersion: minor 0, no unrecognized options.
  BOOST_TEST((judge_postgres_startup_reply("v\0\0\0\x0c\0\0\0\0\0\0\0\0"sv).verdict == Verdict::kOk));
}

BOOST_AUTO_TEST_CASE(postgres_starting_up_is_not_accepting) {
  // As a server sends it: S, V, C, M, F, L, R fields.
  const std::string_view starting =
      "E\0\0\0\x68"
      "SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0Fpostmaster.c\0L2340\0"
      "RProcessStartupPacket\0\0"sv;
  every_prefix_needs_more(starting, judge_postgres_startup_reply);
  Reply r = judge_postgres_startup_reply(starting);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(r.reason == "not accepting connections: the database system is starting up");

  r = judge_postgres_startup_reply(pg_message('E', "SFATAL\0C57P03\0Mthe database system is shutting down\0\0"sv));
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "shutting down"));
}

BOOST_AUTO_TEST_CASE(postgres_too_many_connections_fails) {
  Reply r =
      judge_postgres_startup_reply(pg_message('E', "SFATAL\0VFATAL\0C53300\0Msorry, too many clients already\0\0"sv));
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(r.reason == "too many connections: sorry, too many clients already");
}

BOOST_AUTO_TEST_CASE(postgres_other_errors_mean_the_server_is_up) {
  Reply r = judge_postgres_startup_reply(
      pg_message('E', "SFATAL\0VFATAL\0C3D000\0Mdatabase \"nosuch\" does not exist\0\0"sv));
  BOOST_TEST((r.verdict == Verdict::kOk));
  BOOST_TEST(r.reason == "accepting connections (server said: database \"nosuch\" does not exist)");

  // Localized severity only, fields in another order, an unknown field code.
  r = judge_postgres_startup_reply(
      pg_message('E', "Mno pg_hba.conf entry for host \"10.0.0.1\", user \"vigil\"\0C28000\0SFATAL\0Zfuture\0\0"sv));
  BOOST_TEST((r.verdict == Verdict::kOk));
  BOOST_TEST(contains(r.reason, "no pg_hba.conf entry"));

  // No SQLSTATE at all: libpq calls that "no response".
  r = judge_postgres_startup_reply(pg_message('E', "SFATAL\0Mhuh\0\0"sv));
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "without a SQLSTATE"));
}

BOOST_AUTO_TEST_CASE(postgres_notices_are_skipped) {
  const std::string notice = pg_message('N', "SWARNING\0C01000\0Mbe careful\0\0"sv);
  const std::string auth_ok = std::string("R\0\0\0\x08\0\0\0\0"sv);
  every_prefix_needs_more(notice + auth_ok, judge_postgres_startup_reply);
  BOOST_TEST((judge_postgres_startup_reply(notice + auth_ok).verdict == Verdict::kOk));
  BOOST_TEST((judge_postgres_startup_reply(notice + notice + auth_ok).verdict == Verdict::kOk));
  // A notice followed by garbage is still garbage.
  Reply r = judge_postgres_startup_reply(notice + "HTTP/1.1");
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "HTTP/1.1"));
}

BOOST_AUTO_TEST_CASE(postgres_pre_3_0_fork_failure) {
  // What the postmaster writes when it cannot fork a backend: no length.
  const std::string_view fork_failed = "Ecould not fork new process for connection: Cannot allocate memory\n\0"sv;
  every_prefix_needs_more(fork_failed, judge_postgres_startup_reply);
  Reply r = judge_postgres_startup_reply(fork_failed);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(r.reason ==
             "not accepting connections: could not fork new process for connection: Cannot allocate memory");
  // An 'E' followed by binary is garbage, not a pre-3.0 error.
  r = judge_postgres_startup_reply("E\x7f\x01\x02\x03"sv);
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "not a PostgreSQL reply"));
  // Text without an end is bounded.
  r = judge_postgres_startup_reply("E" + std::string(5000, 'a'));
  BOOST_TEST((r.verdict == Verdict::kFail));
}

BOOST_AUTO_TEST_CASE(postgres_garbage_fails) {
  auto fails_as_garbage = [](std::string_view received) {
    Reply r = judge_postgres_startup_reply(received);
    BOOST_TEST((r.verdict == Verdict::kFail));
    BOOST_TEST(contains(r.reason, "not a PostgreSQL reply"), r.reason);
  };
  fails_as_garbage("HTTP/1.1 400 Bad Request\r\n");
  fails_as_garbage("-ERR unknown command\r\n");  // a Redis server
  fails_as_garbage("SSH-2.0-OpenSSH_9.2p1\r\n");
  fails_as_garbage("R\0\0\0\x02"sv);        // length below 4
  fails_as_garbage("R\x7f\xff\xff\xff"sv);  // 2 GiB
  fails_as_garbage("R\0\x01\0\x01"sv);      // just over 64 KiB
  fails_as_garbage("E\0\x01\0\x01"sv);      // same for an error: not mistaken for pre-3.0 text
  fails_as_garbage("R\0\0\0\x06\0\0"sv);    // an authentication request without its subtype
  // A huge length is refused before the bytes arrive, not waited for.
  fails_as_garbage("N\x10\0\0\0"sv);

  Reply r = judge_postgres_startup_reply(pg_message('E', "SFATAL\0C57P03\0Mno end"sv));
  BOOST_TEST((r.verdict == Verdict::kFail));
  BOOST_TEST(contains(r.reason, "malformed PostgreSQL ErrorResponse"));

  BOOST_TEST((judge_postgres_startup_reply("").verdict == Verdict::kNeedMore));
}

// ---------------------------------------------------------------- judges on random input

BOOST_AUTO_TEST_CASE(judges_are_total_on_random_input) {
  std::mt19937 rng(20240611);  // fixed: a failure reproduces
  const std::string_view seeds[] = {"+OK\r\n+PONG\r\n", "$4\r\nPONG\r\n", "R\0\0\0\x08\0\0\0\0"sv,
                                    "E\0\0\0\x13SFATAL\0C57P03\0\0"sv, "Ecould not fork\n\0"sv};
  std::size_t decided = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string input(seeds[static_cast<std::size_t>(round) % std::size(seeds)]);
    // Mutate: flip, insert or cut a few bytes.
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !input.empty(); ++e) {
      const std::size_t at = rng() % input.size();
      switch (rng() % 3) {
        case 0:
          input[at] = static_cast<char>(rng() & 0xff);
          break;
        case 1:
          input.insert(at, 1, static_cast<char>(rng() & 0xff));
          break;
        default:
          input.resize(at);
          break;
      }
    }
    for (const Reply& r :
         {judge_redis_replies(input, true), judge_redis_replies(input, false), judge_postgres_startup_reply(input)}) {
      // A decision always comes with a reason (a failure must say why).
      if (r.verdict == Verdict::kFail) {
        BOOST_TEST_REQUIRE(!r.reason.empty());
        BOOST_TEST_REQUIRE(r.reason.size() < 1000u);
      }
      if (r.verdict != Verdict::kNeedMore) ++decided;
    }
  }
  BOOST_TEST(decided > 1000u);
}

// ---------------------------------------------------------------- nagios

BOOST_AUTO_TEST_CASE(nagios_check_disk) {
  PluginOutput out =
      parse_plugin_output("DISK OK - free space: / 3326 MB (56% inode=99%);| /=2643MB;5948;5958;0;5968\n");
  BOOST_TEST(out.status_text == "DISK OK - free space: / 3326 MB (56% inode=99%);");
  BOOST_TEST(out.long_text == "");
  BOOST_TEST(out.perfdata_errors.empty());
  BOOST_TEST_REQUIRE(out.perfdata.size() == 1u);
  const PerfDatum& d = out.perfdata[0];
  BOOST_TEST(d.label == "/");
  BOOST_TEST(d.value == 2643.0);
  BOOST_TEST(d.uom == "MB");
  BOOST_TEST(d.warn.value_or(-1) == 5948.0);
  BOOST_TEST(d.crit.value_or(-1) == 5958.0);
  BOOST_TEST(d.min.value_or(-1) == 0.0);
  BOOST_TEST(d.max.value_or(-1) == 5968.0);

  PerfSample s = to_base_units(d);
  BOOST_TEST(s.metric_label == "/");
  BOOST_TEST(s.unit == "bytes");
  BOOST_TEST(s.value == 2643.0 * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(nagios_check_tcp) {
  PluginOutput out = parse_plugin_output(
      "TCP OK - 0.000 second response time on 127.0.0.1 port 22|time=0.000123s;;;0.000000;10.000000");
  BOOST_TEST(out.status_text == "TCP OK - 0.000 second response time on 127.0.0.1 port 22");
  BOOST_TEST(out.perfdata_errors.empty());
  BOOST_TEST_REQUIRE(out.perfdata.size() == 1u);
  const PerfDatum& d = out.perfdata[0];
  BOOST_TEST(d.label == "time");
  BOOST_TEST(d.value == 0.000123);
  BOOST_TEST(d.uom == "s");
  BOOST_TEST(!d.warn.has_value());
  BOOST_TEST(!d.crit.has_value());
  BOOST_TEST(d.min.value_or(-1) == 0.0);
  BOOST_TEST(d.max.value_or(-1) == 10.0);
  PerfSample s = to_base_units(d);
  BOOST_TEST(s.unit == "seconds");
  BOOST_TEST(s.value == 0.000123);
}

BOOST_AUTO_TEST_CASE(nagios_check_dummy_has_no_perfdata) {
  PluginOutput out = parse_plugin_output("CRITICAL: disk 97 %\n");
  BOOST_TEST(out.status_text == "CRITICAL: disk 97 %");
  BOOST_TEST(out.long_text == "");
  BOOST_TEST(out.perfdata.empty());
  BOOST_TEST(out.perfdata_errors.empty());
}

BOOST_AUTO_TEST_CASE(nagios_quoted_labels) {
  PluginOutput out = parse_plugin_output("OK | 'free space'=5GB 'it''s'=3 'a=b'=1c ''''=2 plain=7");
  BOOST_TEST(out.status_text == "OK");
  BOOST_TEST(out.perfdata_errors.empty());
  BOOST_TEST_REQUIRE(out.perfdata.size() == 5u);
  BOOST_TEST(out.perfdata[0].label == "free space");
  BOOST_TEST(out.perfdata[0].value == 5.0);
  BOOST_TEST(out.perfdata[0].uom == "GB");
  BOOST_TEST(out.perfdata[1].label == "it's");
  BOOST_TEST(out.perfdata[2].label == "a=b");
  BOOST_TEST(out.perfdata[2].uom == "c");
  BOOST_TEST(out.perfdata[3].label == "'");
  BOOST_TEST(out.perfdata[4].label == "plain");
  BOOST_TEST(out.perfdata[4].value == 7.0);
}

BOOST_AUTO_TEST_CASE(nagios_long_output_and_second_perfdata_part) {
  PluginOutput out = parse_plugin_output(
      "DISK WARNING - free space: /var 100 MB (5%);| /var=1900MB;1800;1900;0;2000\n"
      "/var is filling up\n"
      "  biggest: /var/log/syslog | 'inode use'=80%;90;95\n"
      "other=1ms\n");
  BOOST_TEST(out.status_text == "DISK WARNING - free space: /var 100 MB (5%);");
  BOOST_TEST(out.long_text == "/var is filling up\n  biggest: /var/log/syslog");
  BOOST_TEST(out.perfdata_errors.empty());
  BOOST_TEST_REQUIRE(out.perfdata.size() == 3u);
  BOOST_TEST(out.perfdata[0].label == "/var");
  BOOST_TEST(out.perfdata[1].label == "inode use");
  BOOST_TEST(out.perfdata[1].value == 80.0);
  BOOST_TEST(out.perfdata[1].uom == "%");
  BOOST_TEST(out.perfdata[1].warn.value_or(-1) == 90.0);
  BOOST_TEST(out.perfdata[2].label == "other");
  BOOST_TEST(to_base_units(out.perfdata[2]).value == 0.001);

  // Long text without perfdata anywhere, CRLF line ends.
  out = parse_plugin_output("OK\r\nline one\r\nline two\r\n\r\n");
  BOOST_TEST(out.status_text == "OK");
  BOOST_TEST(out.long_text == "line one\nline two");
  BOOST_TEST(out.perfdata.empty());

  // Perfdata only in the long part.
  out = parse_plugin_output("OK\nsome text | a=1\n");
  BOOST_TEST(out.long_text == "some text");
  BOOST_TEST_REQUIRE(out.perfdata.size() == 1u);
  BOOST_TEST(out.perfdata[0].label == "a");
}

BOOST_AUTO_TEST_CASE(nagios_thresholds_ranges_are_not_numbers) {
  PluginOutput out = parse_plugin_output("OK | a=5;10:20;@0:5 b=5;~:5;10: c=5;@10;1 d=5%;80%;90%;0%;100%");
  BOOST_TEST(out.perfdata_errors.empty());
  BOOST_TEST_REQUIRE(out.perfdata.size() == 4u);
  BOOST_TEST(!out.perfdata[0].warn.has_value());
  BOOST_TEST(!out.perfdata[0].crit.has_value());
  BOOST_TEST(!out.perfdata[1].warn.has_value());
  BOOST_TEST(!out.perfdata[1].crit.has_value());
  BOOST_TEST(!out.perfdata[2].warn.has_value());  // "@10" alerts inside 0..10: a range
  BOOST_TEST(out.perfdata[2].crit.value_or(-1) == 1.0);
  // The unit repeated on thresholds is tolerated.
  BOOST_TEST(out.perfdata[3].warn.value_or(-1) == 80.0);
  BOOST_TEST(out.perfdata[3].max.value_or(-1) == 100.0);

  // A bad threshold is reported; the value survives.
  out = parse_plugin_output("OK | z=5;abc;1;x");
  BOOST_TEST_REQUIRE(out.perfdata.size() == 1u);
  BOOST_TEST(out.perfdata[0].value == 5.0);
  BOOST_TEST(!out.perfdata[0].warn.has_value());
  BOOST_TEST(out.perfdata[0].crit.value_or(-1) == 1.0);
  BOOST_TEST(!out.perfdata[0].min.has_value());
  BOOST_TEST_REQUIRE(out.perfdata_errors.size() == 2u);
  BOOST_TEST(contains(out.perfdata_errors[0], "perfdata item 1 'z=5;abc;1;x'"));
  BOOST_TEST(contains(out.perfdata_errors[0], "warn threshold 'abc'"));
  BOOST_TEST(contains(out.perfdata_errors[1], "min 'x'"));
}

BOOST_AUTO_TEST_CASE(nagios_malformed_items_are_named_and_the_rest_parse) {
  PluginOutput out = parse_plugin_output("OK | a=1 b=2 x=abc d=4");
  BOOST_TEST_REQUIRE(out.perfdata.size() == 3u);
  BOOST_TEST(out.perfdata[2].label == "d");
  BOOST_TEST_REQUIRE(out.perfdata_errors.size() == 1u);
  BOOST_TEST(contains(out.perfdata_errors[0], "perfdata item 3 'x=abc'"));
  BOOST_TEST(contains(out.perfdata_errors[0], "not a number"));

  // Item numbers run across both perfdata parts.
  out = parse_plugin_output("OK | a=1\nlong | b=oops");
  BOOST_TEST_REQUIRE(out.perfdata_errors.size() == 1u);
  BOOST_TEST(contains(out.perfdata_errors[0], "perfdata item 2 'b=oops'"));

  struct Case {
    std::string_view perf;
    std::string_view says;
  };
  const Case cases[] = {
      {"noequals", "no '='"},
      {"=5", "label is empty"},
      {"''=5", "label is empty"},
      {"'a'b=5", "no '='"},
      {"v=", "value is missing"},
      {"v=;1;2", "value is missing"},
      {"v=0,5", "decimal comma"},
      {"v=1.2.3", "not a number"},
      {"v=inf", "not a number"},
      {"v=nan", "not a number"},
      {"v=-", "not a number"},
      {"v=1e999", "not a number"},
      {"v=5ms/s", "not a number followed by a unit"},
      {"v=1;2;3;4;5;6", "more than 5"},
      {"'unclosed=5 b=1", "not closed"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.perf) {
      out = parse_plugin_output("OK | " + std::string(c.perf));
      BOOST_TEST(out.perfdata.empty());
      BOOST_TEST_REQUIRE(out.perfdata_errors.size() == 1u);
      BOOST_TEST(contains(out.perfdata_errors[0], "perfdata item 1"));
      BOOST_TEST(contains(out.perfdata_errors[0], c.says), out.perfdata_errors[0]);
    }
  }
}

BOOST_AUTO_TEST_CASE(nagios_value_forms) {
  PluginOutput out = parse_plugin_output("OK | a=1e3 b=-2.5e-1ms c=+4 d=.5 e=U;1;2 f=1;2;3;4;5;; g=3rpm h=5events");
  BOOST_TEST(out.perfdata_errors.empty());
  BOOST_TEST_REQUIRE(out.perfdata.size() == 7u);  // e is "undetermined": skipped
  BOOST_TEST(out.perfdata[0].value == 1000.0);
  BOOST_TEST(out.perfdata[1].value == -0.25);
  BOOST_TEST(out.perfdata[1].uom == "ms");
  BOOST_TEST(out.perfdata[2].value == 4.0);
  BOOST_TEST(out.perfdata[3].value == 0.5);
  BOOST_TEST(out.perfdata[4].label == "f");
  BOOST_TEST(out.perfdata[4].max.value_or(-1) == 5.0);
  BOOST_TEST(out.perfdata[5].uom == "rpm");
  BOOST_TEST(out.perfdata[6].value == 5.0);  // "5e" is not an exponent without digits
  BOOST_TEST(out.perfdata[6].uom == "events");
}

BOOST_AUTO_TEST_CASE(nagios_empty_and_garbage_output) {
  PluginOutput out = parse_plugin_output("");
  BOOST_TEST(out.status_text == "");
  BOOST_TEST(out.long_text == "");
  BOOST_TEST(out.perfdata.empty());
  BOOST_TEST(out.perfdata_errors.empty());

  out = parse_plugin_output("   \n\n");
  BOOST_TEST(out.status_text == "");
  BOOST_TEST(out.long_text == "");

  out = parse_plugin_output("\x00\xff|||\n|\x01="sv);
  BOOST_TEST(out.perfdata.empty());
  BOOST_TEST(!out.perfdata_errors.empty());
  for (const std::string& e : out.perfdata_errors) BOOST_TEST(!contains(e, "\x01"));

  // Random bytes never crash and never give a non-finite value.
  std::mt19937 rng(7);
  const std::string alphabet(R"(ab'=;:.-+e1%9 |@~U)"
                             "\n\r\x00\xff"sv);
  for (int round = 0; round < 5000; ++round) {
    std::string s;
    const std::size_t n = rng() % 40;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    out = parse_plugin_output(s);
    for (const PerfDatum& d : out.perfdata) {
      BOOST_TEST_REQUIRE(std::isfinite(d.value));
      BOOST_TEST_REQUIRE(!d.label.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(nagios_base_units) {
  auto base = [](double value, const std::string& uom) {
    PerfDatum d;
    d.label = "x";
    d.value = value;
    d.uom = uom;
    return to_base_units(d);
  };
  BOOST_TEST(base(2, "ms").value == 0.002);
  BOOST_TEST(base(2, "ms").unit == "seconds");
  BOOST_TEST(base(3, "us").value == 3e-6);
  BOOST_TEST(base(3, "s").value == 3.0);
  BOOST_TEST(base(1, "B").unit == "bytes");
  BOOST_TEST(base(2, "KB").value == 2048.0);
  BOOST_TEST(base(2, "kB").value == 2048.0);
  BOOST_TEST(base(1, "MB").value == 1048576.0);
  BOOST_TEST(base(1, "GB").value == 1073741824.0);
  BOOST_TEST(base(1, "TB").value == 1099511627776.0);
  BOOST_TEST(base(56, "%").unit == "percent");
  BOOST_TEST(base(56, "%").value == 56.0);
  BOOST_TEST(base(9, "c").unit == "total");
  BOOST_TEST(base(9, "").unit == "");
  BOOST_TEST(base(9, "").value == 9.0);
  BOOST_TEST(base(3000, "rpm").unit == "rpm");
  BOOST_TEST(base(3000, "rpm").value == 3000.0);
}

BOOST_AUTO_TEST_CASE(nagios_status_names) {
  BOOST_TEST(nagios_status_name(0) == "OK");
  BOOST_TEST(nagios_status_name(1) == "WARNING");
  BOOST_TEST(nagios_status_name(2) == "CRITICAL");
  BOOST_TEST(nagios_status_name(3) == "UNKNOWN");
  BOOST_TEST(nagios_status_name(4) == "UNKNOWN");
  BOOST_TEST(nagios_status_name(-1) == "UNKNOWN");
  BOOST_TEST(nagios_status_name(255) == "UNKNOWN");
}
