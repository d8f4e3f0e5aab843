"""The job report (`<stem>.report.json`) and error file (`<stem>.error.json`)."""

from __future__ import annotations

import errno
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from presgend.core.errors import Fault, JobError, PresgendError, causes
from presgend.core.files import now_iso
from presgend.core.hardware import Quality

if TYPE_CHECKING:
    from presgend.pipeline.finish import Composition
    from presgend.pipeline.video.compose import Verified
    from presgend.pipeline.video.loudness import Loudness


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


def video_report(
    record: JobRecord,
    *,
    video: Path,
    verified: Verified,
    outputs: dict[str, Path | None],
    audio: Loudness | None,
    made: Composition,
    quality: Quality,
    preset: str,
    recogniser: dict[str, Any],
    total_s: float,
    hardware: dict[str, Any],
    encoder: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """`<stem>.report.json` of a published video (DESIGN's keys, and a few more)."""
    transcript, framing = made.transcript, made.framing
    files = {k: str(v) if v else None for k, v in outputs.items()}
    return {
        "status": "ok",
        "job_id": record.job_id,
        "input": record.input_dict(),
        "output": {
            "video": str(video),
            "srt": files.pop("srt"),
            "duration_s": round(verified.duration, 3),
            "width": verified.width,
            "height": verified.height,
            **files,
        },
        "quality": quality.name,
        "preset": preset or None,
        "transcript": {
            "source": transcript.source,
            "language": transcript.language,
            **(recogniser if transcript.source == "whisper" else {}),
            "segments": [s.as_dict() for s in transcript.segments],
        },
        "slides": [
            {
                "index": s.index,
                "title": s.title,
                "bullets": s.bullets,
                "start_s": round(s.start, 3),
                "end_s": round(s.end, 3),
                "bullet_starts": [round(t, 3) for t in s.bullet_starts],
                "sources": list(s.sources),
                "omitted": list(s.omitted),
                "cut": list(s.cut),
            }
            for s in made.sections
        ],
        "face": {
            "detected": framing.detected,
            "box": framing.face.as_list() if framing.face else None,
            "method": framing.method,
            "crop": framing.crop[0].box.as_list(),
            "samples": framing.samples,
            "hits": framing.hits,
        },
        "phases": dict(record.phases),
        "total_s": round(total_s, 3),
        "peak_rss_mb": round(record.peak_rss_mb, 1),
        "started_at": record.started_at,
        "finished_at": now_iso(),
        "hardware": hardware,
        "encoder": encoder,
        "fallbacks": list(record.fallbacks),
        "warnings": list(record.warnings),
        "audio": {
            "loudness_lufs": round(audio.integrated, 1) if audio else None,
            "true_peak_dbtp": round(audio.true_peak, 1) if audio else None,
            "sample_rate": verified.sample_rate,
        },
        **extra,
    }
