#!/usr/bin/env python3
"""kill -9 test of the durable outbox (issue 17 item 1): a single `mcn run` without Redis,
SIGKILLed at random instants and restarted on the same journal; every missed call it decided
before the kill must reach the webhook receiver, once after dropping repeated webhook-id (the
idempotency key).

Per run (its own mcn-gen mix, seed 1700+run, so Call-IDs never repeat across runs):
  - tcpreplay (x20) sends the capture from a network namespace `mcnob` over a veth pair
    (mcnob1 198.18.40.2 -> mcnob0 198.18.40.1, root namespace) where `mcn run -i mcnob0`
    captures: the real capture path, at a rate a SPAN port sees.
  - every called number of the capture has a person (merge window 5 s) with a webhook to
    slow_receiver.py, which logs each request on arrival and answers 200 only 0.3 s later: merge
    windows are open and deliveries in flight at the kill.
  - SIGKILL at a random instant after tcpreplay started: `--phase busy` (the CTest) in
    [1.5 s, 7 s], while calls are being decided (the capture lasts ~2.5 s), merge windows are
    open and deliveries are held; `--phase any` in [0, 7 s]; `--phase after` in [0, 4 s] after
    the capture was sent and processed (--calls-out stopped growing). tcpreplay is stopped at
    the kill too: the restarted mcn never sees the rest of the capture.
  - restart on the same journal, wait until every decided call is notified (or 20 s), SIGTERM.
Decided before the kill: the missed records the killed process wrote to --calls-out (a worker
journals a missed call in the outbox first, then writes it there, then hands it to the notifier
thread). Notified: the calls the
receiver's requests name (body.data.calls). Lost: decided but never notified. Duplicates: repeated
webhook-id. Double: a call in two notifications with different keys (never absorbed).

Usage: run_kill.py MCN MCN_GEN [--runs N] [--calls C] [--phase busy|any|after] [--seed S] [--keep]
Root only (network namespace, veth, capture)."""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import free_port, wait_until  # noqa: E402

SECRET = "whsec_bWNuLWR1cmFiaWxpdHktc2VjcmV0LTAxMjM0NTY3ODlh"
NS, HOST_IF, NS_IF = "mcnob", "mcnob0", "mcnob1"


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line being written right now
    return out


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def netns_up():
    netns_down()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS)
    sh("ip", "addr", "add", "198.18.40.1/24", "dev", HOST_IF)
    sh("ip", "link", "set", HOST_IF, "up")
    sh("ip", "-n", NS, "addr", "add", "198.18.40.2/24", "dev", NS_IF)
    sh("ip", "-n", NS, "link", "set", NS_IF, "up")


def netns_down():
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "link", "del", HOST_IF, check=False)


def decided(path):
    return {(r["call_id"], r["callee"]) for r in read_jsonl(path) if r.get("missed")}


