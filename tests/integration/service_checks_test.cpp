// redis, postgres and exec checks run by the real vigild against real
// servers (Debian's redis-server, PostgreSQL 15, monitoring-plugins-basic)
// that the tests start on loopback with kernel-chosen ports, and stop after.
#define BOOST_TEST_MODULE integration_service_checks
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <optional>

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

const std::string kRedisServer = "/usr/bin/redis-server";
const std::string kPgBin = "/usr/lib/postgresql/15/bin";
const std::string kPlugins = "/usr/lib/nagios/plugins";

boost::test_tools::assertion_result executable(const std::string& path) {
  boost::test_tools::assertion_result ok(::access(path.c_str(), X_OK) == 0);
  ok.message() << path << " is not installed (a Debian package the project's set-up installs)";
  return ok;
}

boost::test_tools::assertion_result have_redis(boost::unit_test::test_unit_id) {
  return executable(kRedisServer);
}

boost::test_tools::assertion_result have_postgres(boost::unit_test::test_unit_id) {
  auto ok = executable(kPgBin + "/postgres");
  if (!ok) return ok;
  ok = executable(kPgBin + "/initdb");
  if (!ok) return ok;
  ok = executable(kPgBin + "/pg_isready");
  if (!ok) return ok;
  // As root, the server must run as another user: it refuses root.
  if (::geteuid() == 0 && ::getpwnam("postgres") == nullptr) {
    boost::test_tools::assertion_result no(false);
    no.message() << "running as root and there is no postgres user to run the server as";
    return no;
  }
  return ok;
}

boost::test_tools::assertion_result have_plugins(boost::unit_test::test_unit_id) {
  return executable(kPlugins + "/check_dummy");
}

// check_disk reads the mount table from /etc/mtab; a bare chroot (debootstrap
// minbase) has none, and the plugin then answers "DISK CRITICAL: / not found".
boost::test_tools::assertion_result check_disk_sees_root(boost::unit_test::test_unit_id id) {
  auto ok = have_plugins(id);
  if (!ok) return ok;
  auto r = harness::run({kPlugins + "/check_disk", "-w", "1%", "-c", "1%", "-p", "/"});
  if (r.exit_code == 0 || r.exit_code == 1) return ok;
  boost::test_tools::assertion_result no(false);
  no.message() << "check_disk cannot see / on this machine (no /etc/mtab?): " << r.out;
  return no;
}

}  // namespace

namespace {

std::optional<std::string> why_not(boost::test_tools::assertion_result r) {
  if (r) return std::nullopt;
  return r.message().str();
}

}  // namespace

VIGIL_REQUIREMENT("redis", [] { return why_not(have_redis({})); });
VIGIL_REQUIREMENT("postgres", [] { return why_not(have_postgres({})); });
VIGIL_REQUIREMENT("plugins", [] { return why_not(have_plugins({})); });
VIGIL_REQUIREMENT("check_disk", [] { return why_not(check_disk_sees_root({})); });

namespace {

bool accepts_connections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// Starts a server on a fresh port until one binds: `start(port)` returns the
// child, which is up once it accepts on the port while still running.
Child start_listening_server(const std::function<Child(int)>& start, int& port, const std::string& log_path) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    port = free_port();
    Child c = start(port);
    bool exited = false;
    bool up = wait_for(15s, [&] {
      if (c.wait(0ms)) {
        exited = true;
        return true;
      }
      return accepts_connections(port);
    });
    if (up && !exited) return c;
    // Lost the port to someone else (or failed): say why if it was not that, and try another.
    BOOST_TEST_MESSAGE("server did not come up on port " << port << ": " << slurp(log_path));
  }
  BOOST_FAIL("the server did not start on any of 5 ports: " << slurp(log_path));
  return Child();
}

