#!/usr/bin/env bash
# Replay with the call history on and off (issue 18: the data path must not be slower with the
# store on). Generates the IMS mix with mcn-gen (deterministic), replays it best of RUNS with
# `--calls-out /dev/null` and with `--calls-out /dev/null --history FILE` (a fresh store each
# run), and prints wall and user+sys CPU seconds, the ratio, and the store's size per call.
#   tests/bench/history_bench.sh [BUILD_DIR] [CALLS] [RUNS]   (defaults: build/release 8000 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
calls=${2:-8000}
runs=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$build/mcn-gen" mix --calls "$calls" --seed 1 -o "$work/mix.pcap" 2>/dev/null
cat "$work/mix.pcap" >/dev/null  # page cache warm

best() {  # best of $runs: "wall_s cpu_s"
  local best_wall="" best_cpu=""
  for _ in $(seq "$runs"); do
    rm -f "$work"/h.sqlite*
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>&1
    read -r wall user sys <"$work/t"
    cpu=$(echo "$user + $sys" | bc -l)
    if [[ -z $best_wall ]] || (($(echo "$wall < $best_wall" | bc -l))); then best_wall=$wall; fi
    if [[ -z $best_cpu ]] || (($(echo "$cpu < $best_cpu" | bc -l))); then best_cpu=$cpu; fi
  done
  echo "$best_wall $best_cpu"
}

read -r off_wall off_cpu < <(best "$build/mcn" replay "$work/mix.pcap" --calls-out /dev/null -q)
read -r on_wall on_cpu < <(best "$build/mcn" replay "$work/mix.pcap" --calls-out /dev/null -q \
  --history "$work/h.sqlite")
"$build/mcn" replay "$work/mix.pcap" --calls-out /dev/null -q --history "$work/h.sqlite" 2>/dev/null
records=$("$build/mcn" replay "$work/mix.pcap" --calls-out - -q 2>/dev/null | wc -l)
bytes=$(du -cb "$work"/h.sqlite* | tail -1 | cut -f1)
echo "mix: $calls calls, $records records (mcn-gen mix --seed 1), best of $runs"
printf 'history off: wall %s s, cpu %s s\n' "$off_wall" "$off_cpu"
printf 'history on:  wall %s s, cpu %s s\n' "$on_wall" "$on_cpu"
printf 'wall ratio on/off: %.3f; store: %d bytes, %.0f bytes per record\n' \
  "$(echo "$on_wall / $off_wall" | bc -l)" "$bytes" "$(echo "$bytes / $records" | bc -l)"
