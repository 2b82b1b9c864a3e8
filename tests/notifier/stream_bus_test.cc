// Redis Streams scale-out (stream_bus.h) against a real redis-server on a free loopback port:
// the probes' cross-probe dedupe, the bounded buffer through an outage, merge windows kept in
// Redis, take-over of a dead consumer's entries, dead letters. Window deadlines, claim cadence
// and reconnect backoff run on a ManualClock; Redis's own idle times are made irrelevant with
// claim_idle_ms = 0, so nothing here waits for time to pass.

#include "mcn/notifier/stream_bus.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "../subscribers/test_support.h"
#include "mcn/calls/record_wire.h"

namespace mcn::notifier {
namespace {

using subscribers::test::RedisServer;

constexpr int64_t kT0 = 1'795'000'000'000'000;  // 2026-11-18, µs

// A plain hiredis client for looking at what the code under test left in Redis.
class Cli {
 public:
  explicit Cli(int port) { c_ = redisConnect("127.0.0.1", port); }
  ~Cli() {
    if (c_ != nullptr) redisFree(c_);
  }
  // The reply flattened: integers and strings as text, arrays depth-first, nil as "(nil)".
  std::vector<std::string> cmd(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    std::vector<std::string> out;
    flatten(r, out);
    if (r != nullptr) freeReplyObject(r);
    return out;
  }
  long long integer(const std::vector<std::string>& args) {
    auto v = cmd(args);
    return v.empty() ? -1 : std::stoll(v[0]);
  }

 private:
  static void flatten(const redisReply* r, std::vector<std::string>& out) {
    if (r == nullptr) return;
    switch (r->type) {
      case REDIS_REPLY_ARRAY:
        for (size_t i = 0; i < r->elements; ++i) flatten(r->element[i], out);
        break;
      case REDIS_REPLY_INTEGER:
        out.push_back(std::to_string(r->integer));
        break;
      case REDIS_REPLY_NIL:
        out.emplace_back("(nil)");
        break;
      default:
        out.emplace_back(r->str, r->len);
    }
  }
  redisContext* c_ = nullptr;
};

calls::MissedCall call(const std::string& call_id, const std::string& callee,
                       std::optional<std::string> icid = std::nullopt, int64_t ended = kT0) {
  calls::MissedCall c;
  c.call_id = call_id;
  c.call_ids = {c.call_id};  // as the tracker fills it: the entry carries every leg
  c.correlation = std::move(icid);
  c.caller = "+8613900116294";
  c.callee = callee;
  c.outcome = calls::Outcome::kNoAnswer;
  c.missed = true;
  c.status = 480;
  c.started_at_us = ended - 20'000'000;
  c.ended_at_us = ended;
  return c;
}

subscribers::Person person(const std::string& id, const std::string& number, int64_t window_ms) {
  subscribers::Person p;
  p.id = id;
  p.name = id;
  p.numbers = {number};
  p.channels.push_back(
      subscribers::Channel{"console", subscribers::ChannelKind::kConsole, "", "", "", {}});
  p.prefs.merge_window_ms = window_ms;
  return p;
}

std::map<std::string, uint64_t> counters(const auto& c) {
  std::map<std::string, uint64_t> m;
  c.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  return m;
}

class StreamBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A dependency (deploy/install-deps.sh): missing, the test fails rather than passing unrun.
    ASSERT_TRUE(RedisServer::available()) << "redis-server not installed";
    ASSERT_TRUE(server_.start()) << "redis-server did not answer PING";
    cfg_.port = server_.port();
    cfg_.backoff_initial_ms = 100;
    cfg_.backoff_max_ms = 100;
    cli_ = std::make_unique<Cli>(server_.port());
    directory_ = subscribers::Directory::build(
        {person("alice", "+862583001001", 60000), person("bob", "+862583001002", 0)}, 1);
  }

  std::unique_ptr<StreamNotifier> notifier(std::vector<ClosedWindow>& got, StreamConfig cfg) {
    return std::make_unique<StreamNotifier>(
        cfg, directory_, clock_, [&got](ClosedWindow&& w) { got.push_back(std::move(w)); });
  }

  RedisServer server_;
  StreamConfig cfg_;
  ManualClock clock_{kT0};
  std::unique_ptr<Cli> cli_;
  std::shared_ptr<const subscribers::Directory> directory_;
};

