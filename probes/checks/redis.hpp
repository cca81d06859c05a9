// probes/checks/redis.hpp: the redis check kind's request and reply judge.
//
// The check sends one request (an optional AUTH, then PING, as RESP arrays:
// inline commands are refused by some proxies and would put the password in
// a line-oriented log) and judges everything received so far after each read.
// The judge is pure and total: any input, truncated or hostile, gives
// kNeedMore only while a well-formed reply could still complete, and
// otherwise kOk ("PONG") or kFail with a reason a person can act on, quoting
// the server's own error text (made printable and bounded). Only RESP2 is
// expected: we never send HELLO, so a server never switches to RESP3.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "probes/checks/outcome.hpp"

namespace vigil {

// Longest simple-string, error or integer line accepted (and longest bulk
// string); a status reply is a few dozen bytes, so a longer one is garbage.
inline constexpr std::size_t kRedisMaxLine = 4096;

// `AUTH [username] password` (only when `password` is set: a username alone
// cannot authenticate, and the config validator refuses that case) followed
// by `PING`, both as RESP arrays of bulk strings.
std::string redis_ping_request(const std::optional<std::string>& username, const std::optional<std::string>& password);

// Judges the replies to redis_ping_request(). `with_auth` must be true exactly
// when the request carried AUTH (i.e. a password was given): the first reply
// must then be +OK. Bytes after the PING reply are ignored.
Reply judge_redis_replies(std::string_view received, bool with_auth);

struct RedisSettings {
  std::string address;
  std::string username;       // ACL user for AUTH (with password_file)
  std::string password_file;  // read at each run
  bool operator==(const RedisSettings&) const = default;
};

}  // namespace vigil
