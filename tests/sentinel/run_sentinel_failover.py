#!/usr/bin/env python3
"""Sentinel failover test (issue 17 item 2): real redis-server master and replica, three
redis-sentinel processes (quorum 2, down after 1 s), all on free 127.0.0.1 ports, passwords on
the data nodes and on the Sentinels (given to mcn by reference). Two probes (`mcn replay -
--role probe`, each reading its capture from a pipe that the test fills in six slices, 0.4 s
apart, so both processes live across the failover and publish in bursts), two notifiers
(`mcn run --role notifier`) deliver to a loopback webhook receiver; the master is SIGKILLed
after probe 1's third slice, while both probes are publishing.

Expected, independently of mcn: each probe's capture is an `mcn-gen mix` whose own summary says
how many missed calls it holds; the set of calls is taken from `mcn replay --events-out` of the
capture (the single-process path, golden-tested). Checked:
- every expected call reaches the receiver in exactly one notification (after dropping repeated
  webhook-id), or else is absent from the new master's `mcn:missed` stream: a call the old
  master acknowledged to a probe but never replicated (the asynchronous-replication window,
  counted and printed; it must stay a small part of the burst);
- nothing unexpected arrives;
- both notifiers and at least one probe followed the failover (`stream.sentinel_failovers`; a
  probe whose first decided call came after the kill first connects to the new master), the Sentinels promoted the replica, and no password shows in any
  log.
Printed: the failover time seen by the clients (kill -> first "reachable again" of a notifier,
from its log), calls published, in the replication window, duplicates absorbed.

Usage: run_sentinel_failover.py MCN MCN_GEN [--keep]"""
import calendar
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import free_port, wait_for  # noqa: E402

DATA_PW = "data-pw-sentinel-e2e-7f3a"
SENTINEL_PW = "sentinel-pw-e2e-91c2"
SECRET = "whsec_bWNuLXNjYWxlb3V0LXNlY3JldC0wMTIzNDU2Nzg5YWI="
SLICES = 6        # per probe's capture
CALLS = 360       # per probe
GAP_S = 0.4       # between a probe's slices
KILL_AFTER = 3    # slices of probe 1 written before the master is killed


def cli(port, *args, pw=None):
    cmd = ["redis-cli", "--no-auth-warning", "-p", str(port)]
    if pw:
        cmd += ["-a", pw]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=10).stdout


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line being written right now
    return out


