// Where the web console saves a person's preferences (app/src/web_backend.h): the TOML
// subscribers file rewritten atomically with only that person's preferences changed and read back
// for the running notifier, or the person's record in a real Redis (redis-server on a free
// loopback port); a CSV file or an unknown person is refused and nothing is written. And the
// "my missed calls" rows /me shows, read from a real call history store.

#include "../../app/src/web_backend.h"

#include <gtest/gtest.h>

#include "../subscribers/test_support.h"
#include "mcn/history/store.h"
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

TEST(WebBackendSave, CsvFileInCapitalsIsNotRewrittenAsToml) {
  // An HR export named PEOPLE.CSV, holding the person who saves: it is read as CSV, so it must
  // not be written back as TOML either (it was, before the extension was compared in any case).
  TempDir dir;
  Config cfg = fixturesConfig();
  const std::string text = "id,name,numbers,channel_kind\ne1014,Zhang Wei,1014,console\n";
  const std::string csv = dir.write("PEOPLE.CSV", text);
  WebBackend web(cfg, csv, {}, {});
  auto people = subscribers::loadPeopleFile(csv, subscribers::test::fixturesPlan());
  ASSERT_EQ(people.size(), 1u);
  EXPECT_EQ(web.savePerson(withQuietHours(people[0]), "e1014"),
            "the subscribers file is CSV: preferences are changed there");
  EXPECT_EQ(subscribers::test::readFile(csv), text);
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

// A missed call from a caller without a name, or withheld, is a row like any other: the record's
// nulls once made the whole /me page a 500 (found by tests/bench/web_bench.sh, where most
// callers have no name).
TEST(WebBackendMissedCalls, CallersWithoutANameOrWithheldAreRowsNotAnError) {
  TempDir dir;
  Config cfg = fixturesConfig();
  cfg.run.subscribers = dir.write("subscribers.toml", kPeople);
  cfg.history.path = dir.file("history.sqlite");
  constexpr int64_t kT0 = 1'795'000'000LL * 1'000'000;
  auto missed = [&](std::string id, std::string caller, std::string name, bool withheld,
                    int64_t at) {
    history::CallEntry e;
    e.record.call_id = std::move(id);
    e.record.call_ids = {e.record.call_id};
    e.record.caller = std::move(caller);
    e.record.caller_name = std::move(name);
    e.record.caller_withheld = withheld;
    e.record.callee = "+862583001014";
    e.record.outcome = calls::Outcome::kCancelled;
    e.record.missed = true;
    e.record.status = 487;
    e.record.started_at_us = at;
    e.record.ended_at_us = at + 4'000'000;
    e.record.ring_ms = 3500;
    e.person_id = "e1014";
    return e;
  };
  {
    std::string err;
    auto store = history::HistoryStore::open(cfg.history.path, false, err);
    ASSERT_NE(store, nullptr) << err;
    ASSERT_TRUE(store->write({missed("named", "+8613900101230", "Li Lei", false, kT0),
                              missed("unnamed", "+8613900101231", "", false, kT0 + 1'000'000),
                              missed("withheld", "", "", true, kT0 + 2'000'000)},
                             {}, err))
        << err;
  }
  WebBackend web(cfg, "", {}, {});
  auto rows = web.missedCalls("e1014");
  ASSERT_EQ(rows.size(), 3u);  // newest first
  EXPECT_EQ(rows[0].caller_number, "withheld");
  EXPECT_EQ(rows[0].caller_name, "");
  EXPECT_EQ(rows[1].caller_number, "+8613900101231");
  EXPECT_EQ(rows[1].caller_name, "");
  EXPECT_EQ(rows[1].ring_ms, 3500);
  EXPECT_EQ(rows[2].caller_number, "+8613900101230");
  EXPECT_EQ(rows[2].caller_name, "Li Lei");
  EXPECT_EQ(rows[2].my_number, "+862583001014");
  EXPECT_EQ(rows[2].outcome, "cancelled");
  EXPECT_EQ(rows[2].started_ms, kT0 / 1000);
  EXPECT_TRUE(web.missedCalls("e1015").empty());
}

}  // namespace
}  // namespace mcn::app
