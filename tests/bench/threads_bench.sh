#!/usr/bin/env bash
# `mcn replay --threads N` against --threads 1 (issue 16 item 3): wall time, user+sys CPU and peak
# RSS, best wall of RUNS runs alternated between the thread counts, page cache warm, and a check
# that every thread count writes the bytes of --threads 1. Prints the load average before and
# after: on a shared machine wall-clock speed-ups are only meaningful with it.
#   tests/bench/threads_bench.sh [BUILD_DIR] [CALLS] [RUNS] [THREADS...]
#   (defaults: build/release 40000 3 1 2; the capture is mcn-gen mix --calls CALLS --seed 1)
# A capture of your own instead: PCAP=/tmp/ch.pcap tests/bench/threads_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
calls=${2:-40000}
runs=${3:-3}
shift $(($# < 3 ? $# : 3))
threads=("$@")
[[ ${#threads[@]} -gt 0 ]] || threads=(1 2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pcap=${PCAP:-}
if [[ -z "$pcap" ]]; then
  pcap=$work/mix.pcap
  "$build/mcn-gen" mix --calls "$calls" --seed 1 -o "$pcap" 2>/dev/null
fi
echo "capture: $pcap, $(du -m "$pcap" | cut -f1) MB; $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$pcap" >/dev/null

declare -A best_wall best_line
for ((r = 0; r < runs; r++)); do
  for n in "${threads[@]}"; do
    /usr/bin/time -o "$work/time" -f "%e %U %S %M" "$build/mcn" replay "$pcap" \
      --config deploy/office.toml --threads "$n" --calls-out "$work/calls.$n.jsonl" -q
    read -r wall user sys kb < <(tail -1 "$work/time")
    if [[ -z "${best_wall[$n]:-}" ]] || awk "BEGIN{exit !($wall < ${best_wall[$n]})}"; then
      best_wall[$n]=$wall
      best_line[$n]=$(awk -v n="$n" -v w="$wall" -v u="$user" -v s="$sys" -v kb="$kb" \
        'BEGIN{printf "| %d | %.2f | %.2f | %.2f | %.2f | %.0f MB |", n, w, u, s, u + s, kb / 1024}')
    fi
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| threads | wall s | user s | sys s | user+sys s | peak RSS |"
echo "|---|---|---|---|---|---|"
for n in "${threads[@]}"; do echo "${best_line[$n]}"; done
base=${threads[0]}
for n in "${threads[@]:1}"; do
  awk -v a="${best_wall[$base]}" -v b="${best_wall[$n]}" -v n="$n" -v m="$base" \
    'BEGIN{printf "wall speed-up of --threads %d over --threads %d: %.2fx\n", n, m, a / b}'
done
status=0
for n in "${threads[@]}"; do
  if cmp -s "$work/calls.$base.jsonl" "$work/calls.$n.jsonl"; then
    echo "--threads $n: records identical to --threads $base ($(wc -l <"$work/calls.$n.jsonl") lines)"
  else
    echo "FAIL: --threads $n records differ from --threads $base"
    status=1
  fi
done
exit $status
