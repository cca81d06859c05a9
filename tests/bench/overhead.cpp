// Benchmark: vigild's own cost on a host with 200 idle processes, 20 of
// them targets (10 found by pidfile, 10 by command-line match), at a 1 s
// interval with host metrics on. Prints figures; never fails on timing.
//   figure overhead_cpu_percent      CPU of one core (utime+stime from /proc)
//   figure overhead_rss_mib          peak RSS (VmHWM)
//   figure overhead_samples_per_second
// VIGIL_BENCH_SECONDS shortens the 60 s measurement for a quick look.
#define BOOST_TEST_MODULE bench_overhead
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "tests/integration/harness.hpp"

using namespace harness;

BOOST_AUTO_TEST_CASE(overhead) {
  const int seconds = std::getenv("VIGIL_BENCH_SECONDS") ? std::atoi(std::getenv("VIGIL_BENCH_SECONDS")) : 60;
  TempDir tmp;
  std::vector<Child> idle;
  std::string targets;
  for (int i = 0; i < 200; ++i) {
    char tag[32];
    std::snprintf(tag, sizeof tag, "bench-%03d", i);
    std::string pidfile = tmp / (std::string(tag) + ".pid");
    idle.push_back(Child::start({env_path("MEMHOG"), "--pidfile", pidfile, "--tag", tag, "--idle"}));
    if (i < 10) {
      targets += "[[target]]\nname = \"" + std::string(tag) + "\"\npidfile = \"" + pidfile + "\"\n";
    } else if (i < 20) {
      targets += "[[target]]\nname = \"" + std::string(tag) + "\"\nmatch = \"--tag " + tag + " \"\n";
    }
  }
  // Steady state: processes younger than 10 s are re-read on every tick
  // (ProcessTable::refresh), so the measurement starts once the 200 are older.
  const auto spawned = Clock::now();
  Vigil v(targets);
  // The harness flushes every 500 ms to keep tests quick; measure the
  // default. meson test sets MALLOC_PERTURB_, which makes glibc fill every
  // allocation (it doubled the CPU figure): not what a host runs.
  v.start({{"VIGIL_DAEMON_FLUSH_INTERVAL", "1s"}, {"MALLOC_PERTURB_", ""}});
  BOOST_REQUIRE_MESSAGE(wait_for(10s,
                                 [&] {
                                   auto j = v.cli_json({"status"});
                                   return j.is_object() && j["targets"].size() == 20u;
                                 }),
                        "vigild did not see the 20 targets\n"
                            << v.log());
  std::this_thread::sleep_until(std::max(Clock::now() + 2s, spawned + 12s));

  auto samples = [&] { return v.cli_json({"status"})["samples"].get<double>(); };
  double cpu0 = cpu_seconds(v.daemon.pid());
  double samples0 = samples();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double cpu1 = cpu_seconds(v.daemon.pid());
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  double samples1 = samples();
  double hwm_mib = status_kib(v.daemon.pid(), "VmHWM") / 1024.0;
  double rss_mib = status_kib(v.daemon.pid(), "VmRSS") / 1024.0;
  v.stop();

  std::printf("measured %d s: 200 idle processes, 20 targets, interval 1s\n", seconds);
  std::printf("figure overhead_cpu_percent %.3f %%\n", (cpu1 - cpu0) / elapsed * 100.0);
  std::printf("figure overhead_rss_mib %.2f MiB\n", hwm_mib);
  std::printf("figure overhead_rss_now_mib %.2f MiB\n", rss_mib);
  std::printf("figure overhead_samples_per_second %.0f samples/s\n", (samples1 - samples0) / elapsed);
  std::fflush(stdout);
  BOOST_TEST(samples1 > samples0);  // it sampled at all: a broken daemon is not a fast one
}

