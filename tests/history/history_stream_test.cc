// The shared call history of a [streams] deployment (history/stream.h) against a real
// redis-server on a free loopback port: a node's entries are published to <prefix>:history
// (buffered through an outage, resent in order, a full buffer counted), every node's replica
// follows the stream in its order, resumes after a restart exactly where it stopped, counts the
// entries it lost to trimming, and two replicas hold the same rows. The reconnect backoff runs
// on a manual clock; nothing here waits for time to pass, except the threads of the last test,
// polled with a bound.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "../subscribers/test_support.h"
#include "mcn/history/stream.h"
#include "mcn/history/writer.h"

namespace mcn::history {
namespace {

namespace fs = std::filesystem;
using subscribers::test::RedisServer;
using subscribers::test::TempDir;
using subscribers::test::waitFor;

constexpr int64_t kT0 = 1'795'000'000LL * 1'000'000;  // 2026-11-18, a wall time

CallEntry call(const std::string& id, const std::string& callee, int64_t started,
               std::string person = {}) {
  CallEntry e;
  e.record.call_id = id;
  e.record.call_ids = {id, id + "-leg2"};
  e.record.caller = "+8613900116294";
  e.record.callee = callee;
  e.record.outcome = calls::Outcome::kNoAnswer;
  e.record.missed = true;
  e.record.status = 480;
  e.record.started_at_us = started;
  e.record.ended_at_us = started + 20'000'000;
  e.record.legs = 2;
  e.person_id = std::move(person);
  return e;
}

NotificationEvent note(NotificationEvent::Kind kind, const std::string& key,
                       const std::string& call_id, const std::string& callee, int64_t at) {
  NotificationEvent n;
  n.kind = kind;
  n.key = key;
  n.channel = "hook";
  n.channel_kind = "webhook";
  n.person_id = "alice";
  n.person_name = "Alice";
  if (kind == NotificationEvent::Kind::kProduced) n.calls = {{call_id, callee}};
  n.ok = kind != NotificationEvent::Kind::kDeadLettered;
  n.attempts = kind == NotificationEvent::Kind::kProduced ? 0 : 1;
  n.at_us = at;
  return n;
}

std::vector<std::string> callIds(HistoryStore& s) {
  Page p;
  std::string err;
  Query q;
  q.limit = 500;
  EXPECT_TRUE(s.search(q, p, err)) << err;
  std::vector<std::string> out;
  for (const auto& r : p.rows) {
    auto at = r.record_json.find("\"call_id\":\"") + 11;
    out.push_back(r.record_json.substr(at, r.record_json.find('"', at) - at));
  }
  return out;
}

std::map<std::string, uint64_t> counters(const HistoryWriter& w) {
  std::map<std::string, uint64_t> m;
  w.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  return m;
}

class HistoryStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RedisServer::available()) << "redis-server not installed";
    ASSERT_TRUE(server_.start()) << "redis-server did not answer PING";
    cfg_.redis.port = server_.port();
    cfg_.redis.connect_timeout_ms = 500;
    cfg_.redis.backoff_initial_ms = 100;
    cfg_.redis.backoff_max_ms = 100;
    cfg_.key = "mcn:history";
    cfg_.block_ms = 0;
    connectCli();
  }

  // A plain client for looking at the stream and planting entries.
  void connectCli() {
    cli_ = std::make_unique<redis::RedisClient>(cfg_.redis);
    ASSERT_EQ(cli_->connect(), "");
  }

  std::unique_ptr<HistoryStore> store(const std::string& path) {
    std::string err;
    auto s = HistoryStore::open(path, false, err);
    EXPECT_NE(s, nullptr) << err;
    return s;
  }
  std::unique_ptr<HistoryFollower> follower(const std::string& path) {
    return std::make_unique<HistoryFollower>(cfg_, store(path), 90, false, now_fn_);
  }
  std::vector<std::string> streamCallIds() {
    std::vector<std::string> out;
    auto r = cli_->command({"XRANGE", cfg_.key, "-", "+"});
    for (const auto& e : r.elements) {
      const auto& f = e.elements[1].elements;
      std::vector<std::pair<std::string, std::string>> fields;
      for (size_t i = 0; i + 1 < f.size(); i += 2) fields.emplace_back(f[i].str, f[i + 1].str);
      auto entry = entryFromFields(fields);
      if (!entry) {
        out.push_back("?");
      } else if (const auto* c = std::get_if<CallEntry>(&*entry)) {
        out.push_back(c->record.call_id);
      } else {
        out.push_back("note");  // a notification step
      }
    }
    return out;
  }

  RedisServer server_;
  HistoryStreamConfig cfg_;
  int64_t now_ = kT0;
  redis::RedisClient::NowUs now_fn_ = [this] { return now_; };
  std::unique_ptr<redis::RedisClient> cli_;
  TempDir dir_;
};

