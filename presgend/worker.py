"""The job loop's worker: runs jobs and turns every ending into an outcome.

A job's failure never escapes as an exception: it becomes an `Outcome` whose
document is the error file. `process_files` is this worker told not to wait for more.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend import claims, logs, publish
from presgend.config import Config
from presgend.pipeline.context import JobRequest, Services
from presgend.pipeline.job import JobFailed, run_job

log = logs.get("presgend.worker")


@dataclass
class RunningJob:
    job_id: str
    claim: claims.Claim
    label: Path
    task: asyncio.Task[None] | None = None
    phase: str = "start"
    progress: float = 0.0
    lost: bool = False
    marker: Path | None = None  # index/<sha>.running while this job composes those bytes

    def update(self, phase: str, fraction: float) -> None:
        self.phase, self.progress = phase, fraction

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "input": str(self.label),
            "phase": self.phase,
            "progress": round(self.progress, 3),
        }


@dataclass(frozen=True)
class Outcome:
    path: Path
    ok: bool
    document: dict[str, Any]  # the report, or the error document
    report_path: Path


async def execute(
    request: JobRequest, services: Services | None = None, *, error_dir: Path | None = None
) -> Outcome:
    """Run one job; on failure write `<stem>.error.json` into `error_dir` (if given)."""
    path = request.input_path
    try:
        report = await run_job(request, services)
    except JobFailed as failure:
        error_path = (error_dir or path.parent) / f"{request.output_stem}.error.json"
        if error_dir is not None:
            publish.write_json(error_path, failure.document)
        return Outcome(path, False, failure.document, error_path)
    report_path = Path(report["output"]["video"]).with_suffix("")
    return Outcome(path, True, report, report_path.with_name(report_path.name + ".report.json"))


async def process_files(
    paths: Iterable[Path],
    config: Config,
    *,
    outbox: Path,
    quality: str | None = None,
    progress_factory: Callable[[Path], Any] | None = None,
) -> list[Outcome]:
    """One-shot mode: each file in turn, results and error files into `outbox`."""
    services = Services()
    outcomes = []
    for path in paths:
        bar = progress_factory(path) if progress_factory else None
        try:
            request = JobRequest(path, config, outbox, quality=quality or "")
            if bar is not None:
                request = dataclasses.replace(request, progress=bar)
            outcomes.append(await execute(request, services, error_dir=outbox))
        finally:
            if bar is not None and hasattr(bar, "done"):
                bar.done()
    return outcomes
