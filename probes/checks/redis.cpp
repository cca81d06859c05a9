#include "probes/checks/redis.hpp"

#include <array>
#include <initializer_list>

#include "core/file_trust.hpp"
#include "core/text.hpp"
#include "probes/checks/kinds.hpp"
#include "probes/checks/tcp.hpp"

namespace vigil {

namespace {

constexpr std::size_t kExcerpt = 40;        // bytes of garbage quoted in a reason
constexpr std::size_t kErrorExcerpt = 200;  // bytes of a server's error text quoted in a reason

std::string resp_array(std::initializer_list<std::string_view> parts) {
  std::string out = "*" + std::to_string(parts.size()) + "\r\n";
  for (std::string_view part : parts) {
    out += "$" + std::to_string(part.size()) + "\r\n";
    out += part;
    out += "\r\n";
  }
  return out;
}

enum class Step { kNeedMore, kDone, kBad };

// One RESP2 reply, as far as a status check needs it.
struct RespReply {
  Step step = Step::kNeedMore;
  std::string why;        // kBad: for people
  char type = 0;          // '+', '-', ':', '$', '*'
  std::string_view text;  // the line after the type byte, or a bulk string's payload
  bool null = false;      // "$-1" / "*-1"
  std::size_t end = 0;    // index just past the reply
};

RespReply malformed_reply(std::string why) {
  RespReply r;
  r.step = Step::kBad;
  r.why = std::move(why);
  return r;
}

std::string first_bytes(std::string_view data, std::size_t from) {
  return "(first bytes: \"" + printable_excerpt(data.substr(from), kExcerpt) + "\")";
}

// Reads a CRLF-terminated line starting at `from` (just after a type byte).
// Only the first kRedisMaxLine + 2 bytes are looked at, whatever arrived.
RespReply read_line(std::string_view data, std::size_t reply_start, std::size_t from) {
  std::string_view rest = data.substr(from);
  std::size_t nl = rest.substr(0, kRedisMaxLine + 2).find('\n');
  if (nl == std::string_view::npos) {
    // Up to kRedisMaxLine bytes and the '\r' may still complete a line.
    if (rest.size() > kRedisMaxLine + 1) {
      return malformed_reply("a Redis reply line is longer than " + std::to_string(kRedisMaxLine) + " bytes " +
                             first_bytes(data, reply_start));
    }
    return {};
  }
  if (nl == 0 || rest[nl - 1] != '\r') {
    return malformed_reply("not a Redis reply: a line ends in \\n without \\r " + first_bytes(data, reply_start));
  }
  RespReply r;
  r.step = Step::kDone;
  r.text = rest.substr(0, nl - 1);
  r.end = from + nl + 1;
  return r;
}

RespReply read_reply(std::string_view data, std::size_t start) {
  if (start >= data.size()) return {};
  const char type = data[start];
  if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') {
    return malformed_reply("not a Redis reply " + first_bytes(data, start));
  }
  RespReply r = read_line(data, start, start + 1);
  if (r.step != Step::kDone) return r;
  r.type = type;
  if (type != '$' && type != '*') return r;

  auto count = to_i64(r.text);
  if (!count || *count < -1) {
    return malformed_reply(std::string("not a Redis reply: length \"") + printable_excerpt(r.text, kExcerpt) +
                           "\" after '" + type + "' is not a count " + first_bytes(data, start));
  }
  if (*count == -1) {
    r.null = true;
    r.text = {};
    return r;
  }
  if (type == '*') return r;  // never a valid answer here; the caller names it, no need to read the elements
  const auto size = static_cast<std::size_t>(*count);
  if (size > kRedisMaxLine) {
    return malformed_reply("a Redis bulk reply of " + std::to_string(size) +
                           " bytes where a short status was expected " + "(limit " + std::to_string(kRedisMaxLine) +
                           " bytes)");
  }
  const std::size_t payload = r.end;
  if (data.size() < payload + size + 2) return {};
  if (data.substr(payload + size, 2) != "\r\n") {
    return malformed_reply("not a Redis reply: a bulk string is not followed by \\r\\n " + first_bytes(data, start));
  }
  r.text = data.substr(payload, size);
  r.end = payload + size + 2;
  return r;
}

std::string describe(const RespReply& r) {
  switch (r.type) {
    case '+':
      return "+" + printable_excerpt(r.text, kExcerpt);
    case ':':
      return "integer " + printable_excerpt(r.text, kExcerpt);
    case '$':
      return r.null ? std::string("a null bulk string") : "bulk string \"" + printable_excerpt(r.text, kExcerpt) + "\"";
    case '*':
      return r.null ? std::string("a null array") : "an array of " + std::string(r.text) + " elements";
    default:
      return "-" + printable_excerpt(r.text, kExcerpt);
  }
}

// `text` is an error reply without its '-': "WRONGPASS invalid username-password pair ...".
// The first word is the error code, by Redis convention.
std::string error_reason(std::string_view text, std::string_view command) {
  const std::string said = printable_excerpt(text, kErrorExcerpt);
  const std::string_view code = text.substr(0, text.find(' '));
  if (code == "NOAUTH") return "the server needs a password: set password_file (server said: " + said + ")";
  if (code == "LOADING") return "Redis is loading the dataset into memory, not serving yet (server said: " + said + ")";
  // Protected mode answers whatever the command was, and closes.
  if (code == "DENIED") return "the server refused this client (server said: " + said + ")";
  if (command == "AUTH") return "AUTH refused: " + said;
  return std::string(command) + " failed: " + said;
}

}  // namespace