TEST(HistoryStreamEntries, RoundTripThroughTheirStreamFieldsAndRefuseAnythingElse) {
  CallEntry c = call("c1@pcscf", "+862583001001", kT0, "alice");
  auto back = entryFromFields(entryFields(c));
  ASSERT_TRUE(back.has_value());
  const auto& bc = std::get<CallEntry>(*back);
  EXPECT_EQ(bc.record, c.record);
  EXPECT_EQ(bc.person_id, "alice");
  using K = NotificationEvent::Kind;
  for (K k : {K::kProduced, K::kAttempt, K::kDelivered, K::kDeadLettered}) {
    NotificationEvent n = note(k, "key-1", "c1@pcscf", "+862583001001", kT0 + 5);
    n.error = k == K::kDeadLettered ? "HTTP 500" : "";
    n.reason = k == K::kDeadLettered ? "max_attempts" : "";
    auto nb = entryFromFields(entryFields(n));
    ASSERT_TRUE(nb.has_value());
    const auto& bn = std::get<NotificationEvent>(*nb);
    EXPECT_EQ(bn.kind, k);
    EXPECT_EQ(bn.key, "key-1");
    EXPECT_EQ(bn.calls, n.calls);
    EXPECT_EQ(bn.error, n.error);
    EXPECT_EQ(bn.reason, n.reason);
    EXPECT_EQ(bn.at_us, kT0 + 5);
  }
  // What another writer (or a hand-made XADD) might leave there.
  EXPECT_FALSE(entryFromFields({}).has_value());
  EXPECT_FALSE(entryFromFields({{"call", "{not json"}}).has_value());
  EXPECT_FALSE(entryFromFields({{"note", R"({"kind":"produced"})"}}).has_value());
  EXPECT_FALSE(entryFromFields({{"note", R"({"kind":"exploded","key":"k"})"}}).has_value());
  EXPECT_FALSE(entryFromFields({{"color", "blue"}}).has_value());
  EXPECT_TRUE(streamIdLess("1700000000000-3", "1700000000000-12"));
  EXPECT_TRUE(streamIdLess("999-5", "1000-0"));
  EXPECT_TRUE(streamIdLess("", "0-1"));
  EXPECT_FALSE(streamIdLess("5-1", "5-1"));
}

TEST_F(HistoryStreamTest, PublisherBuffersWhileRedisIsDownAndResendsInOrder) {
  const int port = server_.port();
  HistoryStreamPublisher pub(cfg_, now_fn_);
  pub.publish(call("c0", "+862583001001", kT0));
  EXPECT_EQ(pub.pump(), 1u);
  server_.stop();
  for (int i = 1; i <= 3; ++i) {
    pub.publish(call("c" + std::to_string(i), "+862583001001", kT0 + i));
    pub.pump();  // fails: nothing answered, nothing lost
  }
  EXPECT_EQ(pub.buffered(), 3u);
  ASSERT_TRUE(server_.start(port));  // a fresh, empty Redis on the same port
  connectCli();
  now_ += 200'000;  // past the reconnect backoff
  EXPECT_EQ(pub.pump(), 3u);
  EXPECT_EQ(pub.buffered(), 0u);
  EXPECT_EQ(streamCallIds(), (std::vector<std::string>{"c1", "c2", "c3"}));
  std::map<std::string, uint64_t> c;
  pub.forEachCounter([&](std::string_view k, uint64_t v) { c[std::string(k)] = v; });
  EXPECT_EQ(c["history.stream.published"], 4u);
  EXPECT_EQ(c["history.stream.buffered"], 2u);  // c2, c3 came while Redis was known to be down
  EXPECT_EQ(c["history.stream.resent"], 2u);
  EXPECT_EQ(c["history.stream.dropped"], 0u);
  EXPECT_EQ(pub.reconnects(), 1u);
}

