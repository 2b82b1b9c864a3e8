// Ring/hunt groups (calls.groups) and call pickup (RFC 3891 Replaces): a call a colleague took is
// not missed, and says who took it (forwarded_to).

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

TrackerConfig withGroup(GroupConfig::Notify notify) {
  TrackerConfig cfg;
  GroupConfig g;
  g.number = kPilot;
  g.members = {kB, kC};
  g.notify = notify;
  cfg.groups.push_back(g);
  return cfg;
}

// The caller dials the group number; the proxy forks it to both members (Via count 2).
struct ForkedGroupCall {
  SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kPilot, kPilot);
  SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kPilot);
  SipEvent to_c = invite(at(3), "call-1", "ft", "z9hG4bK-c", 2, kC, kPilot);

  std::vector<SipEvent> ringing() const {
    return {up,
            to_b,
            to_c,
            response(at(100), 180, to_b, "tb"),
            response(at(101), 180, up, "tb"),
            response(at(150), 180, to_c, "tc"),
            response(at(151), 180, up, "tc")};
  }
  // C answers at 5 s; the proxy CANCELs B with Reason cause=200.
  std::vector<SipEvent> cAnswers() const {
    const SipEvent can_b = cancel(at(5002), to_b, {sipReason(200, "Call completed elsewhere")});
    return {response(at(5000), 200, to_c, "tc"), response(at(5001), 200, up, "tc"), can_b,
            response(at(5005), 200, can_b), response(at(5010), 487, to_b, "tb")};
  }
  // The caller hangs up at 8 s; the proxy CANCELs both branches.
  std::vector<SipEvent> callerCancels() const {
    return {cancel(at(8000), up),
            cancel(at(8002), to_b),
            cancel(at(8003), to_c),
            response(at(8010), 487, to_b, "tb"),
            response(at(8011), 487, to_c, "tc"),
            response(at(8012), 487, up, "tb")};
  }
};

// The record of `callee` (records of separate calls come in decision order).
const CallRecord& recordOf(const Harness& h, const std::string& callee) {
  for (const CallRecord& r : h.records) {
    if (r.callee == callee) return r;
  }
  ADD_FAILURE() << "no record for " << callee;
  return h.records.front();
}

CallRecord groupRecord(Outcome o, bool missed, int status, std::string reason, int64_t ended_ms,
                       int64_t ring_ms) {
  return expectedRecord(kPilot, o, missed, status, std::move(reason), 0, ended_ms, ring_ms);
}

TEST(Groups, GroupCallAnsweredByOneMemberIsAnsweredElsewhereForTheOthersNamingWho) {
  Harness h(withGroup(GroupConfig::Notify::kMembers));
  ForkedGroupCall c;
  h.feed(c.ringing());
  h.feed(c.cAnswers());
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 3u);
  // The group number: what the caller saw, someone of the group answered (C's 200).
  CallRecord pilot = groupRecord(Outcome::kAnsweredElsewhere, false, 0, "", 5000, 4899);
  pilot.forwarded_to = kC;
  EXPECT_EQ(h.records[0], pilot);
  CallRecord b = expectedRecord(kB, Outcome::kAnsweredElsewhere, false, 487,
                                "Call completed elsewhere", 2, 5002, 4902);
  b.forwarded_to = kC;
  EXPECT_EQ(h.records[1], b);
  EXPECT_EQ(h.records[2], expectedRecord(kC, Outcome::kAnswered, false, 200, "OK", 3, 5000, 4850));
  EXPECT_EQ(h.counter("calls.missed"), 0u);
}

TEST(Groups, WithoutTheGroupConfiguredTheGroupNumberHasNoRecord) {
  Harness h;
  ForkedGroupCall c;
  h.feed(c.ringing());
  h.feed(c.callerCancels());
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].callee, kB);
  EXPECT_EQ(h.records[1].callee, kC);
  EXPECT_TRUE(h.records[0].missed);
  EXPECT_TRUE(h.records[1].missed);
}

