// core/text.hpp: small pure helpers for parsing kernel text and config values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace vigil {

std::string_view trim(std::string_view s);
// Splits on runs of spaces/tabs; no empty fields.
std::vector<std::string_view> split_ws(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);

// "1 target", "3 targets", "0 checks": a count with its noun, singular for 1.
std::string count_of(std::size_t n, std::string_view noun);
// Lines without their '\n'; a trailing newline does not make an empty line.
std::vector<std::string_view> lines(std::string_view s);

std::optional<std::uint64_t> to_u64(std::string_view s);
std::optional<std::int64_t> to_i64(std::string_view s);
std::optional<double> to_double(std::string_view s);
// A finite number written in full, as strtod reads it ("1e3", "+2.5",
// "0x10"); nullopt for anything else (trailing text, inf, nan, overflow).
std::optional<double> parse_number(std::string_view s);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidates within a small distance of `word`, closest first.
std::vector<std::string> close_matches(std::string_view word, const std::vector<std::string>& candidates,
                                       std::size_t max_results = 3);

// Shell-style glob: '*', '?', and '[...]' classes.
bool glob_match(std::string_view pattern, std::string_view text);

// "first 80 bytes: ..." style excerpt for messages: at most `max` bytes,
// control characters and non-ASCII shown as \xNN, "..." when cut.
std::string printable_excerpt(std::string_view data, std::size_t max = 80);

// strerror() as part of a sentence: "connection refused", "no route to host".
std::string errno_reason(int err);

// "SIGUSR1", "USR1", "usr1" or "10": the signal number, or 0.
int signal_number(std::string_view name);
// 10 -> "SIGUSR1".
std::string signal_name(int sig);

// Reads a whole small file (procfs, sysfs, pidfiles). ENOENT/ESRCH/ENODEV
// give ErrorKind::kNotFound. `limit` caps what is read.
Result<std::string> read_file(const std::string& path, std::size_t limit = 1 << 20);

}  // namespace vigil
