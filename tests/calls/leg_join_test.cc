// Legs joined without a shared key (calls/RULES.md "Legs joined without a key"): an edge that
// masks the Call-ID towards the phone (Kamailio topoh with mask_callid, an SBC, a B2BUA) and sends
// no P-Charging-Vector makes two Call-IDs of one call; the person must get one record, not two.
// And the bounds: separate calls of the same caller to the same number stay separate.

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

// The caller's leg to the edge (call-a) and the edge's leg to the phone (call-b): no key shared,
// the edge relays each response of the phone upstream a millisecond later.
struct TwoLegs {
  SipEvent up = invite(at(0), "call-a", "ft", "z9hG4bK-a", 1, kB, kB);
  SipEvent down = invite(at(3), "call-b", "edge-ft", "z9hG4bK-b", 1, kB, kB);
};

CallRecord twoLegRecord(Outcome o, bool missed, int status, std::string reason, int64_t ended_ms,
                        int64_t ring_ms) {
  CallRecord r =
      expectedRecord(kB, o, missed, status, std::move(reason), 0, ended_ms, ring_ms, "call-a");
  r.call_ids = {"call-a", "call-b"};
  r.legs = 2;
  return r;
}

TEST(LegJoin, MaskedCallIdAnsweredIsOneRecord) {
  Harness h;
  TwoLegs l;
  h.feed({l.up, response(at(1), 100, l.up), l.down, response(at(100), 180, l.down, "tb"),
          response(at(101), 180, l.up, "tb"), response(at(1500), 200, l.down, "tb"),
          response(at(1501), 200, l.up, "tb"),
          inDialog(at(1502), Method::kAck, l.up, "tb", 1, "z9hG4bK-ack-a"),
          inDialog(at(1503), Method::kAck, l.down, "tb", 1, "z9hG4bK-ack-b")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], twoLegRecord(Outcome::kAnswered, false, 200, "OK", 1500, 1400));
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 1u);
  EXPECT_EQ(h.counter("calls.legs_correlated"), 0u);
  EXPECT_EQ(h.counter("calls.created"), 1u);
}

