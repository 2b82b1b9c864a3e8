// The one Redis client against a real redis-server on a free loopback port: connect, AUTH and its
// failure message, SELECT, the command timeout, reconnect with backoff after a restart (on an
// injected clock), script reload after SCRIPT FLUSH, pipelining, pub/sub reads and the mapping of
// every reply type. Waits are bounded polls, never timing assertions.

#include "mcn/redis/client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../subscribers/test_support.h"

namespace mcn::redis {
namespace {

using subscribers::test::freeLoopbackPort;
using subscribers::test::rawCommand;
using subscribers::test::waitFor;
using Type = RedisReply::Type;

// A redis-server on 127.0.0.1 without persistence; extra arguments (e.g. --requirepass).
using Server = subscribers::test::RedisServer;

// The backoff's clock, moved by hand.
struct FakeClock {
  int64_t us = 1'000'000;
  RedisClient::NowUs fn() {
    return [this] { return us; };
  }
};

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/usr/bin/redis-server", X_OK), 0) << "redis-server not installed";
  }
  RedisClientOptions opts(int port) {
    RedisClientOptions o;
    o.port = port;
    o.backoff_initial_ms = 100;
    o.backoff_max_ms = 250;
    return o;
  }
};

TEST_F(RedisClientTest, ConnectsAndRunsCommands) {
  Server s;
  ASSERT_TRUE(s.start());
  RedisClient c(opts(s.port()));
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.connect(), "");
  EXPECT_TRUE(c.connected());
  EXPECT_FALSE(c.down());
  RedisReply r = c.command({"SET", "k", std::string("a\0b", 3)});
  EXPECT_TRUE(r.ok());
  r = c.command(std::vector<std::string>{"GET", "k"});
  EXPECT_EQ(r.type, Type::kString);
  EXPECT_EQ(r.str, std::string("a\0b", 3));  // binary-safe
  EXPECT_EQ(c.reconnects(), 0u);
  EXPECT_EQ(c.errors(), 0u);
}

// Each RESP2 reply type as the value a caller sees.
TEST_F(RedisClientTest, MapsEveryReplyType) {
  Server s;
  ASSERT_TRUE(s.start());
  RedisClient c(opts(s.port()));
  ASSERT_EQ(c.connect(), "");
  ASSERT_TRUE(c.command({"RPUSH", "list", "x", "y"}).ok());
  struct Row {
    std::vector<std::string> cmd;
    Type type;
    std::string str;
    int64_t integer;
    size_t elements;
  };
  const std::vector<Row> table = {
      {{"SET", "s", "v"}, Type::kStatus, "OK", 0, 0},
      {{"GET", "s"}, Type::kString, "v", 0, 0},
      {{"GET", "missing"}, Type::kNil, "", 0, 0},
      {{"INCRBY", "n", "-7"}, Type::kInteger, "", -7, 0},
      {{"LRANGE", "list", "0", "-1"}, Type::kArray, "", 0, 2},
      {{"LRANGE", "missing", "0", "-1"}, Type::kArray, "", 0, 0},
      {{"NOSUCHCOMMAND"},
       Type::kError,
       "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ",
       0,
       0},
  };
  for (const Row& row : table) {
    RedisReply r = c.command(row.cmd);
    EXPECT_EQ(r.type, row.type) << row.cmd[0];
    EXPECT_EQ(r.str, row.str) << row.cmd[0];
    EXPECT_EQ(r.integer, row.integer) << row.cmd[0];
    EXPECT_EQ(r.elements.size(), row.elements) << row.cmd[0];
  }
  // Nested arrays keep their shape: a script returning {1, "a", {false, "b"}} (false is nil).
  RedisReply r = c.command({"EVAL", "return {1, 'a', {false, 'b'}}", "0"});
  ASSERT_EQ(r.type, Type::kArray);
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0].type, Type::kInteger);
  EXPECT_EQ(r.elements[0].integer, 1);
  EXPECT_EQ(r.elements[1].type, Type::kString);
  EXPECT_EQ(r.elements[1].str, "a");
  ASSERT_EQ(r.elements[2].type, Type::kArray);
  ASSERT_EQ(r.elements[2].elements.size(), 2u);
  EXPECT_EQ(r.elements[2].elements[0].type, Type::kNil);
  EXPECT_EQ(r.elements[2].elements[1].str, "b");
  // An error reply keeps the connection; errorIs() matches the code only as a whole word.
  r = c.command({"XGROUP", "CREATE", "st", "g", "0", "MKSTREAM"});
  ASSERT_TRUE(r.ok());
  r = c.command({"XGROUP", "CREATE", "st", "g", "0", "MKSTREAM"});
  EXPECT_TRUE(r.errorIs("BUSYGROUP"));
  EXPECT_FALSE(r.errorIs("BUSY"));
  EXPECT_TRUE(c.connected());
}

