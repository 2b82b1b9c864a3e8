// Call forwarding: Diversion (RFC 5806) and History-Info (RFC 7044/4458) on a new branch of the
// same Call-ID, or on a new leg joined by P-Charging-Vector icid; the grace period that waits
// for such a late branch.

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

TEST(Forwarding, BusyThenVoicemailOnANewBranchThroughAProxy) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  SipEvent to_vm = invite(at(6005), "call-1", "ft", "z9hG4bK-vm", 2, kVM, kB);
  to_vm.diversion = {diversion(kB, "user-busy")};
  h.feed({up, response(at(1), 100, up), to_b, response(at(100), 180, to_b, "tb"),
          response(at(101), 180, up, "tb"), response(at(6000), 486, to_b, "tb"),
          inDialog(at(6001), Method::kAck, to_b, "tb", 1, to_b.via_branch), to_vm,
          response(at(6100), 200, to_vm, "vm"), response(at(6101), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 486, "user-busy", 0, 6000, 5900);
  b.forwarded_to = kVM;
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1], expectedRecord(kVM, Outcome::kAnswered, false, 200, "OK", 6005, 6100, 0));
  EXPECT_EQ(h.counter("calls.outcome.forwarded"), 1u);
  EXPECT_EQ(h.counter("calls.missed"), 1u);
}

