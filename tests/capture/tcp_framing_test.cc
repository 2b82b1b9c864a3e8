// SIP message framing (RFC 3261 §18.3) of what one TCP segment holds. Each test's segment is the
// first one seen of its stream (no SYN), so the stream is picked up mid-stream (tcp.streams,
// tcp.midstream); reassembly across segments is in tcp_reassembly_test.cc.
//
// Changed with stream reassembly: an incomplete tail is no longer counted at once but held for the
// next segment (counted as tcp.unreassembled only when the stream closes with it still
// incomplete); a segment of an unknown stream with no start line is tcp.not_sip (no stream opened)
// instead of tcp.unreassembled; the Content-Length cases use one stream per message, since five
// segments with the same sequence number on one stream are retransmissions.

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
  EXPECT_EQ(
      h.nonZero(),
      (Counts{{"tcp.segments", 1}, {"tcp.sip", 2}, {"tcp.streams", 1}, {"tcp.midstream", 1}}));
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

// The frame_builder segments carry sequence number 1000 and PSH|ACK; this one is the FIN after
// `len` payload bytes from 1000.
Bytes finAfter(size_t len) {
  Bytes seg = tcp(5060, 5060, "");
  uint32_t seq = 1000 + static_cast<uint32_t>(len);
  for (int i = 0; i < 4; ++i) seg[4 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
  seg[13] = 0x11;  // FIN|ACK
  Ipv4 ip;
  ip.protocol = 6;
  return ethernet(kIpv4Type, ipv4(ip, seg));
}

TEST(TcpFraming, IncompleteTailIsHeldAndCountedWhenTheStreamCloses) {
  Harness h;
  std::string seg = std::string(kInvite) + std::string(kInviteWithBody.substr(0, 100));
  ASSERT_TRUE(h.decode(kDltEn10mb, tcpFrame(seg)));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.count("tcp.unreassembled"), 0u);  // the rest may come in the next segment
  EXPECT_FALSE(h.decode(kDltEn10mb, finAfter(seg.size())));
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 2},
                                 {"tcp.sip", 1},
                                 {"tcp.streams", 1},
                                 {"tcp.midstream", 1},
                                 {"tcp.closed", 1},
                                 {"tcp.unreassembled", 1}}));
}

TEST(TcpFraming, BodyShorterThanContentLengthIsIncomplete) {
  Harness h;
  // Headers complete, 5 of 14 body bytes.
  std::string_view cut = kInviteWithBody.substr(0, kInviteWithBody.size() - 9);
  EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame(cut)));
  EXPECT_FALSE(h.decode(kDltEn10mb, finAfter(cut.size())));
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 2},
                                 {"tcp.streams", 1},
                                 {"tcp.midstream", 1},
                                 {"tcp.closed", 1},
                                 {"tcp.unreassembled", 1}}));
}

TEST(TcpFraming, SegmentNotStartingWithAStartLineIsCounted) {
  Harness h;
  // The continuation of a message split across segments (its body), and TLS on 5061.
  EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame("o=- 1 1\r\ns=-\r\n")));
  EXPECT_FALSE(h.decode(
      kDltEn10mb,
      tcpFrame(std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 40000, 5061)));
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 2}, {"tcp.not_sip", 2}}));
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
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 1},
                                 {"tcp.sip", 2},
                                 {"tcp.no_content_length", 1},
                                 {"tcp.streams", 1},
                                 {"tcp.midstream", 1}}));
}

TEST(TcpFraming, ContentLengthThatIsNotANumber) {
  Harness h;
  uint16_t port = 40000;
  size_t total = 0;
  for (const char* v : {"abc", "", "12x", "-1", "99999999999"}) {
    std::string msg = std::string("INVITE sip:a@b SIP/2.0\r\nContent-Length: ") + v + "\r\n\r\n";
    total += msg.size();
    EXPECT_FALSE(h.decode(kDltEn10mb, tcpFrame(msg, port++))) << v;
  }
  EXPECT_TRUE(h.out.empty());
  // Each unframeable message is dropped whole: 24 + 16 + 4 bytes around each value, 239 in all.
  EXPECT_EQ(total, 239u);
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 5},
                                 {"tcp.bad_content_length", 5},
                                 {"tcp.streams", 5},
                                 {"tcp.midstream", 5},
                                 {"tcp.skipped_bytes", 239}}));
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