TEST_F(StreamBusTest, ACallSeenByTwoProbesIsPublishedOnce) {
  StreamPublisher pcscf_site(cfg_, clock_), mgcf_site(cfg_, clock_);
  // The same call at both sites: the MGCF leg has another Call-ID but the same icid-value.
  pcscf_site.publish(call("leg-a@pcscf", "+862583001001", "icid-1"));
  mgcf_site.publish(call("leg-b@mgcf", "+862583001001", "icid-1"));
  // Without an icid the Call-ID is the key; another called number is another notification.
  pcscf_site.publish(call("c2@pcscf", "+862583001001"));
  mgcf_site.publish(call("c2@pcscf", "+862583001001"));
  mgcf_site.publish(call("c2@pcscf", "+862583001002"));
  EXPECT_EQ(pcscf_site.pump(), 2u);
  EXPECT_EQ(mgcf_site.pump(), 3u);
  EXPECT_EQ(cli_->integer({"XLEN", "mcn:missed"}), 3);
  auto a = counters(pcscf_site), b = counters(mgcf_site);
  EXPECT_EQ(a["stream.published"] + b["stream.published"], 3u);
  EXPECT_EQ(a["stream.deduped"] + b["stream.deduped"], 2u);
  // The dedupe key expires (24 h by default), so Redis does not keep every call forever.
  long long ttl =
      cli_->integer({"TTL", streamDedupeKey(cfg_, call("x", "+862583001001", "icid-1"))});
  EXPECT_GT(ttl, 86000);
  EXPECT_LE(ttl, 86400);
  // The entry carries the record exactly.
  auto entry = cli_->cmd({"XRANGE", "mcn:missed", "-", "+", "COUNT", "1"});
  ASSERT_EQ(entry.size(), 3u);  // id, "call", json
  EXPECT_EQ(calls::recordFromWireJson(entry[2]), call("leg-a@pcscf", "+862583001001", "icid-1"));
}

