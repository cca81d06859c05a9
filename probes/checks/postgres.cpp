#include "probes/checks/postgres.hpp"

#include <array>
#include <cstdint>
#include <optional>

#include "probes/checks/kinds.hpp"
#include "probes/checks/tcp.hpp"

namespace vigil {

namespace {

constexpr std::uint32_t kProtocol30 = 3u << 16;  // major 3, minor 0: 196608
constexpr std::size_t kExcerpt = 40;             // bytes of garbage quoted in a reason
constexpr std::size_t kMessageExcerpt = 200;     // bytes of a server's message quoted in a reason
// A pre-3.0 style error ('E', text, NUL) is short: the postmaster formats it
// into a 1000-byte buffer when it cannot fork a backend.
constexpr std::size_t kMaxV2Error = 1000;

void put_u32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

std::uint32_t get_u32(std::string_view s, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
}

void put_cstring(std::string& out, std::string_view s) {
  out += s.substr(0, s.find('\0'));
  out.push_back('\0');
}

Reply not_postgres(std::string_view received, std::size_t from) {
  return Reply::fail("not a PostgreSQL reply (first bytes: \"" + printable_excerpt(received.substr(from), kExcerpt) +
                     "\")");
}

struct ErrorFields {
  std::string_view severity;  // V when present (never localized), else S
  std::string_view sqlstate;  // C
  std::string_view message;   // M
};

// Parses an ErrorResponse body; nullopt when a field runs past the body.
std::optional<ErrorFields> parse_error_fields(std::string_view body) {
  ErrorFields out;
  std::string_view localized_severity;
  std::size_t pos = 0;
  while (true) {
    if (pos >= body.size()) return std::nullopt;  // no terminating 0 byte
    const char code = body[pos++];
    if (code == '\0') break;
    const std::size_t nul = body.find('\0', pos);
    if (nul == std::string_view::npos) return std::nullopt;
    const std::string_view value = body.substr(pos, nul - pos);
    pos = nul + 1;
    switch (code) {
      case 'S':
        localized_severity = value;
        break;
      case 'V':
        out.severity = value;
        break;
      case 'C':
        out.sqlstate = value;
        break;
      case 'M':
        out.message = value;
        break;
      default:
        break;  // the protocol says to ignore unknown field codes
    }
  }
  if (out.severity.empty()) out.severity = localized_severity;
  return out;
}

Reply judge_error(std::string_view body) {
  auto fields = parse_error_fields(body);
  if (!fields) {
    return Reply::fail("malformed PostgreSQL ErrorResponse (body: \"" + printable_excerpt(body, kExcerpt) + "\")");
  }
  const std::string said =
      fields->message.empty() ? std::string("(no message)") : printable_excerpt(fields->message, kMessageExcerpt);
  // SQLSTATE 57P03 cannot_connect_now: starting up, shutting down, or in recovery without hot standby.
  if (fields->sqlstate == "57P03") return Reply::fail("not accepting connections: " + said);
  // 53300 too_many_connections: PQping() counts this as up, but every new client is refused.
  if (fields->sqlstate == "53300") return Reply::fail("too many connections: " + said);
  // libpq reports "no response" for an error without a SQLSTATE; no server since 7.4 sends one.
  if (fields->sqlstate.size() != 5) return Reply::fail("PostgreSQL error without a SQLSTATE: " + said);
  return Reply::ok("accepting connections (server said: " + said + ")");
}

// The postmaster reports a failed fork() before it has read the startup
// packet's protocol, in the pre-3.0 format: 'E', text, NUL, without a length.
// Its "length" then reads as text (> kPostgresMaxMessage); tell it from
// garbage by the text itself. `from` is at the 'E'.
Reply judge_v2_error(std::string_view received, std::size_t from) {
  const std::string_view rest = received.substr(from + 1);
  for (std::size_t i = 0; i < rest.size() && i < kMaxV2Error; ++i) {
    const auto c = static_cast<unsigned char>(rest[i]);
    if (c == 0) {
      std::string_view text = rest.substr(0, i);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
      return Reply::fail("not accepting connections: " + printable_excerpt(text, kMessageExcerpt));
    }
    // Text, possibly localized (UTF-8): no control bytes but line ends and tabs.
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return not_postgres(received, from);
  }
  if (rest.size() >= kMaxV2Error) return not_postgres(received, from);
  return Reply::need_more();
}

}  // namespace

std::string postgres_startup_request(std::string_view user, std::string_view database) {
  std::string body;
  put_u32(body, kProtocol30);
  put_cstring(body, "user");
  put_cstring(body, user);
  if (!database.empty()) {
    put_cstring(body, "database");
    put_cstring(body, database);
  }
  put_cstring(body, "application_name");
  put_cstring(body, "vigil");
  body.push_back('\0');  // end of the parameter list

  std::string out;
  put_u32(out, static_cast<std::uint32_t>(body.size() + 4));
  out += body;
  return out;
}

Reply judge_postgres_startup_reply(std::string_view received) {
  std::size_t pos = 0;
  while (true) {
    if (pos >= received.size()) return Reply::need_more();
    const char type = received[pos];
    // What a server may send before authentication completes: an
    // authentication request, a protocol downgrade, an error, or notices.
    if (type != 'R' && type != 'v' && type != 'E' && type != 'N') return not_postgres(received, pos);
    if (received.size() - pos < 5) {
      // A pre-3.0 error shows itself by its second byte (a length's first byte is 0).
      if (type == 'E' && received.size() - pos >= 2 && received[pos + 1] != '\0') return judge_v2_error(received, pos);
      return Reply::need_more();
    }
    const std::uint32_t length = get_u32(received, pos + 1);
    if (length < 4 || length > kPostgresMaxMessage) {
      if (type == 'E' && received[pos + 1] != '\0') return judge_v2_error(received, pos);
      return not_postgres(received, pos);
    }
    if (received.size() - pos - 1 < length) return Reply::need_more();
    const std::string_view body = received.substr(pos + 5, length - 4);
    switch (type) {
      case 'R':
        // Int32 subtype: 0 ok (trust), 3 password, 5 md5, 10 SASL, ... Any of
        // them means the server would let a client in with the right secret.
        if (body.size() < 4) return not_postgres(received, pos);
        return Reply::ok("accepting connections");
      case 'v':
        return Reply::ok("accepting connections");
      case 'E':
        return judge_error(body);
      default:  // 'N': a NoticeResponse may precede the answer
        pos += 1 + length;
        continue;
    }
  }
}

const CheckKindInfo& postgres_check_kind() {
  static const std::array<Key<KindSettings>, 3> keys = {
      kind_key<&PostgresSettings::address>("address", ValueType::kText, 0, 0,
                                           "HOST:PORT with a numeric host or localhost, e.g. \"127.0.0.1:5432\""),
      kind_key<&PostgresSettings::user>("user", ValueType::kText, 0, 0,
                                        "the user name in the startup message (default \"vigil\")"),
      kind_key<&PostgresSettings::database>("database", ValueType::kText, 0, 0,
                                            "the database in the startup message (default \"postgres\")"),
  };
  static const CheckKindInfo info{
      CheckKind::kPostgres,
      "Sends the startup message and reads the first answer, as pg_isready does: an authentication request or "
      "ReadyForQuery passes (no password is needed); an error such as \"the database system is starting up\" is "
      "the reason.",
      keys,
      [] { return KindSettings::of(PostgresSettings{}); },
      [](const CheckSpec& c, KeyProblems& p) {
        validate_tcp_address(c.settings.as<PostgresSettings>().address, "postgres", "127.0.0.1:5432", p);
      },
      [](CheckContext& context, const CheckSpec& c) {
        const auto& s = c.settings.as<PostgresSettings>();
        TcpDialog dialog{postgres_startup_request(s.user, s.database), &judge_postgres_startup_reply,
                         "no answer to the startup message yet"};
        return make_tcp_runner(context, c, s.address, [dialog] { return Result<TcpDialog>(dialog); });
      },
  };
  return info;
}

}  // namespace vigil
