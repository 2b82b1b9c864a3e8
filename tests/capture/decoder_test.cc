// FrameDecoder: every link type, VLAN stacks, IPv4 options, the IPv6 extension chain, fragments,
// UDP recognition and the counter list.

#include "mcn/capture/decoder.h"

#include <gtest/gtest.h>

#include "decoder_harness.h"

namespace mcn::capture::test {
namespace {

Bytes sipUdpV4(std::string_view msg = kInvite, uint16_t sport = 5060, uint16_t dport = 5060) {
  return ipv4({}, udp(sport, dport, msg));
}
Bytes sipUdpV6(std::string_view msg = kInvite) { return ipv6({}, udp(5060, 5060, msg)); }

// Checked by hand against tshark 4.0: this frame, written to a pcap with pcap_dump, gives
// `tshark -T fields -e frame.protocols -e ieee8021ad.id -e vlan.id -e vlan.priority -e ip.src
// -e ip.dst -e udp.srcport -e udp.dstport -e sip.Method` =
// "eth:ethertype:ieee8021ad:ethertype:vlan:ethertype:ip:udp:sip 100 200 5 192.0.2.10
// 198.51.100.20 5060 5060 INVITE". The frames of the link-type tests below (SLL, SLL2, NULL in
// both byte orders, LOOP, RAW, LINKTYPE_IPV4/IPV6), of Ipv4OptionsAreSkipped, of
// Ipv6ExtensionChainIsWalked and of TcpFraming.TwoMessagesInOneSegment were checked the same way:
// tshark shows the same addresses and ports and finds SIP (and both TCP messages: INVITE, 180).
TEST(FrameDecoder, EthernetQinQUdpEmitsOneOwnedMessageWithAddressesAndVlans) {
  Harness h;
  Bytes frame = ethernet(kIpv4Type, sipUdpV4(), {{0x88a8, 100}, {0x8100, 200, 5}});
  ASSERT_TRUE(h.decode(kDltEn10mb, frame, 1'700'000'000'123'456));
  frame.assign(frame.size(), 0);  // the payload must not point into the frame buffer
  ASSERT_EQ(h.out.size(), 1u);
  const SipPayload& p = h.out[0];
  EXPECT_EQ(p.ts_us, 1'700'000'000'123'456);
  EXPECT_EQ(p.src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(p.dst.toString(), "198.51.100.20:5060");
  EXPECT_FALSE(p.src.v6);
  EXPECT_EQ(p.transport, Transport::kUdp);
  EXPECT_EQ(p.vlan_depth, 2);
  EXPECT_EQ(p.vlan[0], 100);  // outermost first; the PCP bits of the inner tag are not the VID
  EXPECT_EQ(p.vlan[1], 200);
  EXPECT_EQ(p.bytes, kInvite);
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.sip", 1}}));
  EXPECT_EQ(h.count("decode.frames"), 1u);
}

TEST(FrameDecoder, EthernetIpv6) {
  Harness h;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, sipUdpV6(kRinging))));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].src.toString(), "[2001:db8::a]:5060");
  EXPECT_EQ(h.out[0].dst.toString(), "[2001:db8::14]:5060");
  EXPECT_TRUE(h.out[0].src.v6);
  EXPECT_EQ(h.out[0].vlan_depth, 0);
  EXPECT_EQ(h.out[0].bytes, kRinging);
}

TEST(FrameDecoder, LinuxCookedV1AndV2) {
  Harness h;
  EXPECT_TRUE(h.decode(kDltLinuxSll, sll(kIpv4Type, sipUdpV4())));
  EXPECT_TRUE(h.decode(kDltLinuxSll, sll(kIpv6Type, sipUdpV6())));
  EXPECT_TRUE(h.decode(kDltLinuxSll2, sll2(kIpv4Type, sipUdpV4())));
  EXPECT_TRUE(h.decode(kDltLinuxSll2, sll2(kIpv6Type, sipUdpV6())));
  ASSERT_EQ(h.out.size(), 4u);
  for (const SipPayload& p : h.out) EXPECT_EQ(p.bytes, kInvite);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[3].src.toString(), "[2001:db8::a]:5060");
}

