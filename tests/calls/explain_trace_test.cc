// The tracker's trace hooks (calls/explain.h, what `mcn explain` prints): how a call was
// decided, and the rule steps for cases the real-stack fixtures do not have (eviction, the ring
// timeout, a CANCEL whose Reason says declined, a relayed 2xx).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "call_builder.h"
#include "mcn/calls/explain.h"

namespace mcn::calls::testing {
namespace {

struct Traced {
  std::vector<CallTrace> traces;
  std::vector<std::vector<CallRecord>> asked;  // what `want` saw

  TraceHooks hooks(bool want = true) {
    return {[this, want](const std::vector<CallRecord>& r) {
              asked.push_back(r);
              return want;
            },
            [this](CallTrace&& t) { traces.push_back(std::move(t)); }};
  }
};

// The step of `rule` for the trace's number `n`, or a failed one.
const RuleStep& stepOf(const CallTrace& t, size_t n, int rule) {
  static const RuleStep kMissing{0, Outcome::kIncomplete, false, "(no such step)"};
  for (const RuleStep& s : t.numbers.at(n).steps) {
    if (s.rule == rule) return s;
  }
  ADD_FAILURE() << "no step for rule " << rule;
  return kMissing;
}

TEST(ExplainTrace, DecidedByTheTimerAfterTheGrace) {
  Harness h;
  Traced tr;
  h.tracker().setTraceHooks(tr.hooks());
  const SipEvent inv = invite(at(0), "call-1", "f1", "z9hG4bK-1", 1, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "t1"), response(at(1000), 200, inv, "t1")});
  h.advanceTo(at(10000));
  ASSERT_EQ(tr.traces.size(), 1u);
  const CallTrace& t = tr.traces[0];
  EXPECT_EQ(t.decided_by, DecidedBy::kTimer);
  EXPECT_EQ(t.decided_us, at(1000 + 2000));  // the 200 plus grace_ms
  EXPECT_EQ(t.records, h.records);
  ASSERT_EQ(tr.asked.size(), 1u);
  EXPECT_EQ(tr.asked[0], h.records);
  ASSERT_EQ(t.hops.size(), 1u);
  EXPECT_EQ(t.hops[0].branch_key, hopBranchKey("z9hG4bK-1", 1));
  EXPECT_EQ(t.hops[0].final_status, 200);
  ASSERT_EQ(t.numbers[0].steps.size(), 1u);
  EXPECT_TRUE(t.numbers[0].steps[0].matched);
  EXPECT_EQ(t.numbers[0].steps[0].why,
            "H1 got 200 \"OK\" to its INVITE (not relayed from another number)");
}

TEST(ExplainTrace, NotWantedMeansNoTraceButTheSameRecords) {
  Harness h;
  Traced tr;
  h.tracker().setTraceHooks(tr.hooks(false));
  const SipEvent inv = invite(at(0), "call-1", "f1", "z9hG4bK-1", 1, kB, kB);
  h.feed({inv, response(at(500), 486, inv, "t1")});
  h.finish(at(600));
  EXPECT_TRUE(tr.traces.empty());
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 500, 0));
}

TEST(ExplainTrace, EvictionIsSaid) {
  TrackerConfig cfg;
  cfg.max_calls = 1;
  Harness h(cfg);
  Traced tr;
  h.tracker().setTraceHooks(tr.hooks());
  h.feed(invite(at(0), "call-a", "fa", "z9hG4bK-a", 1, kB, kB));
  h.feed(invite(at(1000), "call-b", "fb", "z9hG4bK-b", 1, kC, kC));
  ASSERT_EQ(tr.traces.size(), 1u);
  const CallTrace& t = tr.traces[0];
  EXPECT_EQ(t.decided_by, DecidedBy::kEvicted);
  EXPECT_STREQ(decidedByName(t.decided_by), "evicted");
  EXPECT_EQ(t.call_ids, std::vector<std::string>{"call-a"});
  EXPECT_EQ(t.records[0].outcome, Outcome::kIncomplete);
  const RuleStep& last = t.numbers[0].steps.back();
  EXPECT_EQ(last.rule, 10);
  EXPECT_NE(last.why.find("H1 never ended"), std::string::npos) << last.why;
  h.finish(at(2000));
  ASSERT_EQ(tr.traces.size(), 2u);
  EXPECT_EQ(tr.traces[1].decided_by, DecidedBy::kEndOfInput);
}

