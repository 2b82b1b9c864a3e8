#!/usr/bin/env bash
# reload-e2e.sh MCN: SIGHUP reloads the configuration of a running `mcn run` (issues 5 and 7).
#
# One network namespace (mcn-reload) with a veth pair: inject.py sends the frames of the
# hand-checked fixtures (pcaps/README.md; every call rings +86 25 8300 1013) out of inj0, mcn
# captures on cap0; the webhook receiver listens on the namespace's loopback.
#
#  1. Started with 1013 owned by "old" (webhook path /old, title template "BEFORE {count}"):
#     busy_486 -> one webhook on /old titled "BEFORE 1".
#  2. Good reload: 1013 now owned by a new person "new" (/new), title "AFTER {count}", and
#     run.workers changed (needs a restart: logged, kept). cancelled.pcap is cut in two around
#     the SIGHUP: the call rings before it and is cancelled after it; it must still be notified
#     once (calls in flight are kept), to "new", titled "AFTER 1".
#  3. Bad reloads: an unknown key, then a bad value, then a missing subscribers file. Each is
#     logged with file:line:col and the key, nothing changes (unavailable_480 still goes to
#     "new" titled "AFTER 1"), and mcn_reload_failures_total counts 3.
#
# Security checks on the same run (README "Security"): mcn starts as root and drops to nobody
# (Uid/Gid and CapEff in /proc/PID/status); /metrics bound beyond loopback answers 401 without
# the bearer token; a call to a number nobody owns (sipp_busy, 1015) notifies no one; "old" has a
# second webhook to a closed port whose URL holds a mobile number: its dead-letter warning shows
# the number masked (run.log_mask_numbers); neither the webhook secret nor the token appears in
# any log line, standard output, the /metrics page or the dead-letter file; the capture interface
# transmitted nothing (tx_packets of cap0 unchanged).
#
# Needs root, iproute2, curl, python3.
set -Eeuo pipefail

MCN=$(readlink -f "${1:?usage: reload-e2e.sh path/to/mcn}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PCAPS="$HERE/../../pcaps"
readonly MCN HERE PCAPS NS=mcn-reload PORT=8097 HTTP=9186
readonly SECRET=whsec_bWNuLXJlbG9hZC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg==

E2E_NAME=reload-e2e.sh
E2E_NETNS=("$NS")
# shellcheck source=lib.sh
source "$HERE/lib.sh"
e2e_begin mcn-reload
chmod 755 "$WORK" # mcn re-reads its files after dropping to nobody
mkdir -m 1777 "$WORK/dl"
readonly TOKEN=mcn-reload-token-4f1c2a9e7b
(umask 077 && echo "$TOKEN" >"$WORK/token") # read while still root
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
in_ns ip link set lo up
in_ns ip link add inj0 type veth peer name cap0
# No IPv6 on the capture side: the kernel's own router and neighbour solicitations would count
# as transmitted packets; whatever cap0 sends from here on is mcn's.
in_ns sysctl -qw net.ipv6.conf.cap0.disable_ipv6=1
in_ns ip link set inj0 up
in_ns ip link set cap0 up

person() { # ID PATH [EXTRA]: the owner of 1013, notified at once on a webhook to PATH
  cat <<EOF
[[person]]
id = "$1"
name = "Person $1"
numbers = ["1013"]
[person.preferences]
merge_window = "0"
language = "en"
[[person.channel]]
kind = "webhook"
target = "http://127.0.0.1:$PORT$2"
secret_ref = "env:MCN_RELOAD_SECRET"
${3:-}
EOF
}
config() { # TITLE WORKERS SUBSCRIBERS [EXTRA LINES FOR [notify]]
  cat <<EOF
# reload-e2e.sh
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
dead_letter = "$WORK/dl/dead-letter.jsonl"
max_attempts = 3
backoff_base_ms = 100
${4:-}

[notify.templates]
"en.plain.title" = "$1"

[run]
subscribers = "$3"
user = "nobody"
log_mask_numbers = true
http_bind = "0.0.0.0"
http_token_ref = "file:$WORK/token"
http_port = $HTTP
workers = $2
ring_size = 1024
shutdown_timeout_ms = 3000
EOF
}

person old /old '[[person.channel]]
id = "closed"
kind = "webhook"
target = "http://127.0.0.1:1/hook/8613900101230"
secret_ref = "env:MCN_RELOAD_SECRET"' >"$WORK/people-old.toml"
person new /new >"$WORK/people-new.toml"
config "BEFORE {count}" 1 "$WORK/people-old.toml" >"$WORK/mcn.toml"

in_ns python3 "$HERE/webhook_receiver.py" $PORT "$WORK/webhooks.jsonl" >"$WORK/receiver.log" 2>&1 &
BG[$!]=receiver
TX0=$(in_ns cat /sys/class/net/cap0/statistics/tx_packets)
(cd "$WORK" && exec ip netns exec "$NS" env MCN_RELOAD_SECRET=$SECRET "$MCN" run \
  --config "$WORK/mcn.toml" -i cap0 >"$WORK/mcn.out" 2>"$WORK/mcn.log") &
MCN_PID=$!
BG[$MCN_PID]=mcn
AUTH=(-H "Authorization: Bearer $TOKEN")
for ((i = 0; i < 50; i++)); do
  in_ns curl -sf "${AUTH[@]}" http://127.0.0.1:$HTTP/readyz >/dev/null 2>&1 && grep -qs listening "$WORK/receiver.log" && break
  kill -0 $MCN_PID 2>/dev/null || die "mcn exited at start-up: $(cat "$WORK/mcn.log")"
  sleep 0.1
done
in_ns curl -sf "${AUTH[@]}" http://127.0.0.1:$HTTP/readyz >/dev/null || die "mcn never became ready"
# Privileges: root only to open the capture, then nobody with no capability left.
uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$MCN_PID/status)
gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' /proc/$MCN_PID/status)
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/$MCN_PID/status)
nobody=$(id -u nobody)
nogroup=$(id -g nobody)
[[ $uid == "$nobody $nobody $nobody $nobody" && $gid == "$nogroup $nogroup $nogroup $nogroup" ]] ||
  die "privileges not dropped: Uid $uid, Gid $gid"
