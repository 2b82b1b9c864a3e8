// The dead letters of <prefix>:dead as the operator console reads them (app/src/
// stream_dead_letters.h) against a real redis-server on a free loopback port: newest first with
// paging, done ones only when asked for, one claim per entry, and the claims of entries trimmed
// from the stream dropped with them (the done hash stays as small as the stream).

#include "../../app/src/stream_dead_letters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "../subscribers/test_support.h"
#include "mcn/redis/client.h"

namespace mcn::app {
namespace {

using subscribers::test::RedisServer;

class StreamDeadLettersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RedisServer::available()) << "redis-server not installed";
    ASSERT_TRUE(redis_.start());
    opts_.host = "127.0.0.1";
    opts_.port = redis_.port();
    raw_ = std::make_unique<redis::RedisClient>(opts_);
    ASSERT_EQ(raw_->connect(), "");
  }
  // Appends a dead letter as a notifier does (field "dead"); its entry id.
  std::string add(const std::string& person) {
    auto r = raw_->command(
        {"XADD", "t:dead", "*", "dead",
         R"({"reason":"max_attempts","notification":{"person":")" + person + R"("}})"});
    return r.str;
  }
  static std::vector<std::string> people(const notifier::DeadLetterPage& p) {
    std::vector<std::string> out;
    for (const auto& e : p.entries) out.push_back(e.line.substr(e.line.find("person") + 9, 2));
    return out;
  }

  RedisServer redis_;
  redis::RedisClientOptions opts_;
  std::unique_ptr<redis::RedisClient> raw_;
};

