#define BOOST_TEST_MODULE probes_host
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "probes/host.hpp"
#include "test_support.hpp"
#include "tests/requirements.hpp"

using namespace vigil;
using vigil::testing::count_metric;
using vigil::testing::fixtures;
using vigil::testing::ScratchCopy;
using vigil::testing::value_of;

namespace {

constexpr WallMs kNow = 1'700'000'123'456;

Collection collect_fixture() {
  HostProbe probe(fixtures() + "/proc", fixtures() + "/rootfs");
  auto c = probe.collect(kNow);
  BOOST_TEST_REQUIRE(c.has_value());
  return std::move(*c);
}

}  // namespace

BOOST_AUTO_TEST_CASE(cpu_memory_load_and_counters) {
  const Collection c = collect_fixture();
  BOOST_TEST(c.warnings.empty());
  for (const auto& s : c.samples) BOOST_TEST(s.ts_ms == kNow);

  BOOST_TEST(value_of(c, "host_cpu_seconds_total", {{"mode", "user"}}).value() == 100.0);
  BOOST_TEST(value_of(c, "host_cpu_seconds_total", {{"mode", "idle"}}).value() == 500.0);
  BOOST_TEST(value_of(c, "host_cpu_seconds_total", {{"mode", "steal"}}).value() == 0.05);
  BOOST_TEST(count_metric(c, "host_cpu_seconds_total") == 8u);  // guest is inside user

  BOOST_TEST(value_of(c, "host_load1").value() == 0.5);
  BOOST_TEST(value_of(c, "host_load5").value() == 0.25);
  BOOST_TEST(value_of(c, "host_load15").value() == 0.1);

  BOOST_TEST(value_of(c, "host_memory_total_bytes").value() == 16000000.0 * 1024);
  BOOST_TEST(value_of(c, "host_memory_available_bytes").value() == 10000000.0 * 1024);
  BOOST_TEST(value_of(c, "host_memory_used_bytes").value() == 6000000.0 * 1024);
  BOOST_TEST(value_of(c, "host_memory_buffers_bytes").value() == 500000.0 * 1024);
  BOOST_TEST(value_of(c, "host_memory_cached_bytes").value() == 6000000.0 * 1024);
  BOOST_TEST(value_of(c, "host_swap_total_bytes").value() == 4000000.0 * 1024);
  BOOST_TEST(value_of(c, "host_swap_used_bytes").value() == 1000000.0 * 1024);

  BOOST_TEST(value_of(c, "host_context_switches_total").value() == 987654.0);
  BOOST_TEST(value_of(c, "host_procs_running").value() == 3.0);
  BOOST_TEST(value_of(c, "host_procs_blocked").value() == 1.0);
  BOOST_TEST(value_of(c, "host_open_files").value() == 2080.0);
  BOOST_TEST(value_of(c, "host_open_files_max").value() == 1048576.0);
  BOOST_TEST(value_of(c, "host_uptime_seconds").value() == 12345.67);
}

BOOST_AUTO_TEST_CASE(whole_disks_only) {
  const Collection c = collect_fixture();
  std::set<std::string> devices;
  for (const auto& s : c.samples) {
    if (s.key.metric == "host_disk_reads_completed_total") devices.insert(s.key.labels[0].second);
  }
  BOOST_TEST((devices == std::set<std::string>{"sda", "nvme0n1", "mmcblk0"}));
  // sda is the first line of the fixture: 8 sectors read, 16 written.
  BOOST_TEST(value_of(c, "host_disk_read_bytes_total", {{"device", "sda"}}).value() == 8.0 * 512);
  BOOST_TEST(value_of(c, "host_disk_written_bytes_total", {{"device", "sda"}}).value() == 16.0 * 512);
  BOOST_TEST(value_of(c, "host_disk_io_time_seconds_total", {{"device", "sda"}}).value() == 0.5);
  BOOST_TEST(value_of(c, "host_disk_writes_completed_total", {{"device", "nvme0n1"}}).value() == 25.0);
}

