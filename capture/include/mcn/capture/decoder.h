#pragma once
// Frame -> SipPayload. One small decoder per layer (link, VLAN, IPv4/IPv6, UDP/TCP), each checking
// its bounds and counting what is wrong under a stable name. IP fragments are handed to an internal
// Reassembler seam (capture/src/reassembler.h) and TCP segments to a per-direction stream
// reassembler that frames SIP messages (capture/src/tcp_reassembly.h), so reassembly touches none
// of the layer decoders.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "mcn/capture/hep.h"
#include "mcn/capture/sip_payload.h"

namespace mcn::capture {

// libpcap DLT_* values we decode (numeric, so no pcap header is needed here).
enum class LinkType : int {
  kNull = 0,         // DLT_NULL, BSD loopback (host-order AF_ family)
  kEthernet = 1,     // DLT_EN10MB
  kRaw = 101,        // DLT_RAW / LINKTYPE_RAW
  kLoop = 108,       // DLT_LOOP, OpenBSD loopback (network-order AF_)
  kLinuxSll = 113,   // DLT_LINUX_SLL
  kIpv4 = 228,       // LINKTYPE_IPV4
  kIpv6 = 229,       // LINKTYPE_IPV6
  kLinuxSll2 = 276,  // DLT_LINUX_SLL2
  // Not a LINKTYPE_ value (those stay below 2^16) and never written to a file: a frame that is
  // one whole HEP packet, from a HEP listener (hep_listener.h).
  kHep = 0x10000 + kHepDefaultPort,
};

// SIP over TCP stream reassembly (capture/src/tcp_reassembly.h). Timeouts run on packet time.
struct TcpReassemblyConfig {
  // Stream directions tracked at once (a connection is two). Segments that would open one more
  // are counted as tcp.streams_table_full.
  size_t max_streams = 65536;
  // Bytes held per direction: a partial message plus data held behind a hole. Also the largest
  // message reassembled (longer ones are skipped, tcp.stream_bytes_cap).
  size_t max_stream_bytes = 64 * 1024;
  // Bytes held by all streams together (tcp.total_bytes_cap).
  size_t max_total_bytes = 64 * 1024 * 1024;
  // A direction without payload this long is closed (tcp.expired). A partial message still
  // waiting then has outlived five doublings of the sender's retransmission timer (RFC 6298 §5.5:
  // 1+2+4+8+16 s); an idle stream with nothing held loses nothing when forgotten.
  int64_t idle_timeout_ms = 60'000;
  // A hole not filled this long is skipped (tcp.gaps): above the 1 s initial RTO of RFC 6298 §2,
  // so an endpoint's retransmission usually fills it first; a segment the mirror dropped never
  // comes, and waiting longer only delays the messages behind the hole.
  int64_t gap_timeout_ms = 2'000;

  bool operator==(const TcpReassemblyConfig&) const = default;
};

// IP fragment reassembly (capture/src/ip_reassembly.h). Timeouts run on packet time.
struct IpReassemblyConfig {
  // A datagram still incomplete this long after its first fragment is dropped (ip.frag_timeouts);
  // Linux's ipfrag_time.
  int64_t timeout_ms = 30'000;
  // Incomplete datagrams held at once; the oldest is dropped to make room (ip.frag_table_full).
  size_t max_datagrams = 8192;
  // Bytes held by all incomplete datagrams, payload plus bookkeeping (ip.frag_memory_cap).
  size_t max_bytes = size_t{16} << 20;