TEST_F(HistoryStreamTest, PublisherBufferIsBoundedAndCountsWhatItRefuses) {
  cfg_.buffer_max = 2;
  server_.stop();
  HistoryStreamPublisher pub(cfg_, now_fn_);
  int accepted = 0;
  for (int i = 0; i < 5; ++i) {
    accepted += pub.publish(call("c" + std::to_string(i), "+1", kT0)) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 2);
  std::map<std::string, uint64_t> c;
  pub.forEachCounter([&](std::string_view k, uint64_t v) { c[std::string(k)] = v; });
  EXPECT_EQ(c["history.stream.dropped"], 3u);
  EXPECT_EQ(c["history.stream.buffer_depth"], 2u);
}

// Two probes on one SPAN (redundant mirror ports) both decide the same call, and a publisher
// whose XADD answer was lost sends it again: the stream holds each entry once, as the missed-call
// stream does (same key rule: the correlation id, else the Call-ID, with the callee).
TEST_F(HistoryStreamTest, TheSameCallFromTwoProbesOrAResendIsInTheStreamOnce) {
  HistoryStreamPublisher a(cfg_, now_fn_);
  HistoryStreamPublisher b(cfg_, now_fn_);
  a.publish(call("c1", "+862583001001", kT0));
  b.publish(call("c1", "+862583001001", kT0 + 3));  // its own capture time: the same call
  CallEntry keyed = call("c2-probe-b", "+862583001001", kT0 + 10);
  keyed.record.correlation = "icid-77";  // another leg's Call-ID, the same IMS charging id
  CallEntry keyed_a = call("c2-probe-a", "+862583001001", kT0 + 10);
  keyed_a.record.correlation = "icid-77";
  a.publish(keyed_a);
  b.publish(keyed);
  a.publish(call("c1", "+862583001002", kT0));  // the same Call-ID forked to another number
  auto step = note(NotificationEvent::Kind::kDelivered, "k1", "", "", kT0 + 30);
  a.publish(step);
  a.publish(step);  // resent
  EXPECT_EQ(a.pump(), 5u);  // answered for: added or found there already
  EXPECT_EQ(b.pump(), 2u);
  EXPECT_EQ(streamCallIds(), (std::vector<std::string>{"c1", "c2-probe-a", "c1", "note"}));
  std::map<std::string, uint64_t> ca, cb;
  a.forEachCounter([&](std::string_view k, uint64_t v) { ca[std::string(k)] = v; });
  b.forEachCounter([&](std::string_view k, uint64_t v) { cb[std::string(k)] = v; });
  EXPECT_EQ(ca["history.stream.published"], 4u);
  EXPECT_EQ(ca["history.stream.deduped"], 1u);
  EXPECT_EQ(cb["history.stream.published"], 0u);
  EXPECT_EQ(cb["history.stream.deduped"], 2u);
}

TEST_F(HistoryStreamTest, FollowerAppliesInOrderAndResumesAfterARestartWithoutDuplicates) {
  const std::string db = dir_.file("replica.sqlite");
  HistoryStreamPublisher pub(cfg_, now_fn_);
  for (int i = 0; i < 3; ++i) pub.publish(call("c" + std::to_string(i), "+862583001001", kT0 + i));
  // The notification about c2, produced and delivered, after it in the stream.
  pub.publish(note(NotificationEvent::Kind::kProduced, "k2", "c2", "+862583001001", kT0 + 10));
  pub.publish(note(NotificationEvent::Kind::kDelivered, "k2", "", "", kT0 + 11));
  ASSERT_EQ(pub.pump(), 5u);
  std::string position;
  {
    auto f = follower(db);
    EXPECT_EQ(f->position(), "");
    EXPECT_EQ(f->step(0), 5u);
    EXPECT_EQ(f->applied(), 5u);
    EXPECT_EQ(f->step(0), 0u);  // nothing new
    position = f->position();
    EXPECT_FALSE(position.empty());
  }  // the node stops

  pub.publish(call("c3", "+862583001002", kT0 + 20));
  pub.publish(call("c4", "+862583001002", kT0 + 21));
  ASSERT_EQ(pub.pump(), 2u);
  auto f = follower(db);
  EXPECT_EQ(f->position(), position);  // from the store, not from the start
  EXPECT_EQ(f->step(0), 2u);
  EXPECT_EQ(f->gaps(), 0u);
  std::string err;
  auto reader = HistoryStore::open(db, true, err);
  ASSERT_NE(reader, nullptr) << err;
  // Every call once, newest first.
  EXPECT_EQ(callIds(*reader), (std::vector<std::string>{"c4", "c3", "c2", "c1", "c0"}));
  CallDetail d;
  ASSERT_TRUE(reader->detail("c2-leg2", d, err)) << err;
  ASSERT_EQ(d.notifications.size(), 1u);
  EXPECT_EQ(d.notifications[0].status, "delivered");
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(d.records[0].person_id, "alice");  // from the notification about it
}

