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
constexpr uint16_t kGrePpp = 0x880b;      // RFC 2637 §4.1: PPP in enhanced GRE

// IP protocol numbers (IANA) an ESP trailer may name.
constexpr uint8_t kProtoIpv4 = 4;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIpv6 = 41;
constexpr uint8_t kProtoSctp = 132;

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

// RFC 2637 §4.1, enhanced GRE (version 1, PPTP; also what some mirror setups send):
//   C(0) R(0) K(1) S s(0) Recur(0) | A Flags(0) Ver(1) | Protocol Type 0x880b
//   Key: Payload Length(16) Call ID(16) | [Sequence Number if S] | [Acknowledgment Number if A]
// A packet without payload only acknowledges (kControl). The payload length may be less than
// what follows the header (link padding), never more.
Decap decapEnhancedGre(Bytes d) {
  if (d.size() < 8) return fail(TunnelKind::kGrePpp, DecapStatus::kTruncated);
  const uint16_t flags = be16(d.data());
  const bool s = flags & 0x1000;
  const bool a = flags & 0x0080;
  // C, R, s and Recur must be zero, K one; the protocol is PPP.
  if ((flags & 0xef00) != 0x2000 || be16(d.data() + 2) != kGrePpp) {
    return fail(TunnelKind::kGrePpp, DecapStatus::kUnsupported);
  }
  const size_t len = be16(d.data() + 4);
  const uint16_t call_id = be16(d.data() + 6);
  const size_t hl = 8 + (s ? 4 : 0) + (a ? 4 : 0);
  if (d.size() < hl || len > d.size() - hl) {
    return fail(TunnelKind::kGrePpp, DecapStatus::kTruncated);
  }
  if (len == 0) return fail(TunnelKind::kGrePpp, DecapStatus::kControl);
  return decapPpp(d.subspan(hl, len), TunnelKind::kGrePpp, call_id);
}

// The inner header's own length must account for exactly the bytes the ESP trailer leaves: the
// check that makes a guessed trailer on encrypted bytes fail (a random 16-bit length matches
// one time in 65536).
bool innerFits(uint8_t next, Bytes p) {
  switch (next) {
    case kProtoUdp:
      return p.size() >= 8 && be16(p.data() + 4) == p.size();
    case kProtoTcp: {
      // RFC 9293 §3.1: no length field; the data offset must fit, and the three reserved bits
      // after it be zero (the fourth is AccECN's AE flag now).
      if (p.size() < 20 || (p[12] & 0x0e) != 0) return false;
      const size_t off = size_t{p[12]} >> 4 << 2;
      return off >= 20 && off <= p.size();
    }
    case kProtoSctp: {
      // RFC 9260 §3: the first chunk's length must fit.
      if (p.size() < 16) return false;
      const size_t len = be16(p.data() + 14);
      return len >= 4 && len <= p.size() - 12;
    }
    case kProtoIpv4:
      return p.size() >= 20 && (p[0] >> 4) == 4 && (p[0] & 0x0f) >= 5 &&
             be16(p.data() + 2) == p.size();
    case kProtoIpv6:
      return p.size() >= 40 && (p[0] >> 4) == 6 && size_t{be16(p.data() + 4)} + 40 == p.size();
    default:
      return false;
  }
}

}  // namespace

Decap decapPpp(Bytes ppp, TunnelKind kind, uint32_t id) {
  // RFC 1662 §3.1: All-Stations address 0xff, Unnumbered Information control 0x03, unless the
  // peers negotiated their omission (RFC 1661 §6.6). No protocol field starts with 0xff: two
  // octets start even (§2), and one octet 0xff would be protocol 0x00ff, which IANA reserves
  // ("compression inefficient"); so the two forms do not collide.
  if (ppp.size() >= 2 && ppp[0] == 0xff && ppp[1] == 0x03) ppp = ppp.subspan(2);
  // RFC 1661 §2, §6.5: a protocol field with an odd first octet is one octet long.
  if (ppp.empty()) return fail(kind, DecapStatus::kTruncated);
  uint16_t proto = 0;
  if (ppp[0] & 1) {
    proto = ppp[0];
    ppp = ppp.subspan(1);
  } else {
    if (ppp.size() < 2) return fail(kind, DecapStatus::kTruncated);
    proto = be16(ppp.data());
    ppp = ppp.subspan(2);
  }
  switch (proto) {
    case 0x0021:  // RFC 1332
      return ok(kind, Inner::kEthertype, ppp, id, kEtherIpv4);
    case 0x0057:  // RFC 5072
      return ok(kind, Inner::kEthertype, ppp, id, kEtherIpv6);
    default:  // LCP, IPCP, CHAP ...: control traffic
      return fail(kind, DecapStatus::kUnsupported);
  }
}

