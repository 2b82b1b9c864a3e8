// Encapsulations a SPAN or remote-SPAN port carries: MPLS, PPPoE, GRE (incl. TEB), ERSPAN I/II/III,
// VXLAN, IP-in-IP and IPv6-in-IP, PPP in enhanced GRE, GTP-U, ESP with NULL encryption, nesting,
// and SIP over SCTP DATA chunks. Each frame is built by
// hand (encap_builder.h); what must come out is the inner SIP message with the inner addresses.

#include <gtest/gtest.h>

#include <random>

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
  Gre v2;
  v2.version = 2;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, gre(v2, innerV4())))));
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

// ---- PPP in enhanced GRE (RFC 2637) ----------------------------------------------------------

TEST(Tunnels, EnhancedGreCarryingPppInEveryFraming) {
  Harness h;
  GreV1 g;
  // Address/control and a two-octet protocol (RFC 1662 framing).
  ASSERT_TRUE(
      h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, greV1(g, ppp(0x21, innerV4()))))));
  // Neither (ACFC + PFC negotiated), and each alone; with an acknowledgement piggybacked.
  g.ack = 9;
  ASSERT_TRUE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(47, greV1(g, ppp(0x21, innerV4(), true, true))))));
  ASSERT_TRUE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(47, greV1(g, ppp(0x21, innerV4(), true, false))))));
  g.seq.reset();
  ASSERT_TRUE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(47, greV1(g, ppp(0x21, innerV4(), false, true))))));
  // IPv6 (0x0057) inside, over an IPv6 outer header.
  ASSERT_TRUE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, outerV6(47, greV1(g, ppp(0x57, innerV6()))))));
  ASSERT_EQ(h.out.size(), 5u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(h.out[i].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[4].src.toString(), "[2001:db8::a]:5060");
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.gre_ppp", 5}, {"udp.sip", 5}}));
}

TEST(Tunnels, EnhancedGreAcksPppControlAndBrokenHeadersAreCounted) {
  Harness h;
  auto frame = [](const Bytes& gre_packet) { return ethernet(kIpv4Type, outerV4(47, gre_packet)); };
  // An acknowledgement without payload (RFC 2637 §4.1: S clear, A set).
  GreV1 ack_only;
  ack_only.seq.reset();
  ack_only.ack = 5;
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(greV1(ack_only, {}))));
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.control", 1}}));
  // LCP echo request: PPP control, as over PPPoE.
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(greV1({}, ppp(0xc021, Bytes{9, 1, 0, 8, 0, 0, 0, 0})))));
  // K clear, C set, protocol not PPP.
  Bytes no_key = greV1({}, ppp(0x21, innerV4()));
  no_key[0] &= 0xdf;
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(no_key)));
  Bytes checksum = greV1({}, ppp(0x21, innerV4()));
  checksum[0] |= 0x80;
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(checksum)));
  Bytes not_ppp = greV1({}, innerV4());
  not_ppp[2] = 0x08;
  not_ppp[3] = 0x00;
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(not_ppp)));
  EXPECT_EQ(h.count("tunnel.unsupported"), 4u);
  // Truncations: the payload length lies past the packet; the header is cut before the call id,
  // before the sequence number, before the acknowledgement; PPP without a protocol, or half of a
  // two-octet one.
  GreV1 lying;
  lying.length = 2000;
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(greV1(lying, ppp(0x21, innerV4())))));
  Bytes cut = greV1({}, {});
  cut.resize(6);
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(cut)));
  cut = greV1({}, {});
  cut.resize(10);
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(cut)));
  GreV1 with_ack;
  with_ack.ack = 1;
  cut = greV1(with_ack, {});
  cut.resize(14);
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(cut)));
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(greV1({}, Bytes{0xff, 0x03}))));
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(greV1({}, Bytes{0xff, 0x03, 0x00}))));
  EXPECT_EQ(h.count("tunnel.truncated"), 6u);
  EXPECT_EQ(h.count("tunnel.gre_ppp"), 0u);
  EXPECT_TRUE(h.out.empty());
  // A payload length shorter than the bytes after the header: the rest is not PPP (padding).
  Bytes padded = greV1({}, ppp(0x21, innerV4()));
  padded.resize(padded.size() + 6, 0);
  EXPECT_TRUE(h.decode(kDltEn10mb, frame(padded)));
  EXPECT_EQ(h.count("tunnel.gre_ppp"), 1u);
}