TEST_F(HistoryStreamTest, AReplicaDownLongerThanTheStreamHoldsCountsTheGap) {
  const std::string db = dir_.file("replica.sqlite");
  HistoryStreamPublisher pub(cfg_, now_fn_);
  pub.publish(call("c0", "+862583001001", kT0));
  pub.publish(call("c1", "+862583001001", kT0 + 1));
  ASSERT_EQ(pub.pump(), 2u);
  follower(db)->step(0);
  // While the node is down: 10 more calls, and the stream trimmed to its last 3 (MAXLEN, exact).
  for (int i = 2; i < 12; ++i) pub.publish(call("c" + std::to_string(i), "+1", kT0 + i));
  ASSERT_EQ(pub.pump(), 10u);
  ASSERT_TRUE(cli_->command({"XTRIM", cfg_.key, "MAXLEN", "3"}).ok());
  auto f = follower(db);
  EXPECT_EQ(f->step(0), 3u);
  EXPECT_EQ(f->gaps(), 1u);
  EXPECT_EQ(f->step(0), 0u);
  EXPECT_EQ(f->gaps(), 1u);  // counted once
  std::string err;
  auto reader = HistoryStore::open(db, true, err);
  ASSERT_NE(reader, nullptr) << err;
  EXPECT_EQ(callIds(*reader), (std::vector<std::string>{"c11", "c10", "c9", "c1", "c0"}));

  // A Redis replaced by an empty one (no persistence, restarted): the stream starts again with
  // ids that may be older than this replica's position; read from its start, counted.
  const int port = server_.port();
  server_.stop();
  ASSERT_TRUE(server_.start(port));
  connectCli();
  ASSERT_TRUE(cli_->command({"XADD", cfg_.key, "1-1", "call",
                             entryFields(call("c12", "+1", kT0 + 12))[0].second})
                  .ok());
  now_ += 200'000;
  f->step(0);  // the lost connection is noticed
  now_ += 200'000;
  f->step(0);
  EXPECT_EQ(f->gaps(), 2u);
  EXPECT_EQ(f->position(), "1-1");
  EXPECT_EQ(callIds(*reader).front(), "c12");
}

TEST_F(HistoryStreamTest, BadEntriesAreSkippedAndCounted) {
  const std::string db = dir_.file("replica.sqlite");
  ASSERT_TRUE(cli_->command({"XADD", cfg_.key, "*", "call", "{broken"}).ok());
  ASSERT_TRUE(cli_->command({"XADD", cfg_.key, "*", "what", "ever"}).ok());
  HistoryStreamPublisher pub(cfg_, now_fn_);
  pub.publish(call("good", "+1", kT0));
  ASSERT_EQ(pub.pump(), 1u);
  auto f = follower(db);
  EXPECT_EQ(f->step(0), 3u);
  EXPECT_EQ(f->badEntries(), 2u);
  EXPECT_EQ(f->applied(), 1u);
  std::string err;
  auto reader = HistoryStore::open(db, true, err);
  ASSERT_NE(reader, nullptr) << err;
  EXPECT_EQ(callIds(*reader), (std::vector<std::string>{"good"}));
}

