#!/usr/bin/env bash
# Issue 6, memory: peak RSS grows with calls in flight, not with capture length. A generated
# one-day capture (1,000,000 calls at 11.57 calls/s = 86,400 s; ~51 M frames, ~26 GB of pcap) is
# piped from mcn-gen straight into `mcn replay -`, so nothing is stored on disk, and mcn's peak
# RSS must stay under 64 MiB. Also prints the per-open-call state from the flood benchmark
# (200,000 unanswered INVITEs held open). Long (minutes): not part of CI.
#   tests/bench/memory_day.sh [BUILD_DIR] [CALLS] [CPS]   (defaults: build/release 1000000 11.574)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
calls=${2:-1000000}
cps=${3:-11.574}
limit_kb=$((64 * 1024))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "mcn-gen mix --calls $calls --cps $cps --seed 1 -o - | mcn replay - (deploy/office.toml)"
set +e
"$build/mcn-gen" mix --calls "$calls" --cps "$cps" --seed 1 --summary-json "$work/want.json" -o - 2>/dev/null |
  /usr/bin/time -o "$work/time" -f "%e %M" "$build/mcn" replay - --threads 1 --config deploy/office.toml \
    --calls-out /dev/null 2>"$work/summary.txt"
rc=("${PIPESTATUS[@]}")
set -e
[[ "${rc[0]}" == 0 && "${rc[1]}" == 0 ]] || { echo "failed: mcn-gen ${rc[0]}, mcn ${rc[1]}"; cat "$work/summary.txt"; exit 1; }
read -r secs peak_kb <"$work/time"
head -1 "$work/summary.txt"
frames=$(grep -o '"frames":[0-9]*' "$work/want.json" | cut -d: -f2)
span=$(grep -o '"first_us":[0-9]*,"last_us":[0-9]*' "$work/want.json" |
       awk -F'[:,]' '{printf "%.1f h", ($4-$2)/3.6e9}')
echo "capture: $frames frames, $calls calls over $span"
printf 'mcn: %.1f s wall (generator included), peak RSS %d KB (%.1f MiB)\n' "$secs" "$peak_kb" "$(awk "BEGIN{print $peak_kb/1024}")"
ok=1
for o in answered answered_elsewhere forwarded cancelled busy no_answer declined redirected failed incomplete; do
  want=$(grep -o "\"$o\":[0-9]*" "$work/want.json" | head -1 | cut -d: -f2 || true)
  got=$(grep -o "calls.outcome.$o=[0-9]*" "$work/summary.txt" | cut -d= -f2 || true)
  [[ "$want" == "${got:-0}" ]] || { echo "outcome $o: generator intended $want, mcn decided ${got:-0}"; ok=0; }
done
((ok)) && echo "outcomes: all equal to the generator's intent"
if ((peak_kb < limit_kb)); then echo "PASS: peak RSS < 64 MiB"; else echo "FAIL: peak RSS >= 64 MiB"; ok=0; fi

if [[ -x "$build/tests/mcn_bench" ]]; then
  "$build/tests/mcn_bench" --benchmark_filter='FloodInvites/200000/200000' 2>/dev/null |
    grep -o 'B_per_open=[0-9.]*[kM]*' | head -1 | sed 's/^/state per open call (flood benchmark): /' || true
fi
((ok))
