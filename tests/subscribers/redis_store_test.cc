// The Redis store against a real redis-server on a free loopback port: atomic changes, the number
// index, the version and its pub/sub announcement, and readers that keep their last snapshot
// through an outage. Waits are bounded polls on a condition, never timing assertions.

#include "mcn/subscribers/redis_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "mcn/subscribers/toml_store.h"
#include "test_support.h"

namespace mcn::subscribers {
namespace {

using test::RedisServer;
using test::waitFor;

Person person(const std::string& id, const std::string& name, std::vector<std::string> numbers) {
  Person p;
  p.id = id;
  p.name = name;
  p.numbers = std::move(numbers);
  p.channels.push_back(Channel{"console", ChannelKind::kConsole, "", "", "", {}});
  return p;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A dependency (deploy/install-deps.sh): missing, the test fails rather than passing unrun.
    ASSERT_TRUE(RedisServer::available()) << "redis-server not installed";
    ASSERT_TRUE(server_.start()) << "redis-server did not answer PING";
    opts_ = parseRedisUrl(server_.url());
  }

  std::map<std::string, uint64_t> counters(const DirectorySource& s) {
    std::map<std::string, uint64_t> m;
    s.forEachCounter([&](std::string_view n, uint64_t v) { m[std::string(n)] = v; });
    return m;
  }

  RefreshOptions quickRefresh() {
    RefreshOptions r;
    r.poll_interval_ms = 3'600'000;  // only pub/sub can bring a change in within the test
    r.backoff_initial_ms = 20;
    r.backoff_max_ms = 200;
    r.log = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.emplace_back(line);
    };
    return r;
  }

  std::vector<std::string> logLines() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_;
  }

  RedisServer server_;
  RedisOptions opts_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST(RedisUrl, ParsesHostPortDbAndRefusesPasswords) {
  RedisOptions o = parseRedisUrl("redis://127.0.0.1:6380/2");
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 6380);
  EXPECT_EQ(o.db, 2);
  o = parseRedisUrl("redis://redis.internal");
  EXPECT_EQ(o.host, "redis.internal");
  EXPECT_EQ(o.port, 6379);
  EXPECT_EQ(o.db, 0);
  o = parseRedisUrl("redis://[::1]:7000/");
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 7000);
  EXPECT_THROW(parseRedisUrl("http://h"), SubscriberError);
  EXPECT_THROW(parseRedisUrl("redis://h:0"), SubscriberError);
  EXPECT_THROW(parseRedisUrl("redis://h:99999"), SubscriberError);
  EXPECT_THROW(parseRedisUrl("redis://h/x"), SubscriberError);
  try {
    parseRedisUrl("redis://:hunter2@h:6379");
    FAIL();
  } catch (const SubscriberError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("credentials do not belong in a URL"), std::string::npos);
  }
}

TEST(SecretRef, ResolvesEnvAndFileWithoutEchoingValues) {
  ::setenv("MCN_TEST_SECRET_X", "s3cr3t", 1);
  EXPECT_EQ(resolveSecretRef("env:MCN_TEST_SECRET_X"), "s3cr3t");
  ::unsetenv("MCN_TEST_SECRET_X");
  EXPECT_THROW(resolveSecretRef("env:MCN_TEST_SECRET_X"), SubscriberError);
  test::TempDir dir;
  const std::string f = dir.write("pw", "line1\nline2\n");
  EXPECT_EQ(resolveSecretRef("file:" + f), "line1");
  EXPECT_THROW(resolveSecretRef("s3cr3t"), SubscriberError);
}

TEST_F(RedisStoreTest, AddGetListAndIndex) {
  RedisStore store(opts_);
  EXPECT_EQ(store.version(), 0u);
  EXPECT_TRUE(store.list().empty());
  const Person zw = person("e1013", "张伟", {"+862583001013", "sip:zhangwei@ims.example.com"});
  EXPECT_EQ(store.add(zw), 1u);
  EXPECT_EQ(store.add(person("e1014", "Li Na", {"+862583001014"})), 2u);
  EXPECT_EQ(store.version(), 2u);
  EXPECT_EQ(store.get("e1013"), zw);
  EXPECT_EQ(store.get("e9999"), std::nullopt);
  EXPECT_EQ(store.ownerOf("+862583001013"), "e1013");
  EXPECT_EQ(store.ownerOf("zhangwei"), "e1013");  // identities are indexed by their user
  EXPECT_EQ(store.ownerOf("+862583001014"), "e1014");
  std::vector<Person> all = store.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "e1013");
  EXPECT_EQ(all[1].id, "e1014");
  // Keys as documented (an operator may look at them with redis-cli).
  EXPECT_EQ(test::rawCommand(server_.port(), {"EXISTS", "mcn:person:e1013"}), ":1");
  EXPECT_EQ(test::rawCommand(server_.port(), {"GET", "mcn:subscribers:version"}), "$1");
}

