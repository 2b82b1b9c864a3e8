// One call, one called number: each final outcome of RULES.md's table, with the timing fields a
// user sees (started, ended, ring_ms) derived by hand from the scenario's timestamps.

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

// caller -> proxy (1 Via) -> B (2 Vias): the usual two hops of one leg seen on a SPAN port.
struct TwoHops {
  SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  SipEvent down = invite(at(2), "call-1", "ft", "z9hG4bK-down", 2, kB, kB);
};

TEST(BasicOutcomes, AnsweredIsDecidedGraceAfterThe200) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(5), 100, inv), response(at(100), 180, inv, "tb"),
          response(at(3100), 200, inv, "tb"),
          inDialog(at(3150), Method::kAck, inv, "tb", 1, "z9hG4bK-ack")});
  h.advanceTo(at(5099));  // grace (2 s) after the 200 at 3.1 s not over yet
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(5100));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 3100, 3000));

  // BYE and its 200 inside the linger time change nothing and are absorbed.
  const SipEvent bye = inDialog(at(20000), Method::kBye, inv, "tb", 2, "z9hG4bK-bye");
  h.feed({bye, response(at(20010), 200, bye, "tb")});
  h.finish(at(21000));
  EXPECT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.counter("calls.created"), 1u);
  EXPECT_EQ(h.counter("calls.decided"), 1u);
  EXPECT_EQ(h.counter("calls.records"), 1u);
  EXPECT_EQ(h.counter("calls.missed"), 0u);
  EXPECT_EQ(h.counter("calls.outcome.answered"), 1u);
  EXPECT_EQ(h.counter("calls.late_messages"), 2u);
  EXPECT_EQ(h.counter("calls.orphan_messages"), 0u);
  EXPECT_EQ(h.tracker().openCalls(), 0u);
}

TEST(BasicOutcomes, CallerCancelsWhileRinging) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  const SipEvent can = cancel(at(5100), inv);
  h.feed({inv, response(at(5), 100, inv), response(at(100), 180, inv, "tb"), can,
          response(at(5110), 200, can), response(at(5120), 487, inv, "tb"),
          inDialog(at(5130), Method::kAck, inv, "tb", 1, inv.via_branch)});
  h.advanceTo(at(7119));  // last final response 5.12 s + 2 s grace
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(7120));
  ASSERT_EQ(h.records.size(), 1u);
  // ended_at is the CANCEL (it came before the 487); the reason is the 487's phrase since the
  // CANCEL carried no Reason.
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kCancelled, true, 487, "Request Terminated",
                                         0, 5100, 5000));
  EXPECT_EQ(h.counter("calls.missed"), 1u);
  EXPECT_EQ(h.counter("calls.outcome.cancelled"), 1u);
}

TEST(BasicOutcomes, CancelReasonTextIsTheReason) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  const SipEvent can = cancel(at(2100), inv, {ReasonValue{"Q.850", 16, "Normal call clearing"}});
  h.feed({inv, response(at(100), 180, inv, "tb"), can, response(at(2120), 487, inv, "tb")});
  h.finish(at(10000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kCancelled, true, 487, "Normal call clearing",
                                         0, 2100, 2000));
}

TEST(BasicOutcomes, Busy486) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "tb"), response(at(2100), 486, inv, "tb"),
          inDialog(at(2110), Method::kAck, inv, "tb", 1, inv.via_branch)});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 2100, 2000));
}

TEST(BasicOutcomes, Busy486WithoutRinging) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(40), 486, inv, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 40, 0));
}

TEST(BasicOutcomes, Unavailable480IsNoAnswer) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "tb"), response(at(30100), 480, inv, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kNoAnswer, true, 480,
                                         "Temporarily Unavailable", 0, 30100, 30000));
}

TEST(BasicOutcomes, Timeout408FromTheProxyIsNoAnswerNotCancelled) {
  // The proxy's no-answer timer fires at 60 s: it CANCELs B (no Reason) and answers the caller
  // 408. The CANCEL is the proxy's, not the caller's.
  Harness h;
  TwoHops c;
  const SipEvent can = cancel(at(60000), c.down);
  h.feed({c.up, response(at(1), 100, c.up), c.down, response(at(100), 180, c.down, "tb"),
          response(at(101), 180, c.up, "tb"), can, response(at(60001), 408, c.up),
          response(at(60005), 200, can), response(at(60010), 487, c.down, "tb")});
  h.finish(at(120000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kNoAnswer, true, 408, "Request Timeout", 0, 60001, 59901));
}

TEST(BasicOutcomes, SilentDeviceProxyTimerBIs408NotIncomplete) {
  // The device never answers at all (not even 100): the proxy retransmits hop 2 and, at Timer B
  // (64*T1), answers the caller 408 without any CANCEL. Hop 2 is over with hop 1.
  Harness h;
  TwoHops c;
  h.feed({c.up, response(at(1), 100, c.up), c.down});
  for (int64_t t : {500, 1500, 3500, 7500, 15500, 31500}) {
    SipEvent again = c.down;
    again.ts_us = at(2 + t);
    h.feed(again);
  }
  h.feed(response(at(32002), 408, c.up));
  h.advanceTo(at(34001));
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(34002));  // grace after the 408, not the ring timeout of hop 2
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kNoAnswer, true, 408, "Request Timeout", 0, 32002, 0));
  EXPECT_EQ(h.counter("calls.retransmissions"), 6u);
  EXPECT_EQ(h.counter("calls.ring_timeouts"), 0u);
}

