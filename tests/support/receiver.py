"""A webhook endpoint for the tests, run as its own process:
`python tests/support/receiver.py --mode MODE --log FILE [--port N]`; it prints "port N" when it
listens. Every request is logged, one JSON line each: path, headers, body, and the
status it was answered with.

Modes: `ok` (200 at once), `flaky` (500 to the first two requests, then 200), `silent`
(takes the request and never answers).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(BaseHTTPRequestHandler):
    mode = "ok"
    log_path = Path("receiver.jsonl")
    seen = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with Handler.lock:
            Handler.seen += 1
            seen = Handler.seen
        status = 500 if self.mode == "flaky" and seen <= 2 else 200
        if self.mode == "silent":
            status = 0
        with Handler.lock, self.log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                  "body": body.decode("utf-8", "replace"), "status": status,
                                  "at": time.time()}) + "\n")  # fmt: skip
        if status == 0:
            time.sleep(3600)  # never answers
            return
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["ok", "flaky", "silent"], default="ok")
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    Handler.mode, Handler.log_path = args.mode, args.log
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
