#define BOOST_TEST_MODULE probes_process
#include "probes/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "core/text.hpp"
#include "probes/deadline_read.hpp"
#include "test_support.hpp"

using namespace vigil;
using vigil::testing::fixtures;
using vigil::testing::ScratchCopy;
using vigil::testing::value_of;

namespace {

ProcessTable fixture_table() {
  ProcessTable table(fixtures() + "/proc");
  auto r = table.refresh();
  BOOST_TEST_REQUIRE(r.has_value());
  return table;
}

bool contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

BOOST_AUTO_TEST_CASE(refresh_reads_every_process) {
  ProcessTable table = fixture_table();
  BOOST_TEST(table.entries().size() == 6u);
  BOOST_TEST(table.boot_time_seconds() == 1700000000u);
  const ProcessEntry* gw = table.find(100);
  BOOST_TEST_REQUIRE(gw != nullptr);
  BOOST_TEST(gw->stat.comm == "a) b");
  BOOST_TEST(gw->stat.ppid == 1);
  BOOST_TEST(gw->stat_fd.valid());
  BOOST_TEST(table.find(2)->stat.is_kernel_thread());
  BOOST_TEST(table.find(103)->stat.state == 'Z');
  BOOST_TEST(table.find(4242) == nullptr);

  // A second refresh re-reads through the cached fds and keeps them.
  const int fd_before = gw->stat_fd.get();
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  BOOST_TEST(table.find(100)->stat_fd.get() == fd_before);
  BOOST_TEST(table.entries().size() == 6u);
}

BOOST_AUTO_TEST_CASE(refresh_of_missing_root_fails) {
  ProcessTable table(fixtures() + "/no-such-proc");
  auto r = table.refresh();
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().kind == ErrorKind::kNotFound));
}

BOOST_AUTO_TEST_CASE(tree_is_roots_first_then_descendants) {
  ProcessTable table = fixture_table();
  const auto t = table.tree({100});
  BOOST_TEST((t == std::vector<int>{100, 101, 103, 102}));
  const auto all = table.tree({1, 100});  // a root inside another root's tree appears once
  BOOST_TEST(all.size() == 5u);
  BOOST_TEST(all[0] == 1);
  BOOST_TEST(all[1] == 100);
  BOOST_TEST(!contains(all, 2));
  // A root that is gone stays in place so that positions still tell roots.
  BOOST_TEST((table.tree({999}) == std::vector<int>{999}));
}

BOOST_AUTO_TEST_CASE(matching_uses_cmdline_and_skips_kthreads_and_zombies) {
  ProcessTable table = fixture_table();
  BOOST_TEST((ProcessMatcher(std::regex("/usr/bin/gateway")).matching(table) == std::vector<int>{100, 101}));
  BOOST_TEST((ProcessMatcher(std::regex("--port 8080$")).matching(table) == std::vector<int>{100}));
  BOOST_TEST((ProcessMatcher(std::regex("sleep 1")).matching(table) == std::vector<int>{102}));
  // kthreadd and the zombie have empty command lines; ".*" must not pick them.
  const auto any = ProcessMatcher(std::regex(".*")).matching(table);
  BOOST_TEST((any == std::vector<int>{1, 100, 101, 102}));
  BOOST_TEST_REQUIRE(table.cmdline(100) != nullptr);
  BOOST_TEST(*table.cmdline(100) == "/usr/bin/gateway --port 8080");
  BOOST_TEST(table.cmdline(4242) == nullptr);
}

