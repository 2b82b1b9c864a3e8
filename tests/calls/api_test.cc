// The stable surface other components and users rely on: outcome spellings, default config,
// counter names and their order.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

TEST(Api, OutcomeNamesAreTheOutputContractsSpelling) {
  const std::vector<std::pair<Outcome, std::string>> want = {
      {Outcome::kAnswered, "answered"},   {Outcome::kAnsweredElsewhere, "answered_elsewhere"},
      {Outcome::kForwarded, "forwarded"}, {Outcome::kCancelled, "cancelled"},
      {Outcome::kBusy, "busy"},           {Outcome::kNoAnswer, "no_answer"},
      {Outcome::kDeclined, "declined"},   {Outcome::kRedirected, "redirected"},
      {Outcome::kFailed, "failed"},       {Outcome::kIncomplete, "incomplete"},
  };
  ASSERT_EQ(want.size(), static_cast<size_t>(kOutcomeCount));
  for (const auto& [o, name] : want) {
    EXPECT_EQ(outcomeName(o), name);
    EXPECT_EQ(outcomeFromName(name), o);
  }
  EXPECT_EQ(outcomeFromName("missed"), std::nullopt);
  EXPECT_EQ(outcomeFromName("Answered"), std::nullopt);
  EXPECT_EQ(outcomeFromName(""), std::nullopt);
}

TEST(Api, DefaultConfigIsDesignMd) {
  const TrackerConfig cfg;
  EXPECT_EQ(cfg.grace_ms, 2000);
  EXPECT_EQ(cfg.grace_after_3xx_ms, 8000);
  EXPECT_EQ(cfg.auth_retry_ms, 32000);
  EXPECT_EQ(cfg.ring_timeout_ms, 180000);
  EXPECT_EQ(cfg.linger_ms, 32000);
  EXPECT_EQ(cfg.min_ring_ms_cancelled, 0);
  EXPECT_FALSE(cfg.forwarded_unconditional_missed);
  const std::vector<Outcome> missed = {Outcome::kForwarded, Outcome::kCancelled, Outcome::kBusy,
                                       Outcome::kNoAnswer};
  for (int i = 0; i < kOutcomeCount; ++i) {
    const auto o = static_cast<Outcome>(i);
    const bool want = std::find(missed.begin(), missed.end(), o) != missed.end();
    EXPECT_EQ(cfg.missed[static_cast<size_t>(i)], want) << outcomeName(o);
  }
}

TEST(Api, CountersHaveStableNamesInAFixedOrderWithZeros) {
  Harness h;
  std::vector<std::string> names;
  h.tracker().forEachCounter([&](std::string_view n, uint64_t v) {
    names.emplace_back(n);
    EXPECT_EQ(v, 0u) << n;
  });
  const std::vector<std::string> want = {
      "calls.created",
      "calls.decided",
      "calls.records",
      "calls.missed",
      "calls.retransmissions",
      "calls.duplicates",
      "calls.orphan_messages",
      "calls.late_messages",
      "calls.ignored_messages",
      "calls.evicted",
      "calls.reused_call_id",
      "calls.legs_correlated",
      "calls.ring_timeouts",
      "calls.hops_dropped",
      "calls.linger_dropped",
      "calls.late_auth_retries",
      "calls.pickups",
      "calls.pickups_unmatched",
      "calls.legs_joined_heuristic",
      "calls.outcome.answered",
      "calls.outcome.answered_elsewhere",
      "calls.outcome.forwarded",
      "calls.outcome.cancelled",
      "calls.outcome.busy",
      "calls.outcome.no_answer",
      "calls.outcome.declined",
      "calls.outcome.redirected",
      "calls.outcome.failed",
      "calls.outcome.incomplete",
  };
  EXPECT_EQ(names, want);
}

TEST(Api, SinkReceivesRecordsAsTheyAreDecided) {
  std::vector<std::string> seen;
  CallTracker t(TrackerConfig(), [&](CallRecord&& r) { seen.push_back(r.call_id); });
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  t.onEvent(inv);
  t.onEvent(response(at(10), 486, inv, "t"));
  EXPECT_EQ(t.openCalls(), 1u);
  t.advanceTo(at(2010));
  EXPECT_EQ(seen, std::vector<std::string>{"call-1"});
  EXPECT_EQ(t.openCalls(), 0u);
}

}  // namespace
}  // namespace mcn::calls::testing
