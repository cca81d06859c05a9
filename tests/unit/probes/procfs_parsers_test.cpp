#define BOOST_TEST_MODULE probes_procfs
#include <boost/test/unit_test.hpp>
#include <string>

#include "probes/procfs.hpp"

using namespace vigil;
using namespace vigil::procfs;
using namespace std::string_literals;

namespace {

// 52 fields as the kernel writes them; comm and the interesting fields vary.
std::string stat_text(const std::string& comm, char state, unsigned flags) {
  return "4242 (" + comm + ") " + state + " 17 4242 4242 0 -1 " + std::to_string(flags) +
         " 100 0 2 0 1234 567 0 0 20 0 8 0 98765 123456789 3210 18446744073709551615"
         " 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
}

template <typename T>
void expect_parse_error(const Result<T>& r) {
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(ErrorKind::kParse));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pid_stat)

BOOST_AUTO_TEST_CASE(plain_fields) {
  auto st = parse_pid_stat(stat_text("gateway", 'S', 0x400040));
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->pid == 4242);
  BOOST_TEST(st->comm == "gateway");
  BOOST_TEST(st->state == 'S');
  BOOST_TEST(st->ppid == 17);
  BOOST_TEST(st->pgrp == 4242);
  BOOST_TEST(st->session == 4242);
  BOOST_TEST(st->flags == 0x400040u);
  BOOST_TEST(st->utime_ticks == 1234u);
  BOOST_TEST(st->stime_ticks == 567u);
  BOOST_TEST(st->num_threads == 8);
  BOOST_TEST(st->starttime_ticks == 98765u);
  BOOST_TEST(st->vsize_bytes == 123456789u);
  BOOST_TEST(st->rss_pages == 3210);
  BOOST_TEST(!st->is_kernel_thread());
}

BOOST_AUTO_TEST_CASE(comm_with_spaces_and_parentheses_ends_at_last_paren) {
  auto st = parse_pid_stat(stat_text("a) b", 'R', 0));
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->comm == "a) b");
  BOOST_TEST(st->state == 'R');
  BOOST_TEST(st->ppid == 17);

  auto tricky = parse_pid_stat(stat_text(") 1 2 (x) S 3", 'S', 0));
  BOOST_TEST_REQUIRE(tricky.has_value());
  BOOST_TEST(tricky->comm == ") 1 2 (x) S 3");
  BOOST_TEST(tricky->ppid == 17);
  BOOST_TEST(tricky->utime_ticks == 1234u);
}

BOOST_AUTO_TEST_CASE(kernel_thread_flag) {
  auto st = parse_pid_stat(stat_text("kworker/0:1", 'I', 0x04208060));
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->is_kernel_thread());
  BOOST_TEST(st->comm == "kworker/0:1");
}

BOOST_AUTO_TEST_CASE(zombie_state) {
  auto st = parse_pid_stat(stat_text("defunct", 'Z', 0x40044c));
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->state == 'Z');
  BOOST_TEST(!st->is_kernel_thread());
}