Decap decapGre(Bytes d) {
  // RFC 2784 §2.1: C(1) R(1, RFC 1701) K(1) S(1, RFC 2890) Reserved0(9) Ver(3) | Protocol Type
  if (d.size() < 4) return fail(TunnelKind::kGre, DecapStatus::kTruncated);
  const uint16_t flags = be16(d.data());
  const uint16_t proto = be16(d.data() + 2);
  const bool c = flags & 0x8000;
  const bool r = flags & 0x4000;
  const bool k = flags & 0x2000;
  const bool s = flags & 0x1000;
  if ((flags & 0x7) == 1) return decapEnhancedGre(d);
  // RFC 1701 source routing is deprecated by RFC 2784 and has a variable-length routing field we
  // do not walk.
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
  // Anything after the PPPoE length is Ethernet padding.
  return decapPpp(d.subspan(6, len), TunnelKind::kPppoe, session);
}

Decap decapGtpu(Bytes d) {
  // TS 29.281 §5.1: Version(3)=1 PT(1)=1 spare E S PN | Message Type | Length | TEID, then, if
  // any of E, S, PN is set, Sequence Number(16) N-PDU Number(8) Next Extension Header Type(8).
  // Length counts the octets after the first 8 (optional fields and extension headers
  // included), so it bounds what follows; anything past it is not this PDU.
  if (d.size() < 8) return fail(TunnelKind::kGtpu, DecapStatus::kTruncated);
  if ((d[0] & 0xf0) != 0x30) return fail(TunnelKind::kGtpu, DecapStatus::kUnsupported);
  const size_t len = be16(d.data() + 2);
  if (len > d.size() - 8) return fail(TunnelKind::kGtpu, DecapStatus::kTruncated);
  const uint32_t teid = be32(d.data() + 4);
  // §7.3: 255 is the G-PDU; echo (1, 2), error indication (26), supported extension headers
  // notification (31) and end marker (254) carry no user data.
  if (d[1] != 255) return fail(TunnelKind::kGtpu, DecapStatus::kControl);
  Bytes p = d.subspan(8, len);
  if ((d[0] & 0x07) != 0) {
    if (p.size() < 4) return fail(TunnelKind::kGtpu, DecapStatus::kTruncated);
    uint8_t next = (d[0] & 0x04) ? p[3] : 0;  // the type octet is meaningful only with E
    p = p.subspan(4);
    // §5.2.1: each extension header is Length (in 4-octet units, the length and next type
    // octets included; 0 is invalid), content, Next Extension Header Type; 0 ends the chain.
    for (int n = 0; next != 0; ++n) {
      if (n >= kMaxGtpuExtHeaders) return fail(TunnelKind::kGtpu, DecapStatus::kUnsupported);
      if (p.empty()) return fail(TunnelKind::kGtpu, DecapStatus::kTruncated);
      const size_t ext = size_t{p[0]} * 4;
      if (ext == 0) return fail(TunnelKind::kGtpu, DecapStatus::kUnsupported);
      if (ext > p.size()) return fail(TunnelKind::kGtpu, DecapStatus::kTruncated);
      next = p[ext - 1];
      p = p.subspan(ext);
    }
  }
  // T-PDU: an IP packet (or, for an Ethernet or unstructured PDU session, something the IP
  // decoder counts as decode.bad_ip_version).
  return ok(TunnelKind::kGtpu, Inner::kIp, p, teid);
}

Esp decodeEspNull(Bytes d, std::span<const EspNullSa> sas, bool heuristic) {
  // RFC 4303 §2: SPI(32) Sequence Number(32) | Payload | Padding(0-255) Pad Length Next Header
  // | ICV. NULL encryption has no IV (RFC 2410 §2).
  Esp e;
  if (d.size() < 8) return e;  // too short for ESP at all: counted as ip.esp, as before
  e.spi = be32(d.data());
  auto trailer = [&](size_t icv, bool check) -> bool {
    if (d.size() < 8 + 2 + icv) return false;
    const size_t end = d.size() - icv;  // one past the next header octet
    const size_t pad = d[end - 2];
    if (pad > end - 10) return false;
    const size_t payload_end = end - 2 - pad;
    e.next = d[end - 1];
    e.payload = d.subspan(8, payload_end - 8);
    if (!check) return true;
    // §2.4: padding bytes, when the transmitter adds them for no other algorithm's sake, are
    // 1, 2, 3 ... and a receiver could check them; the heuristic relies on it.
    for (size_t i = 0; i < pad; ++i) {
      if (d[payload_end + i] != i + 1) return false;
    }
    return innerFits(e.next, e.payload);
  };
  for (const EspNullSa& sa : sas) {
    if (sa.spi != e.spi) continue;
    e.status = trailer(sa.icv_len, /*check=*/false) ? EspStatus::kNull : EspStatus::kBad;
    return e;
  }
  if (heuristic) {
    for (size_t icv : {size_t{12}, size_t{16}}) {
      if (trailer(icv, /*check=*/true)) {
        e.status = EspStatus::kNull;
        return e;
      }
    }
  }
  e.payload = {};
  e.next = 0;
  return e;
}

}  // namespace mcn::capture::detail