TEST_F(RedisStoreTest, UpdateMovesIndexEntriesAndRemoveClearsThem) {
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001", "+862583001002"}));
  EXPECT_EQ(store.put(person("e1", "A", {"+862583001002", "+862583001003"})), 2u);
  EXPECT_EQ(store.ownerOf("+862583001001"), std::nullopt);
  EXPECT_EQ(store.ownerOf("+862583001002"), "e1");
  EXPECT_EQ(store.ownerOf("+862583001003"), "e1");
  EXPECT_EQ(store.remove("e1"), 3u);
  EXPECT_EQ(store.get("e1"), std::nullopt);
  EXPECT_EQ(store.ownerOf("+862583001002"), std::nullopt);
  EXPECT_EQ(store.ownerOf("+862583001003"), std::nullopt);
  try {
    store.remove("e1");
    FAIL();
  } catch (const SubscriberError& e) {
    EXPECT_STREQ(e.what(), "person e1: not found");
  }
  EXPECT_EQ(store.version(), 3u);  // a refused change is no change
}

TEST_F(RedisStoreTest, AddingAnExistingIdIsRefused) {
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001"}));
  try {
    store.add(person("e1", "B", {"+862583001009"}));
    FAIL();
  } catch (const SubscriberError& e) {
    EXPECT_STREQ(e.what(), "person e1: already exists");
  }
  EXPECT_EQ(store.get("e1")->name, "A");
  EXPECT_EQ(store.ownerOf("+862583001009"), std::nullopt);
}

TEST_F(RedisStoreTest, NumberClaimedTwiceIsRefusedWithNothingWritten) {
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001013"}));
  try {
    store.add(person("e2", "B", {"+862583001014", "+862583001013"}));
    FAIL();
  } catch (const SubscriberError& e) {
    EXPECT_STREQ(e.what(), "person e2: number +862583001013 already belongs to e1");
  }
  EXPECT_EQ(store.get("e2"), std::nullopt);
  EXPECT_EQ(store.ownerOf("+862583001014"), std::nullopt);  // not half-written
  EXPECT_EQ(store.ownerOf("+862583001013"), "e1");
  EXPECT_EQ(store.version(), 1u);
  // put (replace) checks the same way.
  EXPECT_THROW(store.put(person("e3", "C", {"+862583001013"})), SubscriberError);
}

