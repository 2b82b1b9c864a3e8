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

REC_NAME=record-groups.sh REC_PREFIX=sipp_grp_ CTRL_PORT=8990 ICID_PREFIX=mcn-sipp-
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# uac CASE SCENARIO CALLEE CALLER DISPLAY [sipp args...]: the caller through kamailio.
uac() { sipp_uac "$1" "grp-$1" "$PROXY:5060" "${@:2}"; }

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

select_cases "$@"
start_kamailio "$HERE/kamailio-groups.cfg" "$PROXY"
run_cases
