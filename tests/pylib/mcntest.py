"""Shared by the Python test drivers under tests/: a free loopback port, bounded waits and a
throw-away redis-server.

A script finds this folder from its own place:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
"""
import socket
import subprocess
import time


def free_port(kind=socket.SOCK_STREAM):
    """A port free on 127.0.0.1 at this instant (TCP by default; socket.SOCK_DGRAM for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, limit, step=0.05):
    """True once cond() is true within `limit` seconds, else False. An OSError raised by cond
    (a server not listening yet) counts as not yet."""
    deadline = time.monotonic() + limit
    while True:
        try:
            if cond():
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def wait_for(cond, limit, what, step=0.05):
    """wait_until, where a timeout ends the test with "FAIL: timed out waiting for WHAT"."""
    if not wait_until(cond, limit, step):
        raise SystemExit(f"FAIL: timed out waiting for {what}")


def redis_ping(port):
    """True when a redis-server answers PING on 127.0.0.1:PORT."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_cmd(port, *args):
    """One redis-cli command against 127.0.0.1:PORT; its reply as text, stripped."""
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          timeout=30).stdout.strip()


def start_redis(work, port=None, wait=10, extra=()):
    """A throw-away redis-server on 127.0.0.1 (a free port unless PORT is given): no snapshots,
    no append-only file, its working files in WORK. Returns (process, port) once it answers PING;
    a server that does not answer within WAIT seconds ends the test ("FAIL: ..."). The caller
    stops the process."""
    port = port or free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", work, *extra],
                            stdout=subprocess.DEVNULL)
    if not wait_until(lambda: redis_ping(port), wait):
        proc.kill()
        raise SystemExit(f"FAIL: redis-server on port {port} did not answer PING within {wait} s")
    return proc, port


def write_jsonl_subscribers(path, numbers, sink):
    """A subscribers file with one person per number ("p<i>"), each told at once (no merge
    window, no minimum ring) through a JSONL channel writing to SINK."""
    with open(path, "w") as f:
        for i, num in enumerate(numbers):
            f.write(f'[[person]]\nid = "p{i}"\nname = "P{i}"\nnumbers = ["{num}"]\n'
                    f'[person.preferences]\nmerge_window = "0"\nmin_ring = "0"\n'
                    f'[[person.channel]]\nkind = "jsonl"\ntarget = "{sink}"\n\n')