// Two nodes in streams mode, each with its own writer and replica: a probe's records and a
// notifier's steps (its "produced" before the probe's record, as when the notifier is quicker
// than the probe's writer) end up in both replicas, the same rows.
TEST_F(HistoryStreamTest, TwoNodesHoldTheSameHistory) {
  cfg_.block_ms = 50;
  HistoryConfig hc;
  hc.queue_size = 64;
  hc.path = dir_.file("probe.sqlite");
  HistoryWriter probe(hc, cfg_, /*purge=*/false);
  hc.path = dir_.file("notifier.sqlite");
  HistoryWriter notifier(hc, cfg_, /*purge=*/false);
  ASSERT_TRUE(probe.ok());
  ASSERT_TRUE(notifier.ok());
  HistoryProducer& worker = probe.addProducer();
  HistoryProducer& steps = notifier.addProducer();
  notifier.start();
  steps.push(note(NotificationEvent::Kind::kProduced, "k1", "c1", "+862583001001", kT0 + 30));
  steps.push(note(NotificationEvent::Kind::kDelivered, "k1", "", "", kT0 + 31));
  notifier.flush();
  probe.start();
  worker.push(call("c0", "+862583001009", kT0));
  worker.push(call("c1", "+862583001001", kT0 + 1));
  probe.flush();
  auto done = [](const HistoryWriter& w) { return counters(w)["history.written"] == 4; };
  ASSERT_TRUE(waitFor([&] { return done(probe) && done(notifier); }))
      << counters(probe)["history.written"] << " " << counters(notifier)["history.written"];
  std::string err;
  auto a = HistoryStore::open(dir_.file("probe.sqlite"), true, err);
  auto b = HistoryStore::open(dir_.file("notifier.sqlite"), true, err);
  ASSERT_TRUE(a && b) << err;
  Page pa, pb;
  ASSERT_TRUE(a->search(Query{}, pa, err));
  ASSERT_TRUE(b->search(Query{}, pb, err));
  ASSERT_EQ(pa.rows.size(), 2u);
  ASSERT_EQ(pb.rows.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(pa.rows[i].id, pb.rows[i].id);
    EXPECT_EQ(pa.rows[i].record_json, pb.rows[i].record_json);
    EXPECT_EQ(pa.rows[i].person_id, pb.rows[i].person_id);
  }
  EXPECT_EQ(pa.rows[0].person_id, "alice");  // c1, told to Alice
  CallDetail da, db;
  ASSERT_TRUE(a->detail("c1", da, err));
  ASSERT_TRUE(b->detail("c1", db, err));
  ASSERT_EQ(da.notifications.size(), 1u);
  ASSERT_EQ(db.notifications.size(), 1u);
  EXPECT_EQ(da.notifications[0].status, "delivered");
  EXPECT_EQ(db.notifications[0].status, "delivered");

  probe.stop();
  notifier.stop();
  auto c = counters(probe);
  EXPECT_EQ(c["history.queued"], 2u);
  EXPECT_EQ(c["history.stream.published"], 2u);
  EXPECT_EQ(c["history.written"], 4u);  // its own two and the notifier's two
  EXPECT_EQ(c["history.stream.gaps"], 0u);
  EXPECT_EQ(c["history.dropped"], 0u);
}

// Two nodes on one host given the same history.path would both apply every entry: the second
// is refused, naming the file, and runs without history.
TEST_F(HistoryStreamTest, AReplicaFileIsOneProcesssOnly) {
  HistoryConfig hc;
  hc.path = dir_.file("h.sqlite");
  HistoryWriter first(hc, cfg_, false);
  ASSERT_TRUE(first.ok()) << first.error();
  HistoryWriter second(hc, cfg_, false);
  EXPECT_FALSE(second.ok());
  EXPECT_NE(second.error().find("in use by another mcn process"), std::string::npos)
      << second.error();
  EXPECT_EQ(counters(second)["history.open_failed"], 1u);
}

TEST_F(HistoryStreamTest, CounterNamesAreApi) {
  HistoryConfig hc;
  hc.path = dir_.file("h.sqlite");
  HistoryWriter w(hc, cfg_, false);
  std::vector<std::string> names;
  w.forEachCounter([&](std::string_view k, uint64_t) { names.emplace_back(k); });
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "history.queued", "history.written", "history.dropped", "history.write_errors",
                "history.purged", "history.open_failed", "history.stream.published",
                "history.stream.deduped", "history.stream.buffered", "history.stream.dropped",
                "history.stream.resent", "history.stream.buffer_depth", "history.stream.gaps",
                "history.stream.bad_entries", "history.stream.reconnects",
                "history.stream.redis_errors", "history.stream.connected"}));
}

}  // namespace
}  // namespace mcn::history
