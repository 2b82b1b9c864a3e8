#!/usr/bin/env bash
# Seeds every libFuzzer target's corpus directory from the repository's fixtures: each target in
# its own WORK/<target>/. Shared by tools/fuzz.sh (CI's short run) and
# tools/fuzz-long.sh (the long campaign with a persistent corpus). Usage: tools/fuzz-seeds.sh WORK
# (run from the repository root; WORK/<target>/ must exist for the targets to seed).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$1

# Seeds. Whole captures for the replay target; each UDP payload (a SIP message) for the parser
# and tracker; each frame prefixed with the decoder target's Ethernet selector byte (1 = index of
# DLT_EN10MB in its table).
for p in pcaps/*.pcap; do
  cp "$p" "$work/fuzz_replay_pcap/"
  n=0
  while IFS=$'\t' read -r payload; do
    [[ -n "$payload" ]] || continue
    n=$((n + 1))
    echo "$payload" | xxd -r -p >"$work/fuzz_sip_parser/$(basename "$p" .pcap)-$n"
    { printf '\x00\x64'; echo "$payload" | xxd -r -p; } >"$work/fuzz_sip_tracker/$(basename "$p" .pcap)-$n"
  done < <(tshark -r "$p" -Y udp -T fields -e udp.payload 2>/dev/null | head -20)
  m=0
  while read -r frame; do
    [[ -n "$frame" ]] || continue
    m=$((m + 1))
    { printf '\x01'; echo "$frame" | xxd -r -p; } >"$work/fuzz_capture_decoder/$(basename "$p" .pcap)-$m"
  done < <(tcpdump -nn -xx -r "$p" -c 5 2>/dev/null | awk '
      /^\t0x/ { for (i = 2; i <= NF; i++) hex = hex $i; next }
      { if (hex != "") print hex; hex = "" }
      END { if (hex != "") print hex }')
done
# The capture file reader target gets every fixture file whole, pcap and pcapng (both byte
# orders, several link types, damaged records).
if [[ -d "$work/fuzz_pcapng_reader" ]]; then
  for p in pcaps/*.pcap pcaps/*.pcapng; do cp "$p" "$work/fuzz_pcapng_reader/"; done
fi
# The SCTP reassembler target reads 6-byte chunk descriptions (see its header comment): a
# message in order, one reversed with a duplicate, I-DATA, unordered, and one across the TSN wrap.
if [[ -d "$work/fuzz_sctp_reassembly" ]]; then
  s=$work/fuzz_sctp_reassembly
  printf '\x02\x00\x00\x00\x20\x01\x00\x00\x00\x01\x20\x02\x01\x00\x00\x02\x20\x03' >"$s/in-order"
  printf '\x01\x04\x00\x05\x30\x01\x00\x04\x00\x04\x30\x02\x00\x04\x00\x04\x30\x02\x02\x04\x00\x03\x30\x03' >"$s/reversed-dup"
  printf '\x0a\x08\x00\x09\x10\x01\x0a\x0c\x00\x07\x10\x02\x09\x08\x00\x0b\x10\x03\x09\x0c\x00\x08\x10\x04' >"$s/idata-interleaved"
  printf '\x06\x01\x00\x10\x40\x05\x05\x01\x00\x12\x40\x06\x04\x01\x00\x11\x40\x07' >"$s/unordered"
  printf '\x02\x00\x00\x0e\xff\x01\x00\x00\x00\x0f\xff\x02\x00\x00\x00\x10\xff\x03\x01\x00\x00\x11\xff\x04' >"$s/wrap"
  printf '\x42\x00\x00\x00\x08\x00\x01\x00\x10\x00\x41\x00\x00\x01\x04\x00\x01\x00\x00\x00' >"$s/not-sip"
fi
# The HEP target: the HEPv3 example packet of the specification, and every HEP packet of the HEP
# fixtures (pcaps/hep_*.pcap, UDP to port 9060).
if [[ -d "$work/fuzz_hep" ]]; then
  printf 'HEP3\x00\x71\x00\x00\x00\x01\x00\x07\x02\x00\x00\x00\x02\x00\x07\x11\x00\x00\x00\x03\x00\x0a\xd4\xca\x00\x01\x00\x00\x00\x04\x00\x0a\x52\x74\x00\xd3\x00\x00\x00\x07\x00\x08\x2e\xea\x00\x00\x00\x08\x00\x08\x13\xc4\x00\x00\x00\x09\x00\x0a\x4e\x49\x82\xcb\x00\x00\x00\x0a\x00\x0a\x00\x01\xe2\x40\x00\x00\x00\x0b\x00\x07\x01\x00\x00\x00\x0c\x00\x0a\x00\x00\x00\xe4\x00\x00\x00\x0f\x00\x14INVITE sip:bob' >"$work/fuzz_hep/spec-example"
  for p in pcaps/hep_*.pcap; do
    [[ -f "$p" ]] || continue
    n=0
    while IFS=$'\t' read -r payload; do
      [[ -n "$payload" ]] || continue
      n=$((n + 1))
      echo "$payload" | xxd -r -p >"$work/fuzz_hep/$(basename "$p" .pcap)-$n"
    done < <(tshark -r "$p" -Y 'udp.dstport == 9060' -T fields -e udp.payload 2>/dev/null | head -20)
  done
fi
# The differential parser target reads the same SIP messages as the parser target.
[[ -d "$work/fuzz_sip_differential" ]] && cp "$work/fuzz_sip_parser/"* "$work/fuzz_sip_differential/" 2>/dev/null || true
