// The call history store and its writer (history/): what an operator searching for a call
// would notice — the right calls, newest first, every page once, old calls gone after the
// retention, a damaged file refused with its name, a full queue counted, never waited on.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "mcn/history/store.h"
#include "mcn/history/writer.h"

namespace mcn::history {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = 86400LL * 1'000'000;
constexpr int64_t kT0 = 1'795'000'000LL * 1'000'000;  // 2026-11-18, a wall time

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("mcn_history_test_" + std::to_string(::getpid()) + "_" + std::to_string(++n_));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int n_ = 0;
  fs::path path_;
};

CallEntry call(std::string id, std::string caller, std::string callee, calls::Outcome o,
               int64_t started, std::string person = {}) {
  CallEntry e;
  e.record.call_id = id;
  e.record.call_ids = {id, id + "-b2bua-leg"};
  e.record.caller = std::move(caller);
  e.record.callee = std::move(callee);
  e.record.outcome = o;
  e.record.missed = o == calls::Outcome::kCancelled || o == calls::Outcome::kBusy ||
                    o == calls::Outcome::kNoAnswer;
  e.record.started_at_us = started;
  e.record.ended_at_us = started + 3'000'000;
  e.record.legs = 2;
  e.person_id = std::move(person);
  return e;
}

std::unique_ptr<HistoryStore> openStore(const std::string& path) {
  std::string err;
  auto s = HistoryStore::open(path, false, err);
  EXPECT_NE(s, nullptr) << err;
  return s;
}

std::vector<std::string> ids(const Page& p) {
  std::vector<std::string> out;
  for (const auto& r : p.rows) {
    auto at = r.record_json.find("\"call_id\":\"");
    auto from = at + 11;
    out.push_back(r.record_json.substr(from, r.record_json.find('"', from) - from));
  }
  return out;
}

Page search(HistoryStore& s, Query q) {
  Page p;
  std::string err;
  EXPECT_TRUE(s.search(q, p, err)) << err;
  return p;
}

using calls::Outcome;

TEST(HistoryStore, FindsCallsByNumberPersonCallIdOutcomeAndTime) {
  TempDir dir;
  auto s = openStore(dir.file("h.sqlite"));
  ASSERT_NE(s, nullptr);
  std::vector<CallEntry> c = {
      call("a", "+8613900101230", "+862583001013", Outcome::kCancelled, kT0, "e1013"),
      call("b", "+862583001013", "+862583001015", Outcome::kAnswered, kT0 + 60'000'000),
      call("c", "+8613900101231", "+862583001015", Outcome::kBusy, kT0 + 120'000'000, "e1015"),
  };
  c[2].record.forwarded_to = "+862583009999";
  std::string err;
  ASSERT_TRUE(s->write(c, {}, err)) << err;

  Query q;
  q.numbers = {"+862583001013"};  // caller of b, callee of a
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"b", "a"}));
  q.numbers = {"+862583009999"};  // where c was forwarded
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"c"}));
  q = {};
  q.person = "e1015";
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"c"}));
  q = {};
  q.call_id = "a-b2bua-leg";  // any leg
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"a"}));
  q = {};
  q.outcome = "answered";
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"b"}));
  q.outcome = "missed";
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"c", "a"}));
  q = {};
  q.since_us = kT0 + 60'000'000;  // [since, until)
  q.until_us = kT0 + 120'000'000;
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"b"}));
  q = {};
  q.numbers = {"+862583001015"};
  q.outcome = "busy";
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"c"}));
  q.numbers = {"+10000000000"};
  EXPECT_TRUE(search(*s, q).rows.empty());
}

