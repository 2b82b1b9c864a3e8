#pragma once
// The decoder's counters. Names are API (documented in the README, asserted in tests): add new
// ones at the end of a group, never rename.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mcn::capture::detail {

enum class Counter : uint8_t {
  kFrames,
  kUnsupportedLinktype,
  kTruncatedEthernet,
  kTruncatedSll,
  kTruncatedLoopback,
  kTruncatedVlan,
  kVlanTooDeep,
  kNotIp,
  kSnapped,
  kBadIpVersion,
  kTruncatedIpv4,
  kBadIpv4Ihl,
  kBadIpv4Length,
  kTruncatedIpv6,
  kTruncatedIpv6Ext,
  kIpv6TooManyExt,
  kIpFragments,
  kIpEsp,
  kIpNoNextHeader,
  kIpOtherProtocol,
  // IP fragment reassembly (ip_reassembly.h)
  kIpFragReassembled,
  kIpFragDuplicates,
  kIpFragOverlaps,
  kIpFragMalformed,
  kIpFragTooBig,
  kIpFragTimeouts,
  kIpFragTableFull,
  kIpFragMemoryCap,
  // Encapsulations (tunnels.h)
  kTunnelMpls,
  kTunnelPppoe,
  kTunnelGre,
  kTunnelErspan,
  kTunnelVxlan,
  kTunnelIpInIp,
  kTunnelTruncated,
  kTunnelUnsupported,
  kTunnelTooDeep,
  // Frame dedup (frame_dedup.h)
  kDuplicateFrames,
  kUdpTruncated,
  kUdpBadLength,
  kUdpSip,
  kUdpNotSip,
  kUdpNotSipOnSipPort,
  kTcpTruncated,
  kTcpBadOffset,
  kTcpSegments,
  kTcpSip,
  kTcpNoContentLength,
  kTcpBadContentLength,
  kTcpKeepalive,
  kTcpUnreassembled,
  // TCP stream reassembly (tcp_reassembly.h)
  kTcpStreams,
  kTcpMidstream,
  kTcpClosed,
  kTcpExpired,
  kTcpOutOfOrder,
  kTcpRetransmissions,
  kTcpOverlapBytes,
  kTcpGaps,
  kTcpResync,
  kTcpSkippedBytes,
  kTcpNotSip,
  kTcpStreamsTableFull,
  kTcpStreamBytesCap,
  kTcpTotalBytesCap,
  kSctpPackets,
  kSctpSip,
  kSctpNotSip,
  kSctpFragmented,
  kSctpTruncated,
  // The pre-filter (prefilter.h): SIP recognised and deliberately not handed on.
  kPrefilterRegister,
  kPrefilterOptions,
  kPrefilterSubscribe,
  kPrefilterNotify,
  kPrefilterPublish,
  kPrefilterMessage,
  kCount_,
};

inline constexpr std::array<std::string_view, static_cast<size_t>(Counter::kCount_)> kCounterNames{
    "decode.frames",
    "decode.unsupported_linktype",
    "decode.truncated_ethernet",
    "decode.truncated_sll",
    "decode.truncated_loopback",
    "decode.truncated_vlan",
    "decode.vlan_too_deep",
    "decode.not_ip",
    "decode.snapped",
    "decode.bad_ip_version",
    "decode.truncated_ipv4",
    "decode.bad_ipv4_ihl",
    "decode.bad_ipv4_length",
    "decode.truncated_ipv6",
    "decode.truncated_ipv6_ext",
    "decode.ipv6_too_many_ext",
    "ip.fragments",
    "ip.esp",
    "ip.no_next_header",
    "ip.other_protocol",
    "ip.frag_reassembled",
    "ip.frag_duplicates",
    "ip.frag_overlaps",
    "ip.frag_malformed",
    "ip.frag_too_big",
    "ip.frag_timeouts",
    "ip.frag_table_full",
    "ip.frag_memory_cap",
    "tunnel.mpls",
    "tunnel.pppoe",
    "tunnel.gre",
    "tunnel.erspan",
    "tunnel.vxlan",
    "tunnel.ip_in_ip",
    "tunnel.truncated",
    "tunnel.unsupported",
    "tunnel.too_deep",
    "decode.duplicate_frames",
    "udp.truncated",
    "udp.bad_length",
    "udp.sip",
    "udp.not_sip",
    "udp.not_sip_on_sip_port",
    "tcp.truncated",
    "tcp.bad_offset",
    "tcp.segments",
    "tcp.sip",
    "tcp.no_content_length",
    "tcp.bad_content_length",
    "tcp.keepalive",
    "tcp.unreassembled",
    "tcp.streams",
    "tcp.midstream",
    "tcp.closed",
    "tcp.expired",
    "tcp.out_of_order",
    "tcp.retransmissions",
    "tcp.overlap_bytes",
    "tcp.gaps",
    "tcp.resync",
    "tcp.skipped_bytes",
    "tcp.not_sip",
    "tcp.streams_table_full",
    "tcp.stream_bytes_cap",
    "tcp.total_bytes_cap",
    "sctp.packets",
    "sctp.sip",
    "sctp.not_sip",
    "sctp.fragmented",
    "sctp.truncated",
    "prefilter.register",
    "prefilter.options",
    "prefilter.subscribe",
    "prefilter.notify",
    "prefilter.publish",
    "prefilter.message",
};
// Catches a name missing from the list above (the array would be padded with empty names).
static_assert(!kCounterNames.back().empty(), "every Counter needs a name");

class Counters {
 public:
  void inc(Counter c, uint64_t n = 1) { values_[static_cast<size_t>(c)] += n; }
  uint64_t get(Counter c) const { return values_[static_cast<size_t>(c)]; }
  template <typename Fn>
  void forEach(Fn&& fn) const {
    for (size_t i = 0; i < values_.size(); ++i) fn(kCounterNames[i], values_[i]);
  }

 private:
  std::array<uint64_t, static_cast<size_t>(Counter::kCount_)> values_{};
};

}  // namespace mcn::capture::detail
