// SIP that sofia-sip refuses but a person (and tshark, sngrep) can read: the lenient path
// rewrites the head into correct SIP and gives the SipEvent the correct message gives, counted
// in sip.lenient. What stays ambiguous stays a counted drop. Rules: sipparse/README.md
// ("Lenient path").

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "mcn/sipparse/parser.h"
#include "sip_event_text.h"
#include "sip_test_util.h"

namespace mcn::sipparse {
namespace {

using test_util::counter;
using test_util::crlf;
using test_util::drops;
using test_util::eventText;
using test_util::imsConfig;
using test_util::payloadOf;

// The correct INVITE every defect below is compared against: written with "\n", sent with CRLF.
const char* const kGoodInvite =
    "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060 SIP/2.0\n"
    "Via: SIP/2.0/UDP [fe80:0:0:0:21a:a0ff:fe07:32e1]:5060;branch=z9hG4bK-l1\n"
    "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK-l0\n"
    "From: \"Li Wei\" <sip:+8613900101230@[fe80::21a:a0ff:fe07:32e1]>;tag=l1\n"
    "To: <sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060>\n"
    "Call-ID: lenient-1@fe80::21a:a0ff:fe07:3201\n"
    "CSeq: 1 INVITE\n"
    "Contact: <sip:+8613900101230@[fe80:0:0:0:21a:a0ff:fe07:32e1]:5060>\n"
    "P-Asserted-Identity: <sip:+8613900101230@[fe80::21a:a0ff:fe07:32e1]>\n"
    "P-Called-Party-ID: <sip:1013@[fe80::21a:a0ff:fe07:32e0]>\n"
    "Privacy: none\n"
    "Diversion: <sip:1014@[fe80::21a:a0ff:fe07:32e0]>;reason=no-answer;counter=1\n"
    "P-Charging-Vector: icid-value=icid-l1;icid-generated-at=192.0.2.1\n"
    "X-CID: corr-l1\n"
    "Content-Type: application/sdp\n"
    "Content-Length: 3\n"
    "\n"
    "v=0";

// What a correct message gives (through the default parser).
std::string goodEvent(const std::string& bytes) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(bytes));
  EXPECT_TRUE(ev.has_value());
  EXPECT_EQ(counter(parser, "sip.lenient"), 0u) << "the reference message needs no leniency";
  return ev ? eventText(*ev) : "dropped";
}

// `bad` gives the same SipEvent as `good`, counted once in sip.lenient, with the fast path on
// and off.
void expectLenient(const std::string& bad, const std::string& good) {
  const std::string want = goodEvent(good);
  for (const bool fast : {true, false}) {
    ParserConfig cfg = imsConfig();
    cfg.fast_path = fast;
    SipParser parser(cfg);
    const auto ev = parser.parse(payloadOf(bad));
    ASSERT_TRUE(ev.has_value()) << "fast_path=" << fast << "\n" << bad;
    EXPECT_EQ(eventText(*ev), want) << "fast_path=" << fast;
    EXPECT_EQ(counter(parser, "sip.lenient"), 1u);
    EXPECT_EQ(counter(parser, "sip.parsed"), 1u);
    EXPECT_EQ(drops(parser), 0u);
  }
}

// `bad` is dropped under `name` only, and not counted as lenient.
void expectDrop(const std::string& bad, const char* name) {
  for (const bool fast : {true, false}) {
    ParserConfig cfg = imsConfig();
    cfg.fast_path = fast;
    SipParser parser(cfg);
    EXPECT_FALSE(parser.parse(payloadOf(bad)).has_value()) << bad;
    EXPECT_EQ(counter(parser, name), 1u) << name;
    EXPECT_EQ(drops(parser), 1u);
    EXPECT_EQ(counter(parser, "sip.lenient"), 0u);
  }
}