TEST(FrameDecoder, LinuxCookedCarryingVlanTags) {
  Harness h;
  // SLL protocol 0x8100, then TCI + inner EtherType, as libpcap writes when it reinserts tags.
  Bytes tagged;
  put16(tagged, 42);
  put16(tagged, kIpv4Type);
  append(tagged, sipUdpV4());
  ASSERT_TRUE(h.decode(kDltLinuxSll, sll(0x8100, tagged)));
  ASSERT_TRUE(h.decode(kDltLinuxSll2, sll2(0x8100, tagged)));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].vlan_depth, 1);
  EXPECT_EQ(h.out[0].vlan[0], 42);
  EXPECT_EQ(h.out[1].vlan[0], 42);
}

TEST(FrameDecoder, BsdNullAcceptsInetAndEveryInet6ValueInEitherByteOrder) {
  Harness h;
  for (bool be : {false, true}) {
    EXPECT_TRUE(h.decode(kDltNull, loopback(2, be, sipUdpV4()))) << be;
    for (uint32_t af6 : {24u, 28u, 30u}) {
      EXPECT_TRUE(h.decode(kDltNull, loopback(af6, be, sipUdpV6()))) << af6 << " " << be;
    }
  }
  EXPECT_EQ(h.out.size(), 8u);
  // AF_APPLETALK (16) is not IP.
  EXPECT_FALSE(h.decode(kDltNull, loopback(16, false, sipUdpV4())));
  EXPECT_EQ(h.count("decode.not_ip"), 1u);
}

TEST(FrameDecoder, LoopIsNetworkOrderOnly) {
  Harness h;
  EXPECT_TRUE(h.decode(kDltLoop, loopback(2, true, sipUdpV4())));
  EXPECT_TRUE(h.decode(kDltLoop, loopback(24, true, sipUdpV6())));
  EXPECT_TRUE(h.decode(kDltLoop, loopback(30, true, sipUdpV6())));
  // 0x02000000 is AF 2 only in little-endian DLT_NULL, not in DLT_LOOP.
  EXPECT_FALSE(h.decode(kDltLoop, loopback(2, false, sipUdpV4())));
  EXPECT_EQ(h.out.size(), 3u);
  EXPECT_EQ(h.count("decode.not_ip"), 1u);
}

TEST(FrameDecoder, RawLinkTypesPickTheVersionFromTheFirstNibble) {
  Harness h;
  for (int lt : {kLinktypeRaw, kDltRaw, kDltRawOpenBsd}) {
    EXPECT_TRUE(h.decode(lt, sipUdpV4())) << lt;
    EXPECT_TRUE(h.decode(lt, sipUdpV6())) << lt;
  }
  EXPECT_TRUE(h.decode(kLinktypeIpv4, sipUdpV4()));
  EXPECT_TRUE(h.decode(kLinktypeIpv6, sipUdpV6()));
  EXPECT_EQ(h.out.size(), 8u);
  // LINKTYPE_IPV4 promises IPv4: an IPv6 packet there is a bad version, and vice versa.
  EXPECT_FALSE(h.decode(kLinktypeIpv4, sipUdpV6()));
  EXPECT_FALSE(h.decode(kLinktypeIpv6, sipUdpV4()));
  EXPECT_FALSE(h.decode(kLinktypeRaw, Bytes{0x50, 0, 0, 0}));
  EXPECT_EQ(h.count("decode.bad_ip_version"), 3u);
}

TEST(FrameDecoder, UnknownLinkTypeIsCounted) {
  Harness h;
  EXPECT_FALSE(h.decode(127 /* DLT_IEEE802_11_RADIO */, ethernet(kIpv4Type, sipUdpV4())));
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.unsupported_linktype", 1}}));
  EXPECT_EQ(h.count("decode.frames"), 1u);
}

TEST(FrameDecoder, NonIpFramesAreCounted) {
  Harness h;
  Bytes arp(28, 0);
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x0806, arp)));           // ARP
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x88cc, arp)));           // LLDP
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x0026, Bytes(38, 0))));  // 802.3 length + LLC (STP)
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(0x0806, arp, {{0x8100, 7}})));  // tagged ARP
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.not_ip", 4}}));
}