[[ $capeff == 0000000000000000 ]] || die "capabilities left: CapEff $capeff"
# /metrics beyond loopback: the bearer token or 401.
code=$(in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HTTP/metrics)
[[ $code == 401 ]] || die "/metrics without the token answered $code"
code=$(in_ns curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-$TOKEN" \
  http://127.0.0.1:$HTTP/metrics)
[[ $code == 401 ]] || die "/metrics with a wrong token answered $code"

# LINE: webhook number LINE as "path person title"
hook() {
  python3 -c '
import json, sys
h = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][int(sys.argv[2]) - 1]
d = h["body"]["data"]
print(h["path"], d["person"], d["title"], len(d["calls"]), d["calls"][0]["call_id"])
' "$WORK/webhooks.jsonl" "$1"
}
metric() { in_ns curl -sf "${AUTH[@]}" http://127.0.0.1:$HTTP/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
hup_and_wait() { # PATTERN: SIGHUP, then wait until the log has PATTERN one more time
  local before
  before=$(grep -c -- "$1" "$WORK/mcn.log" || true)
  kill -HUP $MCN_PID
  for ((i = 0; i < 50; i++)); do
    (($(grep -c -- "$1" "$WORK/mcn.log" || true) > before)) && return 0
    sleep 0.1
  done
  die "no '$1' in the log after SIGHUP"
}
inject() { in_ns python3 "$HERE/inject.py" inj0 "$PCAPS/$1" "${@:2}" >/dev/null; }

# --- 1: the configuration it started with ------------------------------------------------------
inject sipp_busy.pcap # to 1015: nobody's number
inject busy_486.pcap
wait_hooks 1
got=$(hook 1)
[[ $got == "/old old BEFORE 1 1 busy_486-1@192.0.2.10" ]] || die "phase 1: got '$got'"
log "phase 1: $got"
for ((i = 0; i < 50; i++)); do
  [[ $(metric mcn_notifier_unknown_number_total) == 1 ]] && break
  sleep 0.1
done
[[ $(metric mcn_notifier_unknown_number_total) == 1 ]] ||
  die "the call to 1015 was not counted as nobody's: $(metric mcn_notifier_unknown_number_total)"
# The closed port's notification is dead-lettered after 3 attempts; its URL is logged masked.
for ((i = 0; i < 50; i++)); do
  grep -q 'dead-lettered' "$WORK/mcn.log" && break
  sleep 0.1
done
grep -q 'hook/86139\*\*\*\*1230.*dead-lettered' "$WORK/mcn.log" ||
  die "no masked number in the dead-letter warning: $(grep dead-lettered "$WORK/mcn.log")"

# --- 2: a good reload, with a call in flight ---------------------------------------------------
# cancelled.pcap: INVITE, 100, INVITE, 180, 180 (frames 1-5) ring before the SIGHUP; CANCEL... after.
[[ $(in_ns python3 "$HERE/inject.py" inj0 "$PCAPS/cancelled.pcap" 1 5) == 5 ]] || die "inject"
config "AFTER {count}" 2 "$WORK/people-new.toml" >"$WORK/mcn.toml"
hup_and_wait 'configuration reloaded'
grep -q 'run.workers changed in .*needs a restart' "$WORK/mcn.log" ||
  die "no 'needs a restart' warning for run.workers"
inject cancelled.pcap 6
wait_hooks 2
got=$(hook 2)
[[ $got == "/new new AFTER 1 1 cancelled-1@192.0.2.10" ]] || die "phase 2: got '$got'"
log "phase 2: $got"
[[ $(metric mcn_reloads_total) == 1 && $(metric mcn_reload_failures_total) == 0 ]] ||
  die "phase 2 metrics: reloads $(metric mcn_reloads_total) failures $(metric mcn_reload_failures_total)"

# --- 3: bad reloads change nothing ------------------------------------------------------------
cp "$WORK/mcn.toml" "$WORK/good.toml"
# (a) an unknown key: [notify] is on line 16, the typo on line 20 (the 4th line after it).
config "BROKEN {count}" 2 "$WORK/people-old.toml" 'max_atempts = 4' >"$WORK/mcn.toml"
[[ $(sed -n 20p "$WORK/mcn.toml") == 'max_atempts = 4' ]] || die "test config layout changed"
hup_and_wait 'reload failed'
grep -q "reload failed.*$WORK/mcn.toml:20:15: notify.max_atempts: unknown key" "$WORK/mcn.log" ||
  die "the failure does not name file:line:col and key: $(grep 'reload failed' "$WORK/mcn.log")"
# (b) a bad value.
config "BROKEN {count}" 2 "$WORK/people-old.toml" 'connect_timeout_ms = 5' >"$WORK/mcn.toml"
hup_and_wait 'reload failed'
grep -q "reload failed.*$WORK/mcn.toml:20:22: notify.connect_timeout_ms: must be between 100 and 3600000" \
  "$WORK/mcn.log" || die "bad value not named: $(grep 'reload failed' "$WORK/mcn.log" | tail -1)"
# (c) a missing subscribers file.
config "BROKEN {count}" 2 "$WORK/people-gone.toml" >"$WORK/mcn.toml"
hup_and_wait 'reload failed'
grep 'reload failed' "$WORK/mcn.log" | tail -1 | grep -q 'people-gone.toml' ||
  die "missing subscribers file not named: $(grep 'reload failed' "$WORK/mcn.log" | tail -1)"
[[ $(metric mcn_reload_failures_total) == 3 && $(metric mcn_reloads_total) == 4 ]] ||
  die "phase 3 metrics: reloads $(metric mcn_reloads_total) failures $(metric mcn_reload_failures_total)"
inject unavailable_480.pcap
wait_hooks 3
got=$(hook 3)
[[ $got == "/new new AFTER 1 1 unavailable_480-1@192.0.2.10" ]] || die "phase 3: got '$got'"
log "phase 3: $got"

in_ns curl -sf "${AUTH[@]}" http://127.0.0.1:$HTTP/metrics >"$WORK/metrics.txt" ||
  die "no /metrics with the token"
kill -TERM $MCN_PID
rc=0
wait $MCN_PID || rc=$?
unset "BG[$MCN_PID]"
((rc == 0)) || die "mcn exited with $rc; see $WORK/mcn.log"
(($(hooks) == 3)) || die "$(hooks) webhooks in all, want 3"
# Nothing was ever sent on the capture interface.
TX1=$(in_ns cat /sys/class/net/cap0/statistics/tx_packets)
((TX1 == TX0)) || die "cap0 transmitted $((TX1 - TX0)) packet(s)"
# Numbers masked in every log line; secrets nowhere.
! grep -q 8613900101230 "$WORK/mcn.log" || die "an unmasked number in the log"
for f in "$WORK/mcn.log" "$WORK/mcn.out" "$WORK/metrics.txt" "$WORK/dl/dead-letter.jsonl"; do
  [[ -e $f ]] || continue
  ! grep -qF -- "$SECRET" "$f" || die "the webhook secret is in $f"
  ! grep -qF -- "${SECRET#whsec_}" "$f" || die "the webhook secret is in $f"
  ! grep -qF -- "$TOKEN" "$f" || die "the HTTP token is in $f"
done
[[ -s $WORK/dl/dead-letter.jsonl ]] || die "no dead letter for the closed port"
[[ $(stat -c %a "$WORK/dl/dead-letter.jsonl") == 600 ]] || die "dead-letter file not 0600"
log "PASS"
