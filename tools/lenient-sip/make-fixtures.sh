#!/usr/bin/env bash
# Writes pcaps/lenient_ipv6_oldtool.pcap and pcaps/lenient_sloppy.pcap: hand-written SIP that
# sofia-sip refuses or misreads but a person (and tshark, sngrep) reads, for the lenient path of
# sipparse (sipparse/README.md, "Lenient path"). Every message is written below as it goes on
# the wire; text2pcap wraps each in Ethernet/IP/UDP with its timestamp, mergecap joins them.
# Usage: tools/lenient-sip/make-fixtures.sh [OUTDIR]   (default pcaps/). Deterministic.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-pcaps}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# emit TIME FAMILY SRC DST LINE_ENDS < message   (LINE_ENDS: crlf or lf; the message is written
# with LF here, and "\n" becomes CRLF for crlf)
emit() {
  local time=$1 family=$2 src=$3 dst=$4 ends=$5
  # (runs in a pipeline's subshell: a fresh name each time; mergecap orders by time)
  local f
  f=$(mktemp -p "$tmp" msg.XXXXXX)
  if [[ $ends == crlf ]]; then sed 's/$/\r/' >"$f.sip"; else cat >"$f.sip"; fi
  { echo "$time"; od -Ax -tx1 -v "$f.sip"; } >"$f.hex"
  text2pcap -q -F pcap -t '%s.%f' "-$family" "$src,$dst" -u 5060,5060 "$f.hex" "$f.pcap" \
    >/dev/null 2>&1
}

# ---- lenient_ipv6_oldtool: an old test tool's call between two link-local IPv6 UAs, every host
# written without brackets (RFC 3261 §25.1 wants "[" IPv6 "]"), bare LF line ends. Hosts with a
# port are written in full (eight groups and the port: nine, so the last is the port); hosts
# without one compressed, ending in a group with a letter. The caller cancels after 7.5 s of
# ringing: a missed call (cancelled, 487).
A=fe80::21a:a0ff:fe07:32e1 # caller
B=fe80::21a:a0ff:fe07:32e0 # callee
AH=fe80:0:0:0:21a:a0ff:fe07:32e1
BH=fe80:0:0:0:21a:a0ff:fe07:32e0
CID=lenient-v6-1@$A
hdrs() { # $1 = CSeq, $2 = To tag ("" for none)
  echo "Via: SIP/2.0/UDP $AH:5060;branch=z9hG4bK-v6-$3"
  echo "From: \"Li Wei\" <sip:+8613900101230@$A>;tag=v6a"
  echo "To: <sip:1013@$BH:5060>$2"
  echo "Call-ID: $CID"
  echo "CSeq: $1"
}
{ echo "INVITE sip:1013@$BH:5060 SIP/2.0"; hdrs "1 INVITE" "" 1
  echo "Contact: <sip:+8613900101230@$AH:5060>"; echo "Max-Forwards: 70"
  echo "Content-Length: 0"; echo; } | emit 1795328495.053 6 $A $B lf
{ echo "SIP/2.0 100 Trying"; hdrs "1 INVITE" "" 1; echo "Content-Length: 0"; echo; } |
  emit 1795328495.063 6 $B $A lf
{ echo "SIP/2.0 180 Ringing"; hdrs "1 INVITE" ";tag=v6b" 1
  echo "Contact: <sip:1013@$BH:5060>"; echo "Content-Length: 0"; echo; } |
  emit 1795328495.553 6 $B $A lf
{ echo "CANCEL sip:1013@$BH:5060 SIP/2.0"; hdrs "1 CANCEL" "" 1; echo "Max-Forwards: 70"
  echo "Content-Length: 0"; echo; } | emit 1795328503.053 6 $A $B lf
{ echo "SIP/2.0 200 OK"; hdrs "1 CANCEL" ";tag=v6b" 1; echo "Content-Length: 0"; echo; } |
  emit 1795328503.063 6 $B $A lf
{ echo "SIP/2.0 487 Request Terminated"; hdrs "1 INVITE" ";tag=v6b" 1; echo "Content-Length: 0"
  echo; } | emit 1795328503.073 6 $B $A lf
{ echo "ACK sip:1013@$BH:5060 SIP/2.0"; hdrs "1 ACK" ";tag=v6b" 1; echo "Max-Forwards: 70"
  echo "Content-Length: 0"; echo; } | emit 1795328503.083 6 $A $B lf
mergecap -F pcap -w "$out/lenient_ipv6_oldtool.pcap" "$tmp"/*.pcap
rm -f "$tmp"/*

# ---- lenient_sloppy: a direct IPv4 call whose every message has a defect a person reads past;
# the callee is busy (486): a missed call. The start lines of the INVITE, 180, 486 and ACK miss a
# space or double one (issue 14 item 4: capture used to count those datagrams as udp.not_sip).
A=192.0.2.10
B=203.0.113.21
CID=lenient-sloppy-1@192.0.2.10
s_hdrs() { # $1 = CSeq line, $2 = To tag, $3 = Via line
  echo "${3:-Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-sl-1}"
  echo "From: \"Wang Fang\" <sip:+8613900101231@ims.example.com;user=phone>;tag=sla"
  echo "To: <sip:1013@ims.example.com>$2"
  echo "Call-ID: $CID"
  echo "$1"
}
# INVITE: two spaces after the method, CSeq method in lower case, bare LF line ends
{ echo "INVITE  sip:1013@ims.example.com SIP/2.0"; s_hdrs "CSeq: 1 invite" ""
  echo "P-Asserted-Identity: \"Wang Fang\" <tel:+8613900101231>"
  echo "P-Charging-Vector: icid-value=icid-lenient-sloppy-1"
  echo "Contact: <sip:+8613900101231@192.0.2.10:5060>"; echo "Max-Forwards: 70"
  echo "Content-Length: 0"; echo; } | emit 1795328495.053 4 $A $B lf
# 100: no space between CSeq number and method
{ echo "SIP/2.0 100 Trying"; s_hdrs "CSeq: 1INVITE" ""; echo "Content-Length: 0"; echo; } |
  emit 1795328495.063 4 $B $A crlf
# 180: no space before the status code, none between Via transport and sent-by (sofia drops
# that Via: no top branch)
{ echo "SIP/2.0180 Ringing"; s_hdrs "CSeq: 1 INVITE" ";tag=slb" \
    "Via: SIP/2.0/UDP192.0.2.10:5060;branch=z9hG4bK-sl-1"
  echo "Content-Length: 0"; echo; } | emit 1795328496.253 4 $B $A crlf
# 486: two spaces before the status code, CSeq method in mixed case, doubled spaces in headers
# (which sofia reads itself)
{ echo "SIP/2.0  486 Busy Here"; s_hdrs "CSeq:  1  Invite" ";tag=slb"
  echo "Content-Length:  0"; echo; } | emit 1795328500.553 4 $B $A crlf
# ACK: the Request-URI runs into the version, CSeq method in lower case
{ echo "ACK sip:1013@ims.example.comSIP/2.0"; s_hdrs "CSeq: 1 ack" ";tag=slb"
  echo "Max-Forwards: 70"; echo "Content-Length: 0"; echo; } | emit 1795328500.563 4 $A $B crlf
mergecap -F pcap -w "$out/lenient_sloppy.pcap" "$tmp"/*.pcap