TEST(ExplainTrace, RingTimeoutIsRule6) {
  TrackerConfig cfg;
  cfg.ring_timeout_ms = 30000;
  Harness h(cfg);
  Traced tr;
  h.tracker().setTraceHooks(tr.hooks());
  const SipEvent inv = invite(at(0), "call-1", "f1", "z9hG4bK-1", 1, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "t1")});
  h.advanceTo(at(60000));
  ASSERT_EQ(tr.traces.size(), 1u);
  const CallTrace& t = tr.traces[0];
  EXPECT_EQ(t.records[0].outcome, Outcome::kNoAnswer);
  EXPECT_TRUE(t.hops[0].expired);
  EXPECT_EQ(stepOf(t, 0, 5).why,
            "no final status 486 or 600 (final statuses: H1 none (deadline passed))");
  const RuleStep& s = stepOf(t, 0, 6);
  EXPECT_TRUE(s.matched);
  EXPECT_EQ(s.why,
            "H1 got no final response within calls.ring_timeout_ms (30000 ms) of its INVITE: the "
            "ring timeout");
}

// A proxy CANCELs a branch because another one declined (RFC 3326: Reason SIP;cause=603).
TEST(ExplainTrace, CancelWithDeclinedReasonIsNotTheCallers) {
  Harness h;
  Traced tr;
  h.tracker().setTraceHooks(tr.hooks());
  const SipEvent inv = invite(at(0), "call-1", "f1", "z9hG4bK-1", 2, kB, kB);
  h.feed({inv, response(at(100), 180, inv, "t1"), cancel(at(2000), inv, {sipReason(603)}),
          response(at(2010), 487, inv, "t1")});
  h.finish(at(3000));
  ASSERT_EQ(tr.traces.size(), 1u);
  const CallTrace& t = tr.traces[0];
  EXPECT_EQ(t.records[0].outcome, Outcome::kDeclined);
  EXPECT_EQ(t.hops[0].cancel_reason, "declined");
  EXPECT_EQ(stepOf(t, 0, 4).why, "the CANCEL on H1 carries a Reason saying declined");
  EXPECT_FALSE(stepOf(t, 0, 6).matched);
  EXPECT_EQ(stepOf(t, 0, 7).why, "the CANCEL on H1 carries a Reason saying declined");
  EXPECT_TRUE(stepOf(t, 0, 7).matched);
}

// A B2BUA leg passes back the answer of the number it forwarded to: B's 2xx is relayed, C's is
// the answer; B is forwarded.
TEST(ExplainTrace, RelayedAnswerIsNotRule1) {
  Harness h;
  Traced tr;
  h.tracker().setTraceHooks(tr.hooks());
  SipEvent a = invite(at(0), "call-1", "f1", "z9hG4bK-a", 1, kB, kB);
  a.icid = "icid-1";
  SipEvent c = invite(at(1000), "call-2", "f2", "z9hG4bK-c", 1, kC, kC);
  c.icid = "icid-1";
  c.diversion = {diversion(kB, "no-answer")};
  h.feed({a, response(at(100), 180, a, "ta"), c, response(at(2000), 200, c, "tc"),
          response(at(2001), 200, a, "ta")});
  h.finish(at(9000));
  ASSERT_EQ(tr.traces.size(), 1u);
  const CallTrace& t = tr.traces[0];
  ASSERT_EQ(t.hops.size(), 2u);
  EXPECT_TRUE(t.hops[0].relayed);
  EXPECT_EQ(t.hops[0].relayed_from, 1);
  EXPECT_EQ(t.hops[1].leg, 1);
  ASSERT_EQ(t.numbers.size(), 2u);
  EXPECT_EQ(t.numbers[0].number, kB);
  EXPECT_EQ(stepOf(t, 0, 1).why,
            "the 200 on H1 is relayed: H2 (" + kC +
                ") was reached later and answered no later, H1 only passed that answer back");
  EXPECT_TRUE(stepOf(t, 0, 3).matched);
  EXPECT_EQ(t.records[0].outcome, Outcome::kForwarded);
}

}  // namespace
}  // namespace mcn::calls::testing
