// Forks: one Call-ID, a proxy (Via count 2) branching the caller's INVITE (Via count 1).

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

TEST(Forking, TwoDevicesOfOneNumberAnsweredOnOneIsOneAnsweredRecord) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent dev1 = invite(at(2), "call-1", "ft", "z9hG4bK-d1", 2, kB, kB);
  SipEvent dev2 = invite(at(3), "call-1", "ft", "z9hG4bK-d2", 2, kB, kB);
  dev2.request_uri = contactAddr("ue-b-2");  // a contact without a number: target falls to To
  const SipEvent can2 = cancel(at(4002), dev2, {sipReason(200, "Call completed elsewhere")});
  h.feed({up, response(at(1), 100, up), dev1, dev2, response(at(100), 180, dev1, "d1"),
          response(at(101), 180, up, "d1"), response(at(120), 180, dev2, "d2"),
          response(at(121), 180, up, "d2"), response(at(4000), 200, dev1, "d1"),
          response(at(4001), 200, up, "d1"), can2, response(at(4005), 200, can2),
          response(at(4010), 487, dev2, "d2")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 4000, 3900));
  // The second device's 180 (another To tag) relayed upstream is no retransmission.
  EXPECT_EQ(h.counter("calls.retransmissions"), 0u);
  EXPECT_EQ(h.counter("calls.duplicates"), 0u);
}

TEST(Forking, ParallelRingToTwoNumbersIsAnsweredPlusAnsweredElsewhere) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  const SipEvent to_c = invite(at(3), "call-1", "ft", "z9hG4bK-c", 2, kC, kB);
  const SipEvent can_b = cancel(at(5002), to_b, {sipReason(200, "Call completed elsewhere")});
  h.feed({up, to_b, to_c, response(at(100), 180, to_b, "tb"), response(at(101), 180, up, "tb"),
          response(at(150), 180, to_c, "tc"), response(at(151), 180, up, "tc"),
          response(at(5000), 200, to_c, "tc"), response(at(5001), 200, up, "tc"), can_b,
          response(at(5005), 200, can_b), response(at(5010), 487, to_b, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  // B was first targeted by the caller's INVITE (started 0); the CANCEL ended its ringing.
  CallRecord b = expectedRecord(kB, Outcome::kAnsweredElsewhere, false, 487,
                                "Call completed elsewhere", 0, 5002, 4902);
  b.forwarded_to = kC;  // who answered
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1], expectedRecord(kC, Outcome::kAnswered, false, 200, "OK", 3, 5000, 4850));
  EXPECT_EQ(h.counter("calls.outcome.answered_elsewhere"), 1u);
  EXPECT_EQ(h.counter("calls.outcome.answered"), 1u);
}

TEST(Forking, ParallelRingWithoutReasonHeaderIsStillAnsweredElsewhere) {
  // Older proxies cancel the losing branch without RFC 3326 Reason: C's 2xx decides.
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  const SipEvent to_c = invite(at(3), "call-1", "ft", "z9hG4bK-c", 2, kC, kB);
  h.feed({up, to_b, to_c, response(at(100), 180, to_b, "tb"), response(at(150), 180, to_c, "tc"),
          response(at(5000), 200, to_c, "tc"), response(at(5001), 200, up, "tc"),
          cancel(at(5002), to_b), response(at(5010), 487, to_b, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kAnsweredElsewhere, false, 487, "Request Terminated",
                                0, 5002, 4902);
  b.forwarded_to = kC;  // who answered
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1], expectedRecord(kC, Outcome::kAnswered, false, 200, "OK", 3, 5000, 4850));
}

TEST(Forking, AbandonedForkIsOneCancelledRecord) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent dev1 = invite(at(2), "call-1", "ft", "z9hG4bK-d1", 2, kB, kB);
  const SipEvent dev2 = invite(at(3), "call-1", "ft", "z9hG4bK-d2", 2, kB, kB);
  h.feed({up, dev1, dev2, response(at(100), 180, dev1, "d1"), response(at(101), 180, up, "d1"),
          response(at(130), 180, dev2, "d2"), cancel(at(8000), up), cancel(at(8002), dev1),
          cancel(at(8003), dev2), response(at(8010), 487, dev1, "d1"),
          response(at(8011), 487, dev2, "d2"), response(at(8012), 487, up, "d1")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kCancelled, true, 487, "Request Terminated",
                                         0, 8000, 7900));
  EXPECT_EQ(h.counter("calls.missed"), 1u);
}

TEST(Forking, HuntGroupPilotIsNotAttributed) {
  // The caller dials a pilot number; the proxy rings C and the VM number in parallel.
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kPilot, kPilot);
  const SipEvent to_c = invite(at(2), "call-1", "ft", "z9hG4bK-c", 2, kC, kPilot);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kPilot);
  h.feed({up, to_c, to_b, response(at(200), 180, to_b, "tb"), response(at(3000), 486, to_c, "tc"),
          response(at(9000), 480, to_b, "tb"), response(at(9001), 480, up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kNoAnswer, true, 480,
                                         "Temporarily Unavailable", 2, 9000, 8800));
  EXPECT_EQ(h.records[1], expectedRecord(kC, Outcome::kBusy, true, 486, "Busy Here", 2, 3000, 0));
}

}  // namespace
}  // namespace mcn::calls::testing
