#!/usr/bin/env python3
"""Scale-out throughput: missed calls per second through probe -> Redis Streams -> notifier.

  tests/bench/stream_bench.py [BUILD_DIR] [CALLS] [NOTIFIERS] [live|drain]
  (defaults: build/release 20000 1 live)

Generates an IMS mix (mcn-gen, seed 9), takes its missed records from a plain replay to give
every called number a subscriber with a JSONL channel and no merge window (one notification per
call, written in-process: the figure is the pipeline's, not an HTTP receiver's), starts a
redis-server on a free loopback port and NOTIFIERS notifiers, then times:
  publish   `mcn replay --role probe` until every missed call is in <prefix>:missed
            (tracking included: the same replay without publishing, also timed, is the floor);
  end2end   from the probe's start until the notifiers wrote the last notification.
With `drain` the notifiers start only after the probe published everything, and end2end is the
notifiers' own rate on a full stream (missed -> window -> closed -> delivered -> acknowledged).
Prints calls/s for both and checks that every missed call was notified exactly once."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import start_redis, write_jsonl_subscribers  # noqa: E402


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    nnotifiers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    drain = len(sys.argv) > 4 and sys.argv[4] == "drain"
    build = os.path.abspath(build)  # the notifiers run in directories of their own
    mcn, gen = f"{build}/mcn", f"{build}/mcn-gen"
    work = tempfile.mkdtemp(prefix="mcn_stream_bench_")
    procs = []
    try:
        subprocess.run([gen, "mix", "--calls", str(calls), "--seed", "9", "--ues", "2000",
                        "--summary-json", f"{work}/s.json", "-o", f"{work}/mix.pcap"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        missed = json.load(open(f"{work}/s.json"))["missed"]
        out = subprocess.run([mcn, "replay", f"{work}/mix.pcap", "--events-out", "-", "-q"],
                             check=True, capture_output=True, text=True).stdout
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        assert len(recs) == missed, (len(recs), missed)
        numbers = sorted({r["callee"] for r in recs})
        sink = f"{work}/notified.jsonl"
        write_jsonl_subscribers(f"{work}/subscribers.toml", numbers, sink)
        redis, port = start_redis(work)
        procs.append(redis)
        with open(f"{work}/mcn.toml", "w") as f:
            f.write(f'[run]\nhttp_port = 0\n[notify]\ndead_letter = "{work}/dead.jsonl"\n'
                    f'[streams]\nredis = "redis://127.0.0.1:{port}"\n')
        def start_notifiers():
            for k in range(nnotifiers):
                os.makedirs(f"{work}/n{k}", exist_ok=True)  # its history replica's
                procs.append(subprocess.Popen([mcn, "run", "--role", "notifier", "--config",
                                               f"{work}/mcn.toml", "--subscribers",
                                               f"{work}/subscribers.toml"],
                                              stdout=open(f"{work}/n{k}.log", "w"),
                                              stderr=subprocess.STDOUT, cwd=f"{work}/n{k}"))
        if not drain:
            start_notifiers()
        # The probe's floor: the same replay without publishing.
        t = time.monotonic()
        subprocess.run([mcn, "replay", f"{work}/mix.pcap", "--events-out", "/dev/null", "-q"],
                       check=True)
        t_plain = time.monotonic() - t
        time.sleep(0.5)  # notifiers connected and blocked on XREADGROUP
        t0 = time.monotonic()
        subprocess.run([mcn, "replay", f"{work}/mix.pcap", "--role", "probe", "--config",
                        f"{work}/mcn.toml", "-q"], check=True)
        t_pub = time.monotonic() - t0
        if drain:
            t0 = time.monotonic()
            start_notifiers()

        def notified():  # calls covered so far (one notification may carry several)
            try:
                with open(sink, "rb") as f:
                    return f.read().count(b'"call_id"')
            except FileNotFoundError:
                return 0
        deadline = time.monotonic() + 600
        while notified() < missed and time.monotonic() < deadline:
            time.sleep(0.005)
        t_all = time.monotonic() - t0
        # Two notifiers append to the same file: a line and its newline may be two writes, so
        # objects are read back to back rather than line by line.
        text, got, dec, pos = open(sink).read(), [], json.JSONDecoder(), 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            obj, pos = dec.raw_decode(text, pos)
            got.append(obj)
        seen = {}
        for n in got:
            for c in n["calls"]:
                key = (c["call_id"], c["callee"])
                seen[key] = seen.get(key, 0) + 1
        want = {(r["call_id"], r["callee"]) for r in recs}
        ok = set(seen) == want and all(v == 1 for v in seen.values())
        print(f"stream bench: {missed} missed calls ({calls} calls in the mix), {nnotifiers} "
              f"notifier(s); probe publish {t_pub:.2f} s = {missed / t_pub:.0f} calls/s; "
              f"{'notifiers draining the stream' if drain else 'probe -> Redis -> notifier'} "
              f"{t_all:.2f} s = {missed / t_all:.0f} calls/s; "
              f"{len(got)} notifications, every call exactly once: {'yes' if ok else 'NO'} "
              f"(the same replay without publishing: {t_plain:.2f} s)")
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
