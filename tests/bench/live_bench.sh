#!/usr/bin/env bash
# Live capture rate of `mcn run` (issue 6): replays a generated IMS mix with tcpreplay onto one end
# of a veth pair inside a throw-away network namespace while `mcn run` captures the other end, at
# rising packet rates, and reads what the kernel, libpcap and mcn's rings saw from /metrics.
# A rate passes when every frame sent was received by libpcap and none was dropped anywhere.
#   tests/bench/live_bench.sh [BUILD_DIR] [CALLS] [RATES...]   (root; defaults: build/release 8000
#                                                               100000 200000 300000 400000 top)
# "top" is tcpreplay --topspeed (as fast as it can send: then the sender is often the limit).
# IMMEDIATE=false batches packets (run.immediate = false, run.timeout_ms) instead of waking per
# packet; WORKERS=N sets run.workers; CAPTURE_THREADS=N sets run.capture_threads (PACKET_FANOUT;
# IPv4 fragments then arrive joined, so "received" counts one frame per fragmented datagram).
# HISTORY=false turns the call history store off (history.enabled; on by default, as in `mcn run`);
# LADDER=N sets run.ladder_messages (0: the operator ladder keeps no messages).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $EUID -eq 0 ]] || { echo "live_bench.sh: needs root (network namespace)" >&2; exit 2; }
command -v tcpreplay >/dev/null || { echo "live_bench.sh: tcpreplay missing (deploy/install-deps.sh)" >&2; exit 2; }
build=$(realpath "${1:-build/release}")
calls=${2:-8000}
shift $(($# > 2 ? 2 : $#))
rates=("$@")
((${#rates[@]})) || rates=(100000 200000 300000 400000 top)

NS=mcn-live-bench-$$
work=$(mktemp -d)
cleanup() {
  [[ -n "${MCN_PID:-}" ]] && kill "$MCN_PID" 2>/dev/null && wait "$MCN_PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }

"$build/mcn-gen" mix --calls "$calls" --seed 1 --summary-json "$work/want.json" -o "$work/mix.pcap" 2>/dev/null
frames=$(grep -o '"frames":[0-9]*' "$work/want.json" | cut -d: -f2)
echo "capture: $frames frames ($calls calls, mcn-gen mix --seed 1)"

ip netns add "$NS"
in_ns ip link set lo up
in_ns ip link add lbtx type veth peer name lbrx
for i in lbtx lbrx; do
  in_ns sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
  in_ns ip link set "$i" mtu 9000 up   # the mix holds up to 4.7 KB reassembled INVITEs
done

# The office's dial plan and correlation header, with the [run] keys this benchmark sets.
sed -e 's/^subscribers = .*//' \
    -e "s/^interfaces = .*/interfaces = [\"lbrx\"]\nhttp_port = 9189\nimmediate = ${IMMEDIATE:-true}\nworkers = ${WORKERS:-1}\ncapture_threads = ${CAPTURE_THREADS:-1}\nladder_messages = ${LADDER:-20000}/" \
    deploy/office.toml >"$work/mcn.toml"
printf '\n[history]\nenabled = %s\n' "${HISTORY:-true}" >>"$work/mcn.toml"
echo "run.immediate = ${IMMEDIATE:-true}, run.workers = ${WORKERS:-1}, run.capture_threads = ${CAPTURE_THREADS:-1}," \
  "run.ladder_messages = ${LADDER:-20000}, history.enabled = ${HISTORY:-true}"
(cd "$work" && exec ip netns exec "$NS" "$build/mcn" run --config "$work/mcn.toml" \
   --calls-out /dev/null >"$work/mcn.out" 2>"$work/mcn.log") &
MCN_PID=$!
for ((i = 0; i < 100; i++)); do
  in_ns curl -sf http://127.0.0.1:9189/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
in_ns curl -sf http://127.0.0.1:9189/readyz >/dev/null || { cat "$work/mcn.log"; exit 1; }

metric() {  # sum of a counter family's samples on /metrics
  in_ns curl -sf http://127.0.0.1:9189/metrics |
    awk -v f="$1" '$1 ~ "^"f"({|$)" { s += $2 } END { printf "%d\n", s }'
}
settle() {  # wait until libpcap's received count stops moving (the kernel ring is drained)
  local a b
  a=$(metric mcn_pcap_received_total)
  for ((i = 0; i < 40; i++)); do
    sleep 0.5
    b=$(metric mcn_pcap_received_total)
    [[ "$a" == "$b" ]] && return
    a=$b
  done
}

cpu() {  # mcn's CPU seconds so far (user + system, every thread)
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$MCN_PID/stat"
}
printf '%-10s %12s %12s %12s %10s %10s %8s %8s\n' rate sent_pps received kernel_drop if_drop ring_drop cpu_s verdict
for r in "${rates[@]}"; do
  settle
  rx0=$(metric mcn_pcap_received_total); kd0=$(metric mcn_pcap_kernel_dropped_total)
  id0=$(metric mcn_pcap_if_dropped_total); rd0=$(metric mcn_ring_drops_total); cpu0=$(cpu)
  if [[ "$r" == top ]]; then speed=(--topspeed); else speed=(--pps="$r"); fi
  in_ns tcpreplay -q -i lbtx "${speed[@]}" "$work/mix.pcap" >"$work/tcpreplay.txt" 2>&1 || true
  sent_pps=$(grep -o 'Rated: [0-9.]* Bps, [0-9.]* Mbps, [0-9.]* pps' "$work/tcpreplay.txt" | awk '{print $6}')
  sent=$(grep -o 'Actual: [0-9]* packets' "$work/tcpreplay.txt" | awk '{print $2}')
  settle
  rx=$(($(metric mcn_pcap_received_total) - rx0)); kd=$(($(metric mcn_pcap_kernel_dropped_total) - kd0))
  id=$(($(metric mcn_pcap_if_dropped_total) - id0)); rd=$(($(metric mcn_ring_drops_total) - rd0))
  verdict=PASS
  if ((kd + id + rd > 0)) || [[ "$rx" != "${sent:-0}" ]]; then verdict=FAIL; fi
  cpu_s=$(awk -v a="$cpu0" -v b="$(cpu)" 'BEGIN { printf "%.2f", b - a }')
  printf '%-10s %12s %12s %12s %10s %10s %8s %8s\n' "$r" "${sent_pps:-?}" "$rx/${sent:-?}" "$kd" "$id" "$rd" "$cpu_s" "$verdict"
done
echo "mcn: $(grep -c . "$work/mcn.log") log lines; last: $(tail -1 "$work/mcn.log")"