std::string redis_ping_request(const std::optional<std::string>& username, const std::optional<std::string>& password) {
  std::string out;
  if (password) {
    out += username ? resp_array({"AUTH", *username, *password}) : resp_array({"AUTH", *password});
  }
  out += resp_array({"PING"});
  return out;
}

Reply judge_redis_replies(std::string_view received, bool with_auth) {
  std::size_t pos = 0;
  if (with_auth) {
    RespReply auth = read_reply(received, pos);
    if (auth.step == Step::kNeedMore) return Reply::need_more();
    if (auth.step == Step::kBad) return Reply::fail(auth.why);
    if (auth.type == '-') return Reply::fail(error_reason(auth.text, "AUTH"));
    if (auth.type != '+' || auth.text != "OK") return Reply::fail("unexpected reply to AUTH: " + describe(auth));
    pos = auth.end;
  }
  RespReply ping = read_reply(received, pos);
  if (ping.step == Step::kNeedMore) return Reply::need_more();
  if (ping.step == Step::kBad) return Reply::fail(ping.why);
  if (ping.type == '-') return Reply::fail(error_reason(ping.text, "PING"));
  // A bulk "PONG" is not what Redis sends to a bare PING, but it is still a live server answering.
  if ((ping.type == '+' || (ping.type == '$' && !ping.null)) && ping.text == "PONG") return Reply::ok("PONG");
  return Reply::fail("unexpected reply to PING: " + describe(ping));
}

namespace {

const RedisSettings& redis(const CheckSpec& c) {
  return c.settings.as<RedisSettings>();
}

// AUTH and PING for one run: the password file is read now, so that a
// rotated password is picked up without a restart.
Result<TcpDialog> redis_dialog(const RedisSettings& s) {
  std::optional<std::string> password;
  if (!s.password_file.empty()) {
    auto text = read_trusted_file(s.password_file, 64 * 1024);
    if (!text) return fail(text.error().kind, "password_file " + s.password_file + " " + text.error().message);
    std::string p(trim(*text));
    if (p.empty()) return fail(ErrorKind::kInvalid, "password_file " + s.password_file + " is empty");
    password = std::move(p);
  }
  std::optional<std::string> user;
  if (!s.username.empty()) user = s.username;
  const bool with_auth = password.has_value();
  return TcpDialog{redis_ping_request(user, password),
                   [with_auth](std::string_view received) { return judge_redis_replies(received, with_auth); },
                   with_auth ? "no answer to AUTH and PING yet" : "no answer to PING yet"};
}

}  // namespace

const CheckKindInfo& redis_check_kind() {
  static const std::array<Key<KindSettings>, 3> keys = {
      kind_key<&RedisSettings::address>("address", ValueType::kText, 0, 0,
                                        "HOST:PORT with a numeric host or localhost, e.g. \"127.0.0.1:6379\""),
      kind_key<&RedisSettings::username>("username", ValueType::kText, 0, 0, "an ACL user name for AUTH"),
      kind_key<&RedisSettings::password_file>("password_file", ValueType::kPath, 0, 0,
                                              "a file holding the password for AUTH (read at each run)"),
  };
  static const CheckKindInfo info{
      CheckKind::kRedis,
      "Sends PING (after AUTH when password_file is set) and passes on PONG; a server error such as NOAUTH or "
      "LOADING is the reason.",
      keys,
      [] { return KindSettings::of(RedisSettings{}); },
      [](const CheckSpec& c, KeyProblems& p) {
        validate_tcp_address(redis(c).address, "redis", "127.0.0.1:6379", p);
        if (!redis(c).username.empty() && redis(c).password_file.empty()) {
          p.missing("password_file", "a username needs a password_file for AUTH");
        }
      },
      [](CheckContext& context, const CheckSpec& c) {
        RedisSettings s = redis(c);
        return make_tcp_runner(context, c, s.address, [s] { return redis_dialog(s); });
      },
  };
  return info;
}

}  // namespace vigil
