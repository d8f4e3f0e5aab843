"""A stand-in for an OpenAI-compatible language model server, run as its own process by
the tests: `python tests/support/llm.py --mode MODE --log FILE`; it prints "port N" when
it listens. No model is in it: its answers are canned from the sentences it is sent.

Modes: `faithful` (a title and the two longest sentences, word for word), `corrupt` (the
same, with every figure changed: 240 → 241, forty → fifty), `silent` (takes the request
and never answers), `prose` (answers text, not JSON). Every request is logged, one JSON
line each, with its path, model and Authorization header.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "test-model"
_WORDS = {"forty": "fifty", "two": "three", "eleven": "twelve", "three": "four"}


def slide(sentences: list[str], mode: str) -> dict[str, object]:
    longest = sorted(sorted(sentences, key=len, reverse=True)[:2], key=sentences.index)
    bullets = [s.rstrip(".") for s in longest]
    if mode == "corrupt":
        bullets = [corrupted(b) for b in bullets]
    return {"title": "Key points", "bullets": bullets}


def corrupted(text: str) -> str:
    text = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text)
    return re.sub(r"\b(" + "|".join(_WORDS) + r")\b", lambda m: _WORDS[m.group()], text)


class Handler(BaseHTTPRequestHandler):
    mode = "faithful"
    log_path: Path | None = None

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _log(self, **entry: object) -> None:
        if self.log_path:
            with self.log_path.open("a") as f:
                f.write(json.dumps(entry) + "\n")

    def _send(self, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._log(path=self.path, authorization=self.headers.get("Authorization"))
        if self.path.rstrip("/").endswith("/models"):
            self._send({"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._send({"error": "not found"}, 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length))
        self._log(path=self.path, authorization=self.headers.get("Authorization"),
                  model=request.get("model"))  # fmt: skip
        if self.mode == "silent":
            time.sleep(3600)
            return
        user = request["messages"][-1]["content"]
        sentences = re.findall(r"^\d+\. (.*)$", user, re.MULTILINE)
        content = (
            "Sure! Here are some slides about your talk."
            if self.mode == "prose"
            else "```json\n" + json.dumps(slide(sentences, self.mode)) + "\n```"
        )
        self._send({
            "id": "chatcmpl-test", "object": "chat.completion", "model": request.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
        })  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="faithful",
                        choices=["faithful", "corrupt", "silent", "prose"])  # fmt: skip
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    Handler.mode, Handler.log_path = args.mode, args.log
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin, or kills us
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
