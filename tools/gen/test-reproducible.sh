#!/usr/bin/env bash
# Regenerates every mcn-gen fixture into a temporary directory and compares it byte for byte with
# pcaps/: the stored fixtures must be what the current generator writes (and the generator must
# be deterministic). Run by CTest as mcn_gen_fixtures_reproducible.
#   tools/gen/test-reproducible.sh path/to/mcn-gen
set -euo pipefail
cd "$(dirname "$0")/../.."
GEN=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
MCN_FIXTURES_OUT="$tmp" tools/gen/make-fixtures.sh "$GEN"
status=0
n=0
while IFS= read -r rel; do
  n=$((n + 1))
  if ! cmp -s "$tmp/$rel" "pcaps/$rel"; then
    echo "differs from pcaps/: $rel" >&2
    status=1
  fi
done < <(cd "$tmp" && find . -type f | sed 's|^\./||' | sort)
# Same arguments twice -> same bytes, also for the mix (stdout, any thread count).
a=$("$GEN" mix --calls 300 --seed 5 --threads 1 -o - 2>/dev/null | md5sum)
b=$("$GEN" mix --calls 300 --seed 5 --threads 3 -o - 2>/dev/null | md5sum)
if [ "$a" != "$b" ]; then
  echo "mix output depends on the thread count" >&2
  status=1
fi
echo "$n fixtures compared" >&2
exit $status