// A listening socket on 127.0.0.1 that answers every connection with
// `banner` and closes it, from its own thread.
class BannerServer {
 public:
  explicit BannerServer(std::string banner) : banner_(std::move(banner)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(listen(fd_, 64) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~BannerServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port = 0;

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      (void)!::write(c, banner_.data(), banner_.size());
      close(c);
    }
  }
  std::string banner_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string address(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

// One [[check]] of `kind` for `target`, every 200 ms, failed at the first failure.
std::string check(const std::string& target, const std::string& name, const std::string& kind, const std::string& keys,
                  const std::string& interval = "200ms") {
  return "[[check]]\ntarget = \"" + target + "\"\nname = \"" + name + "\"\nkind = \"" + kind + "\"\ninterval = \"" +
         interval + "\"\nfail_after = 1\nrecover_after = 1\n" + keys + "\n";
}

// The events of `kind` for one check.
std::vector<nlohmann::json> events_of(Vigil& v, const std::string& kind, const std::string& check_name) {
  std::vector<nlohmann::json> out;
  for (auto& e : v.events(kind)) {
    if (e["check"] == check_name) out.push_back(e);
  }
  return out;
}

// Waits for the first event of `kind` for `check_name` and returns it.
nlohmann::json wait_event(Vigil& v, const std::string& kind, const std::string& check_name,
                          std::chrono::milliseconds timeout = 8s) {
  std::vector<nlohmann::json> found;
  bool ok = wait_for(timeout, [&] {
    found = events_of(v, kind, check_name);
    return !found.empty();
  });
  BOOST_REQUIRE_MESSAGE(ok, "no " << kind << " event for check " << check_name << " within the timeout; log:\n"
                                  << v.log());
  return found.front();
}

std::string reason_of(const nlohmann::json& event) {
  BOOST_REQUIRE(event["details"].is_object());
  BOOST_REQUIRE(event["details"]["reason"].is_string());
  return event["details"]["reason"].get<std::string>();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Series of `metric` for one check: the labels and the values, oldest first.
struct Series {
  nlohmann::json labels;
  std::vector<double> values;
};
std::vector<Series> series_of(Vigil& v, const std::string& metric, const std::string& target,
                              const std::string& check_name) {
  std::vector<Series> out;
  auto j = v.cli_json({"query", metric, "--target", target, "--label", "check=" + check_name, "--since", "10m"});
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    Series one{s["labels"], {}};
    for (const auto& p : s["points"]) one.values.push_back(p["value"].get<double>());
    out.push_back(std::move(one));
  }
  return out;
}

std::vector<double> values_of(Vigil& v, const std::string& metric, const std::string& target,
                              const std::string& check_name) {
  std::vector<double> out;
  for (auto& s : series_of(v, metric, target, check_name)) out.insert(out.end(), s.values.begin(), s.values.end());
  return out;
}

std::string label_of(const nlohmann::json& labels, const std::string& name) {
  // labels_json: an object of name -> value.
  if (labels.is_object() && labels.contains(name)) return labels[name].get<std::string>();
  return "";
}

void expect_clean_exit(Vigil& v) {
  auto st = v.stop();
  BOOST_REQUIRE_MESSAGE(st.has_value(), "vigild did not exit within 5 s of SIGTERM; log:\n" << v.log());
  BOOST_TEST(WIFEXITED(*st));
  BOOST_TEST(WEXITSTATUS(*st) == 0);
}

// ---- servers ----------------------------------------------------------------

struct Redis {
  TempDir dir;
  int port = 0;
  Child server;

  explicit Redis(const std::string& requirepass = "") {
    const std::string log = dir / "redis.log";
    server = start_listening_server(
        [&](int p) {
          std::vector<std::string> argv = {
              kRedisServer, "--port", std::to_string(p), "--bind",      "127.0.0.1", "--save",    "", "--appendonly",
              "no",         "--dir",  dir.path.string(), "--daemonize", "no",        "--logfile", log};
          if (!requirepass.empty()) {
            argv.push_back("--requirepass");
            argv.push_back(requirepass);
          }
          return Child::start(argv, {}, log);
        },
        port, log);
  }
};

// A PostgreSQL cluster in a temp dir, its server run as the postgres user
// when the test runs as root (the server refuses to run as root).
struct Postgres {
  TempDir dir;
  std::string data;
  std::string log;
  int port = 0;
  Child server;

  Postgres() : data(dir / "data"), log(dir / "postgres.log") {
    // mkdtemp made the dir 0700 for root; the server user must reach data/ below it.
    BOOST_REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
    BOOST_REQUIRE(::mkdir(data.c_str(), 0700) == 0);
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      BOOST_REQUIRE(pw != nullptr);
      BOOST_REQUIRE(::chown(data.c_str(), pw->pw_uid, pw->pw_gid) == 0);
    }
    // -N: no fsync, a throwaway cluster.
    RunResult r = run(as_server_user({kPgBin + "/initdb", "-D", data, "-A", "trust", "-N", "-U", "postgres"}));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "initdb failed: " << r.out << r.err);
  }

