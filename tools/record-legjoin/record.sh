#!/usr/bin/env bash
# record.sh: record the pcaps/sipp_topoh_* and pcaps/sipp_b2bua_* fixtures (issue 13 item 2:
# legs of one call with different Call-IDs and no shared key) from real SIP stacks on loopback,
# captured with tcpdump on lo. Addresses 127.0.1.0/24 only (README.md). Run as root.
#
#   sudo tools/record-legjoin/record.sh                    # every case -> pcaps/
#   sudo tools/record-legjoin/record.sh topoh_busy         # some cases
#   OUT_DIR=/tmp/x KEEP_WORK=1 tools/record-legjoin/record.sh
#
# The expected outputs are written by hand from tshark (README.md); a re-recording changes every
# Call-ID and time. tests/lab/run_lab.sh re-records into a temporary directory and checks
# mcn's records against each case's intent (callee, outcome, count).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly SCEN="$HERE/scenarios"
readonly SIPP_SCEN="$HERE/../record-sipp/scenarios"  # the plain UAs of the existing lab
readonly OUT_DIR="${OUT_DIR:-$(cd "$HERE/../.." && pwd)/pcaps}"
readonly ALL_CASES=(topoh_answered topoh_cancel topoh_busy topoh_two_calls b2bua_302_answered)

readonly EDGE=127.0.1.10    # kamailio with topoh, udp 5060
readonly UAC=127.0.1.20     # caller, port 5070
readonly PHONE=127.0.1.11   # desk phone 1013 (and 1015), port 5062
readonly TARGET=127.0.1.12  # 1014, the phone 1013 redirects to, port 5062
readonly B2B_IN=127.0.1.30  # sipp B2BUA, caller side, udp 5060
readonly B2B_OUT=127.0.1.31 # sipp B2BUA, phone side, udp 5060
# SIP only: the B2BUA's two sipp instances talk over a TCP twin socket (port 18131), not captured.
readonly BPF="udp and net 127.0.1.0/24 and portrange 5060-5070"

die() {
  echo "record-legjoin: error: $*" >&2
  exit 1
}
log() { echo "record-legjoin: $*" >&2; }

[[ $EUID -eq 0 ]] || die "must run as root (tcpdump on lo)"
for tool in kamailio sipp tcpdump tshark ss timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: kamailio sip-tester tcpdump tshark)"
done

WORK=$(mktemp -d /tmp/record-legjoin.XXXXXX)
readonly WORK
declare -A BG=() # pid -> name of every background process started here
KAM_PID=""
TCPDUMP_PID=""
CTRL_PORT=8990 # sipp control (UDP) ports, one per sipp instance

cleanup() {
  local rc=$?
  local pid
  for pid in "${!BG[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${!BG[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
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

wait_port() { # udp|tcp IP PORT: until something listens there (5 s)
  local proto=$1 ip=$2 port=$3 flag i
  [[ $proto == udp ]] && flag=-lnuH || flag=-lntH
  for ((i = 0; i < 50; i++)); do
    [[ -n $(ss "$flag" "src $ip:$port") ]] && return 0
    sleep 0.1
  done
  die "nothing listens on $proto $ip:$port"
}

wait_exit() { # PID NAME SECONDS: wait for a background process, fail if it hangs or fails
  local pid=$1 name=$2 secs=$3 i rc=0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) still running after ${secs}s; see $WORK/$name.log"
  wait "$pid" || rc=$?
  unset "BG[$pid]"
  [[ $rc -eq 0 ]] || die "$name exited with $rc; see $WORK/$name.log and $WORK/*errors.log"
}

start_kamailio() {
  mkdir -p "$WORK/kamailio"
  kamailio -c -f "$HERE/kamailio-topoh.cfg" >"$WORK/kamailio-check.log" 2>&1 ||
    die "kamailio-topoh.cfg does not parse; see $WORK/kamailio-check.log"
  kamailio -DD -E -f "$HERE/kamailio-topoh.cfg" -Y "$WORK/kamailio" -w "$WORK/kamailio" \
    -m 32 -M 4 >"$WORK/kamailio.log" 2>&1 &
  KAM_PID=$!
  BG[$KAM_PID]=kamailio
  wait_port udp "$EDGE" 5060
}

capture_start() {
  local case=$1
  tcpdump -i lo -n -U --immediate-mode -s 0 -Z root -w "$WORK/sipp_$case.pcap" "$BPF" \
    >"$WORK/tcpdump-$case.log" 2>&1 &
  TCPDUMP_PID=$!
  BG[$TCPDUMP_PID]="tcpdump-$case"
  local i
  for ((i = 0; i < 50; i++)); do
    grep -qs 'listening on' "$WORK/tcpdump-$case.log" && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "tcpdump did not start; see $WORK/tcpdump-$case.log"
}

