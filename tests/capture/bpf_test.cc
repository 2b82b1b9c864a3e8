// The default live-capture filter, compiled by libpcap (pcap_open_dead + pcap_compile) and run
// on built frames with pcap_offline_filter: what must pass (SIP anywhere, fragments after the
// first, VLANs at any depth, tunnels) and what it exists to stop (RTP/RTCP).

#include "mcn/capture/bpf.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <memory>

#include "decoder_harness.h"
#include "encap_builder.h"

namespace mcn::capture::test {
namespace {

class Filter {
 public:
  explicit Filter(int dlt) : pcap_(pcap_open_dead(dlt, 262144), &pcap_close) {
    std::string expr = defaultLiveFilter(dlt);
    ok_ = pcap_compile(pcap_.get(), &prog_, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (!ok_) error_ = pcap_geterr(pcap_.get());
  }
  ~Filter() {
    if (ok_) pcap_freecode(&prog_);
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  size_t instructions() const { return prog_.bf_len; }

  bool passes(const Bytes& frame) const {
    pcap_pkthdr h{};
    h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
    return pcap_offline_filter(&prog_, &h, frame.data()) != 0;
  }

 private:
  std::unique_ptr<pcap_t, decltype(&pcap_close)> pcap_;
  bpf_program prog_{};
  bool ok_ = false;
  std::string error_;
};

// An RTP packet (version 2, PT 0, seq 1, 160 bytes of PCMU) between two media ports, and RTCP.
Bytes rtp() {
  Bytes b{0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78};
  b.resize(172, 0xff);
  return udp(16384, 16386, b);
}
Bytes rtcp() {
  Bytes b{0x81, 0xc8, 0x00, 0x0c};
  b.resize(52, 0);
  return udp(16385, 16387, b);
}
Bytes sip() { return udp(5060, 5060, kInvite); }
Bytes sipOnHighPort() { return udp(34000, 7070, kInvite); }

Bytes v4(const Bytes& l4, uint8_t proto = 17) {
  Ipv4 ip;
  ip.protocol = proto;
  return ipv4(ip, l4);
}
Bytes eth4(const Bytes& l4, std::initializer_list<Tag> tags = {}) {
  return ethernet(kIpv4Type, v4(l4), tags);
}

TEST(LiveFilter, CompilesForEveryLinkTypeWeCaptureOn) {
  for (int dlt : {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_NULL}) {
    Filter f(dlt);
    EXPECT_TRUE(f.ok()) << dlt << ": " << f.error();
    // Well under the kernel's BPF_MAXINSNS (4096).
    EXPECT_LT(f.instructions(), 400u) << dlt;
  }
}

TEST(LiveFilter, PassesSipOnAnyPortAndDropsRtp) {
  Filter f(DLT_EN10MB);
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_TRUE(f.passes(eth4(sip())));
  EXPECT_TRUE(f.passes(eth4(sipOnHighPort())));
  EXPECT_TRUE(f.passes(eth4(udp(5060, 5060, std::string_view("\r\n\r\n")))));  // keep-alive
  EXPECT_TRUE(f.passes(ethernet(kIpv6Type, ipv6({}, sip()))));
  EXPECT_FALSE(f.passes(eth4(rtp())));
  EXPECT_FALSE(f.passes(eth4(rtcp())));
  EXPECT_FALSE(f.passes(ethernet(kIpv6Type, ipv6({}, rtp()))));
  // TCP and SCTP pass whole (stream continuation segments have no recognisable first byte).
  Ipv4 t;
  t.protocol = 6;
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, ipv4(t, tcp(40000, 5060, "ack me")))));
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(sctp(5060, 5060, {sctpData(kInvite)}), 132))));
  // What a mirror also carries and mcn has no use for.
  Ipv4 icmp;
  icmp.protocol = 1;
  EXPECT_FALSE(f.passes(ethernet(kIpv4Type, ipv4(icmp, Bytes(8, 0)))));
  EXPECT_FALSE(f.passes(ethernet(0x0806, Bytes(28, 0))));
}

TEST(LiveFilter, PassesFragmentsThatCarryNoPorts) {
  Filter f(DLT_EN10MB);
  ASSERT_TRUE(f.ok()) << f.error();
  Bytes whole = sip();
  Ipv4 first;
  first.df = false;
  first.mf = true;
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, ipv4(first, Bytes(whole.begin(), whole.begin() + 64)))));
  Ipv4 later;
  later.df = false;
  later.frag_offset8 = 8;
  // A non-first fragment starts mid-message: whatever its first byte, it passes.
  Bytes tail(whole.begin() + 64, whole.end());
  tail[0] = 0x80;
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, ipv4(later, tail))));
  Ipv6 ip6;
  ip6.next = 44;
  EXPECT_TRUE(f.passes(ethernet(kIpv6Type, ipv6(ip6, cat({fragHeader(17, 8, false, 1), tail})))));
  Ipv6 hbh;
  hbh.next = 0;
  EXPECT_TRUE(f.passes(
      ethernet(kIpv6Type, ipv6(hbh, cat({extHeader(44), fragHeader(17, 8, false, 1), tail})))));
}

