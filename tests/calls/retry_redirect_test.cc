// 401/407 challenges (RFC 3261 §22.2) and 3xx redirects (§8.1.3.4): the retried or recursed
// INVITE continues the same call.

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

TEST(RetryRedirect, ProxyChallengeThenAnsweredIsOneAnsweredRecord) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB, 1);
  const SipEvent retry = invite(at(20), "call-1", "ft", "z9hG4bK-2", 1, kB, kB, 2);
  h.feed({first, response(at(10), 407, first, "p"),
          inDialog(at(11), Method::kAck, first, "p", 1, first.via_branch), retry,
          response(at(25), 100, retry), response(at(300), 180, retry, "tb"),
          response(at(4000), 200, retry, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  // started_at is the first INVITE: the caller dialled then, not at the retry.
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 4000, 3700));
  EXPECT_EQ(h.counter("calls.created"), 1u);
}

TEST(RetryRedirect, ChallengeNeverRetriedIsFailed) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB, 1);
  h.feed({first, response(at(10), 407, first, "p")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kFailed, false, 407,
                                         "Proxy Authentication Required", 0, 10, 0));
}

TEST(RetryRedirect, RedirectWithNoFollowUpIsRedirectedAfterTheLongerGrace) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  h.feed({inv, response(at(50), 302, inv, "r"),
          inDialog(at(51), Method::kAck, inv, "r", 1, inv.via_branch)});
  h.advanceTo(at(8049));  // grace_after_3xx_ms = 8 s after the 302
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(8050));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kRedirected, false, 302, "Moved Temporarily", 0, 50, 0));
}

TEST(RetryRedirect, RedirectFollowedByInviteToTheContactLetsTheFollowUpDecide) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB, 1);
  // The caller recurses: new CSeq, Request-URI = the 302's Contact, To unchanged.
  const SipEvent follow = invite(at(3080), "call-1", "ft", "z9hG4bK-2", 1, kC, kB, 2);
  h.feed({first, response(at(50), 302, first, "r"),
          inDialog(at(51), Method::kAck, first, "r", 1, first.via_branch)});
  h.advanceTo(at(3079));
  h.feed({follow, response(at(3200), 180, follow, "tc"), response(at(6000), 486, follow, "tc")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 6000, 2800));
}

TEST(RetryRedirect, RetriedInviteDecidesNotTheChallenge) {
  // Without superseding, the 407 (earlier) would be the "other final error".
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB, 1);
  const SipEvent retry = invite(at(20), "call-1", "ft", "z9hG4bK-2", 1, kB, kB, 2);
  h.feed({first, response(at(10), 401, first, "p"), retry, response(at(70), 404, retry, "p")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kFailed, false, 404, "Not Found", 0, 70, 0));
}

TEST(RetryRedirect, FollowUpThatFailsIsFailedNotRedirected) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB, 1);
  const SipEvent follow = invite(at(80), "call-1", "ft", "z9hG4bK-2", 1, kC, kB, 2);
  h.feed({first, response(at(50), 302, first, "r"), follow, response(at(120), 404, follow, "x")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kFailed, false, 404, "Not Found", 0, 120, 0));
}

TEST(RetryRedirect, ProxyRecursionToAnotherNumberLeavesTheFirstRedirected) {
  // The proxy itself follows B's 302 with a new branch to C (no Diversion).
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  const SipEvent to_c = invite(at(60), "call-1", "ft", "z9hG4bK-c", 2, kC, kB);
  h.feed({up, to_b, response(at(50), 302, to_b, "r"), to_c, response(at(3000), 200, to_c, "tc"),
          response(at(3001), 200, up, "tc")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kRedirected, false, 302, "Moved Temporarily", 0, 50, 0));
  EXPECT_EQ(h.records[1], expectedRecord(kC, Outcome::kAnswered, false, 200, "OK", 60, 3000, 0));
}

}  // namespace
}  // namespace mcn::calls::testing
