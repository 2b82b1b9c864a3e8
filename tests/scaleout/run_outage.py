#!/usr/bin/env python3
"""A probe survives Redis being away (issue 8): `mcn replay --role probe` starts while no Redis
listens, buffers every missed call (counted), keeps reconnecting with backoff, and once a
redis-server comes up on that port resends them all, in order, nothing lost. Expected count from
the generator's summary (mcn-gen), not from mcn. The mid-run stop/restart of a connected probe
is tested at the library level (StreamBusTest.ProbeBuffersThroughAnOutageAndResendsInOrder).

Usage: run_outage.py MCN MCN_GEN"""
import os
import json
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import free_port, start_redis  # noqa: E402


def main():
    mcn, gen = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="mcn_outage_")
    redis = None
    try:
        subprocess.run([gen, "mix", "--calls", "200", "--seed", "805", "--summary-json",
                        f"{work}/s.json", "-o", f"{work}/m.pcap"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        missed = json.load(open(f"{work}/s.json"))["missed"]
        port = free_port()
        with open(f"{work}/mcn.toml", "w") as f:
            f.write(f'[notify]\nfinish_timeout_ms = 20000\n[streams]\n'
                    f'redis = "redis://127.0.0.1:{port}"\nbackoff_max_ms = 200\n')
        probe = subprocess.Popen([mcn, "replay", f"{work}/m.pcap", "--role", "probe", "--config",
                                  f"{work}/mcn.toml"], stderr=subprocess.PIPE, text=True)
        # The probe says once that Redis is away; only then does Redis come up, so the calls
        # are really buffered first.
        first = probe.stderr.readline()
        if "Redis unreachable" not in first or probe.poll() is not None:
            print(f"FAIL: expected the probe to report Redis unreachable and wait, got: {first!r}")
            return 1
        redis, _ = start_redis(work, port)
        _, err = probe.communicate(timeout=30)
        err = first + err
        counters = dict(t.split("=", 1) for t in err.split() if t.startswith("stream."))
        xlen = subprocess.run(["redis-cli", "-p", str(port), "XLEN", "mcn:missed"],
                              capture_output=True, text=True).stdout.strip()
        print(f"outage: {missed} missed calls (generator), probe exit {probe.returncode}, "
              f"buffered {counters.get('stream.buffered')}, resent {counters.get('stream.resent')}, "
              f"published {counters.get('stream.published')}, reconnects "
              f"{counters.get('stream.reconnects')}, dropped {counters.get('stream.dropped')}; "
              f"XLEN mcn:missed {xlen}")
        ok = (probe.returncode == 0 and xlen == str(missed)
              and counters.get("stream.published") == str(missed)
              and counters.get("stream.dropped", "0") == "0"
              and int(counters.get("stream.buffered", "0")) > 0)
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if redis is not None:
            redis.kill()
            redis.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