TEST(Tunnels, EnhancedGreCarriesFragmentsAndTcp) {
  Harness h;
  // An inner INVITE fragmented in two, each half in its own GRE/PPP packet of the same call.
  Bytes whole = udp(5060, 5060, kInvite);
  Ipv4 i;
  i.df = false;
  i.mf = true;
  i.id = 0x66;
  Bytes head = ipv4(i, Bytes(whole.begin(), whole.begin() + 64));
  i.mf = false;
  i.frag_offset8 = 8;
  Bytes tail = ipv4(i, Bytes(whole.begin() + 64, whole.end()));
  GreV1 g;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, greV1(g, ppp(0x21, head))))));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(47, greV1(g, ppp(0x21, tail))))));
  expectInvite(h);
  // SIP over TCP inside.
  Ipv4 t;
  t.protocol = 6;
  ASSERT_TRUE(h.decode(
      kDltEn10mb,
      ethernet(kIpv4Type,
               outerV4(47, greV1(g, ppp(0x21, ipv4(t, tcp(5060, 5060, kInvite)), true, true))))));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].transport, Transport::kTcp);
  EXPECT_EQ(h.out[1].bytes, kInvite);
  EXPECT_EQ(h.count("ip.frag_reassembled"), 1u);
  EXPECT_EQ(h.count("tunnel.gre_ppp"), 3u);
}

TEST(Tunnels, PppoeAcceptsAddressAndControlOctetsToo) {
  // The PPP parsing PPPoE shares with GRE: RFC 2516 leaves the octets out, a sloppy peer may not.
  Harness h;
  Bytes b{0x11, 0x00, 0x12, 0x34};
  Bytes p = ppp(0x21, innerV4());
  put16(b, static_cast<uint16_t>(p.size()));
  append(b, p);
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(0x8864, b)));
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.pppoe", 1}, {"udp.sip", 1}}));
}

// ---- GTP-U (3GPP TS 29.281) ----------------------------------------------------------------

Bytes gtpuV4(const Gtpu& g, const Bytes& inner, uint16_t dport = 2152) {
  return ethernet(kIpv4Type, outerV4(17, udp(2152, dport, gtpu(g, inner))));
}

TEST(Tunnels, GtpuGpduWithAndWithoutExtensionHeadersOverIpv4AndIpv6) {
  Harness h;
  Gtpu plain;
  ASSERT_TRUE(h.decode(kDltEn10mb, gtpuV4(plain, innerV4())));
  Gtpu ext;
  ext.ext.push_back({});  // PDU session container
  ASSERT_TRUE(h.decode(kDltEn10mb, gtpuV4(ext, innerV6())));
  // Sequence number only (S): the 4 optional octets, no extension chain even if the type octet
  // is not 0 (it is read only with E).
  Gtpu seq;
  seq.seq = 77;
  Bytes with_seq = gtpu(seq, innerV4());
  with_seq[11] = 0x85;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(2152, 2152, with_seq)))));
  // Two extension headers, one longer than 4 octets (UDP port 0x40, then PDCP PDU number 0xc0
  // ... then a PDU session container), over an IPv6 outer header.
  Gtpu chain;
  chain.ext.push_back({0x40, {0x13, 0xc4}});
  chain.ext.push_back({0x85, {0x10, 0x09, 0, 0, 0, 0}});
  ASSERT_TRUE(h.decode(kDltEn10mb,
                       ethernet(kIpv6Type, outerV6(17, udp(2152, 2152, gtpu(chain, innerV4()))))));
  ASSERT_EQ(h.out.size(), 4u);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[1].src.toString(), "[2001:db8::a]:5060");
  EXPECT_EQ(h.out[3].dst.toString(), "198.51.100.20:5060");
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.gtpu", 4}, {"udp.sip", 4}}));
}

