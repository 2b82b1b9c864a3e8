#pragma once
// Frame -> SipPayload. One small decoder per layer (link, VLAN, IPv4/IPv6, UDP/TCP), each checking
// its bounds and counting what is wrong under a stable name. IP fragments are handed to an internal
// Reassembler seam (capture/src/reassembler.h) and TCP payloads are framed by a stream framer
// (capture/src/sip_framer.h), so reassembly can be added without touching the layer decoders.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

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
};

struct DecoderConfig {
  // Ports that usually carry SIP. A hint for counters only: SIP is recognised by its start
  // line on any port.
  std::vector<uint16_t> sip_ports{5060, 5061, 5080};
  int max_vlan_depth = kMaxVlanDepth;
  // Drop REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, PUBLISH, MESSAGE and their responses before the
  // full parse (counted as prefilter.<method>); see prefilter.h.
  bool prefilter = true;
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

  // Stable counter names in a fixed order, zero values included, e.g. "decode.frames",
  // "decode.truncated_vlan", "decode.unsupported_linktype", "ip.fragments", "udp.sip",
  // "udp.not_sip", "tcp.segments", ...
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Cheap SIP recogniser: does `data` start with a SIP request line ("INVITE sip:... SIP/2.0") or a
// status line ("SIP/2.0 200 OK")?
bool looksLikeSip(std::string_view data);

}  // namespace mcn::capture
