"""Shared by the Python test drivers under tests/: a free loopback port and bounded waits.

A script finds this folder from its own place:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
"""
import socket
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
