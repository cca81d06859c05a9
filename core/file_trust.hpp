// core/file_trust.hpp: files vigild trusts (its configuration, credentials)
// and the environment it hands to the programs it starts.
//
// A file that any local user can write is as good as theirs: a config that
// names the commands vigild runs as root, or a token it sends. vigild
// refuses such files rather than warn (README, "Threat model").
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace vigil {

// Why a file of this mode must not be trusted, e.g. "is writable by other
// users (mode 0666)", or nullopt. Pure: the decision of read_trusted_file().
std::optional<std::string> untrusted_mode(mode_t mode);

// Reads a configuration or secret file of at most `limit` bytes (more is
// read only to `limit`): it must be a regular file that other users cannot
// write. The check is made on the file opened (fstat), not on its name.
// An error's message follows the path in a sentence ("PATH is writable by
// other users (mode 0666): ...; run chmod o-w PATH", "PATH cannot be opened
// (no such file or directory)"): the caller writes the path first.
Result<std::string> read_trusted_file(const std::string& path, std::size_t limit);

// Whether an entry "NAME=value" of vigild's own environment passes to a
// program vigild starts (exec checks and actions, `start` targets). Only
// what a program needs to behave as it would in a shell passes: PATH, HOME,
// USER, LOGNAME, SHELL, TMPDIR, TERM, TZ, LANG, LANGUAGE and LC_*. The rest
// (tokens, VIGIL_* settings, NOTIFY_SOCKET and other systemd hand-overs)
// stays with vigild; a check's `env` table sets what else it needs.
bool passed_to_children(std::string_view entry);

}  // namespace vigil
