#pragma once
// The default BPF filter for live capture (pcap_compile syntax, see pcap-filter(7)): what the
// kernel hands to mcn. It must keep everything SIP can arrive in and nothing that only costs:
//
//  - UDP whose first payload byte is not that of RTP/RTCP version 2 (0x80..0xbf). SIP may use any
//    port, so the filter looks at the payload instead: a SIP message starts with a letter or a
//    CRLF keep-alive, so it passes; the RTP/RTCP/SRTP flood of the calls does not. VXLAN (first
//    byte 0x08) passes. (libpcap's udp[] reads IPv4 only, so IPv6 uses ip6[48]: UDP right after
//    the fixed header.)
//  - all TCP and SCTP: a stream's later segments start anywhere in a message.
//  - IPv4 fragments after the first (they carry no ports): `ip[6:2] & 0x1fff != 0`.
//  - IPv6 packets whose first next header is an extension header (fragment 44, hop-by-hop 0,
//    routing 43, destination options 60, AH 51): BPF cannot walk the chain, they are rare.
//  - tunnels: IP-in-IP (4), IPv6-in-IP (41), GRE (47, also ERSPAN) over IPv4 and IPv6, MPLS
//    (0x8847/0x8848) and PPPoE session (0x8864) frames. What rides inside them is not filtered:
//    BPF cannot follow their variable headers (scope remote-SPAN sessions at the source).
//  - VLAN-tagged frames at any depth. libpcap's `vlan` keyword moves the offsets of everything
//    after it by one tag, for the rest of the expression, so the clauses above are repeated in
//    nesting: `F or (vlan and (F or (vlan and (F or (vlan and (F or vlan))))))` applies F to
//    untagged frames and to frames with 1, 2 or 3 tags (any of 0x8100, 0x88a8, 0x9100), and
//    passes every frame with 4 tags or more unfiltered. On Linux, libpcap also matches the
//    outer tag that the NIC stripped into packet metadata (its BPF extensions for the first
//    `vlan`).
//
// Link types without an Ethernet header (Linux cooked `any`, raw IP, loopback) get F without the
// EtherType and VLAN clauses: there the kernel has removed the tags already.

#include <string>

namespace mcn::capture {

// The default live-capture filter for a libpcap link type (DLT_*; 1 = Ethernet).
std::string defaultLiveFilter(int link_type = 1);

}  // namespace mcn::capture
