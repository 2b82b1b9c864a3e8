#!/usr/bin/env bash
# hep-e2e.sh MCN [udp|tcp]: HEP input end to end (issue 15 item 6), with a real sender that
# sends HEP over UDP (default) or TCP.
#
# Four namespaces joined by veth pairs, all in 198.18.30.0/24 (RFC 2544):
#
#   mcn-hep-ue     sipp callers    198.18.30.2  --veth-- 198.18.30.1  (core0)
#   mcn-hep-core   kamailio with siptrace (HEPv3, capture id 2001, auth key)
#   mcn-hep-ph     sipp phones     198.18.30.18 --veth-- 198.18.30.17 (core1)
#   mcn-hep-probe  mcn run --hep   198.18.30.34 --veth-- 198.18.30.33 (core2)
#
# Three calls through the proxy: 1013 answered, 1014 cancelled after 1.5 s of ringing, 1015 busy
# after 1 s. tcpdump records the SIP on every interface of the proxy (sip.pcap) and the HEP
# packets reaching the probe (hep.pcap). Checked (hep_check.py):
# - the records of `mcn run --hep` are the outcomes the scenarios mean (by hand, not from mcn);
# - they equal those of `mcn replay hep.pcap` exactly (same agent timestamps);
# - they equal those of `mcn replay sip.pcap` except the times, which differ by what separates
#   kamailio's stamps from the wire (README "HEP input"), bounded here by 50 ms;
# - mcn really checks the key: `mcn replay hep.pcap` with another key records nothing and counts
#   every packet in hep.auth_failed.
#
# Needs root, iproute2, kamailio (siptrace module), sipp, tcpdump, python3, timeout, curl.
set -Eeuo pipefail

MCN=$(readlink -f "${1:?usage: hep-e2e.sh path/to/mcn [udp|tcp]}")
HEP_TRANSPORT=${2:-udp}
[[ $HEP_TRANSPORT == udp || $HEP_TRANSPORT == tcp ]] || { echo "hep-e2e.sh: udp or tcp" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCEN="$HERE/../../tools/record-sipp/scenarios"
readonly MCN HERE SCEN

readonly NS_UE=mcn-hep-ue NS_CORE=mcn-hep-core NS_PH=mcn-hep-ph NS_PROBE=mcn-hep-probe
readonly UE=198.18.30.2 PROXY_UE=198.18.30.1 PROXY_PH=198.18.30.17 PHONE=198.18.30.18
readonly PROXY_PR=198.18.30.33 PROBE=198.18.30.34
readonly KEY=mcn-hep-e2e-key

E2E_NAME="hep-e2e.sh ($HEP_TRANSPORT)"
E2E_NETNS=("$NS_UE" "$NS_CORE" "$NS_PH" "$NS_PROBE")
# shellcheck source=lib.sh
source "$HERE/lib.sh"
for tool in ip kamailio sipp tcpdump python3 timeout curl; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/siptrace.so ]] || die "kamailio siptrace module not found"
e2e_begin mcn-hep-e2e

in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}
veth() { # NS_A IF_A ADDR_A NS_B IF_B ADDR_B
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  in_ns "$1" ip addr add "$3" dev "$2"
  in_ns "$4" ip addr add "$6" dev "$5"
  in_ns "$1" ip link set "$2" up
  in_ns "$4" ip link set "$5" up
}
wait_udp() { # NS IP PORT
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -n $(in_ns "$1" ss -lunH "src $2:$3") ]] && return 0
    sleep 0.1
  done
  die "nothing listens on udp $2:$3 in $1"
}
wait_log() { # FILE PATTERN PID
  local i
  for ((i = 0; i < 50; i++)); do
    grep -qs "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || die "exited at start-up: $(cat "$1")"
    sleep 0.1
  done
  die "no '$2' in $1"
}

# --- the network ----------------------------------------------------------------------------
for ns in $NS_UE $NS_CORE $NS_PH $NS_PROBE; do
  ip netns add "$ns"
  in_ns "$ns" ip link set lo up
done
veth $NS_UE ue0 $UE/28 $NS_CORE core0 $PROXY_UE/28
veth $NS_CORE core1 $PROXY_PH/28 $NS_PH ph0 $PHONE/28
veth $NS_CORE core2 $PROXY_PR/28 $NS_PROBE pr0 $PROBE/28
in_ns $NS_UE ip route add default via $PROXY_UE
in_ns $NS_PH ip route add default via $PROXY_PH
in_ns $NS_PROBE ip route add default via $PROXY_PR

