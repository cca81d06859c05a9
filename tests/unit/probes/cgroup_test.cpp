#define BOOST_TEST_MODULE probes_cgroup
#include "probes/cgroup.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "core/text.hpp"
#include "test_support.hpp"

using namespace vigil;
using vigil::testing::fixtures;
using vigil::testing::ScratchCopy;
using vigil::testing::value_of;
namespace fs = std::filesystem;

namespace {

const std::string kGateway = "/system.slice/gateway.service";

CgroupPaths gateway_paths_from_fixture_proc() {
  auto text = read_file(fixtures() + "/proc/100/cgroup");
  BOOST_TEST_REQUIRE(text.has_value());
  auto lines = procfs::parse_pid_cgroup(*text);
  BOOST_TEST_REQUIRE(lines.has_value());
  return cgroup_paths_from(*lines);
}

}  // namespace

BOOST_AUTO_TEST_CASE(paths_from_proc_cgroup) {
  const CgroupPaths p = gateway_paths_from_fixture_proc();
  BOOST_TEST(p.v2.value() == kGateway);
  BOOST_TEST(p.v1.size() == 4u);  // name=systemd is not a controller
  BOOST_TEST(p.v1.at("memory") == kGateway);
  BOOST_TEST(p.v1.at("cpuacct") == kGateway);
  BOOST_TEST(!p.v1.contains("name=systemd"));

  auto joined = procfs::parse_pid_cgroup("4:cpu,cpuacct:/a\n");
  BOOST_TEST_REQUIRE(joined.has_value());
  const CgroupPaths j = cgroup_paths_from(*joined);
  BOOST_TEST(j.v1.at("cpu") == "/a");
  BOOST_TEST(j.v1.at("cpuacct") == "/a");
  BOOST_TEST(!j.v2.has_value());

  BOOST_TEST(cgroup_paths_from({}).empty());
  const CgroupPaths e = cgroup_paths_everywhere("/x");
  BOOST_TEST(e.v2.value() == "/x");
  BOOST_TEST(e.v1.at("pids") == "/x");
}

BOOST_AUTO_TEST_CASE(hybrid_prefers_v1_and_takes_psi_from_v2) {
  CgroupReader reader(fixtures() + "/cgroup-hybrid");
  BOOST_TEST(reader.has_v1());
  BOOST_TEST(reader.has_v2());
  auto s = reader.read(gateway_paths_from_fixture_proc());
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->memory_usage_bytes.value() == 104857600u);
  BOOST_TEST(!s->memory_limit_bytes.has_value());  // 0x7FFFFFFFFFFFF000: unlimited
  BOOST_TEST(s->memory_max_usage_bytes.value() == 209715200u);
  BOOST_TEST(s->memory_failcnt.value() == 3u);
  BOOST_TEST(s->oom_kill_events.value() == 2u);
  BOOST_TEST(!s->oom_events.has_value());  // v2 only
  // v1 cpuacct wins over the v2 cpu.stat usage_usec that unified/ also has.
  BOOST_TEST(s->cpu_usage_seconds.value() == 12.5);
  BOOST_TEST(s->cpu_periods.value() == 100u);
  BOOST_TEST(s->cpu_throttled_periods.value() == 7u);
  BOOST_TEST(s->cpu_throttled_seconds.value() == 2.5);
  BOOST_TEST(s->pids_current.value() == 9u);
  BOOST_TEST(!s->pids_max.has_value());  // "max"
  BOOST_TEST_REQUIRE(s->cpu_pressure.has_value());
  BOOST_TEST(s->cpu_pressure->some.total_us == 1500000u);
  BOOST_TEST(s->memory_pressure->full->total_us == 10000u);
  BOOST_TEST(s->io_pressure->some.total_us == 300000u);
}

