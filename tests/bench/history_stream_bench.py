#!/usr/bin/env python3
"""The shared call history of a [streams] deployment: its cost and size.

  tests/bench/history_stream_bench.py [BUILD_DIR] [CALLS]   (defaults: build/release 20000)

Generates an IMS mix (mcn-gen, seed 9), gives every missed call's called number a subscriber
with a JSONL channel and no merge window (one notification per call), starts a redis-server on a
free loopback port, then:
  probe     `mcn replay --role probe` with [history] on (every record published to mcn:history)
            and off, best of 3 each: what publishing the records costs the probe;
  size      Redis's MEMORY USAGE of mcn:history over its entries: after the probe (records only)
            and after a notifier delivered everything (its produced/attempt/delivered steps);
  replica   a notifier started on the full streams: seconds until its replica holds every record
            and every notification delivered; then a second notifier started afresh: seconds
            until its replica caught up with the whole history stream (entries/s).
Checks that both replicas hold the same calls."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import redis_cmd, start_redis, write_jsonl_subscribers  # noqa: E402


def replica(path):
    """(calls, missed calls covered by a notification, notifications not delivered) in a
    replica, or (0, 0, 0) before it exists."""
    if not os.path.exists(path):
        return 0, 0, 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        calls = db.execute("SELECT count(*) FROM calls").fetchone()[0]
        covered = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT call_id, callee FROM notification_calls)"
        ).fetchone()[0]
        open_ = db.execute(
            "SELECT count(*) FROM notifications WHERE status != 'delivered'").fetchone()[0]
        db.close()
        return calls, covered, open_
    except sqlite3.Error:
        return 0, 0, 0


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    ncalls = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    build = os.path.abspath(build)  # the notifiers run in directories of their own
    mcn, gen = f"{build}/mcn", f"{build}/mcn-gen"
    work = tempfile.mkdtemp(prefix="mcn_history_stream_bench_")
    procs = []
    try:
        subprocess.run([gen, "mix", "--calls", str(ncalls), "--seed", "9", "--ues", "2000",
                        "-o", f"{work}/mix.pcap"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        out = subprocess.run([mcn, "replay", f"{work}/mix.pcap", "--calls-out", "-", "-q"],
                             check=True, capture_output=True, text=True).stdout
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        missed = [r for r in recs if r["missed"]]
        numbers = sorted({r["callee"] for r in missed})
        sink = f"{work}/notified.jsonl"
        write_jsonl_subscribers(f"{work}/subscribers.toml", numbers, sink)
        redis, port = start_redis(work)
        procs.append(redis)
        base = (f'[run]\nhttp_port = 0\n[notify]\ndead_letter = "{work}/dead.jsonl"\n'
                f'[streams]\nredis = "redis://127.0.0.1:{port}"\n')
        with open(f"{work}/mcn.toml", "w") as f:
            f.write(base)
        with open(f"{work}/off.toml", "w") as f:
            f.write(base + "[history]\nenabled = false\n")

        def probe(conf):
            t = time.monotonic()
            subprocess.run([mcn, "replay", f"{work}/mix.pcap", "--role", "probe", "--config",
                            conf, "-q"], check=True)
            return time.monotonic() - t

        times = {}
        for name in ("off", "mcn", "off", "mcn", "off", "mcn"):
            redis_cmd(port, "FLUSHALL")
            times.setdefault(name, []).append(probe(f"{work}/{name}.toml"))
        # The last run (history on) stays in Redis for the notifiers.
        entries = int(redis_cmd(port, "XLEN", "mcn:history"))
        mem_records = int(redis_cmd(port, "MEMORY", "USAGE", "mcn:history", "SAMPLES", "0"))
        assert entries == len(recs), (entries, len(recs))

        def notifier(k):
            d = f"{work}/n{k}"
            os.makedirs(d, exist_ok=True)
            procs.append(subprocess.Popen([mcn, "run", "--role", "notifier", "--config",
                                           f"{work}/mcn.toml", "--subscribers",
                                           f"{work}/subscribers.toml"],
                                          stdout=open(f"{d}/log", "w"), stderr=subprocess.STDOUT,
                                          cwd=d))
            return f"{d}/mcn-history.sqlite"

        t = time.monotonic()
        r1 = notifier(1)
        while replica(r1) != (len(recs), len(missed), 0):
            if time.monotonic() - t > 300:
                raise SystemExit(f"FAIL: replica 1 stuck at {replica(r1)}")
            time.sleep(0.05)
        t_first = time.monotonic() - t
        total = int(redis_cmd(port, "XLEN", "mcn:history"))
        mem_all = int(redis_cmd(port, "MEMORY", "USAGE", "mcn:history", "SAMPLES", "0"))
        steps = total - entries
        t = time.monotonic()
        r2 = notifier(2)
        while replica(r2) != (len(recs), len(missed), 0):
            if time.monotonic() - t > 300:
                raise SystemExit(f"FAIL: replica 2 stuck at {replica(r2)}")
            time.sleep(0.05)
        t_second = time.monotonic() - t
        a = sqlite3.connect(r1).execute("SELECT id, record, person FROM calls ORDER BY id")
        b = sqlite3.connect(r2).execute("SELECT id, record, person FROM calls ORDER BY id")
        assert a.fetchall() == b.fetchall(), "the replicas differ"
        off, on = min(times["off"]), min(times["mcn"])
        notes = sqlite3.connect(r1).execute("SELECT count(*) FROM notifications").fetchone()[0]
        print(f"{ncalls} calls: {len(recs)} records, {len(missed)} missed "
              f"({notes} notifications, {steps} steps)")
        print(f"probe replay, best of 3: history off {off:.2f} s, on {on:.2f} s "
              f"(+{(on - off) / len(recs) * 1e6:.1f} us a record)")
        print(f"Redis mcn:history: {mem_records / entries:.0f} B a record, "
              f"{(mem_all - mem_records) / max(steps, 1):.0f} B a notification step, "
              f"{mem_all / 1e6:.1f} MB for {total} entries")
        print(f"notifier 1: replica complete (and every call notified) {t_first:.2f} s after "
              f"its start")
        print(f"notifier 2 started afresh: replica caught up with {total} entries in "
              f"{t_second:.2f} s ({total / t_second:.0f} entries/s, process start included); "
              f"the replicas hold the same rows")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
