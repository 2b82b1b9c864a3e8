#!/usr/bin/python3
"""The load driver of tests/bench/web_bench.sh (issue 18: page and search latency at 10,000
people and 1,000,000 call records). Starts a real `mcn run` (its own working directory, [web] on,
the store made by mcn_history_fill, HEP in on a port nothing sends to), a loopback webhook
receiver as every person's channel, signs SIGNINS people in through the real link flow (form,
link delivered to the webhook, confirm page GET, then its POST), then times REQUESTS requests of
each kind, interleaved, one at a time over one keep-alive connection (the latency a person sees,
not a throughput figure), and prints p50/p90/p99/max per kind.

usage: web_bench.py MCN WORK_DIR ADDR HOOK_PORT [REQUESTS] [SIGNINS]
WORK_DIR holds history.sqlite, subscribers.toml and samples.txt (mcn_history_fill's).
"""
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MCN, WORK, ADDR, HOOK_PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
REQUESTS = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
SIGNINS = int(sys.argv[6]) if len(sys.argv) > 6 else 20
# whsec_ + base64("mcn-web-bench-webhook-key-0001")
WEBHOOK_SECRET = "whsec_bWNuLXdlYi1iZW5jaC13ZWJob29rLWtleS0wMDAx"
SIGNIN_KEY = "mcn-web-bench-signin-key-0123456789abcdef"
DAY_US = 86400 * 10**6


class Receiver(BaseHTTPRequestHandler):
    """Every person's webhook: the sign-in messages, by path."""
    got = {}
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Receiver.lock:
            Receiver.got.setdefault(self.path, []).append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((ADDR, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def store_bytes(path):
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))