TEST(Tunnels, GtpuPortIsConfigurable) {
  Harness h;
  EXPECT_FALSE(h.decode(kDltEn10mb, gtpuV4({}, innerV4(), 3386)));
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.not_sip", 1}}));
  DecoderConfig cfg;
  cfg.gtpu_ports = {3386};
  Harness h2(cfg);
  EXPECT_TRUE(h2.decode(kDltEn10mb, gtpuV4({}, innerV4(), 3386)));
  EXPECT_FALSE(h2.decode(kDltEn10mb, gtpuV4({}, innerV4(), 2152)));
  EXPECT_EQ(h2.nonZero(), (Counts{{"tunnel.gtpu", 1}, {"udp.sip", 1}, {"udp.not_sip", 1}}));
}

TEST(Tunnels, GtpuSignallingAndBrokenHeadersAreCounted) {
  Harness h;
  // Echo request (with its mandatory sequence number), end marker, error indication.
  for (uint8_t type : {1, 254, 26}) {
    Gtpu g;
    g.message_type = type;
    g.seq = 1;
    EXPECT_FALSE(h.decode(kDltEn10mb, gtpuV4(g, {})));
  }
  EXPECT_EQ(h.nonZero(), (Counts{{"tunnel.control", 3}}));
  // Not GTPv1-U (version 0 / PT 0: GTP'): the UDP it is.
  Gtpu prime;
  prime.first = 0x0e;
  EXPECT_FALSE(h.decode(kDltEn10mb, gtpuV4(prime, innerV4())));
  EXPECT_EQ(h.count("udp.not_sip"), 1u);
  // Length past the datagram; shorter than the header; E set without room for the optional
  // octets; an extension header running past the PDU; one of length 0; nine of them.
  Bytes lying = gtpu({}, innerV4());
  lying[2] = 0x7f;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(2152, 2152, lying)))));
  EXPECT_FALSE(h.decode(
      kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(2152, 2152, Bytes{0x30, 0xff, 0, 0})))));
  Bytes no_opt{0x34, 0xff, 0, 2, 0, 0, 0, 1, 0, 0};
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(2152, 2152, no_opt)))));
  Bytes ext_past{0x34, 0xff, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0x85, 2, 0};
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(2152, 2152, ext_past)))));
  EXPECT_EQ(h.count("tunnel.truncated"), 4u);
  Gtpu zero;
  zero.ext.push_back({});
  Bytes zero_len = gtpu(zero, innerV4());
  zero_len[12] = 0;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(2152, 2152, zero_len)))));
  Gtpu nine;
  for (int i = 0; i < 9; ++i) nine.ext.push_back({});
  EXPECT_FALSE(h.decode(kDltEn10mb, gtpuV4(nine, innerV4())));
  EXPECT_EQ(h.count("tunnel.unsupported"), 2u);
  // Eight are followed.
  Gtpu eight;
  for (int i = 0; i < 8; ++i) eight.ext.push_back({});
  EXPECT_TRUE(h.decode(kDltEn10mb, gtpuV4(eight, innerV4())));
  // A T-PDU that is not IP (an Ethernet PDU session).
  EXPECT_FALSE(h.decode(kDltEn10mb, gtpuV4({}, innerEth())));
  EXPECT_EQ(h.count("decode.bad_ip_version"), 1u);
  EXPECT_EQ(h.count("tunnel.gtpu"), 2u);
  EXPECT_EQ(h.out.size(), 1u);
}

TEST(Tunnels, GtpuNestingIsBounded) {
  Harness h;
  // GTP-U in GTP-U (an N9 hop mirrored inside N3 ...): four deep is followed, five is not.
  Bytes p = innerV4();
  for (int i = 0; i < 4; ++i) p = outerV4(17, udp(2152, 2152, gtpu({}, p)));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, p)));
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(17, udp(2152, 2152, gtpu({}, p))))));
  EXPECT_EQ(h.count("tunnel.too_deep"), 1u);
  EXPECT_EQ(h.count("tunnel.gtpu"), 8u);
}

// ---- ESP with NULL encryption (RFC 4303, RFC 2410) --------------------------------------------

Bytes espV4(const Bytes& esp) { return ethernet(kIpv4Type, outerV4(50, esp)); }

