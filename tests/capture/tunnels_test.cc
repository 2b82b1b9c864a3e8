// Encapsulations a SPAN or remote-SPAN port carries: MPLS, PPPoE, GRE (incl. TEB), ERSPAN I/II/III,
// VXLAN, IP-in-IP and IPv6-in-IP, nesting, and SIP over SCTP DATA chunks. Each frame is built by
// hand (encap_builder.h); what must come out is the inner SIP message with the inner addresses.

#include <gtest/gtest.h>

#include "decoder_harness.h"
#include "encap_builder.h"

namespace mcn::capture::test {
namespace {

// The inner packet: UDP SIP from 192.0.2.10 to 198.51.100.20 (frame_builder defaults).
Bytes innerV4(std::string_view msg = kInvite) { return ipv4({}, udp(5060, 5060, msg)); }
Bytes innerV6(std::string_view msg = kInvite) { return ipv6({}, udp(5060, 5060, msg)); }
Bytes innerEth(std::initializer_list<Tag> tags = {}) {
  return ethernet(kIpv4Type, innerV4(), tags);
}

// The outer tunnel packet between 203.0.113.1 and 203.0.113.2.
Bytes outerV4(uint8_t protocol, const Bytes& payload) {
  Ipv4 o;
  o.src = {203, 0, 113, 1};
  o.dst = {203, 0, 113, 2};
  o.protocol = protocol;
  return ipv4(o, payload);
}
Bytes outerV6(uint8_t next, const Bytes& payload) {
  Ipv6 o;
  o.src[15] = 0xf1;
  o.dst[15] = 0xf2;
  o.next = next;
  return ipv6(o, payload);
}

void expectInvite(const Harness& h, size_t n = 1) {
  ASSERT_EQ(h.out.size(), n);
  for (const SipPayload& p : h.out) {
    EXPECT_EQ(p.bytes, kInvite);
    EXPECT_EQ(p.dst.port, 5060);
  }
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[0].dst.toString(), "198.51.100.20:5060");
}

TEST(Tunnels, GreWithChecksumKeyAndSequenceCarryingIpv4AndIpv6) {
  Harness h;
  Gre g;
  g.checksum = true;
  g.key = 42;
  g.seq = 1;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(g, innerV4())))));
  Gre plain;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(plain, innerV4())))));
  Gre v6;
  v6.protocol = 0x86dd;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, outerV6(47, gre(v6, innerV6())))));
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[2].src.toString(), "[2001:db8::a]:5060");
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.gre", 3}, {"udp.sip", 3}}));
}

TEST(Tunnels, GreTransparentEthernetBridgingRecordsInnerVlans) {
  Harness h;
  Gre g;
  g.protocol = 0x6558;
  g.key = 7;
  Bytes frame = ethernet(kIpv4Type, outerV4(47, gre(g, innerEth({{0x8100, 300}}))), {{0x8100, 5}});
  ASSERT_TRUE(h.decode(kDltEn10mb, frame));
  expectInvite(h);
  // The outer tag, then the tag of the bridged frame.
  ASSERT_EQ(h.out[0].vlan_depth, 2);
  EXPECT_EQ(h.out[0].vlan[0], 5);
  EXPECT_EQ(h.out[0].vlan[1], 300);
}

TEST(Tunnels, ErspanTypesOneTwoAndThree) {
  Harness h;
  Gre t1;
  t1.protocol = 0x88be;  // type I: no sequence number, no ERSPAN header
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(t1, innerEth())))));
  Gre t2;
  t2.protocol = 0x88be;
  t2.seq = 99;
  ASSERT_TRUE(h.decode(kDltEn10mb,
                       ethernet(kIpv4Type, outerV4(47, gre(t2, erspan2(100, innerEth(), 42))))));
  Gre t3;
  t3.protocol = 0x22eb;
  t3.seq = 100;
  ASSERT_TRUE(
      h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(t3, erspan3(5, innerEth()))))));
  ASSERT_TRUE(h.decode(kDltEn10mb,
                       ethernet(kIpv4Type, outerV4(47, gre(t3, erspan3(5, innerEth(), true))))));
  // Frame type 2: the mirrored packet without its Ethernet header.
  ASSERT_TRUE(h.decode(kDltEn10mb,
                       ethernet(kIpv4Type, outerV4(47, gre(t3, erspan3(5, innerV4(), false, 2))))));
  expectInvite(h, 5);
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.erspan", 5}, {"udp.sip", 5}}));
}

