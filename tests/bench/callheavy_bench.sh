#!/usr/bin/env bash
# callheavy_bench.sh: whole-program replay of a call-heavy capture of real stacks (issue 16 item
# 1; record one with tests/bench/record_callheavy.sh), side by side in one run with the readers a
# user would compare it to: tcpdump (the libpcap read floor), sngrep (no UI, as replay_bench.sh
# runs it) and tshark (-Y sip, Call-ID and status code as fields). Best of RUNS user+sys CPU
# seconds and the peak RSS of that run, frames/s, SIP messages/s and the ratios to mcn.
#   tests/bench/callheavy_bench.sh BUILD_DIR CAPTURE [RUNS] [CONFIG]
#   (defaults: 3 runs (tshark: 1), deploy/office.toml; tshark and sngrep are skipped when not
#   installed; MCN_BASELINE=PATH/mcn also times another mcn binary, e.g. one built from an older
#   commit, in the same run, alternating with this one; TSHARK_TIMEOUT=0 skips tshark)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: callheavy_bench.sh BUILD_DIR CAPTURE [RUNS] [CONFIG]}
cap=${2:?usage: callheavy_bench.sh BUILD_DIR CAPTURE [RUNS] [CONFIG]}
runs=${3:-3}
config=${4:-deploy/office.toml}
[[ -r $cap ]] || { echo "no capture $cap (record one: tests/bench/record_callheavy.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What is in the capture, from mcn's own counters (one untimed run, summary on stderr).
"$build/mcn" replay "$cap" --threads 1 --config "$config" --calls-out "$work/calls.jsonl" 2>"$work/summary.txt"
counter() { # NAME: its value in the summary, 0 when absent
  local v
  v=$(grep -o "\\b$1=[0-9]*" "$work/summary.txt" | head -1 | cut -d= -f2 || true)
  echo "${v:-0}"
}
frames=$(counter decode.frames)
# SIP messages found in UDP datagrams, TCP streams and SCTP chunks (before any pre-filter).
sip=$(($(counter udp.sip) + $(counter tcp.sip) + $(counter sctp.sip)))
records=$(wc -l <"$work/calls.jsonl")
echo "capture: $cap, $(du -m "$cap" | cut -f1) MB, $frames frames, $sip SIP messages (udp $(counter udp.sip), tcp $(counter tcp.sip)), $(counter sip.parsed) parsed, $records call records"
head -1 "$work/summary.txt"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
cat "$cap" >/dev/null # page cache warm for every reader

best() { # best of $n (default $runs) user+sys: "cpu_seconds peak_kb"
  local out best_s="" best_kb="" n=${n:-$runs} s kb
  for ((i = 0; i < n; i++)); do
    /usr/bin/time -o "$work/time" -f "%U %S %M" "$@" >/dev/null 2>&1 || true
    out=$(tail -1 "$work/time")
    s=$(awk '{printf "%.3f", $1 + $2}' <<<"$out")
    kb=$(awk '{print $3}' <<<"$out")
    if [[ -z $best_s ]] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s best_kb=$kb; fi
  done
  echo "$best_s $best_kb"
}
row() { # NAME SECONDS KB
  printf '%-8s %8.3f s cpu %10.0f frames/s %10.0f SIP msgs/s %8d KB peak RSS\n' "$1" "$2" \
    "$(awk "BEGIN{print $frames/($2>0?$2:0.001)}")" "$(awk "BEGIN{print $sip/($2>0?$2:0.001)}")" "$3"
}

if [[ -n ${MCN_BASELINE:-} ]]; then
  # alternated run by run, so a change of the machine's load hits both alike. The baseline gets
  # no --threads (binaries before it have none); MCN_BASELINE_ARGS="--threads 1" for a newer one.
  mcn_s="" base_s=""
  for ((r = 0; r < runs; r++)); do
    read -r s kb < <(n=1 best "$MCN_BASELINE" replay "$cap" ${MCN_BASELINE_ARGS:-} --config "$config" --calls-out /dev/null -q)
    if [[ -z $base_s ]] || awk "BEGIN{exit !($s < $base_s)}"; then base_s=$s base_kb=$kb; fi
    read -r s kb < <(n=1 best "$build/mcn" replay "$cap" --threads 1 --config "$config" --calls-out /dev/null -q)
    if [[ -z $mcn_s ]] || awk "BEGIN{exit !($s < $mcn_s)}"; then mcn_s=$s mcn_kb=$kb; fi
  done
  row baseline "$base_s" "$base_kb"
else
  read -r mcn_s mcn_kb < <(best "$build/mcn" replay "$cap" --threads 1 --config "$config" --calls-out /dev/null -q)
fi
row mcn "$mcn_s" "$mcn_kb"
read -r td_s td_kb < <(best tcpdump -r "$cap" -w /dev/null)
row tcpdump "$td_s" "$td_kb"
sn_s=""
if command -v sngrep >/dev/null; then
  read -r sn_s sn_kb < <(best sngrep -NqI "$cap" -l 10000000)
  row sngrep "$sn_s" "$sn_kb"
fi
ts_s=""
if command -v tshark >/dev/null && [[ ${TSHARK_TIMEOUT:-300} != 0 ]]; then
  # tshark takes minutes per run on a few 100k frames: once (as replay_bench.sh runs sngrep).
  # Capped at TSHARK_TIMEOUT seconds (default 300): it was seen to take over 10 minutes on a
  # loaded machine; a capped run prints its CPU seconds so far, marked ">=".
  read -r ts_s ts_kb < <(n=1 best timeout "${TSHARK_TIMEOUT:-300}" tshark -r "$cap" -Y sip -T fields -e sip.Call-ID -e sip.Status-Code)
  row tshark "$ts_s" "$ts_kb"
  if awk "BEGIN{exit !($ts_s >= 0.8 * ${TSHARK_TIMEOUT:-300})}"; then
    echo "  (tshark probably hit the ${TSHARK_TIMEOUT:-300} s cap: its figures are bounds, '>=')"
  fi
fi
ratio() { awk "BEGIN{printf \"%.1f\", $1/($2>0?$2:0.001)}"; }
[[ -n ${MCN_BASELINE:-} ]] && echo "baseline/mcn time: $(ratio "$base_s" "$mcn_s")x, peak RSS $base_kb -> $mcn_kb KB"
echo "mcn/tcpdump time: $(ratio "$mcn_s" "$td_s")x"
[[ -n $sn_s ]] && echo "sngrep/mcn time: $(ratio "$sn_s" "$mcn_s")x"
[[ -n $ts_s ]] && echo "tshark/mcn time: $(ratio "$ts_s" "$mcn_s")x"
echo "mcn CPU per SIP message: $(awk "BEGIN{printf \"%.2f\", $mcn_s*1e6/($sip>0?$sip:1)}") us"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