TEST(Tunnels, EspNullFoundByTheHeuristicWithIcv12And16) {
  Harness h;
  // Transport mode (3GPP TS 33.203 §7: UE <-> P-CSCF): UDP right after the ESP header; the
  // outer addresses are the message's.
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x1234, 17, udp(5060, 5060, kInvite), 12))));
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x1235, 17, udp(5060, 5060, kInvite), 16, 8))));
  ASSERT_TRUE(
      h.decode(kDltEn10mb,
               ethernet(kIpv6Type, outerV6(50, espNull(0x99, 17, udp(5060, 5060, kInvite), 16)))));
  // Behind an IPv6 extension header.
  ASSERT_TRUE(h.decode(
      kDltEn10mb,
      ethernet(kIpv6Type, outerV6(60, cat({extHeader(50),
                                           espNull(0x99, 17, udp(5060, 5060, kInvite), 12)})))));
  // Tunnel mode: an IPv4 or IPv6 packet inside.
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x2000, 4, innerV4(), 12))));
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x2001, 41, innerV6(), 16))));
  ASSERT_EQ(h.out.size(), 6u);
  EXPECT_EQ(h.out[0].src.toString(), "203.0.113.1:5060");
  EXPECT_EQ(h.out[0].dst.toString(), "203.0.113.2:5060");
  EXPECT_EQ(h.out[2].src.toString(), "[2001:db8::f1]:5060");
  EXPECT_EQ(h.out[4].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[5].src.toString(), "[2001:db8::a]:5060");
  for (const SipPayload& p : h.out) EXPECT_EQ(p.bytes, kInvite);
  EXPECT_EQ(h.nonZero(), (Counts{{"ip.esp_null", 6}, {"udp.sip", 6}}));
}

TEST(Tunnels, EspNullCarriesTcpStreamsKeyedByTheInnerAddresses) {
  Harness h;
  // One INVITE in two TCP segments, each in its own ESP packet.
  std::string_view first = kInvite.substr(0, 50);
  std::string_view second = kInvite.substr(50);
  Bytes seg1 = tcp(5060, 5060, first);
  Bytes seg2 = tcp(5060, 5060, second);
  const uint32_t seq2 = 1000 + static_cast<uint32_t>(first.size());
  seg2[4] = static_cast<uint8_t>(seq2 >> 24);
  seg2[5] = static_cast<uint8_t>(seq2 >> 16);
  seg2[6] = static_cast<uint8_t>(seq2 >> 8);
  seg2[7] = static_cast<uint8_t>(seq2);
  Ipv4 t;
  t.protocol = 6;
  // Tunnel mode: the stream is the inner packets' (192.0.2.10 -> 198.51.100.20).
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(espNull(0x3000, 4, ipv4(t, seg1), 12))));
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x3000, 4, ipv4(t, seg2), 12))));
  expectInvite(h);
  EXPECT_EQ(h.out[0].transport, Transport::kTcp);
  // Transport mode: the ESP packets' own addresses.
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(espNull(0x3001, 6, seg1, 16))));
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x3001, 6, seg2, 16))));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].bytes, kInvite);
  EXPECT_EQ(h.out[1].src.toString(), "203.0.113.1:5060");
  EXPECT_EQ(h.count("ip.esp_null"), 4u);
  EXPECT_EQ(h.count("tcp.sip"), 2u);
}