TEST(Tunnels, ErspanAndGreThatWeDoNotDecodeAreCounted) {
  Harness h;
  Gre t2;
  t2.protocol = 0x88be;
  t2.seq = 1;
  Bytes bad_version = erspan2(1, innerEth());
  bad_version[0] = 0x30;  // version 3
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(t2, bad_version)))));
  Gre t3;
  t3.protocol = 0x22eb;
  EXPECT_FALSE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(t3, erspan3(1, innerEth(), false, 5))))));
  Gre pptp;
  pptp.version = 1;
  pptp.protocol = 0x880b;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(pptp, innerV4())))));
  Gre unknown;
  unknown.protocol = 0x0806;  // ARP over GRE
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(unknown, Bytes(28, 0))))));
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.unsupported", 4}}));
  // Cut headers: GRE with a key flag but no key, ERSPAN II shorter than its header, a type III
  // whose platform subheader is missing.
  Gre k;
  k.key = 1;
  Bytes cut = gre(k, {});
  cut.resize(6);
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, cut))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(t2, Bytes{0x10, 0})))));
  Bytes no_sub = erspan3(1, {}, true);
  no_sub.resize(14);
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(t3, no_sub)))));
  EXPECT_EQ(h.count("tunnel.truncated"), 3u);
}

TEST(Tunnels, VxlanOnTheIanaPortAndOnAConfiguredOne) {
  Harness h;
  ASSERT_TRUE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(49152, 4789, vxlan(5001, innerEth()))))));
  expectInvite(h);
  // 8472 (Linux's old default) is not VXLAN unless configured.
  EXPECT_FALSE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(49152, 8472, vxlan(5001, innerEth()))))));
  // The I flag clear: not VXLAN, decoded as the UDP it is.
  EXPECT_FALSE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(49152, 4789, vxlan(5001, innerEth(), 0))))));
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.vxlan", 1}, {"udp.sip", 1}, {"udp.not_sip", 2}}));

  DecoderConfig cfg;
  cfg.vxlan_ports = {8472};
  Harness h2(cfg);
  EXPECT_TRUE(h2.decode(kDltEn10mb,
                        ethernet(kIpv4Type, outerV4(17, udp(49152, 8472, vxlan(1, innerEth()))))));
  EXPECT_EQ(h2.count("tunnel.vxlan"), 1u);
}

TEST(Tunnels, MplsLabelStackThenIpOrAnEthernetPseudowire) {
  Harness h;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8847, mpls({16, 100}, innerV4()))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8847, mpls({2}, innerV6()))));
  // RFC 4448 pseudowire with the RFC 4385 control word (first nibble 0), and without it.
  ASSERT_TRUE(h.decode(kDltEn10mb,
                       ethernet(0x8847, mpls({17, 200}, cat({Bytes{0, 0, 0, 1}, innerEth()})))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8847, mpls({17, 200}, innerEth()))));
  // Inside a VLAN.
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8847, mpls({3000}, innerV4()), {{0x8100, 9}})));
  ASSERT_EQ(h.out.size(), 5u);
  EXPECT_EQ(h.out[1].src.toString(), "[2001:db8::a]:5060");
  EXPECT_EQ(h.out[4].vlan_depth, 1);
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.mpls", 5}, {"udp.sip", 5}}));
  // No bottom of stack before the data ends; a payload that is neither IP nor Ethernet.
  Bytes open = mpls({1, 2}, {});
  open[6] &= static_cast<uint8_t>(~1);  // clear S on the last entry
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x8847, open)));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x8847, mpls({1}, Bytes(40, 0x11)))));
  EXPECT_EQ(h.count("tunnel.truncated"), 1u);
  EXPECT_EQ(h.count("tunnel.unsupported"), 1u);
}

TEST(Tunnels, PppoeSessionCarryingIpv4AndIpv6) {
  Harness h;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8864, pppoe(0x0021, innerV4()))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8864, pppoe(0x0057, innerV6()))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8864, pppoe(0x21, innerV4(), /*compressed=*/true))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8864, pppoe(0x0021, innerV4()), {{0x8100, 7}})));
  EXPECT_EQ(h.out.size(), 4u);
  // LCP echo (control traffic), a discovery frame (0x8863, not a session) and a length that
  // runs past the frame.
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x8864, pppoe(0xc021, Bytes(8, 0)))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x8863, Bytes(20, 0))));
  Bytes lying = pppoe(0x0021, innerV4());
  lying[4] = 0xff;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x8864, lying)));
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.pppoe", 4},
                                 {"udp.sip", 4},
                                 {"tunnel.unsupported", 1},
                                 {"decode.not_ip", 1},
                                 {"tunnel.truncated", 1}}));
}

TEST(Tunnels, IpInIpAndIpv6InIpBothWays) {
  Harness h;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(4, innerV4()))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(41, innerV6()))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, outerV6(4, innerV4()))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, outerV6(41, innerV6()))));
  ASSERT_EQ(h.out.size(), 4u);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[1].src.toString(), "[2001:db8::a]:5060");
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.ip_in_ip", 4}, {"udp.sip", 4}}));
}

