#!/usr/bin/env python3
"""The observability kit against a running mcn (issue 20, CTest mcn_obs_metrics).

1. Every PromQL expression of deploy/grafana/mcn.json (panels and the instance variable) and of
   deploy/prometheus/mcn-rules.yml is parsed by promtool (dashboard expressions with Grafana's
   variables substituted, as recording rules in a scratch file).
2. A scale-out deployment runs for real on loopback: redis-server, `mcn run -i lo` (one process,
   subscribers in Redis), `mcn run --role probe -i lo` and `mcn run --role notifier` (Redis
   Streams). Pcap fixtures are sent onto lo so call, SIP and delivery series exist.
3. Each process's /metrics passes `promtool check metrics` (lint problems are printed; only a
   page promtool cannot parse fails), and every metric name the dashboard and the rules use is
   served by at least one of them. A name that does not exist is listed with where it is used.

Live capture on lo needs root (CAP_NET_RAW): without it the test is skipped (exit 77).
Usage: check_metrics.py MCN [REPO_ROOT]"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from mcntest import free_port, start_redis, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
                "and", "or", "unless", "inf", "nan"}
FIXTURES = ["cancelled", "busy_486", "answered", "unavailable_480"]
# The dial plan of deploy/mcn.toml (and tests/e2e): 1013 is +862583001013, as in the fixtures.
DIAL_PLAN = r"""[dial_plan]
country_code = "86"
national_prefix = "0"
international_prefix = "00"
area_code = "25"
local_number_length = 8
[[dial_plan.rewrite]]
match = "^(1\\d{3})$"
replace = "+86258300$1"
[calls]
grace_ms = 300
"""


def metric_names(expr):
    """Metric names in a PromQL expression: identifiers outside strings, braces and label
    lists that are not functions or keywords. mcn's are all mcn_*; anything else is reported."""
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)           # string literals
    e = re.sub(r"\{[^}]*\}", "{}", e)                         # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", "[]", e)                        # ranges, subqueries
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS or word.startswith("$"):
            continue
        names.add(word)
    return names


def grafana_exprs(dash):
    out = []
    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel '{p['title']}'", t["expr"]))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q or "")
        if v.get("type") == "query" and m:
            out.append((f"variable ${v['name']}", m.group(1)))
    return out


def substitute(expr):
    # Grafana's variables, as Grafana would expand them for a query.
    return (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            .replace("$__range", "1h").replace("$instance", ".*"))