// ---- VLAN ----------------------------------------------------------------------------------

TEST(FrameDecoder, EveryTagTypeAtAnyDepthUpToTheLimit) {
  Harness h;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, sipUdpV4(), {{0x9100, 1}})));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, sipUdpV4(),
                                            {{0x8100, 1},
                                             {0x88a8, 2},
                                             {0x9100, 3},
                                             {0x8100, 4},
                                             {0x8100, 5},
                                             {0x8100, 6},
                                             {0x8100, 7},
                                             {0x8100, 4095}})));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].vlan_depth, 1);
  EXPECT_EQ(h.out[0].vlan[0], 1);
  ASSERT_EQ(h.out[1].vlan_depth, 8);
  std::array<uint16_t, 8> want{1, 2, 3, 4, 5, 6, 7, 4095};
  EXPECT_EQ(h.out[1].vlan, want);
}

TEST(FrameDecoder, OneTagTooManyIsDropped) {
  Harness h;
  Bytes nine = ethernet(kIpv4Type, sipUdpV4(),
                        {{0x8100, 1},
                         {0x8100, 2},
                         {0x8100, 3},
                         {0x8100, 4},
                         {0x8100, 5},
                         {0x8100, 6},
                         {0x8100, 7},
                         {0x8100, 8},
                         {0x8100, 9}});
  EXPECT_FALSE(h.decode(kDltEn10mb, nine));
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.nonZero(), (Counts{{"decode.vlan_too_deep", 1}}));
}

TEST(FrameDecoder, ConfiguredVlanDepthIsHonoured) {
  DecoderConfig cfg;
  cfg.max_vlan_depth = 1;
  Harness h(cfg);
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, sipUdpV4(), {{0x8100, 10}})));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, sipUdpV4(), {{0x88a8, 10}, {0x8100, 20}})));
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.count("decode.vlan_too_deep"), 1u);
}

// ---- IPv4 / IPv6 ---------------------------------------------------------------------------

TEST(FrameDecoder, Ipv4OptionsAreSkipped) {
  Harness h;
  Ipv4 ip;
  // Router Alert (RFC 2113, 4 bytes) + NOP padding + Record Route with one slot: IHL 5+3 = 8.
  ip.options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x07, 0x07, 0x04, 0, 0, 0, 0};
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(ip, udp(5060, 5062, kInvite)))));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].dst.toString(), "198.51.100.20:5062");
  EXPECT_EQ(h.out[0].bytes, kInvite);
}

TEST(FrameDecoder, EthernetPaddingAfterTheIpPacketIsIgnored) {
  Harness h;
  Bytes frame = ethernet(kIpv4Type, sipUdpV4());
  frame.resize(frame.size() + 6, 0);  // trailer bytes, as short frames carry
  ASSERT_TRUE(h.decode(kDltEn10mb, frame));
  EXPECT_EQ(h.out[0].bytes, kInvite);

  Bytes frame6 = ethernet(kIpv6Type, sipUdpV6());
  frame6.resize(frame6.size() + 4, 0xee);
  ASSERT_TRUE(h.decode(kDltEn10mb, frame6));
  EXPECT_EQ(h.out[1].bytes, kInvite);

  // TCP has no length of its own: only the IP length keeps the trailer out of the stream.
  Ipv4 t4;
  t4.protocol = 6;
  Bytes tcp4 = ethernet(kIpv4Type, ipv4(t4, tcp(5060, 5060, kRinging)));
  tcp4.resize(tcp4.size() + 6, 0);
  ASSERT_TRUE(h.decode(kDltEn10mb, tcp4));
  EXPECT_EQ(h.out[2].bytes, kRinging);
  Ipv6 t6;
  t6.next = 6;
  Bytes tcp6 = ethernet(kIpv6Type, ipv6(t6, tcp(5060, 5060, kRinging)));
  tcp6.resize(tcp6.size() + 6, 0);
  ASSERT_TRUE(h.decode(kDltEn10mb, tcp6));
  EXPECT_EQ(h.out[3].bytes, kRinging);
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.sip", 2},
                                 {"tcp.segments", 2},
                                 {"tcp.sip", 2},
                                 {"tcp.streams", 2},
                                 {"tcp.midstream", 2}}));
}

