#pragma once
// A real process owned by a test (redis-server, redis-sentinel, `mcn run`): started by execvp
// with stdout and stderr in one file (or /dev/null), optionally in its own working directory,
// SIGKILLed and reaped when the owner goes. The one copy of fork/exec/wait for the C++ tests.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mcn::test {

class ChildProcess {
 public:
  struct Options {
    std::string output = "/dev/null";                      // stdout and stderr, truncated at start
    std::string cwd;                                       // empty: the test's own
    std::vector<std::pair<std::string, std::string>> env;  // set in the child only
  };

  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill(); }

  // argv[0] is looked up in PATH. False only if fork failed; a program that cannot be started
  // exits at once with 127 (126: the working directory could not be entered).
  // (Two overloads, not `const Options& o = {}`: a nested struct's default member initializers
  // are not usable in a default argument before the enclosing class is complete.)
  bool start(std::vector<std::string> args) { return start(std::move(args), Options()); }
  bool start(std::vector<std::string> args, const Options& o) {
    kill();
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open(o.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) ::_exit(126);
      for (const auto& [k, v] : o.env) ::setenv(k.c_str(), v.c_str(), 1);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    status_.reset();
    return pid_ > 0;
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // True once the child has ended (reaped, its status kept for wait()); never blocks.
  bool exited() {
    if (pid_ <= 0) return status_.has_value();
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
    status_ = st;
    pid_ = -1;
    return true;
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // The waitpid status once the child ended within the limit, else nullopt (still running).
  std::optional<int> wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!exited()) {
      if (std::chrono::steady_clock::now() >= end) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
  }

  // Exit code of a normal exit within the limit; -1 for a signal or a timeout.
  int exitCode(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto st = wait(limit);
    return st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  }

  // SIGKILL and reap: an abrupt loss, as when a process or its host dies.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    status_ = st;
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace mcn::test