  ~Postgres() { stop(); }

  static std::vector<std::string> as_server_user(std::vector<std::string> argv) {
    if (::geteuid() != 0) return argv;
    // setpriv execs the server (runuser would stay as its parent), so the
    // child's pid is the postmaster's and signals reach it directly.
    std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

  void append_conf(const std::string& line) {
    std::ofstream f(data + "/postgresql.conf", std::ios::app);
    f << line << "\n";
    BOOST_REQUIRE(f.good());
  }

  void start() {
    server = start_listening_server(
        [&](int p) {
          return Child::start(as_server_user({kPgBin + "/postgres", "-D", data, "-k", data, "-c",
                                              "listen_addresses=127.0.0.1", "-p", std::to_string(p)}),
                              {}, log);
        },
        port, log);
  }

  // It listens before its startup process has finished recovery, and says
  // "the database system is starting up" until then.
  void wait_ready() {
    BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return isready().exit_code == 0; }),
                          "postgres does not accept connections after 15 s: " << slurp(log));
  }

  // SIGINT: fast shutdown (disconnects clients, no checkpoint wait for them).
  void stop() {
    if (server.pid() <= 0 || server.wait(0ms)) return;
    server.signal(SIGINT);
    BOOST_CHECK_MESSAGE(server.wait(15s).has_value(), "postgres did not stop within 15 s of SIGINT");
  }

  RunResult isready(const std::string& user = "postgres") const {
    return run({kPgBin + "/pg_isready", "-h", "127.0.0.1", "-p", std::to_string(port), "-U", user});
  }
};

// A pid is gone when it no longer exists, or is a zombie: the check's
// grandchild is reparented to PID 1 once its parent dies, and PID 1 in a
// container may never reap it, yet a zombie runs nothing and holds nothing.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto close_paren = stat.rfind(')');
  if (stat.empty() || close_paren == std::string::npos) return true;  // gone between the two looks
  return stat.size() > close_paren + 2 && (stat[close_paren + 2] == 'Z' || stat[close_paren + 2] == 'X');
}

void write_script(const std::string& path, const std::string& body) {
  write_file(path, "#!/bin/sh\n" + body);
  BOOST_REQUIRE(::chmod(path.c_str(), 0755) == 0);
}

}  // namespace