def main():
    mcn, gen = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="mcn_sentinel_")
    procs = []
    keep = False

    def spawn(args, log=None, **kw):
        out = open(log, "w") if log else subprocess.DEVNULL
        p = subprocess.Popen(args, stdout=out, stderr=out if log else subprocess.DEVNULL, **kw)
        procs.append(p)
        return p

    try:
        # --- captures and what the generator says they hold
        expected = {}
        for probe in (1, 2):
            name = f"probe{probe}"
            subprocess.run([gen, "mix", "--calls", str(CALLS), "--seed",
                            str(1000 * probe + 1), "--ues", "60", "--summary-json",
                            f"{work}/{name}.json", "-o", f"{work}/{name}.pcap"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            missed = json.load(open(f"{work}/{name}.json"))["missed"]
            out = subprocess.run([mcn, "replay", f"{work}/{name}.pcap", "--events-out", "-",
                                  "-q"], check=True, capture_output=True, text=True).stdout
            recs = [json.loads(l) for l in out.splitlines() if l.strip()]
            if len(recs) != missed:
                raise SystemExit(f"FAIL: {name}: {len(recs)} missed records, generator says "
                                 f"{missed}")
            for r in recs:
                expected[(r["call_id"], r["callee"])] = name
        total = len(expected)

        # --- the Redis lab
        master, replica = free_port(), free_port()
        sentinels = [free_port() for _ in range(3)]
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work,
                  "--requirepass", DATA_PW, "--masterauth", DATA_PW,
                  "--repl-diskless-sync-delay", "0"]
        master_p = spawn(["redis-server", "--port", str(master), *common])
        spawn(["redis-server", "--port", str(replica), *common,
               "--replicaof", "127.0.0.1", str(master)])
        wait_for(lambda: "connected" in cli(replica, "ROLE", pw=DATA_PW).split(), 15,
                 "the replica in sync")
        for i, port in enumerate(sentinels):
            conf = f"{work}/sentinel{i}.conf"
            with open(conf, "w") as f:
                f.write(f"port {port}\nbind 127.0.0.1\n"
                        f"sentinel monitor mcn 127.0.0.1 {master} 2\n"
                        "sentinel down-after-milliseconds mcn 1000\n"
                        "sentinel failover-timeout mcn 4000\n"
                        f"sentinel auth-pass mcn {DATA_PW}\n"
                        f"requirepass {SENTINEL_PW}\nsentinel sentinel-pass {SENTINEL_PW}\n")
            spawn(["redis-sentinel", conf])

        def sentinels_ready():
            for port in sentinels:
                reps = cli(port, "SENTINEL", "replicas", "mcn", pw=SENTINEL_PW)
                others = cli(port, "SENTINEL", "sentinels", "mcn", pw=SENTINEL_PW)
                if str(replica) not in reps or others.count("127.0.0.1") < 2:
                    return False
            return True
        wait_for(sentinels_ready, 30, "the Sentinels to know the replica and each other")

        # --- subscribers, config, receiver, notifiers
        rport = free_port()
        numbers = sorted({callee for (_, callee) in expected})
        with open(f"{work}/subscribers.toml", "w") as f:
            for i, num in enumerate(numbers):
                f.write(f'[[person]]\nid = "p{i}"\nname = "Person {i}"\nnumbers = ["{num}"]\n'
                        f'[person.preferences]\nmerge_window = "0"\nmin_ring = "0"\n'
                        f'[[person.channel]]\nkind = "webhook"\n'
                        f'target = "http://127.0.0.1:{rport}/hook"\n'
                        f'secret_ref = "env:MCN_SENTINEL_SECRET"\n\n')
        with open(f"{work}/sentinel.pw", "w") as f:
            f.write(SENTINEL_PW + "\n")
        addrs = ", ".join(f'"127.0.0.1:{p}"' for p in sentinels)
        with open(f"{work}/mcn.toml", "w") as f:
            f.write(f"""[run]
http_port = 0
shutdown_timeout_ms = 3000
log_format = "json"
[notify]
dead_letter = "{work}/dead.jsonl"
finish_timeout_ms = 30000
[streams]
sentinels = [{addrs}]
sentinel_master = "mcn"
sentinel_password_ref = "file:{work}/sentinel.pw"
password_ref = "env:MCN_REDIS_PW"
claim_idle_ms = 1000
batch = 8
connect_timeout_ms = 300
backoff_max_ms = 300
""")
        env = dict(os.environ, MCN_SENTINEL_SECRET=SECRET, MCN_REDIS_PW=DATA_PW)
        log = f"{work}/received.jsonl"
        recv = subprocess.Popen([sys.executable, f"{here}/../scaleout/slow_receiver.py",
                                 str(rport), log, "0.02"], stdout=subprocess.PIPE, text=True)
        procs.append(recv)
        recv.stdout.readline()
        # A working directory each: the replica of the shared history (history.path).
        for k in (1, 2):
            os.makedirs(f"{work}/n{k}", exist_ok=True)
        notifiers = [spawn([mcn, "run", "--role", "notifier", "--config", f"{work}/mcn.toml",
                            "--subscribers", f"{work}/subscribers.toml"],
                           f"{work}/notifier{k}.log", env=env, cwd=f"{work}/n{k}")
                     for k in (1, 2)]

        # --- two probes publishing bursts; the master dies after probe 1's first slices
        failures = []
        slice_done = threading.Semaphore(0)

        def run_probe(probe):
            data = open(f"{work}/probe{probe}.pcap", "rb").read()
            # pcap: a 24-byte file header, then records of a 16-byte header + incl_len bytes.
            offsets, pos = [], 24
            while pos + 16 <= len(data):
                offsets.append(pos)
                pos += 16 + int.from_bytes(data[pos + 8:pos + 12], "little")
            cuts = [offsets[len(offsets) * i // SLICES] for i in range(SLICES)] + [len(data)]
            p = subprocess.Popen([mcn, "replay", "-", "--role", "probe", "--config",
                                  f"{work}/mcn.toml"], env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL,
                                 stderr=open(f"{work}/probe{probe}.log", "w"))
            procs.append(p)
            p.stdin.write(data[:24])
            for i in range(SLICES):
                p.stdin.write(data[cuts[i]:cuts[i + 1]])
                p.stdin.flush()
                if probe == 1:
                    slice_done.release()
                time.sleep(GAP_S)
            p.stdin.close()
            rc = p.wait(timeout=60)
            if rc != 0:
                failures.append(f"probe {probe} exited {rc}")
        threads = [threading.Thread(target=run_probe, args=(p,)) for p in (1, 2)]
        for t in threads:
            t.start()
        for _ in range(KILL_AFTER):
            slice_done.acquire()
        killed_at = time.time()
        os.kill(master_p.pid, signal.SIGKILL)
        master_p.wait()
        for t in threads:
            t.join(timeout=120)

        def covered():
            seen = {}
            for e in read_jsonl(log):
                for c in e["body"]["data"]["calls"]:
                    seen.setdefault((c["call_id"], c["callee"]), set()).add(e["webhook_id"])
            return seen

        def new_master_missed():
            # The calls the promoted master holds in mcn:missed.
            out = subprocess.run(["redis-cli", "--no-auth-warning", "-a", DATA_PW, "-p",
                                  str(replica), "--raw", "XRANGE", "mcn:missed", "-", "+"],
                                 capture_output=True, text=True).stdout
            held = set()
            for line in out.splitlines():
                if line.startswith("{"):
                    c = json.loads(line)
                    held.add((c["call_id"], c["callee"]))
            return held

        def settled():
            if len(covered()) >= total:
                return True
            pending = cli(replica, "XPENDING", "mcn:missed", "mcn-notifiers", pw=DATA_PW).split()
            pending_c = cli(replica, "XPENDING", "mcn:closed", "mcn-notifiers", pw=DATA_PW).split()
            held = new_master_missed()
            return (pending[:1] == ["0"] and pending_c[:1] == ["0"]
                    and all(k in covered() for k in held))
        wait_for(settled, 60, "the notifiers to deliver everything the new master holds")
        time.sleep(1.0)  # a last delivery in flight
        for p in notifiers:
            p.send_signal(signal.SIGTERM)
        rcs = [p.wait(timeout=30) for p in notifiers]

        # --- verdict
        entries = read_jsonl(log)
        ids = [e["webhook_id"] for e in entries]
        duplicates = len(ids) - len(set(ids))
        seen = covered()
        held = new_master_missed()
        missing = [k for k in expected if k not in seen]
        lost_in_window = [k for k in missing if k not in held]
        never_notified = [k for k in missing if k in held]
        extra = [k for k in seen if k not in expected]
        twice = {k: v for k, v in seen.items() if len(v) > 1}

        def counters(path):
            c = {}
            for line in open(path, errors="replace"):
                for tok in line.replace('"', " ").split():
                    if tok.startswith("stream.") and "=" in tok:
                        name, _, v = tok.partition("=")
                        if v.isdigit():
                            c[name] = c.get(name, 0) + int(v)
            return c
        ncount = [counters(f"{work}/notifier{k}.log") for k in (1, 2)]
        pcount = {}
        for probe in (1, 2):
            for name, v in counters(f"{work}/probe{probe}.log").items():
                pcount[name] = pcount.get(name, 0) + v
        rec_times = []
        for k in (1, 2):
            for e in read_jsonl(f"{work}/notifier{k}.log"):
                if "reachable again" in e.get("msg", ""):
                    ts = e["ts"].rstrip("Z")
                    whole, _, frac = ts.partition(".")
                    t = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
                    rec_times.append(t + float("0." + (frac or "0")))
                    break
        failover_s = [round(t - killed_at, 2) for t in rec_times]
        roles = cli(replica, "ROLE", pw=DATA_PW).split()
        logs = ""
        for fn in os.listdir(work):
            if fn.endswith(".log"):
                logs += open(f"{work}/{fn}", errors="replace").read()

        print(f"sentinel failover: {total} missed calls from two probes; probes published "
              f"{pcount.get('stream.published', 0)} (buffered {pcount.get('stream.buffered', 0)},"
              f" resent {pcount.get('stream.resent', 0)}, dropped "
              f"{pcount.get('stream.dropped', 0)}); receiver: {len(seen)} calls in {len(ids)} "
              f"requests, {duplicates} duplicate webhook-id absorbed; in the async-replication "
              f"window (acknowledged by the old master, absent from the new one): "
              f"{len(lost_in_window)}; failover seen by the notifiers {failover_s} s after the "
              f"kill; notifier sentinel_failovers "
              f"{[c.get('stream.sentinel_failovers', 0) for c in ncount]}, probes' "
              f"{pcount.get('stream.sentinel_failovers', 0)}; notifier exits {rcs}")
        ok = True

        def check(cond, msg):
            nonlocal ok
            if not cond:
                ok = False
                print("FAIL: " + msg)
        check(not failures, "; ".join(failures))
        check(not never_notified, f"{len(never_notified)} call(s) held by the new master but "
                                  f"never notified: {never_notified[:3]}")
        check(len(lost_in_window) <= total // 10,
              f"{len(lost_in_window)} calls lost in the replication window (> 10% of {total})")
        check(not extra, f"{len(extra)} unexpected call(s) notified: {extra[:3]}")
        check(not twice, f"{len(twice)} call(s) in two different notifications")
        check(roles[:1] == ["master"], f"the replica was not promoted: ROLE {roles[:1]}")
        check(all(c.get("stream.sentinel_failovers", 0) == 1 for c in ncount),
              "a notifier did not follow the failover (stream.sentinel_failovers != 1)")
        # A probe connects at its first decided call; one whose first call came after the kill
        # first connects to the new master (no failover to count), so at least one of the two.
        check(all(counters(f"{work}/probe{k}.log").get("stream.sentinel_failovers", 0) <= 1
                  for k in (1, 2)) and pcount.get("stream.sentinel_failovers", 0) >= 1,
              "no probe followed the failover (stream.sentinel_failovers)")
        check(len(failover_s) == 2, "a notifier never logged 'reachable again'")
        check(all(rc == 0 for rc in rcs), f"notifier exit codes {rcs}")
        check(DATA_PW not in logs and SENTINEL_PW not in logs, "a password shows in a log")
        check(len(seen) >= total - len(lost_in_window), "calls missing")
        if not ok:
            print(f"(work dir kept: {work})")
            keep = True
            return 1
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if "--keep" not in sys.argv and not keep:
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
