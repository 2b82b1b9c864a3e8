#pragma once
// Shared by the subscribers tests: the fixtures' dial plan, temporary files, and a real
// redis-server on a free loopback port.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/child_process.h"
#include "../support/free_port.h"
#include "mcn/sipparse/dial_plan.h"

namespace mcn::subscribers::test {

// The number plan of pcaps/fixtures.toml, written out here: +86 25 8300 1xxx desk lines dialled
// as 4-digit extensions, 8-digit local numbers in area 25.
inline sipparse::DialPlanConfig fixturesPlanConfig() {
  sipparse::DialPlanConfig c;
  c.country_code = "86";
  c.national_prefix = "0";
  c.international_prefix = "00";
  c.area_code = "25";
  c.local_number_length = 8;
  c.rewrite = {{"^(1\\d{3})$", "+86258300$1"}, {"^(9999)$", "+86258300$1"}};
  return c;
}
inline const sipparse::DialPlan& fixturesPlan() {
  static const sipparse::DialPlan plan(fixturesPlanConfig());
  return plan;
}

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mcn_subscribers_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name), std::ios::binary) << text;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `cond` until it holds or `limit` passes. The wait is a bound, not an assertion of timing.
inline bool waitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

inline int freeLoopbackPort() { return mcn::test::freeTcpPort("127.0.0.1"); }

// One RESP command over a fresh connection; returns the first reply line ("+PONG", "-ERR ...",
// ":3", "$5") or "" when nothing answers. Enough for PING and for planting bad data.
inline std::string rawCommand(int port, const std::vector<std::string>& args) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string line;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& s : args) req += "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char c;
      while (::recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
      if (!line.empty() && line.back() == '\r') line.pop_back();
    }
  }
  ::close(fd);
  return line;
}

// GET over a fresh connection: the bulk string's value, "" for nil or no answer.
inline std::string rawGet(int port, const std::string& key) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string value;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req =
        "*2\r\n$3\r\nGET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string head;
    char c;
    while (::recv(fd, &c, 1, 0) == 1 && c != '\n') head += c;
    if (head.size() > 1 && head[0] == '$' && head[1] != '-') {
      const size_t len = std::stoul(head.substr(1));
      while (value.size() < len && ::recv(fd, &c, 1, 0) == 1) value += c;
    }
  }
  ::close(fd);
  return value;
}

// A real redis-server on 127.0.0.1 without persistence, owned by the test.
class RedisServer {
 public:
  static bool available() { return ::access("/usr/bin/redis-server", X_OK) == 0; }

  // port 0: pick a free one (retried if another process takes it first). `extra` arguments go
  // after the defaults (e.g. --requirepass). Returns once our own child answers PING (a NOAUTH
  // answer counts: the server is up), bounded.
  bool start(int port = 0, const std::vector<std::string>& extra = {}) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = port != 0 ? port : freeLoopbackPort();
      std::vector<std::string> args{"/usr/bin/redis-server",
                                    "--port",
                                    std::to_string(port_),
                                    "--bind",
                                    "127.0.0.1",
                                    "--save",
                                    "",
                                    "--appendonly",
                                    "no",
                                    "--daemonize",
                                    "no",
                                    "--dir",
                                    "/tmp"};
      args.insert(args.end(), extra.begin(), extra.end());
      proc_.start(args);
      bool exited = false;
      const bool up = waitFor([&] {
        exited = exited || proc_.exited();
        const std::string r = rawCommand(port_, {"PING"});
        return exited || r == "+PONG" || r.rfind("-NOAUTH", 0) == 0;
      });
      // A PONG while our child has exited (port taken) came from someone else's server.
      exited = exited || proc_.exited();
      if (up && !exited) return true;
      proc_.kill();
      if (port != 0) return false;
    }
    return false;
  }

  void stop() { proc_.kill(); }  // SIGKILL: an abrupt loss, as when the server or its host dies

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  mcn::test::ChildProcess proc_;
  int port_ = 0;
};

}  // namespace mcn::subscribers::test
