"""The ledger, and what every daemon and front on one inbox shares on disk.

* **Hand-in.** A file that arrives by upload, by path from MCP, or in a preset's
  subfolder goes into the inbox like any drop, with a `<stem>.job.json` sidecar that
  carries its job id (and preset); the sidecar is written first and the main file
  renamed in last, so intake sees a complete file.
* **The ledger.** `inbox/.presgend/jobs/<job_id>.json` says where each job stands: a
  hand-in writes `queued`, `outcomes.py` writes how it ended,
  retention writes `expired`. Running jobs' phase and progress come from the daemons'
  live state.
* **Cancel markers.** A cancel asked on one daemon's front for a job another daemon runs
  is a file that daemon's housekeeping acts on.
* **Downloads in progress.** A front marks a file while it sends it; retention skips it.
* **Retention.** Finished jobs' outputs are deleted past their time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from presgend.core import files, inputs, logs, owners
from presgend.core.config import Config
from presgend.core.files import epoch, now_iso
from presgend.inbox import claims

log = logs.get(__name__)

JOB_SIDECAR = inputs.JOB_SUFFIX
JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,80}")  # what a job id may be, as a file name
FINISHED = ("ok", "failed", "duplicate", "expired")


# -- the ledger --------------------------------------------------------------------------------


def ledger_dir(inbox: Path) -> Path:
    return claims.control_dir(inbox) / "jobs"


def entry(inbox: Path, job_id: str) -> dict[str, Any] | None:
    if not JOB_ID.fullmatch(job_id):
        return None
    try:
        data = json.loads((ledger_dir(inbox) / f"{job_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def record(inbox: Path, job_id: str, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into the job's ledger entry (written atomically)."""
    current = entry(inbox, job_id) or {"job_id": job_id, "created_at": now_iso()}
    current.update(fields, updated_at=now_iso())
    if current.get("status") in FINISHED:
        cancel_marker(inbox, job_id).unlink(missing_ok=True)
    folder = ledger_dir(inbox)
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        files.write_json(folder / f"{job_id}.json", current)
    return current


def entries(inbox: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The newest entries first."""
    folder = ledger_dir(inbox)
    try:
        paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    found = []
    for path in paths[: limit * 2]:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                found.append(data)
    found.sort(key=lambda e: e.get("created_at", ""), reverse=True)
    return found[:limit]


def job_id_of(folder: Path, files: list[str]) -> str | None:
    """The job id a hand-in's `.job.json` sidecar carries, if there is one."""
    for name in files:
        if name.lower().endswith(JOB_SIDECAR):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                value = json.loads((folder / name).read_text(encoding="utf-8")).get("job_id")
                if isinstance(value, str) and JOB_ID.fullmatch(value):
                    return value
    return None


def edited_job(path: Path) -> str | None:
    """The job an edit document (or an approval) dropped into the inbox is a version of:
    its runs are that job's, in the ledger too."""
    name = path.name
    if name.lower().endswith(inputs.APPROVE_SUFFIX):
        with contextlib.suppress(OSError):
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            found = text or name[: -len(inputs.APPROVE_SUFFIX)]
            return inputs.kept_job(path.parent, found) if JOB_ID.fullmatch(found) else None
        return None
    if name.lower().endswith(inputs.DECK_SUFFIX):
        return inputs.deck_job(path) or None
    if not name.lower().endswith(inputs.EDIT_SUFFIX):
        return None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        value = json.loads(path.read_text(encoding="utf-8")).get("job_id")
        if isinstance(value, str) and JOB_ID.fullmatch(value):
            return value
    return None


def job_id_for(inbox: Path, name: str, sidecars: list[str]) -> str | None:
    """The id a drop runs under when it has one: its hand-in's, or the job it edits."""
    return job_id_of(inbox, sidecars) or edited_job(inbox / name)


def preset_of(folder: Path, files: list[str]) -> str:
    """The preset a hand-in's `.job.json` sidecar names ("" for none)."""
    for name in files:
        if name.lower().endswith(JOB_SIDECAR):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                value = json.loads((folder / name).read_text(encoding="utf-8")).get("preset")
                if isinstance(value, str):
                    return value
    return ""


# -- hand-in -------------------------------------------------------------------------------


def hand_in(
    config: Config,
    main: Path,
    name: str,
    job_id: str,
    *,
    sidecars: dict[str, Path] | None = None,
    source: str = "upload",
    move: bool = True,
    preset: str = "",
) -> str:
    """Put `main` (and `sidecars`, keyed by their suffix such as ".srt") into the inbox
    under a free version of `name`; the job sidecar first (the job id, and the preset to
    run it with), the main file last, by rename (`move`) or by a copy renamed into place.
    The name used. Uploads, MCP and the presets' subfolders hand files in this way."""
    inbox = config.paths.inbox
    sidecars = sidecars or {}
    stem = claims.stem_of(name)
    suffix = name[len(stem) :]
    names = [name, *(stem + s for s in sidecars)]
    free = claims.free_stem(inbox, names, (JOB_SIDECAR,))
    final = free + suffix
    if source == "edit":  # a new version of a job: its entry keeps its input and outputs
        record(inbox, job_id, status="queued", phase="queued", progress=0.0)
    else:
        ttl = config.http.link_ttl_hours if source == "upload" else 0
        record(inbox, job_id, status="queued", input=final, source=source, ttl_hours=ttl,
               phase="queued", progress=0.0, preset=preset or None)  # fmt: skip
    files.write_json(
        inbox / (free + JOB_SIDECAR), {"job_id": job_id, "source": source, "preset": preset}
    )
    for side_suffix, path in sidecars.items():
        _place(path, inbox / (free + side_suffix), move)
    _place(main, inbox / final, move)
    log.info("input_handed_in", input=final, job_id=job_id, source=source, preset=preset or None)
    return final


def hand_in_edit(config: Config, job_id: str, stem: str, text: str | None) -> str:
    """An edit document's `text` as `<stem>.edit.json` (None: the approval of a held
    draft, `<job id>.approve`), handed in for the job; the name used."""
    folder = claims.control_dir(config.paths.inbox) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".part", delete=False) as temp:
        temp.write(text or "")
    name = f"{job_id}.approve" if text is None else f"{stem}.edit.json"
    return hand_in(config, Path(temp.name), name, job_id, source="edit")