// The searches the console and the operator make go through their own index, in its order, so
// that a page costs its own rows. A search that walks the whole table (EXPLAIN QUERY PLAN "SCAN
// calls") or sorts every match ("USE TEMP B-TREE FOR ORDER BY") finds the same rows but answers
// in 0.2-1 s at a million calls (tests/bench/web_bench.sh): the person and number searches once
// did.
TEST(HistoryStore, SearchesByNumberOrPersonReadOnlyTheirPageThroughAnIndex) {
  TempDir dir;
  auto s = openStore(dir.file("h.sqlite"));
  ASSERT_NE(s, nullptr);
  std::string err;
  auto self = call("self", "+862583001013", "+862583001013", Outcome::kBusy, kT0 + 1'000'000);
  self.record.forwarded_to = "+862583001013";
  ASSERT_TRUE(s->write(
      {call("a", "+8613900101230", "+862583001013", Outcome::kCancelled, kT0, "e1013"), self}, {},
      err))
      << err;
  struct Case {
    const char* what;
    Query q;
    const char* index;  // in the plan
    size_t rows;
    bool ordered = true;  // read in the index's order, no sort of the matches
  };
  std::vector<Case> cases;
  Query q;
  q.person = "e1013";
  q.outcome = "missed";
  q.limit = 50;
  cases.push_back({"my missed calls (/me)", q, "calls_person", 1});
  q.cursor = "1795000000000000.1";  // after call a: an empty page
  cases.push_back({"their next page", q, "calls_person", 0});
  q = {};
  q.person = "e1013";
  cases.push_back({"a person's calls", q, "calls_person", 1});
  q = {};
  q.numbers = {"83001013", "+862583001013"};
  cases.push_back({"a number (raw and normalised): its calls", q, "calls_caller", 2});
  cases.push_back({"a number: where it was called", q, "calls_callee", 2});
  cases.push_back({"a number: forwarded to it", q, "calls_forwarded", 2});
  q.limit = 1;
  q.cursor = "1795000001000000.9";
  q.outcome = "cancelled";
  q.since_us = kT0 - kDay;
  cases.push_back({"a number's cancelled calls, next page", q, "calls_callee", 1});
  q = {};
  q.call_id = "a-b2bua-leg";
  cases.push_back({"a Call-ID", q, "call_legs_id", 1, false});
  for (const auto& c : cases) {
    std::string plan;
    ASSERT_TRUE(s->queryPlan(c.q, plan, err)) << err;
    EXPECT_EQ(plan.find("SCAN calls"), std::string::npos) << c.what << ":\n" << plan;
    EXPECT_NE(plan.find(c.index), std::string::npos) << c.what << ":\n" << plan;
    if (c.ordered) {
      EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << c.what << ":\n" << plan;
    }
    // Call "self" has the number as caller, callee and forwarding target: one row all the same.
    EXPECT_EQ(search(*s, c.q).rows.size(), c.rows) << c.what;
  }
  q = {};
  q.numbers = {"+862583001013"};
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"self", "a"}));
  q.numbers = {""};
  EXPECT_TRUE(search(*s, q).rows.empty()) << "an empty number matches no forwarding target";
}