TEST_F(StreamBusTest, ProbeBuffersThroughAnOutageAndResendsInOrder) {
  const int port = server_.port();
  StreamPublisher probe(cfg_, clock_);
  probe.publish(call("c0", "+862583001001"));
  EXPECT_EQ(probe.pump(), 1u);
  server_.stop();
  for (int i = 1; i <= 4; ++i) {
    probe.publish(call("c" + std::to_string(i), "+862583001001"));
    probe.pump();  // fails: nothing answered, nothing lost
  }
  EXPECT_EQ(probe.buffered(), 4u);
  EXPECT_FALSE(probe.connected());
  ASSERT_TRUE(server_.start(port));  // a fresh, empty Redis on the same port
  cli_ = std::make_unique<Cli>(port);
  clock_.advance(200'000);  // past the reconnect backoff
  EXPECT_EQ(probe.pump(), 4u);
  EXPECT_EQ(probe.buffered(), 0u);
  auto ids = cli_->cmd({"XRANGE", "mcn:missed", "-", "+"});
  ASSERT_EQ(ids.size(), 12u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(calls::recordFromWireJson(ids[3 * i + 2])->call_id, "c" + std::to_string(i + 1));
  }
  auto c = counters(probe);
  EXPECT_EQ(c["stream.published"], 5u);
  EXPECT_EQ(c["stream.buffered"], 3u);  // c2..c4 came while Redis was known to be down
  EXPECT_EQ(c["stream.resent"], 3u);
  EXPECT_EQ(c["stream.reconnects"], 1u);
  EXPECT_EQ(c["stream.dropped"], 0u);
}

TEST_F(StreamBusTest, ProbeBufferIsBoundedAndCountsWhatItRefuses) {
  cfg_.buffer_max = 3;
  server_.stop();
  StreamPublisher probe(cfg_, clock_);
  int accepted = 0;
  for (int i = 0; i < 5; ++i)
    accepted += probe.publish(call("c" + std::to_string(i), "+1")) ? 1 : 0;
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(counters(probe)["stream.dropped"], 2u);
  EXPECT_EQ(counters(probe)["stream.buffer_depth"], 3u);
}

// Counter names are API (README "Scale-out with Redis Streams", /metrics): the full lists, in
// order, Sentinel counters included (0 without Sentinels).
TEST_F(StreamBusTest, CounterNamesAreApi) {
  auto names = [](const auto& s) {
    std::vector<std::string> v;
    s.forEachCounter([&](std::string_view n, uint64_t) { v.emplace_back(n); });
    return v;
  };
  StreamPublisher probe(cfg_, clock_);
  EXPECT_EQ(names(probe),
            (std::vector<std::string>{
                "stream.published", "stream.deduped", "stream.buffered", "stream.dropped",
                "stream.resent", "stream.buffer_depth", "stream.reconnects", "stream.redis_errors",
                "stream.sentinel_failovers", "stream.sentinel_errors", "stream.connected"}));
  std::vector<ClosedWindow> got;
  auto n = notifier(got, cfg_);
  EXPECT_EQ(names(*n),
            (std::vector<std::string>{
                "stream.read", "stream.windows_added", "stream.windows_closed", "stream.acked",
                "stream.claimed", "stream.dead_lettered", "stream.dead_local",
                "stream.unknown_number", "stream.quiet_dropped", "stream.bad_entries",
                "stream.reconnects", "stream.redis_errors", "stream.sentinel_failovers",
                "stream.sentinel_errors", "stream.connected", "stream.lag.missed",
                "stream.lag.closed", "stream.pending.missed", "stream.pending.closed"}));
  EXPECT_EQ(counters(probe)["stream.sentinel_failovers"], 0u);
}

TEST_F(StreamBusTest, NotifierReportsConnectionLagAndPendingForMetrics) {
  std::vector<ClosedWindow> got;
  auto idle = notifier(got, cfg_);
  idle->stopReading();  // a notifier that reads nothing: its group falls behind
  idle->step(0);        // connects, creates the groups
  StreamPublisher probe(cfg_, clock_);
  for (int i = 0; i < 3; ++i) probe.publish(call("c" + std::to_string(i), "+862583001001"));
  EXPECT_EQ(probe.pump(), 3u);
  EXPECT_EQ(counters(probe)["stream.connected"], 1u);
  clock_.advance(5'000'000);  // lag is polled every 5 s
  idle->step(0);
  auto c = counters(*idle);
  EXPECT_EQ(c["stream.connected"], 1u);
  EXPECT_EQ(c["stream.lag.missed"], 3u);  // XINFO GROUPS: three entries never handed out
  EXPECT_EQ(c["stream.pending.missed"], 0u);
  EXPECT_EQ(c["stream.lag.closed"], 0u);

  // Another notifier of the group reads them (adds each to alice's window and acknowledges it
  // in one script): nothing left behind or pending on mcn:missed.
  auto reader = notifier(got, cfg_);
  reader->step(0);
  c = counters(*reader);
  EXPECT_EQ(c["stream.read"], 3u);
  EXPECT_EQ(c["stream.lag.missed"], 0u);
  EXPECT_EQ(c["stream.pending.missed"], 0u);

  server_.stop();
  idle->step(0);  // the next command finds the connection gone
  EXPECT_EQ(counters(*idle)["stream.connected"], 0u);
}

TEST_F(StreamBusTest, WindowLivesInRedisUntilItsDeadline) {
  std::vector<ClosedWindow> got;
  auto n = notifier(got, cfg_);
  StreamPublisher probe(cfg_, clock_);
  probe.publish(call("c1", "+862583001001", std::nullopt, kT0 + 2));
  probe.publish(call("c2", "+862583001001", std::nullopt, kT0 + 1));
  probe.publish(call("c3", "+862583009999"));  // nobody's number
  probe.pump();
  n->step(0);
  EXPECT_TRUE(got.empty());
  auto c = counters(*n);
  EXPECT_EQ(c["stream.windows_added"], 2u);
  EXPECT_EQ(c["stream.unknown_number"], 1u);
  // The window is Redis state, not this process's: the person's hash and its deadline.
  EXPECT_EQ(cli_->integer({"HLEN", "mcn:win:alice"}), 2);
  auto score = cli_->cmd({"ZSCORE", "mcn:windows", "alice"});
  ASSERT_EQ(score.size(), 1u);
  EXPECT_EQ(std::stoll(score[0]), kT0 + 60'000'000);                         // alice's 60 s window
  EXPECT_EQ(cli_->integer({"XPENDING", "mcn:missed", "mcn-notifiers"}), 0);  // all acked
  clock_.advance(59'999'999);
  n->step(0);
  n->step(0);
  EXPECT_TRUE(got.empty());
  clock_.advance(1);
  n->step(0);  // moves the window to :closed
  n->step(0);  // reads it
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].person_id, "alice");
  ASSERT_EQ(got[0].calls.size(), 2u);
  EXPECT_EQ(got[0].calls[0].call_id, "c1");  // in the order they reached Redis
  EXPECT_EQ(got[0].calls[1].call_id, "c2");
  // Arrival = the entry's XADD time on Redis's clock (this machine's: today, not kT0).
  ASSERT_EQ(got[0].arrived_us.size(), 2u);
  EXPECT_LE(got[0].arrived_us[0], got[0].arrived_us[1]);
  EXPECT_GT(got[0].arrived_us[0], kT0);
  EXPECT_EQ(cli_->integer({"EXISTS", "mcn:win:alice"}), 0);
  // Pending until the notifications are confirmed.
  EXPECT_EQ(cli_->integer({"XPENDING", "mcn:closed", "mcn-notifiers"}), 1);
  n->windowDone(got[0].entry_id);
  EXPECT_TRUE(n->flushQueued());
  EXPECT_EQ(cli_->integer({"XPENDING", "mcn:closed", "mcn-notifiers"}), 0);
}

