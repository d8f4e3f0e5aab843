"""The job loop's worker: runs jobs and turns every ending into an outcome.

A job's failure never escapes as an exception: it becomes an `Outcome` whose
document is the error file. `process_files` is this worker told not to wait for more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend import logs, publish
from presgend.config import Config
from presgend.pipeline.context import Services
from presgend.pipeline.job import JobFailed, ProgressFn, new_job_id, run_job

log = logs.get("presgend.worker")


@dataclass(frozen=True)
class Outcome:
    path: Path
    ok: bool
    document: dict[str, Any]  # the report, or the error document
    report_path: Path


async def execute(
    path: Path,
    config: Config,
    *,
    outbox: Path,
    error_dir: Path | None,
    quality: str | None = None,
    progress: ProgressFn | None = None,
    services: Services | None = None,
    job_id: str | None = None,
    stem: str | None = None,
    before_publish: Callable[[], None] | None = None,
    input_label: Path | None = None,
    sha256: str | None = None,
) -> Outcome:
    """Run one job; on failure write `<stem>.error.json` into `error_dir` (if given)."""
    job_id = job_id or new_job_id()
    try:
        report = await run_job(
            path,
            config,
            outbox=outbox,
            quality=quality,
            progress=progress,
            services=services,
            job_id=job_id,
            output_stem=stem,
            before_publish=before_publish,
            input_label=input_label,
            sha256=sha256,
        )
    except JobFailed as failure:
        error_path = (error_dir or path.parent) / f"{stem or path.stem}.error.json"
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
            outcomes.append(
                await execute(
                    path,
                    config,
                    outbox=outbox,
                    error_dir=outbox,
                    quality=quality,
                    progress=bar,
                    services=services,
                )
            )
        finally:
            if bar is not None and hasattr(bar, "done"):
                bar.done()
    return outcomes
