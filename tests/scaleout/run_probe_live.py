#!/usr/bin/env python3
"""Two live probes on one mirror (issue 8, root): `mcn run --role probe -i lo` twice, both
capturing the same frames (pcaps/ fixtures sent onto lo with tests/e2e/inject.py), publishing to a real
redis-server. Each missed call must reach `mcn:missed` once (the cross-probe dedupe), with the
fields of the fixture's hand-checked expected record (times differ: live capture stamps frames
when they are sent, so started/ended/ring are not compared). Usage: run_probe_live.py MCN"""
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import start_redis, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.join(HERE, "..", "..", "pcaps")
FIXTURES = ["cancelled", "busy_486", "answered", "b2bua_forward_no_answer", "fork_abandoned",
            "busy_to_voicemail", "office_morning"]
FIELDS = ["call_id", "correlation", "caller", "callee", "outcome", "missed", "status", "reason",
          "forwarded_to"]


def main():
    mcn = sys.argv[1]
    if os.geteuid() != 0:
        print("skipped: needs root (capture on lo)")
        return 77  # CTest SKIP_RETURN_CODE: reported as not run, never as passed
    work = tempfile.mkdtemp(prefix="mcn_probe_live_")
    procs = []
    try:
        redis, port = start_redis(work)
        procs.append(redis)
        with open(f"{work}/mcn.toml", "w") as f:
            f.write(f'[run]\nhttp_port = 0\nshutdown_timeout_ms = 3000\n'
                    f'[streams]\nredis = "redis://127.0.0.1:{port}"\n')
        probes = []
        for k in (1, 2):
            log = f"{work}/probe{k}.log"
            # A working directory each: the replica of the shared history (history.path).
            os.makedirs(f"{work}/p{k}", exist_ok=True)
            probes.append((subprocess.Popen([mcn, "run", "--role", "probe", "-i", "lo",
                                             "--config", f"{work}/mcn.toml"],
                                            stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                            cwd=f"{work}/p{k}"),
                           log))
        for p, log in probes:
            if not wait_until(lambda: "ready" in open(log).read(), 10):
                print(f"FAIL: probe not ready: {open(log).read()}")
                return 1
        expected = {}
        for name in FIXTURES:
            for line in open(os.path.join(PCAPS, f"{name}.expected.jsonl")):
                r = json.loads(line)
                if r["missed"]:
                    expected[(r["call_id"], r["callee"])] = {k: r[k] for k in FIELDS}
        inject = os.path.join(HERE, "..", "e2e", "inject.py")
        for n in FIXTURES:
            subprocess.run([sys.executable, inject, "lo", os.path.join(PCAPS, f"{n}.pcap")],
                           check=True, stdout=subprocess.DEVNULL)

        def xlen():
            out = subprocess.run(["redis-cli", "-p", str(port), "XLEN", "mcn:missed"],
                                 capture_output=True, text=True).stdout.strip()
            return int(out) if out.isdigit() else -1
        wait_until(lambda: xlen() >= len(expected), 10)
        for p, _ in probes:  # SIGTERM decides anything still open and flushes the buffer
            p.send_signal(signal.SIGTERM)
        rcs = [p.wait(timeout=20) for p, _ in probes]
        raw = subprocess.run(["redis-cli", "-p", str(port), "--raw", "XRANGE", "mcn:missed",
                              "-", "+"], capture_output=True, text=True).stdout
        got = {}
        for line in raw.splitlines():
            if not line.startswith("{"):  # --raw: ids, field names and values, one a line
                continue
            r = json.loads(line)
            key = (r["call_id"], r["callee"])
            got.setdefault(key, []).append({k: r[k] for k in FIELDS})
        ok = rcs == [0, 0] and set(got) == set(expected) and all(
            len(v) == 1 and v[0] == expected[k] for k, v in got.items())
        print(f"probe live: {len(expected)} missed calls in {len(FIXTURES)} fixtures, two probes "
              f"on lo; mcn:missed holds {sum(len(v) for v in got.values())} entries; exits {rcs}: "
              f"{'PASS' if ok else 'FAIL'}")
        if not ok:
            print(json.dumps({"got": {str(k): v for k, v in got.items()},
                              "want": {str(k): v for k, v in expected.items()}}, indent=1))
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
