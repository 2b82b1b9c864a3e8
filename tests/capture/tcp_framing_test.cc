// SIP over TCP without stream reassembly: what one segment holds is split into whole messages per
// RFC 3261 §18.3; anything that cannot be framed from the segment alone is counted.

#include <gtest/gtest.h>

#include <string>

#include "decoder_harness.h"

namespace mcn::capture::test {
namespace {

constexpr std::string_view kInviteWithBody =
    "INVITE sip:2001@ims.example.net SIP/2.0\r\n"
    "Call-ID: tcp1@192.0.2.10\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 14\r\n"
    "\r\n"
    "v=0\r\n"
    "o=- 1 1\r\n";  // 5 + 9 = 14 bytes of body

Bytes tcpFrame(std::string_view payload, uint16_t sport = 5060, uint16_t dport = 5060) {
  Ipv4 ip;
  ip.protocol = 6;
  return ethernet(kIpv4Type, ipv4(ip, tcp(sport, dport, payload)));
}

TEST(TcpFraming, TwoMessagesInOneSegment) {
  Harness h;
  std::string seg = std::string(kInviteWithBody) + std::string(kRinging);
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(seg, 5060, 40123)));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kInviteWithBody);  // body included, nothing of the next message
  EXPECT_EQ(h.out[1].bytes, kRinging);         // framed by the compact form "l: 0"
  EXPECT_EQ(h.out[0].transport, Transport::kTcp);
  EXPECT_EQ(h.out[1].dst.toString(), "198.51.100.20:40123");
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 1}, {"tcp.sip", 2}}));
}

TEST(TcpFraming, LeadingCrlfKeepAlivesAreSkipped) {
  Harness h;
  std::string seg = "\r\n\r\n" + std::string(kInvite) + "\r\n\r\n" + std::string(kRinging);
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(seg)));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.out[1].bytes, kRinging);
}

TEST(TcpFraming, PureKeepAliveIsNotAFramingFailure) {
  Harness h;
  EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame("\r\n\r\n")));
  EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame("\r\n")));
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 2}, {"tcp.keepalive", 2}}));
}

TEST(TcpFraming, IncompleteTailIsCounted) {
  Harness h;
  std::string seg = std::string(kInvite) + std::string(kInviteWithBody.substr(0, 100));
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(seg)));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 1}, {"tcp.sip", 1}, {"tcp.unreassembled", 1}}));
}

TEST(TcpFraming, BodyShorterThanContentLengthIsIncomplete) {
  Harness h;
  // Headers complete, 5 of 14 body bytes.
  std::string_view cut = kInviteWithBody.substr(0, kInviteWithBody.size() - 9);
  EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame(cut)));
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 1}, {"tcp.unreassembled", 1}}));
}

TEST(TcpFraming, SegmentNotStartingWithAStartLineIsCounted) {
  Harness h;
  // The continuation of a message split across segments (its body), and TLS on 5061.
  EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame("o=- 1 1\r\ns=-\r\n")));
  EXPECT_FALSE(h.decode(
      kDltEn10mb,
      tcpFrame(std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 40000, 5061)));
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 2}, {"tcp.unreassembled", 2}}));
}

TEST(TcpFraming, HeaderNamesAreCaseInsensitiveAndMayHaveSpaceBeforeTheColon) {
  Harness h;
  // RFC 3261 §7.3.1: field names are case-insensitive, HCOLON allows whitespace before ':'.
  std::string msg =
      "INFO sip:a@b SIP/2.0\r\n"
      "Subject: Content-Length: 99\r\n"  // not the header: the name is Subject
      "CONTENT-length :   5  \r\n"
      "\r\n"
      "hello";
  std::string seg = msg + std::string(kRinging);
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(seg)));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, msg);
  EXPECT_EQ(h.out[1].bytes, kRinging);
}

TEST(TcpFraming, CompactFormUpperCase) {
  Harness h;
  std::string msg = "SIP/2.0 200 OK\r\nL: 2\r\n\r\nab";
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(msg + msg)));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].bytes, msg);
}

TEST(TcpFraming, BareLfLineEndsAreTolerated) {
  Harness h;
  std::string msg = "BYE sip:a@b SIP/2.0\nCall-ID: x\nContent-Length: 3\n\nabc";
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(msg + msg)));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, msg);
}

TEST(TcpFraming, MissingContentLengthEmitsTheHeaders) {
  Harness h;
  std::string no_cl = "BYE sip:a@b SIP/2.0\r\nCall-ID: o1\r\nCSeq: 1 BYE\r\n\r\n";
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(no_cl + std::string(kInvite))));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, no_cl);
  EXPECT_EQ(h.out[1].bytes, kInvite);
  EXPECT_EQ(h.nonZero(),
            (Counts{{"tcp.segments", 1}, {"tcp.sip", 2}, {"tcp.no_content_length", 1}}));
}

TEST(TcpFraming, ContentLengthThatIsNotANumber) {
  Harness h;
  for (const char* v : {"abc", "", "12x", "-1", "99999999999"}) {
    std::string msg = std::string("INVITE sip:a@b SIP/2.0\r\nContent-Length: ") + v + "\r\n\r\n";
    EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame(msg))) << v;
  }
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 5}, {"tcp.bad_content_length", 5}}));
}

TEST(TcpFraming, SipOverTcpOnAnyPortAndOverIpv6) {
  Harness h;
  Ipv6 ip;
  ip.next = 6;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, tcp(39000, 15060, kInvite)))));
  EXPECT_EQ(h.out[0].dst.toString(), "[2001:db8::14]:15060");
  EXPECT_EQ(h.out[0].transport, Transport::kTcp);
}

}  // namespace
}  // namespace mcn::capture::test
