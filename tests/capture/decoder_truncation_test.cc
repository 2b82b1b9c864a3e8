// Truncation at every layer and lying length fields: never a crash, never an emission, always one
// named counter saying why.

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "decoder_harness.h"

namespace mcn::capture::test {
namespace {

struct PrefixCase {
  const char* name;
  int link_type;
  Bytes frame;
  // Which counter a frame cut to `n` bytes must raise, derived from the header sizes by hand.
  std::function<std::string(size_t n)> expected;
};

std::vector<PrefixCase> prefixCases() {
  std::vector<PrefixCase> cases;
  cases.push_back({"ethernet+vlan+ipv4+udp", kDltEn10mb,
                   ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, kInvite)), {{0x8100, 5}}),
                   [](size_t n) -> std::string {
                     if (n < 14) return "decode.truncated_ethernet";
                     if (n < 18) return "decode.truncated_vlan";
                     return "decode.truncated_ipv4";
                   }});
  Ipv6 v6;
  v6.next = 0;
  cases.push_back({"sll2+ipv6+hbh+udp", kDltLinuxSll2,
                   sll2(kIpv6Type, ipv6(v6, cat({extHeader(17), udp(5060, 5060, kInvite)}))),
                   [](size_t n) -> std::string {
                     return n < 20 ? "decode.truncated_sll" : "decode.truncated_ipv6";
                   }});
  Ipv4 t;
  t.protocol = 6;
  cases.push_back({"sll+ipv4+tcp", kDltLinuxSll, sll(kIpv4Type, ipv4(t, tcp(5060, 5060, kInvite))),
                   [](size_t n) -> std::string {
                     return n < 16 ? "decode.truncated_sll" : "decode.truncated_ipv4";
                   }});
  cases.push_back({"null+ipv6+udp", kDltNull,
                   loopback(30, false, ipv6({}, udp(5060, 5060, kInvite))),
                   [](size_t n) -> std::string {
                     return n < 4 ? "decode.truncated_loopback" : "decode.truncated_ipv6";
                   }});
  cases.push_back({"raw ipv4+udp", kLinktypeRaw, ipv4({}, udp(5060, 5060, kInvite)),
                   [](size_t) -> std::string { return "decode.truncated_ipv4"; }});
  cases.push_back({"ipv6 linktype", kLinktypeIpv6, ipv6({}, udp(5060, 5060, kRinging)),
                   [](size_t) -> std::string { return "decode.truncated_ipv6"; }});
  return cases;
}

// Every proper prefix of a valid frame, as a file with a lying record would hold it (caplen ==
// wire_len): one truncation counter, nothing emitted, no decode.snapped.
TEST(DecoderTruncation, EveryPrefixOfAValidFrameIsCountedAndDropped) {
  for (const PrefixCase& c : prefixCases()) {
    SCOPED_TRACE(c.name);
    Harness whole;
    ASSERT_TRUE(whole.decode(c.link_type, c.frame)) << "the uncut frame must decode";
    for (size_t n = 0; n < c.frame.size(); ++n) {
      Harness h;
      Bytes cut(c.frame.begin(), c.frame.begin() + static_cast<ptrdiff_t>(n));
      EXPECT_FALSE(h.decode(c.link_type, cut)) << n;
      EXPECT_TRUE(h.out.empty()) << n;
      EXPECT_EQ(h.nonZero(), (Counts{{c.expected(n), 1}})) << "prefix " << n;
    }
  }
}

// The same prefixes cut by a snaplen (wire_len is the full length): also decode.snapped.
TEST(DecoderTruncation, SnappedPrefixesAlsoCountSnapped) {
  for (const PrefixCase& c : prefixCases()) {
    SCOPED_TRACE(c.name);
    for (size_t n = 0; n < c.frame.size(); ++n) {
      Harness h;
      Bytes cut(c.frame.begin(), c.frame.begin() + static_cast<ptrdiff_t>(n));
      EXPECT_FALSE(h.decode(c.link_type, cut, 0, static_cast<uint32_t>(c.frame.size())));
      EXPECT_EQ(h.nonZero(), (Counts{{c.expected(n), 1}, {"decode.snapped", 1}})) << n;
    }
  }
}

