#!/usr/bin/env bash
# capture-threads-e2e.sh MCN MCN_GEN: run.capture_threads (issue 16 item 4). One network namespace
# (mcn-capthreads) with a veth pair in 198.18.43.0/24; tcpreplay sends, out of ct-tx, a generated
# IMS mix (400 calls) then fixtures over TCP (sipp_tcp, tcp_answered) and with IPv4 and IPv6
# fragments (ip_fragments, kernel_fragmented_invite, ipv6_fragments,
# kernel_fragmented_invite_v6), all at ten times their real pace. `mcn run`
# captures ct-rx with 2 workers, once with capture_threads = 1 and once with 2 (one
# PACKET_FANOUT group), and is stopped with SIGTERM once everything is decided.
#
# Checks: with 2 threads /metrics has mcn_pcap_received_total and mcn_pcap_kernel_dropped_total
# for socket="0" and socket="1", both sockets received frames, the sockets' received frames add
# up to what tcpreplay sent (less the IPv4 fragments the kernel joined first), nothing was
# dropped (kernel, interface, rings); and both runs wrote
# the same records (times and ring_ms aside: live runs follow the wall clock), every one of
# the TCP and fragment fixtures' calls among them with the outcome its expected.jsonl gives.
#
# Needs root, iproute2, tcpreplay, tshark, curl, python3.
set -Eeuo pipefail

