#!/usr/bin/env bash
# CTest mcn_kernel_fragmented_invite (registered only when CMake runs as root): records the
# kernel-fragmented call afresh (IPv4 and IPv6, record-fragmented.sh) into a temporary directory,
# shuffles the IPv4 fragments (shuffle-fragments.py), replays all three with mcn and checks the
# record (every field but the times, which belong to this run) and the reassembly counters, and
# that tshark finds the same 5 SIP messages.
#   tools/record-netns/test-fragmented.sh path/to/mcn
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MCN=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$HERE/record-fragmented.sh" "$tmp"
FAMILY=6 "$HERE/record-fragmented.sh" "$tmp"
python3 "$HERE/shuffle-fragments.py" "$tmp/kernel_fragmented_invite.pcap" \
  "$tmp/kernel_fragmented_shuffled.pcap"

status=0
for name in kernel_fragmented_invite kernel_fragmented_invite_v6 kernel_fragmented_shuffled; do
  pcap="$tmp/$name.pcap"
  if command -v tshark >/dev/null; then
    n=$(tshark -r "$pcap" -Y sip 2>/dev/null | wc -l)
    [[ $n -eq 5 ]] || { echo "$name: tshark finds $n SIP messages, want 5" >&2; status=1; }
  fi
  "$MCN" replay "$pcap" --config "$ROOT/pcaps/fixtures.toml" --calls-out "$tmp/$name.jsonl" \
    2>"$tmp/$name.log" || { echo "$name: mcn replay failed" >&2; cat "$tmp/$name.log" >&2; status=1; }
  python3 - "$tmp/$name.jsonl" "$ROOT/pcaps/$name.expected.jsonl" "$tmp/$name.log" "$name" <<'PY' || status=1
import json, re, sys
got_path, want_path, log_path, name = sys.argv[1:]
got = [json.loads(l) for l in open(got_path) if l.strip()]
want = [json.loads(l) for l in open(want_path) if l.strip()]
timing = {"started_at", "ended_at", "ring_ms"}
ok = len(got) == len(want) == 1
if ok:
    g = {k: v for k, v in got[0].items() if k not in timing}
    w = {k: v for k, v in want[0].items() if k not in timing}
    ok = g == w and 900 <= got[0]["ring_ms"] <= 1100
if not ok:
    print(f"{name}: records differ\n  got:  {got}\n  want: {want} (times aside)", file=sys.stderr)
counters = dict(re.findall(r"([a-z_.]+)=(\d+)", open(log_path).read().split("counters:")[-1]))
want_c = {"ip.frag_reassembled": "1", "udp.sip": "5"}
if name == "kernel_fragmented_shuffled":
    want_c.update({"decode.duplicate_frames": "1", "ip.frag_duplicates": "1"})
for k, v in want_c.items():
    if counters.get(k) != v:
        print(f"{name}: counter {k} = {counters.get(k)}, want {v}", file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
PY
done
[[ $status -eq 0 ]] && echo "kernel-fragmented INVITE: IPv4, IPv6 and shuffled replays match" >&2
exit $status