BOOST_AUTO_TEST_CASE(collect_tree_sums_the_tree) {
  ProcessTable table = fixture_table();
  const auto pids = table.tree({100});
  const TreeStats s = collect_tree(table, pids, 1);
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  BOOST_TEST(s.main_pid == 100);
  BOOST_TEST(s.processes == 4);
  BOOST_TEST(s.children == 3);
  BOOST_TEST(s.zombies == 1);
  BOOST_TEST(s.threads == 4 + 2 + 1 + 1);
  BOOST_TEST(s.resident_bytes == (5000u + 1000u + 500u + 0u) * page);
  BOOST_TEST(s.cpu_seconds == 18.6, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(s.main_start_ms == (1700000000LL * 1000 + 123450));
  BOOST_TEST(s.max_fds.value() == 1024u);
  // Fixture fd directories hold 4, 3 and 2 entries; the zombie has none.
  BOOST_TEST(s.open_fds.value() == 9u);
  // 102 has no io file (as without io accounting): counted, io summed without it.
  BOOST_TEST(s.read_bytes.value() == (100u + 101u + 103u) * 4096u);
  BOOST_TEST(s.write_bytes.value() == (100u + 101u + 103u) * 8192u);
  BOOST_TEST(s.voluntary_ctxt_switches.value() == 150u + 40u + 7u + 3u);
  BOOST_TEST(s.nonvoluntary_ctxt_switches.value() == 12u + 4u + 1u + 2u);
}

BOOST_AUTO_TEST_CASE(process_vanishing_between_refresh_and_collect_is_skipped) {
  ScratchCopy proc("proc");
  ProcessTable table(proc.path());
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  const auto pids = table.tree({100});
  BOOST_TEST_REQUIRE(pids.size() == 4u);
  std::filesystem::remove_all(proc / "101");

  const TreeStats s = collect_tree(table, pids, 1);
  BOOST_TEST(s.processes == 3);
  BOOST_TEST(s.children == 2);
  BOOST_TEST(s.threads == 4 + 1 + 1);
  BOOST_TEST(s.read_bytes.value() == (100u + 103u) * 4096u);

  // The next refresh drops it; its child is then an orphan outside the tree.
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  BOOST_TEST(table.find(101) == nullptr);
  BOOST_TEST((table.tree({100}) == std::vector<int>{100, 103}));
}

BOOST_AUTO_TEST_CASE(vanished_main_process_gives_no_start_time) {
  ScratchCopy proc("proc");
  ProcessTable table(proc.path());
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  const auto pids = table.tree({100});
  std::filesystem::remove_all(proc / "100");
  const TreeStats s = collect_tree(table, pids, 1);
  BOOST_TEST(s.main_pid == 0);
  BOOST_TEST(s.processes == 3);
  BOOST_TEST(!s.max_fds.has_value());

  Collection out;
  append_tree_samples(s, "gateway", 5000, out);
  BOOST_TEST(!value_of(out, "process_start_time_seconds", {{"target", "gateway"}}).has_value());
  BOOST_TEST(!value_of(out, "process_max_fds", {{"target", "gateway"}}).has_value());
  BOOST_TEST(value_of(out, "process_count", {{"target", "gateway"}}).value() == 3.0);
}

BOOST_AUTO_TEST_CASE(append_tree_samples_names_and_labels) {
  ProcessTable table = fixture_table();
  const TreeStats s = collect_tree(table, table.tree({100}), 1);
  Collection out;
  append_tree_samples(s, "gateway", 42, out);
  const Labels t = {{"target", "gateway"}};
  BOOST_TEST(value_of(out, "process_count", t).value() == 4.0);
  BOOST_TEST(value_of(out, "process_children", t).value() == 3.0);
  BOOST_TEST(value_of(out, "process_zombies", t).value() == 1.0);
  BOOST_TEST(value_of(out, "process_threads", t).value() == 8.0);
  BOOST_TEST(value_of(out, "process_cpu_seconds_total", t).value() == 18.6, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(value_of(out, "process_open_fds", t).value() == 9.0);
  BOOST_TEST(value_of(out, "process_max_fds", t).value() == 1024.0);
  BOOST_TEST(value_of(out, "process_resident_memory_bytes", t).value() == static_cast<double>(s.resident_bytes));
  BOOST_TEST(value_of(out, "process_read_bytes_total", t).value() == static_cast<double>(*s.read_bytes));
  BOOST_TEST(value_of(out, "process_written_bytes_total", t).value() == static_cast<double>(*s.write_bytes));
  BOOST_TEST(value_of(out, "process_context_switches_total", {{"target", "gateway"}, {"kind", "voluntary"}}).value() ==
             200.0);
  BOOST_TEST(
      value_of(out, "process_context_switches_total", {{"target", "gateway"}, {"kind", "involuntary"}}).value() ==
      19.0);
  BOOST_TEST(value_of(out, "process_start_time_seconds", t).value() == 1700000123.45);
  for (const auto& sample : out.samples) BOOST_TEST(sample.ts_ms == 42);
  BOOST_TEST(out.samples.size() == 13u);

  // Absent optionals are skipped, never written as 0.
  Collection bare;
  append_tree_samples(TreeStats{}, "gateway", 42, bare);
  BOOST_TEST(!value_of(bare, "process_open_fds", t).has_value());
  BOOST_TEST(!value_of(bare, "process_read_bytes_total", t).has_value());
  BOOST_TEST(
      !value_of(bare, "process_context_switches_total", {{"target", "gateway"}, {"kind", "voluntary"}}).has_value());
  BOOST_TEST(value_of(bare, "process_count", t).value() == 0.0);
}

BOOST_AUTO_TEST_CASE(exec_replaces_the_cached_cmdline) {
  ScratchCopy proc("proc");
  ProcessTable table(proc.path());
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  BOOST_TEST(*table.cmdline(101) == "/usr/bin/gateway --worker");
  // A matcher that judged 101 before the exec must judge it again after.
  ProcessMatcher job(std::regex("job\\.py"));
  BOOST_TEST(job.matching(table).empty());
  // Same process (same start time), new program: as after execve().
  std::string stat = read_file((proc / "101/stat").string()).value();
  stat.replace(stat.find("(gw-worker)"), 11, "(python3)");
  std::ofstream(proc / "101/stat", std::ios::trunc) << stat;
  std::ofstream(proc / "101/cmdline", std::ios::trunc | std::ios::binary) << std::string("python3\0job.py\0", 15);
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  BOOST_TEST(table.find(101)->stat.comm == "python3");
  BOOST_TEST(*table.cmdline(101) == "python3 job.py");
  BOOST_TEST((job.matching(table) == std::vector<int>{101}));
}

namespace {

// Polls `done` every millisecond for up to 10 s (a worker thread finishing).
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Unblocks a reader stuck opening the FIFO at `path` by writing `text`.
void feed_fifo(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // a reader is waiting in open()
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

}  // namespace

// A read that blocks (here: a FIFO nobody writes, as a cmdline read blocks
// on a process stuck with its mmap lock held) is not waited for.
BOOST_AUTO_TEST_CASE(a_blocking_read_is_pending_not_waited_for) {
  ScratchCopy dir("proc");
  const std::string fifo = (dir / "stuck").string();
  BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  DeadlineReader reader(std::chrono::milliseconds(20), 1);

  auto ok = reader.read((dir / "100/cmdline").string(), 4096);
  BOOST_TEST((ok.status == DeadlineReader::Status::kDone));
  BOOST_TEST(ok.content.value_or("") == std::string("/usr/bin/gateway\0--port\0008080\0", 29));

  auto stuck = reader.read(fifo, 4096);
  BOOST_TEST((stuck.status == DeadlineReader::Status::kPending));
  BOOST_TEST(reader.stalled() == 1u);
  BOOST_TEST((reader.read(fifo, 4096).status == DeadlineReader::Status::kPending));
  // Its only worker is stuck: another read is refused at once, not queued.
  BOOST_TEST((reader.read((dir / "101/cmdline").string(), 4096).status == DeadlineReader::Status::kBusy));
  auto missing = reader.read((dir / "4242/cmdline").string(), 4096);
  BOOST_TEST((missing.status == DeadlineReader::Status::kBusy));

  feed_fifo(fifo, "late");
  DeadlineReader::Outcome late;
  BOOST_TEST_REQUIRE(eventually([&] {
    late = reader.read(fifo, 4096);
    return late.status == DeadlineReader::Status::kDone;
  }));
  BOOST_TEST(late.content.value_or("") == "late");
  BOOST_TEST(reader.stalled() == 0u);
  auto gone = reader.read((dir / "4242/cmdline").string(), 4096);
  BOOST_TEST((gone.status == DeadlineReader::Status::kDone));
  BOOST_TEST_REQUIRE(!gone.content.has_value());
  BOOST_TEST((gone.content.error().kind == ErrorKind::kNotFound));
}

BOOST_AUTO_TEST_CASE(a_stuck_cmdline_is_skipped_then_read_once_unstuck) {
  ScratchCopy proc("proc");
  const std::string cmdline = (proc / "100/cmdline").string();
  std::filesystem::remove(cmdline);
  BOOST_TEST_REQUIRE(::mkfifo(cmdline.c_str(), 0600) == 0);
  ProcessTable table(proc.path());
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  ProcessMatcher gateway(std::regex("gateway --port"));
  BOOST_TEST(gateway.matching(table).empty());  // undecided, not waited for
  BOOST_TEST(table.stalled_reads() == 1u);
  BOOST_TEST(*table.cmdline(101) == "/usr/bin/gateway --worker");  // the others are read

  feed_fifo(cmdline, std::string("/usr/bin/gateway\0--port\0008080\0", 29));
  BOOST_TEST_REQUIRE(eventually([&] { return !gateway.matching(table).empty(); }));
  BOOST_TEST((gateway.matching(table) == std::vector<int>{100}));
  BOOST_TEST(table.stalled_reads() == 0u);
}

// Near RLIMIT_NOFILE the table stops keeping fds and still reads every
// process, by open/read/close; once fds are available again it caches them.
BOOST_AUTO_TEST_CASE(low_fd_limit_falls_back_to_open_read_close) {
  struct rlimit saved {};
  BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  struct rlimit low = saved;
  low.rlim_cur = 64;  // far below the headroom the table leaves
  BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);

  ProcessTable table(fixtures() + "/proc");
  const bool first = table.refresh().has_value();
  const bool second = table.refresh().has_value();
  std::size_t cached = 0;
  for (const auto& [pid, entry] : table.entries()) cached += entry.stat_fd.valid() ? 1 : 0;
  const std::size_t entries = table.entries().size();
  const std::string comm = table.find(100) ? table.find(100)->stat.comm : "";
  BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);

  BOOST_TEST(first);
  BOOST_TEST(second);
  BOOST_TEST(entries == 6u);
  BOOST_TEST(cached == 0u);
  BOOST_TEST(comm == "a) b");
  BOOST_TEST(collect_tree(table, table.tree({100}), 1).processes == 4);

  BOOST_TEST_REQUIRE(table.refresh().has_value());
  cached = 0;
  for (const auto& [pid, entry] : table.entries()) cached += entry.stat_fd.valid() ? 1 : 0;
  BOOST_TEST(cached == 6u);
}

BOOST_AUTO_TEST_CASE(pidfile) {
  ScratchCopy dir("proc/100");
  std::ofstream(dir / "good.pid") << "4242\n";
  std::ofstream(dir / "bad.pid") << "not-a-pid\n";
  std::ofstream(dir / "zero.pid") << "0\n";
  BOOST_TEST(read_pidfile((dir / "good.pid").string()).value() == 4242);
  auto bad = read_pidfile((dir / "bad.pid").string());
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST((bad.error().kind == ErrorKind::kParse));
  auto zero = read_pidfile((dir / "zero.pid").string());
  BOOST_TEST_REQUIRE(!zero.has_value());
  BOOST_TEST((zero.error().kind == ErrorKind::kParse));
  auto missing = read_pidfile((dir / "missing.pid").string());
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().kind == ErrorKind::kNotFound));
}

