#!/usr/bin/env bash
# record-fragmented.sh: a SIP call whose INVITE (> 4 KB, large SDP) the Linux kernel itself
# fragments, captured as it arrives. Two network namespaces joined by a veth pair with MTU 1280;
# sip_peer.py runs a caller in one and a busy phone in the other; tcpdump captures on the
# receiving veth, so the file holds the fragments exactly as the sender's kernel cut them.
#
#   sudo tools/record-netns/record-fragmented.sh [OUT_DIR]        (default: pcaps/)
#   FAMILY=6 sudo tools/record-netns/record-fragmented.sh         (IPv6: 2001:db8::1 -> ::2)
#
# Writes OUT_DIR/kernel_fragmented_invite.pcap (IPv4: 198.18.0.1 -> 198.18.0.2, RFC 2544
# benchmarking range) or kernel_fragmented_invite_v6.pcap. Needs root (namespaces, tcpdump),
# iproute2, tcpdump, python3. Takes about 2 s. Everything it creates is removed on exit.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
OUT_DIR=${1:-$(cd "$HERE/../.." && pwd)/pcaps}
FAMILY=${FAMILY:-4}

die() {
  echo "record-fragmented.sh: error: $*" >&2
  exit 1
}
log() { echo "record-fragmented.sh: $*" >&2; }

[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for tool in ip tcpdump python3 timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: iproute2 tcpdump python3)"
done
case $FAMILY in
  4) A=198.18.0.1 B=198.18.0.2 PREFIX=24 NAME=kernel_fragmented_invite
     # Fragments after the first carry no UDP header; nothing else is captured.
     FILTER="udp or (ip and ip[6:2] & 0x1fff != 0)" ;;
  6) A=2001:db8::1 B=2001:db8::2 PREFIX=64 NAME=kernel_fragmented_invite_v6
     FILTER="udp or (ip6 and ip6[6] == 44)" ;;
  *) die "FAMILY must be 4 or 6" ;;
esac
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/$NAME.pcap"

# Unique names, so parallel runs (CTest, a developer) do not collide.
NS_A="mcnfrag-a-$$"
NS_B="mcnfrag-b-$$"
WORK=$(mktemp -d /tmp/record-fragmented.XXXXXX)
PIDS=()

cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then
    log "failed; logs in $WORK"
    tail -n 20 "$WORK"/*.log >&2 2>/dev/null || true
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set veth-a mtu 1280 up
ip -n "$NS_B" link set veth-b mtu 1280 up
if [[ $FAMILY == 6 ]]; then
  ip -n "$NS_A" addr add "$A/$PREFIX" dev veth-a nodad
  ip -n "$NS_B" addr add "$B/$PREFIX" dev veth-b nodad
else
  ip -n "$NS_A" addr add "$A/$PREFIX" dev veth-a
  ip -n "$NS_B" addr add "$B/$PREFIX" dev veth-b
fi

# Capture on the receiving side, unbuffered, until the call is over.
ip netns exec "$NS_B" tcpdump -i veth-b -s 0 -U --immediate-mode -w "$OUT" "$FILTER" 2>"$WORK/tcpdump.log" &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do
  grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" "$WORK/tcpdump.log" || die "tcpdump did not start"

ip netns exec "$NS_B" timeout 10 python3 "$HERE/sip_peer.py" uas "$B" 2>"$WORK/uas.log" &
UAS=$!
PIDS+=("$UAS")
for ((i = 0; i < 50; i++)); do
  [[ -n $(ip netns exec "$NS_B" ss -lnuH "sport = :5060") ]] && break
  sleep 0.1
done
ip netns exec "$NS_A" timeout 10 python3 "$HERE/sip_peer.py" uac "$A" "$B" 2>"$WORK/uac.log" ||
  die "the caller failed: $(cat "$WORK/uac.log")"
wait "$UAS" || die "the phone failed: $(cat "$WORK/uas.log")"
sleep 0.2  # let tcpdump write the ACK
kill -INT "${PIDS[0]}"
wait "${PIDS[0]}" || true
PIDS=()
cat "$WORK/uac.log" "$WORK/uas.log" >&2
log "wrote $OUT ($(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log" || echo '? packets'))"
