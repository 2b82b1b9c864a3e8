#pragma once
// Builds encapsulation headers for tests, on top of frame_builder.h: GRE (RFC 2784/2890),
// ERSPAN type II/III, VXLAN, MPLS label stacks, PPPoE session, SCTP DATA chunks.

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