TEST_F(RedisClientTest, RefusedConnectionSaysSoAndBacksOff) {
  const int port = freeLoopbackPort();
  FakeClock clock;
  RedisClient c(opts(port), clock.fn());
  EXPECT_EQ(c.connect(), "cannot connect (Connection refused)");
  EXPECT_TRUE(c.down());
  RedisReply r = c.command({"PING"});
  EXPECT_FALSE(r.received());
  EXPECT_EQ(c.lastError(), "not connected");
}

// The delay doubles up to the maximum; no attempt is made before it has passed (the server is up
// by then and the client still does not connect).
TEST_F(RedisClientTest, ReconnectBackoffDoublesToTheMaximum) {
  const int port = freeLoopbackPort();
  FakeClock clock;
  RedisClient c(opts(port), clock.fn());
  EXPECT_FALSE(c.ensure());  // t=0: fails, next try at +100 ms
  clock.us += 99'000;
  EXPECT_FALSE(c.ensure());
  clock.us += 1'000;
  EXPECT_FALSE(c.ensure());  // t=100: fails, next at +200 ms
  clock.us += 200'000;
  EXPECT_FALSE(c.ensure());  // t=300: fails, next at +250 ms (the maximum)
  Server s;
  ASSERT_TRUE(s.start(port));
  clock.us += 249'000;
  EXPECT_FALSE(c.ensure());
  EXPECT_FALSE(c.connected());
  clock.us += 1'000;
  EXPECT_TRUE(c.ensure());
  EXPECT_EQ(c.reconnects(), 0u);  // the first connection is not a reconnect
}

TEST_F(RedisClientTest, ReconnectsAfterTheServerRestarts) {
  Server s;
  ASSERT_TRUE(s.start());
  FakeClock clock;
  RedisClient c(opts(s.port()), clock.fn());
  ASSERT_TRUE(c.ensure());
  ASSERT_TRUE(c.command({"SET", "k", "1"}).ok());
  s.stop();
  EXPECT_FALSE(c.command({"GET", "k"}).received());
  EXPECT_FALSE(c.connected());
  EXPECT_TRUE(c.down());
  EXPECT_EQ(c.errors(), 1u);
  ASSERT_TRUE(s.start(s.port()));
  EXPECT_FALSE(c.ensure());  // within the backoff
  clock.us += 100'000;
  ASSERT_TRUE(c.ensure());
  EXPECT_EQ(c.reconnects(), 1u);
  EXPECT_EQ(c.command({"GET", "k"}).type, Type::kNil);  // a fresh server without persistence
}

TEST_F(RedisClientTest, AuthenticatesAndNeverShowsThePassword) {
  Server s;
  ASSERT_TRUE(s.start(0, {"--requirepass", "right-pw-4711"}));
  RedisClientOptions o = opts(s.port());
  o.password = "wrong-pw-0815";
  RedisClient bad(o);
  const std::string e = bad.connect();
  EXPECT_EQ(e, "authentication failed");
  EXPECT_FALSE(bad.connected());
  EXPECT_EQ(bad.lastError().find("wrong-pw-0815"), std::string::npos) << bad.lastError();

  o.password = "right-pw-4711";
  RedisClient good(o);
  EXPECT_EQ(good.connect(), "");
  EXPECT_EQ(good.command({"PING"}).str, "PONG");

  RedisClient none(opts(s.port()));
  EXPECT_EQ(none.connect(), "");
  EXPECT_TRUE(none.command({"GET", "k"}).errorIs("NOAUTH"));
}

TEST_F(RedisClientTest, SelectsTheDatabase) {
  Server s;
  ASSERT_TRUE(s.start());
  RedisClientOptions o = opts(s.port());
  o.db = 3;
  RedisClient three(o);
  ASSERT_EQ(three.connect(), "");
  ASSERT_TRUE(three.command({"SET", "k", "in3"}).ok());
  RedisClient zero(opts(s.port()));
  ASSERT_EQ(zero.connect(), "");
  EXPECT_TRUE(zero.command({"GET", "k"}).isNil());
  EXPECT_TRUE(zero.command({"SELECT", "3"}).ok());
  EXPECT_EQ(zero.command({"GET", "k"}).str, "in3");

  o.db = 99;
  RedisClient bad(o);
  EXPECT_EQ(bad.connect(), "SELECT 99 failed (ERR DB index is out of range)");
}

// A command that would wait 30 s returns nothing after the command timeout, and the connection
// (whose reply may still come) is dropped.
TEST_F(RedisClientTest, CommandTimeoutDropsTheConnection) {
  Server s;
  ASSERT_TRUE(s.start());
  RedisClientOptions o = opts(s.port());
  o.command_timeout_ms = 200;
  RedisClient c(o);
  ASSERT_EQ(c.connect(), "");
  RedisReply r = c.command({"BLPOP", "empty", "30"});
  EXPECT_FALSE(r.received());
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.errors(), 1u);
  EXPECT_FALSE(c.lastError().empty());
}

