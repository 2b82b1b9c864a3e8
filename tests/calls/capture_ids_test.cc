// capture_ids (RULES.md "Record fields"): the HEP agents that reported a call's messages, on
// every record of the call, ascending and bounded; absent for calls not seen by HEP.

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls {
namespace {

using namespace testing;

SipEvent from(uint32_t capture_id, SipEvent e) {
  e.capture_id = capture_id;
  return e;
}

// The P-CSCF's agent (2002) sees the caller's leg, the MGCF's (2001) the leg to voicemail: both
// records name both agents, whatever order their packets came in.
TEST(CaptureIds, EveryAgentOfEveryLegOnEveryRecord) {
  Harness h;
  SipEvent up = invite(at(0), "call-x", "ft", "z9hG4bK-up", 1, kB, kB);
  up.icid = "icid-0001";
  SipEvent to_vm = invite(at(6005), "call-y", "b2b-ft", "z9hG4bK-y1", 1, kVM, kB);
  to_vm.icid = "icid-0001";
  to_vm.diversion = {diversion(kB, "user-busy")};
  h.feed({from(2002, up), from(2002, response(at(100), 180, up, "tb")),
          from(2002, up),  // the same INVITE again from the same agent: named once
          from(2002, response(at(6000), 486, up, "tb")), from(2001, to_vm),
          from(2001, response(at(6100), 200, to_vm, "vm"))});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  for (const CallRecord& r : h.records) {
    EXPECT_EQ(r.capture_ids, (std::vector<uint32_t>{2001, 2002})) << r.callee;
  }
}

// A leg seen before its key (its 180 came first, without the icid) joins the call later: the
// agents of both parts are kept.
TEST(CaptureIds, KeptWhenTwoCallsTurnOutToBeOne) {
  Harness h;
  SipEvent up = invite(at(0), "call-x", "ft", "z9hG4bK-up", 1, kB, kB);
  up.icid = "icid-0002";
  SipEvent leg2 = invite(at(10), "call-y", "b2b-ft", "z9hG4bK-y1", 1, kB, kB);
  SipEvent early = response(at(5), 180, leg2, "tb");
  leg2.icid = "icid-0002";
  h.feed({from(7, up), from(9, early), from(5, leg2), from(7, response(at(20), 180, up, "tb")),
          from(5, response(at(3000), 200, leg2, "tb")),
          from(7, response(at(3001), 200, up, "tb"))});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.records[0].legs, 2);
  EXPECT_EQ(h.records[0].capture_ids, (std::vector<uint32_t>{5, 7, 9}));
}

TEST(CaptureIds, AbsentWithoutHepAndBoundedWithIt) {
  Harness h;
  SipEvent wire = invite(at(0), "call-w", "fw", "z9hG4bK-w", 1, kB, kB);
  SipEvent hep = invite(at(1), "call-h", "fh", "z9hG4bK-h", 1, kC, kC);
  std::vector<SipEvent> evs = {wire, response(at(100), 486, wire, "tw")};
  // Twelve agents report the second call (a misconfigured fleet): the first eight seen are kept.
  for (uint32_t id = 12; id >= 1; --id)
    evs.push_back(from(id, id == 12 ? hep : response(at(2 + id), 180, hep, "th")));
  evs.push_back(from(1, response(at(200), 486, hep, "th")));
  h.feed(evs);
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_TRUE(h.records[0].capture_ids.empty());
  EXPECT_EQ(h.records[1].capture_ids, (std::vector<uint32_t>{5, 6, 7, 8, 9, 10, 11, 12}));
}

}  // namespace
}  // namespace mcn::calls