TEST(FrameDecoder, Ipv6ExtensionChainIsWalked) {
  Harness h;
  // hop-by-hop -> routing (type 253, RFC 4727 experiment, segments left 0) -> destination
  // options (24 bytes) -> AH -> UDP. tshark decodes the same chain down to SIP.
  Ipv6 ip;
  ip.next = 0;
  Bytes routing{60, 0, 253, 0, 0, 0, 0, 0};
  Bytes chain =
      cat({extHeader(43), routing, extHeader(51, 2), ahHeader(17), udp(5060, 5060, kInvite)});
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, chain))));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.out[0].dst.toString(), "[2001:db8::14]:5060");
}

TEST(FrameDecoder, Ipv6MobilityHeaderIsAnExtensionHeader) {
  // RFC 6275 §6.1.1: its Payload Proto is a next-header field (today normally 59). tshark stops at
  // the mobility header; we follow the field, as RFC 6564 asks for headers of this format.
  Harness h;
  Ipv6 ip;
  ip.next = 135;
  EXPECT_TRUE(h.decode(
      kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, cat({extHeader(17), udp(5060, 5060, kInvite)})))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, extHeader(59)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.sip", 1}, {"ip.no_next_header", 1}}));
}

TEST(FrameDecoder, Ipv6EspAndNoNextHeaderEndTheWalk) {
  Harness h;
  Ipv6 esp;
  esp.next = 60;
  Bytes esp_body(32, 0x5a);
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(esp, cat({extHeader(50), esp_body})))));
  Ipv6 none;
  none.next = 59;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(none, {}))));
  EXPECT_EQ(h.nonZero(), (Counts{{"ip.esp", 1}, {"ip.no_next_header", 1}}));
}

TEST(FrameDecoder, Ipv6ChainLongerThanEightHeadersIsDropped) {
  Harness h;
  Ipv6 ip;
  ip.next = 60;
  Bytes eight;
  for (int i = 0; i < 7; ++i) append(eight, extHeader(60));
  append(eight, extHeader(17));
  EXPECT_TRUE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, cat({eight, udp(5060, 5060, kInvite)})))));
  Bytes nine = cat({extHeader(60), eight, udp(5060, 5060, kInvite)});
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, nine))));
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.count("decode.ipv6_too_many_ext"), 1u);
}

TEST(FrameDecoder, OtherIpProtocolsAndSctpAreCounted) {
  Harness h;
  Ipv4 icmp;
  icmp.protocol = 1;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(icmp, Bytes(8, 0)))));
  // SCTP common headers without chunks (SIP over SCTP: tunnels_test.cc).
  Ipv4 sctp;
  sctp.protocol = 132;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(sctp, Bytes(12, 0)))));
  Ipv6 sctp6;
  sctp6.next = 132;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(sctp6, Bytes(12, 0)))));
  Ipv4 esp;
  esp.protocol = 50;
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(esp, Bytes(28, 0)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"ip.other_protocol", 1}, {"sctp.packets", 2}, {"ip.esp", 1}}));
}

// ---- fragments -----------------------------------------------------------------------------

// Reassembly in depth (order, duplicates, overlaps, caps, timeouts): ip_reassembly_test.cc.
TEST(FrameDecoder, Ipv4FragmentsAreReassembled) {
  Harness h;
  Bytes whole = udp(5060, 5060, kInvite);
  Ipv4 first;
  first.df = false;
  first.mf = true;
  Bytes head(whole.begin(), whole.begin() + 64);  // 64 = 8 * 8: a fragment boundary
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(first, head))));
  Ipv4 last;
  last.df = false;
  last.frag_offset8 = 8;
  Bytes tail(whole.begin() + 64, whole.end());
  EXPECT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4(last, tail))));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.nonZero(),
            (Counts{{"ip.fragments", 2}, {"ip.frag_reassembled", 1}, {"udp.sip", 1}}));
}