TEST(Tunnels, EspThatIsNotNullStaysEncrypted) {
  Harness h;
  const Bytes good = espNull(0x1234, 17, udp(5060, 5060, kInvite), 12);
  // Padding that is not 1, 2, 3 ...; a UDP length that does not match; a next header that is
  // not a transport (ICMP); too short for any trailer.
  Bytes bad_pad = espNull(0x1234, 17, udp(5060, 5060, kInvite), 12, 4);
  bad_pad[bad_pad.size() - 12 - 3] ^= 0x40;
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(bad_pad)));
  EXPECT_FALSE(
      h.decode(kDltEn10mb, espV4(espNull(0x1234, 17, udp(5060, 5060, bytesOf(kInvite), 100), 12))));
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(espNull(0x1234, 1, udp(5060, 5060, kInvite), 12))));
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(Bytes{0, 0, 0x12, 0x34, 0, 0, 0, 1, 0, 17})));
  // An ICV length the heuristic does not try (24: HMAC-SHA-384-192).
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(espNull(0x1234, 17, udp(5060, 5060, kInvite), 24))));
  EXPECT_EQ(h.nonZero(), (Counts{{"ip.esp", 5}}));
  // The same packet before it was spoiled is decoded.
  EXPECT_TRUE(h.decode(kDltEn10mb, espV4(good)));
  EXPECT_EQ(h.count("ip.esp_null"), 1u);
  // Heuristic off: even a good one.
  DecoderConfig off;
  off.esp_null_heuristic = false;
  Harness h2(off);
  EXPECT_FALSE(h2.decode(kDltEn10mb, espV4(good)));
  EXPECT_EQ(h2.nonZero(), (Counts{{"ip.esp", 1}}));
  // Encrypted-looking payloads: 3000 packets of random bytes of random sizes, none guessed.
  std::mt19937 rng(20261206);
  Harness h3;
  for (int i = 0; i < 3000; ++i) {
    Bytes b(16 + rng() % 400);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    EXPECT_FALSE(h3.decode(kDltEn10mb, espV4(b)));
  }
  EXPECT_EQ(h3.count("ip.esp"), 3000u);
  EXPECT_EQ(h3.count("ip.esp_null"), 0u);
}

TEST(Tunnels, ConfiguredEspNullSasTakePrecedence) {
  DecoderConfig cfg;
  cfg.esp_null = {{0x5000, 24}, {0x5001, 12}, {0x5002, 0}};
  Harness h(cfg);
  // ICV 24 is not guessed, but configured; padding that is not 1, 2, 3 is accepted for an SA
  // we were told about.
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x5000, 17, udp(5060, 5060, kInvite), 24))));
  Bytes odd_pad = espNull(0x5001, 17, udp(5060, 5060, kInvite), 12, 4);
  odd_pad[odd_pad.size() - 12 - 3] = 0;
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(odd_pad)));
  ASSERT_TRUE(h.decode(kDltEn10mb, espV4(espNull(0x5002, 17, udp(5060, 5060, kInvite), 0))));
  // SA 0x5001 says ICV 12: a packet with a 16-byte ICV is read with the wrong trailer, and is
  // not guessed again (the next header it finds is 0xa5, not decoded).
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(espNull(0x5001, 17, udp(5060, 5060, kInvite), 16))));
  EXPECT_EQ(h.count("ip.other_protocol"), 1u);
  // A pad length past the payload, and a packet too short for the configured ICV.
  Bytes lying = espNull(0x5001, 17, udp(5060, 5060, kRinging), 12);
  lying[lying.size() - 14] = 250;
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(lying)));
  EXPECT_FALSE(h.decode(kDltEn10mb, espV4(Bytes{0, 0, 0x50, 0, 0, 0, 0, 1, 0, 17, 1, 2, 3})));
  EXPECT_EQ(h.count("ip.esp_null_bad"), 2u);
  EXPECT_EQ(h.count("ip.esp_null"), 4u);
  EXPECT_EQ(h.out.size(), 3u);
}

TEST(Tunnels, EspNullNestingIsBounded) {
  Harness h;
  // Tunnel-mode ESP in tunnel-mode ESP: four deep is followed, five is not; ESP directly in ESP
  // (next header 50) counts against the same limit.
  Bytes p = innerV4();
  for (int i = 0; i < 4; ++i) p = outerV4(50, espNull(0x10 + i, 4, p, 12));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, p)));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, outerV4(50, espNull(0x20, 4, p, 12)))));
  EXPECT_EQ(h.count("tunnel.too_deep"), 1u);
  EXPECT_EQ(h.out.size(), 1u);
  // The heuristic never takes ESP for ESP's next header; configured SAs can say so.
  DecoderConfig cfg;
  Bytes e = udp(5060, 5060, kInvite);
  uint8_t next = 17;
  for (uint32_t i = 0; i < 6; ++i) {
    e = espNull(0x30 + i, next, e, 12);
    cfg.esp_null.push_back({0x30 + i, 12});
    next = 50;
  }
  Harness h2(cfg);
  EXPECT_FALSE(h2.decode(kDltEn10mb, espV4(e)));
  EXPECT_EQ(h2.count("tunnel.too_deep"), 1u);
  EXPECT_EQ(h2.count("ip.esp_null"), 5u);
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