TEST(LiveFilter, VlanTagsAtAnyDepth) {
  Filter f(DLT_EN10MB);
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_TRUE(f.passes(eth4(sip(), {{0x8100, 100}})));
  EXPECT_TRUE(f.passes(eth4(sip(), {{0x88a8, 200}, {0x8100, 100}})));
  EXPECT_TRUE(f.passes(eth4(sip(), {{0x9100, 300}, {0x88a8, 200}, {0x8100, 100}})));
  // RTP is still recognised under one, two and three tags ...
  EXPECT_FALSE(f.passes(eth4(rtp(), {{0x8100, 100}})));
  EXPECT_FALSE(f.passes(eth4(rtp(), {{0x88a8, 200}, {0x8100, 100}})));
  EXPECT_FALSE(f.passes(eth4(rtp(), {{0x9100, 300}, {0x88a8, 200}, {0x8100, 100}})));
  // ... and from four tags on everything passes: the decoder sorts it out (max_vlan_depth).
  EXPECT_TRUE(f.passes(eth4(rtp(), {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}})));
  EXPECT_TRUE(
      f.passes(eth4(sip(), {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}, {0x8100, 5}})));
  // A fragment under a tag.
  Ipv4 later;
  later.df = false;
  later.frag_offset8 = 8;
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, ipv4(later, Bytes(40, 0x80)), {{0x8100, 7}})));
}

TEST(LiveFilter, TunnelsPassWithWhateverTheyCarry) {
  Filter f(DLT_EN10MB);
  ASSERT_TRUE(f.ok()) << f.error();
  Gre g;
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(gre(g, v4(sip())), 47))));
  // RTP inside GRE passes too: BPF cannot follow the variable GRE header.
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(gre(g, v4(rtp())), 47))));
  Gre e;
  e.protocol = 0x88be;
  e.seq = 1;
  EXPECT_TRUE(
      f.passes(ethernet(kIpv4Type, v4(gre(e, erspan2(1, eth4(sip()))), 47), {{0x8100, 9}})));
  EXPECT_TRUE(f.passes(eth4(udp(49152, 4789, vxlan(1, eth4(sip()))))));
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(v4(sip()), 4))));
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(ipv6({}, sip()), 41))));
  Ipv6 o6;
  o6.next = 47;
  EXPECT_TRUE(f.passes(ethernet(kIpv6Type, ipv6(o6, gre(g, v4(sip()))))));
  EXPECT_TRUE(f.passes(ethernet(0x8847, mpls({16}, v4(sip())))));
  EXPECT_TRUE(f.passes(ethernet(0x8864, pppoe(0x0021, v4(sip())))));
  EXPECT_TRUE(f.passes(ethernet(0x8847, mpls({16}, v4(sip())), {{0x8100, 5}})));
  // PPP in enhanced GRE, GTP-U (first octet 0x30: not RTP), ESP over IPv4 and IPv6.
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(greV1({}, ppp(0x21, v4(sip()))), 47))));
  EXPECT_TRUE(f.passes(eth4(udp(2152, 2152, gtpu({}, v4(sip()))))));
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(espNull(0x1000, 17, sip()), 50))));
  Ipv6 esp6;
  esp6.next = 50;
  EXPECT_TRUE(f.passes(ethernet(kIpv6Type, ipv6(esp6, espNull(0x1000, 17, sip())))));
  EXPECT_TRUE(f.passes(ethernet(kIpv4Type, v4(espNull(0x1000, 17, sip()), 50), {{0x8100, 3}})));
}

TEST(LiveFilter, CookedAndRawLinkTypes) {
  Filter sll(DLT_LINUX_SLL);
  ASSERT_TRUE(sll.ok()) << sll.error();
  EXPECT_TRUE(sll.passes(mcn::capture::test::sll(kIpv4Type, v4(sip()))));
  EXPECT_FALSE(sll.passes(mcn::capture::test::sll(kIpv4Type, v4(rtp()))));
  Filter raw(DLT_RAW);
  ASSERT_TRUE(raw.ok()) << raw.error();
  EXPECT_TRUE(raw.passes(v4(sip())));
  EXPECT_TRUE(raw.passes(ipv6({}, sip())));
  EXPECT_FALSE(raw.passes(v4(rtp())));
}

}  // namespace
}  // namespace mcn::capture::test
