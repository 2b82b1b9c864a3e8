// mcn never alerts about the calls it places itself (issue 19 item 5, RULES.md "Calls mcn
// placed"): an INVITE carrying the origin marker makes the call's records origin "callback",
// never missed, whatever the outcome.

#include <gtest/gtest.h>

#include "call_builder.h"
#include "mcn/calls/record_json.h"

namespace mcn::calls::testing {
namespace {

TEST(OwnCalls, BusyCallBackIsRecordedNotMissed) {
  Harness h;
  SipEvent inv = invite(at(0), "cb-1", "ft", "z9hG4bK-a", 1, kB, kB);
  inv.origin = "callback;id=0123456789abcdef";
  h.feed({inv, response(at(50), 486, inv, "tb"),
          inDialog(at(60), Method::kAck, inv, "tb", 1, inv.via_branch)});
  h.finish(at(10000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].outcome, Outcome::kBusy);
  EXPECT_FALSE(h.records[0].missed);
  EXPECT_EQ(h.records[0].origin, "callback");
  EXPECT_EQ(h.counter("calls.missed"), 0u);
  std::string json = recordToJson(h.records[0]);
  EXPECT_NE(json.find(R"("transport":"udp","origin":"callback"})"), std::string::npos) << json;
}

TEST(OwnCalls, TheSameCallWithoutTheMarkerIsMissedAndHasNoOriginField) {
  Harness h;
  const SipEvent inv = invite(at(0), "cb-1", "ft", "z9hG4bK-a", 1, kB, kB);
  h.feed({inv, response(at(50), 486, inv, "tb"),
          inDialog(at(60), Method::kAck, inv, "tb", 1, inv.via_branch)});
  h.finish(at(10000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_TRUE(h.records[0].missed);
  EXPECT_EQ(h.records[0].origin, "");
  EXPECT_EQ(recordToJson(h.records[0]).find("origin"), std::string::npos);
}

TEST(OwnCalls, OnlyACallbackMarkerCounts) {
  Harness h;
  SipEvent inv = invite(at(0), "cb-1", "ft", "z9hG4bK-a", 1, kB, kB);
  inv.origin = "something-else";
  h.feed({inv, response(at(50), 480, inv, "tb")});
  h.finish(at(10000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_TRUE(h.records[0].missed);
  EXPECT_EQ(h.records[0].origin, "");
}

TEST(OwnCalls, MarkerOnTheSecondHopStillCounts) {
  // The softswitch forwards mcn's INVITE (marker kept): the first hop seen may be either.
  Harness h;
  const SipEvent up = invite(at(0), "cb-1", "ft", "z9hG4bK-up", 1, kB, kB);
  SipEvent down = invite(at(2), "cb-1", "ft", "z9hG4bK-down", 2, kB, kB);
  down.origin = "callback;id=1";
  h.feed({up, down, response(at(2000), 408, down, "tb"), response(at(2001), 408, up, "tb")});
  h.finish(at(10000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].outcome, Outcome::kNoAnswer);
  EXPECT_FALSE(h.records[0].missed);
  EXPECT_EQ(h.records[0].origin, "callback");
}

}  // namespace
}  // namespace mcn::calls::testing
