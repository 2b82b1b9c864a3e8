#!/usr/bin/env bash
# netns-run.sh NAME CIDR -- COMMAND [ARGS...]
# Runs COMMAND in a network namespace of its own (NAME-<pid>) whose loopback interface also
# carries CIDR (e.g. 198.18.3.0/24: every address of it is then local, as 127/8 is), so an
# end-to-end test's SIP peers, Kamailio and mcn meet no other test's ports and nothing of the
# host's. At exit every process left in the namespace is killed (a SIGSTOPped Kamailio too) and
# the namespace deleted. Exit status: COMMAND's; 77 (skipped) without root.
set -euo pipefail
(($# >= 4)) && [[ $3 == -- ]] || { echo "usage: netns-run.sh NAME CIDR -- COMMAND..." >&2; exit 2; }
name=$1 cidr=$2
shift 3
[[ $EUID -eq 0 ]] || { echo "netns-run.sh: needs root (ip netns)" >&2; exit 77; }
ns="$name-$$"
cleanup() {
  local pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$cidr" dev lo
set +e
ip netns exec "$ns" "$@"
rc=$?
set -e
exit "$rc"