// Block I/O: v1 blkio's throttle counters (Read and Write per device; Sync,
// Async and Total count the same again), v2 io.stat; summed over devices.
BOOST_AUTO_TEST_CASE(block_io_from_blkio_and_io_stat) {
  CgroupReader hybrid(fixtures() + "/cgroup-hybrid");
  auto h = hybrid.read(cgroup_paths_everywhere(kGateway));
  BOOST_TEST_REQUIRE(h.has_value());
  BOOST_TEST_REQUIRE(h->block_io.has_value());
  BOOST_TEST((*h->block_io == BlockIo{5096, 8192, 6, 2}));
  CgroupReader v2(fixtures() + "/cgroup-v2");
  CgroupPaths paths;
  paths.v2 = kGateway;
  auto s = v2.read(paths);
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST_REQUIRE(s->block_io.has_value());
  BOOST_TEST((*s->block_io == BlockIo{4196, 8192, 2, 2}));
  // Without the files: absent, not zero.
  auto limited = v2.read(cgroup_paths_everywhere("/system.slice/limited.service"));
  BOOST_TEST_REQUIRE(limited.has_value());
  BOOST_TEST(!limited->block_io.has_value());

  BOOST_TEST((parse_blkio_throttle("Total 0\n").value() == std::pair<std::uint64_t, std::uint64_t>{0, 0}));
  BOOST_TEST((parse_blkio_throttle("").value() == std::pair<std::uint64_t, std::uint64_t>{0, 0}));
  auto bad = parse_blkio_throttle("8:0 Read lots\n");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().message == "the count of 8:0 is not a number");
  BOOST_TEST(!parse_blkio_throttle("Read 5\n").has_value());
  // io.stat: keys of newer kernels are skipped; a bad value or line is an error.
  BOOST_TEST((parse_io_stat("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 cost.usage=7\n").value() ==
              BlockIo{1, 2, 3, 4}));
  BOOST_TEST(parse_io_stat("8:0 rbytes=x\n").error().message == "the value of rbytes is not a number");
  BOOST_TEST(!parse_io_stat("8:0 rbytes\n").has_value());
  BOOST_TEST(!parse_io_stat("rbytes=1\n").has_value());
}

BOOST_AUTO_TEST_CASE(hybrid_finite_limits_and_missing_files) {
  CgroupReader reader(fixtures() + "/cgroup-hybrid");
  auto s = reader.read(cgroup_paths_everywhere("/system.slice/limited.service"));
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->memory_limit_bytes.value() == 536870912u);
  BOOST_TEST(s->pids_max.value() == 512u);
  // Files the fixture does not have are absent, not zero.
  BOOST_TEST(!s->memory_failcnt.has_value());
  BOOST_TEST(!s->cpu_usage_seconds.has_value());
  BOOST_TEST(!s->cpu_pressure.has_value());
}

BOOST_AUTO_TEST_CASE(pure_v2) {
  CgroupReader reader(fixtures() + "/cgroup-v2");
  BOOST_TEST(reader.has_v2());
  BOOST_TEST(!reader.has_v1());
  CgroupPaths paths;
  paths.v2 = kGateway;
  auto s = reader.read(paths);
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->memory_usage_bytes.value() == 52428800u);
  BOOST_TEST(!s->memory_limit_bytes.has_value());  // "max"
  BOOST_TEST(s->memory_max_usage_bytes.value() == 73400320u);
  BOOST_TEST(s->oom_events.value() == 1u);
  BOOST_TEST(s->oom_kill_events.value() == 1u);
  BOOST_TEST(!s->memory_failcnt.has_value());
  BOOST_TEST(s->cpu_usage_seconds.value() == 7.5);
  BOOST_TEST(s->cpu_periods.value() == 40u);
  BOOST_TEST(s->cpu_throttled_periods.value() == 4u);
  BOOST_TEST(s->cpu_throttled_seconds.value() == 0.25);
  BOOST_TEST(s->pids_current.value() == 5u);
  BOOST_TEST(!s->pids_max.has_value());
  BOOST_TEST(s->cpu_pressure->full->total_us == 1000000u);

  auto limited = reader.read(cgroup_paths_everywhere("/system.slice/limited.service"));
  BOOST_TEST_REQUIRE(limited.has_value());
  BOOST_TEST(limited->memory_limit_bytes.value() == 268435456u);
  BOOST_TEST(!limited->memory_max_usage_bytes.has_value());  // no memory.peak before 5.19
  BOOST_TEST(limited->pids_max.value() == 100u);
  BOOST_TEST(!limited->cpu_periods.has_value());  // cpu controller not enabled there
  BOOST_TEST(!limited->io_pressure.has_value());
}

BOOST_AUTO_TEST_CASE(vanished_cgroup_is_not_found) {
  for (const char* root : {"/cgroup-hybrid", "/cgroup-v2"}) {
    CgroupReader reader(fixtures() + root);
    auto s = reader.read(cgroup_paths_everywhere("/system.slice/gone.service"));
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST((s.error().kind == ErrorKind::kNotFound));
  }
  // A process whose hierarchies are not mounted here: nothing to read.
  CgroupReader none(fixtures() + "/no-such-cgroup-root");
  BOOST_TEST(!none.has_v1());
  BOOST_TEST(!none.has_v2());
  auto s = none.read(cgroup_paths_everywhere(kGateway));
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST((s.error().kind == ErrorKind::kNotFound));
}

