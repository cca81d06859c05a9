#define BOOST_TEST_MODULE probes_kept_file
#include "probes/kept_file.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "tests/requirements.hpp"

using namespace vigil;
namespace fs = std::filesystem;

namespace {
bool is(ErrorKind a, ErrorKind b) {
  return a == b;
}
}  // namespace

// A seq_file that shows a record at a time (mountinfo, net/dev, maps)
// returns about a page per read, however large the buffer: it is read to
// EOF, not to the first short read (which lost every mount after the first
// 4 KiB of mountinfo on a host with containers). /proc/self/maps, made long
// here with 300 mappings that cannot merge, is such a file.
BOOST_AUTO_TEST_CASE(a_file_shown_by_record_is_read_to_its_end) {
  const long page = ::sysconf(_SC_PAGESIZE);
  std::vector<void*> maps;
  for (int i = 0; i < 300; ++i) {
    void* m = ::mmap(nullptr, static_cast<std::size_t>(page), i % 2 == 0 ? PROT_READ : PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    BOOST_REQUIRE(m != MAP_FAILED);
    maps.push_back(m);
  }
  UniqueFd slot;
  auto kept = read_kept(slot, "/proc/self/maps", true, OnGone::kAbsent, 1 << 20);
  BOOST_TEST_REQUIRE(kept.has_value());
  BOOST_TEST_REQUIRE(kept->size() > 3u * 4096u);  // several pages: the case this is about
  // Every mapping made above is in what was read (the file as a whole may
  // change between two reads: a sanitizer's allocator maps as it goes).
  std::size_t found = 0;
  for (void* m : maps) {
    char start[32];
    std::snprintf(start, sizeof start, "\n%lx-", static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(m)));
    found += kept->find(start) != std::string::npos;
  }
  BOOST_TEST(found == maps.size());
  for (void* m : maps) ::munmap(m, static_cast<std::size_t>(page));
}

BOOST_AUTO_TEST_CASE(rereads_from_the_start_through_the_kept_fd) {
  char tmpl[] = "/tmp/vigil-kept-XXXXXX";
  BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string path = std::string(tmpl) + "/f";
  std::ofstream(path) << "first";
  UniqueFd slot;
  BOOST_TEST(*read_kept(slot, path, true, OnGone::kAbsent) == "first");
  BOOST_TEST(slot.valid());
  const int kept = slot.get();
  std::ofstream(path, std::ios::trunc) << "second, longer";  // same inode
  BOOST_TEST(*read_kept(slot, path, true, OnGone::kAbsent) == "second, longer");
  BOOST_TEST(slot.get() == kept);
  // keep = false: read and close.
  UniqueFd none;
  BOOST_TEST(*read_kept(none, path, false, OnGone::kAbsent) == "second, longer");
  BOOST_TEST(!none.valid());
  // Content larger than the buffer comes back whole, up to the limit.
  std::string big(100000, 'x');
  std::ofstream(path, std::ios::trunc) << big;
  BOOST_TEST(read_kept(slot, path, true, OnGone::kAbsent, 1 << 20)->size() == big.size());
  BOOST_TEST(read_kept(slot, path, true, OnGone::kAbsent, 4096)->size() == 4096u);
  fs::remove_all(tmpl);
  UniqueFd missing;
  auto r = read_kept(missing, path, true, OnGone::kAbsent);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(is(r.error().kind, ErrorKind::kNotFound));
}

BOOST_AUTO_TEST_CASE(a_kept_fd_of_an_exited_process_reads_as_absent) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  const std::string path = "/proc/" + std::to_string(child) + "/status";
  UniqueFd slot;
  BOOST_REQUIRE(read_kept(slot, path, true, OnGone::kAbsent).has_value());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto r = read_kept(slot, path, true, OnGone::kAbsent);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(is(r.error().kind, ErrorKind::kNotFound));
  BOOST_TEST(!slot.valid());
}

VIGIL_REQUIREMENT("v1_cgroups", []() -> std::optional<std::string> {
  if (geteuid() == 0 && fs::exists("/sys/fs/cgroup/pids/cgroup.procs")) return std::nullopt;
  return std::string("needs root and a cgroup v1 pids hierarchy at /sys/fs/cgroup/pids");
});
BOOST_AUTO_TEST_CASE(kept_files_reopen_a_recreated_cgroup_and_forget_unused_ones,
                     *boost::unit_test::label("v1_cgroups")) {
  const std::string dir = "/sys/fs/cgroup/pids/vigil-kept-test-" + std::to_string(getpid());
  BOOST_REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  KeptFiles files;
  const std::string file = dir + "/pids.current";
  BOOST_TEST(files.read(file).has_value());
  BOOST_TEST(files.size() == 1u);
  BOOST_REQUIRE(::rmdir(dir.c_str()) == 0);
  BOOST_REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  auto again = files.read(file);  // the old fd says ENODEV; the path is opened afresh
  BOOST_TEST(again.has_value());
  BOOST_TEST(files.size() == 1u);
  ::rmdir(dir.c_str());
  auto gone = files.read(file);
  BOOST_REQUIRE(!gone.has_value());
  BOOST_TEST(is(gone.error().kind, ErrorKind::kNotFound));
  BOOST_TEST(files.size() == 0u);

  std::ofstream("/tmp/vigil-kept-unused-" + std::to_string(getpid())) << "x";
  const std::string plain = "/tmp/vigil-kept-unused-" + std::to_string(getpid());
  BOOST_TEST(files.read(plain).has_value());
  files.forget_unused();  // read since the last call: kept
  BOOST_TEST(files.size() == 1u);
  files.forget_unused();  // not read since: closed
  BOOST_TEST(files.size() == 0u);
  fs::remove(plain);
}
