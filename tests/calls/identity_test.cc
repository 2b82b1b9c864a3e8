// Who called whom: P-Asserted-Identity over From (RFC 3325), Privacy (RFC 3323), and
// P-Called-Party-ID over To (RFC 3455).

#include <gtest/gtest.h>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

CallRecord runSingle(const SipEvent& inv) {
  Harness h;
  h.feed({inv, response(at(100), 180, inv, "tb"), response(at(2100), 486, inv, "tb")});
  h.finish(at(60000));
  EXPECT_EQ(h.records.size(), 1u);
  return h.records.empty() ? CallRecord{} : h.records[0];
}

TEST(Identity, WithheldCallerHasNoCallerFields) {
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.from = NameAddr{"Anonymous", "sip:anonymous@anonymous.invalid", "anonymous", "", "ft"};
  inv.pai = {numberAddr(kCaller, "Alice")};  // kept inside the trust domain, but withheld
  inv.privacy = {"id"};
  CallRecord want = expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 2100, 2000);
  want.caller.clear();
  want.caller_withheld = true;
  EXPECT_EQ(runSingle(inv), want);
}

TEST(Identity, PrivacyIdAloneWithholds) {
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.privacy = {"id", "critical"};
  const CallRecord r = runSingle(inv);
  EXPECT_TRUE(r.caller_withheld);
  EXPECT_EQ(r.caller, "");
  EXPECT_EQ(r.caller_name, "");
}

TEST(Identity, AnonymousFromAloneWithholds) {
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.from = NameAddr{"", "sip:anonymous@anonymous.invalid", "anonymous", "", "ft"};
  const CallRecord r = runSingle(inv);
  EXPECT_TRUE(r.caller_withheld);
  EXPECT_EQ(r.caller, "");
}

TEST(Identity, AnonymousInvalidHostInAnyCaseWithholds) {
  // RFC 3323 §4.1.1.3: the anonymous.invalid host is what marks the From; user and display
  // name may be anything (here a "restricted" user and a name) and the host's case is free.
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.from = NameAddr{"Restricted", "sip:restricted@ANONYMOUS.Invalid;transport=udp", "restricted",
                      "", "ft"};
  const CallRecord r = runSingle(inv);
  EXPECT_TRUE(r.caller_withheld);
  EXPECT_EQ(r.caller, "");
}

TEST(Identity, AnonymousInvalidOutsideTheHostDoesNotWithhold) {
  // The words alone, in the user part or a parameter, are not the anonymous host.
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.from = numberAddr(kCaller, "Alice", "ft");
  inv.from.uri = "sip:" + kCaller + "@ims.example.net;user=phone;x=anonymous.invalid";
  const CallRecord r = runSingle(inv);
  EXPECT_FALSE(r.caller_withheld);
  EXPECT_EQ(r.caller, kCaller);
}

TEST(Identity, PrivacyNoneDoesNotWithhold) {
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.privacy = {"none"};
  const CallRecord r = runSingle(inv);
  EXPECT_FALSE(r.caller_withheld);
  EXPECT_EQ(r.caller, kCaller);
}

TEST(Identity, AssertedIdentityPreferredOverFromAndTelPreferred) {
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.from = numberAddr("+8613900109999", "Spoofable", "ft");
  NameAddr tel;
  tel.display = "Alice Tel";
  tel.uri = "tel:+8613900108888";
  tel.user = "+8613900108888";
  tel.number = "+8613900108888";
  inv.pai = {numberAddr("+8613900107777", "Alice Sip"), tel};
  CallRecord want = expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 2100, 2000);
  want.caller = "+8613900108888";
  want.caller_name = "Alice Tel";
  EXPECT_EQ(runSingle(inv), want);
}

TEST(Identity, AssertedIdentityAddedAtALaterHopStillWins) {
  // The UE's INVITE has no PAI; the P-CSCF asserts one on the next hop (RFC 3325 §9.1).
  Harness h;
  SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  up.from = numberAddr("1230", "Desk", "ft");  // short extension as the phone wrote it
  SipEvent down = invite(at(2), "call-1", "ft", "z9hG4bK-dn", 2, kB, kB);
  down.from = up.from;
  down.pai = {numberAddr(kCaller)};
  h.feed({up, down, response(at(3000), 486, down, "tb"), response(at(3001), 486, up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  CallRecord want = expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 3000, 0);
  want.caller_name = "Desk";  // PAI has no display name: From's
  EXPECT_EQ(h.records[0], want);
}

TEST(Identity, FromWithoutNumberGivesTheRawUser) {
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.from = NameAddr{"Bob", "sip:bob@example.org", "bob", "", "ft"};
  const CallRecord r = runSingle(inv);
  EXPECT_EQ(r.caller, "bob");
  EXPECT_EQ(r.caller_name, "Bob");
}

TEST(Identity, CalledPartyIdPreferredOverTo) {
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kPilot, kPilot);
  inv.p_called_party_id = numberAddr(kB);
  EXPECT_EQ(runSingle(inv),
            expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 2100, 2000));
}

TEST(Identity, CalledPartyIdOnTheLastHopMakesTheUpstreamHopAnAggregate) {
  // The caller dialled a pilot; the S-CSCF reaches B's device with P-Called-Party-ID = B.
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kPilot, kPilot);
  SipEvent down = invite(at(2), "call-1", "ft", "z9hG4bK-dn", 2, kPilot, kPilot);
  down.request_uri = contactAddr("ue-b");
  down.p_called_party_id = numberAddr(kB);
  h.feed({up, down, response(at(100), 180, down, "tb"), response(at(101), 180, up, "tb"),
          response(at(4000), 200, down, "tb"), response(at(4001), 200, up, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 2, 4000, 3900));
}

TEST(Identity, ShortDialledRequestUriOnTheFirstHopUsesTo) {
  // The first hop's Request-URI is what the phone dialled; To names the same person.
  SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  inv.request_uri = contactAddr("1013");
  inv.request_uri.number = "+8625830010130";  // a dial plan that reads 1013 differently
  EXPECT_EQ(runSingle(inv).callee, kB);
}

}  // namespace
}  // namespace mcn::calls::testing
