#!/usr/bin/env python3
"""One-hour soak of `mcn run` (issue 17): live traffic at a steady rate through a veth pair, with
merge windows, the history store, the outbox and Redis on, sampled every minute; checks at the
end that memory, file descriptors and Redis memory stayed flat, that the counters add up and
that the webhook receivers got every missed call once after dropping repeats by webhook-id.

Two set-ups capture the same veth end at once (both see every frame):
  single   one `mcn run` (role all): subscribers in Redis (redis A, `run.redis`), the outbox
           journal, the history store; webhooks to receiver A.
  streams  `mcn run --role probe` (history store on) publishing to Redis Streams on redis B, and
           `mcn run --role notifier` (subscribers in redis B) delivering to receiver B.
The traffic: one `mcn-gen mix` capture of DURATION*CPS calls at CPS calls/s (--ues UES,
Call-IDs never repeat), sent once with tcpreplay at its own timing from the namespace soakns
(soak1 198.18.45.2 -> soak0 198.18.45.1 in the root namespace, where both capture).
Every called number but one in ten has a person (merge window WINDOW s, a webhook); the tenth are
unknown numbers (notifier.unknown_number).

Usage: soak.py [--build DIR] [--duration S] [--cps N] [--ues N] [--window S] [--interval S]
               [--mode both|single|streams] [--work DIR] [--out DIR] [--keep]
Root only. Writes OUT/soak-samples.csv, OUT/soak-summary.md (and .json); exit 1 if a check
failed. README.md next to this file says what is measured and how."""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from mcntest import free_port, redis_cmd  # noqa: E402
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NS, HOST_IF, NS_IF = "soakns", "soak0", "soak1"
SECRET = "whsec_bWNuLXNvYWstdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFi"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def netns_up():
    netns_down()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS)
    sh("sysctl", "-qw", f"net.ipv6.conf.{HOST_IF}.disable_ipv6=1")
    sh("ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv6.conf.{NS_IF}.disable_ipv6=1")
    sh("ip", "addr", "add", "198.18.45.1/24", "dev", HOST_IF)
    sh("ip", "link", "set", HOST_IF, "mtu", "9000", "up")  # the mix has INVITEs up to 4.7 KB
    sh("ip", "-n", NS, "addr", "add", "198.18.45.2/24", "dev", NS_IF)
    sh("ip", "-n", NS, "link", "set", NS_IF, "mtu", "9000", "up")


def netns_down():
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "link", "del", HOST_IF, check=False)


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


def metrics(port):
    """/metrics as {family: sum of its samples}, plus {"family{labels}": value}."""
    try:
        text = subprocess.run(["curl", "-sf", "--max-time", "5", f"http://127.0.0.1:{port}/metrics"],
                              capture_output=True, text=True, timeout=10).stdout
    except subprocess.TimeoutExpired:
        return {}
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m:
            continue
        try:
            v = float(m.group(3))
        except ValueError:
            continue
        name, labels = m.group(1), m.group(2)
        out[name] = out.get(name, 0.0) + v
        if labels:
            out[name + labels] = v
    return out


def proc_stats(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, AttributeError):
        return -1, -1


def redis_used_memory(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "memory"], capture_output=True,
                         text=True).stdout
    m = re.search(r"used_memory:(\d+)", out)
    return int(m.group(1)) if m else -1


def file_size(*paths):
    return sum(os.path.getsize(p) for p in paths if os.path.exists(p))