# capture_stop CASE CALL_IDS FILTER...: stop tcpdump; the capture must hold exactly CALL_IDS
# Call-IDs, no retransmission, and match every tshark display FILTER.
capture_stop() {
  local case=$1 want_ids=$2
  shift 2
  sleep 0.5
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || true
  unset "BG[$TCPDUMP_PID]"
  local pcap="$WORK/sipp_$case.pcap" filter n
  for filter in "sip.Method == \"INVITE\"" "$@"; do
    n=$(tshark -r "$pcap" -Y "$filter" 2>/dev/null | wc -l)
    [[ $n -gt 0 ]] || die "case $case: no packet matches '$filter' (pcap in $WORK)"
  done
  # One tshark pass (each start costs a second or more on a loaded machine) for the rest:
  # every packet SIP, the planned number of Call-IDs, no message twice.
  tshark -r "$pcap" -T fields -E separator='|' -e frame.protocols -e sip.Call-ID -e ip.src \
    -e ip.dst -e sip.Via.branch -e sip.CSeq -e sip.to.tag -e sip.Status-Code -e sip.Method \
    >"$WORK/$case.fields" 2>/dev/null
  n=$(grep -cvE '^[^|]*:sip(:[^|]*)?[|]' "$WORK/$case.fields" || true)
  [[ $n -eq 0 ]] || die "case $case: $n captured packets are not SIP (pcap in $WORK)"
  n=$(cut -d'|' -f2 "$WORK/$case.fields" | sort -u | wc -l)
  [[ $n -eq $want_ids ]] || die "case $case: $n Call-IDs in the capture, expected $want_ids (pcap in $WORK)"
  n=$(cut -d'|' -f2- "$WORK/$case.fields" | sort | uniq -d | wc -l)
  [[ $n -eq 0 ]] || die "case $case: $n SIP messages were retransmitted (pcap in $WORK)"
  mkdir -p "$OUT_DIR"
  cp "$pcap" "$OUT_DIR/sipp_$case.pcap"
  log "wrote $OUT_DIR/sipp_$case.pcap ($(wc -l <"$WORK/$case.fields") SIP messages)"
}

# uas NAME IP NUMBER SCENARIO_PATH RING_MS [sipp args...]: a called phone in the background.
uas() {
  local name=$1 ip=$2 number=$3 scen=$4 ring=$5
  shift 5
  CTRL_PORT=$((CTRL_PORT + 1))
  (cd "$WORK" && exec sipp -sf "$scen" -i "$ip" -mi "$ip" -p 5062 -bind_local \
    -cp "$CTRL_PORT" -s "$number" -d "$ring" -m 1 -nostdin -timeout 30s -timeout_error \
    -trace_err -trace_msg "$@" >"$WORK/$name.log" 2>&1) &
  BG[$!]=$name
  wait_port udp "$ip" 5062
}

