"""The job report (`<stem>.report.json`) and error file (`<stem>.error.json`)."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presgend.core.errors import Fault, JobError, PresgendError, causes


def now_iso() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class JobRecord:
    """What a job learns as it runs; becomes the report or the error file."""

    job_id: str
    input_path: Path
    kind: str
    started_at: str = field(default_factory=now_iso)
    sha256: str = ""
    phase: str = "start"
    phases: dict[str, float] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    label: Path | None = None  # where the user dropped it, when the job runs on a claimed copy

    def input_dict(self) -> dict[str, Any]:
        path = self.label or self.input_path
        return {"path": str(path), "sha256": self.sha256, "kind": self.kind}


DISK_FULL = (
    "The outbox ran out of disk space while the results were written; free some space "
    "and drop the file again."
)


def disk_full(error: BaseException) -> bool:
    """Whether an error comes down to a full disk (ENOSPC), however it was reported."""
    for seen in causes(error):
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        text = f"{seen} {getattr(seen, 'detail', '')}"
        if "No space left on device" in text or "ENOSPC" in text:
            return True
    return False


def fault_of(error: BaseException) -> Fault:
    """Whose fault `error` is (core/errors.py's `Fault`): a full disk is the setup's; else
    what the outermost presgend error says; anything else (a KeyError, a missing
    temporary file) is presgend's own."""
    if disk_full(error):
        return "setup"
    for seen in causes(error):
        if isinstance(seen, PresgendError):
            return seen.fault
    return "presgend"


def error_document(record: JobRecord, error: BaseException) -> dict[str, Any]:
    if disk_full(error):
        detail = getattr(error, "detail", "") or f"{type(error).__name__}: {error}"
        message, phase = DISK_FULL, getattr(error, "phase", "") or record.phase
    elif isinstance(error, JobError):
        message, phase, detail = str(error), error.phase or record.phase, error.detail
    elif isinstance(error, PresgendError):
        message, phase, detail = str(error), record.phase, ""
    else:
        message = "An internal error stopped the job; the log has the details."
        phase, detail = record.phase, f"{type(error).__name__}: {error}"
    return {
        "status": "failed",
        "job_id": record.job_id,
        "input": record.input_dict(),
        "error": message,
        "fault": fault_of(error),
        "phase": phase,
        "detail": detail,
        "fallbacks": record.fallbacks,
        "warnings": record.warnings,
        "started_at": record.started_at,
        "finished_at": now_iso(),
    }
