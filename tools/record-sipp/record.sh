#!/usr/bin/env bash
# record.sh: record the pcaps/sipp_<case>.pcap fixtures from real SIP stacks on loopback:
# kamailio (stateful proxy, kamailio.cfg) between sipp user agents (scenarios/), captured with
# tcpdump on lo. Run as root on a machine where nothing else uses 127.0.0.10-20:5060/5062/5070.
#
#   sudo tools/record-sipp/record.sh            # every case
#   sudo tools/record-sipp/record.sh busy fork  # some cases
#   OUT_DIR=/tmp/x KEEP_WORK=1 tools/record-sipp/record.sh
#
# The expected outputs (pcaps/sipp_<case>.expected.jsonl) are written by hand from tshark, see
# README.md; re-recording changes Call-IDs and times, so they must be redone after a new run.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly SCEN="$HERE/scenarios"
readonly OUT_DIR="${OUT_DIR:-$(cd "$HERE/../.." && pwd)/pcaps}"
readonly ALL_CASES=(answered cancel busy unavailable timeout declined fork busy_voicemail auth tcp
  auth_slow_cancel auth_unretried busy_vm_uri noanswer_vm_uri
  busy_vm_plain baresip_caller_cancel baresip_phone_cancel baresip_phone_answer)

readonly PROXY=127.0.0.10   # kamailio, udp+tcp 5060
readonly UAC=127.0.0.20     # caller, port 5070
readonly UAS_A=127.0.0.11   # desk phones 1xxx, port 5062
readonly UAS_B=127.0.0.12   # 1021, second fork branch
readonly VM=127.0.0.19      # voicemail 9999
readonly SOFTPHONE=127.0.0.14 # baresip (Debian baresip-core): desk phones 1040/1041, a caller
# Every SIP packet of these calls has the proxy's 5060 at one end (no direct UA-to-UA traffic:
# record_route keeps ACK and BYE on the proxy); nothing else is captured.
readonly BPF="host $PROXY and port 5060"

REC_NAME=record.sh REC_TMP=record-sipp REC_PREFIX=sipp_ CTRL_PORT=8890 ICID_PREFIX=mcn-sipp-
REC_TOOLS="baresip python3"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# uac CASE SCENARIO CALLEE CALLER DISPLAY [sipp args...]: the caller through kamailio.
uac() { sipp_uac "$1" "$1" "$PROXY:5060" "${@:2}"; }

# baresip_start NAME USER ANSWERMODE DISPLAY [baresip args...]: the softphone baresip 1.0
# (Debian baresip-core; its own SIP stack, libre) on $SOFTPHONE:5062 as USER, no registration
# (kamailio routes 1040/1041 to it), PCMU/PCMA from a silent 8 kHz WAV; in the background, pid
# in BARESIP_PID. ANSWERMODE manual (it rings) or auto (it answers at once).
baresip_start() {
  local name=$1 user=$2 mode=$3 display=$4 dir="$WORK/$1"
  shift 4
  mkdir -p "$dir"
  python3 -c "import wave; w = wave.open('$dir/silence.wav', 'wb'); w.setnchannels(1);
w.setsampwidth(2); w.setframerate(8000); w.writeframes(bytes(16000 * 10)); w.close()"
  printf '%s\n' "poll_method epoll" "sip_listen $SOFTPHONE:5062" "audio_player aufile,/dev/null" \
    "audio_source aufile,$dir/silence.wav" "audio_alert aufile,/dev/null" \
    "module_path /usr/lib/baresip/modules" "module g711.so" "module aufile.so" \
    "module_tmp account.so" "module_app menu.so" >"$dir/config"
  echo "${display:+\"$display\" }<sip:$user@$SOFTPHONE:5062>;regint=0;answermode=$mode" >"$dir/accounts"
  (cd "$dir" && exec timeout 30 baresip -f "$dir" "$@" >"$WORK/$name.log" 2>&1) &
  BARESIP_PID=$!
  BG[$BARESIP_PID]=$name
  wait_port udp "$SOFTPHONE" 5062
}

# --- the cases ------------------------------------------------------------------------------
# Callers and callees use the fixture number plan (pcaps/fixtures.toml): desk lines
# +86 25 8300 1xxx dialled as 1xxx, +86 25 8300 xxxx, 025 8300 xxxx or 8300 xxxx.

case_answered() {
  capture_start answered
  uas uas-answered "$UAS_A" 1013 uas_answer 1500
  uac answered uac_answer 1013 +8613900101230 "Li Lei"
  uas_done
  capture_stop answered 'sip.Status-Code == 180' 'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"' \
    'sip.Method == "BYE"'
}