BOOST_AUTO_TEST_CASE(joined_controller_directory_and_symlinks) {
  ScratchCopy root("cgroup-hybrid");
  // Debian-style v1: one "cpu,cpuacct" hierarchy with cpu and cpuacct symlinks.
  fs::remove_all(root / "cpu");
  fs::rename(root / "cpuacct", root / "cpu,cpuacct");
  fs::copy(fixtures() + "/cgroup-hybrid/cpu", root / "cpu,cpuacct",
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::create_directory_symlink("cpu,cpuacct", root / "cpu");
  fs::create_directory_symlink("cpu,cpuacct", root / "cpuacct");
  CgroupReader reader(root.path());
  auto s = reader.read(gateway_paths_from_fixture_proc());
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->cpu_usage_seconds.value() == 12.5);
  BOOST_TEST(s->cpu_throttled_periods.value() == 7u);
}

BOOST_AUTO_TEST_CASE(malformed_file_is_a_parse_error) {
  ScratchCopy root("cgroup-v2");
  std::ofstream(root / "system.slice/gateway.service/memory.current", std::ios::trunc) << "lots\n";
  auto s = CgroupReader(root.path()).read(cgroup_paths_everywhere(kGateway));
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST((s.error().kind == ErrorKind::kParse));
}

BOOST_AUTO_TEST_CASE(limit_and_flat_keyed_parsers) {
  BOOST_TEST(!parse_cgroup_limit("max\n").value().has_value());
  BOOST_TEST(parse_cgroup_limit("536870912\n").value().value() == 536870912u);
  BOOST_TEST(!parse_cgroup_limit("9223372036854771712\n").value().has_value());
  BOOST_TEST(!parse_cgroup_limit("4611686018427387904").value().has_value());  // 2^62
  BOOST_TEST(parse_cgroup_limit("4611686018427387903").value().value() == 4611686018427387903u);
  BOOST_TEST((parse_cgroup_limit("unlimited").error().kind == ErrorKind::kParse));
  BOOST_TEST((parse_cgroup_limit("").error().kind == ErrorKind::kParse));

  auto m = parse_flat_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n");
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->at("oom_kill") == 5u);
  BOOST_TEST(m->size() == 3u);
  BOOST_TEST((parse_flat_keyed("a 1 2\n").error().kind == ErrorKind::kParse));
  BOOST_TEST((parse_flat_keyed("a x\n").error().kind == ErrorKind::kParse));
}

BOOST_AUTO_TEST_CASE(samples_named_and_labelled) {
  CgroupReader reader(fixtures() + "/cgroup-v2");
  auto s = reader.read(cgroup_paths_everywhere(kGateway));
  BOOST_TEST_REQUIRE(s.has_value());
  Collection out;
  append_cgroup_samples(*s, "gateway", 77, out);
  const Labels t = {{"target", "gateway"}};
  BOOST_TEST(value_of(out, "cgroup_memory_usage_bytes", t).value() == 52428800.0);
  BOOST_TEST(!value_of(out, "cgroup_memory_limit_bytes", t).has_value());
  BOOST_TEST(value_of(out, "cgroup_memory_max_usage_bytes", t).value() == 73400320.0);
  BOOST_TEST(!value_of(out, "cgroup_memory_failcnt_total", t).has_value());
  BOOST_TEST(value_of(out, "cgroup_memory_oom_events_total", t).value() == 1.0);
  BOOST_TEST(value_of(out, "cgroup_memory_oom_kill_events_total", t).value() == 1.0);
  BOOST_TEST(value_of(out, "cgroup_cpu_usage_seconds_total", t).value() == 7.5);
  BOOST_TEST(value_of(out, "cgroup_cpu_periods_total", t).value() == 40.0);
  BOOST_TEST(value_of(out, "cgroup_cpu_throttled_periods_total", t).value() == 4.0);
  BOOST_TEST(value_of(out, "cgroup_cpu_throttled_seconds_total", t).value() == 0.25);
  BOOST_TEST(value_of(out, "cgroup_pids_current", t).value() == 5.0);
  BOOST_TEST(!value_of(out, "cgroup_pids_max", t).has_value());
  BOOST_TEST(value_of(out, "cgroup_pressure_stalled_seconds_total",
                      {{"target", "gateway"}, {"resource", "cpu"}, {"kind", "some"}})
                 .value() == 2.0);
  BOOST_TEST(value_of(out, "cgroup_pressure_stalled_seconds_total",
                      {{"target", "gateway"}, {"resource", "io"}, {"kind", "full"}})
                 .value() == 0.5);
  BOOST_TEST(value_of(out, "cgroup_io_read_bytes_total", t).value() == 4196.0);
  BOOST_TEST(value_of(out, "cgroup_io_written_bytes_total", t).value() == 8192.0);
  BOOST_TEST(value_of(out, "cgroup_io_reads_total", t).value() == 2.0);
  BOOST_TEST(value_of(out, "cgroup_io_writes_total", t).value() == 2.0);
  BOOST_TEST(out.samples.size() == 9u + 6u + 4u);  // limit, failcnt and pids max are absent
  for (const auto& sample : out.samples) BOOST_TEST(sample.ts_ms == 77);
}
