// Security (issue 13; README, "Threat model"), with the real vigild: its
// state is private, it follows no symbolic link planted where it writes, it
// refuses configuration and credentials other users could change, and the
// programs it starts get neither a shell they did not ask for nor its
// environment's secrets.
#define BOOST_TEST_MODULE integration_security
#include <sys/stat.h>

#include "tests/integration/harness.hpp"

using namespace harness;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::lstat(path.c_str(), &st) == 0, path);
  return st.st_mode & 07777;
}

// Lines "NAME=value" of a file `env` wrote, as a map.
std::map<std::string, std::string> env_lines(const std::string& path) {
  std::map<std::string, std::string> out;
  std::istringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::string state_of(const Vigil& v) {
  return v.dir.path.string() + "/state";
}

// vigild refuses to start: the exit status and its log.
std::pair<std::optional<int>, std::string> refused_start(Vigil& v) {
  v.start();
  auto status = v.daemon.wait(10s);
  return {status, v.log()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(state_is_private) {
  Vigil v(stand_in_target("host"));
  v.start();
  // The -wal holds what the first flush committed.
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return !v.events("daemon_start").empty(); }), v.log());
  BOOST_REQUIRE(fs::exists(v.db() + "-wal"));
  BOOST_TEST(mode_of(state_of(v)) == 0700u);
  BOOST_TEST(mode_of(v.db()) == 0600u);
  BOOST_TEST(mode_of(v.db() + "-wal") == 0600u);
  BOOST_TEST(mode_of(state_of(v) + "/vigild.pid") == 0600u);
  BOOST_TEST(v.stop().value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(a_state_dir_its_owner_made_keeps_its_mode) {
  Vigil v(stand_in_target("host"));
  fs::create_directory(state_of(v));
  fs::permissions(state_of(v), fs::perms(0750));
  v.start();
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return fs::exists(v.db()); }), v.log());
  BOOST_TEST(mode_of(state_of(v)) == 0750u);
  BOOST_TEST(v.stop().value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(a_state_dir_anyone_can_write_is_refused) {
  Vigil v(stand_in_target("host"));
  fs::create_directory(state_of(v));
  fs::permissions(state_of(v), fs::perms(0777));
  auto [status, log] = refused_start(v);
  BOOST_TEST(status.has_value());
  BOOST_TEST(status.value_or(0) != 0);
  BOOST_TEST(log.find("is writable by other users (mode 0777)") != std::string::npos, log);
  BOOST_TEST(log.find("chmod o-w " + state_of(v)) != std::string::npos, log);
  BOOST_TEST(!fs::exists(v.db()));
}

namespace {

// A link planted at `file_in_state` (in a private state directory) to a file
// of the test's: vigild refuses to start, names the link, and the file is
// untouched.
void expect_link_refused(const std::string& file_in_state) {
  Vigil v(stand_in_target("host"));
  fs::create_directory(state_of(v));
  fs::permissions(state_of(v), fs::perms(0700));
  const std::string victim = v.dir / "victim";
  write_file(victim, "not vigil's\n");
  const std::string link = state_of(v) + "/" + file_in_state;
  fs::create_symlink(victim, link);
  auto [status, log] = refused_start(v);
  BOOST_TEST(status.value_or(0) != 0);
  BOOST_TEST(log.find(link + " is a symbolic link") != std::string::npos, log);
  BOOST_TEST(slurp(victim) == "not vigil's\n");
  BOOST_TEST(!fs::exists(victim + "-wal"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_store_symlink_is_not_followed) {
  expect_link_refused("vigil.db");
}

BOOST_AUTO_TEST_CASE(a_wal_symlink_is_not_followed) {
  expect_link_refused("vigil.db-wal");
}

BOOST_AUTO_TEST_CASE(a_pid_file_symlink_is_not_followed) {
  expect_link_refused("vigild.pid");
}

BOOST_AUTO_TEST_CASE(a_config_anyone_can_write_is_refused) {
  Vigil v(stand_in_target("host"));
  fs::permissions(v.config_path, fs::perms(0666));
  RunResult check = run({env_path("VIGILD"), "--check-config", "--config", v.config_path});
  BOOST_TEST(check.exit_code != 0);
  const std::string said = check.out + check.err;
  BOOST_TEST(said.find(v.config_path) != std::string::npos, said);
  BOOST_TEST(said.find("is writable by other users (mode 0666)") != std::string::npos, said);
  BOOST_TEST(said.find("chmod o-w " + v.config_path) != std::string::npos, said);
  // And vigild does not start with it.
  auto [status, log] = refused_start(v);
  BOOST_TEST(status.value_or(0) != 0);
  BOOST_TEST(!fs::exists(v.db()));
  // Mode 0664 (a group the owner chose) is the owner's choice: accepted.
  fs::permissions(v.config_path, fs::perms(0664));
  check = run({env_path("VIGILD"), "--check-config", "--config", v.config_path});
  BOOST_TEST(check.exit_code == 0, check.out << check.err);
}

BOOST_AUTO_TEST_CASE(a_drop_in_directory_anyone_can_write_is_refused) {
  Vigil v(stand_in_target("host"));
  const std::string drop_ins = v.dir / "vigil.d";
  fs::create_directory(drop_ins);
  write_file(drop_ins + "/extra.toml", stand_in_target("planted"));
  fs::permissions(drop_ins, fs::perms(0777));
  RunResult check = run({env_path("VIGILD"), "--check-config", "--config", v.config_path});
  BOOST_TEST(check.exit_code != 0);
  const std::string said = check.out + check.err;
  BOOST_TEST(said.find(drop_ins) != std::string::npos, said);
  BOOST_TEST(said.find("any local user could add a drop-in file") != std::string::npos, said);
}

BOOST_AUTO_TEST_CASE(a_token_anyone_can_write_is_refused) {
  TempDir secrets;
  const std::string token = secrets / "token";
  Vigil v("[[webhook]]\nname = \"hook\"\nurl = \"http://127.0.0.1:9/\"\nbearer_token_file = \"" + token + "\"\n");
  write_file(token, "s3cret\n");
  fs::permissions(token, fs::perms(0646));
  RunResult check = run({env_path("VIGILD"), "--check-config", "--config", v.config_path});
  BOOST_TEST(check.exit_code != 0);
  const std::string said = check.out + check.err;
  BOOST_TEST(said.find("webhook[hook].bearer_token_file") != std::string::npos, said);
  BOOST_TEST(said.find("is writable by other users (mode 0646)") != std::string::npos, said);
  fs::permissions(token, fs::perms(0600));
  check = run({env_path("VIGILD"), "--check-config", "--config", v.config_path});
  BOOST_TEST(check.exit_code == 0, check.out << check.err);
}

BOOST_AUTO_TEST_CASE(children_get_no_secrets_and_no_shell_they_did_not_ask_for) {
  TempDir out;
  const std::string check_env = out / "check.env", service_env = out / "service.env";
  Vigil v("[[target]]\nname = \"svc\"\nstart = [\"/bin/sh\", \"-c\", \"env > " + service_env +
          "; exec sleep 600\"]\n"
          "  [[target.check]]\n  name = \"env\"\n  kind = \"exec\"\n  interval = \"200ms\"\n"
          "  command = [\"/bin/sh\", \"-c\", \"env > " +
          check_env +
          "\"]\n  env = { MINE = \"yes\" }\n"
          "  [[target.check]]\n  name = \"literal\"\n  kind = \"exec\"\n  interval = \"200ms\"\n"
          "  cwd = \"" +
          out.path.string() +
          "\"\n  command = [\"/usr/bin/touch\", \"a;touch b\"]\n"
          "  [[target.check]]\n  name = \"shell\"\n  kind = \"exec\"\n  interval = \"200ms\"\n  shell = true\n"
          "  cwd = \"" +
          out.path.string() + "\"\n  command = \"touch c; touch d\"\n");
  v.start({{"AWS_SECRET_ACCESS_KEY", "s3cret"},
           {"VIGIL_TEST_TOKEN", "t0ken"},
           {"LD_PRELOAD", ""},
           {"LC_TIME", "C.UTF-8"},
           {"TZ", "UTC"}});
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return env_lines(check_env).count("PATH") == 1; }), v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return env_lines(service_env).count("PATH") == 1; }), v.log());
  for (const std::string& file : {check_env, service_env}) {
    BOOST_TEST_CONTEXT(file) {
      const auto env = env_lines(file);
      BOOST_TEST(env.count("AWS_SECRET_ACCESS_KEY") == 0u);
      BOOST_TEST(env.count("VIGIL_TEST_TOKEN") == 0u);
      BOOST_TEST(env.count("VIGIL_TEST_FIXTURES") == 0u);  // the test's own environment
      BOOST_TEST(env.at("TZ") == "UTC");
      BOOST_TEST(env.at("LC_TIME") == "C.UTF-8");
    }
  }
  BOOST_TEST(env_lines(check_env).at("MINE") == "yes");
  BOOST_TEST(env_lines(check_env).at("LC_ALL") == "C");
  // Without shell = true the argument reaches the program as it is.
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return fs::exists(out / "a;touch b"); }), v.log());
  BOOST_REQUIRE_MESSAGE(wait_for(10s, [&] { return fs::exists(out / "d"); }), v.log());
  BOOST_TEST(fs::exists(out / "c"));
  BOOST_TEST(!fs::exists(out / "b"));
  BOOST_TEST(v.stop().value_or(-1) == 0);
  // A started service outlives vigild by design: stop it here.
  const std::string run_file = state_of(v) + "/run/svc.pid";
  BOOST_TEST(mode_of(run_file) == 0600u);
  const int pid = std::atoi(slurp(run_file).c_str());
  if (pid > 1) ::kill(pid, SIGKILL);
}
