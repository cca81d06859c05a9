// probes/checks/postgres.hpp: the postgres check kind, answering what pg_isready answers.
//
// The check speaks only the start of protocol 3.0: it sends a StartupMessage
// (no SSLRequest, no password) and judges the first backend message, then
// hangs up. Like libpq's PQping(), any authentication request, and any error
// other than "cannot connect now" (SQLSTATE 57P03: starting up, shutting
// down, in recovery), proves the server accepts connections: a wrong user or
// database is a configuration problem of this check, not an outage. Unlike
// PQping(), "too many connections" (53300) is a failure here, since the
// service's own clients are refused too. The judge is pure and total: it is
// called with everything received so far, returns kNeedMore only while a
// message is incomplete, and never reads past what it was given.
//
// Byte layout (PostgreSQL docs, "Message Formats"): every backend message
// is Byte1 type, Int32 length counting itself but not the type byte, then
// the body; integers are big-endian. An ErrorResponse body is a list of
// (Byte1 field code, NUL-terminated string) ended by a 0 byte.
#pragma once

#include <string>
#include <string_view>

#include "probes/checks/outcome.hpp"

namespace vigil {

// Largest backend message accepted before the first authentication request
// (an ErrorResponse with a long detail is a few hundred bytes).
inline constexpr std::size_t kPostgresMaxMessage = 64 * 1024;

// A StartupMessage for protocol 3.0 with user, database (omitted when empty:
// the server then uses the user name) and application_name "vigil". A NUL
// byte inside `user` or `database` would end the field early, so each is cut
// at its first NUL; the config validator should refuse those.
std::string postgres_startup_request(std::string_view user, std::string_view database);

// Judges the first backend message after the StartupMessage, skipping
// NoticeResponse messages. kOk reasons start with "accepting connections".
Reply judge_postgres_startup_reply(std::string_view received);

struct PostgresSettings {
  std::string address;
  std::string user = "vigil";
  std::string database = "postgres";
  bool operator==(const PostgresSettings&) const = default;
};

}  // namespace vigil
