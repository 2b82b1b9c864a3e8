#include "mcn/capture/bpf.h"

#include <string_view>

namespace mcn::capture {

namespace {

constexpr int kDltEn10mb = 1;

// F: the IP-level clauses, evaluated at the current link offset (see bpf.h).
constexpr std::string_view kIpClauses =
    "(ip and udp and udp[8] & 0xc0 != 0x80)"  // not RTP/RTCP v2: SIP on any port, VXLAN
    // pcap-filter(7): udp[] reads IPv4 only; over IPv6 it is ip6[40 + 8] behind the fixed header
    " or (ip6 and ip6[6] == 17 and ip6[48] & 0xc0 != 0x80)"
    " or tcp or sctp"
    " or (ip and ip[6:2] & 0x1fff != 0)"  // IPv4 fragment after the first
    // Tunnels, and ESP: with NULL encryption the decoder reads it (on the Gm interface it holds
    // the phones' SIP only, the media travel outside IPsec).
    " or (ip and (ip proto 4 or ip proto 41 or ip proto 47 or ip proto 50))"
    " or (ip6 and (ip6[6] == 0 or ip6[6] == 4 or ip6[6] == 41 or ip6[6] == 43 or ip6[6] == 44"
    " or ip6[6] == 47 or ip6[6] == 50 or ip6[6] == 51 or ip6[6] == 60))";

constexpr std::string_view kEtherClauses =
    " or ether proto 0x8847 or ether proto 0x8848 or ether proto 0x8864";

// Tag depths the clauses are applied at; deeper frames pass whole.
constexpr int kFilteredVlanDepth = 3;

}  // namespace

std::string defaultLiveFilter(int link_type) {
  std::string f = "(";
  f += kIpClauses;
  if (link_type != kDltEn10mb) return f + ")";
  f += kEtherClauses;
  f += ")";
  // F or (vlan and (F or (vlan and (F or (vlan and (F or vlan))))))
  std::string out = f;
  std::string close;
  for (int depth = 1; depth <= kFilteredVlanDepth; ++depth) {
    out += " or (vlan and (" + f;
    close += "))";
  }
  out += " or vlan" + close;
  return out;
}

}  // namespace mcn::capture