  bool operator==(const IpReassemblyConfig&) const = default;
};

// SIP over SCTP: reassembly of user messages fragmented across DATA/I-DATA chunks
// (capture/src/sctp_reassembly.h). Timeouts run on packet time.
struct SctpReassemblyConfig {
  // A message still incomplete this long after its first fragment is dropped
  // (sctp.frag_timeouts): as long as the IP reassembler waits; an SCTP sender retransmits a lost
  // chunk after its RTO (RFC 9260 §16: RTO.Initial 1 s, RTO.Max 60 s).
  int64_t timeout_ms = 30'000;
  // User data per message (sctp.frag_too_big). SIP over SCTP has no length limit of its own; an
  // INVITE with SDP and ISUP bodies is a few KiB, 256 KiB leaves room for large multipart bodies.
  size_t max_message_bytes = 256 * 1024;
  // Messages in progress per association direction (sctp.frag_assoc_full).
  size_t max_messages_per_assoc = 256;
  // Messages in progress in all; the oldest is dropped to make room (sctp.frag_table_full).
  size_t max_messages = 8192;
  // Bytes held by all of them, data plus bookkeeping (sctp.frag_memory_cap).
  size_t max_bytes = size_t{16} << 20;
  bool operator==(const SctpReassemblyConfig&) const = default;
};

// An IPsec security association known to use NULL encryption (RFC 2410), by its SPI, and the
// length of its integrity check value (12 for HMAC-SHA1-96 and HMAC-MD5-96, 16 for
// HMAC-SHA-256-128 ...). See capture/README.md, "ESP with NULL encryption".
struct EspNullSa {
  uint32_t spi = 0;
  uint8_t icv_len = 12;
  bool operator==(const EspNullSa&) const = default;
};

struct DecoderConfig {
  // Ports that usually carry SIP. A hint for counters only: SIP is recognised by its start
  // line on any port.
  std::vector<uint16_t> sip_ports{5060, 5061, 5080};
  int max_vlan_depth = kMaxVlanDepth;
  // Drop REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, PUBLISH, MESSAGE and their responses before the
  // full parse (counted as prefilter.<method>); see prefilter.h.
  bool prefilter = true;
  // SIP over TCP reassembly: caps and timeouts.
  TcpReassemblyConfig tcp;
  // IP fragment reassembly (capture/src/ip_reassembly.h): caps and the packet-time timeout.
  IpReassemblyConfig ip_frag;
  // SCTP user message reassembly (capture/src/sctp_reassembly.h): caps and the timeout.
  SctpReassemblyConfig sctp;
  // Frame dedup (capture/src/frame_dedup.h): an IP packet identical to one first seen less than
  // this long before (TTL, checksum, TOS, link and tunnel headers aside) is a mirror copy and is
  // dropped (decode.duplicate_frames). 0 turns it off; off here so a bare decoder is a pure
  // function of its frames, the mcn application turns it on with 5 ms (app defaultConfig):
  // mirror copies are microseconds apart, a SIP retransmission at least T1 = 500 ms.
  int dedup_window_ms = 0;
  // UDP destination ports decoded as VXLAN (RFC 7348 §5: IANA 4789; Linux's old default is
  // 8472). A datagram whose header does not carry the VXLAN I flag is decoded as plain UDP.
  std::vector<uint16_t> vxlan_ports{4789};
  // UDP destination ports decoded as GTP-U (3GPP TS 29.281 §4.4.2.3: 2152). A datagram whose
  // first octet is not GTPv1 with PT = 1 is decoded as plain UDP.
  std::vector<uint16_t> gtpu_ports{2152};
  // ESP security associations with NULL encryption: their payload is decoded with the given ICV
  // length. Other ESP is guessed as Wireshark's NULL-encryption heuristic does when
  // `esp_null_heuristic` is set (ICV 12 or 16, consistent padding, an inner header that parses);
  // what is neither stays encrypted (ip.esp).
  std::vector<EspNullSa> esp_null;
  bool esp_null_heuristic = true;
  // HEP (hep.h): the ports decoded as HEP in captures, the size cap, the authentication key.
  HepConfig hep;

  bool operator==(const DecoderConfig&) const = default;
};

class FrameDecoder {
 public:
  using Sink = std::function<void(SipPayload&&)>;

  FrameDecoder(DecoderConfig cfg, Sink sink);
  ~FrameDecoder();
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Decode one captured frame. `caplen` is frame.size(); `wire_len` the original length.
  // Returns true if at least one SipPayload was emitted.
  bool decode(int link_type, int64_t ts_us, std::span<const uint8_t> frame, uint32_t wire_len);

  // End of input (replay): close every TCP stream, emitting the complete messages still held
  // (behind a hole) and counting partial ones; count SCTP messages still incomplete.
  void finish();

  // Stable counter names in a fixed order, zero values included, e.g. "decode.frames",
  // "decode.truncated_vlan", "decode.unsupported_linktype", "ip.fragments", "udp.sip",
  // "udp.not_sip", "tcp.segments", ...
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

  // HEP packets decoded per agent capture id (chunk 0x0c), the first 64 ids seen; packets of
  // later ids are counted in hep.capture_ids_overflow.
  void forEachHepCaptureId(const std::function<void(uint32_t id, uint64_t packets)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Cheap SIP recogniser: does `data` start with a SIP request line ("INVITE sip:... SIP/2.0") or a
// status line ("SIP/2.0 200 OK")?
bool looksLikeSip(std::string_view data);

}  // namespace mcn::capture