// ---- redis --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(redis_up_is_ok_and_killed_is_connection_refused, *boost::unit_test::label("redis")) {
  Redis redis;
  Vigil v(stand_in_target("cache") + check("cache", "ping", "redis", "address = \"" + address(redis.port) + "\""));
  v.start();
  auto ok = wait_event(v, "check_ok", "ping");
  BOOST_TEST(ok["target"] == "cache");
  BOOST_TEST(contains(reason_of(ok), "PONG"), reason_of(ok));
  BOOST_REQUIRE(wait_for(3s, [&] { return !values_of(v, "tcp_connect_seconds", "cache", "ping").empty(); }));
  auto connect = values_of(v, "tcp_connect_seconds", "cache", "ping");
  BOOST_TEST(connect.back() >= 0.0);
  BOOST_TEST(values_of(v, "check_up", "cache", "ping").back() == 1);

  redis.server.signal(SIGKILL);
  BOOST_REQUIRE(redis.server.wait(5s).has_value());
  auto failed = wait_event(v, "check_failed", "ping");
  BOOST_TEST(failed["severity"] == "critical");
  BOOST_TEST(failed["details"]["from"] == "ok");
  BOOST_TEST(contains(reason_of(failed), "connection refused"), reason_of(failed));
  BOOST_TEST(contains(failed["message"].get<std::string>(), "connection refused"));
  BOOST_TEST(values_of(v, "check_up", "cache", "ping").back() == 0);
  expect_clean_exit(v);
}

BOOST_AUTO_TEST_CASE(redis_auth_from_password_file, *boost::unit_test::label("redis")) {
  Redis redis("s3cret-pw");
  const std::string addr = "address = \"" + address(redis.port) + "\"\n";
  TempDir secrets;
  write_file(secrets / "good", "s3cret-pw\n");  // the trailing newline is not part of the password
  write_file(secrets / "bad", "not-the-password\n");
  Vigil v(stand_in_target("cache") +
          check("cache", "good", "redis", addr + "password_file = \"" + (secrets / "good") + "\"") +
          check("cache", "wrong", "redis", addr + "password_file = \"" + (secrets / "bad") + "\"") +
          check("cache", "nopass", "redis", addr));
  v.start();
  wait_event(v, "check_ok", "good");
  BOOST_TEST(values_of(v, "check_up", "cache", "good").back() == 1);

  std::string wrong = reason_of(wait_event(v, "check_failed", "wrong"));
  BOOST_TEST((contains(wrong, "WRONGPASS") || contains(wrong, "AUTH")), wrong);
  std::string nopass = reason_of(wait_event(v, "check_failed", "nopass"));
  BOOST_TEST(contains(nopass, "password_file"), nopass);
  BOOST_TEST(contains(nopass, "NOAUTH"), nopass);  // what the server said, quoted
  BOOST_TEST(events_of(v, "check_failed", "good").empty());
  expect_clean_exit(v);
}

BOOST_AUTO_TEST_CASE(redis_check_against_another_protocol_fails) {
  BannerServer ssh("SSH-2.0-x\r\n");
  Vigil v(stand_in_target("cache") + check("cache", "ping", "redis", "address = \"" + address(ssh.port) + "\""));
  v.start();
  std::string reason = reason_of(wait_event(v, "check_failed", "ping"));
  BOOST_TEST(contains(reason, "not a Redis reply"), reason);
  BOOST_TEST(contains(reason, "SSH-2.0"), reason);  // the first bytes, quoted
  expect_clean_exit(v);
}

