// config/help.hpp: the key reference, written from the key tables.
//
// --help and the man page list keys from the same tables the loader reads,
// so neither can drift from what is accepted.
#pragma once

#include <string>

namespace vigil {

// Every section's key names, one line each (for vigild --help).
std::string keys_help();

// Every key with what a valid value is, as roff for vigild(8): one .SS per
// section, one .TP per key; check and target kinds with their summaries.
std::string keys_man();

}  // namespace vigil