TEST(LegJoin, MaskedCallIdCancelledIsOneMissedRecord) {
  Harness h;
  TwoLegs l;
  const SipEvent c_up = cancel(at(2500), l.up);
  const SipEvent c_down = cancel(at(2502), l.down);
  h.feed({l.up, l.down, response(at(100), 180, l.down, "tb"), response(at(101), 180, l.up, "tb"),
          c_up, response(at(2501), 200, c_up), c_down, response(at(2503), 200, c_down),
          response(at(2504), 487, l.down, "tb"), response(at(2505), 487, l.up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            twoLegRecord(Outcome::kCancelled, true, 487, "Request Terminated", 2500, 2400));
  EXPECT_EQ(h.counter("calls.missed"), 1u);
}

TEST(LegJoin, MaskedCallIdBusyIsOneRecord) {
  Harness h;
  TwoLegs l;
  h.feed({l.up, l.down, response(at(100), 180, l.down, "tb"), response(at(101), 180, l.up, "tb"),
          response(at(1200), 486, l.down, "tb"), response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], twoLegRecord(Outcome::kBusy, true, 486, "Busy Here", 1200, 1100));
}

// Capture order is not causal: the phone's 100 Trying on the masked leg came before that leg's
// INVITE; the held message joins the call with its INVITE.
TEST(LegJoin, AMessageSeenBeforeItsInviteJoinsWithIt) {
  Harness h;
  TwoLegs l;
  h.feed({l.up, response(at(2), 100, l.down), l.down, response(at(100), 180, l.down, "tb"),
          response(at(101), 180, l.up, "tb"), response(at(1200), 486, l.down, "tb"),
          response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].outcome, Outcome::kBusy);
  EXPECT_EQ(h.records[0].legs, 2);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 1u);
  EXPECT_EQ(h.counter("calls.orphan_messages"), 0u);
}

TEST(LegJoin, SwitchedOffGivesARecordPerCallId) {
  TrackerConfig cfg;
  cfg.leg_join = false;
  Harness h(cfg);
  TwoLegs l;
  h.feed({l.up, l.down, response(at(100), 180, l.down, "tb"), response(at(101), 180, l.up, "tb"),
          response(at(1200), 486, l.down, "tb"), response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

TEST(LegJoin, OutsideTheWindowLegsStaySeparate) {
  TrackerConfig cfg;
  cfg.leg_join_window_ms = 500;
  Harness h(cfg);
  TwoLegs l;
  l.down.ts_us = at(800);  // an edge this slow is not the same call by this rule
  h.feed({l.up, l.down, response(at(900), 180, l.down, "tb"), response(at(901), 180, l.up, "tb"),
          response(at(1200), 486, l.down, "tb"), response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

// Two genuine calls of one caller to one number, 10 s apart: each is its own record (and its own
// alert), whatever happened to the first.
TEST(LegJoin, TwoCallsTenSecondsApartAreNotJoined) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft1", "z9hG4bK-1", 1, kB, kB);
  const SipEvent second = invite(at(10000), "call-2", "ft2", "z9hG4bK-2", 1, kB, kB);
  const SipEvent c1 = cancel(at(9000), first);
  h.feed({first, response(at(100), 180, first, "t1"), c1, response(at(9001), 487, first, "t1"),
          second, response(at(10100), 180, second, "t2"), response(at(12000), 486, second, "t2")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].call_ids, std::vector<std::string>{"call-1"});
  EXPECT_EQ(h.records[0].outcome, Outcome::kCancelled);
  EXPECT_EQ(h.records[1].call_ids, std::vector<std::string>{"call-2"});
  EXPECT_EQ(h.records[1].outcome, Outcome::kBusy);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

// Still open, within the window, but the first call already rang: a redial, not its other side
// (an edge passes the phone's 180 upstream only after sending the INVITE downstream).
TEST(LegJoin, ACallThatAlreadyRangIsNotTheOtherSideOfANewInvite) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft1", "z9hG4bK-1", 1, kB, kB);
  const SipEvent second = invite(at(1500), "call-2", "ft2", "z9hG4bK-2", 1, kB, kB);
  h.feed({first, response(at(100), 180, first, "t1"), second, response(at(1600), 180, second, "t2"),
          response(at(3000), 486, first, "t1"), response(at(3100), 486, second, "t2")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

TEST(LegJoin, AnotherCallerOrAnotherNumberIsNotJoined) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft1", "z9hG4bK-1", 1, kB, kB);
  SipEvent other_caller = invite(at(5), "call-2", "ft2", "z9hG4bK-2", 1, kB, kB);
  other_caller.from = numberAddr("+8613900101299", {}, "ft2");
  const SipEvent other_number = invite(at(6), "call-3", "ft3", "z9hG4bK-3", 1, kC, kC);
  h.feed({first, other_caller, other_number, response(at(1000), 486, first, "t1"),
          response(at(1000), 486, other_caller, "t2"),
          response(at(1000), 486, other_number, "t3")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

// An anonymous From with no asserted identity says nothing about who called: never joined.
TEST(LegJoin, AnonymousCallersAreNotJoined) {
  Harness h;
  SipEvent first = invite(at(0), "call-1", "ft1", "z9hG4bK-1", 1, kB, kB);
  first.from = NameAddr{};
  first.from.display = "Anonymous";
  first.from.user = "anonymous";
  first.from.uri = "sip:anonymous@anonymous.invalid";
  first.from.tag = "ft1";
  SipEvent second = first;
  second.call_id = "call-2";
  second.via_branch = "z9hG4bK-2";
  second.ts_us = at(3);
  h.feed(
      {first, second, response(at(1000), 486, first, "t1"), response(at(1001), 486, second, "t2")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

// The edge removed P-Charging-Vector towards the phone: the caller's leg has an icid, the
// masked leg none. Joined, and the record keeps the icid as its correlation.
TEST(LegJoin, AKeyOnOneSideOnlyStillJoins) {
  Harness h;
  TwoLegs l;
  l.up.icid = "icid-up";
  h.feed({l.up, l.down, response(at(100), 180, l.down, "tb"), response(at(101), 180, l.up, "tb"),
          response(at(1200), 486, l.down, "tb"), response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  CallRecord want = twoLegRecord(Outcome::kBusy, true, 486, "Busy Here", 1200, 1100);
  want.correlation = "icid-up";
  EXPECT_EQ(h.records[0], want);
}

// Two different icids are two calls, whatever their caller, number and timing.
TEST(LegJoin, DifferentCorrelationKeysAreNeverJoined) {
  Harness h;
  TwoLegs l;
  l.up.icid = "icid-1";
  l.down.icid = "icid-2";
  h.feed({l.up, l.down, response(at(100), 180, l.down, "tb"), response(at(101), 180, l.up, "tb"),
          response(at(1200), 486, l.down, "tb"), response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

// The other way round: the call in flight has no key, the new leg has one. Joined.
TEST(LegJoin, AKeyedLegJoinsACallWithoutKey) {
  Harness h;
  TwoLegs l;
  l.down.icid = "icid-down";
  h.feed({l.up, l.down, response(at(100), 180, l.down, "tb"), response(at(101), 180, l.up, "tb"),
          response(at(1200), 486, l.down, "tb"), response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  CallRecord want = twoLegRecord(Outcome::kBusy, true, 486, "Busy Here", 1200, 1100);
  want.correlation = "icid-down";
  EXPECT_EQ(h.records[0], want);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 1u);
}

// A call without a key when its INVITE came gets one from a later message (the proxy's 100
// Trying carries the icid): from then on a leg with another key is another call.
TEST(LegJoin, ACallThatGotItsKeyLaterTakesNoLegWithAnotherKey) {
  Harness h;
  TwoLegs l;
  SipEvent trying = response(at(1), 100, l.up);
  trying.icid = "icid-up";
  l.down.icid = "icid-down";
  h.feed({l.up, trying, l.down, response(at(100), 180, l.down, "tb"),
          response(at(101), 180, l.up, "tb"), response(at(1200), 486, l.down, "tb"),
          response(at(1201), 486, l.up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].legs, 1);
  EXPECT_EQ(h.records[1].legs, 1);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

// The same when the key came by merging with another call (a Call-ID of it carried the key that
// call has): the merged call has a key, so a leg with another key is not joined to it.
TEST(LegJoin, ACallKeyedByAMergeTakesNoLegWithAnotherKey) {
  Harness h;
  TwoLegs l;
  // another leg of the caller's call, to another number, that has the icid first
  SipEvent other = invite(at(1), "call-k", "fk", "z9hG4bK-k", 1, kC, kC);
  other.icid = "icid-up";
  // then a message of call-a carries it too: call-a and call-k are one call
  SipEvent trying = response(at(2), 100, l.up);
  trying.icid = "icid-up";
  l.down.icid = "icid-down";
  h.feed({l.up, other, trying, l.down});
  EXPECT_EQ(h.counter("calls.legs_correlated"), 1u);
  h.feed({response(at(100), 180, l.down, "tb"), response(at(101), 180, l.up, "tb"),
          response(at(1200), 486, l.down, "tb"), response(at(1201), 486, l.up, "tb"),
          response(at(1202), 486, other, "tk")});
  h.finish(at(60000));
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
  bool down_alone = false;
  for (const CallRecord& r : h.records) {
    if (r.call_ids == std::vector<std::string>{"call-b"}) down_alone = true;
  }
  EXPECT_TRUE(down_alone);
}

// Calls in flight that share caller and number (a load test, an auto-dialler): of equally near
// candidates the newest takes the unkeyed leg, and a call that was decided is no candidate any
// more, whichever of the calls under that caller and number it was.
TEST(LegJoin, AmongEquallyNearCallsTheNewestTakesTheLeg) {
  TrackerConfig cfg;
  cfg.grace_ms = 100;  // the busy ones are decided (and leave the join index) within the window
  Harness h(cfg);
  std::vector<SipEvent> keyed;
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i);
    SipEvent e = invite(at(0), "keyed-" + n, "k" + n, "z9hG4bK-k" + n, 1, kB, kB);
    e.icid = "icid-" + n;  // different keys: never joined with each other
    keyed.push_back(e);
    h.feed(e);
  }
  // the newest and a middle one end before the unkeyed INVITE comes
  h.feed({response(at(1), 486, keyed[4], "t4"), response(at(1), 486, keyed[2], "t2")});
  h.advanceTo(at(500));
  ASSERT_EQ(h.records.size(), 2u);
  const SipEvent leg = invite(at(600), "unkeyed", "u", "z9hG4bK-u", 1, kB, kB);
  h.feed({leg, response(at(700), 486, leg, "tu")});
  h.finish(at(100000));
  int joined = 0;
  for (const CallRecord& r : h.records) {
    if (r.legs == 2) {
      ++joined;
      EXPECT_EQ(r.call_ids, (std::vector<std::string>{"keyed-3", "unkeyed"}));
    }
  }
  EXPECT_EQ(joined, 1);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 1u);
}

// INVITEs from one caller to one number that nothing answers, 1 ms apart: joined, but a call
// takes at most 16 legs (calls.hops_dropped's bound); the 17th starts a new call.
TEST(LegJoin, AFloodIsBounded) {
  Harness h;
  for (int i = 0; i < 20; ++i) {
    const std::string n = std::to_string(i);
    h.feed(invite(at(i), "flood-" + n, "f" + n, "z9hG4bK-" + n, 1, kB, kB));
  }
  h.finish(at(5000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].legs, 16);
  EXPECT_EQ(h.records[1].legs, 4);
  EXPECT_EQ(h.records[1].call_id, "flood-16");
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 18u);
  EXPECT_EQ(h.counter("calls.created"), 2u);
}

// A B2BUA's recursion: the callee's phone answers 302, the B2BUA calls the new target on a new
// Call-ID with Diversion naming the callee, the new target answers. The callee's outcome is
// forwarded (unconditional: not missed by default), not answered on the caller's leg plus
// redirected on the other.
TEST(LegJoin, B2buaRecursionAfter302IsForwarded) {
  Harness h;
  const SipEvent up = invite(at(0), "call-a", "ft", "z9hG4bK-a", 1, kB, kB);
  const SipEvent to_b = invite(at(4), "call-b", "b2b-1", "z9hG4bK-b", 1, kB, kB);
  SipEvent to_c = invite(at(1010), "call-c", "b2b-2", "z9hG4bK-c", 1, kC, kC);
  to_c.diversion = {diversion(kB, "unconditional")};
  h.feed({up, response(at(1), 100, up), to_b, response(at(1000), 302, to_b, "tb"),
          inDialog(at(1001), Method::kAck, to_b, "tb", 1, "z9hG4bK-b"), to_c,
          response(at(1100), 180, to_c, "tc"), response(at(1101), 180, up, "b2b-up"),
          response(at(3000), 200, to_c, "tc"), response(at(3001), 200, up, "b2b-up")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b =
      expectedRecord(kB, Outcome::kForwarded, false, 302, "unconditional", 0, 1000, 0, "call-a");
  b.forwarded_to = kC;
  b.legs = 3;
  b.call_ids = {"call-a", "call-b", "call-c"};
  EXPECT_EQ(h.records[0], b);
  CallRecord c =
      expectedRecord(kC, Outcome::kAnswered, false, 200, "OK", 1010, 3000, 1900, "call-c");
  c.legs = 3;
  c.call_ids = {"call-a", "call-b", "call-c"};
  EXPECT_EQ(h.records[1], c);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 2u);
}

// The same B2BUA forwarding on busy: the callee's phone rang and was busy, so it is a missed
// call (forwarded, user-busy) even though the forward target answered.
TEST(LegJoin, B2buaForwardOnBusyIsMissedForwarded) {
  Harness h;
  const SipEvent up = invite(at(0), "call-a", "ft", "z9hG4bK-a", 1, kB, kB);
  const SipEvent to_b = invite(at(4), "call-b", "b2b-1", "z9hG4bK-b", 1, kB, kB);
  SipEvent to_c = invite(at(2010), "call-c", "b2b-2", "z9hG4bK-c", 1, kC, kB);
  to_c.diversion = {diversion(kB, "user-busy")};
  h.feed({up, to_b, response(at(100), 180, to_b, "tb"), response(at(101), 180, up, "b2b-up"),
          response(at(2000), 486, to_b, "tb"), to_c, response(at(2500), 200, to_c, "tc"),
          response(at(2501), 200, up, "b2b-up")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].callee, kB);
  EXPECT_EQ(h.records[0].outcome, Outcome::kForwarded);
  EXPECT_TRUE(h.records[0].missed);
  EXPECT_EQ(h.records[0].reason, "user-busy");
  EXPECT_EQ(h.records[0].forwarded_to, kC);
  EXPECT_EQ(h.records[1].callee, kC);
  EXPECT_EQ(h.records[1].outcome, Outcome::kAnswered);
}

// A Diversion leg that comes after the caller's side is final is not a recursion of that call.
TEST(LegJoin, ADiversionLegAfterTheCallEndedIsNotJoined) {
  Harness h;
  const SipEvent up = invite(at(0), "call-a", "ft", "z9hG4bK-a", 1, kB, kB);
  SipEvent later = invite(at(1500), "call-c", "ft2", "z9hG4bK-c", 1, kC, kC);
  later.diversion = {diversion(kB, "user-busy")};
  h.feed({up, response(at(1000), 486, up, "tb"), later, response(at(1600), 486, later, "tc")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.counter("calls.legs_joined_heuristic"), 0u);
}

}  // namespace
}  // namespace mcn::calls::testing
