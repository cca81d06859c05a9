// tests/fuzz/procfs.cpp: every /proc parser (probes/procfs.hpp) on the same bytes.
//
// The kernel writes these files, but a recycled PID, a file read half-way
// through a change, a container's fake /proc (lxcfs) or a hostile FUSE mount
// can hand vigild anything. Each parser either returns a value within the
// bounds of its input or an error that names the file and stays short.
#include "probes/procfs.hpp"

#include <algorithm>
#include <cmath>

#include "tests/fuzz/fuzz.hpp"

using namespace vigil;
using namespace vigil::procfs;
using vigil::fuzz::kMaxMessage;

namespace {

std::size_t line_count(std::string_view s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')) + 1;
}

template <class T>
bool parsed(const Result<T>& r) {
  if (r) return true;
  FUZZ_CHECK(r.error().kind == ErrorKind::kParse);
  FUZZ_CHECK(!r.error().message.empty());
  FUZZ_CHECK(r.error().message.size() <= kMaxMessage);
  return false;
}

bool sane(double v) {
  return std::isfinite(v) && v >= 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vigil::fuzz::text_of(data, size);
  const std::size_t lines = line_count(text);

  if (auto r = parse_pid_stat(text); parsed(r)) {
    FUZZ_CHECK(r->pid > 0);
    FUZZ_CHECK(r->comm.size() < size);
    FUZZ_CHECK(text.find("(" + r->comm + ")") != std::string_view::npos);
    FUZZ_CHECK(r->num_threads >= 0 && r->rss_pages >= 0);
  }
  if (auto r = parse_pid_status(text); parsed(r)) {
    FUZZ_CHECK(!r->threads || *r->threads >= 0);
  }
  (void)parsed(parse_pid_io(text));
  (void)parsed(parse_pid_limits(text));
  const std::string cmdline = cmdline_to_string(text);
  FUZZ_CHECK(cmdline.size() <= size);
  FUZZ_CHECK(cmdline.find('\0') == std::string::npos);
  if (auto r = parse_pid_cgroup(text); parsed(r)) {
    FUZZ_CHECK(r->size() <= lines);
    for (const auto& line : *r) {
      FUZZ_CHECK(line.path.size() <= size);
      FUZZ_CHECK(line.controllers.size() <= size);
    }
  }
  if (auto r = parse_stat(text); parsed(r)) {
    FUZZ_CHECK(r->cpu_count >= 0);
    FUZZ_CHECK(static_cast<std::size_t>(r->cpu_count) <= lines);
  }
  (void)parsed(parse_meminfo(text));
  if (auto r = parse_loadavg(text); parsed(r)) {
    FUZZ_CHECK(sane(r->load1) && sane(r->load5) && sane(r->load15));
  }
  if (auto r = parse_diskstats(text); parsed(r)) {
    FUZZ_CHECK(r->size() <= lines);
    for (const auto& d : *r) {
      FUZZ_CHECK(!d.device.empty() && d.device.size() < size);
      (void)is_whole_disk_name(d.device);
    }
  }
  if (auto r = parse_net_dev(text); parsed(r)) {
    FUZZ_CHECK(r->size() <= lines);
    for (const auto& n : *r) FUZZ_CHECK(!n.interface.empty() && n.interface.size() < size);
  }
  if (auto r = parse_psi(text); parsed(r)) {
    FUZZ_CHECK(sane(r->some.avg10) && sane(r->some.avg60) && sane(r->some.avg300));
    if (r->full) FUZZ_CHECK(sane(r->full->avg10) && sane(r->full->avg60) && sane(r->full->avg300));
  }
  (void)parsed(parse_file_nr(text));
  if (auto r = parse_uptime(text); parsed(r)) FUZZ_CHECK(sane(*r));
  if (auto r = parse_mountinfo(text); parsed(r)) {
    FUZZ_CHECK(r->size() <= lines);
    for (const auto& m : *r) {
      // \ooo escapes only shrink a path.
      FUZZ_CHECK(m.mount_point.size() < size && m.source.size() < size && m.fs_type.size() < size);
      (void)is_pseudo_fs(m.fs_type);
      (void)is_network_fs(m.fs_type);
    }
  }
  return 0;
}
