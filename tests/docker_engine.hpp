// tests/docker_engine.hpp: a real Docker engine for a test, its own.
//
// Debian's dockerd (package docker.io), started in a temporary directory
// (its own --data-root, --exec-root and socket), without a bridge or
// iptables rules (so that engines of parallel tests do not meet, and the
// host's network is left alone: a container that must be reached uses
// --network host). No registry is reachable here, so the test image is
// made with `docker import` from a rootfs holding Debian's static busybox
// (httpd, wget, sh). Stopped and removed when the object goes.
#pragma once

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <sstream>

#include "tests/integration/harness.hpp"

namespace harness {

class DockerEngine {
 public:
  static constexpr const char* kImage = "vigil-test:local";

  // Why no engine can be started here, or nullopt.
  static std::optional<std::string> why_not() {
    if (::geteuid() != 0) return "dockerd needs root";
    if (!fs::exists("/usr/sbin/dockerd")) return "/usr/sbin/dockerd is missing (apt-get install docker.io)";
    if (cli().empty()) return "no docker client (apt-get install docker.io)";
    if (!fs::exists("/bin/busybox")) return "/bin/busybox is missing (apt-get install busybox-static)";
    return std::nullopt;
  }

  DockerEngine() : socket_(dir_ / "docker.sock") {
    fs::create_directories(dir_.path / "rootfs" / "bin");
    fs::create_directories(dir_.path / "rootfs" / "www");
    start();
    // The image: busybox, its applets as links, and a health file to serve.
    const fs::path root = dir_.path / "rootfs";
    fs::copy_file("/bin/busybox", root / "bin" / "busybox");
    for (const char* applet :
         {"sh", "httpd", "wget", "cat", "rm", "sleep", "kill", "echo", "head", "true", "test", "[", "touch"}) {
      fs::create_symlink("busybox", root / "bin" / applet);
    }
    write_file((root / "www" / "health").string(), "ok\n");
    const RunResult tar = run({"/bin/tar", "-C", root.string(), "-cf", dir_ / "rootfs.tar", "."});
    BOOST_REQUIRE_MESSAGE(tar.exit_code == 0, "tar: " << tar.err);
    docker({"import", "-c", R"(CMD ["/bin/httpd","-f","-p","8080","-h","/www"])", dir_ / "rootfs.tar", kImage});
  }
  ~DockerEngine() { stop(); }
  DockerEngine(const DockerEngine&) = delete;
  DockerEngine& operator=(const DockerEngine&) = delete;

  const std::string& socket() const { return socket_; }

  // Runs the docker client against this engine; its stdout (trimmed).
  // Fails the test when the command fails, unless `may_fail`.
  std::string docker(std::vector<std::string> args, bool may_fail = false) {
    std::vector<std::string> argv = {cli(), "-H", "unix://" + socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = run(argv);
    if (!may_fail) BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "docker " << args.at(0) << ": " << r.err);
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

  // `docker run -d ARGS`: the new container's id.
  std::string run_container(std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "-d"});
    return docker(args);
  }

  // Starts the engine again (after stop()), on the same data.
  void start() {
    child_ = Child::start({"/usr/sbin/dockerd", "--data-root", dir_ / "data", "--exec-root", dir_ / "exec", "-H",
                           "unix://" + socket_, "--pidfile", dir_ / "dockerd.pid", "--bridge=none", "--iptables=false",
                           "--ip-masq=false", "--shutdown-timeout=2"},
                          {}, dir_ / "dockerd.log");
    running_ = true;
    BOOST_REQUIRE_MESSAGE(wait_for(60s, [&] { return ping(); }),
                          "dockerd did not answer within 60 s; its log: " << slurp(dir_ / "dockerd.log"));
  }

  // Stops the engine (SIGTERM; it stops its containers first).
  void stop() {
    if (!running_) return;
    running_ = false;
    child_.signal(SIGTERM);
    if (!child_.wait(30s)) child_.signal(SIGKILL);
    child_.wait(10s);
    // What the engine leaves mounted (its exec root's netns; after a crash,
    // its data root and containers' overlays): nothing of it outlives the test.
    unmount_under(dir_.path);
  }

  static void unmount_under(const std::string& dir) {
    std::vector<std::string> points;
    std::istringstream in(slurp("/proc/self/mountinfo"));
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string id, parent, dev, root, point;
      fields >> id >> parent >> dev >> root >> point;
      if (point.rfind(dir + "/", 0) == 0) points.push_back(point);
    }
    std::sort(points.rbegin(), points.rend());  // the deepest first
    for (const auto& p : points) ::umount2(p.c_str(), MNT_DETACH);
  }

  // Kills the engine (SIGKILL) and its containerd: unlike stop(), its
  // containers go on running (their shims stay), as after an engine that
  // crashed. start() brings it back on the same data. The containerd pid
  // file goes too: where PID 1 does not reap orphans (this machine's), the
  // dead containerd stays a zombie, and a new dockerd that finds its pid
  // waits for it forever instead of starting another.
  void crash() {
    if (!running_) return;
    running_ = false;
    child_.signal(SIGKILL);
    child_.wait(10s);
    const fs::path pidfile = dir_.path / "exec" / "containerd" / "containerd.pid";
    const int containerd = std::atoi(slurp(pidfile).c_str());
    if (containerd > 0) ::kill(containerd, SIGKILL);
    std::error_code ec;
    fs::remove(pidfile, ec);
  }

  // The engine answers /_ping on its socket.
  bool ping() const { return get("/_ping").find(" 200 ") != std::string::npos; }

  // The whole answer (status line, headers, body) to GET `path` over HTTP/1.0
  // on the engine's socket (it closes the connection after it: no chunks);
  // "" when nothing answered within 5 s.
  std::string get(const std::string& path) const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_.c_str());
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
      }
    }
    ::close(fd);
    return answer;
  }

  // The JSON body of GET `path` (a test failure when there is none).
  nlohmann::json get_json(const std::string& path) const {
    const std::string answer = get(path);
    const auto body = answer.find("\r\n\r\n");
    BOOST_REQUIRE_MESSAGE(answer.find(" 200 ") != std::string::npos && body != std::string::npos,
                          "GET " << path << ": " << answer.substr(0, 300));
    return nlohmann::json::parse(answer.substr(body + 4));
  }

  std::string log() const { return slurp(dir_ / "dockerd.log"); }

 private:
  // Debian's client (docker.io) before any other in PATH.
  static std::string cli() {
    for (const char* p : {"/usr/bin/docker", "/usr/local/bin/docker"}) {
      if (fs::exists(p)) return p;
    }
    return "";
  }

  TempDir dir_;
  std::string socket_;
  Child child_;
  bool running_ = false;
};

}  // namespace harness