BOOST_AUTO_TEST_CASE(malformed) {
  expect_parse_error(parse_pid_stat(""));
  expect_parse_error(parse_pid_stat("4242 gateway S 1 2 3"));
  expect_parse_error(parse_pid_stat("4242 (gateway) S 1 2 3 0 -1 0 0"));  // truncated
  expect_parse_error(parse_pid_stat("abc (gateway) S 1"));
  auto bad_number = stat_text("gw", 'S', 0);
  bad_number.replace(bad_number.find("1234"), 4, "12x4");
  expect_parse_error(parse_pid_stat(bad_number));
  expect_parse_error(parse_pid_stat(")4242 (gw S"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(pid_status_fields_and_zombie) {
  auto st = parse_pid_status(
      "Name:\tgateway\nState:\tS (sleeping)\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n"
      "Threads:\t7\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t12\n");
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->vm_rss_bytes.value() == 1024u * 1024u);
  BOOST_TEST(st->vm_hwm_bytes.value() == 2048u * 1024u);
  BOOST_TEST(st->threads.value() == 7);
  BOOST_TEST(st->voluntary_ctxt_switches.value() == 150u);
  BOOST_TEST(st->nonvoluntary_ctxt_switches.value() == 12u);

  // A zombie has no memory lines: absent, not zero.
  auto z = parse_pid_status("Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n");
  BOOST_TEST_REQUIRE(z.has_value());
  BOOST_TEST(!z->vm_rss_bytes.has_value());
  BOOST_TEST(!z->voluntary_ctxt_switches.has_value());

  expect_parse_error(parse_pid_status(""));
  expect_parse_error(parse_pid_status("Name gateway\n"));
  expect_parse_error(parse_pid_status("VmRSS:\tlots kB\n"));
}

BOOST_AUTO_TEST_CASE(pid_io) {
  auto io = parse_pid_io(
      "rchar: 100\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\n"
      "cancelled_write_bytes: 512\n");
  BOOST_TEST_REQUIRE(io.has_value());
  BOOST_TEST(io->rchar == 100u);
  BOOST_TEST(io->wchar == 200u);
  BOOST_TEST(io->read_bytes == 4096u);
  BOOST_TEST(io->write_bytes == 8192u);
  BOOST_TEST(io->cancelled_write_bytes == 512u);
  expect_parse_error(parse_pid_io("rchar: 100\nwchar: 200\n"));
  expect_parse_error(parse_pid_io("rchar: x\nwchar: 200\nread_bytes: 1\nwrite_bytes: 2\ncancelled_write_bytes: 0\n"));
}

BOOST_AUTO_TEST_CASE(pid_limits) {
  const char* text =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max processes             63304                63304                processes \n"
      "Max open files            1024                 524288               files     \n";
  auto l = parse_pid_limits(text);
  BOOST_TEST_REQUIRE(l.has_value());
  BOOST_TEST(l->max_open_files_soft.value() == 1024u);
  BOOST_TEST(l->max_open_files_hard.value() == 524288u);
  BOOST_TEST(l->max_processes_soft.value() == 63304u);

  auto unlimited = parse_pid_limits(
      "Max processes             unlimited            unlimited            processes \n"
      "Max open files            unlimited            unlimited            files     \n");
  BOOST_TEST_REQUIRE(unlimited.has_value());
  BOOST_TEST(!unlimited->max_open_files_soft.has_value());
  BOOST_TEST(!unlimited->max_processes_soft.has_value());

  expect_parse_error(parse_pid_limits("Limit Soft Hard Units\n"));
  expect_parse_error(parse_pid_limits("Max open files            many     524288    files\n"));
}

BOOST_AUTO_TEST_CASE(cmdline_joins_arguments) {
  BOOST_TEST(cmdline_to_string("/usr/bin/gw\0--port\0008080\0"s) == "/usr/bin/gw --port 8080");
  BOOST_TEST(cmdline_to_string("") == "");
  BOOST_TEST(cmdline_to_string("one-arg") == "one-arg");  // rewritten argv without NULs
}

BOOST_AUTO_TEST_CASE(pid_cgroup_hybrid_and_v2) {
  auto lines = parse_pid_cgroup(
      "12:pids:/system.slice/gw.service\n4:cpu,cpuacct:/system.slice/gw.service\n"
      "1:name=systemd:/system.slice/gw.service\n0::/system.slice/a:b.service\n");
  BOOST_TEST_REQUIRE(lines.has_value());
  BOOST_TEST_REQUIRE(lines->size() == 4u);
  BOOST_TEST((*lines)[0].hierarchy_id == 12);
  BOOST_TEST((*lines)[1].controllers.size() == 2u);
  BOOST_TEST((*lines)[1].controllers[1] == "cpuacct");
  BOOST_TEST((*lines)[2].controllers[0] == "name=systemd");
  BOOST_TEST((*lines)[3].hierarchy_id == 0);
  BOOST_TEST((*lines)[3].controllers.empty());
  BOOST_TEST((*lines)[3].path == "/system.slice/a:b.service");

  expect_parse_error(parse_pid_cgroup("garbage\n"));
  expect_parse_error(parse_pid_cgroup("x:memory:/a\n"));
  expect_parse_error(parse_pid_cgroup("3:memory:relative\n"));
}

BOOST_AUTO_TEST_CASE(stat_file) {
  auto st = parse_stat(
      "cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 5 10 15 20 25 30 35 40 45 50\n"
      "cpu1 5 10 15 20 25 30 35 40 45 50\nintr 1 2 3\nctxt 999\nbtime 1700000000\n"
      "processes 55\nprocs_running 2\nprocs_blocked 1\n");
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->total.user == 10u);
  BOOST_TEST(st->total.steal == 80u);
  BOOST_TEST(st->total.guest_nice == 100u);
  BOOST_TEST(st->cpu_count == 2);
  BOOST_TEST(st->context_switches == 999u);
  BOOST_TEST(st->boot_time_seconds == 1700000000u);
  BOOST_TEST(st->processes_forked == 55u);
  BOOST_TEST(st->procs_running == 2u);
  BOOST_TEST(st->procs_blocked == 1u);

  auto old = parse_stat("cpu 1 2 3 4\n");  // 2.4 kernels: four columns
  BOOST_TEST_REQUIRE(old.has_value());
  BOOST_TEST(old->total.idle == 4u);
  BOOST_TEST(old->total.iowait == 0u);

  expect_parse_error(parse_stat("ctxt 5\n"));
  expect_parse_error(parse_stat("cpu 1 2 x 4\n"));
  expect_parse_error(parse_stat("cpu 1 2 3 4\nbtime soon\n"));
}

BOOST_AUTO_TEST_CASE(meminfo) {
  auto m = parse_meminfo(
      "MemTotal:       16000000 kB\nMemFree:         2000000 kB\nMemAvailable:   10000000 kB\n"
      "Buffers:          500000 kB\nCached:          6000000 kB\nSwapTotal:       4000000 kB\n"
      "SwapFree:        3000000 kB\nHugePages_Total:       0\n");
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->total == 16000000ull * 1024);
  BOOST_TEST(m->available == 10000000ull * 1024);
  BOOST_TEST(m->has_available);
  BOOST_TEST(m->swap_free == 3000000ull * 1024);

  auto old = parse_meminfo("MemTotal: 100 kB\nMemFree: 10 kB\n");
  BOOST_TEST_REQUIRE(old.has_value());
  BOOST_TEST(!old->has_available);

  expect_parse_error(parse_meminfo("MemFree: 10 kB\n"));
  expect_parse_error(parse_meminfo("MemTotal: lots kB\n"));
}

