// Crash survival with the real vigild (issue 13): the short kill -9 loop
// (tests/integration/kill9.hpp; the `survival` benchmark runs 200 kills).
// VIGIL_KILL9_ROUNDS changes the number of kills (default 20).
#define BOOST_TEST_MODULE integration_survival
#include <fcntl.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tests/integration/kill9.hpp"

using namespace harness;

VIGIL_REQUIREMENT("alertmanager", alertmanager_missing);

BOOST_AUTO_TEST_CASE(kill_9_loses_no_committed_sample_alert_or_incident, *boost::unit_test::label("alertmanager")) {
  const char* rounds_env = std::getenv("VIGIL_KILL9_ROUNDS");
  const int rounds = rounds_env != nullptr ? std::atoi(rounds_env) : 20;
  const unsigned seed = std::random_device{}();
  BOOST_TEST_MESSAGE("seed " << seed);
  const Kill9Figures f = run_kill9(rounds, seed);
  BOOST_TEST_MESSAGE("kills " << f.kills << ", corrupt " << f.corrupt_dbs << ", committed samples lost "
                              << f.lost_samples_beyond_flush << ", duplicates " << f.duplicate_samples
                              << ", incident violations " << f.inconsistent_incidents << ", alert transitions "
                              << f.transitions << ", lost " << f.lost_alerts);
  BOOST_TEST(f.kills == rounds);
  BOOST_TEST(f.corrupt_dbs == 0);
  BOOST_TEST(f.lost_samples_beyond_flush == 0);
  BOOST_TEST(f.duplicate_samples == 0);
  BOOST_TEST(f.inconsistent_incidents == 0);
  BOOST_TEST(f.outbox_drained);
  BOOST_TEST(f.transitions > 0);  // the loop did make the alert fire and resolve
  BOOST_TEST(f.lost_alerts == 0, "seed " << seed << ": " << f.lost_alerts << " of " << f.transitions);
}

// ---- disk full ---------------------------------------------------------------

namespace {

// A tmpfs of `size` mounted on `path` (made if missing), unmounted at the end.
struct SmallMount {
  std::string path;
  bool mounted = false;
  SmallMount(std::string where, const std::string& size) : path(std::move(where)) {
    std::error_code ec;
    fs::create_directories(path, ec);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) == 0;
  }
  ~SmallMount() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};

std::optional<std::string> no_tmpfs_mount() {
  TempDir dir;
  SmallMount m(dir / "probe", "64k");
  if (m.mounted) return std::nullopt;
  return std::string("cannot mount a tmpfs here (") + std::strerror(errno) +
         "): the disk-full test needs root and a mount namespace that allows it";
}

// Fills the file system holding `path` until ENOSPC.
void fill(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  BOOST_REQUIRE(fd >= 0);
  std::vector<char> block(64 * 1024, 'x');
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), block.size());
    if (n <= 0) break;
  }
  // What is left is smaller than a block: take it too.
  for (;;) {
    if (::write(fd, block.data(), 512) <= 0) break;
  }
  ::close(fd);
}

// The JSON log lines whose msg is `msg`.
std::vector<nlohmann::json> log_lines(const std::string& log, const std::string& msg) {
  std::vector<nlohmann::json> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == msg) out.push_back(j);
  }
  return out;
}

}  // namespace

VIGIL_REQUIREMENT("tmpfs", no_tmpfs_mount);

// store/store.cpp logs this once per outage.
const std::string kCommitFailed =
    "store commit failed; keeping what is queued in memory and retrying at every flush (the oldest samples beyond "
    "[store] queue_capacity are dropped and counted); logged again when a commit succeeds";

BOOST_AUTO_TEST_CASE(a_full_disk_stops_nothing_but_the_store, *boost::unit_test::label("tmpfs")) {
  Httpd service, hook;
  TempDir out;
  const std::string starts = out / "starts";
  const std::string crasher = out / "crasher.sh";
  write_file(crasher, "#!/bin/sh\necho started >> " + starts + "\nsleep 1\nexit 3\n");
  fs::permissions(crasher, fs::perms(0755));
  Vigil v(
      "[host]\ninterval = \"200ms\"\n[store]\nqueue_capacity = 1000\n[alerting]\ntarget_down = false\n[[webhook]]\nurl "
      "= \"" +
      hook.url("/hook") + "\"\n" + stand_in_target("gw") +
      "[[check]]\nname = \"web\"\ntarget = \"gw\"\nkind = \"http\"\nurl = \"" + service.url("/health") +
      "\"\ninterval = \"200ms\"\nfail_after = 1\nrecover_after = 1\ntimeout = \"500ms\"\n"
      "[[target]]\nname = \"crasher\"\nstart = [\"" +
      crasher +
      "\"]\n[target.remediate]\nactions = [\"restart\"]\nmax = 1000\nbackoff = \"1s\"\nmax_backoff = \"1s\"\n");
  // The whole state directory on a 4 MiB tmpfs.
  SmallMount disk(v.dir / "state", "4m");
  BOOST_REQUIRE(disk.mounted);
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !v.events("daemon_start").empty(); }), v.log());

  // The disk fills up: commits fail, logged once.
  fill(disk.path + "/filler");
  BOOST_REQUIRE_MESSAGE(wait_for(60s, [&] { return !log_lines(v.log(), kCommitFailed).empty(); }), v.log());
  // Monitoring, alerting over the network and remediation go on: the check
  // fails and its alert reaches the webhook; the crashing service is
  // restarted again and again.
  auto lines_of = [](const std::string& text) { return std::count(text.begin(), text.end(), '\n'); };
  const auto starts_before = lines_of(slurp(starts));
  http_request(service.port, "POST", "/control/health?mode=status-503");
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return !accepted_alerts(hook, "CheckFailed").empty(); }), v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(20s, [&] { return lines_of(slurp(starts)) >= starts_before + 2; }), v.log());
  // The queue (1000 samples, a few seconds of this host's) sheds its oldest.
  BOOST_REQUIRE_MESSAGE(wait_for(30s,
                                 [&] {
                                   return !log_lines(v.log(),
                                                     "store commits failing: dropping the oldest samples beyond "
                                                     "[store] queue_capacity")
                                               .empty();
                                 }),
                        v.log());

  // Space returns: vigild commits again by itself, says what it dropped, and
  // what happened during the outage is in the store.
  fs::remove(disk.path + "/filler");
  BOOST_REQUIRE_MESSAGE(wait_for(30s, [&] { return !log_lines(v.log(), "store commits again").empty(); }), v.log());
  const auto recovered = log_lines(v.log(), "store commits again").front();
  BOOST_TEST(recovered.value("samples_dropped", 0) > 0, recovered.dump());
  BOOST_TEST(recovered.value("failed_commits", 0) > 1, recovered.dump());
  BOOST_TEST(log_lines(v.log(), kCommitFailed).size() == 1u);
  BOOST_REQUIRE(wait_for(10s, [&] {
    for (const auto& e : v.events("alert_firing")) {
      if (e.dump().find("CheckFailed") != std::string::npos) return true;
    }
    return false;
  }));
  RunResult integrity = run({"/usr/bin/sqlite3", v.db(), "PRAGMA integrity_check"});
  BOOST_TEST(integrity.out == "ok\n", integrity.out << integrity.err);
  BOOST_TEST(v.stop().value_or(-1) == 0, v.log());
  // (The crashing service exits by itself within a second.)
}