TEST_F(StreamBusTest, WindowZeroIsImmediate) {
  std::vector<ClosedWindow> got;
  auto n = notifier(got, cfg_);
  StreamPublisher probe(cfg_, clock_);
  probe.publish(call("b1", "+862583001002"));
  probe.pump();
  n->step(0);  // adds and closes (deadline = now)
  n->step(0);  // reads the closed window
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].person_id, "bob");
}

TEST_F(StreamBusTest, ABusyNotifierLeavesNewWindowsToOthers) {
  cfg_.max_in_flight = 1;
  std::vector<ClosedWindow> got;
  auto n = notifier(got, cfg_);
  StreamPublisher probe(cfg_, clock_);
  probe.publish(call("b1", "+862583001002"));
  probe.pump();
  n->step(0);
  n->step(0);
  ASSERT_EQ(got.size(), 1u);  // being delivered
  probe.publish(call("b2", "+862583001002"));
  probe.pump();
  n->step(0);
  n->step(0);
  n->step(0);
  EXPECT_EQ(got.size(), 1u);  // the second window waits in mcn:closed for whoever is free
  EXPECT_EQ(cli_->integer({"XLEN", "mcn:closed"}), 2);
  n->windowDone(got[0].entry_id);
  n->step(0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].calls.at(0).call_id, "b2");
}

TEST_F(StreamBusTest, TheLivingTakeOverWhatADeadNotifierHeld) {
  cfg_.claim_idle_ms = 0;  // any pending entry of another consumer is stale
  StreamPublisher probe(cfg_, clock_);
  std::vector<ClosedWindow> got;
  auto survivor = notifier(got, cfg_);
  survivor->step(0);  // creates the group
  probe.publish(call("b1", "+862583001002"));
  probe.pump();
  // A notifier that reads the missed call and dies before doing anything with it.
  auto read = cli_->cmd({"XREADGROUP", "GROUP", "mcn-notifiers", "ghost", "COUNT", "10", "STREAMS",
                         "mcn:missed", ">"});
  ASSERT_FALSE(read.empty());
  clock_.advance(1'000'000);
  survivor->step(0);
  EXPECT_EQ(counters(*survivor)["stream.claimed"], 1u);
  EXPECT_EQ(counters(*survivor)["stream.windows_added"], 1u);
  survivor->step(0);
  ASSERT_EQ(got.size(), 1u);
  // The survivor now holds the closed window; if it dies too (stops stepping, so stops
  // refreshing the entry), the next notifier takes the window over.
  std::vector<ClosedWindow> got2;
  auto heir = notifier(got2, cfg_);
  clock_.advance(1'000'000);
  heir->step(0);
  ASSERT_EQ(got2.size(), 1u);
  EXPECT_EQ(got2[0].entry_id, got[0].entry_id);
  EXPECT_EQ(got2[0].deliveries, 2u);
  heir->windowDone(got2[0].entry_id);
  EXPECT_TRUE(heir->flushQueued());
  EXPECT_EQ(cli_->integer({"XPENDING", "mcn:closed", "mcn-notifiers"}), 0);
}