# uac CASE TAG PROXY SCENARIO_PATH CALLEE CALLER DISPLAY [sipp args...]: the caller, foreground.
uac() {
  local case=$1 tag=$2 proxy=$3 scen=$4 callee=$5 caller=$6 display=$7
  shift 7
  [[ -n $display ]] && display="\"$display\" "
  CTRL_PORT=$((CTRL_PORT + 1))
  local rc=0
  (cd "$WORK" && exec timeout 40 sipp "$proxy" -sf "$scen" -i "$UAC" -mi "$UAC" \
    -p 5070 -bind_local -cp "$CTRL_PORT" -s "$callee" -key caller_num "$caller" \
    -key caller_display "$display" -key icid "mcn-legjoin-$tag" -cid_str "%u-%p-$tag@%s" \
    -m 1 -nostdin -timeout 30s -timeout_error -trace_err -trace_msg "$@" \
    >"$WORK/uac-$tag.log" 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || die "case $case: sipp UAC exited with $rc; see $WORK/uac-$tag.log"
}

uas_done() { # wait for every UAS and B2BUA instance of the case (each exits after one call)
  local pid
  for pid in "${!BG[@]}"; do
    [[ ${BG[$pid]} == uas-* || ${BG[$pid]} == b2b-* ]] && wait_exit "$pid" "${BG[$pid]}" 20
  done
  return 0
}

# --- the cases ------------------------------------------------------------------------------

case_topoh_answered() {
  capture_start topoh_answered
  uas uas-topoh-answered "$PHONE" 1013 "$SIPP_SCEN/uas_answer.xml" 1500
  uac topoh_answered topoh_answered "$EDGE:5060" "$SIPP_SCEN/uac_answer.xml" 1013 +8613900101230 "Li Lei"
  uas_done
  capture_stop topoh_answered 2 'sip.Status-Code == 180' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"' 'sip.Method == "BYE"' \
    'sip.Method == "INVITE" and ip.dst == 127.0.1.11 and not sip.P-Charging-Vector'
}

case_topoh_cancel() {
  capture_start topoh_cancel
  uas uas-topoh-cancel "$PHONE" 1013 "$SIPP_SCEN/uas_ring_cancel.xml" 0
  uac topoh_cancel topoh_cancel "$EDGE:5060" "$SIPP_SCEN/uac_cancel.xml" 1013 +8613900101230 "Li Lei" -d 2500
  uas_done
  capture_stop topoh_cancel 2 'sip.Method == "CANCEL" and ip.dst == 127.0.1.11' 'sip.Status-Code == 487'
}

case_topoh_busy() {
  capture_start topoh_busy
  uas uas-topoh-busy "$PHONE" 1015 "$SIPP_SCEN/uas_busy.xml" 1200
  uac topoh_busy topoh_busy "$EDGE:5060" "$SIPP_SCEN/uac_reject.xml" 1015 02584561234 ""
  uas_done
  capture_stop topoh_busy 2 'sip.Status-Code == 486 and ip.src == 127.0.1.11'
}

case_topoh_two_calls() {
  # The negative: the same caller calls the same number twice through the edge, 10 s apart
  # (busy, then busy again). Four Call-IDs, two calls: two records, never one.
  capture_start topoh_two_calls
  uas uas-topoh-two-1 "$PHONE" 1015 "$SIPP_SCEN/uas_busy.xml" 1200
  uac topoh_two_calls topoh_two_1 "$EDGE:5060" "$SIPP_SCEN/uac_reject.xml" 1015 +8613900101230 "Li Lei"
  uas_done
  sleep 8.8 # the second INVITE ~10 s after the first (the first call took ~1.2 s)
  uas uas-topoh-two-2 "$PHONE" 1015 "$SIPP_SCEN/uas_busy.xml" 1200
  uac topoh_two_calls topoh_two_2 "$EDGE:5060" "$SIPP_SCEN/uac_reject.xml" 1015 +8613900101230 "Li Lei"
  uas_done
  capture_stop topoh_two_calls 4 'sip.Status-Code == 486 and ip.src == 127.0.1.11'
}

# b2b NAME: the sipp B2BUA, phone side (listens on the twin socket) then caller side.
b2b() {
  local name=$1
  CTRL_PORT=$((CTRL_PORT + 1))
  (cd "$WORK" && exec sipp "$PHONE:5062" -sf "$SCEN/b2b_out.xml" -3pcc "$B2B_OUT:18131" -i "$B2B_OUT" \
    -mi "$B2B_OUT" -p 5060 -bind_local -cp "$CTRL_PORT" -m 2 -nostdin -timeout 30s \
    -timeout_error -trace_err -trace_msg -trace_logs >"$WORK/$name-out.log" 2>&1) &
  BG[$!]=$name-out
  wait_port tcp 0.0.0.0 18131
  CTRL_PORT=$((CTRL_PORT + 1))
  (cd "$WORK" && exec sipp -sf "$SCEN/b2b_in.xml" -3pcc "$B2B_OUT:18131" -i "$B2B_IN" \
    -mi "$B2B_IN" -p 5060 -bind_local -cp "$CTRL_PORT" -m 1 -nostdin -timeout 30s \
    -timeout_error -trace_err -trace_msg -trace_logs >"$WORK/$name-in.log" 2>&1) &
  BG[$!]=$name-in
  wait_port udp "$B2B_IN" 5060
}

case_b2bua_302_answered() {
  # The caller dials 1013 through a B2BUA (two sipp instances in 3pcc mode). The B2BUA calls
  # 1013 on a new Call-ID; 1013's phone forwards unconditionally: 302, Contact 1014. The B2BUA
  # calls 1014 on a third Call-ID with Diversion: <sip:1013@...>;reason=unconditional; 1014
  # rings 1.5 s and answers. No P-Charging-Vector on the B2BUA's legs.
  capture_start b2bua_302_answered
  uas uas-b2b-1013 "$PHONE" 1013 "$SCEN/uas_redirect.xml" 0 -key target "sip:1014@$TARGET:5062"
  uas uas-b2b-1014 "$TARGET" 1014 "$SIPP_SCEN/uas_answer.xml" 1500
  b2b b2b-302
  uac b2bua_302_answered b2bua_302_answered "$B2B_IN:5060" "$SIPP_SCEN/uac_answer.xml" 1013 \
    +8613900101230 "Li Lei"
  uas_done
  capture_stop b2bua_302_answered 3 'sip.Status-Code == 302' \
    'sip.Method == "INVITE" and sip.Diversion contains "unconditional"' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE" and ip.src == 127.0.1.12' \
    'sip.Method == "BYE" and ip.dst == 127.0.1.12'
}

cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=("${ALL_CASES[@]}")
for c in "${cases[@]}"; do
  declare -F "case_$c" >/dev/null || die "unknown case '$c' (known: ${ALL_CASES[*]})"
done

for c in "${cases[@]}"; do
  if [[ $c == topoh_* && -z $KAM_PID ]]; then start_kamailio; fi
done
for c in "${cases[@]}"; do
  log "case $c"
  "case_$c"
  [[ -z $KAM_PID ]] || kill -0 "$KAM_PID" 2>/dev/null || die "kamailio died during case $c; see $WORK/kamailio.log"
done
log "done: ${cases[*]}"