// ---- postgres -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(postgres_up_is_ok_for_any_user_and_stopped_is_connection_refused,
                     *boost::unit_test::label("postgres")) {
  Postgres pg;
  pg.start();
  pg.wait_ready();
  RunResult ready = pg.isready("nobody_here");
  BOOST_TEST(ready.exit_code == 0,
             ready.out);  // pg_isready: "accepting connections", whatever the user
  BOOST_TEST(contains(ready.out, "accepting connections"), ready.out);

  const std::string addr = "address = \"" + address(pg.port) + "\"\n";
  Vigil v(stand_in_target("db") + check("db", "pg", "postgres", addr + "user = \"postgres\"") +
          check("db", "anyone", "postgres", addr + "user = \"nobody_here\""));
  v.start();
  auto ok = wait_event(v, "check_ok", "pg");
  BOOST_TEST(contains(reason_of(ok), "accepting connections"), reason_of(ok));
  // With trust the server says AuthenticationOk before it looks the role up
  // (an unknown role is refused only after that): up, as pg_isready says.
  auto anyone = wait_event(v, "check_ok", "anyone");
  BOOST_TEST(contains(reason_of(anyone), "accepting connections"), reason_of(anyone));
  BOOST_REQUIRE(wait_for(3s, [&] { return !values_of(v, "tcp_connect_seconds", "db", "pg").empty(); }));
  BOOST_TEST(values_of(v, "check_up", "db", "pg").back() == 1);

  pg.stop();  // returns once the postmaster has exited
  auto failed = wait_event(v, "check_failed", "pg");
  BOOST_TEST(failed["details"]["from"] == "ok");
  // During a fast shutdown the postmaster still listens for a moment and
  // answers 57P03 "the database system is shutting down", and a connection
  // still in its backlog when it closes the socket is reset. A run that lands
  // there fails with that, truthfully, and the state stays failed after.
  const std::string reason = reason_of(failed);
  BOOST_TEST((contains(reason, "connection refused") || contains(reason, "shutting down") ||
              contains(reason, "connection reset")),
             reason);
  BOOST_TEST(values_of(v, "check_up", "db", "pg").back() == 0);
  // Once it is gone, a run is refused at connect: the same runner, once, in the CLI.
  RunResult once = run({env_path("VIGIL"), "check", "test", "db/pg", "--config", v.config_path});
  BOOST_TEST(once.exit_code == 1, once.out << once.err);
  BOOST_TEST(contains(once.out, "connection refused"), once.out);
  expect_clean_exit(v);
}

// A standby without a primary and with hot_standby = off stays in recovery
// and answers every client with SQLSTATE 57P03, as a server starting up does.
BOOST_AUTO_TEST_CASE(postgres_not_yet_accepting_connections_fails, *boost::unit_test::label("postgres")) {
  Postgres pg;
  write_file(pg.data + "/standby.signal", "");
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    BOOST_REQUIRE(::chown((pg.data + "/standby.signal").c_str(), pw->pw_uid, pw->pw_gid) == 0);
  }
  pg.append_conf("hot_standby = off");
  pg.start();
  // From here on it waits for WAL forever and turns every client away.
  BOOST_REQUIRE_MESSAGE(wait_for(15s, [&] { return contains(slurp(pg.log), "entering standby mode"); }),
                        "postgres did not enter standby mode: " << slurp(pg.log));
  RunResult ready = pg.isready();
  BOOST_TEST(ready.exit_code == 1, ready.out);  // 1: the server rejects connections
  BOOST_TEST(contains(ready.out, "rejecting connections"), ready.out);

  Vigil v(stand_in_target("db") +
          check("db", "pg", "postgres", "address = \"" + address(pg.port) + "\"\nuser = \"postgres\""));
  v.start();
  auto failed = wait_event(v, "check_failed", "pg");
  BOOST_TEST(failed["details"]["from"] == "unknown");
  BOOST_TEST(contains(reason_of(failed), "not accepting connections"), reason_of(failed));
  BOOST_TEST(events_of(v, "check_ok", "pg").empty());
  // It connected: the failure is the server's answer, not the network.
  BOOST_REQUIRE(wait_for(3s, [&] { return !values_of(v, "tcp_connect_seconds", "db", "pg").empty(); }));
  BOOST_TEST(values_of(v, "check_up", "db", "pg").back() == 0);
  BOOST_TEST(values_of(v, "check_state", "db", "pg").back() == 3);  // CheckState::kFailed
  expect_clean_exit(v);
}

