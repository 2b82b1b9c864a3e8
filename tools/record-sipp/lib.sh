# lib.sh: what every real-stack recording script shares (record.sh and record-groups.sh here,
# tools/record-legjoin/record.sh): root and tool checks, the work directory and its cleanup,
# kamailio, tcpdump on lo with the checks each recording must pass, and sipp user agents.
# Sourced, after the script has set:
#   REC_NAME      name in messages ("record.sh")
#   REC_PREFIX    file name of a case's capture: "$REC_PREFIX$case.pcap" ("sipp_", "sipp_grp_")
#   BPF           tcpdump filter: every packet of the recorded calls, nothing else
#   CTRL_PORT     first sipp control (UDP) port - 1 (one per sipp instance)
#   ICID_PREFIX   P-Charging-Vector icid-value of the callers: "$ICID_PREFIX$tag"
#   OUT_DIR       where the captures go
#   REC_TOOLS     (optional) tools needed beyond kamailio, sipp, tcpdump, tshark
#   REC_TMP       (optional) name of the work directory in /tmp (default REC_NAME without .sh)
# and SCEN (the directory of scenarios named without a path) and UAC (the caller's address).
# shellcheck shell=bash

die() {
  echo "$REC_NAME: error: $*" >&2
  exit 1
}
log() { echo "$REC_NAME: $*" >&2; }

[[ $EUID -eq 0 ]] || die "must run as root (tcpdump on lo)"
for tool in kamailio sipp tcpdump tshark ss timeout ${REC_TOOLS:-}; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: kamailio sip-tester tcpdump tshark)"
done

WORK=$(mktemp -d "/tmp/${REC_TMP:-${REC_NAME%.sh}}.XXXXXX")
readonly WORK
declare -A BG=() # pid -> name of every background process started here
KAM_PID=""
TCPDUMP_PID=""

