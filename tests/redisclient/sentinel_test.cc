// The client in Redis Sentinel mode against real processes (tests/redisclient/sentinel_lab.h: a
// master, a replica, three redis-sentinel): discovery through the Sentinels (a dead one skipped),
// a killed master followed to the promoted replica, a manual failover followed while the old
// master stays up, all Sentinels down (a clear error, then retries on the backoff, on an
// injected clock), and wrong passwords never shown. Waits are bounded polls; the failover time is
// printed, not asserted.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "sentinel_lab.h"

namespace mcn::redis {
namespace {

using test::SentinelLab;
using test::waitFor;

std::string addr(int port) { return "127.0.0.1:" + std::to_string(port); }

class SentinelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/usr/bin/redis-sentinel", X_OK), 0)
        << "redis-sentinel not installed (deploy/install-deps.sh)";
  }
  static RedisClientOptions viaSentinels(const SentinelLab& lab) {
    RedisClientOptions o = lab.direct(0);
    o.host = "192.0.2.1";  // never used in Sentinel mode
    o.port = 1;
    o.sentinels = lab.sentinelAddrs();
    o.sentinel_master = "mcn";
    o.connect_timeout_ms = 500;
    o.command_timeout_ms = 2000;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 200;
    return o;
  }
};

TEST(ParseHostPort, AcceptsHostPortAndBracketedV6Only) {
  std::string h;
  int p = 0;
  EXPECT_TRUE(parseHostPort("10.0.0.1:26379", h, p));
  EXPECT_EQ(h, "10.0.0.1");
  EXPECT_EQ(p, 26379);
  EXPECT_TRUE(parseHostPort("[2001:db8::1]:26379", h, p));
  EXPECT_EQ(h, "2001:db8::1");
  EXPECT_TRUE(parseHostPort("sentinel-a:1", h, p));
  for (const char* bad :
       {"", "host", "host:", ":26379", "host:0", "host:65536", "2001:db8::1:26379",
        "[2001:db8::1]26379", "a b:1", "host:26379x", "host:123456"}) {
    EXPECT_FALSE(parseHostPort(bad, h, p)) << bad;
  }
}

TEST_F(SentinelTest, DiscoversTheMasterSkippingADeadSentinel) {
  SentinelLab lab;
  ASSERT_TRUE(lab.start(false));
  RedisClientOptions o = viaSentinels(lab);
  o.sentinels.insert(o.sentinels.begin(), addr(test::freeLoopbackPort()));  // nobody there
  RedisClient c(o);
  ASSERT_EQ(c.connect(), "");
  EXPECT_EQ(c.master(), addr(lab.masterPort()));
  EXPECT_TRUE(c.command({"SET", "k", "v"}).ok());
  RedisClient direct(lab.direct(lab.masterPort()));
  ASSERT_EQ(direct.connect(), "");
  EXPECT_EQ(direct.command({"GET", "k"}).str, "v");  // written on the master itself
  EXPECT_EQ(c.sentinelFailovers(), 0u);
  EXPECT_EQ(c.sentinelErrors(), 0u);
  // The Sentinel that answered is asked first from now on.
  EXPECT_EQ(c.options().sentinels.front(), lab.sentinelAddrs().front());
}

TEST_F(SentinelTest, UnknownMasterNameIsAClearError) {
  SentinelLab lab;
  ASSERT_TRUE(lab.start(false));
  RedisClientOptions o = viaSentinels(lab);
  o.sentinel_master = "nosuch";
  RedisClient c(o);
  const std::string e = c.connect();
  EXPECT_EQ(e.rfind("no Sentinel gave the address of master 'nosuch' (", 0), 0u) << e;
  EXPECT_NE(e.find("does not know master 'nosuch'"), std::string::npos) << e;
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.sentinelErrors(), 1u);
}

// The master is SIGKILLed: commands fail, the client re-asks the Sentinels on every reconnect,
// is refused the dead address until the Sentinels promote the replica, then writes there.
TEST_F(SentinelTest, FollowsTheFailoverAfterTheMasterDies) {
  SentinelLab lab;
  ASSERT_TRUE(lab.start());
  RedisClient c(viaSentinels(lab));
  ASSERT_EQ(c.connect(), "");
  ASSERT_TRUE(c.command({"SET", "before", "1"}).ok());
  // Replicated before the kill (WAIT for one replica): this write must survive the failover.
  ASSERT_EQ(c.command({"WAIT", "1", "2000"}).integer, 1);

  const auto killed = std::chrono::steady_clock::now();
  lab.killMaster();
  EXPECT_FALSE(c.command({"SET", "during", "1"}).received());
  bool written = false;
  ASSERT_TRUE(waitFor(
      [&] {
        if (!c.ensure()) return false;
        written = c.command({"SET", "after", "1"}).ok();
        return written;
      },
      std::chrono::seconds(30)))
      << c.lastError();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::printf("failover seen by the client: %.2f s after the master was killed\n", secs);
  EXPECT_EQ(c.master(), addr(lab.replicaPort()));
  EXPECT_EQ(c.sentinelFailovers(), 1u);
  EXPECT_GE(c.reconnects(), 1u);
  EXPECT_EQ(c.command({"GET", "before"}).str, "1");
  EXPECT_EQ(c.command({"ROLE"}).elements.at(0).str, "master");
}

