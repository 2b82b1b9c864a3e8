#pragma once
// Encapsulation headers found on SPAN and remote-SPAN ports, one small parser each: given the
// bytes after the outer header that announced it, check the bounds and say what comes next. The
// decoder (decoder.cc) dispatches on the answer, so a tunnel adds no special case to the link, VLAN
// or IP decoders, and nesting (VXLAN inside GRE, MPLS inside GRE ...) falls out of the recursion,
// bounded by kMaxEncapDepth.

#include <cstdint>
#include <span>

namespace mcn::capture::detail {

// Tunnels inside tunnels: ERSPAN over GRE inside an MPLS VPN is three; four leaves room.
inline constexpr int kMaxEncapDepth = 4;
// RFC 3032 label stacks are short (transport + service + entropy labels).
inline constexpr int kMaxMplsLabels = 8;

enum class DecapStatus : uint8_t {
  kOk,
  kTruncated,    // a header runs past the data (tunnel.truncated)
  kUnsupported,  // a version, flag or payload type we do not decode (tunnel.unsupported)
};

enum class Inner : uint8_t {
  kEthernet,   // an Ethernet frame (GRE TEB, ERSPAN, VXLAN, MPLS pseudowire)
  kEthertype,  // the payload of this EtherType (GRE's protocol type is an EtherType)
  kIp,         // an IP packet, version from its first nibble (MPLS, ERSPAN III frame type 2)
};

enum class TunnelKind : uint8_t { kGre, kErspan, kVxlan, kMpls, kPppoe };

struct Decap {
  DecapStatus status = DecapStatus::kUnsupported;
  TunnelKind kind = TunnelKind::kGre;
  Inner inner = Inner::kEthertype;
  uint16_t ethertype = 0;  // Inner::kEthertype
  // What tells two tunnels between the same endpoints apart (GRE key, ERSPAN session, VXLAN VNI,
  // bottom MPLS label, PPPoE session): folded into the IP fragment key.
  uint32_t id = 0;
  std::span<const uint8_t> payload;
};

// GRE (RFC 2784, key and sequence number RFC 2890), version 0, and what rides on it: IPv4, IPv6,
// MPLS, transparent Ethernet bridging (0x6558), ERSPAN type I/II (0x88be) and type III (0x22eb,
// with the optional platform-specific subheader). `d` starts at the GRE header.
Decap decapGre(std::span<const uint8_t> d);

// VXLAN (RFC 7348 §5): `d` is the UDP payload. kUnsupported if the I flag is clear (then the
// datagram is treated as ordinary UDP).
Decap decapVxlan(std::span<const uint8_t> d);

// MPLS label stack (RFC 3032 §2.1) up to bottom of stack, then IP by version nibble, or an
// Ethernet pseudowire (RFC 4448) with or without the control word (RFC 4385). `d` starts at the
// first label stack entry.
Decap decapMpls(std::span<const uint8_t> d);

// PPPoE session stage (RFC 2516 §5.4, EtherType 0x8864) carrying PPP IPv4 (0x0021) or IPv6
// (0x0057). `d` starts at the PPPoE header.
Decap decapPppoe(std::span<const uint8_t> d);

}  // namespace mcn::capture::detail
