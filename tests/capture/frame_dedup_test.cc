// Frame dedup: mirror copies of one packet (different VLAN tag, MACs, TTL, checksum, DSCP/ECN,
// tunnel wrapping, microseconds apart) are dropped and counted; SIP retransmissions (identical
// bytes, >= 500 ms apart) and distinct packets are not.

#include "../../capture/src/frame_dedup.h"

#include <gtest/gtest.h>

#include <random>

#include "decoder_harness.h"
#include "encap_builder.h"

namespace mcn::capture::test {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;

DecoderConfig withDedup(int ms = 5) {
  DecoderConfig cfg;
  cfg.dedup_window_ms = ms;
  return cfg;
}

// The IPv4 packet of frame_builder with the fields a router rewrites changed: TTL, TOS, and the
// header checksum recomputed (as the router does).
Bytes routed(Bytes ip, uint8_t ttl, uint8_t tos) {
  ip[1] = tos;
  ip[8] = ttl;
  ip[10] = ip[11] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += static_cast<uint32_t>((ip[i] << 8) | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip[10] = static_cast<uint8_t>(~sum >> 8);
  ip[11] = static_cast<uint8_t>(~sum);
  return ip;
}

Bytes sipV4(uint16_t id = 0) {
  Ipv4 ip;
  ip.id = id;  // Linux sends DF datagrams of unconnected UDP sockets with ID 0
  return ipv4(ip, udp(5060, 5060, kInvite));
}

TEST(FrameDedup, MirrorCopiesAreDroppedWhateverTheHopChanged) {
  Harness h(withDedup());
  Bytes ip = sipV4();
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ip, {{0x8100, 10}}), kT0));
  // Egress copy 37 us later on the routed VLAN: other tag, TTL 63, ECN CE and DSCP EF, checksum.
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv4Type, routed(ip, 63, 0xbb), {{0x8100, 20}}), kT0 + 37));
  // Seen untagged on another port, and through a Linux cooked capture.
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ip), kT0 + 100));
  EXPECT_FALSE(h.decode(kDltLinuxSll, sll(kIpv4Type, ip), kT0 + 200));
  // Copied by a remote SPAN session (ERSPAN II) a millisecond later.
  Gre g;
  g.protocol = 0x88be;
  g.seq = 1;
  Ipv4 outer;
  outer.src = {203, 0, 113, 1};
  outer.protocol = 47;
  EXPECT_FALSE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, ipv4(outer, gre(g, erspan2(1, ethernet(kIpv4Type, ip))))),
      kT0 + 1000));
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.count("decode.duplicate_frames"), 4u);
  EXPECT_EQ(h.count("udp.sip"), 1u);
}

TEST(FrameDedup, RetransmissionsAndDistinctPacketsAreKept) {
  Harness h(withDedup());
  Bytes ip = sipV4();
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ip), kT0));
  // RFC 3261 §17.1.1.2: the first INVITE retransmission comes T1 = 500 ms later, byte for byte
  // the same (IP ID 0 included).
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ip), kT0 + 500'000));
  // Its own mirror copy is a duplicate of the retransmission, not of the original.
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ip), kT0 + 500'040));
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ip), kT0 + 1'500'000));
  // Within the window but a different packet: other IP ID, other source, one byte of payload.
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, sipV4(1)), kT0 + 1'500'010));
  Ipv4 other;
  other.src = {192, 0, 2, 11};
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(other, udp(5060, 5060, kInvite))),
                       kT0 + 1'500'020));
  std::string changed(kInvite);
  changed[changed.size() - 5] = '1';  // "Content-Length: 1" ... still one byte different
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, changed))),
                       kT0 + 1'500'030));
  EXPECT_EQ(h.out.size(), 6u);
  EXPECT_EQ(h.count("decode.duplicate_frames"), 1u);
}

// Registration and keep-alive datagrams are pre-filtered before the digest (they are dropped
// anyway): their mirror copies count as what they are, not as duplicates. A call's packets,
// and fragments of any method, still go through dedup.
TEST(FrameDedup, PrefilteredDatagramsAreCountedBeforeDedup) {
  Harness h(withDedup());
  const std::string options = "OPTIONS sip:pcscf.ims.example SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
  const std::string ok = "SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\n\r\n";
  for (int copy = 0; copy < 2; ++copy) {
    EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, options))),
                          kT0 + copy * 20));
    EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6({}, udp(5060, 5060, ok))),
                          kT0 + 100 + copy * 20));
    EXPECT_EQ(h.decode(kDltEn10mb, ethernet(kIpv4Type, sipV4()), kT0 + 200 + copy * 20),
              copy == 0);
  }
  // A REGISTER in two fragments, each mirrored twice: the copies are dropped by dedup, the
  // reassembled datagram is pre-filtered once.
  const std::string reg = "REGISTER sip:ims.example SIP/2.0\r\nCSeq: 2 REGISTER\r\n\r\n";
  const Bytes whole = udp(5060, 5060, reg);
  Ipv4 first;
  first.id = 77;
  first.df = false;
  first.mf = true;
  Ipv4 second = first;
  second.mf = false;
  second.frag_offset8 = 2;
  const Bytes a = ipv4(first, Bytes(whole.begin(), whole.begin() + 16));
  const Bytes b = ipv4(second, Bytes(whole.begin() + 16, whole.end()));
  for (const Bytes& frag : {a, a, b, b}) {
    EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, frag), kT0 + 300));
  }
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.sip", 6},
                                 {"prefilter.options", 2},
                                 {"prefilter.register", 3},
                                 {"decode.duplicate_frames", 3},
                                 {"ip.fragments", 2},
                                 {"ip.frag_reassembled", 1}}));
}