TEST_F(RedisClientTest, ReloadsScriptsAfterScriptFlush) {
  Server s;
  ASSERT_TRUE(s.start());
  RedisClient c(opts(s.port()));
  const size_t echo = c.addScript("return KEYS[1] .. '=' .. ARGV[1]");
  ASSERT_EQ(c.connect(), "");
  EXPECT_EQ(c.sha(echo).size(), 40u);
  EXPECT_EQ(c.evalsha(echo, {"a"}, {"1"}).str, "a=1");
  ASSERT_TRUE(c.command({"SCRIPT", "FLUSH"}).ok());
  RedisReply r = c.evalsha(echo, {"b"}, {"2"});  // NOSCRIPT, loaded again, retried
  EXPECT_EQ(r.type, Type::kString);
  EXPECT_EQ(r.str, "b=2");
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(c.errors(), 0u);
  // Pipelined: the caller sees NOSCRIPT and reloads.
  ASSERT_TRUE(c.command({"SCRIPT", "FLUSH"}).ok());
  c.appendEvalsha(echo, {"c"}, {"3"});
  EXPECT_TRUE(c.read().errorIs("NOSCRIPT"));
  ASSERT_TRUE(c.reloadScripts());
  c.appendEvalsha(echo, {"c"}, {"3"});
  EXPECT_EQ(c.read().str, "c=3");
}

TEST_F(RedisClientTest, PipelinedRepliesComeInOrder) {
  Server s;
  ASSERT_TRUE(s.start());
  RedisClient c(opts(s.port()));
  ASSERT_EQ(c.connect(), "");
  for (int i = 0; i < 500; ++i) c.append({"INCR", "n"});
  c.append({"GET", "missing"});
  for (int i = 1; i <= 500; ++i) {
    RedisReply r = c.read();
    ASSERT_EQ(r.type, Type::kInteger);
    ASSERT_EQ(r.integer, i);
  }
  EXPECT_TRUE(c.read().isNil());
}

TEST_F(RedisClientTest, ConnectHookRunsOnEveryConnect) {
  Server s;
  ASSERT_TRUE(s.start());
  FakeClock clock;
  RedisClient c(opts(s.port()), clock.fn());
  int runs = 0;
  c.setOnConnect([&](RedisClient& cl) {
    ++runs;
    RedisReply r = cl.command({"XGROUP", "CREATE", "st", "g", "0", "MKSTREAM"});
    return r.ok() || r.errorIs("BUSYGROUP");
  });
  ASSERT_TRUE(c.ensure());
  c.fail();
  clock.us += 100'000;
  ASSERT_TRUE(c.ensure());
  EXPECT_EQ(runs, 2);
  c.setOnConnect([](RedisClient&) { return false; });
  c.disconnect();
  const std::string e = c.connect();
  EXPECT_EQ(e.rfind("connection set-up failed (", 0), 0u) << e;
  EXPECT_FALSE(c.connected());
}

TEST_F(RedisClientTest, ReadsPubSubMessagesAndNoticesTheLoss) {
  Server s;
  ASSERT_TRUE(s.start());
  RedisClient sub(opts(s.port()));
  RedisClient pub(opts(s.port()));
  ASSERT_EQ(sub.connect(), "");
  ASSERT_EQ(pub.connect(), "");
  RedisReply r = sub.command({"SUBSCRIBE", "ch"});
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0].str, "subscribe");
  EXPECT_EQ(pub.command({"PUBLISH", "ch", "7"}).integer, 1);
  std::vector<RedisReply> got;
  ASSERT_TRUE(waitFor([&] {
    pollfd p{sub.fd(), POLLIN, 0};
    if (::poll(&p, 1, 10) > 0 && !sub.drainPushes(got)) return true;
    return !got.empty();
  }));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].elements.size(), 3u);
  EXPECT_EQ(got[0].elements[0].str, "message");
  EXPECT_EQ(got[0].elements[1].str, "ch");
  EXPECT_EQ(got[0].elements[2].str, "7");
  s.stop();
  bool lost = false;
  ASSERT_TRUE(waitFor([&] {
    pollfd p{sub.fd(), POLLIN, 0};
    if (::poll(&p, 1, 10) > 0) lost = !sub.drainPushes(got);
    return lost;
  }));
  EXPECT_FALSE(sub.connected());
  EXPECT_EQ(sub.lastError().rfind("subscription lost", 0), 0u) << sub.lastError();
}

}  // namespace
}  // namespace mcn::redis
