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

// Issue 13 item 3: a digest retry may come long after the challenge (a person typing a
// password, a phone fetching credentials). The call stays open auth_retry_ms (64*T1 = 32 s)
// after a 401/407 the caller got; the retry joins it. RULES.md "When a call is decided".

// The scenario's messages: INVITE at 0 (two hops: caller -> proxy, Vias 1), 407 at 10 ms, ACK,
// then the retry (CSeq 2) `retry_ms` later, the proxy's INVITE to the phone (Vias 2) and ringing.
struct SlowRetry {
  SipEvent first = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB, 1);
  SipEvent retry;
  SipEvent to_phone;
  explicit SlowRetry(int64_t retry_ms)
      : retry(invite(at(retry_ms), "call-1", "ft", "z9hG4bK-2", 1, kB, kB, 2)),
        to_phone(invite(at(retry_ms + 5), "call-1", "ft", "z9hG4bK-p2", 2, kB, kB, 2)) {}
  std::vector<SipEvent> challenge() const {
    return {first, response(at(10), 407, first, "p"),
            inDialog(at(11), Method::kAck, first, "p", 1, first.via_branch)};
  }
  std::vector<SipEvent> ringing(int64_t retry_ms) const {
    return {retry, to_phone, response(at(retry_ms + 100), 180, to_phone, "tb"),
            response(at(retry_ms + 101), 180, retry, "tb")};
  }
};

TEST(RetryRedirect, RetryAfter20sThenCancelledIsOneCancelledRecord) {
  Harness h;
  const SlowRetry s(20000);
  h.feed(s.challenge());
  h.advanceTo(at(19999));  // the grace after the 407 (2 s) is long gone: still open
  EXPECT_TRUE(h.records.empty());
  h.feed(s.ringing(20000));
  h.feed({cancel(at(26100), s.retry), response(at(26101), 200, cancel(at(26100), s.retry)),
          cancel(at(26102), s.to_phone), response(at(26110), 487, s.to_phone, "tb"),
          response(at(26111), 487, s.retry, "tb")});
  h.finish(at(90000));
  ASSERT_EQ(h.records.size(), 1u);
  // started_at: the first INVITE (the caller dialled then); ring_ms: from the 180 to the retry,
  // the phone only rang after it.
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kCancelled, true, 487, "Request Terminated",
                                         0, 26100, 6000));
  EXPECT_EQ(h.counter("calls.created"), 1u);
  EXPECT_EQ(h.counter("calls.late_messages"), 0u);
  EXPECT_EQ(h.counter("calls.late_auth_retries"), 0u);
}

TEST(RetryRedirect, RetryAfter25sThenNoAnswerIsNoAnswer) {
  Harness h;
  const SlowRetry s(25000);
  h.feed(s.challenge());
  h.advanceTo(at(24999));
  EXPECT_TRUE(h.records.empty());
  h.feed(s.ringing(25000));
  h.feed({response(at(55100), 480, s.to_phone, "tb"), response(at(55101), 480, s.retry, "tb")});
  h.finish(at(120000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kNoAnswer, true, 480,
                                         "Temporarily Unavailable", 0, 55100, 30000));
  EXPECT_EQ(h.counter("calls.created"), 1u);
}

TEST(RetryRedirect, ChallengeNeverRetriedIsFailedAfter32s) {
  Harness h;
  const SlowRetry s(0);
  h.feed(s.challenge());
  h.advanceTo(at(10 + 31999));
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(10 + 32000));  // auth_retry_ms after the 407
  ASSERT_EQ(h.records.size(), 1u);
  // The record still says when the call ended: the 407.
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kFailed, false, 407,
                                         "Proxy Authentication Required", 0, 10, 0));
}

TEST(RetryRedirect, AuthRetryWindowIsConfigurable) {
  TrackerConfig cfg;
  cfg.auth_retry_ms = 5000;
  Harness h(cfg);
  const SlowRetry s(0);
  h.feed(s.challenge());
  h.advanceTo(at(10 + 4999));
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(10 + 5000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].outcome, Outcome::kFailed);
}

// A retry after the window: the challenge's `failed` record is already out (not missed, nobody
// is told). The retry is the call the phone rang for, so it is a new call with the same
// Call-ID, decided on its own: the person is told of the missed call once, not never.
TEST(RetryRedirect, RetryAfter40sIsANewCallAfterTheFailedChallenge) {
  Harness h;
  const SlowRetry s(40000);
  h.feed(s.challenge());
  h.feed(s.ringing(40000));
  h.feed({cancel(at(46100), s.retry), cancel(at(46102), s.to_phone),
          response(at(46110), 487, s.to_phone, "tb"), response(at(46111), 487, s.retry, "tb")});
  h.finish(at(120000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kFailed, false, 407,
                                         "Proxy Authentication Required", 0, 10, 0));
  EXPECT_EQ(h.records[1], expectedRecord(kB, Outcome::kCancelled, true, 487, "Request Terminated",
                                         40000, 46100, 6000));
  EXPECT_EQ(h.counter("calls.created"), 2u);
  EXPECT_EQ(h.counter("calls.late_auth_retries"), 1u);
  EXPECT_EQ(h.counter("calls.reused_call_id"), 0u);
  // The retried INVITE's own messages belong to the new call, none is late.
  EXPECT_EQ(h.counter("calls.late_messages"), 0u);
}

// Only a challenge the caller got holds the call: a 401 on one fork branch (a device
// challenging the proxy) while another branch answered was never relayed to the caller.
TEST(RetryRedirect, ChallengeOnAForkBranchDoesNotHoldTheCall) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kPilot, kPilot);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kPilot);
  const SipEvent to_c = invite(at(3), "call-1", "ft", "z9hG4bK-c", 2, kC, kPilot);
  h.feed({up, to_b, to_c, response(at(20), 401, to_b, "b"), response(at(1000), 200, to_c, "c"),
          response(at(1001), 200, up, "c")});
  h.advanceTo(at(1001 + 2000));  // the usual grace after the 2xx
  EXPECT_EQ(h.records.size(), 2u);
}

}  // namespace
}  // namespace mcn::calls::testing
