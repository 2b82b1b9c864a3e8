# shellcheck shell=bash
# Shared by the root end-to-end scripts (run-e2e.sh, reload-e2e.sh, redis-fault-e2e.sh); sourced,
# not run. Before sourcing, set E2E_NAME (the script's name, for its log lines) and E2E_NETNS (an
# array of the network namespaces the script creates); then call e2e_begin PREFIX, which checks
# for root, removes namespaces a killed run left behind, makes the work directory $WORK
# (/tmp/PREFIX.XXXXXX) and installs the cleanup. Background processes go into BG (pid -> name).
#
# The cleanup ends every process still inside the script's namespaces, not only those in BG: a
# failed run used to leave kamailio's forked children alive after the script had exited.

die() {
  echo "$E2E_NAME: FAIL: $*" >&2
  exit 1
}
log() { echo "$E2E_NAME: $*" >&2; }

declare -A BG=()

# e2e_stop PID...: SIGTERM, up to 5 s to go, then SIGKILL (a wedged process must not hang CI).
e2e_stop() {
  local pid i
  (($# > 0)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    for pid in "$@"; do
      kill -0 "$pid" 2>/dev/null && break
      pid=
    done
    [[ -z ${pid:-} ]] && return 0
    sleep 0.1
  done
  log "still running 5 s after SIGTERM, killed: $*"
  kill -KILL "$@" 2>/dev/null || true
}

# e2e_empty_ns NS: ends every process left in the namespace.
e2e_empty_ns() {
  local pids
  pids=$(ip netns pids "$1" 2>/dev/null) || return 0
  [[ -n $pids ]] || return 0
  # shellcheck disable=SC2086 # one pid per word
  e2e_stop $pids
}

e2e_cleanup() {
  local rc=$?
  local pid ns
  # shellcheck disable=SC2068 # BG's keys are pids
  e2e_stop ${!BG[@]}
  for pid in "${!BG[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${E2E_NETNS[@]}"; do
    e2e_empty_ns "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done
  if [[ $rc -ne 0 || -n "${KEEP_WORK:-}" ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}

e2e_begin() { # PREFIX
  local ns
  [[ $EUID -eq 0 ]] || die "must run as root (network namespaces)"
  for ns in "${E2E_NETNS[@]}"; do
    [[ -e /run/netns/$ns ]] || continue # else a previous run was killed hard
    e2e_empty_ns "$ns"
    ip netns del "$ns"
  done
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  readonly WORK
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
}

# The webhook receiver (webhook_receiver.py) appends one JSON line per request to this file.
hooks() { [[ -f $WORK/webhooks.jsonl ]] && wc -l <"$WORK/webhooks.jsonl" || echo 0; }
wait_hooks() { # N: wait (bounded, 10 s) until N webhooks arrived
  local i
  for ((i = 0; i < 100; i++)); do
    (($(hooks) >= $1)) && return 0
    sleep 0.1
  done
  die "expected $1 webhooks, got $(hooks); see $WORK"
}