// The one test over the live /proc: a real child appears in our tree, and
// once it is reaped the cached fd reports it gone.
BOOST_AUTO_TEST_CASE(live_child_appears_and_goes) {
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    ::execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ProcessTable table("/proc");
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  BOOST_TEST(table.boot_time_seconds() > 0u);
  BOOST_TEST(contains(table.tree({static_cast<int>(::getpid())}), child));
  BOOST_TEST(table.find(child) != nullptr);
  // Our own process never matches, whatever the pattern.
  BOOST_TEST(!contains(ProcessMatcher(std::regex(".")).matching(table), static_cast<int>(::getpid())));

  // Before it is reaped the killed child is a zombie, still in the table.
  vigil::UniqueFd stat_fd(::open(("/proc/" + std::to_string(child) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_TEST_REQUIRE(stat_fd.valid());
  ::kill(child, SIGKILL);
  bool zombie = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!zombie && std::chrono::steady_clock::now() < deadline) {
    BOOST_TEST_REQUIRE(table.refresh().has_value());
    zombie = table.find(child) != nullptr && table.find(child)->stat.state == 'Z';
  }
  BOOST_TEST(zombie);
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  // What the table relies on: an fd opened on the process fails with ESRCH
  // once it is gone, whatever later takes its PID.
  char buf[64];
  const ssize_t n = ::pread(stat_fd.get(), buf, sizeof buf, 0);
  const int err = errno;
  BOOST_TEST(n == -1);
  BOOST_TEST(err == ESRCH);
  BOOST_TEST_REQUIRE(table.refresh().has_value());
  BOOST_TEST(table.find(child) == nullptr);
  BOOST_TEST(!contains(table.tree({static_cast<int>(::getpid())}), child));
}

// With cold_every > 1 only new, hot and young processes are read between
// full refreshes; the fixture's processes are all old (start ticks far
// below this machine's uptime).
BOOST_AUTO_TEST_CASE(cold_processes_are_read_every_nth_refresh) {
  ScratchCopy proc("proc");
  ProcessTable table(proc.path());
  table.set_cold_every(3);
  BOOST_TEST_REQUIRE(table.refresh().has_value());  // refresh 0: everything
  BOOST_TEST_REQUIRE(table.find(101) != nullptr);
  const std::string before = table.find(101)->stat.comm;
  std::string stat = read_file((proc / "101/stat").string()).value();
  stat.replace(stat.find("(" + before + ")"), before.size() + 2, "(renamed)");
  std::ofstream(proc / "101/stat", std::ios::trunc) << stat;
  // A new process appears: read at once, cold or not.
  std::filesystem::copy(proc / "102", proc / "104", std::filesystem::copy_options::recursive);
  std::string stat104 = read_file((proc / "104/stat").string()).value();
  stat104.replace(0, 3, "104");
  std::ofstream(proc / "104/stat", std::ios::trunc) << stat104;

  BOOST_TEST_REQUIRE(table.refresh().has_value());  // refresh 1: 101 is cold
  BOOST_TEST(table.find(101)->stat.comm == before);
  BOOST_TEST_REQUIRE(table.find(104) != nullptr);
  BOOST_TEST(table.find(104)->stat.pid == 104);

  table.mark_hot({101});
  BOOST_TEST_REQUIRE(table.refresh().has_value());  // refresh 2: 101 is hot
  BOOST_TEST(table.find(101)->stat.comm == "renamed");

  // Gone processes leave at once even when cold.
  std::filesystem::remove_all(proc / "104");
  BOOST_TEST_REQUIRE(table.refresh().has_value());  // refresh 3: full
  BOOST_TEST(table.find(104) == nullptr);
}