def _place(src: Path, dst: Path, move: bool) -> None:
    if move:
        os.replace(src, dst)
        return
    temp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    with src.open("rb") as reader, temp.open("wb") as writer:
        while chunk := reader.read(1 << 20):
            writer.write(chunk)
    os.replace(temp, dst)


def cancel_marker(inbox: Path, job_id: str) -> Path:
    return claims.control_dir(inbox) / "cancel" / job_id


def request_cancel(inbox: Path, job_id: str) -> None:
    """Ask whichever daemon runs (or will run) the job to cancel it."""
    marker = cancel_marker(inbox, job_id)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def cancel_requested(inbox: Path, job_id: str) -> bool:
    return cancel_marker(inbox, job_id).exists()


# -- downloads in progress --------------------------------------------------------------------


def downloads_dir(inbox: Path) -> Path:
    return claims.control_dir(inbox) / "downloads"


def downloading(inbox: Path, relative: str) -> Path:
    """A marker that says a download of `relative` is in progress (retention skips the
    file while one is fresh); the caller removes it."""
    folder = downloads_dir(inbox)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(relative.encode()).hexdigest()[:16]
    marker = folder / f"{digest}.{owners.HOST}.{os.getpid()}.{time.monotonic_ns()}"
    marker.write_text(relative, encoding="utf-8")
    return marker


def being_downloaded(inbox: Path, relative: str, fresh_seconds: float = 120.0) -> bool:
    digest = hashlib.sha256(relative.encode()).hexdigest()[:16]
    now = claims.share_now(inbox)
    for marker in downloads_dir(inbox).glob(f"{digest}.*"):
        with contextlib.suppress(OSError):
            if now - marker.stat().st_mtime < fresh_seconds:
                return True
            marker.unlink()
    return False


# -- retention ------------------------------------------------------------------------------------


def expire(config: Config, now: float | None = None) -> list[str]:
    """Delete the outputs of finished jobs past their time: uploads after
    `http.link_ttl_hours`, everything after `outbox.retention_hours` when that is set.
    The ids of the jobs expired."""
    inbox = config.paths.inbox
    now = now or time.time()
    expired = []
    for item in entries(inbox, limit=100_000):
        if item.get("status") != "ok" or not item.get("outputs"):
            continue  # a duplicate's links point at the original's files
        hours = [float(item.get("ttl_hours") or 0), config.outbox.retention_hours]
        hours = [h for h in hours if h > 0]
        finished = epoch(item.get("finished_at"))
        if not hours or finished is None or now < finished + min(hours) * 3600:
            continue
        outputs = [Path(p) for p in item["outputs"].values() if p]
        outbox = config.paths.outbox  # names as links give them: "board/talk.mp4" for a preset
        names = [p.relative_to(outbox).as_posix() if p.is_relative_to(outbox) else p.name
                 for p in outputs]  # fmt: skip
        if any(being_downloaded(inbox, n) for n in names):
            continue
        for path in outputs:
            if config.paths.outbox in (path.parent, path.parent.parent):  # a preset's too
                path.unlink(missing_ok=True)
        record(inbox, item["job_id"], status="expired", expired_at=now_iso())
        log.info("output_expired", job_id=item["job_id"], files=names)
        expired.append(item["job_id"])
    return expired
