#!/usr/bin/env bash
# CTests mcn_legjoin_lab and mcn_sipp_lab (root only): re-record real-stack cases (kamailio, sipp,
# tcpdump on lo) into a temporary directory and check mcn's records against each case's intent,
# the hand-written pcaps/sipp_<case>.expected.jsonl of the committed recording: per record the
# fields a recording does not change (callee, outcome, missed, status, reason, forwarded_to,
# caller, legs) and the number of records. Call-IDs and times differ on every recording.
#
#   tests/lab/run_lab.sh MCN RECORD_SCRIPT [CASE...]
#   tests/lab/run_lab.sh build/release/mcn tools/record-legjoin/record.sh
set -Eeuo pipefail
MCN=$(realpath "$1")
RECORD=$(realpath "$2")
shift 2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[[ $EUID -eq 0 ]] || { echo "run_lab.sh: needs root (tcpdump on lo)"; exit 1; }
for tool in kamailio sipp tcpdump tshark python3; do
  command -v "$tool" >/dev/null || { echo "run_lab.sh: $tool missing"; exit 1; }
done
OUT=$(mktemp -d /tmp/mcn-lab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

OUT_DIR="$OUT" timeout 140 "$RECORD" "$@"

fail=0
for pcap in "$OUT"/sipp_*.pcap; do
  c=$(basename "$pcap" .pcap)
  want="$ROOT/pcaps/$c.expected.jsonl"
  [[ -f $want ]] || { echo "FAIL $c: no $want"; fail=1; continue; }
  "$MCN" replay "$pcap" --config "$ROOT/pcaps/fixtures.toml" --calls-out "$OUT/$c.jsonl" \
    2>"$OUT/$c.log"
  python3 - "$c" "$OUT/$c.jsonl" "$want" <<'PY' || fail=1
import json, sys
keys = ("callee", "outcome", "missed", "status", "reason", "forwarded_to", "caller", "legs")
def view(path):
    return sorted(json.dumps([r[k] for k in keys]) for r in map(json.loads, open(path)) if r)
got, want = view(sys.argv[2]), view(sys.argv[3])
if got == want:
    print("ok   %s: %s" % (sys.argv[1], "; ".join(got)))
else:
    print("FAIL %s (%s)\n  got:  %s\n  want: %s" % (sys.argv[1], ", ".join(keys), got, want))
    sys.exit(1)
PY
done
n=$(ls "$OUT"/sipp_*.pcap | wc -l)
[[ $n -gt 0 ]] || { echo "FAIL: nothing recorded"; fail=1; }
exit $fail