BOOST_AUTO_TEST_CASE(network_devices) {
  const Collection c = collect_fixture();
  BOOST_TEST(value_of(c, "host_network_receive_bytes_total", {{"device", "eth0"}}).value() == 123456789.0);
  BOOST_TEST(value_of(c, "host_network_receive_drop_total", {{"device", "eth0"}}).value() == 2.0);
  BOOST_TEST(value_of(c, "host_network_transmit_errors_total", {{"device", "eth0"}}).value() == 3.0);
  BOOST_TEST(value_of(c, "host_network_transmit_packets_total", {{"device", "lo"}}).value() == 10.0);
}

BOOST_AUTO_TEST_CASE(filesystems_skip_pseudo_duplicates_and_missing) {
  const Collection c = collect_fixture();
  std::set<std::string> points;
  for (const auto& s : c.samples) {
    if (s.key.metric != "host_filesystem_size_bytes") continue;
    for (const auto& [k, v] : s.key.labels) {
      if (k == "mountpoint") points.insert(v);
    }
    BOOST_TEST(s.value > 0);  // statvfs of a real directory
  }
  // /proc, /sys, /run (tmpfs) and the cgroup mount are pseudo; /missing is
  // not in the rootfs, which is skipped without a warning.
  BOOST_TEST((points == std::set<std::string>{"/", "/data", "/mnt/my disk"}));
  BOOST_TEST(c.warnings.empty());
  // /data is mounted twice: the later mount is the visible one.
  BOOST_TEST(
      value_of(c, "host_filesystem_files", {{"mountpoint", "/data"}, {"fstype", "ext4"}, {"device", "/dev/sdd1"}})
          .has_value());
  BOOST_TEST(
      !value_of(c, "host_filesystem_files", {{"mountpoint", "/data"}, {"fstype", "xfs"}, {"device", "/dev/sdb1"}})
           .has_value());
  BOOST_TEST(count_metric(c, "host_filesystem_avail_bytes") == 3u);
  BOOST_TEST(count_metric(c, "host_filesystem_files_free") == 3u);
}

BOOST_AUTO_TEST_CASE(pressure_with_and_without_full_line) {
  const Collection c = collect_fixture();
  BOOST_TEST(value_of(c, "host_pressure_stalled_seconds_total", {{"resource", "cpu"}, {"kind", "some"}}).value() ==
             4.0);
  BOOST_TEST(value_of(c, "host_pressure_avg10_ratio", {{"resource", "cpu"}, {"kind", "some"}}).value() == 0.015);
  // The fixture's cpu file has no "full" line (kernels before 5.13).
  BOOST_TEST(!value_of(c, "host_pressure_stalled_seconds_total", {{"resource", "cpu"}, {"kind", "full"}}).has_value());
  BOOST_TEST(value_of(c, "host_pressure_stalled_seconds_total", {{"resource", "io"}, {"kind", "full"}}).value() == 1.5);
  BOOST_TEST(count_metric(c, "host_pressure_stalled_seconds_total") == 5u);
}

BOOST_AUTO_TEST_CASE(no_pressure_directory_is_skipped_silently) {
  ScratchCopy proc("proc");
  std::filesystem::remove_all(proc / "pressure");
  HostProbe probe(proc.path(), fixtures() + "/rootfs");
  auto c = probe.collect(kNow);
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->warnings.empty());
  BOOST_TEST(count_metric(*c, "host_pressure_stalled_seconds_total") == 0u);
  BOOST_TEST(count_metric(*c, "host_pressure_avg10_ratio") == 0u);
  BOOST_TEST(value_of(*c, "host_load1").has_value());
}

BOOST_AUTO_TEST_CASE(meminfo_without_memavailable_falls_back) {
  ScratchCopy proc("proc");
  std::ofstream(proc / "meminfo", std::ios::trunc)
      << "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"
         "SwapTotal: 0 kB\nSwapFree: 0 kB\n";
  auto c = HostProbe(proc.path(), "/nonexistent-rootfs").collect(kNow);
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(value_of(*c, "host_memory_available_bytes").value() == 400.0 * 1024);
  BOOST_TEST(value_of(*c, "host_memory_used_bytes").value() == 600.0 * 1024);
  BOOST_TEST(count_metric(*c, "host_filesystem_size_bytes") == 0u);
}

