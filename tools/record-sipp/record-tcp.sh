#!/usr/bin/env bash
# record-tcp.sh: record pcaps/sipp_tcp_segments.pcap: one answered call, SIP over TCP on both
# legs through kamailio (kamailio-tcp.cfg), in three network namespaces made here and joined by
# veth pairs. The caller's link has a 576-byte MTU, so large messages span TCP segments there;
# the phone's link a 1500-byte MTU, where the phone's 100 and 183, written in one send, travel
# in one segment. Captured in the proxy's namespace, both links.
#
#   sudo tools/record-sipp/record-tcp.sh
#   OUT_DIR=/tmp/x KEEP_WORK=1 tools/record-sipp/record-tcp.sh
#
# Needs root (namespaces, tcpdump), kamailio, sipp, tcpdump, tshark, ethtool (segmentation
# offloads are turned off on the veths, or the capture would show 64 KB super-segments).
# Touches nothing outside the namespaces mcn-rec-{ue,core,phone} it creates and deletes.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly SCEN="$HERE/scenarios"
readonly OUT_DIR="${OUT_DIR:-$(cd "$HERE/../.." && pwd)/pcaps}"
readonly CASE=tcp_segments

readonly NS_UE=mcn-rec-ue NS_CORE=mcn-rec-core NS_PHONE=mcn-rec-phone
readonly UE=198.18.0.20 PROXY_UE=198.18.0.10 PROXY_PH=198.18.1.10 PHONE=198.18.1.11
readonly MTU_UE=576 MTU_PHONE=1500

die() {
  echo "record-tcp.sh: error: $*" >&2
  exit 1
}
log() { echo "record-tcp.sh: $*" >&2; }

[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for tool in ip kamailio sipp tcpdump tshark ethtool timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: iproute2 kamailio sip-tester tcpdump tshark ethtool)"
done
for ns in $NS_UE $NS_CORE $NS_PHONE; do
  [[ ! -e /run/netns/$ns ]] || die "network namespace $ns exists already (a previous run?): ip netns del $ns"
done

WORK=$(mktemp -d /tmp/record-sipp-tcp.XXXXXX)
readonly WORK
declare -A BG=()
TCPDUMP_PID=""

cleanup() {
  local rc=$?
  local pid
  for pid in "${!BG[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${!BG[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in $NS_UE $NS_CORE $NS_PHONE; do ip netns del "$ns" 2>/dev/null || true; done
  if [[ $rc -ne 0 || -n "${KEEP_WORK:-}" ]]; then
    log "logs and traces kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'die "command failed at line $LINENO: $BASH_COMMAND"' ERR

in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# veth MTU NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a link between two namespaces, no offloads.
veth() {
  local mtu=$1 na=$2 ia=$3 aa=$4 nb=$5 ib=$6 ab=$7
  ip link add "$ia" netns "$na" type veth peer name "$ib" netns "$nb"
  local ns ifc addr
  for ns_if in "$na $ia $aa" "$nb $ib $ab"; do
    read -r ns ifc addr <<<"$ns_if"
    in_ns "$ns" ip link set "$ifc" mtu "$mtu"
    # Segmentation and receive offloads off: the kernel then puts on the wire (and tcpdump sees)
    # MSS-sized segments, as a switch's mirror port would.
    in_ns "$ns" ethtool -K "$ifc" tso off gso off gro off tx off rx off >/dev/null 2>&1 ||
      in_ns "$ns" ethtool -K "$ifc" tso off gso off gro off >/dev/null
    in_ns "$ns" ip addr add "$addr/24" dev "$ifc"
    in_ns "$ns" ip link set "$ifc" up
  done
}

setup_net() {
  for ns in $NS_UE $NS_CORE $NS_PHONE; do
    ip netns add "$ns"
    in_ns "$ns" ip link set lo up
  done
  veth $MTU_UE $NS_UE ue0 $UE $NS_CORE core0 $PROXY_UE
  veth $MTU_PHONE $NS_CORE core1 $PROXY_PH $NS_PHONE ph0 $PHONE
}

wait_tcp() {
  local ns=$1 ip=$2 port=$3 i
  for ((i = 0; i < 50; i++)); do
    [[ -n $(in_ns "$ns" ss -lntH "src $ip:$port") ]] && return 0
    sleep 0.1
  done
  die "nothing listens on tcp $ip:$port in $ns"
}

wait_exit() {
  local pid=$1 name=$2 secs=$3 i rc=0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) still running after ${secs}s; see $WORK/$name.log"
  wait "$pid" || rc=$?
  unset "BG[$pid]"
  [[ $rc -eq 0 ]] || die "$name exited with $rc; see $WORK/$name.log"
}

setup_net