def one_run(k, args, mcn, gen, work, rport, env, rng):
    d = f"{work}/run{k}"
    os.makedirs(d)
    pcap = f"{d}/mix.pcap"
    subprocess.run([gen, "mix", "--calls", str(args.calls), "--seed", str(1700 + k), "--ues",
                    "400", "--summary-json", f"{d}/summary.json", "-o", pcap], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Every called number gets a person (the replay names them; it decides nothing here).
    out = subprocess.run([mcn, "replay", pcap, "--calls-out", "-", "-q"], check=True,
                         capture_output=True, text=True).stdout
    numbers = sorted({json.loads(l)["callee"] for l in out.splitlines() if l.strip()})
    with open(f"{d}/subscribers.toml", "w") as f:
        for i, num in enumerate(numbers):
            f.write(f'[[person]]\nid = "r{k}p{i}"\nname = "Person {i}"\nnumbers = ["{num}"]\n'
                    f'[person.preferences]\nmerge_window = "5s"\nmin_ring = "0"\n'
                    f'[[person.channel]]\nkind = "webhook"\n'
                    f'target = "http://127.0.0.1:{rport}/hook"\n'
                    f'secret_ref = "env:MCN_KILL_SECRET"\n\n')
    with open(f"{d}/mcn.toml", "w") as f:
        f.write(f"""[calls]
grace_ms = 300
[notify]
dead_letter = "{d}/dead.jsonl"
outbox_path = "{d}/outbox.journal"
outbox_fsync_ms = 100
max_attempts = 20
backoff_base_ms = 200
backoff_cap_ms = 2000
[run]
promisc = true
http_port = 0
workers = 2
shutdown_timeout_ms = 3000
""")
    base = [mcn, "run", "--config", f"{d}/mcn.toml", "--subscribers", f"{d}/subscribers.toml",
            "-i", HOST_IF]
    log1 = open(f"{d}/mcn1.log", "w")
    p1 = subprocess.Popen(base + ["--calls-out", f"{d}/calls1.jsonl"], env=env, stdout=log1,
                          stderr=log1)
    if not wait_until(lambda: "mcn run: ready" in open(f"{d}/mcn1.log").read(), 10):
        raise SystemExit(f"FAIL: mcn run not ready (see {d}/mcn1.log)")
    replay = subprocess.Popen(["ip", "netns", "exec", NS, "tcpreplay", "-q", "-i", NS_IF, "-x",
                               "20", pcap], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_start = time.time()
    if args.phase in ("any", "busy"):
        kill_at = t_start + rng.uniform(0 if args.phase == "any" else 1.5, 7.0)
        time.sleep(max(0.0, kill_at - time.time()))
    else:
        replay.wait()
        # Processed: the records stop coming (grace_ms and batching included).
        last, stable_since = -1, time.time()
        while time.time() - stable_since < 1.0:
            n = len(read_jsonl(f"{d}/calls1.jsonl"))
            if n != last:
                last, stable_since = n, time.time()
            time.sleep(0.1)
        time.sleep(rng.uniform(0, 4.0))
    os.kill(p1.pid, signal.SIGKILL)
    killed_at = time.time()
    p1.wait()
    if replay.poll() is None:
        replay.kill()
    replay.wait()
    before = decided(f"{d}/calls1.jsonl")

    log2 = open(f"{d}/mcn2.log", "w")
    p2 = subprocess.Popen(base + ["--calls-out", f"{d}/calls2.jsonl"], env=env, stdout=log2,
                          stderr=log2)

    def covered(since=None):
        seen = {}
        for e in read_jsonl(args.received):
            if since is not None and e["received_at"] < since:
                continue
            for c in e["body"]["data"]["calls"]:
                seen.setdefault((c["call_id"], c["callee"]), set()).add(e["webhook_id"])
        return seen
    wait_until(lambda: before <= covered().keys(), 20)
    time.sleep(0.5)  # anything still coming is a duplicate worth seeing
    p2.send_signal(signal.SIGTERM)
    rc = p2.wait(timeout=30)

    mine = [e for e in read_jsonl(args.received)
            if any((c["call_id"], c["callee"]) in before for c in e["body"]["data"]["calls"])]
    ids = [e["webhook_id"] for e in mine]
    seen = covered()
    after = covered(since=killed_at)
    lost = sorted(before - seen.keys())
    double = [key for key in before if len(seen.get(key, ())) > 1]
    notified_before = len([key for key in before if key in seen and key not in after])
    counters = {}
    m = re.search(r"resuming (\d+) notification\(s\) not yet delivered and (\d+) missed call",
                  open(f"{d}/mcn2.log", encoding="utf-8", errors="replace").read())
    if m:
        counters["notify.outbox_recovered_notifications"] = int(m.group(1))
        counters["notify.outbox_recovered_calls"] = int(m.group(2))
    return {
        "run": k,
        "kill_s": round(killed_at - t_start, 2),
        "decided_before_kill": len(before),
        "notified_before_kill": notified_before,
        "notified_after": len([key for key in before if key in after]),
        "requests": len(ids),
        "duplicates_absorbed": len(ids) - len(set(ids)),
        "double_notified": len(double),
        "lost": len(lost),
        "lost_sample": lost[:3],
        "recovered_calls": counters.get("notify.outbox_recovered_calls"),
        "recovered_notifications": counters.get("notify.outbox_recovered_notifications"),
        "restart_exit": rc,
        "dead_letters": len(read_jsonl(f"{d}/dead.jsonl")),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mcn")
    ap.add_argument("gen")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--calls", type=int, default=2500)
    ap.add_argument("--phase", choices=("busy", "any", "after"), default="busy")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespace, veth, capture)")
        return 77
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="mcn_kill_")
    args.received = f"{work}/received.jsonl"
    procs = []
    try:
        netns_up()
        rport = free_port()
        here = os.path.dirname(os.path.abspath(__file__))
        recv = subprocess.Popen([sys.executable, f"{here}/../scaleout/slow_receiver.py",
                                 str(rport), args.received, "0.3"], stdout=subprocess.PIPE,
                                text=True)
        procs.append(recv)
        recv.stdout.readline()
        env = dict(os.environ, MCN_KILL_SECRET=SECRET)
        rows = []
        for k in range(1, args.runs + 1):
            rows.append(one_run(k, args, args.mcn, args.gen, work, rport, env, rng))
            print(json.dumps(rows[-1]), flush=True)
        print(f"kill -9 test, seed {seed}, phase {args.phase}:")
        print("run  kill@s  decided  notified_before  notified_after  requests  dup_absorbed  "
              "double  lost  recovered(calls/notes)")
        for r in rows:
            print(f"{r['run']:>3}  {r['kill_s']:>6}  {r['decided_before_kill']:>7}  "
                  f"{r['notified_before_kill']:>15}  {r['notified_after']:>14}  "
                  f"{r['requests']:>8}  {r['duplicates_absorbed']:>12}  {r['double_notified']:>6}"
                  f"  {r['lost']:>4}  {r['recovered_calls']}/{r['recovered_notifications']}")
        ok = True
        for r in rows:
            bad = []
            if r["lost"]:
                bad.append(f"{r['lost']} decided call(s) never notified {r['lost_sample']}")
            if r["double_notified"]:
                bad.append(f"{r['double_notified']} call(s) in notifications of different keys")
            if r["restart_exit"] != 0:
                bad.append(f"restarted mcn exited {r['restart_exit']}")
            if r["dead_letters"]:
                bad.append(f"{r['dead_letters']} dead letter(s)")
            for b in bad:
                ok = False
                print(f"FAIL run {r['run']}: {b}")
        # Proof the kills hit a busy daemon (a loaded machine slows the capture down: not per run).
        if args.phase != "any" and max(r["decided_before_kill"] for r in rows) < 100:
            ok = False
            print("FAIL: no run decided 100 calls before its kill: the capture did not reach mcn")
        if not ok:
            print(f"(work dir kept: {work})")
            args.keep = True
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        netns_down()
        if not args.keep:
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
