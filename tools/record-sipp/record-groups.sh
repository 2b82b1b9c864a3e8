#!/usr/bin/env bash
# record-groups.sh: record the pcaps/sipp_grp_<case>.pcap fixtures (issue 13 item 4: ring and
# hunt groups, call pickup) from real SIP stacks on loopback: kamailio (kamailio-groups.cfg)
# between sipp user agents (scenarios/), captured with tcpdump on lo. Run as root on a machine
# where nothing else uses 127.0.2.10-20 (ports 5060/5062/5064/5070/5072).
#
#   sudo tools/record-sipp/record-groups.sh               # every case
#   sudo tools/record-sipp/record-groups.sh pickup hunt   # some cases
#   OUT_DIR=/tmp/x KEEP_WORK=1 tools/record-sipp/record-groups.sh
#
# The expected outputs (pcaps/sipp_grp_<case>.expected.jsonl) are written by hand from tshark,
# see README.md; re-recording changes Call-IDs and times, so they must be redone after a run.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly SCEN="$HERE/scenarios"
readonly OUT_DIR="${OUT_DIR:-$(cd "$HERE/../.." && pwd)/pcaps}"
readonly ALL_CASES=(fork_answered fork_noanswer owner_noanswer hunt pickup)

readonly PROXY=127.0.2.10   # kamailio, udp 5060
readonly UAC=127.0.2.20     # caller, port 5070 (its INVITEs) and 5072 (INVITEs to it)
readonly UAS_A=127.0.2.11   # first member of each group, and the picked-up phone 1221
readonly UAS_B=127.0.2.12   # second member of each group
readonly PICKER=127.0.2.13  # the colleague's phone 1222 that picks up, port 5064
# Every SIP packet of these calls has the proxy's 5060 at one end (no direct UA-to-UA traffic:
# record_route keeps ACK and BYE on the proxy); nothing else is captured.
readonly BPF="host $PROXY and port 5060"

die() {
  echo "record-groups.sh: error: $*" >&2
  exit 1
}
log() { echo "record-groups.sh: $*" >&2; }

[[ $EUID -eq 0 ]] || die "must run as root (tcpdump on lo)"
for tool in kamailio sipp tcpdump tshark ss timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: kamailio sip-tester tcpdump tshark)"
done

WORK=$(mktemp -d /tmp/record-groups.XXXXXX)
readonly WORK
declare -A BG=()   # pid -> name of every background process we started
KAM_PID=""
TCPDUMP_PID=""
CTRL_PORT=8990     # sipp control (UDP) ports, one per sipp instance

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

# wait_port udp|tcp IP PORT: until something listens there (5 s).
wait_port() {
  local proto=$1 ip=$2 port=$3 flag i
  [[ $proto == udp ]] && flag=-lnuH || flag=-lntH
  for ((i = 0; i < 50; i++)); do
    if [[ -n $(ss "$flag" "src $ip:$port") ]]; then
      return 0
    fi
    sleep 0.1
  done
  die "nothing listens on $proto $ip:$port"
}

# wait_exit PID NAME SECONDS: wait for a background process, fail if it hangs or fails.
wait_exit() {
  local pid=$1 name=$2 secs=$3 i rc=0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    die "$name (pid $pid) still running after ${secs}s; see $WORK/$name.log"
  fi
  wait "$pid" || rc=$?
  unset "BG[$pid]"
  [[ $rc -eq 0 ]] || die "$name exited with $rc; see $WORK/$name.log and $WORK/*errors.log"
}

start_kamailio() {
  mkdir -p "$WORK/kamailio"
  kamailio -c -f "$HERE/kamailio-groups.cfg" >"$WORK/kamailio-check.log" 2>&1 ||
    die "kamailio-groups.cfg does not parse; see $WORK/kamailio-check.log"
  # -DD: stay in the foreground (children are forked) so we own its pid; -E: log to stderr.
  kamailio -DD -E -f "$HERE/kamailio-groups.cfg" -Y "$WORK/kamailio" -w "$WORK/kamailio" \
    -m 32 -M 4 >"$WORK/kamailio.log" 2>&1 &
  KAM_PID=$!
  BG[$KAM_PID]=kamailio
  wait_port udp "$PROXY" 5060
  kill -0 "$KAM_PID" 2>/dev/null || die "kamailio died; see $WORK/kamailio.log"
}

