#!/usr/bin/env python3
"""Scale-out test (issue 8): a real redis-server, two probes replaying overlapping captures, two
notifiers delivering to a loopback webhook receiver, one notifier killed with SIGKILL while its
deliveries are in flight.

Captures (mcn-gen mixes, each with its own seed so Call-IDs and icid-values never collide):
  probe 1 replays A + C, probe 2 replays B + C: the calls of C are seen at both sites.
Expected, independently of mcn: the generator's own summary says how many missed records each
mix holds (missed_A + missed_B + missed_C); every one of them must reach the receiver in exactly
one notification (after dropping repeated webhook-id, the idempotency key), and the probes'
cross-probe dedupe must have absorbed exactly missed_C publishes. The identity of the calls is
taken from `mcn replay --events-out` of each mix (the single-process path, golden-tested), only
to name a subscriber for every called number and to check the set, not the count.

Usage: run_scaleout.py MCN MCN_GEN [--keep]"""
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import free_port, start_redis, wait_for  # noqa: E402

SECRET = "whsec_bWNuLXNjYWxlb3V0LXNlY3JldC0wMTIzNDU2Nzg5YWI="


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line being written right now
    return out


def main():
    mcn, gen = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="mcn_scaleout_")
    procs = []
    try:
        # --- captures and what the generator says they hold
        summary = {}
        for name, seed in (("A", 801), ("B", 802), ("C", 803)):
            subprocess.run([gen, "mix", "--calls", "150", "--seed", str(seed), "--ues", "80",
                            "--summary-json", f"{work}/{name}.json", "-o", f"{work}/{name}.pcap"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(f"{work}/{name}.json") as f:
                summary[name] = json.load(f)["missed"]
        expected = {}
        for name in ("A", "B", "C"):
            out = subprocess.run([mcn, "replay", f"{work}/{name}.pcap", "--events-out", "-", "-q"],
                                 check=True, capture_output=True, text=True).stdout
            recs = [json.loads(l) for l in out.splitlines() if l.strip()]
            if len(recs) != summary[name]:
                raise SystemExit(f"FAIL: mix {name}: {len(recs)} missed records, generator says "
                                 f"{summary[name]}")
            for r in recs:
                expected[(r["call_id"], r["callee"])] = name
        total = summary["A"] + summary["B"] + summary["C"]
        if len(expected) != total:
            raise SystemExit(f"FAIL: {len(expected)} distinct missed calls, expected {total}")

        # --- subscribers: one person per called number, webhook to the receiver, no window
        rport, redis_port = free_port(), free_port()
        numbers = sorted({callee for (_, callee) in expected})
        with open(f"{work}/subscribers.toml", "w") as f:
            for i, num in enumerate(numbers):
                f.write(f'[[person]]\nid = "p{i}"\nname = "Person {i}"\nnumbers = ["{num}"]\n'
                        f'[person.preferences]\nmerge_window = "0"\nmin_ring = "0"\n'
                        f'[[person.channel]]\nkind = "webhook"\n'
                        f'target = "http://127.0.0.1:{rport}/hook"\n'
                        f'secret_ref = "env:MCN_SCALEOUT_SECRET"\n\n')
        with open(f"{work}/mcn.toml", "w") as f:
            f.write(f"""[run]
http_port = 0
shutdown_timeout_ms = 3000
log_format = "json"
[notify]
dead_letter = "{work}/dead.jsonl"
[streams]
redis = "redis://127.0.0.1:{redis_port}"
claim_idle_ms = 1000
batch = 4
max_in_flight = 20
maxlen = 100000
backoff_max_ms = 500
""")
        env = dict(os.environ, MCN_SCALEOUT_SECRET=SECRET)

        # --- redis, receiver, notifiers
        procs.append(start_redis(work, redis_port)[0])
        here = os.path.dirname(os.path.abspath(__file__))
        log = f"{work}/received.jsonl"
        recv = subprocess.Popen([sys.executable, f"{here}/slow_receiver.py", str(rport), log,
                                 "0.2"], stdout=subprocess.PIPE, text=True)
        procs.append(recv)
        recv.stdout.readline()
        notifiers = []
        for k in (1, 2):
            err = open(f"{work}/notifier{k}.log", "w")
            # A working directory each: the replica of the shared history (history.path).
            os.makedirs(f"{work}/n{k}", exist_ok=True)
            p = subprocess.Popen([mcn, "run", "--role", "notifier", "--config", f"{work}/mcn.toml",
                                  "--subscribers", f"{work}/subscribers.toml"],
                                 env=env, stdout=err, stderr=err, cwd=f"{work}/n{k}")
            procs.append(p)
            notifiers.append(p)

        # --- two probes at once, overlapping captures
        probes = []
        for k, files in ((1, ["A", "C"]), (2, ["B", "C"])):
            err = open(f"{work}/probe{k}.log", "w")
            probes.append(subprocess.Popen(
                [mcn, "replay", *[f"{work}/{n}.pcap" for n in files], "--role", "probe",
                 "--config", f"{work}/mcn.toml"], env=env, stdout=subprocess.DEVNULL,
                stderr=err))
        # --- SIGKILL notifier 1 while deliveries are in flight (the receiver holds each 0.2 s)
        wait_for(lambda: len(read_jsonl(log)) >= 20, 60, "the first 20 deliveries")
        os.kill(notifiers[0].pid, signal.SIGKILL)
        notifiers[0].wait()
        killed_at = len(read_jsonl(log))
        for p in probes:
            if p.wait(timeout=60) != 0:
                raise SystemExit("FAIL: a probe exited with an error")
        deduped = published = 0
        for k in (1, 2):
            text = open(f"{work}/probe{k}.log").read()
            for tok in text.split():
                if tok.startswith("stream.deduped="):
                    deduped += int(tok.split("=")[1])
                if tok.startswith("stream.published="):
                    published += int(tok.split("=")[1])

        def covered():
            seen = {}
            for e in read_jsonl(log):
                for c in e["body"]["data"]["calls"]:
                    seen.setdefault((c["call_id"], c["callee"]), set()).add(e["webhook_id"])
            return seen
        wait_for(lambda: len(covered()) >= total, 60, f"all {total} missed calls at the receiver")
        # The survivor stops cleanly: nothing pending, everything acknowledged.
        notifiers[1].send_signal(signal.SIGTERM)
        rc = notifiers[1].wait(timeout=30)

        # --- verdict
        entries = read_jsonl(log)
        ids = [e["webhook_id"] for e in entries]
        unique = set(ids)
        duplicates = len(ids) - len(unique)
        seen = covered()
        missing = [k for k in expected if k not in seen]
        extra = [k for k in seen if k not in expected]
        twice = {k: v for k, v in seen.items() if len(v) > 1}
        pending = subprocess.run(["redis-cli", "-p", str(redis_port), "XPENDING", "mcn:closed",
                                  "mcn-notifiers"], capture_output=True, text=True).stdout.split()
        dead = subprocess.run(["redis-cli", "-p", str(redis_port), "XLEN", "mcn:dead"],
                              capture_output=True, text=True).stdout.strip()
        # The notifiers log as [run] log_format says: one JSON object per line.
        survivor = []
        for line in open(f"{work}/notifier2.log"):
            try:
                survivor.append(json.loads(line)["msg"])
            except (ValueError, KeyError):
                survivor = None
                break
        claimed = sum(int(t.split("=")[1]) for t in " ".join(survivor or []).split()
                      if t.startswith("stream.claimed="))
        print(f"scale-out: {total} missed calls expected (A={summary['A']} B={summary['B']} "
              f"C={summary['C']} seen by both probes); probes published {published}, deduplicated "
              f"{deduped}; receiver got {len(ids)} requests, {len(unique)} distinct webhook-id, "
              f"{duplicates} duplicate(s) absorbed by the idempotency key; notifier 1 SIGKILLed "
              f"after {killed_at} requests, survivor claimed {claimed}; survivor exit {rc}; pending "
              f"after stop {pending[0] if pending else '?'}; dead letters {dead}")
        ok = True
        def check(cond, msg):
            nonlocal ok
            if not cond:
                ok = False
                print("FAIL: " + msg)
        check(not missing, f"{len(missing)} missed call(s) never notified: {missing[:3]}")
        check(not extra, f"{len(extra)} unexpected call(s) notified: {extra[:3]}")
        check(not twice, f"{len(twice)} call(s) in two different notifications: "
                         f"{list(twice.items())[:2]}")
        check(published == total, f"published {published}, expected {total}")
        check(deduped == summary["C"], f"deduplicated {deduped}, expected {summary['C']} (mix C)")
        check(rc == 0, f"the surviving notifier exited {rc}")
        check(survivor, "the surviving notifier's log is not JSON lines (run.log_format)")
        check(pending and pending[0] == "0", f"entries still pending: {pending[:1]}")
        check(dead == "0", f"{dead} dead letter(s)")
        # Proof that the kill was mid-stream: the survivor took over entries notifier 1 held.
        check(claimed > 0, "the survivor claimed nothing: notifier 1 died holding no work")
        if not ok:
            print(f"(work dir kept: {work})")
            return 1
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if "--keep" not in sys.argv:
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
