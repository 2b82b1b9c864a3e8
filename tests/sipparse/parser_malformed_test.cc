// Malformed SIP is a counted drop: never an exception, never a crash, and exactly one drop
// counter moves per refused message. The expected counter for each input follows from the
// policy in sipparse/README.md.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "mcn/sipparse/parser.h"
#include "sip_test_util.h"

namespace mcn::sipparse {
namespace {

using test_util::counter;
using test_util::crlf;
using test_util::drops;
using test_util::imsConfig;
using test_util::payloadOf;

const char* const kGood =
    "INVITE sip:1013@ims.example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-m1\n"
    "From: <sip:+8613900101230@ims.example.com>;tag=m1\n"
    "To: <sip:1013@ims.example.com>\n"
    "Call-ID: malformed-1@192.0.2.40\n"
    "CSeq: 1 INVITE\n";

// kGood without its request line
std::string goodHeaders() {
  const std::string g(kGood);
  return g.substr(g.find('\n') + 1);
}

// Parses `bytes`, expects a drop counted under `name` and no other counter movement.
void expectDrop(const std::string& bytes, const char* name) {
  SipParser parser(imsConfig());
  EXPECT_FALSE(parser.parse(payloadOf(bytes)).has_value());
  EXPECT_EQ(counter(parser, name), 1u) << name;
  EXPECT_EQ(drops(parser), 1u);
  EXPECT_EQ(counter(parser, "sip.parsed"), 0u);
}

TEST(SipParserMalformed, TheGoodBaselineParses) {
  SipParser parser(imsConfig());
  EXPECT_TRUE(
      parser.parse(payloadOf(crlf(std::string(kGood) + "Content-Length: 0\n\n"))).has_value());
  EXPECT_EQ(drops(parser), 0u);
}

TEST(SipParserMalformed, EmptyAndCrlfKeepalivesAreNotMessages) {
  expectDrop("", "sip.keepalive");
  expectDrop("\r\n\r\n", "sip.keepalive");  // RFC 5626 ping
  expectDrop("\r\n", "sip.keepalive");      // pong
}

TEST(SipParserMalformed, BinaryGarbage) {
  std::string junk;
  uint32_t x = 12345;
  for (int i = 0; i < 1500; ++i) {
    x = x * 1103515245u + 12345u;  // fixed LCG: the same bytes every run, NULs included
    junk.push_back(static_cast<char>(x >> 24));
  }
  expectDrop(junk, "sip.malformed");
  expectDrop(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
             "sip.malformed");  // TLS
  // not SIP/2.0 (RFC 3261 §7.1), even with SIP headers
  expectDrop(crlf("HTTP/1.1 200 OK\n" + goodHeaders() + "\n"), "sip.malformed");
  expectDrop(crlf("INVITE sip:1013@ims.example.com SIP/3.0\n" + goodHeaders() + "\n"),
             "sip.malformed");
}

TEST(SipParserMalformed, StartLineOnly) {
  expectDrop("INVITE sip:1013@ims.example.com SIP/2.0\r\n", "sip.truncated");  // no empty line
  expectDrop("INVITE sip:1013@ims.example.com SIP/2.0\r\n\r\n", "sip.missing_call_id");
  expectDrop("SIP/2.0 180 Ringing\r\n\r\n", "sip.missing_call_id");
}

TEST(SipParserMalformed, BadStartLines) {
  expectDrop(crlf("INVITE\n\n"), "sip.malformed");
  expectDrop(crlf(std::string("SIP/2.0 4x6 Busy Here\n") + goodHeaders() + "\n"), "sip.malformed");
  expectDrop(crlf(std::string("SIP/2.0 700 Beyond\n") + goodHeaders() + "\n"), "sip.malformed");
}

TEST(SipParserMalformed, MissingEssentialHeaders) {
  const std::string good(kGood);
  auto without = [&](const std::string& line) {
    std::string m = good;
    m.erase(m.find(line), line.size());
    return crlf(m + "\n");
  };
  expectDrop(without("Call-ID: malformed-1@192.0.2.40\n"), "sip.missing_call_id");
  expectDrop(without("CSeq: 1 INVITE\n"), "sip.missing_cseq");
  expectDrop(without("From: <sip:+8613900101230@ims.example.com>;tag=m1\n"), "sip.missing_from_to");
  expectDrop(without("To: <sip:1013@ims.example.com>\n"), "sip.missing_from_to");
}

TEST(SipParserMalformed, UnparsableEssentialHeadersAreMalformed) {
  auto replaced = [](const std::string& from, const std::string& to) {
    std::string m(kGood);
    m.replace(m.find(from), from.size(), to);
    return crlf(m + "\n");
  };
  expectDrop(replaced("CSeq: 1 INVITE", "CSeq: abc INVITE"), "sip.malformed");
  expectDrop(replaced("CSeq: 1 INVITE", "CSeq: 99999999999 INVITE"), "sip.malformed");
  expectDrop(replaced("To: <sip:1013@ims.example.com>", "To: <sip:1013@ims.example.com"),
             "sip.malformed");
  // two different From headers: which caller? refuse rather than guess
  expectDrop(crlf(std::string(kGood) + "From: <sip:+8613900109999@ims.example.com>;tag=m2\n\n"),
             "sip.malformed");
  // two Content-Length values cannot both frame the body
  expectDrop(crlf(std::string(kGood) + "Content-Length: 0\nContent-Length: 5\n\n"),
             "sip.malformed");
}

TEST(SipParserMalformed, TruncatedMessages) {
  const std::string full = crlf(std::string(kGood) + "Content-Type: application/sdp\n");
  // cut in the middle of a header line, with no empty line
  expectDrop(full.substr(0, full.find("Call-ID") + 4), "sip.truncated");
  expectDrop(full.substr(0, full.find("CSeq: 1 IN") + 10), "sip.truncated");
  // Content-Length promises more body than arrived (RFC 3261 §18.3)
  expectDrop(full + "Content-Length: 100\r\n\r\nv=0\r\n", "sip.truncated");
}

// kGood's request line, then `vias` Via header fields, then kGood's From..CSeq (4 fields).
std::string withViaLines(int vias) {
  std::string m = "INVITE sip:1013@ims.example.com SIP/2.0\n";
  for (int i = 0; i < vias; ++i)
    m += "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-" + std::to_string(i) + "\n";
  m += std::string(kGood).substr(std::string(kGood).find("From:"));
  return crlf(m + "\n");
}

// sofia's cost per header field grows with the fields already seen (quadratic), so more than
// 256 fields is refused before sofia runs (sipparse/README.md).
TEST(SipParserMalformed, MoreThan256HeaderFieldsAreRefused) {
  SipParser parser(imsConfig());
  // 252 Via + From, To, Call-ID, CSeq = 256 fields: still parsed
  const auto ev = parser.parse(payloadOf(withViaLines(252)));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->via_count, 252);
  EXPECT_EQ(ev->via_branch, "z9hG4bK-0");
  // one field more, and the 1,000-Via message well within the 64 KB bound
  EXPECT_FALSE(parser.parse(payloadOf(withViaLines(253))).has_value());
  EXPECT_FALSE(parser.parse(payloadOf(withViaLines(1000))).has_value());
  EXPECT_EQ(counter(parser, "sip.too_many_headers"), 2u);
  EXPECT_EQ(counter(parser, "sip.parsed"), 1u);
  EXPECT_EQ(drops(parser), 2u);
}

TEST(SipParserMalformed, FoldedLinesAndCommaListsAreNotExtraFields) {
  // 1,000 Via values in one header field (RFC 3261 §7.3.1 comma list), and one header folded
  // over 300 continuation lines: 5 + 1 fields in all
  std::string m = "INVITE sip:1013@ims.example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=b0";
  for (int i = 1; i < 1000; ++i) m += ", SIP/2.0/UDP 192.0.2.1;branch=b" + std::to_string(i);
  m += "\nX-Folded: a";
  for (int i = 0; i < 300; ++i) m += "\n b";
  m += "\n" + std::string(kGood).substr(std::string(kGood).find("From:"));
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(crlf(m + "\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->via_count, 1000);
  EXPECT_EQ(ev->via_branch, "b0");
  EXPECT_EQ(counter(parser, "sip.too_many_headers"), 0u);
}

TEST(SipParserMalformed, OversizedMessagesAreRefusedBeforeParsing) {
  std::string m(kGood);
  while (m.size() <= 70000) m += "X-Filler: 0123456789012345678901234567890123456789\n";
  expectDrop(crlf(m + "\n"), "sip.too_large");
}

TEST(SipParserMalformed, BadOptionalHeadersKeepTheMessage) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(
      payloadOf(crlf(std::string(kGood) + "P-Asserted-Identity: bad<<\n"
                                          "Reason: ;;\n"
                                          "Diversion: <sip:1020@ims.example.com;reason=no-answer\n"
                                          "History-Info: <>;index=1\n"
                                          "P-Called-Party-ID: \"unterminated <sip:1013@x>\n"
                                          "Contact: <<<garbage\n"
                                          "Broken header line without colon\n"
                                          "\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->call_id, "malformed-1@192.0.2.40");
  EXPECT_TRUE(ev->pai.empty());
  EXPECT_TRUE(ev->reasons.empty());
  EXPECT_TRUE(ev->diversion.empty());
  EXPECT_TRUE(ev->history_info.empty());
  EXPECT_FALSE(ev->p_called_party_id.has_value());
  EXPECT_EQ(counter(parser, "sip.bad_header"), 1u);  // once per message, not per header
  EXPECT_EQ(counter(parser, "sip.parsed"), 1u);
}

TEST(SipParserMalformed, ListsAreBounded) {
  std::string m(kGood);
  for (int i = 0; i < 40; ++i)
    m += "P-Asserted-Identity: <sip:+86139001012" + std::to_string(10 + i) + "@ims>\n";
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(crlf(m + "\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->pai.size(), 32u);
  EXPECT_EQ(ev->pai[31].number, "+8613900101241");
  EXPECT_EQ(counter(parser, "sip.list_truncated"), 1u);
}

TEST(SipParserMalformed, OneParserSurvivesAMixedStream) {
  SipParser parser(imsConfig());
  const std::string good = crlf(std::string(kGood) + "\n");
  for (int round = 0; round < 3; ++round) {
    EXPECT_TRUE(parser.parse(payloadOf(good)).has_value());
    EXPECT_FALSE(parser.parse(payloadOf(good.substr(0, good.size() / 2))).has_value());
    EXPECT_FALSE(parser.parse(payloadOf(std::string(4, '\0'))).has_value());
  }
  EXPECT_EQ(counter(parser, "sip.parsed"), 3u);
  EXPECT_EQ(drops(parser), 6u);
}

}  // namespace
}  // namespace mcn::sipparse