TEST(Tunnels, NestingIsFollowedUpToTheLimit) {
  Harness h;
  // VXLAN inside GRE (TEB) inside MPLS: three tunnels.
  Gre teb;
  teb.protocol = 0x6558;
  Bytes vx = ethernet(kIpv4Type, outerV4(17, udp(1, 4789, vxlan(9, innerEth({{0x8100, 77}})))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8847, mpls({5}, outerV4(47, gre(teb, vx))))));
  expectInvite(h);
  EXPECT_EQ(h.out[0].vlan_depth, 1);
  EXPECT_EQ(h.out[0].vlan[0], 77);
  // IP-in-IP four deep is followed, five deep is not.
  Bytes p = innerV4();
  for (int i = 0; i < 4; ++i) p = outerV4(4, p);
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, p)));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(4, p))));
  EXPECT_EQ(h.count("tunnel.too_deep"), 1u);
  EXPECT_EQ(h.out.size(), 2u);
}

TEST(Tunnels, FragmentsInsideAndOutsideATunnel) {
  Harness h;
  // The outer GRE packet fragmented by the tunnel's path: reassembled, then decapsulated.
  Gre g;
  g.key = 1;
  Bytes outer_payload = gre(g, innerV4());
  Ipv4 o;
  o.src = {203, 0, 113, 1};
  o.dst = {203, 0, 113, 2};
  o.protocol = 47;
  o.df = false;
  o.mf = true;
  o.id = 0x77;
  Bytes head(outer_payload.begin(), outer_payload.begin() + 96);
  Bytes tail(outer_payload.begin() + 96, outer_payload.end());
  ASSERT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(o, head))));
  o.mf = false;
  o.frag_offset8 = 12;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(o, tail))));
  expectInvite(h);

  // Inner fragments with the same inner addresses and id in two different tunnels (GRE keys 1
  // and 2) are two datagrams: neither completes with the other's half.
  Bytes whole = udp(5060, 5060, kInvite);
  Ipv4 i;
  i.df = false;
  i.mf = true;
  i.id = 0x55;
  Bytes ihead = ipv4(i, Bytes(whole.begin(), whole.begin() + 64));
  i.mf = false;
  i.frag_offset8 = 8;
  Bytes itail = ipv4(i, Bytes(whole.begin() + 64, whole.end()));
  Gre k1;
  k1.key = 1;
  Gre k2;
  k2.key = 2;
  ASSERT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(k1, ihead)))));
  ASSERT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(k2, itail)))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(k1, itail)))));
  expectInvite(h, 2);
  EXPECT_EQ(h.count("ip.frag_reassembled"), 2u);
}

// ---- SCTP ----------------------------------------------------------------------------------

TEST(Sctp, UnfragmentedDataChunksCarryingSipAreEmitted) {
  Harness h;
  Ipv4 ip;
  ip.protocol = 132;
  // Two messages bundled in one packet (RFC 4168 §5: one SIP message per user message), with a
  // SACK chunk (type 3) before them that is skipped.
  Bytes sack{3, 0, 0, 16};
  sack.resize(16, 0);
  Bytes pkt = sctp(5060, 5061, {sack, sctpData(kInvite, 0x03, 0), sctpData(kRinging, 0x07, 0)});
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, pkt))));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.out[0].transport, Transport::kSctp);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[0].dst.toString(), "198.51.100.20:5061");
  EXPECT_EQ(h.out[1].bytes, kRinging);  // U (unordered) flag set: still one whole message
  // Over IPv6 too.
  Ipv6 ip6;
  ip6.next = 132;
  ASSERT_TRUE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip6, sctp(5060, 5060, {sctpData(kInvite)})))));
  EXPECT_EQ(h.nonZero(), (Counts{{"sctp.packets", 2}, {"sctp.sip", 3}}));
}

TEST(Sctp, FragmentedNonSipAndBrokenChunksAreCounted) {
  Harness h;
  Ipv4 ip;
  ip.protocol = 132;
  std::string_view half = kInvite.substr(0, 40);
  EXPECT_FALSE(h.decode(kDltEn10mb,
                        ethernet(kIpv4Type, ipv4(ip, sctp(5060, 5060, {sctpData(half, 0x02)})))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, sctp(3868, 3868,
                                                                      {sctpData("\x01\x00\x00\x14"
                                                                                "diameter")})))));
  Bytes bad = sctp(5060, 5060, {sctpData(kInvite)});
  bad[12 + 3] = 200;  // chunk length past the packet
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, bad))));
  EXPECT_EQ(h.nonZero(), (Counts{{"sctp.packets", 3},
                                 {"sctp.fragmented", 1},
                                 {"sctp.not_sip", 1},
                                 {"sctp.truncated", 1}}));
}

}  // namespace
}  // namespace mcn::capture::test