# --- the probe: tcpdump of the SIP and of the HEP, mcn run --hep -------------------------------
# Only the SIP: kamailio sends its HEP from its 5060 socket too, so "udp port 5060" alone would
# put the HEP copies in sip.pcap (the records' capture_ids showed it).
in_ns $NS_CORE tcpdump -i any -n -U -s 0 -w "$WORK/sip.pcap" udp port 5060 and not port 9060 \
  >"$WORK/tcpdump-sip.log" 2>&1 &
TD_SIP=$!
BG[$TD_SIP]=tcpdump-sip
in_ns $NS_PROBE tcpdump -i pr0 -n -U -s 0 -w "$WORK/hep.pcap" port 9060 \
  >"$WORK/tcpdump-hep.log" 2>&1 &
TD_HEP=$!
BG[$TD_HEP]=tcpdump-hep

(cd "$WORK" && exec ip netns exec $NS_PROBE env MCN_HEP_KEY=$KEY "$MCN" run \
  --config "$HERE/hep-e2e.toml" --hep $PROBE:9060 --calls-out "$WORK/live.jsonl" \
  >"$WORK/mcn.out" 2>"$WORK/mcn.log") &
MCN_PID=$!
BG[$MCN_PID]=mcn
wait_log "$WORK/mcn.log" "mcn run: ready" $MCN_PID
for ((i = 0; i < 50; i++)); do
  grep -qs 'listening on' "$WORK/tcpdump-sip.log" && grep -qs 'listening on' "$WORK/tcpdump-hep.log" && break
  sleep 0.1
done

# --- the proxy and the phones ---------------------------------------------------------------
mkdir -p "$WORK/kamailio"
cp "$HERE/hep-kamailio.cfg" "$WORK/kamailio.cfg"
if [[ $HEP_TRANSPORT == tcp ]]; then
  # siptrace sends HEP over TCP from a TCP socket of the proxy.
  sed -i -e 's|"sip:198.18.30.34:9060"|"sip:198.18.30.34:9060;transport=tcp"|' \
    -e 's|^listen=udp:198.18.30.33:5060$|&\nlisten=tcp:198.18.30.33:5060|' "$WORK/kamailio.cfg"
  grep -q 'transport=tcp' "$WORK/kamailio.cfg" && grep -q '^listen=tcp:' "$WORK/kamailio.cfg" ||
    die "could not switch hep-kamailio.cfg to TCP"
fi
in_ns $NS_CORE kamailio -DD -E -f "$WORK/kamailio.cfg" -Y "$WORK/kamailio" -w "$WORK/kamailio" \
  -m 32 -M 8 >"$WORK/kamailio.log" 2>&1 &
BG[$!]=kamailio
wait_udp $NS_CORE $PROXY_UE 5060

CP=8950
uas() { # NAME PORT SCENARIO RING_MS
  CP=$((CP + 1))
  (cd "$WORK" && exec ip netns exec $NS_PH sipp -sf "$SCEN/$3.xml" -i $PHONE -mi $PHONE -p "$2" \
    -bind_local -cp $CP -d "$4" -nostdin -timeout 60s -trace_err >"$WORK/uas-$1.log" 2>&1) &
  BG[$!]=uas-$1
  wait_udp $NS_PH $PHONE "$2"
}
uas answer 5062 uas_answer 1000
uas ring 5063 uas_ring_cancel 0
uas busy 5064 uas_busy 1000

# The 200 to the CANCEL and the 487 may reach the caller in either order.
python3 - "$SCEN/uac_cancel.xml" "$WORK/uac_cancel.xml" <<'PY'
import sys
s = open(sys.argv[1]).read()
old = '<recv response="200"/>\n  <recv response="487"/>'
assert old in s, "uac_cancel.xml changed"
open(sys.argv[2], "w").write(s.replace(old, '<recv response="200" optional="true"/>\n  <recv response="487"/>'))
PY