TEST(DecoderTruncation, SnappedFrameWithEverythingNeededStillDecodes) {
  // A snaplen that cut only Ethernet trailer bytes loses nothing.
  Harness h;
  Bytes frame = ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, kInvite)));
  ASSERT_TRUE(h.decode(kDltEn10mb, frame, 0, static_cast<uint32_t>(frame.size() + 4)));
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.sip", 1}}));
}

// Cut the transport bytes and rewrite the IP length to match, so the IP layer is consistent and
// the cut shows at the inner layers.
TEST(DecoderTruncation, ConsistentlyCutUdpOverIpv4) {
  Bytes dgram = udp(5060, 5060, kInvite);
  for (size_t k = 0; k < dgram.size(); ++k) {
    Harness h;
    Bytes cut(dgram.begin(), dgram.begin() + static_cast<ptrdiff_t>(k));
    EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, cut))));
    // Under 8 bytes there is no UDP header; after that the UDP length claims more than the IP
    // packet holds.
    std::string want = k < 8 ? "udp.truncated" : "udp.bad_length";
    EXPECT_EQ(h.nonZero(), (Counts{{want, 1}})) << k;
  }
}

TEST(DecoderTruncation, ConsistentlyCutIpv6ExtensionChain) {
  // hop-by-hop (8 bytes) -> destination options (24 bytes) -> UDP
  Ipv6 ip;
  ip.next = 0;
  Bytes chain = cat({extHeader(60), extHeader(17, 2), udp(5060, 5060, kInvite)});
  for (size_t k = 0; k < chain.size(); ++k) {
    Harness h;
    Bytes cut(chain.begin(), chain.begin() + static_cast<ptrdiff_t>(k));
    EXPECT_FALSE(h.decode(kDltLinuxSll, sll(kIpv6Type, ipv6(ip, cut))));
    std::string want = k < 32   ? "decode.truncated_ipv6_ext"
                       : k < 40 ? "udp.truncated"
                                : "udp.bad_length";
    EXPECT_EQ(h.nonZero(), (Counts{{want, 1}})) << k;
  }
}

TEST(DecoderTruncation, ConsistentlyCutTcpWithOptions) {
  // 12 option bytes (MSS, SACK-permitted, NOP, NOP, window scale, NOP): data offset 8 = 32 bytes.
  Bytes opts{0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x01, 0x01, 0x03, 0x03, 0x07, 0x01};
  std::string two = std::string(kInvite) + std::string(kRinging);
  Bytes seg = tcp(5060, 5060, two, opts);
  const size_t first_end = 32 + kInvite.size();
  Ipv4 ip;
  ip.protocol = 6;
  for (size_t k = 0; k <= seg.size(); ++k) {
    Harness h;
    Bytes cut(seg.begin(), seg.begin() + static_cast<ptrdiff_t>(k));
    h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, cut)));
    Counts want;
    size_t emitted = 0;
    if (k < 20) {
      want = {{"tcp.truncated", 1}};
    } else if (k < 32) {
      want = {{"tcp.bad_offset", 1}};
    } else if (k == 32) {
      want = {{"tcp.segments", 1}};  // a bare header, like an ACK
    } else if (k < 32 + 49) {
      // Not even the start line up to its CR (48 bytes + CR): nothing to open a stream on.
      want = {{"tcp.segments", 1}, {"tcp.not_sip", 1}};
    } else if (k < first_end) {
      // The stream is picked up mid-stream and the cut message held for the next segment.
      want = {{"tcp.segments", 1}, {"tcp.streams", 1}, {"tcp.midstream", 1}};
    } else if (k < seg.size()) {
      want = {{"tcp.segments", 1}, {"tcp.streams", 1}, {"tcp.midstream", 1}, {"tcp.sip", 1}};
      emitted = 1;
    } else {
      want = {{"tcp.segments", 1}, {"tcp.streams", 1}, {"tcp.midstream", 1}, {"tcp.sip", 2}};
      emitted = 2;
    }
    EXPECT_EQ(h.nonZero(), want) << k;
    ASSERT_EQ(h.out.size(), emitted) << k;
    if (emitted > 0) {
      EXPECT_EQ(h.out[0].bytes, kInvite);
    }
  }
}

