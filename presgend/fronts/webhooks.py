"""Webhooks: when a job ends, a POST of JSON to every `webhooks.urls`, instead of polling.

* **Never in a job's way.** The daemon's outcomes tell `Webhooks.on_finished`, which only
  writes one small file per URL (`inbox/.presgend/webhooks/<delivery>.json`); the
  delivery service sends them beside everything else, each attempt in a daemon thread
  bounded by `timeout_seconds`, several at once, so a slow or dead endpoint delays
  nothing but its own deliveries.
* **At least once.** A delivery stays on disk until a 2xx answer: a failure is retried
  after 1, 2, 4, 8 … seconds (at most an hour) up to `max_attempts`, then moved to
  `webhooks/failed/`. A daemon that stops leaves its pending deliveries for the next
  (any daemon on the inbox takes a delivery by renaming it, so it is sent once at a time).
* **Signed.** Headers `X-Presgend-Event`, `X-Presgend-Delivery` (the same id on every
  attempt) and, when `secret_env` names a set variable, `X-Presgend-Signature:
  sha256=<hex HMAC-SHA256 of the body>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from presgend.core import aio, files, logs, owners
from presgend.core.config import WebhooksConfig
from presgend.core.settings import Live, Settings
from presgend.inbox import claims

log = logs.get(__name__)

PARALLEL = 8  # deliveries in flight at once
MAX_BACKOFF = 3600.0


class Webhooks(Live):
    def __init__(self, settings: Settings, links: Callable[[dict[str, Any]], Any]) -> None:
        """`links(entry)`: a finished job's outputs as the payload names them (download
        links when HTTP is on, else paths)."""
        self.settings = settings
        self.links = links
        self.folder = claims.control_dir(self.config.paths.inbox) / "webhooks"
        self.wake = asyncio.Event()
        self.counts: Counter[str] = Counter()  # delivered, retried, failed: for /metrics
        self.sending: set[asyncio.Task[None]] = set()


    # -- an event -------------------------------------------------------------------------

    def on_finished(self, event: str, entry: dict[str, Any], document: dict[str, Any]) -> None:
        """One pending delivery per URL (an outcomes listener: files only, at once)."""
        cfg = self.config.webhooks
        if not cfg.urls or event not in cfg.events:
            return
        body = payload(event, entry, document, self.links(entry))
        self.folder.mkdir(parents=True, exist_ok=True)
        for url in cfg.urls:
            delivery = uuid.uuid4().hex
            files.write_json(
                self.folder / f"{delivery}.json",
                {"id": delivery, "url": url, "event": event, "body": body, "attempts": 0,
                 "next_at": time.time()},
            )  # fmt: skip
        log.info("webhook_queued", job_event=event, job_id=entry.get("job_id"), urls=len(cfg.urls))
        self.wake.set()

    # -- the service ----------------------------------------------------------------------

    async def run(self) -> None:
        """Send what is due, again and again; wake early when an event is queued."""
        self.requeue_stale()
        limit = asyncio.Semaphore(PARALLEL)
        while True:
            now, waits = time.time(), [1.0]  # look again within a second in any case
            for path, due_at in self.pending():
                taken = self.take(path) if due_at <= now else None
                if taken is not None:
                    task = asyncio.create_task(self.deliver(taken, limit))
                    self.sending.add(task)
                    task.add_done_callback(self.sending.discard)
                elif due_at > now:
                    waits.append(max(0.05, due_at - now))
            self.wake.clear()
            try:
                await aio.bounded(self.wake.wait(), min(waits))
            except asyncio.TimeoutError:
                pass
            except asyncio.CancelledError:
                for task in list(self.sending):
                    task.cancel()
                await asyncio.gather(*self.sending, return_exceptions=True)
                raise

    def pending(self) -> list[tuple[Path, float]]:
        """Every pending delivery and when it is due, read once per look."""
        found = []
        with contextlib.suppress(OSError):
            for path in sorted(self.folder.glob("*.json")):
                with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                    found.append((path, float(json.loads(path.read_text("utf-8"))["next_at"])))
        return found

    def take(self, path: Path) -> Path | None:
        """A pending delivery taken by rename (another daemon may take it first)."""
        taken = path.with_name(f"{path.stem}.sending.{owners.HOST}.{os.getpid()}")
        try:
            os.rename(path, taken)
        except OSError:
            return None
        return taken

    def requeue_stale(self) -> None:
        """Deliveries a daemon was sending when it died go back to pending: at once when
        it ran on this machine, after a while when on another."""
        if not self.folder.is_dir():
            return
        stale_after = self.config.webhooks.timeout_seconds * 2 + 60
        now = claims.share_now(self.folder)
        for taken in self.folder.glob("*.sending.*"):
            host, _, pid = taken.name.split(".sending.")[1].rpartition(".")
            gone = pid.isdigit() and owners.owner_dead({"host": host, "pid": int(pid)})
            with contextlib.suppress(OSError):
                if gone or now - taken.stat().st_mtime > stale_after:
                    self.give_back(taken)

    def give_back(self, taken: Path) -> None:
        os.rename(taken, self.folder / (taken.name.split(".sending.")[0] + ".json"))

    async def deliver(self, taken: Path, limit: asyncio.Semaphore) -> None:
        try:
            async with limit:
                # its age counts from now: one that waited here behind others is not a
                # dead daemon's (another host would send it a second time)
                os.utime(taken)
                delivery = json.loads(taken.read_text(encoding="utf-8"))
                cfg = self.config.webhooks
                delivery["attempts"] += 1
                ok, why = await aio.in_thread(lambda: post(delivery, cfg))
        except asyncio.CancelledError:  # the daemon stops: the next one sends it
            with contextlib.suppress(OSError):
                self.give_back(taken)
            raise
        self.settle(taken, delivery, ok, why, cfg)

    def settle(
        self, taken: Path, delivery: dict[str, Any], ok: bool, why: str, cfg: WebhooksConfig
    ) -> None:
        fields = {"delivery": delivery["id"], "url": delivery["url"],
                  "job_event": delivery["event"], "attempt": delivery["attempts"]}  # fmt: skip
        if ok:
            taken.unlink(missing_ok=True)
            self.counts["delivered"] += 1
            log.info("webhook_delivered", **fields)
        elif delivery["attempts"] >= cfg.max_attempts:
            (self.folder / "failed").mkdir(exist_ok=True)
            os.replace(taken, self.folder / "failed" / f"{delivery['id']}.json")
            self.counts["failed"] += 1
            log.error("webhook_failed", **fields, error=why, action="given up")
        else:
            delay = min(MAX_BACKOFF, 2.0 ** (delivery["attempts"] - 1))
            delivery["next_at"] = time.time() + delay
            delivery["last_error"] = why
            files.write_json(self.folder / f"{delivery['id']}.json", delivery)
            taken.unlink(missing_ok=True)
            self.counts["retried"] += 1
            log.warning("webhook_retry", **fields, error=why, retry_in_s=delay)
            self.wake.set()


def payload(
    event: str, entry: dict[str, Any], document: dict[str, Any], outputs: Any
) -> dict[str, Any]:
    """What every URL is sent about a finished job."""
    failed = event == "job.failed"
    return {
        "event": event,
        "job_id": entry.get("job_id"),
        "status": entry.get("status"),
        "input": entry.get("input"),
        "outputs": {} if failed else outputs,
        "version": document.get("version"),
        "draft": document.get("draft"),
        "slides": [] if failed else [s.get("title") for s in document.get("slides", [])],
        "duration_s": None if failed else document.get("output", {}).get("duration_s"),
        "error": document.get("error") if failed else None,
    }


def post(delivery: dict[str, Any], cfg: WebhooksConfig) -> tuple[bool, str]:
    """One attempt: (True, "") on a 2xx answer, else (False, why)."""
    body = json.dumps(delivery["body"], separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "presgend-webhooks",
        "X-Presgend-Event": delivery["event"],
        "X-Presgend-Delivery": delivery["id"],
    }
    secret = os.environ.get(cfg.secret_env, "") if cfg.secret_env else ""
    if secret:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Presgend-Signature"] = f"sha256={digest}"
    request = urllib.request.Request(delivery["url"], data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=cfg.timeout_seconds) as answer:
            return 200 <= answer.status < 300, f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return False, f"{type(exc).__name__}: {reason}"
