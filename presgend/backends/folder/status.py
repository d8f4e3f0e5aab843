"""What `presgend status` shows on the shared folder: each daemon writes its own state
file into the inbox's control folder (inbox/state.py); status reads them all, so it
covers every daemon sharing the inbox."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from presgend.core import inputs, owners
from presgend.core.config import Config
from presgend.inbox import state, waiting


def queued_in(inbox: Path) -> int:
    try:
        return sum(1 for p in inbox.iterdir() if inputs.classify(p.name) == "main")
    except OSError:
        return 0


def collect(config: Config) -> dict[str, Any]:
    """Merge the state of every live daemon on the configured inbox."""
    inbox = config.paths.inbox
    daemons: list[dict[str, Any]] = []
    recent: list[dict[str, Any]] = []
    now = time.time()
    folder = state.state_dir(inbox)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            recent += data.get("recent", [])
            alive = not data.get("stopped") and now - data.get("updated", 0) < state.STALE_AFTER
            owner = {"host": data.get("host"), "pid": data.get("pid")}
            if alive and owners.owner_dead(owner):
                alive = False
            if alive:
                daemons.append(data)
            elif now - path.stat().st_mtime > 7 * 86400:
                path.unlink(missing_ok=True)
    running = [job for d in daemons for job in d.get("running", [])]
    states = [d.get("breaker", {}) for d in daemons]
    worst = next(
        (b for kind in ("open", "half_open", "closed") for b in states if b.get("state") == kind),
        {"state": "closed", "cpu_percent": None, "memory_percent": None},
    )
    recent.sort(key=lambda r: r.get("finished_at", ""), reverse=True)
    return {
        "inbox": str(inbox),
        "daemons": [
            {k: d.get(k) for k in ("host", "pid", "started_at", "watch_mode", "paused", "breaker")}
            for d in daemons
        ],
        "queued": queued_in(inbox),
        "waiting": waiting.listing(inbox),
        "running": running,
        "recent": recent[:20],
        "breaker": worst,
    }


def render(snapshot: dict[str, Any]) -> str:
    lines = [f"inbox    {snapshot['inbox']}"]
    if not snapshot["daemons"]:
        lines.append("daemons  none running")
    for d in snapshot["daemons"]:
        b = d.get("breaker") or {}
        paused = "  (paused: inbox unavailable)" if d.get("paused") else ""
        lines.append(
            f"daemon   {d['host']}:{d['pid']}  watching by {d.get('watch_mode')}  "
            f"breaker {b.get('state')} (cpu {b.get('cpu_percent')}%, "
            f"memory {b.get('memory_percent')}%){paused}"
        )
    lines.append(f"queued   {snapshot['queued']}")
    lines += waiting.status_lines(snapshot.get("waiting", []))
    for job in snapshot["running"]:
        lines.append(
            f"running  {job['job_id']}  {job['input']}  {job['phase']} {job['progress'] * 100:.0f}%"
        )
    for r in snapshot["recent"][:10]:
        lines.append(f"{r['status']:<8} {r['finished_at']}  {r['input']}  ({r['job_id']})")
    return "\n".join(lines)