// vigild against monit (Debian's package) on one workload, run side by side
// so that both meet the same machine at the same moments: 200 idle
// processes, 20 of them watched by pidfile, host metrics, a 1 s interval.
// Three rounds of a third of the measurement each; in each, both daemons'
// CPU (utime+stime from /proc) over the same window.
//   figure overhead_vs_monit_ratio   median of the rounds' vigild/monit CPU
//   figure overhead_vigild_cpu_percent, overhead_monit_cpu_percent (medians)
// Without monit installed the case says so and prints no figure.
BOOST_AUTO_TEST_CASE(overhead_vs_monit) {
  const char* monit = "/usr/bin/monit";
  if (!fs::exists(monit)) {
    std::printf("monit is not installed (apt install monit): no overhead_vs_monit_ratio\n");
    return;
  }
  const int seconds = std::getenv("VIGIL_BENCH_SECONDS") ? std::atoi(std::getenv("VIGIL_BENCH_SECONDS")) : 60;
  TempDir tmp;
  std::vector<Child> idle;
  std::string targets, checks;
  for (int i = 0; i < 200; ++i) {
    char tag[32];
    std::snprintf(tag, sizeof tag, "ratio-%03d", i);
    const std::string pidfile = tmp / (std::string(tag) + ".pid");
    idle.push_back(Child::start({env_path("MEMHOG"), "--pidfile", pidfile, "--tag", tag, "--idle"}));
    if (i < 20) {
      targets += "[[target]]\nname = \"" + std::string(tag) + "\"\npidfile = \"" + pidfile + "\"\n";
      checks += "check process " + std::string(tag) + " with pidfile " + pidfile + "\n";
    }
  }
  const auto spawned = Clock::now();
  const std::string rc = tmp / "monitrc";
  write_file(rc, "set daemon 1\nset logfile " + (tmp / "monit.log") + "\nset pidfile " + (tmp / "monit.pid") +
                     "\nset idfile " + (tmp / "monit.id") + "\nset statefile " + (tmp / "monit.state") +
                     "\ncheck system localhost\n" + checks);
  fs::permissions(rc, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  Child m = Child::start({monit, "-I", "-c", rc}, {}, tmp / "monit.out");
  Vigil v(targets);
  v.start({{"VIGIL_DAEMON_FLUSH_INTERVAL", "1s"}, {"MALLOC_PERTURB_", ""}});
  BOOST_REQUIRE_MESSAGE(wait_for(10s,
                                 [&] {
                                   auto j = v.cli_json({"status"});
                                   return j.is_object() && j["targets"].size() == 20u;
                                 }),
                        "vigild did not see the 20 targets\n"
                            << v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return slurp(tmp / "monit.log").find("started") != std::string::npos; }),
                        "monit did not start: " << slurp(tmp / "monit.out") << slurp(tmp / "monit.log"));
  std::this_thread::sleep_until(std::max(Clock::now() + 2s, spawned + 12s));  // steady state (see above)
  std::vector<double> ratios, vigild_pct, monit_pct;
  for (int round = 0; round < 3; ++round) {
    const double v0 = cpu_seconds(v.daemon.pid()), m0 = cpu_seconds(m.pid());
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(std::max(1, seconds / 3)));
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const double vp = (cpu_seconds(v.daemon.pid()) - v0) / elapsed * 100.0;
    const double mp = (cpu_seconds(m.pid()) - m0) / elapsed * 100.0;
    std::printf("round %d: vigild %.3f %%, monit %.3f %% of one core\n", round + 1, vp, mp);
    vigild_pct.push_back(vp);
    monit_pct.push_back(mp);
    if (mp > 0) ratios.push_back(vp / mp);
  }
  m.signal(SIGTERM);
  m.wait(5s);
  v.stop();
  auto median = [](std::vector<double> x) {
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
  };
  BOOST_REQUIRE(!ratios.empty());
  std::printf("figure overhead_vigild_cpu_percent %.3f %%\n", median(vigild_pct));
  std::printf("figure overhead_monit_cpu_percent %.3f %%\n", median(monit_pct));
  std::printf("figure overhead_vs_monit_ratio %.3f ratio\n", median(ratios));
  std::fflush(stdout);
}