class Client:
    """One keep-alive connection; reconnects if the server closes it."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, body=None, cookie=None):
        headers = {}
        if cookie:
            headers["Cookie"] = cookie
        if body is not None:
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(ADDR, self.port, timeout=30)
            try:
                t0 = time.perf_counter()
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                dt = time.perf_counter() - t0
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r, data, dt
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise


def cookies_of(resp):
    out = {}
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            out[name.strip()] = rest.split(";", 1)[0]
    return out


def form_csrf(html):
    m = re.search(r'name="csrf" value="([^"]*)"', html)
    return m.group(1) if m else ""


def sign_in(c, person):
    """The browser's steps: sign-in form, its POST, the link from the webhook, the confirm page,
    its POST. Returns the session cookie value."""
    r, body, _ = c.request("GET", "/signin")
    form = cookies_of(r).get("mcn_form", "")
    r, body, _ = c.request("POST", "/signin", {"csrf": form_csrf(body.decode()), "person": person},
                           "mcn_form=" + form)
    if r.status != 200:
        raise RuntimeError("POST /signin for %s: %d" % (person, r.status))
    end = time.time() + 15
    link = None
    while time.time() < end and link is None:
        with Receiver.lock:
            for m in Receiver.got.get("/" + person, []):
                text = m.get("data", {}).get("text", "") if m.get("type") == "message" else ""
                hit = re.search(r"(http://\S+/signin/link/\S+)", text)
                if hit:
                    link = hit.group(1)
        time.sleep(0.05)
    if link is None:
        raise RuntimeError("no sign-in link reached %s's webhook" % person)
    path = urllib.parse.urlsplit(link).path
    r, body, _ = c.request("GET", path)
    if r.status != 200 or b"csrf" not in body:
        raise RuntimeError("confirm page for %s: %d" % (person, r.status))
    form = cookies_of(r).get("mcn_form", "")
    r, body, _ = c.request("POST", path, {"csrf": form_csrf(body.decode())}, "mcn_form=" + form)
    session = cookies_of(r).get("mcn_session")
    if r.status != 303 or not session:
        raise RuntimeError("confirm POST for %s: %d, no session" % (person, r.status))
    return session


def me_rows(body):
    """The rows of /me's "my missed calls" table."""
    at = body.find(b'id="calls"')
    if at < 0:
        return 0
    start, end = body.find(b"<tbody>", at), body.find(b"</table>", at)
    return body.count(b"<tr", start, end) if 0 <= start < end else 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    rnd = random.Random(18)
    persons, call_ids, numbers = [], [], []
    with open(os.path.join(WORK, "samples.txt")) as f:
        for line in f:
            kind, *rest = line.split()
            if kind == "person":
                persons.append(rest[0])
                numbers.extend(rest[1:])
            elif kind == "call_id":
                call_ids.append(rest[0])
            elif kind == "number":
                numbers.append(rest[0])
    db = os.path.join(WORK, "history.sqlite")
    # What the store holds: its time span (for the outcome + time range searches) and size.
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    oldest_us, newest_us = con.execute("SELECT min(started_us), max(started_us) FROM calls").fetchone()
    n_calls = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    n_notes = con.execute("SELECT count(*) FROM notifications").fetchone()[0]
    con.close()
    print("store: %d call records, %d notifications, %s to %s, %d bytes (db + wal)" % (
        n_calls, n_notes, time.strftime("%Y-%m-%d", time.gmtime(oldest_us / 1e6)),
        time.strftime("%Y-%m-%d", time.gmtime(newest_us / 1e6)), store_bytes(db)), flush=True)

    srv = ThreadingHTTPServer((ADDR, HOOK_PORT), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    http_port = free_port(socket.SOCK_STREAM)
    hep_port = free_port(socket.SOCK_DGRAM)
    run_dir = os.path.join(WORK, "run")
    os.makedirs(run_dir, exist_ok=True)
    base = "http://%s:%d" % (ADDR, http_port)
    with open(os.path.join(run_dir, "mcn.toml"), "w") as f:
        f.write(f"""[run]
http_bind = "{ADDR}"
subscribers = "{os.path.join(WORK, 'subscribers.toml')}"

[dial_plan]
country_code = "86"
national_prefix = "0"
international_prefix = "00"
area_code = "25"
local_number_length = 8

[history]
path = "{db}"
# The store's 90 days end an hour before it was made: kept whole when it is reused later.
retention_days = 120

[web]
enabled = true
base_url = "{base}/"
signin_key_ref = "env:MCN_WEB_BENCH_SIGNIN_KEY"
""")
    env = dict(os.environ, MCN_WEB_BENCH_WEBHOOK=WEBHOOK_SECRET,
               MCN_WEB_BENCH_SIGNIN_KEY=SIGNIN_KEY)
    log = open(os.path.join(run_dir, "run.log"), "w")
    t_start = time.time()
    mcn = subprocess.Popen([MCN, "run", "--hep", "%s:%d" % (ADDR, hep_port), "--config",
                            os.path.join(run_dir, "mcn.toml"), "--http-port", str(http_port)],
                           cwd=run_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    c = Client(http_port)
    ok = True
    try:
        while True:
            try:
                r, _, _ = c.request("GET", "/readyz")
                if r.status == 200:
                    break
            except OSError:
                pass
            if mcn.poll() is not None or time.time() - t_start > 120:
                raise RuntimeError("mcn run did not become ready (see %s/run.log)" % run_dir)
            time.sleep(0.2)
        print("mcn run ready in %.1f s (10,000 people loaded, store opened)" %
              (time.time() - t_start), flush=True)

        signed = rnd.sample(persons, min(SIGNINS, len(persons)))
        sessions = {}
        for p in signed:
            sessions[p] = sign_in(c, p)
        print("signed in %d people through the link flow (form, webhook, confirm GET, POST)" %
              len(sessions), flush=True)

        outcomes = ["missed", "busy", "no_answer", "cancelled", "answered", "forwarded"]

        def me():
            p = rnd.choice(signed)
            return "/me", "mcn_session=" + sessions[p], me_rows

        def api(q):
            return "/api/calls?" + urllib.parse.urlencode(q), None, None

        def by_number():
            return api({"number": rnd.choice(numbers)})

        def by_busiest_number():
            # mcn_history_fill forwards 2 % of the calls to this voicemail box: 20,000 in a million.
            return api({"number": "+862583009999"})

        def by_person():
            return api({"person": rnd.choice(persons)})

        def by_call_id():
            return api({"call_id": rnd.choice(call_ids)})

        def iso(us):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1e6))

        def by_outcome_range():
            span = rnd.choice([3600, 86400, 7 * 86400]) * 10**6
            since = rnd.randint(oldest_us, newest_us - span)
            return api({"outcome": rnd.choice(outcomes), "since": iso(since),
                        "until": iso(since + span)})

        kinds = [("GET /me", me), ("number", by_number),
                 ("number: voicemail box, 20,000 calls", by_busiest_number), ("person", by_person),
                 ("call_id", by_call_id), ("outcome+range", by_outcome_range)]
        lat = {k: [] for k, _ in kinds}
        lat["cursor (next page)"] = []
        rows = {k: 0 for k in lat}
        errors = {}

        def timed(kind, path, cookie=None):
            r, body, dt = c.request("GET", path, cookie=cookie)
            if r.status != 200:
                errors[kind] = errors.get(kind, 0) + 1
                if errors[kind] <= 3:
                    print("  %s %s: %d %s" % (kind, path, r.status, body[:200]), flush=True)
                return None
            lat[kind].append(dt)
            return body

        # Warm-up (the first requests open the read connections and fill the page cache).
        for _ in range(50):
            for kind, make in kinds:
                path, cookie, _ = make()
                c.request("GET", path, cookie=cookie)
        load_before = loadavg()
        cpu0, t0 = cpu_seconds(mcn.pid), time.time()
        for i in range(REQUESTS):
            for kind, make in kinds:
                path, cookie, count = make()
                body = timed(kind, path, cookie)
                if body is None:
                    continue
                if count:
                    rows[kind] += max(0, count(body))
                else:
                    j = json.loads(body)
                    rows[kind] += len(j["calls"])
            # Paging: the next page of a person's calls, of a week's missed calls, of a number's.
            q = [{"person": rnd.choice(persons), "limit": "20"},
                 {"outcome": "missed", "since": iso(newest_us - 7 * DAY_US)},
                 {"number": "+862583009999"}][i % 3]
            r, body, _ = c.request("GET", "/api/calls?" + urllib.parse.urlencode(q))
            cur = json.loads(body).get("next_cursor") if r.status == 200 else None
            if cur:
                q["cursor"] = cur
                body = timed("cursor (next page)", "/api/calls?" + urllib.parse.urlencode(q))
                if body:
                    rows["cursor (next page)"] += len(json.loads(body)["calls"])
        wall = time.time() - t0
        cpu = cpu_seconds(mcn.pid) - cpu0
        print("\nmeasured: %d rounds in %.0f s; load average before %s, after %s (2 cores); "
              "mcn run CPU %.0f %% of one core" % (REQUESTS, wall, load_before, loadavg(),
                                                   100 * cpu / wall))
        print("store: %d bytes (db + wal) after the run\n" % store_bytes(db))
        print("| request | n | p50 ms | p90 ms | p99 ms | max ms | rows per answer |")
        print("|---|---|---|---|---|---|---|")
        for k, xs in lat.items():
            if not xs:
                print("| %s | 0 | | | | | |" % k)
                ok = False
                continue
            print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
                k, len(xs), 1e3 * pct(xs, 50), 1e3 * pct(xs, 90), 1e3 * pct(xs, 99),
                1e3 * max(xs), rows[k] / len(xs)))
        if errors:
            print("errors: %s" % errors)
            ok = False
    finally:
        mcn.send_signal(signal.SIGTERM)
        try:
            mcn.wait(30)
        except subprocess.TimeoutExpired:
            mcn.kill()
            mcn.wait()
        srv.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
