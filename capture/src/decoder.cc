// FrameDecoder: one small decoder per layer. Each takes a borrowed view of the bytes that layer
// owns, checks its bounds, counts what is wrong under a stable name (counters.h) and hands the rest
// on by key (link type, EtherType, IP protocol). Nothing here throws or allocates except the owned
// SipPayload bytes of an emitted message.

#include "mcn/capture/decoder.h"

#include <algorithm>
#include <bitset>
#include <cstring>
#include <map>
#include <optional>
#include <random>

#include "counters.h"
#include "frame_dedup.h"
#include "ip_reassembly.h"
#include "mcn/capture/prefilter.h"
#include "reassembler.h"
#include "sctp_reassembly.h"
#include "sip_framer.h"
#include "tcp_reassembly.h"
#include "tunnels.h"

namespace mcn::capture {

using detail::Counter;

namespace {

// IEEE 802 EtherTypes
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;     // IEEE 802.1Q C-tag
constexpr uint16_t kEtherQinQ = 0x88a8;     // IEEE 802.1ad S-tag
constexpr uint16_t kEtherQinQOld = 0x9100;  // pre-802.1ad vendor S-tag, still common on switches
constexpr uint16_t kEtherMinType = 0x0600;  // below this the field is an 802.3 length
constexpr uint16_t kEtherMpls = 0x8847;     // RFC 5332 §4: MPLS unicast
constexpr uint16_t kEtherMplsMulticast = 0x8848;
constexpr uint16_t kEtherPppoeSession = 0x8864;  // RFC 2516 §5.4

// Link types libpcap reports besides the named ones in LinkType: DLT_RAW is 12 on most
// platforms and 14 on OpenBSD; pcap files store it as LINKTYPE_RAW (101).
constexpr int kDltRawCommon = 12;
constexpr int kDltRawOpenBsd = 14;

// BSD loopback address families. AF_INET is 2 everywhere; AF_INET6 differs by OS (NetBSD/OpenBSD
// 24, FreeBSD 28, Darwin 30), and a capture may come from any of them.
constexpr uint32_t kBsdAfInet = 2;
constexpr bool isBsdAfInet6(uint32_t af) { return af == 24 || af == 28 || af == 30; }

// IP protocol numbers (IANA)
constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIpv4Encap = 4;  // RFC 2003 IP-in-IP
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIpv6Encap = 41;  // RFC 4213 §3.5 IPv6-in-IPv4, RFC 2473 in IPv6
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoGre = 47;
constexpr uint8_t kProtoEsp = 50;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoNoNext = 59;
constexpr uint8_t kProtoDstOpts = 60;
constexpr uint8_t kProtoMobility = 135;
constexpr uint8_t kProtoHip = 139;
constexpr uint8_t kProtoShim6 = 140;
constexpr uint8_t kProtoExp1 = 253;
constexpr uint8_t kProtoExp2 = 254;
constexpr uint8_t kProtoSctp = 132;

// Real packets carry two or three extension headers; a longer chain is an attack or garbage and
// walking it costs time on the capture thread.
constexpr int kMaxIpv6ExtHeaders = 8;

constexpr size_t kEthernetHeader = 14;
constexpr size_t kSllHeader = 16;   // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html
constexpr size_t kSll2Header = 20;  // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html
constexpr size_t kLoopbackHeader = 4;
constexpr size_t kVlanTag = 4;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kUdpHeader = 8;
constexpr size_t kTcpMinHeader = 20;

using Bytes = std::span<const uint8_t>;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }

inline std::string_view asText(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Per-frame state, on the stack: what the outer layers learned that the inner ones report.
struct Packet {
  int64_t ts_us = 0;
  bool snapped = false;  // caplen < wire_len
  uint8_t vlan_depth = 0;
  std::array<uint16_t, kMaxVlanDepth> vlan{};
  Endpoint src;
  Endpoint dst;
  uint32_t emitted = 0;
  uint8_t encap_depth = 0;  // tunnels entered (tunnels.h)
  uint64_t tunnel = 0;      // digest of the tunnel headers, part of the IP fragment key
  // From a HEP packet: the agent's capture id.
  bool has_capture_id = false;
  uint32_t capture_id = 0;
  // The UDP payload that prefilteredUdp() found to be SIP the pre-filter keeps: decodeUdp and
  // emit do not test it again.
  std::string_view kept_sip;
};

}  // namespace

struct FrameDecoder::Impl {
  Impl(DecoderConfig c, Sink s)
      : cfg(std::move(c)),
        sink(std::move(s)),
        max_vlan_depth(std::clamp(cfg.max_vlan_depth, 0, kMaxVlanDepth)),
        reassembler(std::make_unique<detail::IpReassembler>(
            detail::ReassemblyLimits{std::max<int64_t>(cfg.ip_frag.timeout_ms, 0) * 1000,
                                     cfg.ip_frag.max_datagrams, cfg.ip_frag.max_bytes},
            // Hash-table seed: a sender must not be able to aim fragment ids at one bucket.
            (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}())),
        dedup(int64_t{std::max(cfg.dedup_window_ms, 0)} * 1000) {
    for (uint16_t p : cfg.sip_ports) sip_ports.set(p);
    for (uint16_t p : cfg.vxlan_ports) vxlan_ports.set(p);
    for (uint16_t p : cfg.gtpu_ports) gtpu_ports.set(p);
    for (uint16_t p : cfg.hep.ports) hep_ports.set(p);
  }

