#!/usr/bin/env bash
# check-groups.sh MCN: records the sipp_grp_* cases afresh (record-groups.sh, into a temporary
# directory), replays each with mcn and its pcaps/sipp_grp_<case>.config.toml, and compares the
# records with the committed pcaps/sipp_grp_<case>.expected.jsonl on every field a new run keeps
# (Call-IDs, times and ring_ms change with each run). CTest mcn_record_groups, root only.
set -Eeuo pipefail
MCN=${1:?usage: check-groups.sh path/to/mcn}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$(mktemp -d /tmp/check-groups.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
OUT_DIR="$OUT" "$HERE/record-groups.sh" >"$OUT/record.log" 2>&1 || {
  cat "$OUT/record.log" >&2
  exit 1
}
rc=0
for pcap in "$OUT"/sipp_grp_*.pcap; do
  name=$(basename "$pcap" .pcap)
  "$MCN" replay "$pcap" --config "$ROOT/pcaps/$name.config.toml" --calls-out "$OUT/$name.jsonl" \
    >/dev/null 2>"$OUT/$name.err" || {
    cat "$OUT/$name.err" >&2
    rc=1
    continue
  }
  python3 - "$OUT/$name.jsonl" "$ROOT/pcaps/$name.expected.jsonl" "$name" <<'PY' || rc=1
import json, sys
keep = ["caller", "caller_name", "caller_withheld", "callee", "outcome", "missed", "status",
        "reason", "forwarded_to", "correlation", "legs", "transport"]
got = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
g = [{k: r[k] for k in keep} for r in got]
w = [{k: r[k] for k in keep} for r in want]
if g != w:
    print(f"{sys.argv[3]}: records differ\n  got:  {g}\n  want: {w}", file=sys.stderr)
    sys.exit(1)
print(f"{sys.argv[3]}: {len(g)} records as expected")
PY
done
exit "$rc"
