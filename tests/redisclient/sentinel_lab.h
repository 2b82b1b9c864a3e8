#pragma once
// A Redis Sentinel lab of real processes on free 127.0.0.1 ports: a master, a replica and three
// redis-sentinel processes monitoring the master as "mcn" (quorum 2, down after 1 s), optionally
// with passwords on the data nodes and on the Sentinels. Every process is SIGKILLed at
// destruction; the Sentinels' config files live in a temporary directory.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../subscribers/test_support.h"
#include "mcn/redis/client.h"

namespace mcn::redis::test {

using subscribers::test::freeLoopbackPort;
using subscribers::test::TempDir;
using subscribers::test::waitFor;

using Proc = mcn::test::ChildProcess;

class SentinelLab {
 public:
  struct Options {
    std::string redis_password;     // requirepass + masterauth; Sentinels get auth-pass
    std::string sentinel_password;  // requirepass of the Sentinels
  };

  explicit SentinelLab(Options o = {}) : o_(std::move(o)) {}

  // Starts everything and waits until each Sentinel knows the master, and with `failover`
  // also the replica and the two other Sentinels (what a failover needs, a few seconds more).
  // False if that did not happen within 20 s.
  bool start(bool failover = true) {
    master_port_ = freeLoopbackPort();
    replica_port_ = freeLoopbackPort();
    startData(master_, master_port_, false);
    startData(replica_, replica_port_, true);
    if (!waitFor([&] { return linkUp(); }, std::chrono::seconds(10))) return false;
    for (int i = 0; i < 3; ++i) {
      sentinel_ports_.push_back(freeLoopbackPort());
      std::string conf = "port " + std::to_string(sentinel_ports_[i]) +
                         "\nbind 127.0.0.1\nsentinel monitor mcn 127.0.0.1 " +
                         std::to_string(master_port_) +
                         " 2\nsentinel down-after-milliseconds mcn 1000\n"
                         "sentinel failover-timeout mcn 4000\n";
      if (!o_.redis_password.empty()) conf += "sentinel auth-pass mcn " + o_.redis_password + "\n";
      if (!o_.sentinel_password.empty()) {
        conf += "requirepass " + o_.sentinel_password + "\n";
        conf += "sentinel sentinel-pass " + o_.sentinel_password + "\n";
      }
      const std::string path = dir_.write("sentinel" + std::to_string(i) + ".conf", conf);
      sentinels_[i].start({"redis-sentinel", path});
    }
    return waitFor([&] { return sentinelsReady(failover); }, std::chrono::seconds(20));
  }

  std::vector<std::string> sentinelAddrs() const {
    std::vector<std::string> v;
    for (int p : sentinel_ports_) v.push_back("127.0.0.1:" + std::to_string(p));
    return v;
  }
  int masterPort() const { return master_port_; }
  int replicaPort() const { return replica_port_; }
  void killMaster() { master_.kill(); }
  void killSentinels() {
    for (auto& s : sentinels_) s.kill();
  }
  // A client straight to a node (no Sentinel), authenticated.
  RedisClientOptions direct(int port) const {
    RedisClientOptions c;
    c.port = port;
    c.password = o_.redis_password;
    c.sentinel_password = o_.sentinel_password;
    return c;
  }
  RedisReply sentinelCommand(int i, std::initializer_list<std::string_view> args) const {
    RedisClientOptions c;
    c.port = sentinel_ports_[static_cast<size_t>(i)];
    c.password = o_.sentinel_password;
    RedisClient s(c);
    if (!s.connect().empty()) return {};
    return s.command(args);
  }

 private:
  void startData(Proc& p, int port, bool replica) {
    std::vector<std::string> args{"redis-server",
                                  "--port",
                                  std::to_string(port),
                                  "--bind",
                                  "127.0.0.1",
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "no",
                                  "--dir",
                                  dir_.file(""),
                                  "--repl-diskless-sync-delay",
                                  "0"};
    if (replica) {
      args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(master_port_)});
    }
    if (!o_.redis_password.empty()) {
      args.insert(args.end(),
                  {"--requirepass", o_.redis_password, "--masterauth", o_.redis_password});
    }
    p.start(args);
  }
  bool linkUp() const {
    RedisClient c(direct(replica_port_));
    if (!c.connect().empty()) return false;
    RedisReply r = c.command({"ROLE"});
    // ["slave", host, port, "connected", offset]
    return r.isArray() && r.elements.size() >= 4 && r.elements[3].str == "connected";
  }
  bool sentinelsReady(bool failover) const {
    for (int i = 0; i < 3; ++i) {
      if (!failover) {
        if (!sentinelCommand(i, {"SENTINEL", "get-master-addr-by-name", "mcn"}).isArray()) {
          return false;
        }
        continue;
      }
      RedisReply rep = sentinelCommand(i, {"SENTINEL", "replicas", "mcn"});
      RedisReply sen = sentinelCommand(i, {"SENTINEL", "sentinels", "mcn"});
      if (!rep.isArray() || rep.elements.size() != 1) return false;
      if (!sen.isArray() || sen.elements.size() != 2) return false;
    }
    return true;
  }

  Options o_;
  TempDir dir_;
  Proc master_, replica_, sentinels_[3];
  int master_port_ = 0, replica_port_ = 0;
  std::vector<int> sentinel_ports_;
};

}  // namespace mcn::redis::test