std::string replaced(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// Removes every '[' and ']' (the unbracketed IPv6 style of old test tools and some devices).
std::string unbracketed(std::string s) {
  std::string out;
  for (const char c : s) {
    if (c != '[' && c != ']') out.push_back(c);
  }
  return out;
}

const std::string kGood = crlf(kGoodInvite);

const char* const kGoodRinging =
    "SIP/2.0 180 Ringing\n"
    "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-l1\n"
    "From: <sip:+8613900101230@ims.example.com>;tag=l1\n"
    "To: <sip:1013@ims.example.com>;tag=l2\n"
    "Call-ID: lenient-2@192.0.2.40\n"
    "CSeq: 1 INVITE\n"
    "Content-Length: 0\n"
    "\n";

TEST(SipParserLenient, CorrectMessagesAreNotLenient) {
  SipParser parser(imsConfig());
  ASSERT_TRUE(parser.parse(payloadOf(kGood)).has_value());
  EXPECT_EQ(counter(parser, "sip.lenient"), 0u);
}

TEST(SipParserLenient, UnbracketedIpv6Everywhere) {
  // sip:1013@fe80:0:0:0:21a:a0ff:fe07:32e0:5060 : the whole is no IPv6 address (nine groups),
  // what precedes the last ":5060" is one, so 5060 is the port. fe80::21a:a0ff:fe07:32e1 is an
  // address, and without its last group ("32e1" is no port) it would not be one.
  expectLenient(unbracketed(kGood), kGood);
}

TEST(SipParserLenient, UnbracketedIpv6InOneHeader) {
  // Each header alone (the others bracketed): every one is refused by sofia today.
  expectLenient(replaced(kGood, "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060",
                         "INVITE sip:1013@fe80:0:0:0:21a:a0ff:fe07:32e0:5060"),
                kGood);
  // sofia takes this Via, but reads neither it nor its branch: the top Via would be the second
  expectLenient(replaced(kGood, "UDP [fe80:0:0:0:21a:a0ff:fe07:32e1]:5060",
                         "UDP fe80:0:0:0:21a:a0ff:fe07:32e1:5060"),
                kGood);
  expectLenient(replaced(kGood, "<sip:+8613900101230@[fe80::21a:a0ff:fe07:32e1]>;tag",
                         "<sip:+8613900101230@fe80::21a:a0ff:fe07:32e1>;tag"),
                kGood);
  expectLenient(replaced(kGood, "To: <sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060>",
                         "To: <sip:1013@fe80:0:0:0:21a:a0ff:fe07:32e0:5060>"),
                kGood);
}

TEST(SipParserLenient, FullIpv6WithoutPortAndWithPort) {
  // Eight groups: the last group "32e0" is not a port (the rest would not be an address).
  const std::string good = replaced(kGood, "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060",
                                    "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:3200]");
  expectLenient(replaced(good, "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:3200]",
                         "INVITE sip:1013@fe80:0:0:0:21a:a0ff:fe07:3200"),
                good);
  // An IPv4-mapped address (RFC 4291 §2.5.5.2) with a port.
  const std::string good2 = replaced(kGood, "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060",
                                     "INVITE sip:1013@[::ffff:192.0.2.7]:5060");
  expectLenient(replaced(good2, "INVITE sip:1013@[::ffff:192.0.2.7]:5060",
                         "INVITE sip:1013@::ffff:192.0.2.7:5060"),
                good2);
}

TEST(SipParserLenient, AmbiguousIpv6StaysMalformed) {
  // "2001:db8::1:5060" is an address, and so is "2001:db8::1" with port 5060: no one can tell.
  expectDrop(replaced(kGood, "To: <sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060>",
                      "To: <sip:1013@2001:db8::1:5060>"),
             "sip.malformed");
  // The same for any compressed ("::") address written with a port.
  expectDrop(replaced(kGood, "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060",
                      "INVITE sip:1013@fe80::21a:a0ff:fe07:32e0:5060"),
             "sip.malformed");
  // Not an address at all.
  expectDrop(replaced(kGood, "To: <sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060>",
                      "To: <sip:1013@fe80::21a::32e0:5060>"),
             "sip.malformed");
  // An ambiguous top Via: sofia would silently drop it and take the second as the top one;
  // the message keeps today's reading (the Via not read: sip.bad_header), not a lenient one.
  {
    SipParser parser(imsConfig());
    const auto ev = parser.parse(payloadOf(
        replaced(kGood, "UDP [fe80:0:0:0:21a:a0ff:fe07:32e1]:5060", "UDP 2001:db8::1:5060")));
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(counter(parser, "sip.lenient"), 0u);
    EXPECT_EQ(counter(parser, "sip.bad_header"), 1u);
  }
}

TEST(SipParserLenient, LfOnlyLineEndsWithADefect) {
  // bare LF line ends (sofia reads those itself) and an unbracketed Request-URI host
  expectLenient(replaced(kGoodInvite, "INVITE sip:1013@[fe80:0:0:0:21a:a0ff:fe07:32e0]:5060",
                         "INVITE sip:1013@fe80:0:0:0:21a:a0ff:fe07:32e0:5060"),
                kGood);
}

// Defects sofia reads right by itself: the same event, and no leniency was needed.
TEST(SipParserLenient, WhatSofiaReadsIsNotCountedLenient) {
  const std::string ringing = crlf(kGoodRinging);
  for (const auto& [bad, good] : std::initializer_list<std::pair<std::string, std::string>>{
           {kGoodInvite, kGood},  // LF-only
           {replaced(kGood, ":5060 SIP/2.0", ":5060  SIP/2.0 "), kGood},
           {replaced(kGood, "INVITE sip:", "INVITE  sip:"), kGood},
           {replaced(ringing, "SIP/2.0 180 Ringing", "SIP/2.0  180 Ringing"), ringing},
           {replaced(kGood, "CSeq: 1 INVITE", "CSeq:  1   INVITE"), kGood},
       }) {
    SipParser parser(imsConfig());
    const auto ev = parser.parse(payloadOf(bad));
    ASSERT_TRUE(ev.has_value()) << bad;
    EXPECT_EQ(eventText(*ev), goodEvent(good));
    EXPECT_EQ(counter(parser, "sip.lenient"), 0u);
  }
}

TEST(SipParserLenient, UriRunningIntoTheVersion) {
  expectLenient(replaced(kGood, ":5060 SIP/2.0", ":5060SIP/2.0"), kGood);
}

TEST(SipParserLenient, MissingSpaceInTheStatusLine) {
  const std::string good = crlf(kGoodRinging);
  expectLenient(replaced(good, "SIP/2.0 180 Ringing", "SIP/2.0 180Ringing"), good);
  expectLenient(replaced(good, "SIP/2.0 180 Ringing", "SIP/2.0180 Ringing"), good);
}

// Every start-line form capture's looksLikeSip lets through since issue 14 item 4 (tests/capture/
// looks_like_sip_test.cc) is read here, by sofia itself or by the lenient path: none of them is
// let through only to be dropped as malformed.
TEST(SipParserLenient, EveryStartLineCaptureLetsThroughIsRead) {
  const std::string ringing = crlf(kGoodRinging);
  const std::string no_reason = replaced(ringing, "SIP/2.0 180 Ringing", "SIP/2.0 180 ");
  for (const auto& [bad, good] : std::initializer_list<std::pair<std::string, std::string>>{
           {replaced(kGood, "INVITE sip:", "INVITE\tsip:"), kGood},
           {replaced(kGood, ":5060 SIP/2.0", ":5060\tSIP/2.0"), kGood},
           {replaced(kGood, ":5060 SIP/2.0", ":5060SIP/2.0 "), kGood},
           {replaced(kGood, "INVITE sip:", "INVITE   sip:"), kGood},
           {replaced(ringing, "SIP/2.0 180 Ringing", "SIP/2.0\t180 Ringing"), ringing},
           {replaced(ringing, "SIP/2.0 180 Ringing", "SIP/2.0  180Ringing"), ringing},
           {replaced(ringing, "SIP/2.0 180 Ringing", "SIP/2.0 180"), no_reason},
           {replaced(ringing, "SIP/2.0 180 Ringing", "SIP/2.0180"), no_reason},
       }) {
    for (const bool fast : {true, false}) {
      ParserConfig cfg = imsConfig();
      cfg.fast_path = fast;
      SipParser parser(cfg);
      const auto ev = parser.parse(payloadOf(bad));
      ASSERT_TRUE(ev.has_value()) << "fast_path=" << fast << "\n" << bad;
      EXPECT_EQ(eventText(*ev), goodEvent(good)) << bad;
      EXPECT_EQ(drops(parser), 0u);
    }
  }
}

TEST(SipParserLenient, CseqMethodCaseAndMissingSpace) {
  expectLenient(replaced(kGood, "CSeq: 1 INVITE", "CSeq: 1 invite"), kGood);
  expectLenient(replaced(kGood, "CSeq: 1 INVITE", "CSeq: 1INVITE"), kGood);
  const std::string good = crlf(kGoodRinging);
  expectLenient(replaced(good, "CSeq: 1 INVITE", "CSeq: 1 Invite"), good);
}

TEST(SipParserLenient, ViaWithoutSpaceAfterTheTransport) {
  // sofia drops such a Via without a word: the count and (for the top one) the branch go wrong
  expectLenient(replaced(kGood, "UDP 198.51.100.7;", "UDP198.51.100.7;"), kGood);
  expectLenient(replaced(kGood, "UDP [fe80:0:0:0:21a:a0ff:fe07:32e1]:5060",
                         "UDPfe80:0:0:0:21a:a0ff:fe07:32e1:5060"),
                kGood);
  // "UDPproxy.example": a hostname glued to the transport has no single reading
  SipParser parser(imsConfig());
  const auto ev =
      parser.parse(payloadOf(replaced(kGood, "UDP 198.51.100.7;", "UDPproxy.example;")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->via_count, 1);
  EXPECT_EQ(counter(parser, "sip.lenient"), 0u);
  EXPECT_EQ(counter(parser, "sip.bad_header"), 1u);
}

TEST(SipParserLenient, EveryDefectAtOnce) {
  std::string bad = unbracketed(kGoodInvite);  // and LF-only
  bad = replaced(bad, "INVITE sip:", "INVITE  sip:");
  bad = replaced(bad, "CSeq: 1 INVITE", "CSeq: 1 invite");
  expectLenient(bad, kGood);
}

TEST(SipParserLenient, WhatCannotBeReadStaysDropped) {
  // A CSeq method that names another method even ignoring case (RFC 3261 §8.1.1.5) is not
  // rewritten: the message is read as before (sofia takes "bye" as an extension method).
  {
    SipParser parser(imsConfig());
    const auto ev = parser.parse(payloadOf(replaced(kGood, "CSeq: 1 INVITE", "CSeq: 1 bye")));
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(ev->cseq_method, Method::kOther);
    EXPECT_EQ(counter(parser, "sip.lenient"), 0u);
  }
  // two Call-IDs, two CSeq: which one?
  expectDrop(replaced(kGood, "CSeq: 1 INVITE\r\n", "CSeq: 1 invite\r\nCall-ID: other@x\r\n"),
             "sip.malformed");
  expectDrop(replaced(kGood, "CSeq: 1 INVITE\r\n", "CSeq: 1 invite\r\nCSeq: 2 INVITE\r\n"),
             "sip.malformed");
  // no Call-ID: a defect elsewhere does not make it readable
  expectDrop(replaced(unbracketed(kGood), "Call-ID: lenient-1@fe80::21a:a0ff:fe07:3201\r\n", ""),
             "sip.missing_call_id");
  // a start line that is not SIP/2.0 stays not SIP
  expectDrop(replaced(kGood, "SIP/2.0\r\n", "SIP/3.0\r\n"), "sip.malformed");
  // unreadable CSeq number
  expectDrop(replaced(kGood, "CSeq: 1 INVITE", "CSeq: abc invite"), "sip.malformed");
}

}  // namespace
}  // namespace mcn::sipparse