TEST(HistoryStore, PagesNewestFirstEveryCallOnce) {
  TempDir dir;
  auto s = openStore(dir.file("h.sqlite"));
  ASSERT_NE(s, nullptr);
  std::vector<CallEntry> c;
  // Two calls share a start time: the later insert comes first, and no page loses either.
  for (int i = 0; i < 7; ++i) {
    c.push_back(call("call" + std::to_string(i), "+1", "+2", Outcome::kBusy,
                     kT0 + (i == 4 ? 3 : i) * 1'000'000));
  }
  std::string err;
  ASSERT_TRUE(s->write(c, {}, err)) << err;
  Query q;
  q.limit = 3;
  std::vector<std::string> all;
  int pages = 0;
  for (;;) {
    Page p = search(*s, q);
    ++pages;
    for (auto& id : ids(p)) all.push_back(id);
    if (p.next_cursor.empty()) break;
    q.cursor = p.next_cursor;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(all, (std::vector<std::string>{"call6", "call5", "call4", "call3", "call2", "call1",
                                           "call0"}));
}

TEST(HistoryStore, RefusesACursorItNeverGave) {
  TempDir dir;
  auto s = openStore(dir.file("h.sqlite"));
  ASSERT_NE(s, nullptr);
  for (const char* bad : {"x", "1.", ".1", "1.0", "1;DROP TABLE calls", "99999999999999999999.1"}) {
    Query q;
    q.cursor = bad;
    Page p;
    std::string err;
    EXPECT_FALSE(s->search(q, p, err)) << bad;
    EXPECT_NE(err.find("cursor"), std::string::npos) << err;
  }
}

TEST(HistoryStore, KeepsANotificationsAttemptsAndOutcomeWithItsCall) {
  TempDir dir;
  auto s = openStore(dir.file("h.sqlite"));
  ASSERT_NE(s, nullptr);
  auto c = call("x1", "+8613900101230", "+862583001013", Outcome::kNoAnswer, kT0);
  std::vector<NotificationEvent> ev;
  NotificationEvent n;
  n.key = "mcn-k1";
  n.channel = "wecom-office";
  n.channel_kind = "wecom";
  n.person_id = "e1013";
  n.person_name = "Wang";
  n.kind = NotificationEvent::Kind::kProduced;
  n.calls = {{"x1", "+862583001013"}};
  n.at_us = kT0 + 5'000'000;
  ev.push_back(n);
  n.calls.clear();
  n.kind = NotificationEvent::Kind::kAttempt;
  n.ok = false;
  n.error = "HTTP 503";
  n.attempts = 1;
  n.at_us += 1'000'000;
  ev.push_back(n);
  n.ok = true;
  n.error.clear();
  n.attempts = 2;
  n.at_us += 2'000'000;
  ev.push_back(n);
  n.kind = NotificationEvent::Kind::kDelivered;
  ev.push_back(n);
  // Another channel of the same person gave up.
  NotificationEvent d;
  d.key = "mcn-k1";
  d.channel = "sms";
  d.channel_kind = "sms_http";
  d.person_id = "e1013";
  d.kind = NotificationEvent::Kind::kProduced;
  d.calls = {{"x1", "+862583001013"}};
  d.at_us = kT0 + 5'000'000;
  ev.push_back(d);
  d.calls.clear();
  d.kind = NotificationEvent::Kind::kDeadLettered;
  d.reason = "rejected";
  d.error = "errcode 40014";
  d.attempts = 1;
  ev.push_back(d);
  std::string err;
  ASSERT_TRUE(s->write({c}, ev, err)) << err;

  CallDetail det;
  ASSERT_TRUE(s->detail("x1-b2bua-leg", det, err)) << err;
  ASSERT_EQ(det.records.size(), 1u);
  EXPECT_EQ(det.records[0].person_id, "e1013");  // who was told is who it was for
  ASSERT_EQ(det.notifications.size(), 2u);
  std::map<std::string, NotificationRow> by;
  for (auto& r : det.notifications) by[r.channel] = r;
  EXPECT_EQ(by["wecom-office"].status, "delivered");
  EXPECT_EQ(by["wecom-office"].attempts, 2);
  ASSERT_EQ(by["wecom-office"].attempt_log.size(), 2u);
  EXPECT_FALSE(by["wecom-office"].attempt_log[0].ok);
  EXPECT_EQ(by["wecom-office"].attempt_log[0].error, "HTTP 503");
  EXPECT_TRUE(by["wecom-office"].attempt_log[1].ok);
  EXPECT_EQ(by["sms"].status, "dead_lettered");
  EXPECT_EQ(by["sms"].reason, "rejected");
  EXPECT_EQ(by["sms"].last_error, "errcode 40014");

  Query q;
  q.person = "e1013";
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"x1"}));
  EXPECT_TRUE(s->detail("no-such-call", det, err));
  EXPECT_TRUE(det.records.empty());
}

TEST(HistoryStore, RefusesADamagedFileNamingIt) {
  TempDir dir;
  std::string path = dir.file("damaged.sqlite");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) f << "not a database page ";
  }
  std::string err;
  EXPECT_EQ(HistoryStore::open(path, false, err), nullptr);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("not a database"), std::string::npos) << err;
  err.clear();
  EXPECT_EQ(HistoryStore::open(path, true, err), nullptr);
  EXPECT_NE(err.find("not a database"), std::string::npos) << err;
}

TEST(HistoryStore, RefusesAnUnwritablePathAndAFileWithoutHistory) {
  TempDir dir;
  std::string err;
  EXPECT_EQ(HistoryStore::open(dir.file("no/such/dir/h.sqlite"), false, err), nullptr);
  EXPECT_NE(err.find("no/such/dir/h.sqlite"), std::string::npos) << err;
  err.clear();
  EXPECT_EQ(HistoryStore::open(dir.file("missing.sqlite"), true, err), nullptr);
  EXPECT_FALSE(err.empty());
}

std::map<std::string, uint64_t> counters(const HistoryWriter& w) {
  std::map<std::string, uint64_t> m;
  w.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  return m;
}

TEST(HistoryWriter, CountersHaveStableNames) {
  TempDir dir;
  HistoryConfig cfg;
  cfg.path = dir.file("h.sqlite");
  HistoryWriter w(cfg, false);
  std::vector<std::string> names;
  w.forEachCounter([&](std::string_view k, uint64_t) { names.emplace_back(k); });
  EXPECT_EQ(names, (std::vector<std::string>{"history.queued", "history.written", "history.dropped",
                                             "history.write_errors", "history.purged",
                                             "history.open_failed"}));
}