TEST(Groups, NobodyAnsweredNotifyMembersMissesEveryMemberNotTheGroupNumber) {
  Harness h(withGroup(GroupConfig::Notify::kMembers));
  ForkedGroupCall c;
  h.feed(c.ringing());
  h.feed(c.callerCancels());
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.records[0],
            groupRecord(Outcome::kCancelled, false, 487, "Request Terminated", 8000, 7899));
  EXPECT_EQ(h.records[1], expectedRecord(kB, Outcome::kCancelled, true, 487, "Request Terminated",
                                         2, 8002, 7902));
  EXPECT_EQ(h.records[2], expectedRecord(kC, Outcome::kCancelled, true, 487, "Request Terminated",
                                         3, 8003, 7853));
  EXPECT_EQ(h.counter("calls.missed"), 2u);
}

TEST(Groups, NobodyAnsweredNotifyOwnerMissesOnlyTheGroupNumber) {
  Harness h(withGroup(GroupConfig::Notify::kOwner));
  ForkedGroupCall c;
  h.feed(c.ringing());
  h.feed(c.callerCancels());
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.records[0].callee, kPilot);
  EXPECT_EQ(h.records[0].outcome, Outcome::kCancelled);
  EXPECT_TRUE(h.records[0].missed);
  EXPECT_EQ(recordOf(h, kB).outcome, Outcome::kCancelled);
  EXPECT_FALSE(recordOf(h, kB).missed);
  EXPECT_FALSE(recordOf(h, kC).missed);
  EXPECT_EQ(h.counter("calls.missed"), 1u);
}

TEST(Groups, NobodyAnsweredNotifyAllMissesEveryone) {
  Harness h(withGroup(GroupConfig::Notify::kAll));
  ForkedGroupCall c;
  h.feed(c.ringing());
  h.feed(c.callerCancels());
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.counter("calls.missed"), 3u);
}

TEST(Groups, SerialHuntFirstDeskTimesOutNextAnswers) {
  // The proxy rings B for 4 s, CANCELs it (its own timer: no Reason) and rings C, who answers.
  Harness h(withGroup(GroupConfig::Notify::kMembers));
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kPilot, kPilot);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kPilot);
  const SipEvent can_b = cancel(at(4002), to_b);
  const SipEvent to_c = invite(at(4003), "call-1", "ft", "z9hG4bK-c", 2, kC, kPilot);
  h.feed({up, to_b, response(at(100), 180, to_b, "tb"), response(at(101), 180, up, "tb"), can_b,
          response(at(4004), 200, can_b), response(at(4005), 487, to_b, "tb"), to_c,
          response(at(4100), 180, to_c, "tc"), response(at(4101), 180, up, "tc"),
          response(at(7000), 200, to_c, "tc"), response(at(7001), 200, up, "tc")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 3u);
  CallRecord pilot = groupRecord(Outcome::kAnsweredElsewhere, false, 0, "", 7000, 6899);
  pilot.forwarded_to = kC;
  EXPECT_EQ(h.records[0], pilot);
  // B's CANCEL came from the proxy (the caller's hop was answered, not cancelled): not the
  // caller giving up, so C's answer decides.
  CallRecord b = expectedRecord(kB, Outcome::kAnsweredElsewhere, false, 487, "Request Terminated",
                                2, 4002, 3902);
  b.forwarded_to = kC;
  EXPECT_EQ(h.records[1], b);
  EXPECT_EQ(h.records[2],
            expectedRecord(kC, Outcome::kAnswered, false, 200, "OK", 4003, 7000, 2900));
}

TEST(Groups, GroupNumberHuntedOutOfSightKeepsItsMissedRecordWhateverNotifySays) {
  // Only the caller's hop is mirrored (the PBX behind rings the members): nobody else is told.
  Harness h(withGroup(GroupConfig::Notify::kMembers));
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kPilot, kPilot);
  h.feed({up, response(at(100), 180, up, "tp"), cancel(at(6000), up),
          response(at(6010), 487, up, "tp")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            groupRecord(Outcome::kCancelled, true, 487, "Request Terminated", 6000, 5900));
}

