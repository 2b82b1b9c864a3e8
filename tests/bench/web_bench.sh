#!/usr/bin/env bash
# The web console and the call search at issue 18's size: 10,000 people (one to three numbers
# each) and 1,000,000 call records over 90 days in the store, with their notifications.
#   1. mcn_history_fill makes the store through history/'s own HistoryWriter (and the
#      subscribers TOML of those people): fill rate and bytes on disk per million records;
#   2. web_bench.py starts a real `mcn run` on it with [web] on, signs 20 people in through the
#      sign-in link flow (link to a loopback webhook receiver, confirm page GET, then POST) and
#      times GET /me and GET /api/calls by number, person, Call-ID, outcome + time range and the
#      next page by cursor: p50/p90/p99 per kind, and the machine's load while measuring.
#   tests/bench/web_bench.sh [BUILD_DIR] [REQUESTS] [RECORDS] [PEOPLE]
#   (defaults: build/release 2000 1000000 10000; needs the mcn and mcn_history_fill targets)
# WORK=DIR keeps the store there (default a fresh directory under BUILD_DIR, removed at the
# end); with WORK set and the store already made (same RECORDS and PEOPLE), step 1 is skipped.
# MCN=path times another mcn binary (a before/after comparison on the same store).
# Loopback 127.0.8.1, free ports.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
requests=${2:-2000}
records=${3:-1000000}
people=${4:-10000}
addr=127.0.8.1
mcn=$(realpath "${MCN:-$build/mcn}")
for t in "$mcn" "$build/tests/mcn_history_fill"; do
  [[ -x $t ]] || { echo "web_bench: $t missing (cmake --build $build --target mcn mcn_history_fill)" >&2; exit 2; }
done
if [[ -n ${WORK:-} ]]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d "$build/web_bench.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
work=$(cd "$work" && pwd)
hook_port=$(python3 -c "import socket; s=socket.socket(); s.bind(('$addr',0)); print(s.getsockname()[1])")
made="$records records, $people people"
if [[ -f $work/history.sqlite && -f $work/made && $(cat "$work/made") == "$made" ]]; then
  echo "store: reusing $work/history.sqlite ($made)"
  cat "$work/fill.log"
  # The people's webhook is this run's receiver.
  sed -i -E "s#^target = \"http://[^/]+/#target = \"http://$addr:$hook_port/#" "$work/subscribers.toml"
else
  rm -f "$work/made"
  "$build/tests/mcn_history_fill" --db "$work/history.sqlite" --subscribers "$work/subscribers.toml" \
    --samples "$work/samples.txt" --webhook "http://$addr:$hook_port" --records "$records" \
    --people "$people" | tee "$work/fill.log"
  echo "load average after the fill: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/fill.log"
  echo "$made" >"$work/made"
fi
python3 tests/bench/web_bench.py "$mcn" "$work" "$addr" "$hook_port" "$requests"
