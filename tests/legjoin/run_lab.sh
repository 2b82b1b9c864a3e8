#!/usr/bin/env bash
# CTest mcn_legjoin_lab (root only): re-record the real-stack cases of tools/record-legjoin
# (kamailio topoh, the sipp B2BUA) into a temporary directory and check mcn's records against each
# case's intent: which numbers get a record, their outcome and missed flag, how many legs, how
# many records. Call-IDs and times differ on every recording, so only those are compared; the
# exact records are pinned by the committed pcaps/sipp_topoh_* and sipp_b2bua_* fixtures.
#
#   tests/legjoin/run_lab.sh build/release/mcn
set -Eeuo pipefail
MCN=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[[ $EUID -eq 0 ]] || { echo "run_lab.sh: needs root (tcpdump on lo); skipped"; exit 77; }
for tool in kamailio sipp tcpdump tshark; do
  command -v "$tool" >/dev/null || { echo "run_lab.sh: $tool missing; skipped"; exit 77; }
done
OUT=$(mktemp -d /tmp/mcn-legjoin-lab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

OUT_DIR="$OUT" timeout 80 "$ROOT/tools/record-legjoin/record.sh"

# case -> the records a user must see: callee outcome missed legs, one per record
declare -A WANT=(
  [topoh_answered]="+862583001013 answered false 2"
  [topoh_cancel]="+862583001013 cancelled true 2"
  [topoh_busy]="+862583001015 busy true 2"
  [topoh_two_calls]="+862583001015 busy true 2;+862583001015 busy true 2"
  [b2bua_302_answered]="+862583001013 forwarded false 3;+862583001014 answered false 3"
)
fail=0
for c in "${!WANT[@]}"; do
  "$MCN" replay "$OUT/sipp_$c.pcap" --config "$ROOT/pcaps/fixtures.toml" \
    --calls-out "$OUT/$c.jsonl" 2>"$OUT/$c.log"
  got=$(python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(";".join(sorted("%s %s %s %d" % (r["callee"], r["outcome"], str(r["missed"]).lower(), r["legs"])
                      for r in recs)))
' "$OUT/$c.jsonl")
  want=$(tr ';' '\n' <<<"${WANT[$c]}" | sort | paste -sd';')
  if [[ $got == "$want" ]]; then
    echo "ok   $c: $got"
  else
    echo "FAIL $c: got '$got', want '$want'"
    cat "$OUT/$c.jsonl"
    fail=1
  fi
done
# the B2BUA case's forward: reason and target, as the Diversion header said
python3 - "$OUT/b2bua_302_answered.jsonl" <<'PY' || fail=1
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][0]
ok = r["reason"] == "unconditional" and r["forwarded_to"] == "+862583001014" and r["status"] == 302
print(("ok  " if ok else "FAIL") + " b2bua_302_answered forward: %s %s %s" % (r["status"], r["reason"], r["forwarded_to"]))
sys.exit(0 if ok else 1)
PY
exit $fail
