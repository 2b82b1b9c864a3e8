#pragma once
// Builds encapsulation headers for tests, on top of frame_builder.h: GRE (RFC 2784/2890),
// ERSPAN type II/III, VXLAN, MPLS label stacks, PPPoE session, SCTP DATA chunks, enhanced GRE
// (RFC 2637) with PPP, GTP-U (3GPP TS 29.281), ESP with NULL encryption (RFC 4303, RFC 2410).

#include <cstdint>
#include <string_view>
#include <vector>

#include "frame_builder.h"

namespace mcn::capture::test {

struct Gre {
  uint16_t protocol = 0x0800;
  bool checksum = false;
  std::optional<uint32_t> key;
  std::optional<uint32_t> seq;
  uint8_t version = 0;
};

inline Bytes gre(const Gre& g, const Bytes& payload) {
  Bytes b;
  uint16_t flags = static_cast<uint16_t>((g.checksum ? 0x8000 : 0) | (g.key ? 0x2000 : 0) |
                                         (g.seq ? 0x1000 : 0) | g.version);
  put16(b, flags);
  put16(b, g.protocol);
  if (g.checksum) put32(b, 0);  // checksum + reserved1 (not verified by the decoder)
  if (g.key) put32(b, *g.key);
  if (g.seq) put32(b, *g.seq);
  append(b, payload);
  return b;
}

// ERSPAN type II header (draft-foschiano-erspan §4.1): Ver 1, VLAN, COS, En, T, session, index.
inline Bytes erspan2(uint16_t session, const Bytes& frame, uint16_t vlan = 0) {
  Bytes b;
  put16(b, static_cast<uint16_t>(0x1000 | (vlan & 0x0fff)));
  put16(b, static_cast<uint16_t>(session & 0x03ff));
  put32(b, 7);  // reserved 0, index 7
  append(b, frame);
  return b;
}

// ERSPAN type III (§4.2): Ver 2, VLAN, COS/BSO/T, session; timestamp; SGT, P, FT, HwID, D, Gra,
// O; with O set an 8-byte platform-specific subheader follows.
inline Bytes erspan3(uint16_t session, const Bytes& frame, bool platform = false,
                     uint8_t frame_type = 0) {
  Bytes b;
  put16(b, 0x2000);
  put16(b, static_cast<uint16_t>(session & 0x03ff));
  put32(b, 0x01020304);  // timestamp
  put16(b, 0);           // SGT
  put16(b, static_cast<uint16_t>((frame_type & 0x1f) << 10 | (1 << 4) | (platform ? 1 : 0)));
  if (platform) {
    put32(b, 0x0c000000);  // platform id 3 in the top 6 bits, as Wireshark reads it
    put32(b, 0x12345678);
  }
  append(b, frame);
  return b;
}

inline Bytes vxlan(uint32_t vni, const Bytes& frame, uint8_t flags = 0x08) {
  Bytes b{flags, 0, 0, 0};
  put32(b, vni << 8);
  append(b, frame);
  return b;
}

inline Bytes mpls(std::initializer_list<uint32_t> labels, const Bytes& payload) {
  Bytes b;
  size_t i = 0;
  for (uint32_t l : labels) {
    bool bottom = ++i == labels.size();
    put32(b, (l << 12) | (bottom ? 0x100u : 0u) | 64u);
  }
  append(b, payload);
  return b;
}

// PPPoE session header + PPP protocol (2 bytes, or 1 when compressed).
inline Bytes pppoe(uint16_t ppp_protocol, const Bytes& payload, bool compressed = false,
                   uint16_t session = 0x1234) {
  Bytes ppp;
  if (compressed) {
    put8(ppp, static_cast<uint8_t>(ppp_protocol));
  } else {
    put16(ppp, ppp_protocol);
  }
  append(ppp, payload);
  Bytes b{0x11, 0x00};
  put16(b, session);
  put16(b, static_cast<uint16_t>(ppp.size()));
  append(b, ppp);
  return b;
}

// A PPP frame (no HDLC flags or FCS): address/control 0xff 0x03 unless `acfc`, the protocol in
// one octet when `pfc` (RFC 1661 §6.5, §6.6).
inline Bytes ppp(uint16_t protocol, const Bytes& payload, bool acfc = false, bool pfc = false) {
  Bytes b;
  if (!acfc) b = {0xff, 0x03};
  if (pfc) {
    put8(b, static_cast<uint8_t>(protocol));
  } else {
    put16(b, protocol);
  }
  append(b, payload);
  return b;
}

// Enhanced GRE (RFC 2637 §4.1): K always, S with a sequence number, A with an acknowledgement;
// the key holds the payload length and the call id.
struct GreV1 {
  uint16_t call_id = 0x4242;
  std::optional<uint32_t> seq = 1;
  std::optional<uint32_t> ack;
  std::optional<uint16_t> length;  // a lie, when set
};
inline Bytes greV1(const GreV1& g, const Bytes& payload) {
  Bytes b;
  put16(b, static_cast<uint16_t>(0x2000 | (g.seq ? 0x1000 : 0) | (g.ack ? 0x0080 : 0) | 1));
  put16(b, 0x880b);
  put16(b, g.length.value_or(static_cast<uint16_t>(payload.size())));
  put16(b, g.call_id);
  if (g.seq) put32(b, *g.seq);
  if (g.ack) put32(b, *g.ack);
  append(b, payload);
  return b;
}

// GTP-U header (TS 29.281 §5.1) with optional sequence number and extension headers. Each
// extension is given as its content (padded here so that length + content + next type is a
// multiple of 4) and its type.
struct GtpuExt {
  uint8_t type = 0x85;        // PDU session container (TS 38.415)
  Bytes content{0x00, 0x09};  // DL PDU session information, QFI 9
};
struct Gtpu {
  uint8_t message_type = 255;
  uint32_t teid = 0x1000a;
  std::optional<uint16_t> seq;
  std::vector<GtpuExt> ext;
  uint8_t first = 0x30;  // version 1, PT 1
};
inline Bytes gtpu(const Gtpu& g, const Bytes& payload) {
  Bytes opt;
  const bool e = !g.ext.empty();
  if (e || g.seq) {
    put16(opt, g.seq.value_or(0));
    put8(opt, 0);  // N-PDU number
    put8(opt, e ? g.ext[0].type : 0);
    for (size_t i = 0; i < g.ext.size(); ++i) {
      Bytes c = g.ext[i].content;
      while ((c.size() + 2) % 4) c.push_back(0);
      put8(opt, static_cast<uint8_t>((c.size() + 2) / 4));
      append(opt, c);
      put8(opt, i + 1 < g.ext.size() ? g.ext[i + 1].type : 0);
    }
  }
  Bytes b;
  put8(b, static_cast<uint8_t>(g.first | (e ? 0x04 : 0) | (g.seq ? 0x02 : 0)));
  put8(b, g.message_type);
  put16(b, static_cast<uint16_t>(opt.size() + payload.size()));
  put32(b, g.teid);
  append(b, opt);
  append(b, payload);
  return b;
}

// ESP (RFC 4303 §2) with NULL encryption: SPI, sequence number, the plaintext payload, padding
// 1, 2, 3 ... to a 4-byte boundary (plus `extra_pad`), pad length, next header, and an ICV of
// `icv` bytes (0xa5: nothing checks it).
inline Bytes espNull(uint32_t spi, uint8_t next, const Bytes& payload, size_t icv = 12,
                     size_t extra_pad = 0) {
  Bytes b;
  put32(b, spi);
  put32(b, 7);  // sequence number
  append(b, payload);
  size_t pad = (4 - (payload.size() + 2) % 4) % 4 + extra_pad;
  for (size_t i = 1; i <= pad; ++i) put8(b, static_cast<uint8_t>(i));
  put8(b, static_cast<uint8_t>(pad));
  put8(b, next);
  b.insert(b.end(), icv, 0xa5);
  return b;
}

// One SCTP packet with the given chunks (each already padded by sctpData).
inline Bytes sctp(uint16_t sport, uint16_t dport, std::initializer_list<Bytes> chunks) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 0xabcdef01);  // verification tag
  put32(b, 0);           // CRC32c (not verified)
  for (const Bytes& c : chunks) append(b, c);
  return b;
}

// DATA chunk (RFC 9260 §3.3.1); flags B|E = 0x03 for an unfragmented user message.
inline Bytes sctpData(std::string_view data, uint8_t flags = 0x03, uint32_t ppid = 0) {
  Bytes b{0, flags};
  put16(b, static_cast<uint16_t>(16 + data.size()));
  put32(b, 1);  // TSN
  put16(b, 0);  // stream
  put16(b, 0);  // stream sequence
  put32(b, ppid);
  append(b, data);
  while (b.size() % 4) b.push_back(0);
  return b;
}

}  // namespace mcn::capture::test
