// tests/fuzz/cgroup.cpp: the cgroup file parsers (probes/cgroup.hpp).
//
// memory.max, pids.max, memory.limit_in_bytes (one value or "max"), the
// flat-keyed files (memory.events, cpu.stat, memory.stat) and the block I/O
// files (v1 blkio.throttle.*, v2 io.stat): a value comes back as read,
// every key of a parsed flat-keyed file is one of its lines, block I/O
// totals written back in the file's own form read the same, and an error
// stays short whatever the file held.
#include "probes/cgroup.hpp"

#include <algorithm>

#include "tests/fuzz/fuzz.hpp"

using namespace vigil;
using vigil::fuzz::kMaxMessage;

namespace {

void check_error(const Error& e) {
  FUZZ_CHECK(e.kind == ErrorKind::kParse);
  FUZZ_CHECK(!e.message.empty());
  FUZZ_CHECK(e.message.size() <= kMaxMessage);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vigil::fuzz::text_of(data, size);

  if (auto limit = parse_cgroup_limit(text)) {
    // A limit is either "max" or a number below the "unlimited" threshold.
    if (*limit) FUZZ_CHECK(**limit < (std::uint64_t{1} << 62));
  } else {
    check_error(limit.error());
  }

  if (auto keyed = parse_flat_keyed(text)) {
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    FUZZ_CHECK(keyed->size() <= lines);
    // Round trip: the map written back as "key value" lines reads the same.
    std::string again;
    for (const auto& [key, value] : *keyed) {
      FUZZ_CHECK(!key.empty());
      FUZZ_CHECK(text.find(key) != std::string_view::npos);
      again += key + " " + std::to_string(value) + "\n";
    }
    auto reread = parse_flat_keyed(again);
    FUZZ_CHECK(reread.has_value());
    FUZZ_CHECK(*reread == *keyed);
  } else {
    check_error(keyed.error());
  }

  if (auto blkio = parse_blkio_throttle(text)) {
    const std::string again =
        "8:0 Read " + std::to_string(blkio->first) + "\n8:0 Write " + std::to_string(blkio->second) + "\nTotal 0\n";
    auto reread = parse_blkio_throttle(again);
    FUZZ_CHECK(reread.has_value());
    FUZZ_CHECK(*reread == *blkio);
  } else {
    check_error(blkio.error());
  }

  if (auto io = parse_io_stat(text)) {
    const std::string again = "8:0 rbytes=" + std::to_string(io->read_bytes) +
                              " wbytes=" + std::to_string(io->write_bytes) + " rios=" + std::to_string(io->reads) +
                              " wios=" + std::to_string(io->writes) + " dbytes=0 dios=0\n";
    auto reread = parse_io_stat(again);
    FUZZ_CHECK(reread.has_value());
    FUZZ_CHECK(*reread == *io);
  } else {
    check_error(io.error());
  }
  return 0;
}
