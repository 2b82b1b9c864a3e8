#!/usr/bin/env python3
"""Webhook receiver of the scale-out test: logs every POST the moment it arrives (one JSON line:
received_at, webhook_id, body), then answers 200 after `delay` seconds. The delay keeps
deliveries in flight, so a notifier killed meanwhile really dies with unacknowledged work (the
receiver has the request, the notifier never hears the 200): the case the idempotency key is
for. Usage: slow_receiver.py PORT OUT.jsonl DELAY_S"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        received = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        line = json.dumps({"received_at": received, "webhook_id": self.headers.get("webhook-id"),
                           "body": json.loads(body)})
        with LOCK:
            with open(self.server.out_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        time.sleep(self.server.delay)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a killed notifier resets its connections: expected here, not worth a trace


def main():
    port, out_path, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    srv = Server(("127.0.0.1", port), Handler)
    srv.out_path = out_path
    srv.delay = delay
    print("listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