// ---- lying length fields -------------------------------------------------------------------

TEST(DecoderLies, Ipv4TotalLengthLongerThanTheFrame) {
  Harness h;
  Ipv4 ip;
  ip.total_length = 1400;
  Bytes frame = ethernet(kIpv4Type, ipv4(ip, udp(5060, 5060, kInvite)));
  EXPECT_FALSE(h.decode(kDltEn10mb, frame));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.truncated_ipv4", 1}}));
  // The same frame with a wire length that says a snaplen cut it.
  EXPECT_FALSE(h.decode(kDltEn10mb, frame, 0, 1414));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.truncated_ipv4", 2}, {"decode.snapped", 1}}));
}

TEST(DecoderLies, Ipv4TotalLengthShorterThanItsHeader) {
  Harness h;
  Ipv4 ip;
  ip.total_length = 19;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, udp(5060, 5060, kInvite)))));
  Ipv4 opt;
  opt.options = Bytes(8, 1);  // IHL 7 = 28 bytes, but total length 24
  opt.total_length = 24;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(opt, udp(5060, 5060, kInvite)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.bad_ipv4_length", 2}}));
}

TEST(DecoderLies, Ipv4IhlBelowFive) {
  Harness h;
  Ipv4 ip;
  ip.ihl = 4;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, udp(5060, 5060, kInvite)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.bad_ipv4_ihl", 1}}));
}

TEST(DecoderLies, IpVersionNotMatchingTheEtherType) {
  Harness h;
  Ipv4 ip;
  ip.version = 6;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, udp(5060, 5060, kInvite)))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv4({}, udp(5060, 5060, kInvite)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.bad_ip_version", 2}}));
}

TEST(DecoderLies, UdpLengthLongerThanTheIpPayloadOrBelowItsHeader) {
  Harness h;
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, bytesOf(kInvite), 2000)))));
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, bytesOf(kInvite), 7)))));
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6({}, udp(5060, 5060, bytesOf(kInvite), 0)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.bad_length", 3}}));
}

TEST(DecoderLies, Ipv6PayloadLengthLongerThanTheFrame) {
  Harness h;
  Ipv6 ip;
  ip.payload_length = 3000;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, udp(5060, 5060, kInvite)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.truncated_ipv6", 1}}));
}

TEST(DecoderLies, Ipv6ExtensionHeaderLengthPastThePacket) {
  Harness h;
  Ipv6 ip;
  ip.next = 60;
  Bytes ext = extHeader(17);
  ext[1] = 200;  // claims 1608 bytes
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, cat({ext, udp(5060, 5060, kInvite)})))));
  Bytes ah = ahHeader(17);
  ah[1] = 255;
  ip.next = 51;
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, cat({ah, udp(5060, 5060, kRinging)})))));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.truncated_ipv6_ext", 2}}));
}

TEST(DecoderLies, TcpDataOffsetBelowFiveOrPastTheSegment) {
  Harness h;
  Ipv4 ip;
  ip.protocol = 6;
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, tcp(5060, 5060, kInvite, {}, 4)))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, tcp(5060, 5060, "", {}, 15)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.bad_offset", 2}}));
}

}  // namespace
}  // namespace mcn::capture::test
