#!/usr/bin/env python3
"""Webhook receiver of the live end-to-end test: answers 200 to every POST and appends one JSON
line per request: {"received_at": <epoch seconds>, "webhook_id": ..., "path": ...,
"body": <parsed JSON>}."""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        received = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        line = json.dumps({"received_at": received, "webhook_id": self.headers.get("webhook-id"),
                           "path": self.path, "body": json.loads(body)})
        with open(self.server.out_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    port, out_path = int(sys.argv[1]), sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.out_path = out_path
    print("listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