declare -A UAC_PIDS=()
UAC_PORT=5070
uac() { # CASE SCENARIO CALLEE RING_MS
  UAC_PORT=$((UAC_PORT + 1))
  CP=$((CP + 1))
  local sf="$SCEN/$2.xml"
  [[ -f "$WORK/$2.xml" ]] && sf="$WORK/$2.xml"
  (cd "$WORK" && exec timeout 30 ip netns exec $NS_UE sipp "$PROXY_UE:5060" -sf "$sf" \
    -i $UE -mi $UE -p $UAC_PORT -bind_local -cp $CP -s "$3" -d "$4" -m 1 \
    -key caller_num +8613900101230 -key caller_display '"Li Lei" ' -key icid "mcn-hep-$1" \
    -cid_str "%u-%p-$1@%s" -nostdin -timeout 25s -timeout_error -trace_err \
    >"$WORK/uac-$1.log" 2>&1) &
  UAC_PIDS[$!]=$1
}
uac answered uac_answer 1013 0
uac cancel uac_cancel 1014 1500
uac busy uac_reject 1015 0
for pid in "${!UAC_PIDS[@]}"; do
  wait "$pid" || die "sipp caller ${UAC_PIDS[$pid]} exited with $?; see $WORK/uac-${UAC_PIDS[$pid]}.log"
done
# Grace (300 ms) and the answered call's BYE: every call is decided well within 2 s.
sleep 2
# The listener's counters on /metrics, labelled with the listener.
in_ns $NS_PROBE curl -sf http://127.0.0.1:9187/metrics >"$WORK/metrics.txt" || die "no /metrics"
grep -Eq '^mcn_hep_sip_total\{interface="hep:198\.18\.30\.34:9060"\} [1-9]' "$WORK/metrics.txt" ||
  die "/metrics: no mcn_hep_sip_total for the listener"
grep -Eq '^mcn_hep_packets_by_capture_id_total\{interface="hep:198\.18\.30\.34:9060",capture_id="2001"\} [1-9]' \
  "$WORK/metrics.txt" || die "/metrics: no packets counted for capture id 2001"
if [[ $HEP_TRANSPORT == udp ]]; then listener=datagrams; else listener=tcp_packets; fi
grep -Eq "^mcn_hep_listener_${listener}_total\\{interface=\"hep:198\\.18\\.30\\.34:9060\"\\} [1-9]" \
  "$WORK/metrics.txt" || die "/metrics: nothing counted in hep.listener.$listener"
grep -Eq '^mcn_hep_auth_failed_total\{interface="hep:198\.18\.30\.34:9060"\} 0$' "$WORK/metrics.txt" ||
  die "/metrics: packets with the right key failed authentication"
kill -TERM $MCN_PID
rc=0
wait $MCN_PID || rc=$?
unset "BG[$MCN_PID]"
[[ $rc -eq 0 ]] || die "mcn exited with $rc; see $WORK/mcn.log"
sleep 0.3
kill -TERM $TD_SIP $TD_HEP
wait $TD_SIP $TD_HEP || true
unset "BG[$TD_SIP]" "BG[$TD_HEP]"

# --- replays of the two captures; the wrong key ---------------------------------------------
MCN_HEP_KEY=$KEY "$MCN" replay "$WORK/hep.pcap" --config "$HERE/hep-e2e.toml" \
  --calls-out "$WORK/replay-hep.jsonl" 2>"$WORK/replay-hep.log" >/dev/null ||
  die "mcn replay hep.pcap failed: $(cat "$WORK/replay-hep.log")"
MCN_HEP_KEY=$KEY "$MCN" replay "$WORK/sip.pcap" --config "$HERE/hep-e2e.toml" \
  --calls-out "$WORK/replay-sip.jsonl" 2>"$WORK/replay-sip.log" >/dev/null ||
  die "mcn replay sip.pcap failed: $(cat "$WORK/replay-sip.log")"
MCN_HEP_KEY=not-the-key "$MCN" replay "$WORK/hep.pcap" --config "$HERE/hep-e2e.toml" \
  --calls-out "$WORK/replay-wrong-key.jsonl" 2>"$WORK/replay-wrong-key.log" >/dev/null ||
  die "mcn replay with the wrong key failed: $(cat "$WORK/replay-wrong-key.log")"

python3 "$HERE/hep_check.py" "$WORK" "$HEP_TRANSPORT"
log "PASS"