TEST(Forwarding, BusyThenVoicemailOnAB2buaLegJoinedByIcid) {
  Harness h;
  SipEvent up = invite(at(0), "call-x", "ft", "z9hG4bK-up", 1, kB, kB);
  up.icid = "icid-0001";
  SipEvent to_b = invite(at(2), "call-x", "ft", "z9hG4bK-b", 2, kB, kB);
  to_b.icid = "icid-0001";
  // The application server starts a new leg to voicemail: new Call-ID, new From tag, same icid.
  SipEvent to_vm = invite(at(6005), "call-y", "b2b-ft", "z9hG4bK-y1", 1, kVM, kB);
  to_vm.icid = "icid-0001";
  to_vm.diversion = {diversion(kB, "user-busy")};
  h.feed({up, to_b, response(at(100), 180, to_b, "tb"), response(at(101), 180, up, "tb"),
          response(at(6000), 486, to_b, "tb"), to_vm, response(at(6100), 200, to_vm, "vm"),
          response(at(6101), 200, up, "b2b")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b =
      expectedRecord(kB, Outcome::kForwarded, true, 486, "user-busy", 0, 6000, 5900, "call-x");
  b.forwarded_to = kVM;
  b.legs = 2;
  b.call_ids = {"call-x", "call-y"};
  b.correlation = "icid-0001";
  EXPECT_EQ(h.records[0], b);
  CallRecord vm =
      expectedRecord(kVM, Outcome::kAnswered, false, 200, "OK", 6005, 6100, 0, "call-y");
  vm.legs = 2;
  vm.call_ids = {"call-x", "call-y"};  // every leg, the first one first, on every record
  vm.correlation = "icid-0001";
  EXPECT_EQ(h.records[1], vm);
  EXPECT_EQ(h.counter("calls.legs_correlated"), 1u);
  EXPECT_EQ(h.counter("calls.created"), 1u);
}

// call_ids lists the legs in the order their INVITEs were seen, not the order the tracker met
// their Call-IDs: here the voicemail leg's 100 Trying (capture order is not causal) came first.
TEST(Forwarding, CallIdsAreInInviteOrderWhateverMessageCameFirst) {
  Harness h;
  SipEvent a = invite(at(10), "call-x", "ft", "z9hG4bK-a", 1, kB, kB);
  a.icid = "icid-0002";
  SipEvent b = invite(at(5000), "call-y", "ft2", "z9hG4bK-y", 1, kVM, kB);
  b.icid = "icid-0002";
  b.diversion = {diversion(kB, "no-answer")};
  SipEvent early_trying = response(at(0), 100, b);
  h.feed({early_trying, a, response(at(100), 180, a, "tb"), cancel(at(4990), a, {sipReason(480)}),
          response(at(4995), 487, a, "tb"), b, response(at(5100), 200, b, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  for (const CallRecord& r : h.records) {
    EXPECT_EQ(r.call_ids, (std::vector<std::string>{"call-x", "call-y"})) << r.callee;
    EXPECT_EQ(r.legs, 2);
  }
  EXPECT_EQ(h.records[0].call_id, "call-x");
  EXPECT_EQ(h.records[1].call_id, "call-y");
}

TEST(Forwarding, LegJoinedByConfiguredCorrelationHeader) {
  Harness h;
  SipEvent a = invite(at(0), "call-x", "ft", "z9hG4bK-a", 1, kB, kB);
  a.correlation = "X-CID-77";
  SipEvent b = invite(at(5000), "call-y", "ft2", "z9hG4bK-y", 1, kVM, kB);
  b.correlation = "X-CID-77";
  b.diversion = {diversion(kB, "no-answer")};
  h.feed({a, response(at(100), 180, a, "tb"), cancel(at(4990), a, {sipReason(480)}),
          response(at(4995), 487, a, "tb"), b, response(at(5100), 200, b, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  // status and ended_at: B's own final response (the 487 after the no-answer CANCEL).
  CallRecord rb =
      expectedRecord(kB, Outcome::kForwarded, true, 487, "no-answer", 0, 4995, 4895, "call-x");
  rb.forwarded_to = kVM;
  rb.legs = 2;
  rb.call_ids = {"call-x", "call-y"};
  rb.correlation = "X-CID-77";
  EXPECT_EQ(h.records[0], rb);
  EXPECT_EQ(h.records[1].callee, kVM);
  EXPECT_EQ(h.records[1].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.records[1].legs, 2);
  EXPECT_EQ(h.records[1].call_ids, (std::vector<std::string>{"call-x", "call-y"}));
}

TEST(Forwarding, HistoryInfoNoAnswerForward) {
  // The proxy's no-answer timer: CANCEL to B, then a branch to voicemail whose History-Info
  // entry 1.1 carries cause=408 (RFC 4458 "no reply") and names entry 1 (B) as its parent.
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  SipEvent to_vm = invite(at(20001), "call-1", "ft", "z9hG4bK-vm", 2, kVM, kB);
  to_vm.history_info = {historyInfo(kB, "1"), historyInfo(kVM, "1.1", 408)};
  h.feed({up, to_b, response(at(100), 180, to_b, "tb"), response(at(101), 180, up, "tb"),
          cancel(at(20000), to_b), to_vm, response(at(20010), 487, to_b, "tb"),
          response(at(25000), 200, to_vm, "vm"), response(at(25001), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 487, "no-answer", 0, 20010, 19910);
  b.forwarded_to = kVM;
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1],
            expectedRecord(kVM, Outcome::kAnswered, false, 200, "OK", 20001, 25000, 0));
}

TEST(Forwarding, HistoryInfoCauseMapsPerRfc4458) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  SipEvent to_c = invite(at(3), "call-1", "ft", "z9hG4bK-c", 2, kC, kB);
  // B's contact is entry 1.1 (no cause); the retarget to C is 1.2 with cause 480, "deflection
  // immediate response".
  to_c.history_info = {historyInfo(kB, "1"), historyInfo(kB, "1.1"), historyInfo(kC, "1.2", 480)};
  h.feed({up, to_c, response(at(3000), 200, to_c, "tc"), response(at(3001), 200, up, "tc")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 0, "deflection", 0, 3, 0);
  b.forwarded_to = kC;
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1], expectedRecord(kC, Outcome::kAnswered, false, 200, "OK", 3, 3000, 0));
}

TEST(Forwarding, UnconditionalForwardIsNotMissedByDefault) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  SipEvent to_vm = invite(at(3), "call-1", "ft", "z9hG4bK-vm", 2, kVM, kB);
  to_vm.diversion = {diversion(kB, "unconditional")};
  h.feed({up, to_vm, response(at(100), 180, to_vm, "vm"), response(at(101), 180, up, "vm"),
          response(at(3000), 200, to_vm, "vm"), response(at(3001), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  // B never rang: ended_at is the forwarding INVITE, status 0.
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, false, 0, "unconditional", 0, 3, 0);
  b.forwarded_to = kVM;
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1], expectedRecord(kVM, Outcome::kAnswered, false, 200, "OK", 3, 3000, 2900));
  EXPECT_EQ(h.counter("calls.missed"), 0u);
}

TEST(Forwarding, UnconditionalForwardMissedWhenConfigured) {
  TrackerConfig cfg;
  cfg.forwarded_unconditional_missed = true;
  Harness h(cfg);
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  SipEvent to_vm = invite(at(3), "call-1", "ft", "z9hG4bK-vm", 2, kVM, kB);
  to_vm.diversion = {diversion(kB, "unconditional")};
  h.feed({up, to_vm, response(at(3000), 200, to_vm, "vm"), response(at(3001), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].outcome, Outcome::kForwarded);
  EXPECT_TRUE(h.records[0].missed);
}

TEST(Forwarding, ChainedDiversionNamesEachHop) {
  // B -> C (user-busy), C -> VM (no-answer): the INVITE to VM carries both, newest first.
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  SipEvent to_vm = invite(at(10), "call-1", "ft", "z9hG4bK-vm", 2, kVM, kB);
  to_vm.diversion = {diversion(kC, "no-answer"), diversion(kB, "user-busy")};
  h.feed({up, to_vm, response(at(500), 200, to_vm, "vm")});
  h.finish(at(60000));
  // C was never a hop target here, so it gets no record; B went on to C.
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 0, "user-busy", 0, 10, 0);
  b.forwarded_to = kC;
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1].callee, kVM);
}

// B's branch is the only hop captured (a SPAN on the terminating side); the forward to VM
// arrives 1.5 s after B's 486, inside the 2 s grace.
TEST(Forwarding, LateForkInsideTheGraceReopensTheCall) {
  Harness h;
  const SipEvent to_b = invite(at(0), "call-1", "ft", "z9hG4bK-b", 3, kB, kB);
  SipEvent to_vm = invite(at(6500), "call-1", "ft", "z9hG4bK-vm", 3, kVM, kB);
  to_vm.diversion = {diversion(kB, "user-busy")};
  h.feed({to_b, response(at(100), 180, to_b, "tb"), response(at(5000), 486, to_b, "tb")});
  h.advanceTo(at(6499));
  EXPECT_TRUE(h.records.empty());
  h.feed(to_vm);
  h.advanceTo(at(7001));  // past 5 s + grace: the new branch keeps the call open
  EXPECT_TRUE(h.records.empty());
  h.feed(response(at(9000), 200, to_vm, "vm"));
  h.advanceTo(at(10999));
  EXPECT_TRUE(h.records.empty());
  h.advanceTo(at(11000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 486, "user-busy", 0, 5000, 4900);
  b.forwarded_to = kVM;
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1], expectedRecord(kVM, Outcome::kAnswered, false, 200, "OK", 6500, 9000, 0));
}

TEST(Forwarding, ForkAfterTheGraceIsLateAndChangesNothing) {
  Harness h;
  const SipEvent to_b = invite(at(0), "call-1", "ft", "z9hG4bK-b", 3, kB, kB);
  SipEvent to_vm = invite(at(7500), "call-1", "ft", "z9hG4bK-vm", 3, kVM, kB);
  to_vm.diversion = {diversion(kB, "user-busy")};
  h.feed({to_b, response(at(100), 180, to_b, "tb"), response(at(5000), 486, to_b, "tb"), to_vm,
          response(at(9000), 200, to_vm, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 5000, 4900));
  EXPECT_EQ(h.counter("calls.late_messages"), 2u);
}

// Issue 13 item 1: the proxy forwards on the same Call-ID to a voicemail server whose
// Request-URI user is no number. To still names the called number (RFC 3261 §8.1.1.2: kept on
// retargeting), so without looking at the Request-URI the voicemail's 200 read as its answer.
NameAddr voicemailUri(const std::string& uri, const std::string& user) {
  NameAddr a;
  a.uri = uri;
  a.user = user;
  return a;
}

TEST(ForwardedToVoicemail, BusyToANonNumericVoicemailUriWithDiversionIsNotAnswered) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  SipEvent to_vm = invite(at(3005), "call-1", "ft", "z9hG4bK-vm", 2, kB, kB);
  to_vm.request_uri = voicemailUri("sip:voicemail@vm.example", "voicemail");
  to_vm.diversion = {diversion(kB, "user-busy")};
  h.feed({up, to_b, response(at(100), 180, to_b, "tb"), response(at(101), 180, up, "tb"),
          response(at(3000), 486, to_b, "tb"), to_vm, response(at(3100), 200, to_vm, "vm"),
          response(at(3101), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 486, "user-busy", 0, 3000, 2900);
  b.forwarded_to = "voicemail";
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1],
            expectedRecord("voicemail", Outcome::kAnswered, false, 200, "OK", 3005, 3100, 0));
  EXPECT_EQ(h.counter("calls.outcome.answered"), 1u);
  EXPECT_EQ(h.counter("calls.missed"), 1u);
}

TEST(ForwardedToVoicemail, NoAnswerToANonNumericVoicemailUriWithHistoryInfo) {
  // The proxy's no-answer timer CANCELs the desk, then forwards with History-Info entry 1.1
  // (the voicemail URI, cause=408: RFC 4458 no reply) whose parent entry 1 is the desk.
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  SipEvent to_vm = invite(at(10002), "call-1", "ft", "z9hG4bK-vm", 2, kB, kB);
  to_vm.request_uri = voicemailUri("sip:voicemail@vm.example", "voicemail");
  Redirection vm_entry;
  vm_entry.target = voicemailUri("sip:voicemail@vm.example;cause=408", "voicemail");
  vm_entry.index = "1.1";
  vm_entry.cause = 408;
  to_vm.history_info = {historyInfo(kB, "1"), vm_entry};
  h.feed({up, to_b, response(at(100), 180, to_b, "tb"), response(at(101), 180, up, "tb"),
          cancel(at(10000), to_b), response(at(10001), 487, to_b, "tb"), to_vm,
          response(at(10100), 200, to_vm, "vm"), response(at(10101), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 487, "no-answer", 0, 10001, 9901);
  b.forwarded_to = "voicemail";
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1].callee, "voicemail");
  EXPECT_EQ(h.records[1].outcome, Outcome::kAnswered);
}

// calls.voicemail: the switch adds no Diversion nor History-Info; the Request-URI alone (what
// the proxy chose) says the voicemail took the call.
TEST(ForwardedToVoicemail, ConfiguredVoicemailUriWithoutAnyHeaderIsForwarded) {
  TrackerConfig cfg;
  cfg.voicemail = {"voicemail@vm.example"};
  Harness h(cfg);
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  SipEvent to_vm = invite(at(3005), "call-1", "ft", "z9hG4bK-vm", 2, kB, kB);
  to_vm.request_uri = voicemailUri("sip:VoiceMail@VM.example:5070;transport=udp", "VoiceMail");
  h.feed({up, to_b, response(at(100), 180, to_b, "tb"), response(at(3000), 486, to_b, "tb"), to_vm,
          response(at(3100), 200, to_vm, "vm"), response(at(3101), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 486, "voicemail", 0, 3000, 2900);
  b.forwarded_to = "VoiceMail";
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1].callee, "VoiceMail");
  EXPECT_EQ(h.records[1].outcome, Outcome::kAnswered);
}

// A configured voicemail number: its reason is `voicemail` whatever Diversion reason the switch
// wrote, even when P-Called-Party-ID on the voicemail hop still names the desk.
TEST(ForwardedToVoicemail, ConfiguredVoicemailNumberOverridesTheDiversionReason) {
  TrackerConfig cfg;
  cfg.voicemail = {kVM};
  Harness h(cfg);
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  const SipEvent to_b = invite(at(2), "call-1", "ft", "z9hG4bK-b", 2, kB, kB);
  SipEvent to_vm = invite(at(3005), "call-1", "ft", "z9hG4bK-vm", 2, kVM, kB);
  to_vm.diversion = {diversion(kB, "user-busy")};
  to_vm.p_called_party_id = numberAddr(kB);
  h.feed({up, to_b, response(at(3000), 486, to_b, "tb"), to_vm,
          response(at(3100), 200, to_vm, "vm"), response(at(3101), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  CallRecord b = expectedRecord(kB, Outcome::kForwarded, true, 486, "voicemail", 0, 3000, 0);
  b.forwarded_to = kVM;
  EXPECT_EQ(h.records[0], b);
  EXPECT_EQ(h.records[1], expectedRecord(kVM, Outcome::kAnswered, false, 200, "OK", 3005, 3100, 0));
}

// Somebody dialling the voicemail to hear their messages: one answered record, nobody forwarded.
TEST(ForwardedToVoicemail, DiallingTheVoicemailItselfIsAnswered) {
  TrackerConfig cfg;
  cfg.voicemail = {"voicemail@vm.example"};
  Harness h(cfg);
  const NameAddr vm = voicemailUri("sip:voicemail@vm.example", "voicemail");
  SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  up.request_uri = vm;
  up.to = vm;
  SipEvent to_vm = invite(at(2), "call-1", "ft", "z9hG4bK-vm", 2, kB, kB);
  to_vm.request_uri = vm;
  to_vm.to = vm;
  h.feed({up, to_vm, response(at(100), 200, to_vm, "vm"), response(at(101), 200, up, "vm")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0],
            expectedRecord("voicemail", Outcome::kAnswered, false, 200, "OK", 0, 100, 0));
}

}  // namespace
}  // namespace mcn::calls::testing