TEST(BasicOutcomes, Decline603IsNotMissed) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "tb"), response(at(4100), 603, inv, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kDeclined, false, 603, "Decline", 0, 4100, 4000));
  EXPECT_EQ(h.counter("calls.outcome.declined"), 1u);
}

TEST(BasicOutcomes, CancelWithReasonCause600IsDeclined) {
  // RFC 3326: the network cancels B's branch because the user rejected the call elsewhere.
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  const SipEvent can = cancel(at(4100), inv, {sipReason(600, "Busy Everywhere")});
  h.feed({inv, response(at(100), 180, inv, "tb"), can, response(at(4105), 200, can),
          response(at(4110), 487, inv, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kDeclined, false, 487, "Busy Everywhere", 0, 4100, 4000));
}

TEST(BasicOutcomes, OtherErrorIsFailed) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(30), 404, inv, "x")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kFailed, false, 404, "Not Found", 0, 30, 0));
}

TEST(BasicOutcomes, RingTimeoutIsNoAnswerAtStartedPlus180s) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "tb")});
  h.advanceTo(at(181999));  // timeout at 180 s, then 2 s grace
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(182000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kNoAnswer, true, 0, "", 0, 180000, 179900));
  EXPECT_EQ(h.counter("calls.ring_timeouts"), 1u);
}

TEST(BasicOutcomes, RingTimeoutIsConfigurable) {
  TrackerConfig cfg;
  cfg.ring_timeout_ms = 30000;
  Harness h(cfg);
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed(inv);
  h.advanceTo(at(32000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kNoAnswer, true, 0, "", 0, 30000, 0));
}

TEST(BasicOutcomes, IncompleteAtFinish) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "tb")});
  h.finish(at(10000));
  ASSERT_EQ(h.records.size(), 1u);
  // ended_at: the last message seen for the number (the 180).
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kIncomplete, false, 0, "", 0, 100, 0));
  EXPECT_EQ(h.tracker().openCalls(), 0u);
}

TEST(BasicOutcomes, FinishAfterTheRingTimeoutIsNoAnswer) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed(inv);
  h.finish(at(181000));  // timeout passed, grace not over: decided at finish, still no_answer
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kNoAnswer, true, 0, "", 0, 180000, 0));
}

TEST(BasicOutcomes, MinRingTimeForCancelled) {
  TrackerConfig cfg;
  cfg.min_ring_ms_cancelled = 5000;
  Harness h(cfg);
  const SipEvent short_inv = invite(at(0), "call-1", "ft1", "z9hG4bK-s", 1, kB, kB);
  const SipEvent long_inv = invite(at(0), "call-2", "ft2", "z9hG4bK-l", 1, kC, kC);
  h.feed({short_inv, long_inv, response(at(100), 180, short_inv, "tb"),
          response(at(100), 180, long_inv, "tc"), cancel(at(3100), short_inv),
          response(at(3110), 487, short_inv, "tb"), cancel(at(8100), long_inv),
          response(at(8110), 487, long_inv, "tc")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  // Rang 3 s < 5 s: cancelled but not missed; rang 8 s: missed.
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kCancelled, false, 487, "Request Terminated",
                                         0, 3100, 3000, "call-1"));
  EXPECT_EQ(h.records[1], expectedRecord(kC, Outcome::kCancelled, true, 487, "Request Terminated",
                                         0, 8100, 8000, "call-2"));
}

TEST(BasicOutcomes, OkCrossingTheCancelIsAnswered) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-a", 1, kB, kB);
  const SipEvent can = cancel(at(5000), inv);
  h.feed({inv, response(at(100), 180, inv, "tb"), can, response(at(5001), 200, inv, "tb"),
          response(at(5002), 200, can, "tb"),
          inDialog(at(5010), Method::kAck, inv, "tb", 1, "z9hG4bK-ack"),
          inDialog(at(5020), Method::kBye, inv, "tb", 2, "z9hG4bK-bye")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 5001, 4901));
}

TEST(BasicOutcomes, MissedOutcomesAreConfigurable) {
  TrackerConfig cfg;
  cfg.missed[static_cast<size_t>(Outcome::kDeclined)] = true;
  cfg.missed[static_cast<size_t>(Outcome::kBusy)] = false;
  Harness h(cfg);
  const SipEvent a = invite(at(0), "call-1", "ft1", "z9hG4bK-1", 1, kB, kB);
  const SipEvent b = invite(at(1), "call-2", "ft2", "z9hG4bK-2", 1, kC, kC);
  h.feed({a, b, response(at(50), 603, a, "x"), response(at(60), 486, b, "y")});
  h.finish(at(10000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kDeclined, true, 603, "Decline", 0, 50, 0, "call-1"));
  EXPECT_EQ(h.records[1],
            expectedRecord(kC, Outcome::kBusy, false, 486, "Busy Here", 1, 60, 0, "call-2"));
}

}  // namespace
}  // namespace mcn::calls::testing