// ---- exec -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(nagios_exit_codes_decide_the_state, *boost::unit_test::label("plugins")) {
  Vigil v(
      stand_in_target("host") +
      check("host", "fine", "exec", "command = [\"" + kPlugins + "/check_dummy\", \"0\", \"all good\"]") +
      check("host", "disk", "exec", "command = [\"" + kPlugins + "/check_dummy\", \"2\", \"CRITICAL - disk 97 %\"]"));
  v.start();
  auto ok = wait_event(v, "check_ok", "fine");
  BOOST_TEST(contains(reason_of(ok), "all good"), reason_of(ok));
  auto failed = wait_event(v, "check_failed", "disk");
  std::string reason = reason_of(failed);
  // check_dummy puts its state before the text: "CRITICAL: CRITICAL - disk 97 %".
  BOOST_TEST(reason.rfind("exit 2: ", 0) == 0u, reason);
  BOOST_TEST(contains(reason, "CRITICAL - disk 97 %"), reason);
  BOOST_TEST(contains(failed["message"].get<std::string>(), "CRITICAL - disk 97 %"));
  BOOST_TEST(values_of(v, "exec_exit_code", "host", "fine").back() == 0);
  BOOST_TEST(values_of(v, "exec_exit_code", "host", "disk").back() == 2);
  expect_clean_exit(v);
}

BOOST_AUTO_TEST_CASE(plugin_perfdata_becomes_samples_in_base_units, *boost::unit_test::label("plugins")) {
  Listener listener;
  Vigil v(stand_in_target("host") +
          check("host", "port", "exec",
                "command = [\"" + kPlugins + "/check_tcp\", \"-H\", \"127.0.0.1\", \"-p\", \"" +
                    std::to_string(listener.port) + "\"]"));
  v.start();
  auto port_ok = wait_event(v, "check_ok", "port");
  BOOST_TEST(contains(reason_of(port_ok), "TCP OK"), reason_of(port_ok));

  std::vector<Series> perf;
  BOOST_REQUIRE(wait_for(3s, [&] {
    perf = series_of(v, "check_perfdata", "host", "port");
    return !perf.empty();
  }));
  BOOST_REQUIRE(perf.size() == 1u);  // time=0.000162s;;;0.000000;10.000000
  BOOST_TEST(label_of(perf[0].labels, "label") == "time");
  BOOST_TEST(label_of(perf[0].labels, "unit") == "seconds");
  BOOST_TEST(perf[0].values.back() >= 0.0);
  expect_clean_exit(v);
}

BOOST_AUTO_TEST_CASE(check_disk_perfdata_is_in_bytes, *boost::unit_test::label("check_disk")) {
  // check_disk prints "/=19715325952B;...": used bytes, the unit B.
  Vigil v(stand_in_target("host") +
          check("host", "rootfs", "exec",
                "command = [\"" + kPlugins + "/check_disk\", \"-w\", \"1%\", \"-c\", \"1%\", \"-p\", \"/\"]"));
  v.start();
  auto disk_ok = wait_event(v, "check_ok", "rootfs");
  BOOST_TEST(contains(reason_of(disk_ok), "DISK OK"), reason_of(disk_ok));
  std::vector<Series> perf;
  BOOST_REQUIRE(wait_for(3s, [&] {
    perf = series_of(v, "check_perfdata", "host", "rootfs");
    return !perf.empty();
  }));
  BOOST_REQUIRE(perf.size() == 1u);
  BOOST_TEST(label_of(perf[0].labels, "label") == "/");
  BOOST_TEST(label_of(perf[0].labels, "unit") == "bytes");
  const double used = perf[0].values.back();
  BOOST_TEST(used > 0.0);
  BOOST_TEST(used == std::floor(used));  // whole bytes: B was not scaled
  expect_clean_exit(v);
}

BOOST_AUTO_TEST_CASE(hundred_mib_of_output_is_counted_not_kept) {
  TempDir scripts;
  write_script(scripts / "loud", "head -c 104857600 /dev/zero\n");
  Vigil v(stand_in_target("host") +
          check("host", "loud", "exec", "command = [\"" + (scripts / "loud") + "\"]\ntimeout = \"20s\"", "30s"));
  v.start();
  wait_event(v, "check_ok", "loud", 25s);
  std::vector<double> bytes;
  BOOST_REQUIRE(wait_for(3s, [&] {
    bytes = values_of(v, "exec_output_bytes", "host", "loud");
    return !bytes.empty();
  }));
  BOOST_TEST(bytes.back() == 104857600.0);
  // What is kept is bounded (max_output, tests/unit/checks/exec_test.cpp);
  // vigild's memory is a benchmark figure, not asserted here.
  BOOST_TEST_MESSAGE("vigild VmHWM after 100 MiB of plugin output: " << status_kib(v.daemon.pid(), "VmHWM") << " KiB");
  expect_clean_exit(v);
}

