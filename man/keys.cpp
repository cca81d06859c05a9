// man/keys.cpp: writes vigild(8) from its template, with the configuration
// key reference (config/help.hpp) in place of the line @CONFIG_KEYS@.
//
// The key lists of the man page come from the tables the loader reads, so a
// new check kind or key is documented by the row that adds it.
//
// Usage: vigild-man-keys TEMPLATE OUTPUT
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "config/help.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: vigild-man-keys TEMPLATE OUTPUT\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "vigild-man-keys: cannot read " << argv[1] << "\n";
    return 1;
  }
  std::ostringstream out;
  std::string line;
  int placed = 0;
  while (std::getline(in, line)) {
    if (line == "@CONFIG_KEYS@") {
      out << vigil::keys_man();
      ++placed;
    } else {
      out << line << "\n";
    }
  }
  if (placed != 1) {
    std::cerr << "vigild-man-keys: " << argv[1] << " must hold the line @CONFIG_KEYS@ exactly once (found " << placed
              << ")\n";
    return 1;
  }
  std::ofstream file(argv[2], std::ios::trunc);
  file << out.str();
  if (!file.flush()) {
    std::cerr << "vigild-man-keys: cannot write " << argv[2] << "\n";
    return 1;
  }
  return 0;
}
