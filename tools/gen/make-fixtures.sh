#!/usr/bin/env bash
# Regenerates every mcn-gen fixture in pcaps/ (the sipp_* ones are recorded elsewhere).
# Output is deterministic: rerunning with the same mcn-gen gives byte-identical files.
#   tools/gen/make-fixtures.sh [path/to/mcn-gen]     (default: build/release/mcn-gen)
# The *.expected.jsonl files are written by hand (see pcaps/README.md); this script never
# touches them.
set -euo pipefail
cd "$(dirname "$0")/../.."
GEN=${1:-build/release/mcn-gen}
OUT=${MCN_FIXTURES_OUT:-pcaps}  # the reproducibility test writes elsewhere

gen() {  # gen FILE_STEM SCENARIO [options...]
  local stem=$1
  shift
  "$GEN" scenario "$@" -o "$OUT/$stem.pcap" 2>/dev/null
}

# One call flow each (expected outcome in pcaps/README.md).
for s in answered cancelled busy_486 unavailable_480 proxy_timeout_408 declined_603 failed_404 \
         fork_answered parallel_ring fork_abandoned busy_to_voicemail b2bua_forward_no_answer \
         forward_unconditional auth_407_answered redirect_302 ok_crossing_cancel \
         response_before_invite callid_reuse withheld_caller number_forms ring_timeout \
         capture_ends_ringing lying_lengths garbage_sip; do
  gen "$s" "$s"
done

# Capture effects: must give the same records as the clean variant.
gen answered_dup_retrans answered --dup --retrans 2
gen cancelled_dup_retrans cancelled --dup --retrans 2

# Link types, VLAN stacks, IPv6, TCP, IP options and fragments.
gen link_sll cancelled --link sll
gen link_sll2 cancelled --link sll2
gen link_null cancelled --link null
gen link_raw cancelled --link raw
gen ipv6 cancelled --ipv6
gen vlan_8021q cancelled --vlan 100
gen vlan_qinq cancelled --vlan 0x88a8:200 --vlan 0x8100:100
gen vlan_9100 cancelled --vlan 0x9100:300 --vlan 0x8100:100
gen ip_options cancelled --ip-options
gen tcp_answered answered --tcp
gen ip_fragments answered --fragment-mtu 576
gen ipv6_fragments answered --ipv6 --fragment-mtu 576

# Encapsulations seen on SPAN and remote SPAN (same records as cancelled, or ipv6 for ip6in4).
gen tunnel_gre cancelled --encap gre
gen tunnel_gretap_vlan cancelled --encap gretap --vlan 100
gen tunnel_erspan2 cancelled --encap erspan2
gen tunnel_erspan3 cancelled --encap erspan3
gen tunnel_vxlan cancelled --encap vxlan
gen tunnel_mpls cancelled --encap mpls
gen tunnel_pppoe cancelled --encap pppoe --vlan 10
gen tunnel_ipip cancelled --encap ipip
gen tunnel_ip6in4 cancelled --ipv6 --encap ipip
gen tunnel_ip6ip cancelled --encap ip6ip
# IPv4 fragments inside GRE (the tunnel key is part of the fragment key).
gen tunnel_gre_fragments answered --encap gre --fragment-mtu 576
# Mobile and PPTP access (issue 14): PPP in enhanced GRE with and without address/control and
# protocol compression (SIP over TCP in the second), GTP-U with an extension header over IPv4
# and over IPv6 (IPv6 inside too), ESP with NULL encryption in transport mode (ICV 12) and
# tunnel mode (ICV 16).
gen tunnel_gre_ppp cancelled --encap greppp
gen tunnel_gre_ppp_pfc answered --tcp --encap greppp-pfc
gen tunnel_gtpu cancelled --encap gtpu
gen tunnel_gtpu6 cancelled --ipv6 --encap gtpu6
gen tunnel_esp_null cancelled --encap esp
gen tunnel_esp_null16 cancelled --encap esp16

# SIP over SCTP with INVITEs carrying SDP + ISUP (SIP-I), cut into DATA / I-DATA chunks
# (issue 14 item 3): in order; reversed with a repeated packet; I-DATA reversed in VLAN 100;
# unordered (U flag) chunks over IPv6.
gen sctp_fragmented_invite answered --sctp data --sctp-chunk 300 --isup
gen sctp_fragments_shuffled cancelled --sctp data --sctp-chunk 256 --sctp-shuffle --isup
gen sctp_idata answered --sctp idata --sctp-chunk 300 --sctp-shuffle --isup --vlan 100
gen sctp_unordered cancelled --sctp unordered --sctp-chunk 200 --isup --ipv6

# pcapng container (same frames as cancelled.pcap).
editcap -F pcapng "$OUT/cancelled.pcap" "$OUT/pcapng_cancelled.pcapng"

# A capture cut in the middle of its last record (the BYE's 200 OK to the caller).
tmp=$(mktemp)
"$GEN" scenario answered -o "$tmp" 2>/dev/null
head -c $(( $(stat -c %s "$tmp") - 200 )) "$tmp" > "$OUT/truncated_record.pcap"
rm -f "$tmp"