BOOST_AUTO_TEST_CASE(loadavg) {
  auto l = parse_loadavg("0.50 0.25 0.10 3/456 7890\n");
  BOOST_TEST_REQUIRE(l.has_value());
  BOOST_TEST(l->load1 == 0.5);
  BOOST_TEST(l->load15 == 0.1);
  BOOST_TEST(l->runnable == 3u);
  BOOST_TEST(l->total_threads == 456u);
  expect_parse_error(parse_loadavg("0.50 0.25\n"));
  expect_parse_error(parse_loadavg("0.50 0.25 0.10 3-456 1\n"));
}

BOOST_AUTO_TEST_CASE(diskstats) {
  auto d = parse_diskstats(
      "   8       0 sda 100 2 800 40 50 6 1600 80 1 500 900\n"
      " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n");
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST_REQUIRE(d->size() == 2u);
  BOOST_TEST((*d)[0].device == "sda");
  BOOST_TEST((*d)[0].reads_completed == 100u);
  BOOST_TEST((*d)[0].sectors_read == 800u);
  BOOST_TEST((*d)[0].writes_completed == 50u);
  BOOST_TEST((*d)[0].sectors_written == 1600u);
  BOOST_TEST((*d)[0].io_in_progress == 1u);
  BOOST_TEST((*d)[0].io_time_ms == 500u);
  expect_parse_error(parse_diskstats("8 0 sda 1 2 3\n"));
  expect_parse_error(parse_diskstats("8 0 sda 1 2 3 4 5 6 7 x 9 10 11\n"));
}

BOOST_AUTO_TEST_CASE(whole_disk_names) {
  for (const char* yes : {"sda", "sdab", "vda", "xvda", "hda", "nvme0n1", "nvme10n2", "mmcblk0"}) {
    BOOST_TEST(is_whole_disk_name(yes), yes);
  }
  for (const char* no :
       {"sda1", "sdab12", "vda1", "xvda3", "nvme0n1p1", "mmcblk0p1", "loop0", "ram0", "zram0", "dm-0", "sr0", ""}) {
    BOOST_TEST(!is_whole_disk_name(no), no);
  }
}

