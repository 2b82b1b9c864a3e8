// Where the web console saves a person's preferences (app/src/web_backend.h): the TOML
// subscribers file rewritten atomically with only that person's preferences changed and read back
// for the running notifier, or the person's record in a real Redis (redis-server on a free
// loopback port); a CSV file or an unknown person is refused and nothing is written.

#include "../../app/src/web_backend.h"

#include <gtest/gtest.h>

#include "../subscribers/test_support.h"
#include "mcn/subscribers/redis_store.h"
#include "mcn/subscribers/toml_store.h"

namespace mcn::app {
namespace {

using subscribers::test::RedisServer;
using subscribers::test::TempDir;

const std::string kPeople =
    "# hand-written\n"
    "[[person]]\nid = \"e1014\"\nname = \"Zhang Wei\"\nnumbers = [\"1014\"]\n"
    "[[person.channel]]\nkind = \"console\"\n"
    "[[person]]\nid = \"e1015\"\nname = \"Wu Fang\"\nnumbers = [\"1015\"]\n"
    "[person.preferences]\nmin_ring = \"2s\"\n"
    "[[person.channel]]\nkind = \"console\"\n";

Config fixturesConfig() {
  Config cfg;
  cfg.parser.dial_plan = subscribers::test::fixturesPlanConfig();
  return cfg;
}

subscribers::Person withQuietHours(subscribers::Person p) {
  p.prefs.quiet_hours = subscribers::QuietHours{9 * 60, 11 * 60, subscribers::QuietAction::kDrop};
  return p;
}

TEST(WebBackendSave, TomlFileRewrittenWithOnlyThatPersonsPreferencesAndReadBack) {
  TempDir dir;
  Config cfg = fixturesConfig();
  cfg.run.subscribers = dir.write("subscribers.toml", kPeople);
  std::shared_ptr<const subscribers::Directory> read_back;
  WebBackend web(cfg, "", {}, [&](auto d) { read_back = std::move(d); });
  auto people = subscribers::loadTomlFile(cfg.run.subscribers, subscribers::test::fixturesPlan());
  subscribers::Person changed = withQuietHours(people[0]);
  changed.name = "Someone Else";  // only the preferences are taken from the form's person
  EXPECT_EQ(web.savePerson(changed, "e1014 from 127.0.0.1"), "");
  auto after = subscribers::loadTomlFile(cfg.run.subscribers, subscribers::test::fixturesPlan());
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].name, "Zhang Wei");
  EXPECT_EQ(after[0].prefs.quiet_hours, changed.prefs.quiet_hours);
  EXPECT_EQ(after[1], people[1]);  // Wu Fang unchanged
  ASSERT_NE(read_back, nullptr);
  EXPECT_EQ(read_back->findById("e1014")->prefs.quiet_hours, changed.prefs.quiet_hours);
  std::map<std::string, uint64_t> c;
  web.forEachCounter([&](std::string_view k, uint64_t v) { c[std::string(k)] = v; });
  EXPECT_EQ(c.at("web.preferences.saved"), 1u);
  EXPECT_EQ(c.at("web.preferences.refused"), 0u);
}

TEST(WebBackendSave, UnknownPersonOrCsvFileIsRefusedAndNothingWritten) {
  TempDir dir;
  Config cfg = fixturesConfig();
  cfg.run.subscribers = dir.write("subscribers.toml", kPeople);
  WebBackend web(cfg, "", {}, {});
  auto people = subscribers::loadTomlFile(cfg.run.subscribers, subscribers::test::fixturesPlan());
  subscribers::Person ghost = withQuietHours(people[0]);
  ghost.id = "e9999";
  ghost.numbers = {"+862583009998"};
  EXPECT_EQ(web.savePerson(ghost, "e9999"), "no such person in the subscribers file");
  EXPECT_EQ(subscribers::test::readFile(cfg.run.subscribers), kPeople);

  const std::string csv = dir.write("people.csv", "id,name,numbers,channel\n");
  WebBackend from_csv(cfg, csv, {}, {});
  EXPECT_EQ(from_csv.savePerson(withQuietHours(people[0]), "e1014"),
            "the subscribers file is CSV: preferences are changed there");
  EXPECT_EQ(subscribers::test::readFile(csv), "id,name,numbers,channel\n");
  std::map<std::string, uint64_t> c;
  from_csv.forEachCounter([&](std::string_view k, uint64_t v) { c[std::string(k)] = v; });
  EXPECT_EQ(c.at("web.preferences.refused"), 1u);
}

TEST(WebBackendSave, RedisRecordGetsTheNewPreferencesOnly) {
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server missing (deploy/install-deps.sh)";
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Config cfg = fixturesConfig();
  cfg.run.redis = redis.url();
  auto people = subscribers::loadTomlText(kPeople, "people", subscribers::test::fixturesPlan());
  {
    subscribers::RedisStore store(subscribers::parseRedisUrl(redis.url()));
    store.put(people[0]);
    store.put(people[1]);
  }
  WebBackend web(cfg, "", {}, {});
  subscribers::Person changed = withQuietHours(people[0]);
  changed.channels[0].id = "other";  // not the form's to change
  EXPECT_EQ(web.savePerson(changed, "e1014 from 127.0.0.1"), "");
  subscribers::RedisStore store(subscribers::parseRedisUrl(redis.url()));
  auto got = store.get("e1014");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->prefs.quiet_hours, changed.prefs.quiet_hours);
  EXPECT_EQ(got->channels, people[0].channels);
  EXPECT_EQ(store.get("e1015"), people[1]);
}

}  // namespace
}  // namespace mcn::app