def wait_ready(port, proc, logpath, limit=15):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        if subprocess.run(["curl", "-sf", "--max-time", "1", f"http://127.0.0.1:{port}/readyz"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return
        time.sleep(0.2)
    raise SystemExit(f"soak: mcn not ready on :{port} (see {logpath}):\n" +
                     open(logpath, errors="replace").read()[-2000:])


class Soak:
    def __init__(self, args):
        self.a = args
        self.build = os.path.abspath(args.build)
        self.mcn = os.path.join(self.build, "mcn")
        self.gen = os.path.join(self.build, "mcn-gen")
        self.work = os.path.abspath(args.work)
        self.procs = []        # (name, Popen) stopped at the end, last first
        self.mcns = {}         # name -> {"proc", "http", "dir"}
        self.redis = {}        # name -> port
        self.receivers = {}    # setup -> jsonl path
        self.samples = []
        self.checks = []       # (setup, name, ok, detail)

    # ---------------------------------------------------------------- set-up
    def spawn(self, name, cmd, cwd, env=None):
        logf = open(os.path.join(self.work, f"{name}.log"), "w")
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=logf, stderr=subprocess.STDOUT)
        self.procs.append((name, p))
        return p

    def generate(self):
        a = self.a
        self.calls = int(round(a.duration * a.cps))
        self.pcap = os.path.join(self.work, "mix.pcap")
        log(f"mcn-gen mix --calls {self.calls} --cps {a.cps} --ues {a.ues} --seed {a.seed}")
        subprocess.run([self.gen, "mix", "--calls", str(self.calls), "--cps", str(a.cps), "--ues",
                        str(a.ues), "--seed", str(a.seed), "--summary-json",
                        os.path.join(self.work, "want.json"), "-o", self.pcap], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.want = json.load(open(os.path.join(self.work, "want.json")))
        log(f"capture: {self.want['frames']} frames, {self.want['bytes'] / 1e6:.0f} MB, "
            f"{(self.want['last_us'] - self.want['first_us']) / 1e6:.0f} s, "
            f"{self.want['missed']} missed records intended")
        # The called numbers, to give them people (a replay of the same capture names them; the
        # checks compare the live records with the generator's intent, not with this replay).
        out = subprocess.run([self.mcn, "replay", self.pcap, "--calls-out", "-", "-q"], check=True,
                             capture_output=True, text=True).stdout
        numbers = sorted({json.loads(l)["callee"] for l in out.splitlines() if l.strip()})
        self.subscribed = {n for i, n in enumerate(numbers) if i % 10 != 9}
        log(f"{len(numbers)} called numbers, {len(self.subscribed)} with a person")

    def subscribers_file(self, path, rport):
        with open(path, "w") as f:
            for i, num in enumerate(sorted(self.subscribed)):
                f.write(f'[[person]]\nid = "p{i}"\nname = "Person {i}"\nnumbers = ["{num}"]\n'
                        f'[person.preferences]\nmerge_window = "{self.a.window}s"\n'
                        f'min_ring = "0"\n[[person.channel]]\nkind = "webhook"\n'
                        f'target = "http://127.0.0.1:{rport}/hook"\n'
                        f'secret_ref = "env:MCN_SOAK_SECRET"\n\n')

    def start_redis(self, name):
        port = free_port()
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        self.spawn(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", d], d)
        for _ in range(50):
            if redis_cmd(port, "PING") == "PONG":
                break
            time.sleep(0.1)
        self.redis[name] = port
        return port

    def start_receiver(self, setup):
        port = free_port()
        path = os.path.join(self.work, f"received-{setup}.jsonl")
        self.spawn(f"receiver-{setup}", [sys.executable, os.path.join(ROOT, "tests", "scaleout",
                                                                      "slow_receiver.py"),
                                         str(port), path, "0"], self.work)
        self.receivers[setup] = path
        time.sleep(0.3)
        return port

    def start_mcn(self, name, role, conf, extra):
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        http = free_port()
        with open(os.path.join(d, "mcn.toml"), "w") as f:
            f.write(conf.replace("@HTTP@", str(http)))
        env = dict(os.environ, MCN_SOAK_SECRET=SECRET)
        cmd = [self.mcn, "run", "--role", role, "--config", os.path.join(d, "mcn.toml"), *extra]
        p = self.spawn(name, cmd, d, env)
        wait_ready(http, p, os.path.join(self.work, f"{name}.log"))
        self.mcns[name] = {"proc": p, "http": http, "dir": d}

    def setup(self):
        a = self.a
        netns_up()
        if a.mode in ("both", "single"):
            rport = self.start_receiver("single")
            redis = self.start_redis("redis-single")
            self.subscribers_file(os.path.join(self.work, "subscribers-single.toml"), rport)
            subprocess.run([self.mcn, "subscribers", "--redis", f"redis://127.0.0.1:{redis}/0",
                            "import", os.path.join(self.work, "subscribers-single.toml")],
                           check=True, stdout=subprocess.DEVNULL)
            self.start_mcn("mcn-single", "all", f"""[notify]
dead_letter = "dead.jsonl"
[run]
interfaces = ["{HOST_IF}"]
http_port = @HTTP@
redis = "redis://127.0.0.1:{redis}/0"
shutdown_timeout_ms = 5000
[history]
enabled = true
""", ["--calls-out", "calls.jsonl"])
        if a.mode in ("both", "streams"):
            rport = self.start_receiver("streams")
            redis = self.start_redis("redis-streams")
            self.subscribers_file(os.path.join(self.work, "subscribers-streams.toml"), rport)
            subprocess.run([self.mcn, "subscribers", "--redis", f"redis://127.0.0.1:{redis}/0",
                            "import", os.path.join(self.work, "subscribers-streams.toml")],
                           check=True, stdout=subprocess.DEVNULL)
            # Bounded streams: at ~8 missed calls/s the default maxlen (1,000,000) and dedupe TTL
            # (1 day) would take days to reach their steady state; these reach it in minutes.
            streams = f"""[streams]
redis = "redis://127.0.0.1:{redis}/0"
maxlen = {a.maxlen}
dedupe_ttl_s = {a.dedupe_ttl}
"""
            self.start_mcn("mcn-notifier", "notifier", f"""[notify]
dead_letter = "dead.jsonl"
[run]
http_port = @HTTP@
redis = "redis://127.0.0.1:{redis}/0"
shutdown_timeout_ms = 5000
[history]
enabled = false
{streams}""", [])
            self.start_mcn("mcn-probe", "probe", f"""[run]
interfaces = ["{HOST_IF}"]
http_port = @HTTP@
shutdown_timeout_ms = 5000
[history]
enabled = true
{streams}""", ["--calls-out", "calls.jsonl"])

    # ---------------------------------------------------------------- sampling
    def sample(self, t0, phase):
        row = {"minute": round((time.time() - t0) / 60, 1), "phase": phase}
        for name, m in self.mcns.items():
            rss, fds = proc_stats(m["proc"].pid)
            row[f"{name}.rss_kb"], row[f"{name}.fds"] = rss, fds
            met = metrics(m["http"])
            m["last"] = met
            for key, col in (("mcn_pcap_received_total", "pcap_received"),
                             ("mcn_sip_messages_total", "sip_messages"),
                             ("mcn_calls_missed_total", "missed"),
                             ("mcn_delivery_succeeded_total", "delivered"),
                             ("mcn_stream_published_total", "published"),
                             ("mcn_ring_drops_total", "ring_drops"),
                             ("mcn_pcap_kernel_dropped_total", "kernel_drops")):
                if key in met:
                    row[f"{name}.{col}"] = int(met[key])
            hist = os.path.join(m["dir"], "mcn-history.sqlite")
            if os.path.exists(hist):
                row[f"{name}.history_bytes"] = file_size(hist, hist + "-wal", hist + "-shm")
            ob = os.path.join(m["dir"], "mcn-outbox.journal")
            if os.path.exists(ob):
                row[f"{name}.outbox_bytes"] = file_size(ob)
        for name, port in self.redis.items():
            row[f"{name}.used_memory"] = redis_used_memory(port)
        if "redis-streams" in self.redis:  # both streams grow until they reach streams.maxlen
            for stream in ("missed", "closed"):
                n = redis_cmd(self.redis["redis-streams"], "XLEN", f"mcn:{stream}")
                row[f"redis-streams.xlen_{stream}"] = int(n) if n.isdigit() else -1
        for setup, path in self.receivers.items():
            got = read_jsonl(path)
            row[f"receiver-{setup}.requests"] = len(got)
            row[f"receiver-{setup}.unique"] = len({e["webhook_id"] for e in got})
            row[f"receiver-{setup}.calls"] = len({(c["call_id"], c["callee"]) for e in got
                                                  for c in e["body"]["data"]["calls"]})
        # Missed calls accepted into a merge window and not yet at the receiver: in flight.
        if "mcn-single.missed" in row and "receiver-single.calls" in row:
            acc = int(self.mcns["mcn-single"]["last"].get("mcn_notifier_accepted_total", 0))
            row["single.in_flight_calls"] = acc - row["receiver-single.calls"]
        self.samples.append(row)
        brief = " ".join(f"{k}={v}" for k, v in row.items() if k.endswith(("rss_kb", "fds", "used_memory", "unique")))
        log(f"sample {row['minute']} min: {brief}")

    def run_traffic(self):
        a = self.a
        t0 = time.time()
        replay = subprocess.Popen(["ip", "netns", "exec", NS, "tcpreplay", "-i", NS_IF, self.pcap],
                                  stdout=open(os.path.join(self.work, "tcpreplay.txt"), "w"),
                                  stderr=subprocess.STDOUT)
        self.procs.append(("tcpreplay", replay))
        self.sample(t0, "traffic")
        nxt = t0 + a.interval
        while replay.poll() is None:
            if time.time() >= nxt:
                self.sample(t0, "traffic")
                nxt += a.interval
            for name, m in self.mcns.items():
                if m["proc"].poll() is not None:
                    raise SystemExit(f"soak: {name} exited ({m['proc'].returncode}) during the run")
            time.sleep(1)
        self.traffic_s = time.time() - t0
        txt = open(os.path.join(self.work, "tcpreplay.txt")).read()
        m = re.search(r"Actual: (\d+) packets", txt)
        self.sent = int(m.group(1)) if m else -1
        log(f"tcpreplay done after {self.traffic_s:.0f} s: {self.sent} packets sent")
        # Drain: every call decided (grace), every window closed (merge window) and delivered.
        drain = a.window + 30
        log(f"drain {drain} s")
        end = time.time() + drain
        while time.time() < end:
            time.sleep(min(a.interval, max(0, end - time.time())))
            self.sample(t0, "drain")

    # ---------------------------------------------------------------- checks
    def check(self, setup, name, ok, detail):
        self.checks.append((setup, name, bool(ok), detail))
        log(f"{'PASS' if ok else 'FAIL'} [{setup}] {name}: {detail}")

    def flat(self, col, slack, unit):
        rows = [r for r in self.samples if r["phase"] == "traffic" and col in r and r[col] >= 0]
        if len(rows) < 4:
            return
        half = rows[len(rows) // 2]
        late = rows[len(rows) // 2:]
        ref = half[col]
        peak = max(r[col] for r in late)
        limit = ref * 1.05 + slack
        first = rows[1][col] if len(rows) > 1 else rows[0][col]
        note = ""
        if col.startswith("redis-streams."):
            full = [r["minute"] for r in rows if r.get("redis-streams.xlen_closed", 0) >= self.a.maxlen
                    and r.get("redis-streams.xlen_missed", 0) >= self.a.maxlen]
            note = (f"; both streams at maxlen {self.a.maxlen} from {full[0]} min" if full else
                    f"; the streams never reached maxlen {self.a.maxlen}")
        self.check(col.split(".")[0], f"{col} flat",
                   peak <= limit,
                   f"at {half['minute']} min {ref}{unit}, max after {peak}{unit} "
                   f"(limit +5 % +{slack}{unit} = {limit:.0f}); first minute {first}{unit}, "
                   f"last {rows[-1][col]}{unit}{note}")

    def counters_single(self, name, met, setup):
        g = lambda k: int(met.get(k, 0))
        # Frames: every frame libpcap delivered was read by the decoder, and tcpreplay's frames
        # all arrived (none dropped by the kernel, the interface or a ring).
        self.check(setup, "frames sent = received by libpcap",
                   g("mcn_pcap_received_total") == self.sent,
                   f"tcpreplay {self.sent}, libpcap {g('mcn_pcap_received_total')}, kernel drops "
                   f"{g('mcn_pcap_kernel_dropped_total')}, interface drops "
                   f"{g('mcn_pcap_if_dropped_total')}")
        self.check(setup, "frames received = decoded (decode.frames)",
                   g("mcn_decode_frames_total") == g("mcn_pcap_received_total"),
                   f"decode.frames {g('mcn_decode_frames_total')}")
        # Frames by fate: SIP over UDP + not SIP + fragments waiting + duplicates + every drop.
        fates = {k: g(k) for k in met if "{" not in k and k.endswith("_total") and (
            k.startswith(("mcn_decode_", "mcn_udp_", "mcn_ip_", "mcn_tunnel_", "mcn_tcp_segments",
                          "mcn_tcp_truncated", "mcn_tcp_bad_offset", "mcn_sctp_packets",
                          "mcn_sctp_truncated", "mcn_hep_packets")))}
        for k in ("mcn_decode_frames_total", "mcn_decode_snapped_total",
                  "mcn_udp_not_sip_on_sip_port_total", "mcn_ip_frag_reassembled_total",
                  "mcn_ip_frag_duplicates_total"):
            fates.pop(k, None)
        # Tunnels are decapsulated, not a fate: the inner packet is counted again.
        fates = {k: v for k, v in fates.items() if not k.startswith("mcn_tunnel_") or k in (
            "mcn_tunnel_truncated_total", "mcn_tunnel_unsupported_total",
            "mcn_tunnel_too_deep_total", "mcn_tunnel_control_total")}
        self.check(setup, "frames decoded = sum of their fates (SIP, not SIP, duplicates, drops)",
                   g("mcn_decode_frames_total") == sum(fates.values()),
                   f"decode.frames {g('mcn_decode_frames_total')} = " +
                   " + ".join(f"{k[4:-6]} {v}" for k, v in fates.items() if v) +
                   " (the mix has no IP fragments, so a frame has one fate)")
        sip_fates = {k: g(k) for k in ("mcn_sip_parsed_total", "mcn_sip_keepalive_total",
                                       "mcn_sip_too_large_total", "mcn_sip_malformed_total",
                                       "mcn_sip_truncated_total", "mcn_sip_missing_call_id_total",
                                       "mcn_sip_missing_cseq_total", "mcn_sip_missing_from_to_total",
                                       "mcn_sip_too_many_headers_total")}
        self.check(setup, "SIP messages = parsed + every parse drop",
                   g("mcn_sip_messages_total") == sum(sip_fates.values()),
                   f"sip_messages {g('mcn_sip_messages_total')} = " +
                   " + ".join(f"{k[4:-6]} {v}" for k, v in sip_fates.items() if v))
        self.check(setup, "calls: created = decided = generator's calls (none left open)",
                   g("mcn_calls_created_total") == g("mcn_calls_decided_total") == self.calls,
                   f"created {g('mcn_calls_created_total')}, decided "
                   f"{g('mcn_calls_decided_total')}, generated {self.calls}")
        ring = int(met.get('mcn_ring_drops_total{ring="capture"}', 0))
        sip_in = g("mcn_udp_sip_total") + g("mcn_tcp_sip_total") + g("mcn_sctp_sip_total") + \
            g("mcn_hep_sip_total")
        pre = g("mcn_prefilter_dropped_total")
        self.check(setup, "messages: udp+tcp+sctp SIP - prefiltered = parsed + ring drops",
                   sip_in - pre == g("mcn_sip_messages_total") + ring,
                   f"{sip_in} - {pre} = {sip_in - pre}; sip_messages {g('mcn_sip_messages_total')} "
                   f"+ ring drops {ring}")
        self.check(setup, "no ring drop anywhere", g("mcn_ring_drops_total") == 0,
                   f"mcn_ring_drops_total {g('mcn_ring_drops_total')}")
        # Outcomes: the generator's intent, exactly.
        bad = []
        for o, want in self.want["outcomes"].items():
            got = int(sum(v for k, v in met.items()
                          if k.startswith("mcn_calls_outcome_total{") and f'outcome="{o}"' in k))
            if got != want:
                bad.append(f"{o} {got}/{want}")
        self.check(setup, "record outcomes = generator's intent", not bad,
                   "all equal" if not bad else ", ".join(bad))

    def receiver_check(self, setup, missed_records, delivered):
        got = read_jsonl(self.receivers[setup])
        ids = [e["webhook_id"] for e in got]
        by_id = {}
        for e in got:
            by_id.setdefault(e["webhook_id"], e)
        calls = {}
        for wid, e in by_id.items():
            for c in e["body"]["data"]["calls"]:
                calls.setdefault((c["call_id"], c["callee"]), []).append(wid)
        want = {(r["call_id"], r["callee"]) for r in missed_records
                if r["callee"] in self.subscribed}
        lost = want - calls.keys()
        extra = calls.keys() - want
        double = [k for k, v in calls.items() if len(v) > 1]
        self.check(setup, "receiver: every missed call of a subscriber notified once (by key)",
                   not lost and not extra and not double,
                   f"{len(want)} missed calls to subscribers, {len(calls)} notified in "
                   f"{len(by_id)} notifications ({len(ids) - len(by_id)} repeated webhook-id "
                   f"dropped); lost {len(lost)}, unexpected {len(extra)}, in two notifications "
                   f"{len(double)}")
        self.check(setup, "receiver: unique notifications = delivery.succeeded",
                   len(by_id) == delivered, f"{len(by_id)} unique, succeeded {delivered}")
        return len(want), len(calls), len(by_id), len(ids) - len(by_id)

    def checks_run(self):
        final = self.samples[-1]
        self.totals = {}
        for col in [c for c in final if c.endswith((".rss_kb", ".fds", ".used_memory"))]:
            slack = {"rss_kb": 1024, "fds": 2, "used_memory": 1 << 20}[col.split(".")[-1]]
            self.flat(col, slack, {"rss_kb": " KB", "fds": "", "used_memory": " B"}[col.split(".")[-1]])
        if "mcn-single" in self.mcns:
            met = self.mcns["mcn-single"]["last"]
            g = lambda k: int(met.get(k, 0))
            self.counters_single("mcn-single", met, "single")
            recs = read_jsonl(os.path.join(self.mcns["mcn-single"]["dir"], "calls.jsonl"))
            missed = [r for r in recs if r.get("missed")]
            self.check("single", "missed records = generator's intent",
                       len(missed) == self.want["missed"] and g("mcn_calls_missed_total") == len(missed),
                       f"--calls-out {len(missed)}, calls.missed {g('mcn_calls_missed_total')}, "
                       f"intended {self.want['missed']}")
            n_in = g("mcn_notifier_missed_in_total")
            parts = {k: g(k) for k in met if "{" not in k and k.startswith("mcn_notifier_") and any(
                s in k for s in ("unknown_number", "filtered_", "quiet_dropped", "accepted",
                                 "same_call_merged", "duplicates"))}
            self.check("single", "missed in = unknown number + filtered + accepted + merged",
                       n_in == len(missed) and n_in == sum(parts.values()),
                       f"missed_in {n_in} = " + " + ".join(f"{k[13:-6]} {v}" for k, v in parts.items() if v))
            sub, sd, dl = g("mcn_delivery_submitted_total"), g("mcn_delivery_succeeded_total"), \
                g("mcn_delivery_dead_lettered_total")
            self.check("single", "notifications: made = submitted = succeeded + dead-lettered (none in flight)",
                       g("mcn_notifier_notifications_total") == sub == sd + dl,
                       f"made {g('mcn_notifier_notifications_total')}, submitted {sub}, succeeded "
                       f"{sd}, dead-lettered {dl}")
            self.totals["single"] = self.receiver_check("single", missed, sd)
            self.check("single", "history: every record and notification step written",
                       g("mcn_history_dropped_total") == 0 and g("mcn_history_write_errors_total") == 0
                       and g("mcn_history_written_total") == g("mcn_history_queued_total"),
                       f"queued {g('mcn_history_queued_total')}, written "
                       f"{g('mcn_history_written_total')}, dropped {g('mcn_history_dropped_total')}")
            self.check("single", "outbox: no write error, nothing unprotected",
                       g("mcn_notify_outbox_write_errors_total") == 0 and
                       g("mcn_notify_outbox_unprotected_total") == 0,
                       f"records {g('mcn_notify_outbox_records_total')}, compactions "
                       f"{g('mcn_notify_outbox_compactions_total')}, live calls "
                       f"{g('mcn_notify_outbox_live_calls')}")
        if "mcn-probe" in self.mcns:
            met = self.mcns["mcn-probe"]["last"]
            g = lambda k: int(met.get(k, 0))
            self.counters_single("mcn-probe", met, "streams")
            recs = read_jsonl(os.path.join(self.mcns["mcn-probe"]["dir"], "calls.jsonl"))
            missed = [r for r in recs if r.get("missed")]
            self.check("streams", "missed records = generator's intent = published",
                       len(missed) == self.want["missed"] and
                       g("mcn_stream_published_total") == len(missed),
                       f"--calls-out {len(missed)}, published {g('mcn_stream_published_total')}, "
                       f"intended {self.want['missed']}")
            nm = self.mcns["mcn-notifier"]["last"]
            gn = lambda k: int(nm.get(k, 0))
            self.check("streams", "notifier: nothing dead, nothing pending",
                       gn("mcn_delivery_dead_lettered_total") == 0 and
                       redis_cmd(self.redis["redis-streams"], "XLEN", "mcn:dead") in ("0", ""),
                       f"dead-lettered {gn('mcn_delivery_dead_lettered_total')}, mcn:dead "
                       f"{redis_cmd(self.redis['redis-streams'], 'XLEN', 'mcn:dead')}, pending "
                       f"{redis_cmd(self.redis['redis-streams'], 'XPENDING', 'mcn:missed', 'mcn-notifiers').splitlines()[:1]}")
            self.totals["streams"] = self.receiver_check("streams", missed,
                                                         gn("mcn_delivery_succeeded_total"))

    # ---------------------------------------------------------------- output
    def write(self):
        os.makedirs(self.a.out, exist_ok=True)
        cols = []
        for r in self.samples:
            for k in r:
                if k not in cols:
                    cols.append(k)
        with open(os.path.join(self.a.out, "soak-samples.csv"), "w") as f:
            f.write(",".join(cols) + "\n")
            for r in self.samples:
                f.write(",".join(str(r.get(c, "")) for c in cols) + "\n")
        traffic = [r for r in self.samples if r["phase"] == "traffic"]
        pick = [traffic[0]] + [r for r in traffic[1:] if int(r["minute"]) % 5 == 0] + \
            [self.samples[-1]]
        seen, rows = set(), []
        for r in pick:
            if id(r) not in seen:
                seen.add(id(r))
                rows.append(r)
        show = [c for c in cols if c.endswith((".rss_kb", ".fds", ".used_memory", "history_bytes",
                                              "outbox_bytes", ".missed", ".unique", "in_flight_calls",
                                              "xlen_missed", "xlen_closed"))]
        md = [f"# mcn soak, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
              f"- traffic: `mcn-gen mix --calls {self.calls} --cps {self.a.cps} --ues {self.a.ues} "
              f"--seed {self.a.seed}`: {self.want['frames']} frames, "
              f"{self.want['sip_messages']} SIP messages, {self.want['missed']} missed records "
              f"intended; tcpreplay at the capture's own timing over veth, {self.traffic_s:.0f} s, "
              f"{self.sent} frames sent ({self.sent / self.traffic_s:.0f} frames/s)",
              f"- merge window {self.a.window} s for {len(self.subscribed)} people (one number "
              f"each, webhook), one called number in ten has no person",
              f"- set-ups: {', '.join(self.mcns)}; Redis: {', '.join(self.redis)}; sample every "
              f"{self.a.interval} s; drain {self.a.window + 30} s after the traffic", "",
              "## Samples (every 5 min and the last)", "",
              "| " + " | ".join(["min", "phase"] + show) + " |",
              "|" + "---|" * (len(show) + 2)]
        for r in rows:
            md.append("| " + " | ".join([str(r["minute"]), r["phase"]] +
                                        [str(r.get(c, "")) for c in show]) + " |")
        md += ["", "## Checks", "", "| set-up | check | result | detail |", "|---|---|---|---|"]
        for setup, name, ok, detail in self.checks:
            md.append(f"| {setup} | {name} | {'PASS' if ok else '**FAIL**'} | {detail} |")
        with open(os.path.join(self.a.out, "soak-summary.md"), "w") as f:
            f.write("\n".join(md) + "\n")
        with open(os.path.join(self.a.out, "soak-summary.json"), "w") as f:
            json.dump({"want": self.want, "sent": self.sent, "traffic_s": self.traffic_s,
                       "checks": self.checks, "final_metrics": {n: m.get("last", {}) for n, m in
                                                                self.mcns.items()}}, f, indent=1)
        log(f"wrote {self.a.out}/soak-samples.csv, soak-summary.md, soak-summary.json")

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        netns_down()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--duration", type=float, default=3600, help="seconds of traffic")
    ap.add_argument("--cps", type=float, default=20, help="calls per second")
    ap.add_argument("--ues", type=int, default=400)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--window", type=int, default=60, help="merge window, seconds")
    ap.add_argument("--interval", type=int, default=60, help="seconds between samples")
    ap.add_argument("--maxlen", type=int, default=2000, help="streams.maxlen")
    ap.add_argument("--dedupe-ttl", type=int, default=300, help="streams.dedupe_ttl_s")
    ap.add_argument("--mode", choices=("both", "single", "streams"), default="both")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "soak"))
    ap.add_argument("--out", default=None, help="where the CSV and summary go (default WORK)")
    ap.add_argument("--keep", action="store_true", help="keep the capture and the work files")
    a = ap.parse_args()
    a.out = os.path.abspath(a.out or a.work)
    if os.geteuid() != 0:
        print("soak: needs root (network namespace, capture)", file=sys.stderr)
        return 2
    for tool in ("tcpreplay", "redis-server", "redis-cli", "curl"):
        if shutil.which(tool) is None:
            print(f"soak: {tool} missing (deploy/install-deps.sh)", file=sys.stderr)
            return 2
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    s = Soak(a)

    def on_term(signum, frame):
        raise SystemExit(f"soak: signal {signum}")
    signal.signal(signal.SIGTERM, on_term)  # the finally below stops every process it started
    try:
        s.generate()
        s.setup()
        s.run_traffic()
        s.checks_run()
    finally:
        s.stop()
    s.write()
    if not a.keep:
        os.remove(s.pcap)
    failed = [c for c in s.checks if not c[2]]
    log(f"{len(s.checks) - len(failed)} checks passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
