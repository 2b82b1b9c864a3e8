#!/usr/bin/env python3
"""Checks of run-e2e.sh. Ground truth comes from tshark on a tcpdump of the SPAN port and from
the scenarios (by hand), never from mcn's own output.

  check_e2e.py check PCAP WEBHOOKS KILL_AT    the mix and the SIGTERM burst
  check_e2e.py latency PCAP WEBHOOKS N        p50/p99 delay, final SIP message -> webhook receipt
"""
import collections
import json
import subprocess
import sys

PROXY_UE, UE = "198.18.0.10", "198.18.0.20"


def fail(msg):
    print(f"check_e2e.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def finals_to_caller(pcap):
    """Call-ID -> (status, epoch seconds) of the first final response (>= 200) the proxy sent to
    the caller: the caller-side INVITE transaction's end, the call's final SIP message."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y",
         f'sip.Status-Code >= 200 and sip.CSeq.method == "INVITE" and ip.src == {PROXY_UE} '
         f'and ip.dst == {UE}',
         "-T", "fields", "-E", "separator=|", "-e", "frame.time_epoch", "-e", "sip.Call-ID",
         "-e", "sip.Status-Code"],
        check=True, capture_output=True, text=True).stdout
    finals = {}
    for line in out.splitlines():
        ts, cid, status = line.split("|")
        if cid not in finals:
            finals[cid] = (int(status), float(ts))
    return finals


def load_webhooks(path):
    hooks = []
    try:
        with open(path, encoding="utf-8") as f:
            hooks = [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        pass
    ids = collections.Counter(h["webhook_id"] for h in hooks)
    dup = [k for k, n in ids.items() if n > 1]
    if dup:
        fail(f"webhook-id delivered more than once: {dup[:5]}")
    calls = collections.defaultdict(list)
    for h in hooks:
        for c in h["body"]["data"]["calls"]:
            calls[c["call_id"]].append((h, c))
    twice = [k for k, v in calls.items() if len(v) > 1]
    if twice:
        fail(f"calls notified more than once: {twice[:5]}")
    return hooks, calls


def case_of(call_id):
    # sipp -cid_str "%u-%p-<case>@%s"
    return call_id.split("@")[0].rsplit("-", 1)[-1]


def check(pcap, webhooks, kill_at):
    finals = finals_to_caller(pcap)
    hooks, calls = load_webhooks(webhooks)
    by_case = collections.defaultdict(list)
    for cid, (status, _) in finals.items():
        by_case[case_of(cid)].append((cid, status))
    # The harness did what the scenarios say (else the test proves nothing).
    want_status = {"answered": 200, "cancel": 487, "busy": 486, "unavailable": 480, "fork": 200}
    for case, status in want_status.items():
        got = by_case.get(case, [])
        if len(got) != 1 or got[0][1] != status:
            fail(f"case {case}: expected one call ending {status} to the caller, tshark saw {got}")
    # Phase 1: exactly these notifications (callee normalised by the dial plan).
    want = {"cancel": ("+862583001014", "cancelled"), "busy": ("+862583001015", "busy"),
            "unavailable": ("+862583001016", "no_answer")}
    for case in want_status:
        cid = by_case[case][0][0]
        got = [(c["callee"], c["outcome"]) for _, c in calls.get(cid, [])]
        expected = [want[case]] if case in want else []
        if got != expected:
            fail(f"case {case} ({cid}): expected notifications {expected}, got {got}")
    # Phase 2: the burst around the SIGTERM.
    burst = {cid: ts for cid, (status, ts) in finals.items() if case_of(cid) == "burst"}
    statuses = {finals[cid][0] for cid in burst}
    if statuses != {486}:
        fail(f"burst calls should all end 486, tshark saw {statuses}")
    notified = {cid for cid in calls if case_of(cid) == "burst"}
    stray = [cid for cid in calls if cid not in finals]
    if stray:
        fail(f"notifications for calls not on the wire: {stray[:5]}")
    # 100 ms: the SPAN copy and tcpdump's copy of a packet are the same instant; this only
    # absorbs the shell's time between reading the clock and sending the signal.
    required = {cid for cid, ts in burst.items() if ts < kill_at - 0.1}
    missing = sorted(required - notified)
    if missing:
        fail(f"{len(missing)} burst calls busy before the SIGTERM were not notified: {missing[:5]}")
    if not required:
        fail("no burst call ended before the SIGTERM: the burst did not start in time")
    extra = len(notified - required)
    print(f"check_e2e.py: mix ok (3 notifications); burst: {len(burst)} calls on the wire, "
          f"{len(required)} busy before SIGTERM, all notified once, {extra} notified from the "
          f"last 100 ms, {len(burst) - len(notified)} after mcn stopped (not notified)")
    for h in hooks:
        if h["body"].get("type") != "call.missed":
            fail(f"unexpected webhook type {h['body'].get('type')}")


def latency(pcap, webhooks, n):
    finals = finals_to_caller(pcap)
    hooks, calls = load_webhooks(webhooks)
    delays = []
    for cid, entries in calls.items():
        if cid not in finals:
            fail(f"notification for a call not on the wire: {cid}")
        delays.append((entries[0][0]["received_at"] - finals[cid][1]) * 1000.0)
    if len(delays) != n:
        fail(f"expected {n} notifications, got {len(delays)}")
    delays.sort()
    pct = lambda p: delays[min(len(delays) - 1, int(p / 100.0 * len(delays)))]
    print(f"latency over {n} missed calls (486 on the wire -> webhook received): "
          f"p50 {pct(50):.2f} ms, p90 {pct(90):.2f} ms, p99 {pct(99):.2f} ms, "
          f"max {delays[-1]:.2f} ms, min {delays[0]:.2f} ms")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "check":
        check(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif mode == "latency":
        latency(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        fail(f"unknown mode {mode}")
