#!/usr/bin/env python3
"""Checks a run of hep-e2e.sh (its work directory): see the header of hep-e2e.sh."""
import datetime
import json
import re
import sys

work = sys.argv[1]
transport = sys.argv[2] if len(sys.argv) > 2 else "udp"


def fail(msg):
    print(f"hep_check.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def records(name):
    with open(f"{work}/{name}") as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return {(r["call_id"], r["callee"]): r for r in recs}


def counters(name):
    text = open(f"{work}/{name}").read()
    return {k: int(v) for k, v in re.findall(r"\b([a-z_]+\.[a-z_.0-9]+)=(\d+)", text)}


def ms(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000


live = records("live.jsonl")
hep = records("replay-hep.jsonl")
sip = records("replay-sip.jsonl")

# What the scenarios mean (hep-e2e.sh), written by hand: callee -> (outcome, missed, status).
want = {
    "+862583001013": ("answered", False, 200),
    "+862583001014": ("cancelled", True, 487),
    "+862583001015": ("busy", True, 486),
}
got = {r["callee"]: (r["outcome"], r["missed"], r["status"]) for r in live.values()}
if got != want:
    fail(f"live HEP records {got}, expected {want}")
for r in live.values():
    if r["caller"] != "+8613900101230" or r["transport"] != "udp":
        fail(f"caller/transport wrong in {r}")
    # hep-kamailio.cfg sets siptrace's hep_capture_id = 2001: every call names that agent.
    if r.get("capture_ids") != [2001]:
        fail(f"capture_ids of a HEP call should be [2001]: {r}")

# The HEP capture replays to exactly the live records: same packets, same agent timestamps.
if hep != live:
    fail(f"replay of hep.pcap differs from the live records:\n{hep}\n{live}")

# The SIP capture: the same calls and outcomes; times within 50 ms of kamailio's stamps.
if set(sip) != set(live):
    fail(f"replay of sip.pcap has other calls: {sorted(sip)} vs {sorted(live)}")
for key, r in live.items():
    s = sip[key]
    # Seen on the wire, not from an agent: no capture_ids.
    if "capture_ids" in s:
        fail(f"{key}: a call replayed from sip.pcap has capture_ids {s['capture_ids']}")
    for field in r:
        if field in ("started_at", "ended_at", "ring_ms", "capture_ids"):
            continue
        if r[field] != s[field]:
            fail(f"{key} {field}: live HEP {r[field]!r}, replay of sip.pcap {s[field]!r}")
    for field in ("started_at", "ended_at"):
        if (r[field] is None) != (s[field] is None):
            fail(f"{key} {field}: {r[field]} vs {s[field]}")
        if r[field] is not None and abs(ms(r[field]) - ms(s[field])) > 50:
            fail(f"{key} {field}: HEP {r[field]} vs wire {s[field]}: more than 50 ms apart")
    if r["ring_ms"] is not None and abs(r["ring_ms"] - s["ring_ms"]) > 50:
        fail(f"{key} ring_ms: HEP {r['ring_ms']} vs wire {s['ring_ms']}")

c = counters("replay-hep.log")
if c.get("hep.sip", 0) == 0 or c.get("hep.auth_failed", 0) != 0:
    fail(f"replay of hep.pcap counters: {c}")
w = counters("replay-wrong-key.log")
if records("replay-wrong-key.jsonl"):
    fail("the wrong key still produced records")
if w.get("hep.auth_failed", 0) != c.get("hep.packets", -1):
    fail(f"wrong key: hep.auth_failed {w.get('hep.auth_failed')} != hep.packets {c.get('hep.packets')}")
if transport == "tcp" and (c.get("hep.tcp_gaps", 0) or c.get("hep.tcp_resync", 0)):
    fail(f"HEP over TCP in the capture was not framed cleanly: {c}")
print(f"hep_check.py ({transport}): {len(live)} calls, {c['hep.packets']} HEP packets, records agree")
