"""What a job looks like from outside, for every front: the desk a front gets from the
daemon it runs in, and a ledger entry as the HTTP API and the MCP tools show it (status,
phase, progress; once finished its report or error document and expiring links).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presgend.core import files
from presgend.core.config import Config
from presgend.core.settings import Live, Settings
from presgend.fronts import handin
from presgend.inbox import ledger
from presgend.pipeline.text.browser import SharedBrowser


@dataclass
class Desk(Live):
    """The front desk as its routes and tools see it: what they need from the daemon
    they run in (`FrontDesk.desk()` makes it)."""

    settings: Settings  # the live ones: a reload reaches the app
    poke: Callable[[str], None]  # intake: a name was handed in
    running: Callable[[], dict[str, dict[str, Any]]]  # job id -> phase, progress (cluster)
    cancel: Callable[[str], Awaitable[str]]  # "cancelled", "requested" or "finished"
    queue_length: Callable[[], int]
    breaker: Callable[[], dict[str, Any]]
    ready_checks: Callable[[], list[Any]] = field(default=lambda: [])
    webhook_counts: Callable[[], dict[str, int]] = field(default=lambda: {})
    browser: SharedBrowser = field(default_factory=SharedBrowser)  # the editor's slides



def view(desk: Desk, job_id: str, base_url: str = "") -> dict[str, Any] | None:
    """The public status of one job (None if there is no such job)."""
    item = ledger.entry(desk.config.paths.inbox, job_id)
    return None if item is None else view_of(desk, item, base_url)


def recent(desk: Desk, limit: int, base_url: str = "") -> list[dict[str, Any]]:
    """The public status of the newest jobs, newest first."""
    return [
        view_of(desk, item, base_url) for item in ledger.entries(desk.config.paths.inbox, limit)
    ]


def view_of(desk: Desk, item: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A ledger entry as the API shows it: status, phase, progress, and once finished
    its report (or error document) and expiring links."""
    cfg = desk.config
    job_id = item["job_id"]
    status = item.get("status", "queued")
    phase, progress = item.get("phase", "queued"), float(item.get("progress", 0.0))
    if status in ("queued", "running"):
        live = desk.running().get(job_id)
        if live is not None:
            status, phase, progress = "running", live.get("phase", phase), live["progress"]
    out: dict[str, Any] = {
        "job_id": job_id,
        "status": status,
        "phase": "done" if status in ledger.FINISHED else phase,
        "progress": 1.0 if status in ledger.FINISHED else round(progress, 3),
        "input": item.get("input"),
        "created_at": item.get("created_at"),
        "finished_at": item.get("finished_at"),
        "status_url": f"{base_url}/api/jobs/{job_id}",
    }
    if status == "failed":
        out["error"] = item.get("error")
        out["error_document"] = read_json(item.get("document"))
    if status == "ok":
        out["report"] = read_json(item.get("document"))
    if status == "duplicate":
        out["message"] = item.get("message")
    if item.get("version") is not None:
        out["version"] = item["version"]  # the one published (a new one may be on its way)
    if status in ("ok", "duplicate", "queued", "running") and item.get("outputs"):
        # while a new version is made, the one published stays downloadable
        out["links"] = links(cfg, item, base_url)
    if status == "awaiting_review" and item.get("draft"):
        out["draft"] = links(cfg, {**item, "outputs": item["draft"]}, base_url)
    own_deck = isinstance(out.get("report"), dict) and "deck" in out["report"]
    if status in ("ok", "awaiting_review") and not own_deck:  # a deck is edited as a deck
        out["edit_url"] = f"{base_url}/api/jobs/{job_id}/edit"
    if status == "expired":
        out["message"] = "The job's outputs have expired and were deleted."
    return out


def links(cfg: Config, item: dict[str, Any], base_url: str) -> dict[str, str]:
    key = handin.link_key(cfg.paths.inbox)
    expires = time.time() + cfg.http.link_ttl_hours * 3600
    finished = files.epoch(item.get("finished_at"))
    ttl = float(item.get("ttl_hours") or 0)
    if finished is not None and ttl > 0:
        expires = min(expires, finished + ttl * 3600)
    out = {}
    for kind, path in (item.get("outputs") or {}).items():
        if path and Path(path).is_file():
            # "talk.mp4", or "board/talk.mp4" for a preset's outputs
            relative = Path(path).relative_to(cfg.paths.outbox).as_posix()
            out[kind] = f"{base_url}/d/{handin.sign(key, relative, expires)}"
    return out


def read_json(path: Any) -> Any:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