// Two shapes: the plugin dies of the SIGTERM and leaves its grandchild behind
// (vigild kills the group once the plugin has exited), and the plugin ignores
// SIGTERM too (the group is killed when kill_grace is over).
BOOST_AUTO_TEST_CASE(timeout_kills_a_grandchild_that_ignores_sigterm) {
  TempDir scripts;
  // The grandchild stays in the plugin's process group (no job control in sh).
  auto grandchild = [&](const std::string& pids) {
    return "sh -c 'trap \"\" TERM; echo $$ >> " + pids + "; exec sleep 60' &\nwait\n";
  };
  write_script(scripts / "orphaning", grandchild(scripts / "orphaning.pids"));
  write_script(scripts / "stubborn", "trap '' TERM\n" + grandchild(scripts / "stubborn.pids"));
  const std::string keys = "timeout = \"500ms\"\nkill_grace = \"300ms\"\n";
  Vigil v(stand_in_target("host") +
          check("host", "orphaning", "exec", "command = [\"" + (scripts / "orphaning") + "\"]\n" + keys, "5s") +
          check("host", "stubborn", "exec", "command = [\"" + (scripts / "stubborn") + "\"]\n" + keys, "5s"));
  v.start();
  for (const std::string name : {"orphaning", "stubborn"}) {
    auto failed = wait_event(v, "check_failed", name);
    BOOST_TEST(contains(reason_of(failed), "timed out"), reason_of(failed));

    std::vector<pid_t> grandchildren;
    std::istringstream in(slurp(scripts / (name + ".pids")));
    for (long pid; in >> pid;) grandchildren.push_back(static_cast<pid_t>(pid));
    BOOST_REQUIRE_MESSAGE(!grandchildren.empty(), "the script " << name << " did not start its grandchild");
    for (pid_t pid : grandchildren) {
      BOOST_TEST(wait_for(3s, [&] { return process_gone(pid); }),
                 "grandchild " << pid << " of " << name << " still runs");
    }
  }
  expect_clean_exit(v);
}

BOOST_AUTO_TEST_CASE(missing_executable_fails_the_check_not_the_daemon) {
  Listener listener;
  const std::string missing = "/nonexistent/check_x";
  Vigil v(stand_in_target("host") + check("host", "ghost", "exec", "command = [\"" + missing + "\", \"-w\", \"1\"]") +
          check("host", "side", "tcp", "address = \"" + address(listener.port) + "\""));

  RunResult checked = run({env_path("VIGILD"), "--check-config", "--config", v.config_path});
  BOOST_TEST(checked.exit_code == 0,
             checked.err);  // a warning, not an error: it may be installed later
  BOOST_TEST(contains(checked.err, "warning"), checked.err);
  BOOST_TEST(contains(checked.err, missing), checked.err);
  BOOST_TEST(!contains(checked.err, "error:"), checked.err);

  v.start();
  std::string reason = reason_of(wait_event(v, "check_failed", "ghost"));
  BOOST_TEST(contains(reason, missing), reason);
  // The daemon goes on: the tcp check on the side keeps reporting after the failure.
  wait_event(v, "check_ok", "side");
  const std::size_t before = values_of(v, "check_up", "host", "side").size();
  BOOST_TEST(wait_for(5s, [&] { return values_of(v, "check_up", "host", "side").size() >= before + 3; }), v.log());
  BOOST_TEST(values_of(v, "check_up", "host", "side").back() == 1);
  BOOST_TEST(!v.daemon.wait(0ms).has_value());  // still running
  expect_clean_exit(v);
}