TEST(FrameDedup, TheWindowIsMeasuredFromTheFirstCopyOnEitherSide) {
  Harness h(withDedup(5));
  Bytes f = ethernet(kIpv4Type, sipV4());
  ASSERT_TRUE(h.decode(kDltEn10mb, f, kT0));
  EXPECT_FALSE(h.decode(kDltEn10mb, f, kT0 + 5000));  // 5 ms: inside
  EXPECT_FALSE(h.decode(kDltEn10mb, f, kT0 - 3000));  // merged captures: a copy stamped earlier
  EXPECT_TRUE(h.decode(kDltEn10mb, f, kT0 + 5001));   // the third copy is 5.001 ms after the first
  EXPECT_EQ(h.count("decode.duplicate_frames"), 2u);
}

TEST(FrameDedup, Ipv6CopiesIgnoreHopLimitTrafficClassAndFlowLabel) {
  Harness h(withDedup());
  Bytes ip = ipv6({}, udp(5060, 5060, kInvite));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ip), kT0));
  Bytes hop = ip;
  hop[0] = 0x6b;  // traffic class
  hop[1] = 0x81;  // flow label
  hop[7] = 63;    // hop limit
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, hop, {{0x8100, 3}}), kT0 + 20));
  Bytes other = ip;
  other[39] = 0x15;  // another destination
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, other), kT0 + 30));
  EXPECT_EQ(h.count("decode.duplicate_frames"), 1u);
}

TEST(FrameDedup, DuplicatedFragmentsAreDroppedBeforeReassembly) {
  Harness h(withDedup());
  Bytes whole = udp(5060, 5060, kInvite);
  Ipv4 a;
  a.df = false;
  a.mf = true;
  Bytes head = ethernet(kIpv4Type, ipv4(a, Bytes(whole.begin(), whole.begin() + 64)));
  Ipv4 b;
  b.df = false;
  b.frag_offset8 = 8;
  Bytes tail = ethernet(kIpv4Type, ipv4(b, Bytes(whole.begin() + 64, whole.end())));
  EXPECT_FALSE(h.decode(kDltEn10mb, head, kT0));
  EXPECT_FALSE(h.decode(kDltEn10mb, head, kT0 + 30));
  EXPECT_TRUE(h.decode(kDltEn10mb, tail, kT0 + 60));
  EXPECT_FALSE(h.decode(kDltEn10mb, tail, kT0 + 90));  // would otherwise start a new datagram
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.nonZero(), (Counts{{"ip.fragments", 2},
                                 {"ip.frag_reassembled", 1},
                                 {"udp.sip", 1},
                                 {"decode.duplicate_frames", 2}}));
}

TEST(FrameDedup, OffByDefaultInTheLibraryAndWithZero) {
  for (DecoderConfig cfg : {DecoderConfig{}, withDedup(0)}) {
    Harness h(cfg);
    Bytes f = ethernet(kIpv4Type, sipV4());
    EXPECT_TRUE(h.decode(kDltEn10mb, f, kT0));
    EXPECT_TRUE(h.decode(kDltEn10mb, f, kT0));
    EXPECT_EQ(h.count("decode.duplicate_frames"), 0u);
  }
}

TEST(FrameDedup, MemoryIsFixedAndAFullTableNeverDropsADistinctPacket) {
  detail::FrameDedup d(5000, 64);  // 64 sets of 4: 256 digests
  const size_t mem = d.memoryBytes();
  std::mt19937_64 rng(7);
  std::vector<uint64_t> digests(100'000);
  for (auto& x : digests) x = rng();
  // 100 000 distinct packets within one window: none is a duplicate, memory does not grow.
  for (size_t i = 0; i < digests.size(); ++i)
    ASSERT_FALSE(d.isDuplicate(digests[i], kT0 + i / 100));
  EXPECT_EQ(d.memoryBytes(), mem);
  // The most recent ones are still remembered.
  EXPECT_TRUE(d.isDuplicate(digests.back(), kT0 + 1000));
}

TEST(FrameDedup, DigestCoversThePayloadAndTheStableHeaderFieldsOnly) {
  Bytes ip = sipV4();
  const uint64_t base = detail::ipv4Digest(ip, 20);
  EXPECT_EQ(detail::ipv4Digest(routed(ip, 1, 0xff), 20), base);
  for (size_t i : {2u, 4u, 6u, 9u, 12u, 16u, 20u, 28u, 40u}) {  // length, id, frag, proto, addrs ..
    Bytes x = ip;
    x[i] ^= 0x01;
    EXPECT_NE(detail::ipv4Digest(x, 20), base) << "byte " << i;
  }
}

}  // namespace
}  // namespace mcn::capture::test
