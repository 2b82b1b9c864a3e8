#pragma once
// Builds test frames byte by byte: Ethernet, VLAN tags, Linux cooked v1/v2, BSD loopback, IPv4
// (with options and fragment fields), IPv6 (with extension headers), UDP and TCP. Every length
// field is computed unless a test overrides it to lie.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace mcn::capture::test {

using Bytes = std::vector<uint8_t>;

inline void put8(Bytes& b, uint8_t v) { b.push_back(v); }
inline void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
inline void put32le(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
inline void append(Bytes& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }
inline Bytes bytesOf(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) append(out, p);
  return out;
}

// ---- link layers ---------------------------------------------------------------------------

inline constexpr uint16_t kIpv4Type = 0x0800;
inline constexpr uint16_t kIpv6Type = 0x86dd;

struct Tag {
  uint16_t tpid;  // 0x8100, 0x88a8, 0x9100
  uint16_t vid;
  uint8_t pcp = 0;
};

// Tags go outermost first, as on the wire.
inline Bytes ethernet(uint16_t type, const Bytes& payload, std::initializer_list<Tag> tags = {}) {
  Bytes b{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,   // dst 00:00:5e:00:53:01 (RFC 7042 doc range)
          0x00, 0x00, 0x5e, 0x00, 0x53, 0x02};  // src 00:00:5e:00:53:02
  for (const Tag& t : tags) {
    put16(b, t.tpid);
    put16(b, static_cast<uint16_t>((t.pcp << 13) | t.vid));
  }
  put16(b, type);
  append(b, payload);
  return b;
}

// LINKTYPE_LINUX_SLL: packet type, ARPHRD, address length, 8 address bytes, protocol.
inline Bytes sll(uint16_t protocol, const Bytes& payload) {
  Bytes b;
  put16(b, 0);  // sent to us
  put16(b, 1);  // ARPHRD_ETHER
  put16(b, 6);
  append(b, Bytes{0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00});
  put16(b, protocol);
  append(b, payload);
  return b;
}

// LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD, packet type, address length,
// 8 address bytes.
inline Bytes sll2(uint16_t protocol, const Bytes& payload) {
  Bytes b;
  put16(b, protocol);
  put16(b, 0);
  put32(b, 3);  // ifindex
  put16(b, 1);  // ARPHRD_ETHER
  put8(b, 0);   // PACKET_HOST
  put8(b, 6);
  append(b, Bytes{0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00});
  append(b, payload);
  return b;
}

// DLT_NULL / DLT_LOOP: a 4-byte address family.
inline Bytes loopback(uint32_t af, bool big_endian, const Bytes& payload) {
  Bytes b;
  if (big_endian) {
    put32(b, af);
  } else {
    put32le(b, af);
  }
  append(b, payload);
  return b;
}

// ---- IP ------------------------------------------------------------------------------------

using V4 = std::array<uint8_t, 4>;
using V6 = std::array<uint8_t, 16>;

struct Ipv4 {
  V4 src{192, 0, 2, 10};
  V4 dst{198, 51, 100, 20};
  uint8_t protocol = 17;
  uint16_t id = 0x1234;
  bool df = true;
  bool mf = false;
  uint16_t frag_offset8 = 0;  // in 8-byte units
  Bytes options;              // padded to 4 bytes by the caller
  uint8_t version = 4;
  std::optional<uint8_t> ihl;            // override (32-bit words)
  std::optional<uint16_t> total_length;  // override
};