mkdir -p "$WORK/kamailio"
in_ns $NS_CORE kamailio -c -f "$HERE/kamailio-tcp.cfg" >"$WORK/kamailio-check.log" 2>&1 ||
  die "kamailio-tcp.cfg does not parse; see $WORK/kamailio-check.log"
in_ns $NS_CORE kamailio -DD -E -f "$HERE/kamailio-tcp.cfg" -Y "$WORK/kamailio" -w "$WORK/kamailio" \
  -m 32 -M 4 >"$WORK/kamailio.log" 2>&1 &
BG[$!]=kamailio
wait_tcp $NS_CORE $PROXY_UE 5060
wait_tcp $NS_CORE $PROXY_PH 5060

in_ns $NS_CORE tcpdump -i any -n -U --immediate-mode -s 0 -Z root -w "$WORK/sipp_$CASE.pcap" \
  'tcp port 5060 or tcp port 5062' >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
BG[$TCPDUMP_PID]=tcpdump
for ((i = 0; i < 50; i++)); do
  grep -qs 'listening on' "$WORK/tcpdump.log" && break
  sleep 0.1
done
grep -qs 'listening on' "$WORK/tcpdump.log" || die "tcpdump did not start; see $WORK/tcpdump.log"

# The phone: 100 and 183 in one write, rings 1.5 s, answers.
(cd "$WORK" && exec ip netns exec $NS_PHONE sipp -sf "$SCEN/uas_tcp_pipelined.xml" -i $PHONE \
  -mi $PHONE -p 5062 -t t1 -cp 8901 -s 1013 -d 1500 -m 1 -nostdin -timeout 30s -timeout_error \
  -trace_err -trace_msg >"$WORK/uas.log" 2>&1) &
UAS_PID=$!
BG[$UAS_PID]=uas
wait_tcp $NS_PHONE $PHONE 5062

# The caller dials 83001013 over TCP.
rc=0
(cd "$WORK" && exec timeout 40 ip netns exec $NS_UE sipp "$PROXY_UE:5060" \
  -sf "$SCEN/uac_tcp_big.xml" -i $UE -mi $UE -p 5070 -t t1 -cp 8902 -s 83001013 \
  -key caller_num +8613900101230 -key caller_display '"Li Lei" ' -key icid "mcn-sipp-$CASE" \
  -cid_str "%u-%p-$CASE@%s" -m 1 -nostdin -timeout 30s -timeout_error -trace_err -trace_msg \
  >"$WORK/uac.log" 2>&1) || rc=$?
[[ $rc -eq 0 ]] || die "sipp UAC exited with $rc; see $WORK/uac.log"
wait_exit $UAS_PID uas 20

sleep 0.5 # the last ACKs and FINs
# SIGTERM, not SIGINT: a background job of a non-interactive shell starts with SIGINT ignored.
# tcpdump flushes and closes the file on either (--immediate-mode: nothing is left in the ring).
kill -TERM "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
unset "BG[$TCPDUMP_PID]"

pcap="$WORK/sipp_$CASE.pcap"
tshark_n() { tshark -r "$pcap" -o tcp.desegment_tcp_streams:TRUE -Y "$1" 2>/dev/null | wc -l; }
for f in 'sip.Method == "INVITE"' 'sip.Status-Code == 183' \
  'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"' 'sip.Method == "BYE"'; do
  [[ $(tshark_n "$f") -gt 0 ]] || die "no packet matches '$f' (pcap in $WORK)"
done
# What the fixture is for: messages spanning segments (tshark reassembles them) and a segment
# holding two messages.
[[ $(tshark_n 'tcp.segment.count > 1') -gt 0 ]] || die "no SIP message spans segments (pcap in $WORK)"
n=$(tshark -r "$pcap" -o tcp.desegment_tcp_streams:TRUE -Y sip -T fields -e sip.Status-Code \
  2>/dev/null | grep -c ',' || true)
[[ $n -gt 0 ]] || die "no segment holds two SIP messages (pcap in $WORK)"
n=$(tshark -r "$pcap" -Y 'tcp.analysis.retransmission or tcp.analysis.lost_segment' 2>/dev/null | wc -l)
[[ $n -eq 0 ]] || die "$n retransmitted or lost segments: not a clean run (pcap in $WORK)"
n=$(tshark -r "$pcap" -Y 'frame.len > 1520' 2>/dev/null | wc -l)
[[ $n -eq 0 ]] || die "$n frames longer than the MTU: offloads still on (pcap in $WORK)"

mkdir -p "$OUT_DIR"
cp "$pcap" "$OUT_DIR/sipp_$CASE.pcap"
log "wrote $OUT_DIR/sipp_$CASE.pcap ($(stat -c %s "$pcap") bytes," \
  "$(tshark -r "$pcap" -o tcp.desegment_tcp_streams:TRUE -V 2>/dev/null |
    grep -c '^Session Initiation Protocol') SIP messages)"
