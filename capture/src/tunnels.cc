#include "tunnels.h"

namespace mcn::capture::detail {

namespace {

using Bytes = std::span<const uint8_t>;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr uint16_t kEtherMpls = 0x8847;
constexpr uint16_t kEtherMplsMulticast = 0x8848;
constexpr uint16_t kEtherPppoeSession = 0x8864;
constexpr uint16_t kGreTeb = 0x6558;      // RFC 1701: transparent Ethernet bridging
constexpr uint16_t kGreErspan2 = 0x88be;  // ERSPAN type I and II
constexpr uint16_t kGreErspan3 = 0x22eb;  // ERSPAN type III

constexpr size_t kEthernetHeader = 14;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

Decap fail(TunnelKind kind, DecapStatus status) {
  Decap d;
  d.kind = kind;
  d.status = status;
  return d;
}

Decap ok(TunnelKind kind, Inner inner, Bytes payload, uint32_t id, uint16_t ethertype = 0) {
  Decap d;
  d.status = DecapStatus::kOk;
  d.kind = kind;
  d.inner = inner;
  d.payload = payload;
  d.id = id;
  d.ethertype = ethertype;
  return d;
}

// An EtherType the decoder can go on with after a tunnel header (what an Ethernet pseudowire or
// a GRE payload is expected to carry).
bool knownEthertype(uint16_t t) {
  switch (t) {
    case kEtherIpv4:
    case kEtherIpv6:
    case kEtherVlan:
    case kEtherQinQ:
    case kEtherQinQOld:
    case kEtherMpls:
    case kEtherMplsMulticast:
    case kEtherPppoeSession:
      return true;
    default:
      return false;
  }
}

// draft-foschiano-erspan-03 §4.1 (type II) and §4.2 (type III).
Decap decapErspan(Bytes d, bool type3, uint32_t gre_key) {
  if (!type3) {
    //  Ver(4)=1 VLAN(12) | COS(3) En(2) T(1) SessionID(10) | Reserved(12) Index(20)
    if (d.size() < 8) return fail(TunnelKind::kErspan, DecapStatus::kTruncated);
    if ((d[0] >> 4) != 1) return fail(TunnelKind::kErspan, DecapStatus::kUnsupported);
    uint32_t session = be16(d.data() + 2) & 0x03ffu;
    return ok(TunnelKind::kErspan, Inner::kEthernet, d.subspan(8), session ^ gre_key);
  }
  //  Ver(4)=2 VLAN(12) | COS(3) BSO(2) T(1) SessionID(10) | Timestamp(32)
  //  SGT(16) | P(1) FT(5) HwID(6) D(1) Gra(2) O(1) | [platform specific subheader, 8 octets]
  if (d.size() < 12) return fail(TunnelKind::kErspan, DecapStatus::kTruncated);
  if ((d[0] >> 4) != 2) return fail(TunnelKind::kErspan, DecapStatus::kUnsupported);
  uint32_t session = be16(d.data() + 2) & 0x03ffu;
  uint32_t w3 = be32(d.data() + 8);
  size_t hl = 12 + ((w3 & 1) ? 8 : 0);
  if (d.size() < hl) return fail(TunnelKind::kErspan, DecapStatus::kTruncated);
  switch ((w3 >> 10) & 0x1f) {  // frame type
    case 0:
      return ok(TunnelKind::kErspan, Inner::kEthernet, d.subspan(hl), session ^ gre_key);
    case 2:
      return ok(TunnelKind::kErspan, Inner::kIp, d.subspan(hl), session ^ gre_key);
    default:
      return fail(TunnelKind::kErspan, DecapStatus::kUnsupported);
  }
}

}  // namespace

Decap decapGre(Bytes d) {
  // RFC 2784 §2.1: C(1) R(1, RFC 1701) K(1) S(1, RFC 2890) Reserved0(9) Ver(3) | Protocol Type
  if (d.size() < 4) return fail(TunnelKind::kGre, DecapStatus::kTruncated);
  const uint16_t flags = be16(d.data());
  const uint16_t proto = be16(d.data() + 2);
  const bool c = flags & 0x8000;
  const bool r = flags & 0x4000;
  const bool k = flags & 0x2000;
  const bool s = flags & 0x1000;
  // Version 1 is PPTP's enhanced GRE (RFC 2637, PPP inside); RFC 1701 source routing is
  // deprecated by RFC 2784 and has a variable-length routing field we do not walk.
  if ((flags & 0x7) != 0 || r) return fail(TunnelKind::kGre, DecapStatus::kUnsupported);
  const size_t key_at = 4 + (c ? 4 : 0);
  const size_t hl = key_at + (k ? 4 : 0) + (s ? 4 : 0);
  if (d.size() < hl) return fail(TunnelKind::kGre, DecapStatus::kTruncated);
  const uint32_t key = k ? be32(d.data() + key_at) : 0;
  Bytes payload = d.subspan(hl);
  switch (proto) {
    case kGreTeb:
      return ok(TunnelKind::kGre, Inner::kEthernet, payload, key);
    case kGreErspan2:
      // Type I (early Catalyst) has no ERSPAN header and no sequence number; type II always
      // sets S.
      if (!s) return ok(TunnelKind::kErspan, Inner::kEthernet, payload, key);
      return decapErspan(payload, /*type3=*/false, key);
    case kGreErspan3:
      return decapErspan(payload, /*type3=*/true, key);
    case kEtherIpv4:
    case kEtherIpv6:
    case kEtherMpls:
    case kEtherMplsMulticast:
      return ok(TunnelKind::kGre, Inner::kEthertype, payload, key, proto);
    default:
      return fail(TunnelKind::kGre, DecapStatus::kUnsupported);
  }
}

Decap decapVxlan(Bytes d) {
  // RFC 7348 §5: Flags(8, I = 0x08) Reserved(24) | VNI(24) Reserved(8)
  if (d.size() < 8) return fail(TunnelKind::kVxlan, DecapStatus::kTruncated);
  if ((d[0] & 0x08) == 0) return fail(TunnelKind::kVxlan, DecapStatus::kUnsupported);
  return ok(TunnelKind::kVxlan, Inner::kEthernet, d.subspan(8), be32(d.data() + 4) >> 8);
}

Decap decapMpls(Bytes d) {
  // RFC 3032 §2.1: Label(20) TC(3) S(1) TTL(8) per entry, S set on the bottom one.
  uint32_t label = 0;
  for (int n = 0;; ++n) {
    if (n >= kMaxMplsLabels) return fail(TunnelKind::kMpls, DecapStatus::kUnsupported);
    if (d.size() < 4) return fail(TunnelKind::kMpls, DecapStatus::kTruncated);
    const uint32_t entry = be32(d.data());
    label = entry >> 12;
    d = d.subspan(4);
    if (entry & 0x100) break;
  }
  // No payload type field: guess by the first nibble like every analyser does (RFC 4928 §2 is
  // why a pseudowire's control word starts with 0000).
  if (d.empty()) return fail(TunnelKind::kMpls, DecapStatus::kTruncated);
  const uint8_t nibble = d[0] >> 4;
  if (nibble == 4 || nibble == 6) return ok(TunnelKind::kMpls, Inner::kIp, d, label);
  // Ethernet pseudowire: with the control word (RFC 4385 §3, 4 bytes), else bare. A frame must
  // show an EtherType we decode where one is expected, which also keeps a bare frame whose MAC
  // starts with 0 from being mistaken for a control word.
  if (nibble == 0 && d.size() >= 4 + kEthernetHeader && knownEthertype(be16(d.data() + 4 + 12))) {
    return ok(TunnelKind::kMpls, Inner::kEthernet, d.subspan(4), label);
  }
  if (d.size() >= kEthernetHeader && knownEthertype(be16(d.data() + 12))) {
    return ok(TunnelKind::kMpls, Inner::kEthernet, d, label);
  }
  return fail(TunnelKind::kMpls, DecapStatus::kUnsupported);
}

Decap decapPppoe(Bytes d) {
  // RFC 2516 §4: Ver(4)=1 Type(4)=1 | Code = 0x00 in the session stage | Session ID | Length
  if (d.size() < 6) return fail(TunnelKind::kPppoe, DecapStatus::kTruncated);
  if (d[0] != 0x11 || d[1] != 0x00) return fail(TunnelKind::kPppoe, DecapStatus::kUnsupported);
  const uint16_t session = be16(d.data() + 2);
  const size_t len = be16(d.data() + 4);
  if (len > d.size() - 6) return fail(TunnelKind::kPppoe, DecapStatus::kTruncated);
  Bytes ppp = d.subspan(6, len);  // anything after is Ethernet padding
  // RFC 1661 §2: a protocol field with an odd first octet is one octet long (field compression).
  if (ppp.empty()) return fail(TunnelKind::kPppoe, DecapStatus::kTruncated);
  uint16_t proto = 0;
  if (ppp[0] & 1) {
    proto = ppp[0];
    ppp = ppp.subspan(1);
  } else {
    if (ppp.size() < 2) return fail(TunnelKind::kPppoe, DecapStatus::kTruncated);
    proto = be16(ppp.data());
    ppp = ppp.subspan(2);
  }
  switch (proto) {
    case 0x0021:  // RFC 1332
      return ok(TunnelKind::kPppoe, Inner::kEthertype, ppp, session, kEtherIpv4);
    case 0x0057:  // RFC 5072
      return ok(TunnelKind::kPppoe, Inner::kEthertype, ppp, session, kEtherIpv6);
    default:  // LCP, IPCP, CHAP ...: control traffic
      return fail(TunnelKind::kPppoe, DecapStatus::kUnsupported);
  }
}

}  // namespace mcn::capture::detail