MCN=$(readlink -f "${1:?usage: capture-threads-e2e.sh path/to/mcn path/to/mcn-gen}")
GEN=$(readlink -f "${2:?usage: capture-threads-e2e.sh path/to/mcn path/to/mcn-gen}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PCAPS="$HERE/../../pcaps"
readonly MCN GEN HERE PCAPS NS=mcn-capthreads HTTP=9193
readonly FIXTURES=(sipp_tcp tcp_answered ip_fragments kernel_fragmented_invite ipv6_fragments
  kernel_fragmented_invite_v6)

E2E_NAME=capture-threads-e2e.sh
E2E_NETNS=("$NS")
# shellcheck source=lib.sh
source "$HERE/lib.sh"
e2e_begin mcn-capthreads
command -v tcpreplay >/dev/null || die "tcpreplay missing (deploy/install-deps.sh)"
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
in_ns ip link set lo up
in_ns ip link add ct-tx type veth peer name ct-rx
for i in ct-tx ct-rx; do
  in_ns sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
  in_ns ip link set "$i" mtu 9000 up
done
in_ns ip addr add 198.18.43.1/24 dev ct-tx
in_ns ip addr add 198.18.43.2/24 dev ct-rx

"$GEN" mix --calls 400 --seed 7 --cps 50 -o "$WORK/mix.pcap" 2>/dev/null
# IPv4 fragments the kernel joins before the fanout: fragments minus datagrams (tshark).
MERGED=0
for f in "$WORK/mix.pcap" "${FIXTURES[@]/#/$PCAPS/}"; do
  [[ $f == *.pcap ]] || f=$f.pcap
  # Fragments (a) and first fragments (b, one per datagram), in one tshark pass per file.
  read -r a b < <(tshark -r "$f" -o ip.defragment:FALSE -Y "ip.flags.mf==1 || ip.frag_offset>0" \
    -T fields -e ip.flags.mf -e ip.frag_offset 2>/dev/null |
    awk '{ a++ } $1 == "1" && $2 == "0" { b++ } END { print a + 0, b + 0 }')
  MERGED=$((MERGED + a - b))
done
((MERGED > 0)) || die "no IPv4 fragments in the input"

metric() { # FAMILY [LABEL_MATCH]: sum of the family's samples (matching the label text)
  in_ns curl -sf "http://127.0.0.1:$HTTP/metrics" |
    awk -v f="$1" -v m="${2:-}" '$1 ~ "^"f"({|$)" && index($1, m) { s += $2 } END { printf "%d\n", s }'
}

run_case() { # THREADS
  local t=$1 sent=0 n i a b pid
  sed -e 's/^subscribers = .*//' \
    -e "s/^interfaces = .*/interfaces = [\"ct-rx\"]\nhttp_port = $HTTP\nworkers = 2\ncapture_threads = $t/" \
    -e 's/^\[calls\]$/[calls]\ngrace_ms = 500\ngrace_after_3xx_ms = 1000/' \
    "$HERE/../../deploy/office.toml" >"$WORK/mcn.$t.toml"
  (cd "$WORK" && exec ip netns exec "$NS" "$MCN" run --config "$WORK/mcn.$t.toml" \
    --calls-out "$WORK/calls.$t.jsonl" >"$WORK/mcn.$t.out" 2>"$WORK/mcn.$t.log") &
  pid=$!
  BG[$pid]=mcn
  for ((i = 0; i < 100; i++)); do
    in_ns curl -sf "http://127.0.0.1:$HTTP/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || die "mcn exited at start-up: $(cat "$WORK/mcn.$t.log")"
    sleep 0.1
  done
  # (tcpreplay writes its report at the start of an appended file: one file each)
  in_ns tcpreplay -q -i ct-tx --multiplier 10 "$WORK/mix.pcap" >"$WORK/tcpreplay.$t.mix.txt" 2>&1
  for f in "${FIXTURES[@]}"; do
    in_ns tcpreplay -q -i ct-tx --multiplier 10 "$PCAPS/$f.pcap" >"$WORK/tcpreplay.$t.$f.txt" 2>&1
  done
  cat "$WORK"/tcpreplay.$t.*.txt >"$WORK/tcpreplay.$t.txt"
  while read -r n; do sent=$((sent + n)); done < <(grep -o 'Actual: [0-9]* packets' "$WORK/tcpreplay.$t.txt" | awk '{print $2}')
  # Drained when libpcap's count stops moving; then the grace periods pass (shortened to 0.5 s,
  # 1 s after a 3xx: the capture is sent at ten times its pace, so they still cover 5 and 10 s).
  a=$(metric mcn_pcap_received_total)
  for ((i = 0; i < 40; i++)); do
    sleep 0.5
    b=$(metric mcn_pcap_received_total)
    [[ $a == "$b" ]] && break
    a=$b
  done
  sleep 2
  local rx kd id rd
  rx=$(metric mcn_pcap_received_total)
  kd=$(metric mcn_pcap_kernel_dropped_total)
  id=$(metric mcn_pcap_if_dropped_total)
  rd=$(metric mcn_ring_drops_total)
  log "capture_threads=$t: sent $sent, received $rx, kernel drops $kd, interface drops $id, ring drops $rd"
  ((sent > 19000)) || die "tcpreplay sent only $sent frames: $(cat "$WORK/tcpreplay.$t.txt")"
  # In a fanout group with PACKET_FANOUT_FLAG_DEFRAG the kernel hands over each IPv4 datagram
  # reassembled: one frame for its fragments.
  local want=$sent
  ((t == 1)) || want=$((sent - MERGED))
  [[ $rx == "$want" ]] || die "capture_threads=$t: received $rx frames, expected $want"
  ((kd + id + rd == 0)) || die "capture_threads=$t: frames dropped"
  if ((t > 1)); then
    local page
    page=$(in_ns curl -sf "http://127.0.0.1:$HTTP/metrics")
    for ((i = 0; i < t; i++)); do
      # Not `curl | grep -q`: grep leaves at its first match, curl then fails writing the rest of
      # the page, and pipefail made that a failure (seen once in CI).
      grep -q "^mcn_pcap_kernel_dropped_total{.*socket=\"$i\"" <<<"$page" ||
        die "no mcn_pcap_kernel_dropped_total for socket $i"
      n=$(metric mcn_pcap_received_total "socket=\"$i\"")
      log "  socket $i received $n"
      ((n > 0)) || die "socket $i received nothing: the fanout did not spread the flows"
    done
  fi
  e2e_stop "$pid"
  wait "$pid" 2>/dev/null || die "mcn exited with $? after SIGTERM; see $WORK/mcn.$t.log"
  unset "BG[$pid]"
}

run_case 1
run_case 2

python3 - "$WORK" "$PCAPS" "${FIXTURES[@]}" <<'EOF'
import json, sys
work, pcaps, fixtures = sys.argv[1], sys.argv[2], sys.argv[3:]
def load(path):
    out = []
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            for k in ("started_at", "ended_at", "ring_ms"):
                r.pop(k, None)
            out.append(json.dumps(r, sort_keys=True))
    return sorted(out)
one, two = load(f"{work}/calls.1.jsonl"), load(f"{work}/calls.2.jsonl")
if len(one) < 400:
    sys.exit(f"FAIL: only {len(one)} records with one capture thread")
if one != two:
    a, b = set(one) - set(two), set(two) - set(one)
    sys.exit(f"FAIL: records differ: {len(a)} only with 1 thread, {len(b)} only with 2: "
             f"{sorted(a)[:2]} / {sorted(b)[:2]}")
got = {}
for line in two:
    r = json.loads(line)
    got[(r["call_id"], r["callee"])] = r["outcome"]
for f in fixtures:
    for line in open(f"{pcaps}/{f}.expected.jsonl"):
        if not line.strip():
            continue
        w = json.loads(line)
        g = got.get((w["call_id"], w["callee"]))
        if g != w["outcome"]:
            sys.exit(f"FAIL: {f}: {w['call_id']} to {w['callee']}: {g}, expected {w['outcome']}")
print(f"capture-threads-e2e.sh: {len(one)} records, the same with 1 and 2 capture threads")
EOF
log PASS