// RFC 5359 §2.9: B rings; C picks the call up with an INVITE to the caller carrying
// Replaces: call-1;to-tag=<B's tag>;from-tag=<caller's tag>; the caller accepts it and CANCELs B.
struct PickedUpCall {
  SipEvent to_b = invite(at(0), "call-1", "ft", "z9hG4bK-b", 1, kB, kB);
  SipEvent pick = [] {
    SipEvent e = invite(at(3000), "call-2", "fc", "z9hG4bK-p", 1, kCaller, kCaller);
    e.from = numberAddr(kC, "Colleague", "fc");
    e.replaces = sipparse::ReplacesValue{"call-1", "tb", "ft", true};
    return e;
  }();

  std::vector<SipEvent> events(int pick_status) const {
    std::vector<SipEvent> out = {to_b, response(at(100), 180, to_b, "tb"), pick,
                                 response(at(3050), pick_status, pick, "tp")};
    if (pick_status == 200) {
      const SipEvent can = cancel(at(3100), to_b);
      out.insert(out.end(),
                 {can, response(at(3101), 200, can), response(at(3110), 487, to_b, "tb")});
    } else {
      // The pickup failed (481: the caller did not know the dialog); B rings on until the caller
      // gives up.
      const SipEvent can = cancel(at(9000), to_b);
      out.insert(out.end(),
                 {can, response(at(9001), 200, can), response(at(9010), 487, to_b, "tb")});
    }
    return out;
  }
};

TEST(Pickup, ReplacesAnsweredMakesTheRingingCalleeAnsweredElsewhereNamingThePicker) {
  Harness h;
  PickedUpCall c;
  h.feed(c.events(200));
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kAnsweredElsewhere, false, 487, "Request Terminated",
                                0, 3100, 3000);
  b.forwarded_to = kC;
  EXPECT_EQ(recordOf(h, kB), b);
  // The pickup call itself: C reached the caller (a call of its own, not missed).
  EXPECT_EQ(recordOf(h, kCaller).call_id, "call-2");
  EXPECT_EQ(recordOf(h, kCaller).outcome, Outcome::kAnswered);
  EXPECT_EQ(h.counter("calls.pickups"), 1u);
  EXPECT_EQ(h.counter("calls.pickups_unmatched"), 0u);
  EXPECT_EQ(h.counter("calls.missed"), 0u);
}

TEST(Pickup, AFailedPickupLeavesTheCallMissed) {
  Harness h;
  PickedUpCall c;
  h.feed(c.events(481));
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(recordOf(h, kB), expectedRecord(kB, Outcome::kCancelled, true, 487,
                                            "Request Terminated", 0, 9000, 8900));
  EXPECT_EQ(h.counter("calls.pickups"), 1u);
}

TEST(Pickup, ReplacesNamingAnotherBranchLeavesThisOneAlone) {
  Harness h;
  PickedUpCall c;
  c.pick.replaces->to_tag = "somebody-else";
  h.feed(c.events(200));
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(recordOf(h, kB).outcome, Outcome::kCancelled);
  EXPECT_TRUE(recordOf(h, kB).missed);
}

TEST(Pickup, ReplacesNamingAnUnknownDialogIsCountedAndChangesNothing) {
  Harness h;
  PickedUpCall c;
  c.pick.replaces->call_id = "never-seen";
  h.feed(c.events(200));
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(recordOf(h, kB).outcome, Outcome::kCancelled);
  EXPECT_EQ(h.counter("calls.pickups"), 0u);
  EXPECT_EQ(h.counter("calls.pickups_unmatched"), 1u);
}

TEST(Pickup, PickupAnswerSeenBeforeItsInviteStillCounts) {
  // Two capture points: the 200 to the pickup INVITE is captured before the INVITE itself.
  Harness h;
  PickedUpCall c;
  std::vector<SipEvent> ev = c.events(200);
  std::swap(ev[2], ev[3]);
  h.feed(ev);
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(recordOf(h, kB).outcome, Outcome::kAnsweredElsewhere);
  EXPECT_EQ(recordOf(h, kB).forwarded_to, kC);
}

}  // namespace
}  // namespace mcn::calls::testing
