"""One job: the entry point, its phases and progress, and how it ends.

`run_job` is what both `presgend process` and the daemon's worker call. It returns the
report on success and raises `JobFailed` (carrying the error document) when the job
cannot finish; cancellation propagates untouched so a daemon can hand the input back.

Read top-down: `run_job` → `attempts.Attempts` (a stall, a killed program or our own
fault gets one more run) → `JobRun.run` → the video talk (`video/talk.py`) or the script
(`script/script.py`), each ending in `finish.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog

from presgend.core import aio, hardware, inputs, logs, memory
from presgend.core.errors import ClaimLost, JobError, PresgendError
from presgend.core.hardware import Quality
from presgend.pipeline import rerender, workdir
from presgend.pipeline.attempts import Attempts
from presgend.pipeline.context import JobRequest, Services
from presgend.pipeline.report import JobRecord, error_document, sha256_of
from presgend.pipeline.script import script
from presgend.pipeline.video import talk

T = TypeVar("T")
PHASE_SPAN = {"probe": (0.0, 0.08), "content": (0.08, 0.25), "compose": (0.25, 1.0)}

log = logs.get(__name__)


class JobFailed(PresgendError):
    """The job ended in failure; `document` is the `<stem>.error.json` content."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        super().__init__(str(document["error"]))


async def run_job(request: JobRequest, services: Services | None = None) -> dict[str, Any]:
    """Run one job: its report, or JobFailed carrying its error document."""
    if services is not None:
        return await _run_job(request, services)
    own = Services()
    try:
        return await _run_job(request, own)
    finally:
        await own.browser.close()


async def _run_job(request: JobRequest, services: Services) -> dict[str, Any]:
    config = request.config
    attempts = Attempts(request, lambda record, watched: JobRun(record, watched, services))
    with structlog.contextvars.bound_contextvars(
        job_id=request.job_id, input=str(request.label or request.input_path)
    ):
        log.info("job_started")
        try:
            report = await aio.bounded(attempts.run(), config.jobs.timeout_seconds)
        except asyncio.TimeoutError:
            error = JobError(
                f"The job took longer than {config.jobs.timeout_seconds:.0f} "
                "seconds and was stopped.",
                phase=attempts.record.phase,
                fault="presgend",
            )
            raise _failed(attempts.record, error) from None
        except asyncio.CancelledError:
            log.warning("job_cancelled", phase=attempts.record.phase)
            raise
        except ClaimLost:
            log.warning("job_discarded", phase=attempts.record.phase, reason="claim taken back")
            raise
        except Exception as exc:
            raise _failed(attempts.record, exc) from exc
        if report.get("status") == "awaiting_review":
            log.info("job_held", draft=report["draft"], phases=report["phases"])
            return report
        log.info(
            "job_succeeded",
            output=report["output"]["video"],
            version=report.get("version", 1),
            total_s=report["total_s"],
            phases=report["phases"],
            fallbacks=report["fallbacks"],
        )
        return report


def _failed(record: JobRecord, exc: BaseException) -> JobFailed:
    document = error_document(record, exc)
    log.error(
        "job_failed",
        phase=document["phase"],
        error=document["error"],
        detail=document["detail"][-500:],
        exc_info=not isinstance(exc, PresgendError),
    )
    return JobFailed(document)


class JobRun:
    """One run of a job: its record, settings and services, its phases and progress
    (the pipelines use it through `context.RunContext`)."""

    def __init__(self, record: JobRecord, request: JobRequest, services: Services) -> None:
        self.record = record
        self.request = request
        self.config = request.config
        self.outbox = request.outbox
        self.services = services
        quality = request.quality or request.config.output.quality
        self.quality: Quality = hardware.choose_quality(services.profile, quality)
        self.stem = request.output_stem
        self.started = time.monotonic()
        self.extra_report: dict[str, Any] = {}  # kind-specific report keys (speech, presenter)
        self.recogniser: dict[str, Any] = {}  # what recognised the speech, when one did
        self.analysis: Any = None  # what the probe and transcript found (a re-render's)
        self.published = False  # its video is in the outbox

    async def run(self) -> dict[str, Any]:
        path = self.record.input_path
        self.record.kind = inputs.kind(path)
        inputs.check_readable(path)
        self.record.kind = await asyncio.to_thread(inputs.kind_of_file, path)
        if not self.record.sha256:
            self.record.sha256 = await asyncio.to_thread(sha256_of, path)
        async with memory.peak_sampled(self._seen), workdir.work_folder() as work:
            if self.record.kind in ("script", "deck"):
                return await script.run(self, work)
            if self.record.kind == "edit":
                return await rerender.run(self, work)
            return await talk.run(self, work)

    def _seen(self, mb: float) -> None:
        self.record.peak_rss_mb = max(self.record.peak_rss_mb, mb)

    async def phase(self, name: str, work: Awaitable[T]) -> T:
        self.record.phase = name
        self.report_progress(name, 0.0)
        started = time.monotonic()
        log.info("phase_started", phase=name)
        result = await work
        self.record.phases[name] = round(time.monotonic() - started, 3)
        log.info("phase_completed", phase=name, seconds=self.record.phases[name])
        return result

    def report_progress(self, phase: str, fraction: float) -> None:
        if phase != self.record.phase:
            return  # work started early for a later phase shows when that phase begins
        low, high = PHASE_SPAN.get(phase, (0.0, 1.0))
        self.request.progress(phase, low + (high - low) * fraction)

    def beat(self) -> None:
        self.request.beat()

    def fallback(self, stage: str, message: str) -> None:
        self.record.fallbacks.append(message)
        log.warning("fallback_taken", stage=stage, reason=message)

    def keep_analysis(self, analysis: Any) -> None:
        self.analysis = analysis