// SENTINEL FAILOVER with both nodes alive: the old master becomes a replica. The client, idle,
// moves to the new master on the Sentinels' +switch-master announcement (read by ensure()).
TEST_F(SentinelTest, FollowsAManualFailoverWhileTheOldMasterLives) {
  SentinelLab lab;
  ASSERT_TRUE(lab.start());
  RedisClient c(viaSentinels(lab));
  ASSERT_EQ(c.connect(), "");
  ASSERT_TRUE(c.ensure());  // subscribes to +switch-master on a Sentinel
  ASSERT_TRUE(lab.sentinelCommand(0, {"SENTINEL", "FAILOVER", "mcn"}).ok());
  // No command meanwhile: only the +switch-master announcement, read by ensure(), can move us.
  ASSERT_TRUE(waitFor([&] { return c.ensure() && c.master() == addr(lab.replicaPort()); },
                      std::chrono::seconds(30)))
      << c.lastError();
  EXPECT_EQ(c.sentinelFailovers(), 1u);
  ASSERT_TRUE(c.command({"SET", "on-new", "1"}).ok());
  // The Sentinels turn the old master into a replica of the new one (when they next see it
  // claiming to be a master: seconds).
  EXPECT_TRUE(waitFor(
      [&] {
        RedisClient old(lab.direct(lab.masterPort()));
        if (!old.connect().empty()) return false;
        RedisReply r = old.command({"ROLE"});
        return r.isArray() && !r.elements.empty() && r.elements[0].str == "slave";
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(c.command({"SET", "still-on-new", "1"}).ok());
}

// The master turned into a replica behind the Sentinels' back (REPLICAOF by hand): the next
// write gets READONLY, which drops the connection; the reconnect asks the Sentinels, who still
// name that node, and ROLE refuses it: no write ever lands on a replica.
TEST_F(SentinelTest, ReadonlyDropsTheConnectionAndRoleRefusesAReplica) {
  SentinelLab lab;
  ASSERT_TRUE(lab.start(false));
  RedisClient c(viaSentinels(lab));
  ASSERT_EQ(c.connect(), "");
  RedisClient admin(lab.direct(lab.masterPort()));
  ASSERT_EQ(admin.connect(), "");
  ASSERT_TRUE(
      admin.command({"REPLICAOF", "127.0.0.1", std::to_string(test::freeLoopbackPort())}).ok());
  RedisReply r = c.command({"SET", "k", "v"});
  EXPECT_TRUE(r.errorIs("READONLY")) << r.str;
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.lastError(), "READONLY: the master became a replica");
  EXPECT_EQ(c.errors(), 1u);
  const std::string e = c.connect();
  EXPECT_EQ(e, addr(lab.masterPort()) + " named by the Sentinels is not a master (ROLE: slave)");
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.sentinelErrors(), 1u);
}

// Every Sentinel down: connect() names each one and why; ensure() does not retry before the
// backoff has passed (injected clock), then retries, and the wait doubles.
TEST_F(SentinelTest, AllSentinelsDownIsAClearErrorRetriedWithBackoff) {
  SentinelLab lab;
  ASSERT_TRUE(lab.start(false));
  lab.killSentinels();
  int64_t now_us = 1'000'000;
  RedisClientOptions o = viaSentinels(lab);
  o.backoff_initial_ms = 100;
  o.backoff_max_ms = 400;
  RedisClient c(o, [&] { return now_us; });
  const std::string e = c.connect();
  EXPECT_EQ(e.rfind("no Sentinel gave the address of master 'mcn' (", 0), 0u) << e;
  for (const std::string& s : lab.sentinelAddrs()) {
    EXPECT_NE(e.find(s + ": cannot connect ("), std::string::npos) << e;
  }
  EXPECT_EQ(c.lastError(), e);
  EXPECT_TRUE(c.down());
  EXPECT_EQ(c.sentinelErrors(), 1u);
  now_us += 99'000;
  EXPECT_FALSE(c.ensure());
  EXPECT_EQ(c.sentinelErrors(), 1u);  // not tried before the backoff
  now_us += 1'000;
  EXPECT_FALSE(c.ensure());
  EXPECT_EQ(c.sentinelErrors(), 2u);
  now_us += 199'000;  // the backoff is 200 ms now
  EXPECT_FALSE(c.ensure());
  EXPECT_EQ(c.sentinelErrors(), 2u);
  now_us += 1'000;
  EXPECT_FALSE(c.ensure());
  EXPECT_EQ(c.sentinelErrors(), 3u);
}

TEST_F(SentinelTest, WrongPasswordsAreNeverShown) {
  SentinelLab lab({"data-pw-31337", "sentinel-pw-4242"});
  ASSERT_TRUE(lab.start(false));
  RedisClientOptions o = viaSentinels(lab);
  ASSERT_EQ(RedisClient(o).connect(), "");  // both right

  o.sentinel_password = "wrong-sentinel-pw-1";
  RedisClient bad_s(o);
  std::string e = bad_s.connect();
  EXPECT_NE(e.find("authentication failed"), std::string::npos) << e;
  for (const std::string& s : {e, bad_s.lastError()}) {
    EXPECT_EQ(s.find("wrong-sentinel-pw-1"), std::string::npos) << s;
    EXPECT_EQ(s.find("sentinel-pw-4242"), std::string::npos) << s;
  }

  o = viaSentinels(lab);
  o.password = "wrong-data-pw-2";
  RedisClient bad_d(o);
  e = bad_d.connect();
  EXPECT_EQ(e, "authentication failed");
  EXPECT_EQ(bad_d.lastError().find("wrong-data-pw-2"), std::string::npos);
  EXPECT_FALSE(bad_d.connected());
}

}  // namespace
}  // namespace mcn::redis
