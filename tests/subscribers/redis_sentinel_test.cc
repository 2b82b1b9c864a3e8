// The Redis subscriber store through Redis Sentinel (tests/redisclient/sentinel_lab.h: a master,
// a replica, three redis-sentinel): RedisStore and RedisDirectorySource find the master through
// the Sentinels, and after the master is SIGKILLed the directory follows the promoted replica
// (a change written there reaches it).

#include <gtest/gtest.h>

#include "../redisclient/sentinel_lab.h"
#include "mcn/subscribers/redis_store.h"

namespace mcn::subscribers {
namespace {

using redis::test::SentinelLab;
using redis::test::waitFor;

Person person(const std::string& id, std::vector<std::string> numbers) {
  Person p;
  p.id = id;
  p.name = id;
  p.numbers = std::move(numbers);
  p.channels.push_back(Channel{"console", ChannelKind::kConsole, "", "", "", {}});
  return p;
}

TEST(RedisSentinelStore, DirectoryFollowsTheFailover) {
  ASSERT_EQ(::access("/usr/bin/redis-sentinel", X_OK), 0) << "redis-sentinel not installed";
  SentinelLab lab({"store-pw-77", "store-sentinel-pw-88"});
  ASSERT_TRUE(lab.start());
  RedisOptions o;
  o.host = "192.0.2.1";  // not used with Sentinels
  o.port = 1;
  o.password = "store-pw-77";
  o.sentinels = lab.sentinelAddrs();
  o.sentinel_master = "mcn";
  o.sentinel_password = "store-sentinel-pw-88";
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = 2000;

  RedisStore(o).add(person("e1", {"+862583001001"}));
  RefreshOptions r;
  r.poll_interval_ms = 200;
  r.backoff_initial_ms = 50;
  r.backoff_max_ms = 200;
  RedisDirectorySource src(o, r);
  ASSERT_TRUE(src.start());
  EXPECT_EQ(src.current()->findByNumber("+862583001001")->id, "e1");
  {
    redis::RedisClient m(lab.direct(lab.masterPort()));
    ASSERT_EQ(m.connect(), "");
    ASSERT_EQ(m.command({"WAIT", "1", "2000"}).integer, 1);  // e1 is on the replica too
  }

  lab.killMaster();
  // The admin store, too, reaches the new master once the Sentinels have promoted it.
  bool written = false;
  ASSERT_TRUE(waitFor(
      [&] {
        try {
          RedisStore(o).add(person("e2", {"+862583001002"}));
          written = true;
        } catch (const SubscriberError&) {
        }
        return written;
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(waitFor([&] { return src.current()->findByNumber("+862583001002") != nullptr; },
                      std::chrono::seconds(20)));
  EXPECT_EQ(src.current()->findByNumber("+862583001001")->id, "e1");  // replicated before
  redis::RedisClient promoted(lab.direct(lab.replicaPort()));
  ASSERT_EQ(promoted.connect(), "");
  EXPECT_EQ(promoted.command({"ROLE"}).elements.at(0).str, "master");
}

}  // namespace
}  // namespace mcn::subscribers