BOOST_AUTO_TEST_CASE(unreadable_part_is_a_warning_not_a_failure) {
  ScratchCopy proc("proc");
  std::ofstream(proc / "loadavg", std::ios::trunc) << "garbage\n";
  std::filesystem::remove(proc / "uptime");
  auto c = HostProbe(proc.path(), fixtures() + "/rootfs").collect(kNow);
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST_REQUIRE(c->warnings.size() == 2u);
  BOOST_TEST((c->warnings[0].kind == ErrorKind::kParse));
  BOOST_TEST((c->warnings[1].kind == ErrorKind::kNotFound));
  BOOST_TEST(!value_of(*c, "host_load1").has_value());
  BOOST_TEST(!value_of(*c, "host_uptime_seconds").has_value());
  BOOST_TEST(value_of(*c, "host_memory_total_bytes").has_value());
}

BOOST_AUTO_TEST_CASE(missing_stat_fails) {
  ScratchCopy proc("proc");
  std::filesystem::remove(proc / "stat");
  auto c = HostProbe(proc.path(), "/").collect(kNow);
  BOOST_TEST_REQUIRE(!c.has_value());
  BOOST_TEST((c.error().kind == ErrorKind::kNotFound));

  std::ofstream(proc / "stat") << "intr 1 2 3\n";
  auto bad = HostProbe(proc.path(), "/").collect(kNow);
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST((bad.error().kind == ErrorKind::kParse));
}

namespace {

bool has_mount_point(const Collection& c, const std::string& point) {
  for (const auto& s : c.samples) {
    if (s.key.metric != "host_filesystem_size_bytes") continue;
    for (const auto& [name, value] : s.key.labels) {
      if (name == "mountpoint" && value == point) return true;
    }
  }
  return false;
}

}  // namespace

VIGIL_REQUIREMENT("root", []() -> std::optional<std::string> {
  if (geteuid() == 0) return std::nullopt;
  return std::string("needs root to make a mount namespace of its own");
});

// The mount table is kept between rounds and re-read when procfs says it
// changed: a mount made (and removed) between two rounds shows in the next.
// In a mount namespace of the test's own, so nothing leaks to the host.
BOOST_AUTO_TEST_CASE(a_mount_made_between_rounds_is_seen_in_the_next, *boost::unit_test::label("root")) {
  BOOST_REQUIRE(::unshare(CLONE_NEWNS) == 0);
  BOOST_REQUIRE(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
  const std::filesystem::path base =
      std::filesystem::temp_directory_path() / ("vigil-mounts-" + std::to_string(getpid()));
  std::filesystem::create_directories(base / "from");
  std::filesystem::create_directories(base / "onto");
  const std::string point = (base / "onto").string();

  HostProbe probe("/proc", "/");
  auto first = probe.collect(kNow);
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(count_metric(*first, "host_filesystem_size_bytes") > 0u);
  BOOST_TEST(!has_mount_point(*first, point));
  auto unchanged = probe.collect(kNow);  // the kept table
  BOOST_REQUIRE(unchanged.has_value());
  BOOST_TEST(count_metric(*unchanged, "host_filesystem_size_bytes") ==
             count_metric(*first, "host_filesystem_size_bytes"));

  BOOST_REQUIRE(::mount((base / "from").c_str(), point.c_str(), nullptr, MS_BIND, nullptr) == 0);
  auto mounted = probe.collect(kNow);
  BOOST_REQUIRE(mounted.has_value());
  BOOST_TEST(has_mount_point(*mounted, point));
  auto still = probe.collect(kNow);
  BOOST_REQUIRE(still.has_value());
  BOOST_TEST(has_mount_point(*still, point));

  BOOST_REQUIRE(::umount(point.c_str()) == 0);
  auto unmounted = probe.collect(kNow);
  BOOST_REQUIRE(unmounted.has_value());
  BOOST_TEST(!has_mount_point(*unmounted, point));
  std::filesystem::remove_all(base);
}