case_cancel() {
  capture_start cancel
  uas uas-cancel "$UAS_A" 1013 uas_ring_cancel 0
  uac cancel uac_cancel +862583001013 +8613900101230 "Li Lei" -d 2500
  uas_done
  capture_stop cancel 'sip.Method == "CANCEL"' 'sip.Status-Code == 487'
}

case_busy() {
  capture_start busy
  uas uas-busy "$UAS_A" 1015 uas_busy 1200
  uac busy uac_reject 1015 02584561234 ""
  uas_done
  capture_stop busy 'sip.Status-Code == 486'
}

case_unavailable() {
  capture_start unavailable
  uas uas-unavailable "$UAS_A" 1016 uas_unavailable 3000
  uac unavailable uac_reject 02583001016 +8613900101232 "Zhao Min"
  uas_done
  capture_stop unavailable 'sip.Status-Code == 480'
}

case_timeout() {
  # The phone rings and never answers; kamailio's fr_inv_timer (4 s) ends the transaction:
  # 408 to the caller, CANCEL to the phone.
  capture_start timeout
  uas uas-timeout "$UAS_A" 1017 uas_ring_cancel 0
  uac timeout uac_reject 1017 +8613900101230 "Li Lei"
  uas_done
  capture_stop timeout 'sip.Status-Code == 408' 'sip.Method == "CANCEL"'
}

case_declined() {
  capture_start declined
  uas uas-declined "$UAS_A" 1018 uas_decline 1800
  uac declined uac_reject 1018 1001 "Wang Fang"
  uas_done
  capture_stop declined 'sip.Status-Code == 603'
}