TEST_F(StreamDeadLettersTest, ListsNewestFirstInPagesAndHidesDoneOnesUnlessAsked) {
  StreamDeadLetters dead(opts_, "t");
  std::vector<std::string> ids;
  for (const char* p : {"p1", "p2", "p3", "p4", "p5"}) ids.push_back(add(p));
  notifier::DeadLetterPage page;
  std::string error;
  ASSERT_EQ(dead.list(0, 2, false, page, error), StreamDeadLetters::Result::kOk) << error;
  EXPECT_EQ(people(page), (std::vector<std::string>{"p5", "p4"}));
  EXPECT_EQ(page.total, 5u);
  ASSERT_EQ(dead.list(2, 2, false, page, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(people(page), (std::vector<std::string>{"p3", "p2"}));
  EXPECT_EQ(page.entries[0].id, ids[2]);

  // p4 discarded: gone from the dead ones, still in "all" with who and when.
  notifier::DeadLetterAction act{"discard", "Li Lei", "127.0.0.1", ""}, prior;
  StreamDeadLetters::Claim claim{};
  ASSERT_EQ(dead.claim(ids[3], act, claim, prior, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(claim, StreamDeadLetters::Claim::kClaimed);
  ASSERT_EQ(dead.list(0, 10, false, page, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(people(page), (std::vector<std::string>{"p5", "p3", "p2", "p1"}));
  EXPECT_EQ(page.total, 4u);
  ASSERT_EQ(dead.list(0, 10, true, page, error), StreamDeadLetters::Result::kOk);
  ASSERT_EQ(page.entries.size(), 5u);
  ASSERT_TRUE(page.entries[1].done);
  EXPECT_EQ(page.entries[1].done->action, "discard");
  EXPECT_EQ(page.entries[1].done->by, "Li Lei");
  EXPECT_EQ(page.entries[1].done->at.substr(0, 2), "20");  // UTC ISO-8601
  EXPECT_FALSE(page.entries[0].done);
}

TEST_F(StreamDeadLettersTest, OneClaimPerEntryAndTrimmedEntriesTakeTheirClaimsAlong) {
  StreamDeadLetters a(opts_, "t"), b(opts_, "t");  // two notifiers
  std::vector<std::string> ids;
  for (const char* p : {"p1", "p2", "p3"}) ids.push_back(add(p));
  std::string error;
  notifier::DeadLetterAction first{"retry", "Li Lei", "10.0.0.1", ""}, prior;
  StreamDeadLetters::Claim claim{};
  ASSERT_EQ(a.claim(ids[0], first, claim, prior, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(claim, StreamDeadLetters::Claim::kClaimed);
  notifier::DeadLetterAction second{"discard", "Han Mei", "10.0.0.2", ""};
  ASSERT_EQ(b.claim(ids[0], second, claim, prior, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(claim, StreamDeadLetters::Claim::kTaken);
  EXPECT_EQ(prior.by, "Li Lei");
  EXPECT_EQ(prior.action, "retry");
  EXPECT_EQ(prior.at, first.at);
  // An id that was never there (or was trimmed): gone, nothing claimed.
  ASSERT_EQ(b.claim("1-0", second, claim, prior, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(claim, StreamDeadLetters::Claim::kGone);
  EXPECT_EQ(raw_->command({"HLEN", "t:dead:done"}).integer, 1);
  // A released claim (the retry could not be handed over) can be taken again.
  ASSERT_EQ(b.claim(ids[1], second, claim, prior, error), StreamDeadLetters::Result::kOk);
  ASSERT_EQ(b.release(ids[1], error), StreamDeadLetters::Result::kOk);
  ASSERT_EQ(a.claim(ids[1], first, claim, prior, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(claim, StreamDeadLetters::Claim::kClaimed);
  EXPECT_EQ(raw_->command({"HLEN", "t:dead:done"}).integer, 2);

  // MAXLEN trims the two oldest: the next claim drops their claims.
  raw_->command({"XTRIM", "t:dead", "MAXLEN", "1"});
  ASSERT_EQ(a.claim(ids[2], first, claim, prior, error), StreamDeadLetters::Result::kOk);
  EXPECT_EQ(claim, StreamDeadLetters::Claim::kClaimed);
  auto keys = raw_->command({"HKEYS", "t:dead:done"});
  ASSERT_EQ(keys.elements.size(), 1u);
  EXPECT_EQ(keys.elements[0].str, ids[2]);
}

TEST_F(StreamDeadLettersTest, RedisDownIsUnreachableAndSaysNothingChanged) {
  StreamDeadLetters dead(opts_, "t");
  const std::string id = add("p1");
  redis_.stop();
  notifier::DeadLetterPage page;
  std::string error;
  EXPECT_EQ(dead.list(0, 10, false, page, error), StreamDeadLetters::Result::kUnreachable);
  EXPECT_NE(error.find("unreachable"), std::string::npos) << error;
  EXPECT_NE(error.find("nothing was changed"), std::string::npos);
  notifier::DeadLetterAction act{"retry", "Li Lei", "", ""}, prior;
  StreamDeadLetters::Claim claim{};
  EXPECT_EQ(dead.claim(id, act, claim, prior, error), StreamDeadLetters::Result::kUnreachable);
}

TEST_F(StreamDeadLettersTest, APageNeverShowsMoreLettersThanItsTotalWhileNotifiersAppend) {
  // Notifiers append dead letters while an operator's page is read: the count and the page come
  // from one instant (CI once showed a page of 2 letters with "1 in all").
  StreamDeadLetters dead(opts_, "t");
  notifier::DeadLetterPage page;
  std::string error;
  ASSERT_EQ(dead.list(0, 10, false, page, error), StreamDeadLetters::Result::kOk) << error;
  EXPECT_EQ(page.total, 0u);  // no stream yet
  EXPECT_TRUE(page.entries.empty());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    redis::RedisClient w(opts_);
    if (!w.connect().empty()) return;
    for (int i = 0; i < 3000 && !stop; ++i) {
      w.command({"XADD", "t:dead", "*", "dead", R"({"notification":{"person":"px"}})"});
    }
  });
  size_t checked = 0;
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(dead.list(0, 5000, false, page, error), StreamDeadLetters::Result::kOk) << error;
    ASSERT_EQ(page.entries.size(), page.total) << "read " << i;
    checked += page.entries.size();
  }
  stop = true;
  writer.join();
  EXPECT_GT(checked, 0u);
}

TEST(StreamDeadLettersIds, AreStreamEntryIds) {
  EXPECT_TRUE(StreamDeadLetters::validId("1733581234567-0"));
  EXPECT_TRUE(StreamDeadLetters::validId("0-1"));
  for (const char* bad : {"", "-", "1-", "-1", "1", "1-2-3", "17x-0", "1-0 ", "+", "(1-0",
                          "123456789012345678901-0", "0123456789abcdef"}) {
    EXPECT_FALSE(StreamDeadLetters::validId(bad)) << bad;
  }
}

}  // namespace
}  // namespace mcn::app