def rule_exprs(rules):
    return [(f"rule {r.get('alert') or r.get('record')}", r["expr"])
            for g in rules["groups"] for r in g["rules"]]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def served_names(page):
    names = set()
    for line in page.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def main():
    mcn = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", ".."))
    dash_path = os.path.join(root, "deploy", "grafana", "mcn.json")
    rules_path = os.path.join(root, "deploy", "prometheus", "mcn-rules.yml")
    dash = json.load(open(dash_path))
    rules = yaml.safe_load(open(rules_path))
    used = grafana_exprs(dash) + rule_exprs(rules)
    failures = []

    work = tempfile.mkdtemp(prefix="mcn_obs_")
    procs = []
    try:
        # 1. PromQL syntax of the dashboard (the rules file is checked by promtool as a whole).
        scratch = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:expr:{i}", "expr": substitute(e)}
            for i, (_, e) in enumerate(grafana_exprs(dash))]}]}
        with open(f"{work}/dashboard-rules.yml", "w") as f:
            yaml.safe_dump(scratch, f)
        for path in (f"{work}/dashboard-rules.yml", rules_path):
            r = subprocess.run(["promtool", "check", "rules", path], capture_output=True,
                               text=True)
            if r.returncode != 0:
                failures.append(f"promtool check rules {os.path.basename(path)}:\n"
                                f"{r.stdout}{r.stderr}")

        if os.geteuid() != 0 and not failures:
            print("skipped: needs root (live capture on lo); the PromQL of both files parses")
            return 77
        if os.geteuid() != 0:
            raise RuntimeError

        # 2. A real deployment on loopback.
        redis_proc, rport = start_redis(work)
        procs.append(redis_proc)
        redis = f"redis://127.0.0.1:{rport}"
        hook = free_port()  # nothing listens: every webhook attempt fails, then dead-letters
        with open(f"{work}/subscribers.toml", "w") as f:
            for n in ("1013", "1014", "1015", "1016", "1017"):
                f.write(f'[[person]]\nid = "p{n}"\nname = "P{n}"\nnumbers = ["{n}"]\n'
                        f'[person.preferences]\nmerge_window = "0"\n'
                        f'[[person.channel]]\nkind = "webhook"\n'
                        f'target = "http://127.0.0.1:{hook}/hook"\n'
                        f'secret_ref = "env:MCN_OBS_SECRET"\n\n')
        notify = '[notify]\nmax_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 20\n'
        ports = {"all": free_port(), "probe": free_port(), "notifier": free_port()}
        configs = {
            "all": f'[run]\nredis = "{redis}"\nshutdown_timeout_ms = 2000\n',
            "probe": f'[run]\nshutdown_timeout_ms = 2000\n[streams]\nredis = "{redis}"\n',
            "notifier": (f'[run]\nsubscribers = "{work}/subscribers.toml"\n'
                         f'shutdown_timeout_ms = 2000\n{notify}[streams]\nredis = "{redis}"\n'),
        }
        env = dict(os.environ, MCN_OBS_SECRET="whsec_bWNuLW9icy10ZXN0LXdlYmhvb2stc2VjcmV0LTAx")
        for role, text in configs.items():
            with open(f"{work}/{role}.toml", "w") as f:
                f.write(DIAL_PLAN + text)
            args = [mcn, "run", "--config", f"{work}/{role}.toml", "--http-port",
                    str(ports[role])]
            if role != "notifier":
                args += ["-i", "lo"]
            if role != "all":
                args += ["--role", role]
            # cwd: relative paths (the outbox journal, dead letters, the history store: the
            # probe's and the notifier's are replicas of one process each) stay in this run's
            # directory, one per process.
            os.makedirs(f"{work}/{role}", exist_ok=True)
            procs.append(subprocess.Popen(args, stdout=open(f"{work}/{role}.log", "w"),
                                          stderr=subprocess.STDOUT, env=env,
                                          cwd=f"{work}/{role}"))
        for role, port in ports.items():
            if not wait_until(lambda: scrape(port) != "", 15):
                failures.append(f"{role}: no /metrics on port {port}:\n"
                                + open(f"{work}/{role}.log").read())
        if failures:
            raise RuntimeError
        time.sleep(0.5)  # the capture threads are ready once /metrics answers; be generous
        inject = os.path.join(root, "tests", "e2e", "inject.py")
        for name in FIXTURES:
            subprocess.run([sys.executable, inject, "lo",
                            os.path.join(root, "pcaps", f"{name}.pcap")],
                           check=True, stdout=subprocess.DEVNULL)
        # Until the notifier has dead-lettered what the probe published (the webhook target
        # refuses connections), so every delivery series has moved at least once.
        def dead_letters():
            m = re.search(r'^mcn_delivery_dead_letters_total\{[^}]*channel="webhook"\} (\d+)',
                          scrape(ports["notifier"]), re.M)
            return m is not None and int(m.group(1)) > 0
        if not wait_until(dead_letters, 20):
            print("note: no dead letter within 20 s (the names are checked all the same)")
        time.sleep(1.5)  # counters are published every second

        # 3. The pages.
        served = set()
        for role, port in ports.items():
            page = scrape(port)
            with open(f"{work}/{role}.metrics", "w") as f:
                f.write(page)
            r = subprocess.run(["promtool", "check", "metrics"], input=page,
                               capture_output=True, text=True)
            if r.stdout.strip() or r.stderr.strip():
                print(f"promtool check metrics ({role}) lint:\n{r.stdout}{r.stderr}")
            if "error while linting" in (r.stdout + r.stderr) or "parse" in r.stderr.lower():
                failures.append(f"promtool cannot parse the {role} page")
            served |= served_names(page)
        missing = {}
        for where, expr in used:
            for name in metric_names(expr):
                if name not in served:
                    missing.setdefault(name, []).append(where)
        for name, where in sorted(missing.items()):
            failures.append(f"{name} is not served by mcn; used by {', '.join(where)}")
        names_used = sorted({n for _, e in used for n in metric_names(e)})
        print(f"{len(used)} expressions use {len(names_used)} metric names; the three processes "
              f"serve {len(served)}; missing {len(missing)}")
    except RuntimeError:
        pass
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if failures:
            for role in ("all", "probe", "notifier"):
                if os.path.exists(f"{work}/{role}.log"):
                    print(f"--- {role}.log (tail)")
                    print("".join(open(f"{work}/{role}.log").readlines()[-15:]))
        if os.environ.get("MCN_OBS_KEEP"):
            print(f"kept {work}")
        else:
            subprocess.run(["rm", "-rf", work])
    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else "FAIL")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