case_fork() {
  # 1020 forks to 1020 (127.0.0.11) and 1021 (127.0.0.12); 1021 answers after 1.5 s and
  # kamailio CANCELs 1020 with Reason: SIP;cause=200.
  capture_start fork
  uas uas-fork-1020 "$UAS_A" 1020 uas_ring_cancel 0
  uas uas-fork-1021 "$UAS_B" 1021 uas_answer 1500
  uac fork uac_answer 1020 1001 "Wang Fang"
  uas_done
  capture_stop fork 'sip.Method == "CANCEL" and sip.Reason contains "cause=200"' \
    'sip.Status-Code == 487' 'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_busy_voicemail() {
  # 1030 is busy; kamailio's failure_route sends the call on to voicemail 9999 with
  # Diversion: <sip:1030@...>;reason=user-busy.
  capture_start busy_voicemail
  uas uas-vm-1030 "$UAS_A" 1030 uas_busy 1000
  uas uas-vm-9999 "$VM" 9999 uas_voicemail 0
  uac busy_voicemail uac_answer 1030 +8613900101230 "Li Lei"
  uas_done
  capture_stop busy_voicemail 'sip.Status-Code == 486' \
    'sip.Method == "INVITE" and sip.Diversion contains "user-busy"' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_busy_vm_uri() {
  # Issue 13 item 1: 1031 is busy; kamailio forwards to sip:voicemail@127.0.0.19:5062 with
  # Diversion: <sip:1031@...>;reason=user-busy; the voicemail answers on the same Call-ID.
  capture_start busy_vm_uri
  uas uas-vmuri-1031 "$UAS_A" 1031 uas_busy 1000
  uas uas-vmuri-vm "$VM" voicemail uas_voicemail 0
  uac busy_vm_uri uac_answer 1031 +8613900101230 "Li Lei"
  uas_done
  capture_stop busy_vm_uri 'sip.Status-Code == 486' \
    'sip.Method == "INVITE" and sip.r-uri.user == "voicemail" and sip.Diversion contains "user-busy"' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_noanswer_vm_uri() {
  # Issue 13 item 1: 1032 rings and never answers; after t_set_fr's 3 s kamailio CANCELs it
  # and forwards to sip:voicemail@127.0.0.19:5062 with History-Info (cause=408).
  capture_start noanswer_vm_uri
  uas uas-vmuri-1032 "$UAS_A" 1032 uas_ring_cancel 0
  uas uas-vmuri-vm2 "$VM" voicemail uas_voicemail 0
  uac noanswer_vm_uri uac_answer 1032 +8613900101230 "Li Lei"
  uas_done
  capture_stop noanswer_vm_uri 'sip.Method == "CANCEL"' 'sip.Status-Code == 487' \
    'sip.Method == "INVITE" and sip.r-uri.user == "voicemail" and sip.History-Info contains "cause=408"' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_busy_vm_plain() {
  # Issue 13 item 1: 1033 is busy; kamailio forwards to sip:vm-box@127.0.0.19:5062 and adds no
  # Diversion nor History-Info. pcaps/fixtures.toml lists sip:vm-box@127.0.0.19 in
  # calls.voicemail.
  capture_start busy_vm_plain
  uas uas-vmplain-1033 "$UAS_A" 1033 uas_busy 1000
  uas uas-vmplain-vm "$VM" vm-box uas_voicemail 0
  uac busy_vm_plain uac_answer 1033 +8613900101230 "Li Lei"
  uas_done
  capture_stop busy_vm_plain 'sip.Status-Code == 486' \
    'sip.Method == "INVITE" and sip.r-uri.user == "vm-box" and not sip.Diversion and not sip.History-Info' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_auth() {
  capture_start auth
  uas uas-auth "$UAS_A" 1013 uas_answer 1500
  uac auth uac_auth 1013 +8613900101231 "Chen Jie"
  uas_done
  capture_stop auth 'sip.Status-Code == 407' 'sip.Proxy-Authorization' \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

case_auth_slow_cancel() {
  # Issue 13 item 3: the caller retries the 407 only 20 s later (a person typing a password);
  # the phone rings 3 s, the caller CANCELs. One call: cancelled, not a failed 407.
  capture_start auth_slow_cancel
  uas uas-auth-slow "$UAS_A" 1013 uas_ring_cancel 0
  uac auth_slow_cancel uac_auth_slow_cancel 1013 +8613900101231 "Chen Jie" -d 3000
  uas_done
  capture_stop auth_slow_cancel 'sip.Status-Code == 407' \
    'sip.Method == "INVITE" and sip.CSeq.seq == 2 and sip.Proxy-Authorization' \
    'sip.Method == "CANCEL"' 'sip.Status-Code == 487'
}

case_auth_unretried() {
  # The same caller challenged, never retrying: failed 407.
  capture_start auth_unretried
  uac auth_unretried uac_auth_unretried 1013 +8613900101231 "Chen Jie"
  capture_stop auth_unretried 'sip.Status-Code == 407' 'sip.Method == "ACK"'
}

case_tcp() {
  capture_start tcp
  uas uas-tcp "$UAS_A" 1013 uas_answer 1500
  uac tcp uac_answer 83001013 +8613900101230 "Li Lei" -t t1
  uas_done
  capture_stop tcp 'tcp and sip.Method == "INVITE"' 'sip.Status-Code == 200 and sip.CSeq.method == "INVITE"'
}

# A real softphone as the caller: baresip ("Zhou Lin" +8613900101233) dials 1013 through
# kamailio, it rings, and the person hangs up after 2 s (baresip quits: CANCEL).
case_baresip_caller_cancel() {
  capture_start baresip_caller_cancel
  uas uas-baresip-caller "$UAS_A" 1013 uas_ring_cancel 0
  baresip_start baresip-caller +8613900101233 manual "Zhou Lin" \
    -e "/dial sip:1013@$PROXY:5060" -t 2
  wait_exit "$BARESIP_PID" baresip-caller 20
  uas_done
  capture_stop baresip_caller_cancel 'sip.Method == "CANCEL" and ip.src == 127.0.0.14' \
    'sip.Status-Code == 487' 'sip.Method == "INVITE" and sip.User-Agent contains "baresip"'
}

# A real softphone as the desk phone 1040: it rings (180 from baresip), the caller gives up
# after 2.5 s, baresip answers the CANCEL with 487.
case_baresip_phone_cancel() {
  capture_start baresip_phone_cancel
  baresip_start baresip-1040 1040 manual "" -t 8
  uac baresip_phone_cancel uac_cancel 1040 +8613900101230 "Li Lei" -d 2500
  wait_exit "$BARESIP_PID" baresip-1040 20
  capture_stop baresip_phone_cancel 'sip.Status-Code == 180 and ip.src == 127.0.0.14' \
    'sip.Status-Code == 487 and ip.src == 127.0.0.14'
}

# The softphone 1041 answers at once (auto answer: 180 then 200 with SDP); 1 s talk, BYE.
case_baresip_phone_answer() {
  capture_start baresip_phone_answer
  baresip_start baresip-1041 1041 auto "" -t 6
  uac baresip_phone_answer uac_answer 1041 +8613900101230 "Li Lei"
  wait_exit "$BARESIP_PID" baresip-1041 20
  capture_stop baresip_phone_answer \
    'sip.Status-Code == 200 and sip.CSeq.method == "INVITE" and ip.src == 127.0.0.14' \
    'sip.Method == "BYE"'
}

select_cases "$@"
start_kamailio "$HERE/kamailio.cfg" "$PROXY" tcp
run_cases
