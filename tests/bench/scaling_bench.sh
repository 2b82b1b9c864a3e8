#!/usr/bin/env bash
# scaling_bench.sh: cost grows with work as it should (issue 16 item 5). Two tables of `mcn
# replay` user+sys CPU seconds and peak RSS:
#   - against capture size: the 8,000-call mix (`mcn-gen mix --calls 8000 --seed 1`) at 1x, 5x
#     and 25x (8,000, 40,000, 200,000 calls at the mix's fixed call rate, so a longer capture,
#     not more calls at once): time should grow linearly, peak RSS stay flat;
#   - against open calls: 10k, 100k, 1M INVITEs that never get a response (`mcn-gen flood`),
#     all sent within 10 s, so all are ringing at once (ring_timeout_ms is 180 s) when the capture
#     ends: peak RSS should grow with them. [calls] max_calls (default 200,000) is raised to
#     2,000,000 in a temporary copy of the config so the 1M are really held, not evicted.
# Captures are piped from mcn-gen into `mcn replay -` (nothing on disk; 25x is 5 GB of pcap);
# /usr/bin/time measures mcn alone, so the generator's CPU is not counted.
#   tests/bench/scaling_bench.sh [BUILD_DIR] [RUNS] [SIZES] [OPEN]
#   (defaults: build/release, 3 (1 for runs of more than 2 M frames), "1 5 25", "10000 100000 1000000")
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
runs=${2:-3}
sizes=${3:-1 5 25}
opens=${4:-10000 100000 1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# office.toml with a larger open-call table.
awk '{print} /^\[calls\]/{print "max_calls = 2000000"}' deploy/office.toml >"$work/config.toml"
grep -q '^max_calls = 2000000' "$work/config.toml"

# run N GEN_ARGS...: best of N; "cpu_seconds peak_kb" and the last run's summary in $work/summary.txt
run() {
  local n=$1 best_s="" best_kb="" s kb rc
  shift
  for ((i = 0; i < n; i++)); do
    set +e
    "$build/mcn-gen" "$@" -o - 2>/dev/null |
      /usr/bin/time -o "$work/time" -f "%U %S %M" "$build/mcn" replay - --threads 1 --config "$work/config.toml" \
        --calls-out /dev/null 2>"$work/summary.txt"
    rc=("${PIPESTATUS[@]}")
    set -e
    [[ ${rc[0]} == 0 && ${rc[1]} == 0 ]] || { echo "failed: mcn-gen ${rc[0]}, mcn ${rc[1]}" >&2; cat "$work/summary.txt" >&2; exit 1; }
    read -r s kb < <(awk '{printf "%.3f %d\n", $1 + $2, $3}' "$(echo "$work/time")" | tail -1)
    if [[ -z $best_s ]] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s best_kb=$kb; fi
  done
  echo "$best_s $best_kb"
}
counter() { local v; v=$(grep -o "\\b$1=[0-9]*" "$work/summary.txt" | head -1 | cut -d= -f2 || true); echo "${v:-0}"; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo
echo "| capture | calls | frames | CPU s | ns/frame | peak RSS |"
echo "|---|---|---|---|---|---|"
base_s=""
for x in $sizes; do
  calls=$((8000 * x))
  frames_est=$((calls * 51))
  n=$runs
  ((frames_est > 2000000)) && n=1
  read -r s kb < <(run "$n" mix --calls "$calls" --seed 1)
  frames=$(counter decode.frames)
  printf '| %sx | %d | %d | %.2f | %.0f | %.1f MB |\n' "$x" "$calls" "$frames" "$s" \
    "$(awk "BEGIN{print $s*1e9/$frames}")" "$(awk "BEGIN{print $kb/1024}")"
done
echo
echo "| open calls | frames | CPU s | peak RSS | calls.evicted |"
echo "|---|---|---|---|---|"
first_kb="" first_open=""
for open in $opens; do
  n=$runs
  ((open > 200000)) && n=1
  read -r s kb < <(run "$n" flood --invites "$open" --rate "$((open / 10))" --seed 1)
  printf '| %d | %d | %.2f | %.1f MB | %d |\n' "$open" "$(counter decode.frames)" "$s" \
    "$(awk "BEGIN{print $kb/1024}")" "$(counter calls.evicted)"
  if [[ -z $first_kb ]]; then
    first_kb=$kb first_open=$open
  else
    echo "  peak RSS per open call above $first_open: $(awk "BEGIN{printf \"%.0f\", ($kb-$first_kb)*1024/($open-$first_open)}") bytes"
  fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