TEST_F(StreamBusTest, PoisonAndBadEntriesGoToTheDeadLetterStream) {
  cfg_.claim_idle_ms = 0;
  cfg_.max_deliveries = 2;
  std::vector<ClosedWindow> got;
  auto n = notifier(got, cfg_);
  n->step(0);
  cli_->cmd({"XADD", "mcn:missed", "*", "call", "{not a record"});
  n->step(0);
  EXPECT_EQ(counters(*n)["stream.bad_entries"], 1u);
  EXPECT_EQ(cli_->integer({"XLEN", "mcn:dead"}), 1);
  auto dead = cli_->cmd({"XRANGE", "mcn:dead", "-", "+"});
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_NE(dead[2].find("\"reason\":\"bad_entry\""), std::string::npos);
  // A closed window that kills every notifier that takes it: handed out twice (ghosts), the
  // third time it is dead-lettered instead of delivered.
  cli_->cmd({"XADD", "mcn:closed", "*", "person", "bob", "calls", "[]"});
  for (const char* ghost : {"ghost1", "ghost2"}) {
    cli_->cmd({"XAUTOCLAIM", "mcn:closed", "mcn-notifiers", ghost, "0", "0-0"});
    cli_->cmd({"XREADGROUP", "GROUP", "mcn-notifiers", ghost, "STREAMS", "mcn:closed", ">"});
  }
  clock_.advance(1'000'000);
  n->step(0);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(cli_->integer({"XLEN", "mcn:dead"}), 2);
  dead = cli_->cmd({"XRANGE", "mcn:dead", "-", "+"});
  EXPECT_NE(dead[5].find("\"reason\":\"max_deliveries\""), std::string::npos);
  EXPECT_EQ(cli_->integer({"XPENDING", "mcn:closed", "mcn-notifiers"}), 0);
  // Notifications the delivery engine gave up on.
  n->deadLetter(R"({"reason":"max_attempts"})");
  EXPECT_TRUE(n->flushQueued());
  EXPECT_EQ(cli_->integer({"XLEN", "mcn:dead"}), 3);
  EXPECT_EQ(counters(*n)["stream.dead_lettered"], 3u);
}

// Dead letters wait in memory while Redis is away, up to buffer_max: beyond it the oldest is
// dropped and counted (and logged whole); what waited reaches mcn:dead once Redis is back.
TEST_F(StreamBusTest, DeadLettersWaitingForRedisAreBoundedAndCounted) {
  const int port = server_.port();
  cfg_.buffer_max = 2;
  std::vector<ClosedWindow> got;
  auto n = notifier(got, cfg_);
  n->step(0);
  server_.stop();
  EXPECT_TRUE(n->deadLetter("{\"n\":1}"));
  EXPECT_TRUE(n->deadLetter("{\"n\":2}"));
  EXPECT_FALSE(n->deadLetter("{\"n\":3}"));  // handed back: the caller's local file takes it
  EXPECT_FALSE(n->flushQueued());
  EXPECT_EQ(counters(*n)["stream.dead_local"], 1u);
  ASSERT_TRUE(server_.start(port));
  clock_.advance(200'000);  // past the reconnect backoff
  EXPECT_TRUE(n->flushQueued());
  Cli cli(port);
  auto dead = cli.cmd({"XRANGE", "mcn:dead", "-", "+"});
  ASSERT_EQ(dead.size(), 6u);  // two entries: id, field, value each
  EXPECT_EQ(dead[2], "{\"n\":1}");
  EXPECT_EQ(dead[5], "{\"n\":2}");
}

TEST_F(StreamBusTest, NotifierReconnectsAfterAnOutage) {
  const int port = server_.port();
  std::vector<ClosedWindow> got;
  auto n = notifier(got, cfg_);
  n->step(0);
  EXPECT_TRUE(n->connected());
  server_.stop();
  n->step(0);
  EXPECT_FALSE(n->connected());
  ASSERT_TRUE(server_.start(port));
  clock_.advance(200'000);
  StreamPublisher probe(cfg_, clock_);
  probe.publish(call("b1", "+862583001002"));
  probe.pump();
  n->step(0);  // reconnects, recreates the group on the empty server, reads nothing older
  n->step(0);
  n->step(0);
  EXPECT_EQ(counters(*n)["stream.reconnects"], 1u);
  ASSERT_EQ(got.size(), 1u);
}

}  // namespace
}  // namespace mcn::notifier
