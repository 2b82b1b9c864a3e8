#pragma once
// HEP (Homer Encapsulation Protocol) versions 2 and 3: what Kamailio `siptrace`, OpenSIPS
// `proto_hep`, FreeSWITCH, Asterisk `res_hep` and heplify send to a Homer collector. One HEP packet
// carries one captured message plus where and when it was seen (capture/README.md, "HEP").
//
// - HEPv3 ("HEP3" + total length, then chunks of vendor id, type id, length incl. the 6-byte chunk
//   header): chunk-driven; every length is checked against the packet; vendor chunks (vendor id
//   != 0) and unknown generic chunks are skipped. Chunks used: 0x01 address family, 0x02 IP
//   protocol, 0x03/0x04 IPv4 source/destination, 0x05/0x06 IPv6, 0x07/0x08 ports, 0x09/0x0a
//   timestamp seconds/microseconds, 0x0b payload protocol type (1 = SIP), 0x0c capture agent id,
//   0x0e authentication key, 0x0f payload, 0x10 zlib-compressed payload.
// - HEPv2 (and v1): a fixed header (version, header length, family, protocol, ports, addresses;
//   v2 adds seconds, microseconds and a 16-bit capture id in the sender's byte order, which is
//   little-endian on every agent that still sends it), then the payload up to the end of the
//   datagram. HEPv2 has no length of its own, so it is decoded from datagrams only, never from a
//   TCP stream, and it carries no authentication key.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/capture/sip_payload.h"

namespace mcn::capture {

inline constexpr uint16_t kHepDefaultPort = 9060;

struct HepConfig {
  // UDP and TCP destination ports whose payload a capture file or interface decodes as HEP.
  std::vector<uint16_t> ports{kHepDefaultPort};
  // The largest captured message accepted, after decompression (hep.too_big). A HEP packet is at
  // most 65535 bytes (its length field); a compressed one may inflate to more.
  size_t max_payload_bytes = 64 * 1024;
  // The authentication key (chunk 0x0e) every HEP packet must carry; empty = none required. The
  // resolved secret, never logged (the configuration names it by `hep.auth_key_ref`).
  std::string auth_key;
  // HEP-over-TCP streams decoded from a capture at once (hep.tcp_streams_table_full).
  size_t max_tcp_streams = 1024;

  bool operator==(const HepConfig&) const = default;
};

enum class HepStatus : uint8_t {
  kOk,
  kNotHep,      // neither "HEP3" nor version 1/2 with a sane header length
  kTruncated,   // the packet, a header or a chunk runs past the bytes available
  kBadLength,   // a length field that cannot be (chunk < 6 bytes, total < 6, v2 header)
  kBadChunk,    // a generic chunk of the wrong size for its type
  kNoAddress,   // no source/destination address or port
  kNoPayload,   // no payload chunk
  kAuthFailed,  // auth key required and missing or wrong
  kDecompressFailed,
  kTooBig,  // payload (inflated) above max_payload_bytes
};

// One decoded HEP packet. `payload` points into the packet or into the scratch string given to
// decodeHep (a decompressed payload).
struct HepPacket {
  uint8_t version = 0;    // 1, 2 or 3
  bool has_time = false;  // the sender's timestamp was present
  int64_t ts_us = 0;      // when the agent captured (or sent) the message
  Endpoint src;
  Endpoint dst;
  uint8_t ip_proto = 17;   // IANA: 17 UDP, 6 TCP, 132 SCTP; 22 (IDP) is TLS by HEP convention
  uint8_t proto_type = 1;  // 1 SIP, 5 RTCP, 100 log ... (HEP3 spec, chunk 0x0b)
  bool has_capture_id = false;
  uint32_t capture_id = 0;
  bool compressed = false;
  std::string_view payload;
};

// Decodes one HEP packet (a whole datagram, or one packet framed from a TCP stream). `scratch`
// receives a decompressed payload and is reused between calls.
HepStatus decodeHep(std::span<const uint8_t> packet, const HepConfig& cfg, HepPacket& out,
                    std::string& scratch);

// The transport a SipPayload carries for a HEP IP protocol: TCP for 6 and for 22 (TLS, which
// SipPayload does not tell apart from TCP), SCTP for 132, UDP otherwise.
Transport hepTransport(uint8_t ip_proto);

// HEPv3 over a TCP stream (no SYN/sequence handling: the bytes given must be in order). Packets
// are framed by their length; bytes that do not start a plausible packet ("HEP3", length >= 6 and
// <= max_packet) are skipped up to the next "HEP3" (a resynchronisation).
class HepStreamFramer {
 public:
  HepStreamFramer() = default;
  explicit HepStreamFramer(size_t max_packet) : max_packet_(max_packet) {}
  void append(std::span<const uint8_t> bytes);
  // The next complete packet, valid until the next append/next/reset; empty when none is whole.
  std::span<const uint8_t> next();
  // Forget the buffered bytes (a gap in the stream): look for the next "HEP3".
  void reset();
  uint64_t resyncs() const { return resyncs_; }
  uint64_t skipped_bytes() const { return skipped_bytes_; }
  size_t buffered() const { return buf_.size() - start_; }

 private:
  size_t max_packet_ = 65535;
  std::vector<uint8_t> buf_;
  size_t start_ = 0;
  bool in_sync_ = true;  // the buffer starts where a packet should begin
  uint64_t resyncs_ = 0;
  uint64_t skipped_bytes_ = 0;
};

}  // namespace mcn::capture
