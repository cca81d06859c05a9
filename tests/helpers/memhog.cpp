// memhog: a target process for Vigil's tests and benchmarks.
//
//   memhog [--pidfile PATH] [--tag TEXT] [--idle]
//
// Prints "ready PID" on stdout, then obeys one command per stdin line,
// answering "ok" (or "error ...") after each:
//   alloc MIB   allocate and touch MIB mebibytes (kept until free)
//   free        release everything allocated
//   child       start a child process that sleeps (part of the tree)
//   exit CODE   exit with CODE
// EOF on stdin exits 0. --idle ignores stdin and sleeps until killed (for
// the overhead benchmark's 200 idle processes). --tag only shows up in the
// command line, for `match` targets.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string pidfile;
  bool idle = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--pidfile" && i + 1 < argc) {
      pidfile = argv[++i];
    } else if (a == "--tag" && i + 1 < argc) {
      ++i;
    } else if (a == "--idle") {
      idle = true;
    } else {
      std::cerr << "memhog: unknown argument " << a << "\n";
      return 2;
    }
  }
  if (!pidfile.empty()) {
    std::string tmp = pidfile + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr) return 3;
    std::fprintf(f, "%d\n", getpid());
    std::fclose(f);
    std::rename(tmp.c_str(), pidfile.c_str());
  }
  std::cout << "ready " << getpid() << std::endl;
  if (idle) {
    for (;;) pause();
  }
  std::vector<std::unique_ptr<char[]>> blocks;
  std::vector<pid_t> children;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.rfind("alloc ", 0) == 0) {
      long mib = std::atol(line.c_str() + 6);
      for (long m = 0; m < mib; ++m) {
        auto block = std::make_unique<char[]>(1 << 20);
        std::memset(block.get(), 0x5a, 1 << 20);  // touch every page: resident, not just reserved
        blocks.push_back(std::move(block));
      }
      std::cout << "ok" << std::endl;
    } else if (line == "free") {
      blocks.clear();
      std::cout << "ok" << std::endl;
    } else if (line == "child") {
      pid_t pid = fork();
      if (pid == 0) {
        // Dies with its parent, so a test that kills memhog leaves no orphan behind.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(0);
        for (;;) pause();
      }
      children.push_back(pid);
      std::cout << "ok" << std::endl;
    } else if (line.rfind("exit ", 0) == 0) {
      for (pid_t c : children) kill(c, SIGKILL);
      return std::atoi(line.c_str() + 5);
    } else {
      std::cout << "error unknown command" << std::endl;
    }
  }
  for (pid_t c : children) {
    kill(c, SIGKILL);
    waitpid(c, nullptr, 0);
  }
  return 0;
}
