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

REC_NAME=record-legjoin REC_PREFIX=sipp_ CTRL_PORT=8990 ICID_PREFIX=mcn-legjoin-
# shellcheck source=../record-sipp/lib.sh
source "$HERE/../record-sipp/lib.sh"

# uac CASE TAG PROXY SCENARIO CALLEE CALLER DISPLAY [sipp args...]: the caller.
uac() { sipp_uac "$@"; }

# --- the cases ------------------------------------------------------------------------------

case_topoh_answered() {
  capture_start topoh_answered
  uas uas-topoh-answered "$PHONE" 1013 "$SIPP_SCEN/uas_answer.xml" 1500
  uac topoh_answered topoh_answered "$EDGE:5060" "$SIPP_SCEN/uac_answer.xml" 1013 +8613900101230 "Li Lei"
  uas_done
  CALL_IDS=2 capture_stop topoh_answered 'sip.Status-Code == 180' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"' 'sip.Method == "BYE"' \
    'sip.Method == "INVITE" and ip.dst == 127.0.1.11 and not sip.P-Charging-Vector'
}

case_topoh_cancel() {
  capture_start topoh_cancel
  uas uas-topoh-cancel "$PHONE" 1013 "$SIPP_SCEN/uas_ring_cancel.xml" 0
  uac topoh_cancel topoh_cancel "$EDGE:5060" "$SIPP_SCEN/uac_cancel.xml" 1013 +8613900101230 "Li Lei" -d 2500
  uas_done
  CALL_IDS=2 capture_stop topoh_cancel 'sip.Method == "CANCEL" and ip.dst == 127.0.1.11' 'sip.Status-Code == 487'
}

case_topoh_busy() {
  capture_start topoh_busy
  uas uas-topoh-busy "$PHONE" 1015 "$SIPP_SCEN/uas_busy.xml" 1200
  uac topoh_busy topoh_busy "$EDGE:5060" "$SIPP_SCEN/uac_reject.xml" 1015 02584561234 ""
  uas_done
  CALL_IDS=2 capture_stop topoh_busy 'sip.Status-Code == 486 and ip.src == 127.0.1.11'
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
  CALL_IDS=4 capture_stop topoh_two_calls 'sip.Status-Code == 486 and ip.src == 127.0.1.11'
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
  CALL_IDS=3 capture_stop b2bua_302_answered 'sip.Status-Code == 302' \
    'sip.Method == "INVITE" and sip.Diversion contains "unconditional"' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE" and ip.src == 127.0.1.12' \
    'sip.Method == "BYE" and ip.dst == 127.0.1.12'
}

select_cases "$@"
for c in "${CASES[@]}"; do
  if [[ $c == topoh_* && -z $KAM_PID ]]; then start_kamailio "$HERE/kamailio-topoh.cfg" "$EDGE"; fi
done
run_cases