capture_start() {
  local case=$1
  tcpdump -i lo -n -U --immediate-mode -s 0 -Z root -w "$WORK/sipp_grp_$case.pcap" "$BPF" \
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

# capture_stop CASE FILTER...: stop tcpdump, then require every tshark display FILTER to match
# at least one packet, so a case that went differently from its plan fails loudly.
capture_stop() {
  local case=$1
  shift
  sleep 0.5 # late ACK/200 from the last transaction
  # --immediate-mode above matters: without it packets of the last TPACKET block still in the
  # kernel when tcpdump gets SIGINT are lost.
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || true
  unset "BG[$TCPDUMP_PID]"
  local pcap="$WORK/sipp_grp_$case.pcap" filter n
  for filter in "sip.Method == \"INVITE\"" "$@"; do
    n=$(tshark -r "$pcap" -Y "$filter" 2>/dev/null | wc -l)
    [[ $n -gt 0 ]] || die "case $case: no packet matches '$filter' (pcap in $WORK)"
  done
  # No stray retransmission storms or half calls: every packet must decode as SIP
  # (TCP handshake/ACK-only segments aside).
  n=$(tshark -r "$pcap" -Y "not sip and not (tcp.len == 0)" 2>/dev/null | wc -l)
  [[ $n -eq 0 ]] || die "case $case: $n captured packets are not SIP (pcap in $WORK)"
  # CALL_IDS calls per file (1 unless the case says): a retransmission left over from the
  # previous case would show up here.
  n=$(tshark -r "$pcap" -Y sip -T fields -e sip.Call-ID 2>/dev/null | sort -u | wc -l)
  [[ $n -eq ${CALL_IDS:-1} ]] ||
    die "case $case: $n Call-IDs in the capture, expected ${CALL_IDS:-1} (pcap in $WORK)"
  # No retransmissions: the fixtures are meant to be clean runs (the golden tests add duplicates
  # and retransmissions themselves where they want them).
  n=$(tshark -r "$pcap" -Y sip -T fields -e ip.src -e ip.dst -e sip.Via.branch -e sip.CSeq \
    -e sip.to.tag -e sip.Status-Code -e sip.Method 2>/dev/null | sort | uniq -d | wc -l)
  [[ $n -eq 0 ]] || die "case $case: $n SIP messages were retransmitted (pcap in $WORK)"
  mkdir -p "$OUT_DIR"
  cp "$pcap" "$OUT_DIR/sipp_grp_$case.pcap"
  log "wrote $OUT_DIR/sipp_grp_$case.pcap ($(stat -c %s "$pcap") bytes," \
    "$(tshark -r "$pcap" -Y sip 2>/dev/null | wc -l) SIP messages)"
}

# uas NAME IP NUMBER SCENARIO RING_MS [sipp args...]: a called phone in the background; its
# pid (that of sipp: the subshell execs it) in UAS_PID. PORT (default 5062) is where it listens.
uas() {
  local name=$1 ip=$2 number=$3 scen=$4 ring=$5 port=${PORT:-5062}
  shift 5
  CTRL_PORT=$((CTRL_PORT + 1))
  (cd "$WORK" && exec sipp -sf "$SCEN/$scen.xml" -i "$ip" -mi "$ip" -p "$port" -bind_local \
    -cp "$CTRL_PORT" -s "$number" -d "$ring" -m 1 -nostdin -timeout 30s -timeout_error \
    -trace_err -trace_msg "$@" >"$WORK/$name.log" 2>&1) &
  UAS_PID=$!
  BG[$UAS_PID]=$name
  wait_port udp "$ip" "$port"
}

# uac CASE SCENARIO CALLEE CALLER DISPLAY [sipp args...]: the caller, in the foreground.
# DISPLAY is the From display name without quotes, empty for none.
uac() {
  local case=$1 scen=$2 callee=$3 caller=$4 display=$5
  shift 5
  [[ -n $display ]] && display="\"$display\" "
  CTRL_PORT=$((CTRL_PORT + 1))
  local rc=0
  (cd "$WORK" && exec timeout 40 sipp "$PROXY:5060" -sf "$SCEN/$scen.xml" -i "$UAC" -mi "$UAC" \
    -p 5070 -bind_local -cp "$CTRL_PORT" -s "$callee" -key caller_num "$caller" \
    -key caller_display "$display" -key icid "mcn-sipp-grp-$case" -cid_str "%u-%p-grp-$case@%s" \
    -m 1 -nostdin -timeout 30s -timeout_error -trace_err -trace_msg "$@" \
    >"$WORK/uac-$case.log" 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || die "case $case: sipp UAC exited with $rc; see $WORK/uac-$case.log"
}

# Wait for every UAS of the case (they exit after their one call).
uas_done() {
  local pid
  for pid in "${!BG[@]}"; do
    [[ ${BG[$pid]} == uas-* ]] && wait_exit "$pid" "${BG[$pid]}" 20
  done
  return 0
}

# --- the cases ------------------------------------------------------------------------------
# Numbers of the fixture plan (pcaps/fixtures.toml): 1xxx are +86 25 8300 1xxx. Groups as
# pcaps/sipp_grp_*.config.toml list them in calls.groups: 1200 = {1201, 1202} (notify members),
# 1230 = {1231, 1232} (notify owner), hunt group 1210 = {1211, 1212} (notify members).

case_fork_answered() {
  # The caller dials group 1200; kamailio rings 1201 and 1202 together; 1202 answers after
  # 1.5 s; kamailio CANCELs 1201 with Reason: SIP;cause=200.
  capture_start fork_answered
  uas uas-fa-1201 "$UAS_A" 1201 uas_ring_cancel 0
  uas uas-fa-1202 "$UAS_B" 1202 uas_answer 1500
  uac fork_answered uac_answer 1200 1001 "Wang Fang"
  uas_done
  capture_stop fork_answered 'sip.Method == "CANCEL" and sip.Reason contains "cause=200"' \
    'sip.Status-Code == 487' 'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_fork_noanswer() {
  # Group 1200 again; both members ring, nobody answers; the caller hangs up after 3 s.
  capture_start fork_noanswer
  uas uas-fn-1201 "$UAS_A" 1201 uas_ring_cancel 0
  uas uas-fn-1202 "$UAS_B" 1202 uas_ring_cancel 0
  uac fork_noanswer uac_cancel_fork 1200 +8613900101232 "Zhao Min" -d 3000
  uas_done
  capture_stop fork_noanswer 'sip.Method == "CANCEL"' 'sip.Status-Code == 487' \
    'sip.r-uri.user == "1201"' 'sip.r-uri.user == "1202"'
}

case_owner_noanswer() {
  # Group 1230 (mcn: notify the owner only): both members ring, the caller hangs up after 2.5 s.
  capture_start owner_noanswer
  uas uas-on-1231 "$UAS_A" 1231 uas_ring_cancel 0
  uas uas-on-1232 "$UAS_B" 1232 uas_ring_cancel 0
  uac owner_noanswer uac_cancel_fork 1230 +8613900101232 "Zhao Min" -d 2500
  uas_done
  capture_stop owner_noanswer 'sip.Method == "CANCEL"' 'sip.Status-Code == 487' \
    'sip.r-uri.user == "1231"' 'sip.r-uri.user == "1232"'
}

case_hunt() {
  # Hunt group 1210: 1211 rings 3 s (kamailio's t_set_fr), kamailio CANCELs it (no Reason) and
  # rings 1212, which answers after 1 s.
  capture_start hunt
  uas uas-hunt-1211 "$UAS_A" 1211 uas_ring_cancel 0
  uas uas-hunt-1212 "$UAS_B" 1212 uas_answer 1000
  uac hunt uac_answer 1210 1001 "Wang Fang"
  uas_done
  capture_stop hunt 'sip.Method == "CANCEL" and not sip.Reason' 'sip.Status-Code == 487' \
    'sip.r-uri.user == "1212"' 'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_pickup() {
  # Call pickup (RFC 5359 2.9): the caller rings 1221; after 1 s the colleague's phone 1222
  # sends the caller an INVITE with Replaces naming the early dialog (Call-ID, 1221's To tag,
  # the caller's From tag: sipp's tags are <pid>SIPpTag00<n> and <pid>SIPpTag01<n>, so they
  # are known here as a dialog-event subscription would tell them). The caller's UA (its
  # second sipp, 5072) accepts it; the caller's first sipp CANCELs its INVITE 1.5 s after the
  # 180, i.e. about 0.5 s after the pickup's 200 (sipp cannot take a new INVITE in a UAC
  # scenario, so the CANCEL is timed, not triggered; the case fails unless the pickup's 200
  # came first). 1222 talks 1 s and hangs up.
  capture_start pickup
  uas uas-pickup-1221 "$UAS_A" 1221 uas_ring_cancel 0
  local ring_pid=$UAS_PID
  PORT=5072 uas uas-pickup-caller "$UAC" +8613900101230 uas_voicemail 0
  CTRL_PORT=$((CTRL_PORT + 1))
  local cid="1-caller-grp-pickup@$UAC"
  (cd "$WORK" && exec timeout 40 sipp "$PROXY:5060" -sf "$SCEN/uac_cancel.xml" -i "$UAC" \
    -mi "$UAC" -p 5070 -bind_local -cp "$CTRL_PORT" -s 1221 -key caller_num +8613900101230 \
    -key caller_display '"Li Lei" ' -key icid mcn-sipp-grp-pickup -cid_str "$cid" -d 1500 \
    -m 1 -nostdin -timeout 30s -timeout_error -trace_err -trace_msg \
    >"$WORK/uac-pickup-caller.log" 2>&1) &
  local caller_pid=$!
  BG[$caller_pid]=uas-pickup-caller-uac  # uas_done waits for it
  sleep 1
  CTRL_PORT=$((CTRL_PORT + 1))
  local rc=0
  (cd "$WORK" && exec timeout 40 sipp "$PROXY:5060" -sf "$SCEN/uac_pickup.xml" -i "$PICKER" \
    -mi "$PICKER" -p 5064 -bind_local -cp "$CTRL_PORT" -s +8613900101230 \
    -key caller_num 1222 -key caller_display '"Sun Qiang" ' -key icid mcn-sipp-grp-pickup-2 \
    -key replaces_cid "$cid" -key replaces_to_tag "${ring_pid}SIPpTag011" \
    -key replaces_from_tag "${caller_pid}SIPpTag001" -cid_str "%u-%p-grp-pickup-by-1222@%s" \
    -m 1 -nostdin -timeout 30s -timeout_error -trace_err -trace_msg \
    >"$WORK/uac-pickup.log" 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || die "case pickup: picking sipp exited with $rc; see $WORK/uac-pickup.log"
  uas_done
  CALL_IDS=2 capture_stop pickup 'sip.Method == "INVITE" and sip.Replaces' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"' 'sip.Method == "CANCEL"' \
    'sip.Status-Code == 487' 'sip.Method == "BYE"'
  # A pickup, not a caller giving up first: the pickup's 200 precedes the caller's CANCEL.
  local pcap="$OUT_DIR/sipp_grp_pickup.pcap" ok200 cancel
  ok200=$(tshark -r "$pcap" -Y 'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"' \
    -T fields -e frame.number 2>/dev/null | head -1)
  cancel=$(tshark -r "$pcap" -Y 'sip.Method == "CANCEL"' -T fields -e frame.number 2>/dev/null |
    head -1)
  [[ $ok200 -lt $cancel ]] || die "case pickup: the CANCEL (frame $cancel) came before the" \
    "pickup was answered (frame $ok200); pcap in $WORK"
}

cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=("${ALL_CASES[@]}")
for c in "${cases[@]}"; do
  declare -F "case_$c" >/dev/null || die "unknown case '$c' (known: ${ALL_CASES[*]})"
done

start_kamailio
for c in "${cases[@]}"; do
  log "case $c"
  "case_$c"
  kill -0 "$KAM_PID" 2>/dev/null || die "kamailio died during case $c; see $WORK/kamailio.log"
done
log "done: ${cases[*]}"