TEST(HistoryWriter, AFullQueueIsACountedDropNeverAWait) {
  TempDir dir;
  HistoryConfig cfg;
  cfg.path = dir.file("h.sqlite");
  cfg.queue_size = 16;
  HistoryWriter w(cfg, false);
  ASSERT_TRUE(w.ok()) << w.error();
  HistoryProducer& p = w.addProducer();
  // Not started: nothing drains, so the ring fills.
  int accepted = 0;
  for (int i = 0; i < 40; ++i) {
    accepted += p.push(call("q" + std::to_string(i), "+1", "+2", Outcome::kBusy, kT0 + i)) ? 1 : 0;
  }
  EXPECT_GE(accepted, 16);
  EXPECT_LT(accepted, 40);
  w.start();
  w.flush();
  auto c = counters(w);
  EXPECT_EQ(c["history.queued"], static_cast<uint64_t>(accepted));
  EXPECT_EQ(c["history.dropped"], static_cast<uint64_t>(40 - accepted));
  EXPECT_EQ(c["history.written"], static_cast<uint64_t>(accepted));
  w.stop();
  auto s = openStore(cfg.path);
  Query q;
  q.limit = 500;
  EXPECT_EQ(search(*s, q).rows.size(), static_cast<size_t>(accepted));
}

TEST(HistoryWriter, ABlockingProducerLosesNothing) {
  TempDir dir;
  HistoryConfig cfg;
  cfg.path = dir.file("h.sqlite");
  cfg.queue_size = 16;
  HistoryWriter w(cfg, false);
  HistoryProducer& p = w.addProducer(/*blocking=*/true);
  w.start();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(p.push(call("r" + std::to_string(i), "+1", "+2", Outcome::kBusy, kT0 + i)));
  }
  w.stop();
  auto c = counters(w);
  EXPECT_EQ(c["history.written"], 1000u);
  EXPECT_EQ(c["history.dropped"], 0u);
}

TEST(HistoryWriter, ResolvesThePersonAndDeletesWhatIsOlderThanTheRetention) {
  TempDir dir;
  HistoryConfig cfg;
  cfg.path = dir.file("h.sqlite");
  cfg.retention_days = 90;
  const int64_t now = kT0 + 200 * kDay;
  {
    auto s = openStore(cfg.path);
    std::string err;
    NotificationEvent old;
    old.key = "old";
    old.channel = "c";
    old.kind = NotificationEvent::Kind::kProduced;
    old.calls = {{"old", "+2"}};
    old.at_us = now - 91 * kDay;
    ASSERT_TRUE(s->write({call("old", "+1", "+2", Outcome::kBusy, now - 91 * kDay),
                          call("recent", "+1", "+2", Outcome::kBusy, now - 89 * kDay)},
                         {old}, err))
        << err;
  }
  HistoryWriter w(
      cfg, /*purge=*/true, [now] { return now; },
      [](std::string_view n) { return n == "+3" ? std::string("e3") : std::string(); });
  HistoryProducer& p = w.addProducer();
  w.start();
  p.push(call("new", "+1", "+3", Outcome::kAnswered, now));
  w.flush();
  w.stop();
  EXPECT_EQ(counters(w)["history.purged"], 2u);  // the old call and its notification
  auto s = openStore(cfg.path);
  Query q;
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"new", "recent"}));
  q.person = "e3";
  EXPECT_EQ(ids(search(*s, q)), (std::vector<std::string>{"new"}));
}

TEST(HistoryWriter, ADamagedStoreIsCountedAndNothingCrashes) {
  TempDir dir;
  HistoryConfig cfg;
  cfg.path = dir.file("damaged.sqlite");
  {
    std::ofstream f(cfg.path, std::ios::binary);
    for (int i = 0; i < 512; ++i) f << "garbage! ";
  }
  HistoryWriter w(cfg, true);
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.error().find(cfg.path), std::string::npos);
  HistoryProducer& p = w.addProducer();
  w.start();
  EXPECT_FALSE(p.push(call("z", "+1", "+2", Outcome::kBusy, kT0)));
  w.flush();
  w.stop();
  auto c = counters(w);
  EXPECT_EQ(c["history.open_failed"], 1u);
  EXPECT_EQ(c["history.dropped"], 1u);
  EXPECT_EQ(c["history.written"], 0u);
}

}  // namespace
}  // namespace mcn::history