TEST(FrameDecoder, Ipv6FragmentsAreReassembled) {
  Harness h;
  Bytes whole = udp(5060, 5060, kInvite);
  Ipv6 ip;
  ip.next = 44;
  Bytes head(whole.begin(), whole.begin() + 64);
  Bytes tail(whole.begin() + 64, whole.end());
  EXPECT_FALSE(
      h.decode(kDltEn10mb, ethernet(kIpv6Type, ipv6(ip, cat({fragHeader(17, 0, true, 7), head})))));
  EXPECT_TRUE(h.decode(kDltEn10mb,
                       ethernet(kIpv6Type, ipv6(ip, cat({fragHeader(17, 8, false, 7), tail})))));
  // A fragment header behind a hop-by-hop header is found as well.
  Ipv6 hbh;
  hbh.next = 0;
  EXPECT_FALSE(h.decode(
      kDltEn10mb,
      ethernet(kIpv6Type, ipv6(hbh, cat({extHeader(44), fragHeader(17, 0, true, 8), head})))));
  EXPECT_TRUE(h.decode(
      kDltEn10mb,
      ethernet(kIpv6Type, ipv6(hbh, cat({extHeader(44), fragHeader(17, 8, false, 8), tail})))));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.out[1].bytes, kInvite);
  EXPECT_EQ(h.nonZero(),
            (Counts{{"ip.fragments", 4}, {"ip.frag_reassembled", 2}, {"udp.sip", 2}}));
}

TEST(FrameDecoder, Ipv6AtomicFragmentIsAWholePacket) {
  // RFC 6946: offset 0 and M clear means the packet was never split.
  Harness h;
  Ipv6 ip;
  ip.next = 44;
  ASSERT_TRUE(h.decode(
      kDltEn10mb,
      ethernet(kIpv6Type, ipv6(ip, cat({fragHeader(17, 0, false, 9), udp(5060, 5060, kInvite)})))));
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.count("ip.fragments"), 0u);
}

// ---- UDP -----------------------------------------------------------------------------------

TEST(FrameDecoder, NonSipOnTheSipPortIsAHintNotAGate) {
  Harness h;
  // An RTP packet (version 2, PT 8) sent to 5060, and the same to a high port.
  Bytes rtp{0x80, 0x08, 0x00, 0x01, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78};
  rtp.resize(172, 0xd5);
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(40000, 5060, rtp)))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(5080, 40002, rtp)))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(40000, 40002, rtp)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.not_sip", 3}, {"udp.not_sip_on_sip_port", 2}}));
}

TEST(FrameDecoder, SipOnANonStandardPortIsRecognised) {
  Harness h;
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, sipUdpV4(kInvite, 33000, 7777))));
  EXPECT_EQ(h.out[0].src.port, 33000);
  EXPECT_EQ(h.out[0].dst.port, 7777);
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.sip", 1}}));
}

TEST(FrameDecoder, ConfiguredSipPortsDriveTheHint) {
  DecoderConfig cfg;
  cfg.sip_ports = {7777};
  Harness h(cfg);
  Bytes junk = bytesOf("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(40000, 5060, junk)))));
  EXPECT_FALSE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(40000, 7777, junk)))));
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.not_sip", 2}, {"udp.not_sip_on_sip_port", 1}}));
}

TEST(FrameDecoder, UdpPayloadIsTrimmedToTheUdpLength) {
  Harness h;
  // The IP packet carries 5 bytes more than the UDP length says: they are not part of the message.
  Bytes payload = cat({bytesOf(kInvite), Bytes(5, 'x')});
  Bytes dgram = udp(5060, 5060, payload, static_cast<uint16_t>(8 + kInvite.size()));
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, dgram))));
  EXPECT_EQ(h.out[0].bytes, kInvite);
}

TEST(FrameDecoder, EmptySinkIsAllowed) {
  FrameDecoder d(DecoderConfig{}, nullptr);
  Bytes f = ethernet(kIpv4Type, sipUdpV4());
  EXPECT_TRUE(d.decode(kDltEn10mb, 0, f, static_cast<uint32_t>(f.size())));
}

// ---- counters are API ----------------------------------------------------------------------