  DecoderConfig cfg;
  Sink sink;
  int max_vlan_depth;
  std::bitset<65536> sip_ports;
  detail::Counters counters;
  std::unique_ptr<detail::Reassembler> reassembler;
  detail::FrameDedup dedup;
  SipPayload scratch;  // see emit()
  std::bitset<65536> vxlan_ports;
  std::bitset<65536> gtpu_ports;
  std::bitset<65536> hep_ports;
  // HEP (hep.h): the decompression buffer, HEP-over-TCP streams of a capture, packets per
  // capture id (bounded).
  std::string hep_scratch;
  struct HepStream {
    uint32_t next_seq = 0;
    HepStreamFramer framer;
  };
  std::unordered_map<detail::StreamKey, HepStream, detail::StreamKeyHash> hep_streams;
  std::map<uint32_t, uint64_t> hep_capture_ids;
  static constexpr size_t kMaxCaptureIds = 64;
  // SIP over TCP: one byte stream per direction (tcp_reassembly.h).
  std::unique_ptr<detail::TcpReassembler> tcp =
      std::make_unique<detail::TcpReassembler>(cfg.tcp, counters);
  // SIP over SCTP: user messages fragmented across chunks (sctp_reassembly.h).
  std::unique_ptr<detail::SctpReassembler> sctp = std::make_unique<detail::SctpReassembler>(
      cfg.sctp, counters, (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());

  void inc(Counter c) { counters.inc(c); }

  // A layer whose bytes ran past the captured data. If the capture was cut by its snaplen that is
  // the reason (decode.snapped); otherwise the file or a length field lies.
  void truncated(const Packet& pkt, Counter c) {
    counters.inc(c);
    if (pkt.snapped) counters.inc(Counter::kSnapped);
  }

  void decodeLink(int link_type, Packet& pkt, Bytes d);
  void decodeEthernet(Packet& pkt, Bytes d);
  void decodeSll(Packet& pkt, Bytes d);
  void decodeSll2(Packet& pkt, Bytes d);
  void decodeLoopback(Packet& pkt, Bytes d, bool network_order);
  void decodeRaw(Packet& pkt, Bytes d);
  void decodeEthertype(Packet& pkt, uint16_t type, Bytes d);
  void decodeIpv4(Packet& pkt, Bytes d);
  void decodeIpv6(Packet& pkt, Bytes d);
  void decodeTransport(Packet& pkt, uint8_t protocol, Bytes d);
  void decodeIpByVersion(Packet& pkt, Bytes d);
  bool enterTunnel(Packet& pkt, Counter kind, uint32_t id);
  void decodeDecap(Packet& pkt, const detail::Decap& t);
  void decodeSctp(Packet& pkt, Bytes d);
  void decodeEsp(Packet& pkt, Bytes d);
  void decodeUdp(Packet& pkt, Bytes d);
  void decodeTcp(Packet& pkt, Bytes d);
  void decodeHep(Packet& pkt, Bytes d);
  void decodeHepTcp(Packet& pkt, const detail::TcpSegment& seg);
  void emit(Packet& pkt, Transport t, std::string_view bytes);
  bool prefilteredUdp(Packet& pkt, Bytes udp);
  void countPrefiltered(IgnoredMethod m);

  // Messages come out of the stream of their own direction, possibly another stream's when this
  // segment's time expires it: each carries its stream's addresses and completion time.
  struct Emitter final : detail::MessageSink {
    Emitter(Impl& i, Packet& p) : impl(i), pkt(p) {}
    void onMessage(const detail::StreamKey& k, int64_t ts_us, std::string_view bytes) override {
      Packet m = pkt;
      m.emitted = 0;
      m.ts_us = ts_us;
      m.src = k.src;
      m.dst = k.dst;
      m.vlan_depth = k.vlan_depth;
      m.vlan = k.vlan;
      m.tunnel = k.tunnel;
      impl.emit(m, Transport::kTcp, bytes);
      pkt.emitted += m.emitted;
    }
    Impl& impl;
    Packet& pkt;
  };
};

void FrameDecoder::Impl::decodeLink(int link_type, Packet& pkt, Bytes d) {
  switch (link_type) {
    case static_cast<int>(LinkType::kHep):
      return decodeHep(pkt, d);
    case static_cast<int>(LinkType::kEthernet):
      return decodeEthernet(pkt, d);
    case static_cast<int>(LinkType::kLinuxSll):
      return decodeSll(pkt, d);
    case static_cast<int>(LinkType::kLinuxSll2):
      return decodeSll2(pkt, d);
    case static_cast<int>(LinkType::kNull):
      return decodeLoopback(pkt, d, /*network_order=*/false);
    case static_cast<int>(LinkType::kLoop):
      return decodeLoopback(pkt, d, /*network_order=*/true);
    case static_cast<int>(LinkType::kRaw):
    case kDltRawCommon:
    case kDltRawOpenBsd:
      return decodeRaw(pkt, d);
    case static_cast<int>(LinkType::kIpv4):
      return decodeIpv4(pkt, d);
    case static_cast<int>(LinkType::kIpv6):
      return decodeIpv6(pkt, d);
    default:
      inc(Counter::kUnsupportedLinktype);
      return;
  }
}

void FrameDecoder::Impl::decodeEthernet(Packet& pkt, Bytes d) {
  if (d.size() < kEthernetHeader) return truncated(pkt, Counter::kTruncatedEthernet);
  uint16_t type = be16(d.data() + 12);
  if (type < kEtherMinType) return inc(Counter::kNotIp);  // 802.3 length + LLC (STP, CDP ...)
  decodeEthertype(pkt, type, d.subspan(kEthernetHeader));
}

void FrameDecoder::Impl::decodeSll(Packet& pkt, Bytes d) {
  if (d.size() < kSllHeader) return truncated(pkt, Counter::kTruncatedSll);
  // The protocol field is an EtherType, or a small Linux ETH_P_* value (802.2, 802.3 ...)
  // that falls to decode.not_ip.
  decodeEthertype(pkt, be16(d.data() + 14), d.subspan(kSllHeader));
}

void FrameDecoder::Impl::decodeSll2(Packet& pkt, Bytes d) {
  if (d.size() < kSll2Header) return truncated(pkt, Counter::kTruncatedSll);
  decodeEthertype(pkt, be16(d.data()), d.subspan(kSll2Header));
}

void FrameDecoder::Impl::decodeLoopback(Packet& pkt, Bytes d, bool network_order) {
  if (d.size() < kLoopbackHeader) return truncated(pkt, Counter::kTruncatedLoopback);
  uint32_t af = be32(d.data());
  Bytes ip = d.subspan(kLoopbackHeader);
  // DLT_NULL holds the AF value in the byte order of the host that wrote the file, which we do
  // not know: accept both. DLT_LOOP is always network order.
  if (af == kBsdAfInet || (!network_order && bswap32(af) == kBsdAfInet)) {
    return decodeIpv4(pkt, ip);
  }
  if (isBsdAfInet6(af) || (!network_order && isBsdAfInet6(bswap32(af)))) {
    return decodeIpv6(pkt, ip);
  }
  inc(Counter::kNotIp);
}

void FrameDecoder::Impl::decodeRaw(Packet& pkt, Bytes d) {
  // No link header: the IP version nibble says which. An empty frame counts as a truncated IPv4
  // header, as it would on an Ethernet frame.
  if (!d.empty() && (d[0] >> 4) == 6) return decodeIpv6(pkt, d);
  if (!d.empty() && (d[0] >> 4) != 4) return inc(Counter::kBadIpVersion);
  decodeIpv4(pkt, d);
}

void FrameDecoder::Impl::decodeEthertype(Packet& pkt, uint16_t type, Bytes d) {
  for (;;) {
    switch (type) {
      case kEtherVlan:
      case kEtherQinQ:
      case kEtherQinQOld: {
        if (pkt.vlan_depth >= max_vlan_depth) return inc(Counter::kVlanTooDeep);
        if (d.size() < kVlanTag) return truncated(pkt, Counter::kTruncatedVlan);
        pkt.vlan[pkt.vlan_depth++] = be16(d.data()) & 0x0fff;  // VID: low 12 bits of the TCI
        type = be16(d.data() + 2);
        d = d.subspan(kVlanTag);
        continue;
      }
      case kEtherIpv4:
        return decodeIpv4(pkt, d);
      case kEtherIpv6:
        return decodeIpv6(pkt, d);
      case kEtherMpls:
      case kEtherMplsMulticast:
        return decodeDecap(pkt, detail::decapMpls(d));
      case kEtherPppoeSession:
        return decodeDecap(pkt, detail::decapPppoe(d));
      default:
        return inc(Counter::kNotIp);
    }
  }
}

void FrameDecoder::Impl::decodeIpByVersion(Packet& pkt, Bytes d) {
  if (!d.empty() && (d[0] >> 4) == 6) return decodeIpv6(pkt, d);
  decodeIpv4(pkt, d);
}

bool FrameDecoder::Impl::enterTunnel(Packet& pkt, Counter kind, uint32_t id) {
  if (pkt.encap_depth >= detail::kMaxEncapDepth) {
    inc(Counter::kTunnelTooDeep);
    return false;
  }
  ++pkt.encap_depth;
  inc(kind);
  // The outer addresses (zero for MPLS/PPPoE on the link) and the tunnel's own id, folded into
  // the digest that keeps fragments of different tunnels apart.
  uint8_t buf[16 + 16 + 4 + 1];
  std::memcpy(buf, pkt.src.addr.data(), 16);
  std::memcpy(buf + 16, pkt.dst.addr.data(), 16);
  std::memcpy(buf + 32, &id, 4);
  buf[36] = static_cast<uint8_t>(kind);
  pkt.tunnel = detail::hashBytes(buf, sizeof buf, pkt.tunnel ^ 0x9e3779b97f4a7c15ull);
  return true;
}

void FrameDecoder::Impl::decodeDecap(Packet& pkt, const detail::Decap& t) {
  using detail::DecapStatus;
  if (t.status == DecapStatus::kTruncated) return truncated(pkt, Counter::kTunnelTruncated);
  if (t.status == DecapStatus::kUnsupported) return inc(Counter::kTunnelUnsupported);
  if (t.status == DecapStatus::kControl) return inc(Counter::kTunnelControl);
  Counter kind = Counter::kTunnelGre;
  switch (t.kind) {
    case detail::TunnelKind::kGre:
      kind = Counter::kTunnelGre;
      break;
    case detail::TunnelKind::kErspan:
      kind = Counter::kTunnelErspan;
      break;
    case detail::TunnelKind::kVxlan:
      kind = Counter::kTunnelVxlan;
      break;
    case detail::TunnelKind::kMpls:
      kind = Counter::kTunnelMpls;
      break;
    case detail::TunnelKind::kPppoe:
      kind = Counter::kTunnelPppoe;
      break;
    case detail::TunnelKind::kGrePpp:
      kind = Counter::kTunnelGrePpp;
      break;
    case detail::TunnelKind::kGtpu:
      kind = Counter::kTunnelGtpu;
      break;
  }
  if (!enterTunnel(pkt, kind, t.id)) return;
  switch (t.inner) {
    case detail::Inner::kEthernet:
      return decodeEthernet(pkt, t.payload);
    case detail::Inner::kEthertype:
      return decodeEthertype(pkt, t.ethertype, t.payload);
    case detail::Inner::kIp:
      return decodeIpByVersion(pkt, t.payload);
  }
}

void FrameDecoder::Impl::decodeIpv4(Packet& pkt, Bytes d) {
  // RFC 791 §3.1
  if (d.size() < kIpv4MinHeader) return truncated(pkt, Counter::kTruncatedIpv4);
  if ((d[0] >> 4) != 4) return inc(Counter::kBadIpVersion);
  size_t ihl = size_t{d[0] & 0x0fu} * 4;
  if (ihl < kIpv4MinHeader) return inc(Counter::kBadIpv4Ihl);
  size_t total = be16(d.data() + 2);
  if (total < ihl) return inc(Counter::kBadIpv4Length);
  if (total > d.size()) return truncated(pkt, Counter::kTruncatedIpv4);
  d = d.first(total);  // anything after is Ethernet padding (frames shorter than 64 bytes)
  const bool fragment = (be16(d.data() + 6) & 0x3fffu) != 0;  // MF or an offset
  if (!fragment && d[9] == kProtoUdp && prefilteredUdp(pkt, d.subspan(ihl))) return;
  if (dedup.enabled() && dedup.isDuplicate(detail::ipv4Digest(d, ihl), pkt.ts_us)) {
    return inc(Counter::kDuplicateFrames);
  }

  pkt.src.v6 = pkt.dst.v6 = false;
  std::memcpy(pkt.src.addr.data(), d.data() + 12, 4);
  std::memcpy(pkt.dst.addr.data(), d.data() + 16, 4);
  uint8_t protocol = d[9];
  uint16_t frag = be16(d.data() + 6);
  bool more = (frag & 0x2000) != 0;
  uint32_t offset = uint32_t{frag & 0x1fffu} * 8;
  Bytes payload = d.subspan(ihl);
  if (more || offset != 0) {
    inc(Counter::kIpFragments);
    detail::Fragment f;
    f.key.src = pkt.src.addr;
    f.key.dst = pkt.dst.addr;
    f.key.protocol = protocol;
    f.key.id = be16(d.data() + 4);
    f.key.vlan_depth = pkt.vlan_depth;
    f.key.vlan = pkt.vlan;
    f.key.tunnel = pkt.tunnel;
    f.ts_us = pkt.ts_us;
    f.protocol = protocol;
    f.offset = offset;
    f.more = more;
    f.data = payload;
    if (auto whole = reassembler->addFragment(f, counters)) {
      decodeTransport(pkt, whole->protocol, whole->payload);
    }
    return;
  }
  decodeTransport(pkt, protocol, payload);
}

void FrameDecoder::Impl::decodeIpv6(Packet& pkt, Bytes d) {
  // RFC 8200 §3
  if (d.size() < kIpv6Header) return truncated(pkt, Counter::kTruncatedIpv6);
  if ((d[0] >> 4) != 6) return inc(Counter::kBadIpVersion);
  size_t total = kIpv6Header + be16(d.data() + 4);
  if (total > d.size()) return truncated(pkt, Counter::kTruncatedIpv6);
  d = d.first(total);
  if (d[6] == kProtoUdp && prefilteredUdp(pkt, d.subspan(kIpv6Header))) return;
  if (dedup.enabled() && dedup.isDuplicate(detail::ipv6Digest(d), pkt.ts_us)) {
    return inc(Counter::kDuplicateFrames);
  }

  pkt.src.v6 = pkt.dst.v6 = true;
  std::memcpy(pkt.src.addr.data(), d.data() + 8, 16);
  std::memcpy(pkt.dst.addr.data(), d.data() + 24, 16);

  // RFC 8200 §4: walk the extension header chain to the upper-layer header.
  uint8_t next = d[6];
  Bytes p = d.subspan(kIpv6Header);
  for (int n = 0;; ++n) {
    switch (next) {
      case kProtoHopByHop:
      case kProtoRouting:
      case kProtoDstOpts:
      case kProtoMobility:  // RFC 6275 §6.1.1
      case kProtoHip:       // RFC 7401 §5.1
      case kProtoShim6:     // RFC 5533 §5
      case kProtoExp1:      // RFC 3692 experiments, RFC 6564 uniform format
      case kProtoExp2:
      case kProtoAh: {
        if (n >= kMaxIpv6ExtHeaders) return inc(Counter::kIpv6TooManyExt);
        if (p.size() < 8) return inc(Counter::kTruncatedIpv6Ext);
        // Hdr Ext Len counts 8-octet units after the first 8; AH counts 4-octet units minus 2
        // (RFC 4302 §2.2).
        size_t len = next == kProtoAh ? (size_t{p[1]} + 2) * 4 : (size_t{p[1]} + 1) * 8;
        if (len > p.size()) return inc(Counter::kTruncatedIpv6Ext);
        next = p[0];
        p = p.subspan(len);
        continue;
      }
      case kProtoFragment: {
        // RFC 8200 §4.5
        if (n >= kMaxIpv6ExtHeaders) return inc(Counter::kIpv6TooManyExt);
        if (p.size() < 8) return inc(Counter::kTruncatedIpv6Ext);
        uint16_t off_m = be16(p.data() + 2);
        uint32_t offset = off_m & 0xfff8u;  // 13-bit offset in 8-octet units, already shifted
        bool more = (off_m & 1) != 0;
        uint8_t inner = p[0];
        if (offset == 0 && !more) {
          // An atomic fragment is a whole packet and is processed in isolation (RFC 6946 §4).
          next = inner;
          p = p.subspan(8);
          continue;
        }
        inc(Counter::kIpFragments);
        detail::Fragment f;
        f.key.src = pkt.src.addr;
        f.key.dst = pkt.dst.addr;
        f.key.v6 = true;
        f.key.id = be32(p.data() + 4);
        f.key.vlan_depth = pkt.vlan_depth;
        f.key.vlan = pkt.vlan;
        f.key.tunnel = pkt.tunnel;
        f.ts_us = pkt.ts_us;
        f.protocol = inner;
        f.offset = offset;
        f.more = more;
        f.data = p.subspan(8);
        if (auto whole = reassembler->addFragment(f, counters)) {
          decodeTransport(pkt, whole->protocol, whole->payload);
        }
        return;
      }
      case kProtoEsp:
        return decodeEsp(pkt, p);
      case kProtoNoNext:
        return inc(Counter::kIpNoNextHeader);
      default:
        return decodeTransport(pkt, next, p);
    }
  }
}

void FrameDecoder::Impl::decodeTransport(Packet& pkt, uint8_t protocol, Bytes d) {
  switch (protocol) {
    case kProtoUdp:
      return decodeUdp(pkt, d);
    case kProtoTcp:
      return decodeTcp(pkt, d);
    case kProtoSctp:
      return decodeSctp(pkt, d);
    case kProtoGre:
      return decodeDecap(pkt, detail::decapGre(d));
    case kProtoIpv4Encap:
      if (!enterTunnel(pkt, Counter::kTunnelIpInIp, 4)) return;
      return decodeIpv4(pkt, d);
    case kProtoIpv6Encap:
      if (!enterTunnel(pkt, Counter::kTunnelIpInIp, 41)) return;
      return decodeIpv6(pkt, d);
    case kProtoEsp:
      return decodeEsp(pkt, d);
    case kProtoNoNext:
      return inc(Counter::kIpNoNextHeader);
    default:
      return inc(Counter::kIpOtherProtocol);
  }
}

void FrameDecoder::Impl::decodeSctp(Packet& pkt, Bytes d) {
  // RFC 9260 §3: a 12-byte common header, then chunks (type, flags, length, value), each padded
  // to 4 bytes. SIP over SCTP (RFC 4168 §5) puts one message in one user message; a message
  // that SCTP fragmented (B and E not both set) is reassembled (sctp_reassembly.h). SIP has no
  // payload protocol id of its own (senders use 0), so the PPID is not looked at: the bytes must
  // look like SIP. The CRC32c is not checked, for the reason the UDP checksum is not.
  inc(Counter::kSctpPackets);
  if (d.size() < 12) return inc(Counter::kSctpTruncated);
  pkt.src.port = be16(d.data());
  pkt.dst.port = be16(d.data() + 2);
  const uint32_t vtag = be32(d.data() + 4);
  Bytes chunks = d.subspan(12);
  while (chunks.size() >= 4) {
    const uint8_t type = chunks[0];
    const uint8_t flags = chunks[1];
    const size_t len = be16(chunks.data() + 2);
    if (len < 4 || len > chunks.size()) return inc(Counter::kSctpTruncated);
    // DATA (RFC 9260 §3.3.1): TSN, stream id, stream sequence, PPID before the user data.
    // I-DATA (RFC 8260 §2.1): TSN, stream id, reserved, MID, PPID/FSN.
    const size_t header = type == 0 ? 16 : type == 64 ? 20 : 0;
    if (header != 0) {
      if (len < header) return inc(Counter::kSctpTruncated);
      std::optional<std::string_view> payload = asText(chunks.subspan(header, len - header));
      if ((flags & 0x03) != 0x03) {
        inc(Counter::kSctpFragmented);  // B = 0x02, E = 0x01
        detail::SctpFragment f;
        f.assoc.src = pkt.src;
        f.assoc.dst = pkt.dst;
        f.assoc.vtag = vtag;
        f.assoc.vlan_depth = pkt.vlan_depth;
        f.assoc.vlan = pkt.vlan;
        f.assoc.tunnel = pkt.tunnel;
        f.ts_us = pkt.ts_us;
        f.kind = type == 0 ? detail::SctpChunkKind::kData : detail::SctpChunkKind::kIData;
        f.begin = (flags & 0x02) != 0;
        f.end = (flags & 0x01) != 0;
        f.unordered = (flags & 0x04) != 0;
        f.tsn = be32(chunks.data() + 4);
        f.stream = be16(chunks.data() + 8);
        f.ssn_or_mid = type == 0 ? be16(chunks.data() + 10) : be32(chunks.data() + 12);
        f.fsn = type == 0 ? 0 : be32(chunks.data() + 16);
        f.data = *payload;
        // A completed message takes the way an unfragmented one takes, with this chunk's packet.
        payload = sctp->addFragment(f);
      }
      if (payload) {
        if (looksLikeSip(*payload)) {
          inc(Counter::kSctpSip);
          emit(pkt, Transport::kSctp, *payload);
        } else {
          inc(Counter::kSctpNotSip);
        }
      }
    }
    // The last chunk's padding may be missing from a short capture.
    chunks = chunks.subspan(std::min(chunks.size(), (len + 3) & ~size_t{3}));
  }
}

// ESP (RFC 4303) is opaque unless its encryption is NULL (RFC 2410; 3GPP TS 33.203 on the Gm
// interface in test networks and some deployments): then the payload is the next header's
// packet in the clear (tunnels.h, decodeEspNull). Transport mode keeps the outer addresses (the
// UE's and the P-CSCF's, which are also what TCP reassembly keys on); tunnel mode carries an IP
// packet, entered like any tunnel (nesting limit, SPI in the fragment key).
void FrameDecoder::Impl::decodeEsp(Packet& pkt, Bytes d) {
  const detail::Esp e = detail::decodeEspNull(d, cfg.esp_null, cfg.esp_null_heuristic);
  if (e.status == detail::EspStatus::kEncrypted) return inc(Counter::kIpEsp);
  if (e.status == detail::EspStatus::kBad) return inc(Counter::kIpEspNullBad);
  if (e.next == kProtoIpv4Encap || e.next == kProtoIpv6Encap) {
    if (!enterTunnel(pkt, Counter::kIpEspNull, e.spi)) return;
    return e.next == kProtoIpv4Encap ? decodeIpv4(pkt, e.payload) : decodeIpv6(pkt, e.payload);
  }
  inc(Counter::kIpEspNull);
  // ESP directly inside ESP (a configured SA can say so) counts as one more layer, so a chain of
  // them stays bounded like tunnels.
  if (e.next == kProtoEsp) {
    if (pkt.encap_depth >= detail::kMaxEncapDepth) return inc(Counter::kTunnelTooDeep);
    ++pkt.encap_depth;
  }
  decodeTransport(pkt, e.next, e.payload);
}

void FrameDecoder::Impl::decodeUdp(Packet& pkt, Bytes d) {
  // RFC 768. The checksum is not verified: mirrored traffic from hosts with checksum offload
  // often carries wrong ones, and the IP length checks already bound what we read.
  if (d.size() < kUdpHeader) return inc(Counter::kUdpTruncated);
  size_t len = be16(d.data() + 4);
  if (len < kUdpHeader || len > d.size()) return inc(Counter::kUdpBadLength);
  pkt.src.port = be16(d.data());
  pkt.dst.port = be16(d.data() + 2);
  Bytes body = d.subspan(kUdpHeader, len - kUdpHeader);
  if (vxlan_ports.test(pkt.dst.port)) {
    detail::Decap v = detail::decapVxlan(body);
    // Without the I flag it is not VXLAN (or not ours): decode it as the UDP it is.
    if (v.status != detail::DecapStatus::kUnsupported) return decodeDecap(pkt, v);
  }
  // A first octet that is not GTPv1 with PT = 1 (GTP', a stray datagram): the UDP it is.
  if (gtpu_ports.test(pkt.dst.port) && !body.empty() && (body[0] & 0xf0) == 0x30) {
    return decodeDecap(pkt, detail::decapGtpu(body));
  }
  // HEP to a HEP port: "HEP3", or a version 1/2 header with an address family. Anything else is
  // decoded as the UDP it is.
  if (hep_ports.test(pkt.dst.port) && body.size() >= 4 &&
      (std::memcmp(body.data(), "HEP3", 4) == 0 ||
       ((body[0] == 1 || body[0] == 2) && (body[2] == 2 || body[2] == 10)))) {
    return decodeHep(pkt, body);
  }
  // RFC 3261 §18.3: one message per datagram; bytes past the UDP length are not part of it.
  std::string_view payload = asText(body);
  if (payload.data() == pkt.kept_sip.data() || looksLikeSip(payload)) {
    inc(Counter::kUdpSip);
    return emit(pkt, Transport::kUdp, payload);
  }
  inc(Counter::kUdpNotSip);
  if (sip_ports.test(pkt.src.port) || sip_ports.test(pkt.dst.port)) {
    inc(Counter::kUdpNotSipOnSipPort);
  }
}

void FrameDecoder::Impl::decodeTcp(Packet& pkt, Bytes d) {
  // RFC 9293 §3.1
  if (d.size() < kTcpMinHeader) return inc(Counter::kTcpTruncated);
  size_t off = (size_t{d[12]} >> 4) * 4;  // data offset counts 32-bit words
  if (off < kTcpMinHeader || off > d.size()) return inc(Counter::kTcpBadOffset);
  inc(Counter::kTcpSegments);
  pkt.src.port = be16(d.data());
  pkt.dst.port = be16(d.data() + 2);

  Emitter emitter(*this, pkt);

  constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04;
  uint8_t flags = d[13];
  std::string_view payload = asText(d.subspan(off));
  // A bare ACK carries nothing: decode() already moved the streams' clock for this frame.
  if (payload.empty() && (flags & (kFin | kSyn | kRst)) == 0) return;
  detail::TcpSegment seg;
  seg.key.src = pkt.src;
  seg.key.dst = pkt.dst;
  seg.key.vlan_depth = pkt.vlan_depth;
  seg.key.vlan = pkt.vlan;
  seg.key.tunnel = pkt.tunnel;
  seg.ts_us = pkt.ts_us;
  seg.seq = be32(d.data() + 4);
  seg.fin = (flags & kFin) != 0;
  seg.syn = (flags & kSyn) != 0;
  seg.rst = (flags & kRst) != 0;
  seg.payload = payload;
  // Both directions: the collector's side carries nothing, but its SYN-ACK and FIN are the
  // stream's.
  if (hep_ports.test(pkt.dst.port) || hep_ports.test(pkt.src.port)) return decodeHepTcp(pkt, seg);
  tcp->onSegment(seg, emitter);
}

// One HEP packet (hep.h), from a listener or a datagram/stream to a HEP port. The message it
// carries takes the addresses, transport and time the agent reported; the outer packet's only
// count for the frame itself.
void FrameDecoder::Impl::decodeHep(Packet& pkt, Bytes d) {
  inc(Counter::kHepPackets);
  HepPacket h;
  switch (capture::decodeHep(d, cfg.hep, h, hep_scratch)) {
    case HepStatus::kOk:
      break;
    case HepStatus::kNotHep:
      return inc(Counter::kHepBadVersion);
    case HepStatus::kTruncated:
      return truncated(pkt, Counter::kHepTruncated);
    case HepStatus::kBadLength:
      return inc(Counter::kHepBadLength);
    case HepStatus::kBadChunk:
      return inc(Counter::kHepBadChunk);
    case HepStatus::kNoAddress:
      return inc(Counter::kHepNoAddress);
    case HepStatus::kNoPayload:
      return inc(Counter::kHepNoPayload);
    case HepStatus::kAuthFailed:
      return inc(Counter::kHepAuthFailed);
    case HepStatus::kDecompressFailed:
      return inc(Counter::kHepDecompressFailed);
    case HepStatus::kTooBig:
      return inc(Counter::kHepTooBig);
  }
  if (h.version < 3) inc(Counter::kHepV2);
  if (h.compressed) inc(Counter::kHepCompressed);
  if (h.has_capture_id) {
    auto it = hep_capture_ids.find(h.capture_id);
    if (it != hep_capture_ids.end()) {
      ++it->second;
    } else if (hep_capture_ids.size() < kMaxCaptureIds) {
      hep_capture_ids.emplace(h.capture_id, 1);
    } else {
      inc(Counter::kHepCaptureIdsOverflow);
    }
  }
  // RTCP, QoS reports, logs ...: not signalling.
  if (h.proto_type != 1) return inc(Counter::kHepOtherProtoType);
  if (!looksLikeSip(h.payload)) return inc(Counter::kHepNotSip);
  inc(Counter::kHepSip);
  Packet m;
  m.ts_us = h.has_time ? h.ts_us : pkt.ts_us;
  m.src = h.src;
  m.dst = h.dst;
  m.has_capture_id = h.has_capture_id;
  m.capture_id = h.capture_id;
  emit(m, hepTransport(h.ip_proto), h.payload);
  pkt.emitted += m.emitted;
}

// HEP over TCP in a capture: in-order bytes per direction are framed by the HEP length
// (HepStreamFramer). No holding of out-of-order segments: a gap (a segment ahead of the next
// expected byte) drops what is buffered and resynchronises on the next "HEP3" (hep.tcp_gaps);
// a retransmission of bytes already taken is ignored. FIN/RST forget the direction.
void FrameDecoder::Impl::decodeHepTcp(Packet& pkt, const detail::TcpSegment& seg) {
  auto it = hep_streams.find(seg.key);
  if (seg.rst || (seg.fin && seg.payload.empty())) {
    if (it != hep_streams.end()) hep_streams.erase(it);
    return;
  }
  if (it == hep_streams.end()) {
    if (hep_streams.size() >= cfg.hep.max_tcp_streams) return inc(Counter::kHepTcpStreamsTableFull);
    it = hep_streams.emplace(seg.key, HepStream{}).first;
    // Without a SYN the capture started mid-stream: look for the first "HEP3".
    it->second.next_seq = seg.syn ? seg.seq + 1 : seg.seq;
    if (!seg.syn) it->second.framer.reset();
  } else if (seg.syn) {
    it->second = HepStream{};
    it->second.next_seq = seg.seq + 1;
  }
  HepStream& st = it->second;
  std::string_view data = seg.payload;
  uint32_t seq = seg.syn ? seg.seq + 1 : seg.seq;
  const auto ahead = static_cast<int32_t>(seq - st.next_seq);
  if (ahead > 0) {
    inc(Counter::kHepTcpGaps);
    st.framer.reset();
    st.next_seq = seq;
  } else if (ahead < 0) {
    const auto old = static_cast<size_t>(-static_cast<int64_t>(ahead));
    if (old >= data.size())
      data = {};  // a retransmission
    else
      data.remove_prefix(old);
  }
  const uint64_t resyncs = st.framer.resyncs(), skipped = st.framer.skipped_bytes();
  st.framer.append({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  st.next_seq += static_cast<uint32_t>(data.size());
  for (auto p = st.framer.next(); !p.empty(); p = st.framer.next()) {
    Packet inner = pkt;
    inner.ts_us = seg.ts_us;
    decodeHep(inner, p);
    pkt.emitted += inner.emitted;
  }
  counters.inc(Counter::kHepTcpResync, st.framer.resyncs() - resyncs);
  counters.inc(Counter::kHepTcpSkippedBytes, st.framer.skipped_bytes() - skipped);
  if (seg.fin) hep_streams.erase(it);
}

static_assert(static_cast<int>(Counter::kPrefilterMessage) -
                      static_cast<int>(Counter::kPrefilterRegister) ==
                  static_cast<int>(IgnoredMethod::kMessage) -
                      static_cast<int>(IgnoredMethod::kRegister),
              "prefilter counters follow IgnoredMethod");

// Registration, presence and keep-alive datagrams (70 % of the frames of a generated IMS mix) are
// counted and dropped here, before the frame dedup digest: hashing every byte of a packet that is
// dropped anyway was a tenth of a replay's time. So a mirror copy of one of them counts in
// udp.sip and prefilter.* again rather than in decode.duplicate_frames. Only a whole datagram
// (the caller checks it is not a fragment) outside the VXLAN ports, with the checks decodeUdp
// makes; anything else takes the usual way. `udp` is the transport header and what follows.
bool FrameDecoder::Impl::prefilteredUdp(Packet& pkt, Bytes udp) {
  if (!cfg.prefilter || udp.size() < kUdpHeader) return false;
  const size_t len = be16(udp.data() + 4);
  if (len < kUdpHeader || len > udp.size() || vxlan_ports.test(be16(udp.data() + 2))) return false;
  const std::string_view payload = asText(udp.subspan(kUdpHeader, len - kUdpHeader));
  if (!looksLikeSip(payload)) return false;
  const IgnoredMethod m = ignoredMethod(payload);
  if (m == IgnoredMethod::kNone) {
    pkt.kept_sip = payload;
    return false;
  }
  inc(Counter::kUdpSip);
  countPrefiltered(m);
  return true;
}

void FrameDecoder::Impl::countPrefiltered(IgnoredMethod m) {
  // kPrefilterRegister .. kPrefilterMessage follow IgnoredMethod's order.
  inc(static_cast<Counter>(static_cast<int>(Counter::kPrefilterRegister) + static_cast<int>(m) -
                           1));
}

void FrameDecoder::Impl::emit(Packet& pkt, Transport t, std::string_view bytes) {
  if (cfg.prefilter && bytes.data() != pkt.kept_sip.data()) {
    IgnoredMethod m = ignoredMethod(bytes);
    if (m != IgnoredMethod::kNone) return countPrefiltered(m);
  }
  ++pkt.emitted;
  if (!sink) return;
  // One payload object for every message: a sink that only reads it (the replay loop) leaves
  // its buffer here for the next message, so emitting allocates nothing; a sink that moves it
  // away (onto a ring) takes the buffer and the next message gets a fresh one.
  SipPayload& out = scratch;
  out.ts_us = pkt.ts_us;
  out.src = pkt.src;
  out.dst = pkt.dst;
  out.transport = t;
  out.vlan_depth = pkt.vlan_depth;
  out.vlan = pkt.vlan;
  out.bytes.assign(bytes.data(), bytes.size());
  out.has_capture_id = pkt.has_capture_id;
  out.capture_id = pkt.capture_id;
  sink(std::move(out));
}

FrameDecoder::FrameDecoder(DecoderConfig cfg, Sink sink)
    : impl_(std::make_unique<Impl>(std::move(cfg), std::move(sink))) {}

FrameDecoder::~FrameDecoder() = default;

bool FrameDecoder::decode(int link_type, int64_t ts_us, std::span<const uint8_t> frame,
                          uint32_t wire_len) {
  impl_->inc(Counter::kFrames);
  Packet pkt;
  pkt.ts_us = ts_us;
  pkt.snapped = frame.size() < wire_len;
  // Fragment and TCP stream timeouts run on packet time, checked once per frame (O(1) unless
  // one expires), so idle streams and holes expire whatever traffic carries the clock.
  impl_->reassembler->expire(ts_us, impl_->counters);
  impl_->sctp->expire(ts_us);
  {
    Impl::Emitter emitter(*impl_, pkt);
    impl_->tcp->advance(ts_us, emitter);
  }
  impl_->decodeLink(link_type, pkt, frame);
  return pkt.emitted > 0;
}

void FrameDecoder::finish() {
  // End of input: a message held behind a hole that will never be filled is still delivered,
  // and partial messages are counted (tcp.unreassembled), never dropped silently.
  Packet pkt;
  Impl::Emitter emitter(*impl_, pkt);
  impl_->tcp->flush(emitter);
  // An SCTP message still missing a fragment is counted (sctp.frag_incomplete): unlike a TCP
  // stream, nothing after its hole depends on it.
  impl_->sctp->flush();
}

void FrameDecoder::forEachHepCaptureId(
    const std::function<void(uint32_t id, uint64_t packets)>& fn) const {
  for (const auto& [id, n] : impl_->hep_capture_ids) fn(id, n);
}

void FrameDecoder::forEachCounter(
    const std::function<void(std::string_view name, uint64_t value)>& fn) const {
  impl_->counters.forEach(fn);
}

}  // namespace mcn::capture