cleanup() {
  local rc=$? pid
  for pid in "${!BG[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${!BG[@]}"; do wait "$pid" 2>/dev/null || true; done
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
    [[ -n $(ss "$flag" "src $ip:$port") ]] && return 0
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

# start_kamailio CFG IP [tcp]: kamailio with CFG, listening on IP:5060 UDP (and TCP).
start_kamailio() {
  local cfg=$1 ip=$2 tcp=${3:-}
  mkdir -p "$WORK/kamailio"
  kamailio -c -f "$cfg" >"$WORK/kamailio-check.log" 2>&1 ||
    die "$(basename "$cfg") does not parse; see $WORK/kamailio-check.log"
  # -DD: stay in the foreground (children are forked) so we own its pid; -E: log to stderr.
  kamailio -DD -E -f "$cfg" -Y "$WORK/kamailio" -w "$WORK/kamailio" \
    -m 32 -M 4 >"$WORK/kamailio.log" 2>&1 &
  KAM_PID=$!
  BG[$KAM_PID]=kamailio
  wait_port udp "$ip" 5060
  [[ -z $tcp ]] || wait_port tcp "$ip" 5060
  kill -0 "$KAM_PID" 2>/dev/null || die "kamailio died; see $WORK/kamailio.log"
}

capture_start() {
  local case=$1 i
  tcpdump -i lo -n -U --immediate-mode -s 0 -Z root -w "$WORK/$REC_PREFIX$case.pcap" "$BPF" \
    >"$WORK/tcpdump-$case.log" 2>&1 &
  TCPDUMP_PID=$!
  BG[$TCPDUMP_PID]="tcpdump-$case"
  for ((i = 0; i < 50; i++)); do
    grep -qs 'listening on' "$WORK/tcpdump-$case.log" && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "tcpdump did not start; see $WORK/tcpdump-$case.log"
}

# [CALL_IDS=N] capture_stop CASE FILTER...: stop tcpdump; the capture must match every tshark
# display FILTER (and hold an INVITE), so a case that went differently from its plan fails
# loudly; hold only SIP (TCP segments without payload aside), exactly CALL_IDS Call-IDs (default
# 1: a retransmission left over from the previous case would show up here) and no message twice
# (the fixtures are clean runs; the golden tests add duplicates and retransmissions themselves).
capture_stop() {
  local case=$1
  shift
  sleep 0.5 # late ACK/200 from the last transaction
  # --immediate-mode above matters: without it packets of the last TPACKET block still in the
  # kernel when tcpdump gets SIGINT are lost.
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || true
  unset "BG[$TCPDUMP_PID]"
  local pcap="$WORK/$REC_PREFIX$case.pcap" filter n want=${CALL_IDS:-1}
  for filter in "sip.Method == \"INVITE\"" "$@"; do
    n=$(tshark -r "$pcap" -Y "$filter" 2>/dev/null | wc -l)
    [[ $n -gt 0 ]] || die "case $case: no packet matches '$filter' (pcap in $WORK)"
  done
  # One tshark pass for the rest (each start costs a second or more on a loaded machine).
  tshark -r "$pcap" -T fields -E separator='|' -e frame.protocols -e tcp.len -e sip.Call-ID \
    -e ip.src -e ip.dst -e sip.Via.branch -e sip.CSeq -e sip.to.tag -e sip.Status-Code \
    -e sip.Method >"$WORK/$case.fields" 2>/dev/null
  n=$(awk -F'|' '$1 !~ /:sip(:|$)/ && $2 != "0"' "$WORK/$case.fields" | wc -l)
  [[ $n -eq 0 ]] || die "case $case: $n captured packets are not SIP (pcap in $WORK)"
  n=$(awk -F'|' '$1 ~ /:sip(:|$)/ {print $3}' "$WORK/$case.fields" | sort -u | wc -l)
  [[ $n -eq $want ]] || die "case $case: $n Call-IDs in the capture, expected $want (pcap in $WORK)"
  n=$(awk -F'|' '$1 ~ /:sip(:|$)/' "$WORK/$case.fields" | cut -d'|' -f3- | sort | uniq -d | wc -l)
  [[ $n -eq 0 ]] || die "case $case: $n SIP messages were retransmitted (pcap in $WORK)"
  mkdir -p "$OUT_DIR"
  cp "$pcap" "$OUT_DIR/$REC_PREFIX$case.pcap"
  log "wrote $OUT_DIR/$REC_PREFIX$case.pcap ($(stat -c %s "$pcap") bytes," \
    "$(awk -F'|' '$1 ~ /:sip(:|$)/' "$WORK/$case.fields" | wc -l) SIP packets)"
}

# [PORT=P] uas NAME IP NUMBER SCENARIO RING_MS [sipp args...]: a called phone in the background
# (SCENARIO: a path, or a name in $SCEN); its pid (that of sipp: the subshell execs it) in
# UAS_PID. PORT (default 5062) is where it listens.
uas() {
  local name=$1 ip=$2 number=$3 scen=$4 ring=$5 port=${PORT:-5062}
  shift 5
  [[ $scen == */* ]] || scen="$SCEN/$scen.xml"
  CTRL_PORT=$((CTRL_PORT + 1))
  (cd "$WORK" && exec sipp -sf "$scen" -i "$ip" -mi "$ip" -p "$port" -bind_local \
    -cp "$CTRL_PORT" -s "$number" -d "$ring" -m 1 -nostdin -timeout 30s -timeout_error \
    -trace_err -trace_msg "$@" >"$WORK/$name.log" 2>&1) &
  UAS_PID=$!
  BG[$UAS_PID]=$name
  wait_port udp "$ip" "$port"
}

# sipp_uac CASE TAG PROXY SCENARIO CALLEE CALLER DISPLAY [sipp args...]: the caller, in the
# foreground, from $UAC:5070 through PROXY (IP:PORT); Call-ID "<n>-<pid>-TAG@<ip>", icid
# "$ICID_PREFIX$TAG". DISPLAY is the From display name without quotes, empty for none.
sipp_uac() {
  local case=$1 tag=$2 proxy=$3 scen=$4 callee=$5 caller=$6 display=$7
  shift 7
  [[ $scen == */* ]] || scen="$SCEN/$scen.xml"
  [[ -n $display ]] && display="\"$display\" "
  CTRL_PORT=$((CTRL_PORT + 1))
  local rc=0
  (cd "$WORK" && exec timeout 40 sipp "$proxy" -sf "$scen" -i "$UAC" -mi "$UAC" \
    -p 5070 -bind_local -cp "$CTRL_PORT" -s "$callee" -key caller_num "$caller" \
    -key caller_display "$display" -key icid "$ICID_PREFIX$tag" -cid_str "%u-%p-$tag@%s" \
    -m 1 -nostdin -timeout 30s -timeout_error -trace_err -trace_msg "$@" \
    >"$WORK/uac-$tag.log" 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || die "case $case: sipp UAC exited with $rc; see $WORK/uac-$tag.log"
}

# Wait for every UAS (and B2BUA) instance of the case: each exits after its call.
uas_done() {
  local pid
  for pid in "${!BG[@]}"; do
    [[ ${BG[$pid]} == uas-* || ${BG[$pid]} == b2b-* ]] && wait_exit "$pid" "${BG[$pid]}" 20
  done
  return 0
}

# select_cases CASE...: the cases to record (ALL_CASES when none is given) in CASES; an unknown
# one fails before anything starts.
select_cases() {
  CASES=("$@")
  [[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
  local c
  for c in "${CASES[@]}"; do
    declare -F "case_$c" >/dev/null || die "unknown case '$c' (known: ${ALL_CASES[*]})"
  done
}

# run_cases: every case of CASES; kamailio, if started, must outlive each.
run_cases() {
  local c
  for c in "${CASES[@]}"; do
    log "case $c"
    "case_$c"
    [[ -z $KAM_PID ]] || kill -0 "$KAM_PID" 2>/dev/null ||
      die "kamailio died during case $c; see $WORK/kamailio.log"
  done
  log "done: ${CASES[*]}"
}