BOOST_AUTO_TEST_CASE(net_dev) {
  auto n = parse_net_dev(
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "  eth0: 1000 10 1 2 0 0 0 5 2000 20 3 4 0 0 0 0\n"
      "veth1:3000 30 0 0 0 0 0 0 4000 40 0 0 0 0 0 0\n");
  BOOST_TEST_REQUIRE(n.has_value());
  BOOST_TEST_REQUIRE(n->size() == 2u);
  BOOST_TEST((*n)[0].interface == "eth0");
  BOOST_TEST((*n)[0].rx_bytes == 1000u);
  BOOST_TEST((*n)[0].rx_dropped == 2u);
  BOOST_TEST((*n)[0].tx_bytes == 2000u);
  BOOST_TEST((*n)[0].tx_dropped == 4u);
  BOOST_TEST((*n)[1].interface == "veth1");  // no space after the colon
  BOOST_TEST((*n)[1].rx_bytes == 3000u);
  expect_parse_error(parse_net_dev("eth0: 1 2 3\n"));
  // A name is quoted in the error, bounded and escaped (found by the fuzzer:
  // a 5 KiB name made a 5 KiB message).
  auto long_name = parse_net_dev(std::string(5000, 'e') + "\x01: 1 2 3\n");
  expect_parse_error(long_name);
  BOOST_TEST(long_name.error().message.size() < 200u);
  BOOST_TEST(long_name.error().message.find("fewer than 16 counters for eeee") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(psi) {
  auto p = parse_psi(
      "some avg10=1.50 avg60=0.80 avg300=0.20 total=4000000\n"
      "full avg10=0.25 avg60=0.00 avg300=0.00 total=1000\n");
  BOOST_TEST_REQUIRE(p.has_value());
  BOOST_TEST(p->some.avg10 == 1.5);
  BOOST_TEST(p->some.avg300 == 0.2);
  BOOST_TEST(p->some.total_us == 4000000u);
  BOOST_TEST_REQUIRE(p->full.has_value());
  BOOST_TEST(p->full->avg10 == 0.25);
  BOOST_TEST(p->full->total_us == 1000u);

  // cpu before Linux 5.13: no "full" line.
  auto cpu = parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");
  BOOST_TEST_REQUIRE(cpu.has_value());
  BOOST_TEST(!cpu->full.has_value());
  BOOST_TEST(cpu->some.total_us == 7u);

  expect_parse_error(parse_psi(""));
  expect_parse_error(parse_psi("full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"));
  expect_parse_error(parse_psi("some avg10=0.00 avg60=0.00 total=7\n"));
  expect_parse_error(parse_psi("some avg10=x avg60=0.00 avg300=0.00 total=7\n"));
}

BOOST_AUTO_TEST_CASE(file_nr_and_uptime) {
  auto f = parse_file_nr("2080\t0\t1048576\n");
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST(f->allocated == 2080u);
  BOOST_TEST(f->max == 1048576u);
  expect_parse_error(parse_file_nr("2080 0\n"));

  auto u = parse_uptime("12345.67 23456.78\n");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(*u == 12345.67);
  expect_parse_error(parse_uptime(""));
  expect_parse_error(parse_uptime("soon 1\n"));
}

BOOST_AUTO_TEST_CASE(mountinfo_decodes_octal_escapes) {
  auto m = parse_mountinfo(
      "26 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "28 26 8:3 / /mnt/my\\040disk rw,relatime - ext4 /dev/disk\\134x rw\n"
      "29 26 0:30 / /run rw,nosuid master:3 shared:4 - tmpfs tmpfs rw,mode=755\n");
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST_REQUIRE(m->size() == 3u);
  BOOST_TEST((*m)[0].mount_point == "/");
  BOOST_TEST((*m)[0].fs_type == "ext4");
  BOOST_TEST((*m)[0].source == "/dev/sda1");
  BOOST_TEST((*m)[1].mount_point == "/mnt/my disk");
  BOOST_TEST((*m)[1].source == "/dev/disk\\x");
  BOOST_TEST((*m)[2].fs_type == "tmpfs");  // two optional fields before "-"

  expect_parse_error(parse_mountinfo("26 1 8:1 / / rw ext4 /dev/sda1 rw\n"));
  expect_parse_error(parse_mountinfo("26 1 8:1 / / rw - ext4\n"));
}

BOOST_AUTO_TEST_CASE(pseudo_filesystems) {
  for (const char* fs :
       {"proc", "sysfs", "cgroup", "cgroup2", "tmpfs", "devtmpfs", "autofs", "overlay", "squashfs", "debugfs"}) {
    BOOST_TEST(is_pseudo_fs(fs), fs);
  }
  for (const char* fs : {"ext4", "xfs", "btrfs", "vfat", "nfs4"}) BOOST_TEST(!is_pseudo_fs(fs), fs);
  for (const char* fs : {"nfs", "nfs4", "cifs", "fuse.sshfs"}) BOOST_TEST(is_network_fs(fs), fs);
  for (const char* fs : {"ext4", "xfs", "tmpfs"}) BOOST_TEST(!is_network_fs(fs), fs);
}