TEST_F(RedisStoreTest, ConcurrentClaimsOfOneNumberLetExactlyOneWin) {
  {
    RedisStore warm(opts_);
    warm.version();
  }
  constexpr int kWriters = 8;
  std::atomic<int> wins{0}, refusals{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      RedisStore s(opts_);  // one connection per writer, like separate admin processes
      try {
        s.add(person("e" + std::to_string(i), "W",
                     {"+862583001013", "+8625830020" + std::to_string(10 + i)}));
        ++wins;
      } catch (const SubscriberError&) {
        ++refusals;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(refusals.load(), kWriters - 1);
  RedisStore store(opts_);
  std::vector<Person> all = store.list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(store.ownerOf("+862583001013"), all[0].id);
  EXPECT_EQ(store.version(), 1u);
}

TEST_F(RedisStoreTest, ApplyIsAllOrNothingAndMayMoveANumberBetweenPeople) {
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001"}));
  store.add(person("e2", "B", {"+862583001002"}));
  // e3 would take e2's number while e2 is not part of the change: everything is refused.
  EXPECT_THROW(store.apply({person("e1", "A2", {"+862583001001"}),
                            person("e3", "C", {"+862583001003", "+862583001002"})},
                           {}),
               SubscriberError);
  EXPECT_EQ(store.get("e1")->name, "A");
  EXPECT_EQ(store.get("e3"), std::nullopt);
  EXPECT_EQ(store.version(), 2u);
  // e1 hands its number to e2 in the same change: allowed.
  EXPECT_EQ(store.apply({person("e1", "A", {"+862583001011"}),
                         person("e2", "B", {"+862583001002", "+862583001001"})},
                        {}),
            3u);
  EXPECT_EQ(store.ownerOf("+862583001001"), "e2");
  EXPECT_EQ(store.ownerOf("+862583001011"), "e1");
  // A removal releases numbers for others in the same change.
  EXPECT_EQ(store.apply({person("e4", "D", {"+862583001002"})}, {"e2"}), 4u);
  EXPECT_EQ(store.ownerOf("+862583001002"), "e4");
  EXPECT_EQ(store.ownerOf("+862583001001"), std::nullopt);
}

TEST_F(RedisStoreTest, InvalidPersonIsRefusedBeforeRedisIsTouched) {
  RedisStore store(opts_);
  Person p = person("e1", "A", {"+862583001001"});
  p.channels[0].secret_ref = "hunter2";
  try {
    store.add(p);
    FAIL();
  } catch (const SubscriberError& e) {
    EXPECT_STREQ(e.what(),
                 "person e1: channel[0].secret_ref: expected \"env:NAME\" or "
                 "\"file:/absolute/path\", not the credential itself");
  }
  EXPECT_EQ(store.version(), 0u);
}

TEST_F(RedisStoreTest, SnapshotOfManyPeopleUsesScanAndBatches) {
  RedisStore store(opts_);
  std::vector<Person> many;
  for (int i = 0; i < 700; ++i) {
    many.push_back(person(fmt::format("p{:04}", i), "P", {fmt::format("+8625831{:05}", i)}));
  }
  EXPECT_EQ(store.apply(many, {}), 1u);
  std::vector<Person> all = store.list();
  ASSERT_EQ(all.size(), 700u);
  EXPECT_EQ(all.front().id, "p0000");
  EXPECT_EQ(all.back().id, "p0699");
  RedisDirectorySource src(opts_, quickRefresh());
  ASSERT_TRUE(src.start());
  EXPECT_EQ(src.current()->people().size(), 700u);
  EXPECT_EQ(src.current()->findByNumber("+862583100123")->id, "p0123");
}

TEST_F(RedisStoreTest, ReadersSeeChangesThroughPubSub) {
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001"}));
  RedisDirectorySource a(opts_, quickRefresh());
  RedisDirectorySource b(opts_, quickRefresh());
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  EXPECT_EQ(a.current()->version(), 1u);
  ASSERT_NE(a.current()->findByNumber("+862583001001"), nullptr);

  store.add(person("e2", "B", {"+862583001002"}));
  for (RedisDirectorySource* s : {&a, &b}) {
    EXPECT_TRUE(waitFor([&] { return s->current()->findByNumber("+862583001002") != nullptr; }));
    EXPECT_EQ(s->current()->version(), 2u);
  }
  // Update and removal arrive the same way.
  store.put(person("e1", "A", {"+862583001011"}));
  for (RedisDirectorySource* s : {&a, &b}) {
    EXPECT_TRUE(waitFor([&] { return s->current()->version() == 3u; }));
  }
  EXPECT_EQ(b.current()->findByNumber("+862583001001"), nullptr);
  EXPECT_EQ(b.current()->findByNumber("+862583001011")->id, "e1");
  store.remove("e2");
  for (RedisDirectorySource* s : {&a, &b}) {
    EXPECT_TRUE(waitFor([&] { return s->current()->version() == 4u; }));
  }
  EXPECT_EQ(a.current()->findById("e2"), nullptr);

  // A snapshot held by the data path is immutable: it keeps its view after a swap.
  std::shared_ptr<const Directory> held = a.current();
  store.add(person("e5", "E", {"+862583001005"}));
  EXPECT_TRUE(waitFor([&] { return a.current()->version() == 5u; }));
  EXPECT_EQ(held->version(), 4u);
  EXPECT_EQ(held->findById("e5"), nullptr);

  auto c = counters(a);
  EXPECT_EQ(c["subscribers.version"], 5u);
  EXPECT_EQ(c["subscribers.people"], 2u);
  EXPECT_EQ(c["subscribers.reloads"], 5u);  // initial + four changes
  EXPECT_EQ(c["subscribers.redis_errors"], 0u);
}

TEST_F(RedisStoreTest, PeriodicVersionCheckCatchesAMissedMessage) {
  RefreshOptions r = quickRefresh();
  r.poll_interval_ms = 50;
  RedisDirectorySource src(opts_, r);
  ASSERT_TRUE(src.start());
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001"}));
  EXPECT_TRUE(waitFor([&] { return src.current()->version() == 1u; }));
  // A change announced without PUBLISH (an older writer, or the message lost while the
  // subscription was being re-established): only the version key moves.
  std::string json = test::rawGet(server_.port(), "mcn:person:e1");
  ASSERT_NE(json.find("\"id\":\"e1\""), std::string::npos) << json;
  json.replace(json.find("\"id\":\"e1\""), 9, "\"id\":\"e2\"");
  json.replace(json.find("+862583001001"), 13, "+862583001002");
  EXPECT_EQ(test::rawCommand(server_.port(), {"SET", "mcn:person:e2", json}), "+OK");
  EXPECT_EQ(test::rawCommand(server_.port(), {"INCR", "mcn:subscribers:version"}), ":2");
  EXPECT_TRUE(waitFor([&] { return src.current()->findByNumber("+862583001002") != nullptr; }));
  EXPECT_EQ(src.current()->version(), 2u);
}

TEST_F(RedisStoreTest, OutageKeepsTheLastSnapshotCountsErrorsAndRecovers) {
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001"}));
  RedisDirectorySource src(opts_, quickRefresh());
  ASSERT_TRUE(src.start());
  ASSERT_EQ(src.current()->version(), 1u);

  const int port = server_.port();
  server_.stop();
  EXPECT_TRUE(waitFor([&] { return counters(src)["subscribers.redis_errors"] >= 3; }));
  // Still serving the last good snapshot.
  ASSERT_NE(src.current()->findByNumber("+862583001001"), nullptr);
  EXPECT_EQ(src.current()->version(), 1u);
  // The outage is logged once, however many retries fail.
  std::vector<std::string> lines = logLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("retrying, keeping snapshot version 1"), std::string::npos) << lines[0];

  ASSERT_TRUE(server_.start(port));
  // The restarted server has no data (no persistence): the reader follows it, then new changes.
  RedisStore again(opts_);
  again.add(person("e7", "G", {"+862583001007"}));
  EXPECT_TRUE(waitFor([&] { return src.current()->findByNumber("+862583001007") != nullptr; }));
  EXPECT_EQ(src.current()->findByNumber("+862583001001"), nullptr);
  lines = logLines();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_NE(lines[1].find("back"), std::string::npos) << lines[1];
}

TEST_F(RedisStoreTest, StartWithoutRedisServesEmptyThenLoads) {
  const int port = server_.port();
  server_.stop();
  RedisDirectorySource src(opts_, quickRefresh());
  EXPECT_FALSE(src.start());
  EXPECT_TRUE(src.current()->people().empty());
  ASSERT_TRUE(server_.start(port));
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001"}));
  EXPECT_TRUE(waitFor([&] { return src.current()->findById("e1") != nullptr; }));
}

TEST_F(RedisStoreTest, UnusableRecordKeepsTheSnapshotAndCountsAnError) {
  RedisStore store(opts_);
  store.add(person("e1", "A", {"+862583001001"}));
  RedisDirectorySource src(opts_, quickRefresh());
  ASSERT_TRUE(src.start());
  // Someone writes a broken record by hand and announces it.
  EXPECT_EQ(test::rawCommand(server_.port(), {"SET", "mcn:person:bad", "{not json"}), "+OK");
  EXPECT_EQ(test::rawCommand(server_.port(), {"INCR", "mcn:subscribers:version"}), ":2");
  test::rawCommand(server_.port(), {"PUBLISH", "mcn:subscribers:changed", "2"});
  EXPECT_TRUE(waitFor([&] { return counters(src)["subscribers.redis_errors"] >= 1; }));
  EXPECT_EQ(src.current()->version(), 1u);
  EXPECT_NE(src.current()->findById("e1"), nullptr);
  // The admin view refuses to list a broken store rather than hiding a record.
  EXPECT_THROW(store.list(), SubscriberError);
}

}  // namespace
}  // namespace mcn::subscribers