TEST(FrameDecoder, PublishesEveryCounterInAFixedOrderStartingAtZero) {
  FrameDecoder d(DecoderConfig{}, nullptr);
  std::vector<std::string> names;
  d.forEachCounter([&](std::string_view n, uint64_t v) {
    names.emplace_back(n);
    EXPECT_EQ(v, 0u) << n;
  });
  // The README documents these; renaming one breaks dashboards.
  std::vector<std::string> want{"decode.frames",
                                "decode.unsupported_linktype",
                                "decode.truncated_ethernet",
                                "decode.truncated_sll",
                                "decode.truncated_loopback",
                                "decode.truncated_vlan",
                                "decode.vlan_too_deep",
                                "decode.not_ip",
                                "decode.snapped",
                                "decode.bad_ip_version",
                                "decode.truncated_ipv4",
                                "decode.bad_ipv4_ihl",
                                "decode.bad_ipv4_length",
                                "decode.truncated_ipv6",
                                "decode.truncated_ipv6_ext",
                                "decode.ipv6_too_many_ext",
                                "ip.fragments",
                                "ip.esp",
                                "ip.no_next_header",
                                "ip.other_protocol",
                                "ip.esp_null",
                                "ip.esp_null_bad",
                                "ip.frag_reassembled",
                                "ip.frag_duplicates",
                                "ip.frag_overlaps",
                                "ip.frag_malformed",
                                "ip.frag_too_big",
                                "ip.frag_timeouts",
                                "ip.frag_table_full",
                                "ip.frag_memory_cap",
                                "tunnel.mpls",
                                "tunnel.pppoe",
                                "tunnel.gre",
                                "tunnel.erspan",
                                "tunnel.vxlan",
                                "tunnel.ip_in_ip",
                                "tunnel.truncated",
                                "tunnel.unsupported",
                                "tunnel.too_deep",
                                "tunnel.gre_ppp",
                                "tunnel.gtpu",
                                "tunnel.control",
                                "decode.duplicate_frames",
                                "udp.truncated",
                                "udp.bad_length",
                                "udp.sip",
                                "udp.not_sip",
                                "udp.not_sip_on_sip_port",
                                "tcp.truncated",
                                "tcp.bad_offset",
                                "tcp.segments",
                                "tcp.sip",
                                "tcp.no_content_length",
                                "tcp.bad_content_length",
                                "tcp.keepalive",
                                "tcp.unreassembled",
                                "tcp.streams",
                                "tcp.midstream",
                                "tcp.closed",
                                "tcp.expired",
                                "tcp.out_of_order",
                                "tcp.retransmissions",
                                "tcp.overlap_bytes",
                                "tcp.gaps",
                                "tcp.resync",
                                "tcp.skipped_bytes",
                                "tcp.not_sip",
                                "tcp.streams_table_full",
                                "tcp.stream_bytes_cap",
                                "tcp.total_bytes_cap",
                                "sctp.packets",
                                "sctp.sip",
                                "sctp.not_sip",
                                "sctp.fragmented",
                                "sctp.truncated",
                                "sctp.reassembled",
                                "sctp.frag_duplicates",
                                "sctp.frag_malformed",
                                "sctp.frag_too_big",
                                "sctp.frag_assoc_full",
                                "sctp.frag_table_full",
                                "sctp.frag_memory_cap",
                                "sctp.frag_timeouts",
                                "sctp.frag_incomplete",
                                "prefilter.register",
                                "prefilter.options",
                                "prefilter.subscribe",
                                "prefilter.notify",
                                "prefilter.publish",
                                "prefilter.message",
                                "hep.packets",
                                "hep.v2",
                                "hep.compressed",
                                "hep.sip",
                                "hep.bad_version",
                                "hep.truncated",
                                "hep.bad_length",
                                "hep.bad_chunk",
                                "hep.no_address",
                                "hep.no_payload",
                                "hep.auth_failed",
                                "hep.decompress_failed",
                                "hep.too_big",
                                "hep.other_proto_type",
                                "hep.not_sip",
                                "hep.tcp_gaps",
                                "hep.tcp_resync",
                                "hep.tcp_skipped_bytes",
                                "hep.tcp_streams_table_full",
                                "hep.capture_ids_overflow"};
  EXPECT_EQ(names, want);
}

}  // namespace
}  // namespace mcn::capture::test