inline Bytes ipv4(const Ipv4& h, const Bytes& payload) {
  uint8_t ihl = h.ihl.value_or(static_cast<uint8_t>(5 + h.options.size() / 4));
  Bytes b;
  put8(b, static_cast<uint8_t>((h.version << 4) | (ihl & 0x0f)));
  put8(b, 0);
  put16(b, h.total_length.value_or(static_cast<uint16_t>(20 + h.options.size() + payload.size())));
  put16(b, h.id);
  put16(b, static_cast<uint16_t>((h.df ? 0x4000 : 0) | (h.mf ? 0x2000 : 0) | h.frag_offset8));
  put8(b, 64);
  put8(b, h.protocol);
  put16(b, 0);  // checksum, filled below
  append(b, Bytes(h.src.begin(), h.src.end()));
  append(b, Bytes(h.dst.begin(), h.dst.end()));
  append(b, h.options);
  // RFC 791 header checksum, so tshark shows the frames as clean.
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < b.size(); i += 2) sum += static_cast<uint32_t>((b[i] << 8) | b[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t csum = static_cast<uint16_t>(~sum);
  b[10] = static_cast<uint8_t>(csum >> 8);
  b[11] = static_cast<uint8_t>(csum);
  append(b, payload);
  return b;
}

struct Ipv6 {
  V6 src{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};  // 2001:db8::a
  V6 dst{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14};  // 2001:db8::14
  uint8_t next = 17;
  uint8_t version = 6;
  std::optional<uint16_t> payload_length;  // override
};

// `payload` includes any extension headers; `h.next` names the first of them.
inline Bytes ipv6(const Ipv6& h, const Bytes& payload) {
  Bytes b;
  put32(b, static_cast<uint32_t>(h.version) << 28);
  put16(b, h.payload_length.value_or(static_cast<uint16_t>(payload.size())));
  put8(b, h.next);
  put8(b, 64);
  append(b, Bytes(h.src.begin(), h.src.end()));
  append(b, Bytes(h.dst.begin(), h.dst.end()));
  append(b, payload);
  return b;
}

// A generic extension header (hop-by-hop, routing, destination options, mobility): next header,
// Hdr Ext Len in 8-octet units not counting the first, then PadN-filled content.
inline Bytes extHeader(uint8_t next, uint8_t ext_len_units = 0) {
  Bytes b{next, ext_len_units};
  size_t body = (size_t{ext_len_units} + 1) * 8 - 2;
  // One PadN option covering the rest (RFC 8200 §4.2), valid for options headers.
  b.push_back(1);
  b.push_back(static_cast<uint8_t>(body - 2));
  b.resize(b.size() + body - 2, 0);
  return b;
}

// RFC 4302 AH: Payload Len in 4-octet units minus 2; 12 fixed bytes + ICV.
inline Bytes ahHeader(uint8_t next, size_t icv_len = 12) {
  Bytes b{next, static_cast<uint8_t>((12 + icv_len) / 4 - 2), 0, 0};
  put32(b, 0x100);  // SPI
  put32(b, 1);      // sequence
  b.resize(b.size() + icv_len, 0xab);
  return b;
}

inline Bytes fragHeader(uint8_t next, uint16_t offset8, bool more, uint32_t id) {
  Bytes b{next, 0};
  put16(b, static_cast<uint16_t>((offset8 << 3) | (more ? 1 : 0)));
  put32(b, id);
  return b;
}

// ---- transport -----------------------------------------------------------------------------

inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload,
                 std::optional<uint16_t> length = std::nullopt) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, length.value_or(static_cast<uint16_t>(8 + payload.size())));
  put16(b, 0);  // no checksum (RFC 768 allows it on IPv4; tshark does not verify by default)
  append(b, payload);
  return b;
}
inline Bytes udp(uint16_t sport, uint16_t dport, std::string_view payload) {
  return udp(sport, dport, bytesOf(payload));
}

// `options` must be a multiple of 4 bytes unless a test wants a lying data offset.
inline Bytes tcp(uint16_t sport, uint16_t dport, std::string_view payload,
                 const Bytes& options = {}, std::optional<uint8_t> data_offset = std::nullopt) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 1000);  // seq
  put32(b, 2000);  // ack
  put8(b, static_cast<uint8_t>(data_offset.value_or(static_cast<uint8_t>(5 + options.size() / 4))
                               << 4));
  put8(b, 0x18);  // PSH|ACK
  put16(b, 65535);
  put16(b, 0);  // checksum (not verified by the decoder)
  put16(b, 0);
  append(b, options);
  append(b, payload);
  return b;
}

}  // namespace mcn::capture::test
