#pragma once
// Encapsulation headers found on SPAN and remote-SPAN ports, one small parser each: given the
// bytes after the outer header that announced it, check the bounds and say what comes next. The
// decoder (decoder.cc) dispatches on the answer, so a tunnel adds no special case to the link, VLAN
// or IP decoders, and nesting (VXLAN inside GRE, MPLS inside GRE ...) falls out of the recursion,
// bounded by kMaxEncapDepth.

#include <cstdint>
#include <span>

#include "mcn/capture/decoder.h"  // EspNullSa

namespace mcn::capture::detail {

// Tunnels inside tunnels: ERSPAN over GRE inside an MPLS VPN is three; four leaves room.
inline constexpr int kMaxEncapDepth = 4;
// RFC 3032 label stacks are short (transport + service + entropy labels).
inline constexpr int kMaxMplsLabels = 8;

enum class DecapStatus : uint8_t {
  kOk,
  kTruncated,    // a header runs past the data (tunnel.truncated)
  kUnsupported,  // a version, flag or payload type we do not decode (tunnel.unsupported)
  kControl,      // the tunnel's own signalling, no user data (tunnel.control): a PPTP
                 // acknowledgement, a GTP-U echo, end marker or error indication
};

enum class Inner : uint8_t {
  kEthernet,   // an Ethernet frame (GRE TEB, ERSPAN, VXLAN, MPLS pseudowire)
  kEthertype,  // the payload of this EtherType (GRE's protocol type is an EtherType)
  kIp,         // an IP packet, version from its first nibble (MPLS, ERSPAN III frame type 2)
};

enum class TunnelKind : uint8_t { kGre, kErspan, kVxlan, kMpls, kPppoe, kGrePpp, kGtpu };

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

// GTP-U extension headers (3GPP TS 29.281 §5.2) a G-PDU may chain: real ones carry one or two
// (PDU session container, UDP port, PDCP number); more is garbage, and walking it costs time.
inline constexpr int kMaxGtpuExtHeaders = 8;

// GRE (RFC 2784, key and sequence number RFC 2890), version 0, and what rides on it: IPv4, IPv6,
// MPLS, transparent Ethernet bridging (0x6558), ERSPAN type I/II (0x88be) and type III (0x22eb,
// with the optional platform-specific subheader); version 1, enhanced GRE (RFC 2637 §4.1, PPTP)
// carrying PPP (decapPpp). `d` starts at the GRE header.
Decap decapGre(std::span<const uint8_t> d);

// VXLAN (RFC 7348 §5): `d` is the UDP payload. kUnsupported if the I flag is clear (then the
// datagram is treated as ordinary UDP).
Decap decapVxlan(std::span<const uint8_t> d);

// MPLS label stack (RFC 3032 §2.1) up to bottom of stack, then IP by version nibble, or an
// Ethernet pseudowire (RFC 4448) with or without the control word (RFC 4385). `d` starts at the
// first label stack entry.
Decap decapMpls(std::span<const uint8_t> d);

// PPPoE session stage (RFC 2516 §5.4, EtherType 0x8864) carrying PPP (decapPpp). `d` starts at
// the PPPoE header.
Decap decapPppoe(std::span<const uint8_t> d);

// A PPP frame without HDLC flags and FCS, as PPPoE and enhanced GRE carry it: the address and
// control octets 0xff 0x03 (RFC 1662 §3.1) or not (address-and-control-field compression, RFC
// 1661 §6.6), the protocol in two octets or one (protocol-field compression, §6.5), then IPv4
// (0x0021, RFC 1332) or IPv6 (0x0057, RFC 5072). Control protocols (LCP 0xc021, IPCP, CHAP ...)
// are kUnsupported. `kind` and `id` are the carrying tunnel's.
Decap decapPpp(std::span<const uint8_t> ppp, TunnelKind kind, uint32_t id);

// GTP-U (3GPP TS 29.281 §5.1): `d` is the UDP payload. Version 1 with PT = 1, message type 255
// (G-PDU) carrying an IP packet (Inner::kIp), after the optional sequence number / N-PDU number
// / next extension header type octets (present when any of E, S, PN is set) and the extension
// header chain. Other message types are kControl. kUnsupported if the first octet is not GTPv1-U
// (the decoder checks that first and treats such a datagram as ordinary UDP, like a VXLAN port
// without the I flag), or for an extension header chain we do not walk.
Decap decapGtpu(std::span<const uint8_t> d);

// ESP (RFC 4303 §2) whose encryption is NULL (RFC 2410): after the SPI and sequence number the
// payload is plaintext, then padding, pad length, next header and the ICV. Nothing in the packet
// says so: for a security association listed in `sas` its ICV length is known; otherwise, if
// `heuristic` is set, the trailer is guessed the way Wireshark's
// esp.enable_null_encryption_decode_heuristic does, with ICV lengths 12 (HMAC-SHA1-96,
// HMAC-MD5-96, AES-XCBC-MAC-96: what 3GPP TS 33.203 §6.3 lets a UE choose) and 16
// (HMAC-SHA-256-128, AES-GMAC): the padding must be 1, 2, 3 ... (RFC 4303 §2.4), the next
// header UDP, TCP, SCTP, IPv4 or IPv6, and that header's own length must match the payload.
// The SAs are DecoderConfig::esp_null.
enum class EspStatus : uint8_t {
  kNull,       // decoded: `next` and `payload` are the inner protocol and its bytes (ip.esp_null)
  kEncrypted,  // not recognised as NULL encryption: really encrypted, or not guessed (ip.esp)
  kBad,        // a configured SA whose trailer does not fit in the packet (ip.esp_null_bad)
};
struct Esp {
  EspStatus status = EspStatus::kEncrypted;
  uint8_t next = 0;
  uint32_t spi = 0;
  std::span<const uint8_t> payload;
};
Esp decodeEspNull(std::span<const uint8_t> d, std::span<const EspNullSa> sas, bool heuristic);

}  // namespace mcn::capture::detail
