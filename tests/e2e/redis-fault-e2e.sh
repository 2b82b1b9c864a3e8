#!/usr/bin/env bash
# redis-fault-e2e.sh MCN: `mcn run` with its subscribers in Redis, across a Redis outage (issue 7).
#
# One network namespace (mcn-redisf): a real redis-server on a loopback port (append-only file,
# so a restart keeps the data, as in production), the webhook receiver on loopback, and a veth
# pair on which inject.py replays the hand-checked fixtures (every call rings +86 25 8300 1013).
#
#  1. 1013 belongs to "alpha" (webhook /alpha): busy_486 -> /alpha.
#  2. Redis stopped: mcn keeps its last snapshot, cancelled -> still /alpha (missed calls are
#     still notified while the store is down).
#  3. Redis restarted; then 1013 is moved to "beta" (/beta) with `mcn subscribers --redis`:
#     once mcn has swapped in the new snapshot (subscribers version on /metrics moves),
#     unavailable_480 -> /beta.
# Exactly three webhooks in all.
#
# Needs root, iproute2, redis-server, curl, python3.
set -Eeuo pipefail

MCN=$(readlink -f "${1:?usage: redis-fault-e2e.sh path/to/mcn}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PCAPS="$HERE/../../pcaps"
readonly MCN HERE PCAPS NS=mcn-redisf PORT=8096 HTTP=9185 REDIS_PORT=6391
readonly SECRET=whsec_bWNuLXJlZGlzZi1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg==
readonly URL=redis://127.0.0.1:$REDIS_PORT/0

E2E_NAME=redis-fault-e2e.sh
E2E_NETNS=("$NS")
# shellcheck source=lib.sh
source "$HERE/lib.sh"
command -v redis-server >/dev/null || die "redis-server not found"
e2e_begin mcn-redisf
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
in_ns ip link set lo up
in_ns ip link add inj0 type veth peer name cap0
in_ns ip link set inj0 up
in_ns ip link set cap0 up

REDIS_PID=
start_redis() {
  ip netns exec "$NS" redis-server --bind 127.0.0.1 --port $REDIS_PORT --dir "$WORK" --appendonly yes \
    --save '' --daemonize no >>"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  BG[$REDIS_PID]=redis
  for ((i = 0; i < 50; i++)); do
    in_ns redis-cli -p $REDIS_PORT ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  die "redis-server did not start: $(tail -5 "$WORK/redis.log")"
}
stop_redis() {
  in_ns redis-cli -p $REDIS_PORT shutdown >/dev/null 2>&1 || true
  wait "$REDIS_PID" || true
  unset "BG[$REDIS_PID]"
}
person() { # ID
  cat <<EOF
[[person]]
id = "$1"
name = "Person $1"
numbers = ["1013"]
[person.preferences]
merge_window = "0"
[[person.channel]]
kind = "webhook"
target = "http://127.0.0.1:$PORT/$1"
secret_ref = "env:MCN_REDISF_SECRET"
EOF
}
subscribers() { in_ns "$MCN" subscribers --redis "$URL" --config "$WORK/mcn.toml" "$@"; }

cat >"$WORK/mcn.toml" <<EOF
[dial_plan]
country_code = "86"
national_prefix = "0"
international_prefix = "00"
area_code = "25"
local_number_length = 8
[[dial_plan.rewrite]]
match = "^(1\\\\d{3})\$"
replace = "+86258300\$1"
[calls]
grace_ms = 200
[notify]
dead_letter = "$WORK/dead-letter.jsonl"
[run]
redis = "$URL"
http_port = $HTTP
ring_size = 1024
shutdown_timeout_ms = 3000
EOF

start_redis
person alpha >"$WORK/alpha.toml"
person beta >"$WORK/beta.toml"
subscribers import "$WORK/alpha.toml" >/dev/null || die "cannot import alpha"

in_ns python3 "$HERE/webhook_receiver.py" $PORT "$WORK/webhooks.jsonl" >"$WORK/receiver.log" 2>&1 &
BG[$!]=receiver
(cd "$WORK" && exec ip netns exec "$NS" env MCN_REDISF_SECRET=$SECRET "$MCN" run \
  --config "$WORK/mcn.toml" -i cap0 >"$WORK/mcn.out" 2>"$WORK/mcn.log") &
MCN_PID=$!
BG[$MCN_PID]=mcn
for ((i = 0; i < 50; i++)); do
  in_ns curl -sf http://127.0.0.1:$HTTP/readyz >/dev/null 2>&1 && grep -qs listening "$WORK/receiver.log" && break
  kill -0 $MCN_PID 2>/dev/null || die "mcn exited at start-up: $(cat "$WORK/mcn.log")"
  sleep 0.1
done

# Default http_bind: /metrics listens on loopback only.
[[ $(in_ns ss -ltnH "sport = :$HTTP" | awk '{ print $4 }') == "127.0.0.1:$HTTP" ]] ||
  die "/metrics not on loopback only: $(in_ns ss -ltnH "sport = :$HTTP")"

hook() { # N: "path call-id" of webhook N
  python3 -c '
import json, sys
h = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][int(sys.argv[2]) - 1]
print(h["path"], h["body"]["data"]["calls"][0]["call_id"])
' "$WORK/webhooks.jsonl" "$1"
}
metric() { in_ns curl -sf http://127.0.0.1:$HTTP/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
inject() { in_ns python3 "$HERE/inject.py" inj0 "$PCAPS/$1" >/dev/null; }

# --- 1: Redis up --------------------------------------------------------------------------------
inject busy_486.pcap
wait_hooks 1
[[ $(hook 1) == "/alpha busy_486-1@192.0.2.10" ]] || die "phase 1: $(hook 1)"
v1=$(metric mcn_subscribers_version)
[[ -n $v1 ]] || die "no mcn_subscribers_version on /metrics"

# --- 2: Redis down: the last snapshot keeps notifying ------------------------------------------
stop_redis
inject cancelled.pcap
wait_hooks 2
[[ $(hook 2) == "/alpha cancelled-1@192.0.2.10" ]] || die "phase 2: $(hook 2)"
for ((i = 0; i < 50; i++)); do
  grep -qi 'redis.*\(lost\|unreachable\|error\|down\)' "$WORK/mcn.log" && break
  sleep 0.1
done
grep -qi 'redis.*\(lost\|unreachable\|error\|down\)' "$WORK/mcn.log" || die "the outage is not logged"
log "phase 2: notified from the last snapshot while Redis was down"

# --- 3: Redis back, then a change ------------------------------------------------------------
start_redis
subscribers remove alpha >/dev/null || die "cannot remove alpha"
subscribers import "$WORK/beta.toml" >/dev/null || die "cannot import beta"
v3=$(in_ns redis-cli -p $REDIS_PORT get mcn:subscribers:version)
for ((i = 0; i < 150; i++)); do # reconnect backoff is at most a few seconds here
  [[ $(metric mcn_subscribers_version) == "$v3" ]] && break
  sleep 0.1
done
[[ $(metric mcn_subscribers_version) == "$v3" ]] ||
  die "mcn did not pick up version $v3 (has $(metric mcn_subscribers_version), had $v1)"
inject unavailable_480.pcap
wait_hooks 3
[[ $(hook 3) == "/beta unavailable_480-1@192.0.2.10" ]] || die "phase 3: $(hook 3)"

kill -TERM $MCN_PID
rc=0
wait $MCN_PID || rc=$?
unset "BG[$MCN_PID]"
((rc == 0)) || die "mcn exited with $rc"
(($(hooks) == 3)) || die "$(hooks) webhooks in all, want 3"
[[ ! -s $WORK/dead-letter.jsonl ]] || die "dead letters: $(cat "$WORK/dead-letter.jsonl")"
log "PASS"
