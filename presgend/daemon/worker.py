"""The job loop's worker: runs jobs and turns every ending into an outcome.

A job's failure never escapes as an exception: it becomes an `Outcome` whose
document is the error file. `process_files` is this worker told not to wait for more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from presgend.core import config as config_mod
from presgend.core import files, hardware, inputs, logs
from presgend.core.config import Config
from presgend.core.errors import ClaimLost, JobError, PresetUnknown, PresgendError
from presgend.core.settings import Live, Settings
from presgend.daemon import notify
from presgend.daemon.intake import Intake
from presgend.daemon.outcomes import Outcomes
from presgend.inbox import claims, ledger
from presgend.pipeline import publish, store
from presgend.pipeline.context import JobRequest, Services, new_job_id
from presgend.pipeline.job import JobFailed, run_job
from presgend.pipeline.report import JobRecord, error_document, sha256_of

log = logs.get(__name__)

StopReason = Literal["cancelled", "lost"]


@dataclass
class ClaimedJob:
    """A job this daemon has claimed and runs: its claim, its task, where it stands."""

    job_id: str
    claim: claims.Claim
    label: Path
    task: asyncio.Task[None] | None = None
    phase: str = "start"
    progress: float = 0.0
    lost: bool = False
    fenced: bool = False  # its first output may be visible: it must never run again
    cancelled: bool = False  # by its submitter (HTTP, MCP): it ends in failed/
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
            files.write_json(error_path, failure.document)
        return Outcome(path, False, failure.document, error_path)
    if report.get("status") == "awaiting_review":  # a draft: its edit document says it
        return Outcome(path, True, report, Path(report["draft"]["edit"]))
    return Outcome(path, True, report, publish.report_path(Path(report["output"]["video"])))


async def process_files(
    paths: Iterable[Path],
    config: Config,
    *,
    outbox: Path,
    quality: str | None = None,
    progress_factory: Callable[[Path], Any] | None = None,
    preset: str = "",
    edit: Path | None = None,
) -> list[Outcome]:
    """One-shot mode: each file in turn, results and error files into `outbox`, with
    the preset `preset` when one is named (PresetUnknown, one sentence, if there is none).
    With `edit`, each file is rendered as that edit document says: the kept job is
    rendered again, or where none is kept, the file is made first (as the edit's job)."""
    config = config_mod.with_preset(config, preset)
    services = Services()
    outcomes = []
    try:
        for path in paths:
            bar = progress_factory(path) if progress_factory else None
            try:
                request = JobRequest(path, config, outbox, quality=quality or "", preset=preset)
                if bar is not None:
                    request = dataclasses.replace(request, progress=bar)
                outcomes.append(await _one(request, services, outbox, edit))
            finally:
                if bar is not None and hasattr(bar, "done"):
                    bar.done()
    finally:
        await services.browser.close()
    return outcomes


async def _one(
    request: JobRequest, services: Services, outbox: Path, edit: Path | None
) -> Outcome:
    if edit is None:
        return await execute(request, services, error_dir=outbox)
    job_id = ledger.edited_job(edit) or request.job_id
    if not store.Store.of(request.config, job_id).exists:  # made here first, as that job
        first = await execute(dataclasses.replace(request, job_id=job_id), services,
                              error_dir=outbox)  # fmt: skip
        if not first.ok:
            return first
    again = dataclasses.replace(request, input_path=edit, job_id=job_id, label=request.input_path)
    return await execute(again, services, error_dir=outbox)


class Worker(Live):
    """The daemon's job runner: admission (free slots, the resource breaker, free disk),
    claiming, running each job to its outcome, and the drain when the daemon stops."""

    def __init__(
        self,
        settings: Settings,
        *,
        services: Services,
        monitor: hardware.ResourceMonitor,
        outcomes: Outcomes,
        intake: Intake,
        wake: Callable[[], None],
        max_concurrent: Callable[[], int],
    ) -> None:
        self.settings = settings
        self.inbox = self.config.paths.inbox
        self.services = services
        self.monitor = monitor
        self.outcomes = outcomes
        self.intake = intake
        self.wake = wake
        self.max_concurrent = max_concurrent
        self.jobs: dict[str, ClaimedJob] = {}
        self.low_disk = False
        self.stopping = False
        self.last_job_end = float("-inf")


    @property
    def wants_admission(self) -> bool:
        return bool(self.intake.ready) and len(self.jobs) < self.max_concurrent()

    def disk_ok(self) -> bool:
        """Whether the outbox's disk has `jobs.min_free_mb` free; intake waits while not."""
        outbox = self.config.paths.outbox
        try:
            free_mb = shutil.disk_usage(outbox).free / 2**20
        except OSError:
            return True  # an unmounted share is _check_inbox's business
        low = free_mb < self.config.jobs.min_free_mb
        if low != self.low_disk:
            self.low_disk = low
            if low:
                log.error(
                    "outbox_low_on_space",
                    outbox=str(outbox),
                    free_mb=round(free_mb),
                    min_free_mb=self.config.jobs.min_free_mb,
                    action="intake paused",
                )
                notify.send(f"STATUS=paused: {outbox} has {free_mb:.0f} MB free")
            else:
                log.info("outbox_space_ok", free_mb=round(free_mb), action="intake resumed")
                notify.send(f"STATUS=watching {self.inbox} ({self.intake.mode})")
        return not low

    def admit(self) -> None:
        """Start queued inputs while there is a free slot, the load allows it and the disk
        has room; each is claimed first (another daemon may have taken it)."""
        while self.intake.ready and len(self.jobs) < self.max_concurrent() and not self.stopping:
            if not self.load_allows():
                return
            name = self.intake.take()
            assert name is not None
            sidecars = inputs.sidecars_of(self.inbox, name)
            job_id = ledger.job_id_for(self.inbox, name, sidecars) or new_job_id()
            try:
                claim = claims.claim(self.inbox, name, sidecars, job_id)
            except OSError as exc:
                log.error("claim_failed", input=name, error=str(exc))
                continue
            if claim is None:
                log.info("claimed_elsewhere", input=name)
                continue
            job = ClaimedJob(job_id, claim, self.inbox / name)
            self.jobs[job_id] = job
            log.info("input_claimed", input=name, job_id=job_id, claim=claim.folder.name)
            job.task = asyncio.create_task(self._run_claimed(job), name=f"job-{job_id}")

    def stop(self, job_id: str, reason: StopReason) -> bool:
        """Stop a job running here: "cancelled" by its submitter (its files go to
        failed/), or "lost" when its claim was taken back (its work is discarded). False
        when it does not run here."""
        job = self.jobs.get(job_id)
        if job is None or job.task is None:
            return False
        if reason == "cancelled":
            job.cancelled = True
        else:
            job.lost = True
        job.task.cancel()
        return True

    async def _run_claimed(self, job: ClaimedJob) -> None:
        claim = job.claim

        async def fence() -> None:
            claim.fence()

        async def give_back() -> None:
            log.warning("job_returned", job_id=job.job_id, files=self.outcomes.returned(claim))

        await self.run(job, fence=fence, give_back=give_back)

    async def take_over(
        self,
        job_id: str,
        claim: claims.Claim,
        label: Path,
        *,
        fence: Callable[[], Awaitable[None]],
        give_back: Callable[[], Awaitable[None]],
    ) -> str:
        """Run a job a queue handed over (claimed by it, in `claim`) in this task, once
        the load allows: `run`'s outcome."""
        job = ClaimedJob(job_id, claim, label, task=asyncio.current_task())
        return await self.run(job, fence=fence, give_back=give_back, wait_for_admission=True)

    async def wait_for_admission(self, job: ClaimedJob) -> None:
        """For a job handed over by a queue: wait until the load and the disk allow heavy
        work (the same rules as `admit`, which gates folder claims before they are taken)."""
        job.update("waiting", 0.0)
        while not self.load_allows():
            await asyncio.sleep(max(self.monitor.retry_in(), 0.2))

    def load_allows(self) -> bool:
        """Whether a job may start heavy work now: the load has been sampled since the
        last job ended (so it is judged without it), the disk has room, the breaker is
        closed."""
        return (
            self.monitor.sampled_at > self.last_job_end and self.disk_ok() and self.monitor.admit()
        )

    async def run(
        self,
        job: ClaimedJob,
        *,
        fence: Callable[[], Awaitable[None]],
        give_back: Callable[[], Awaitable[None]],
        wait_for_admission: bool = False,
    ) -> str:
        """Run a claimed job to its outcome: "ok", "failed", "duplicate" or "discarded".

        `fence` is awaited before the first output is published (ClaimLost there discards
        the work); `give_back` hands the input on when the job is cancelled before that
        point (after it, the input is archived). A job handed over by a queue first waits
        for admission (`wait_for_admission`)."""
        claim = job.claim
        self.jobs[job.job_id] = job
        try:
            if wait_for_admission:
                await self.wait_for_admission(job)
            if ledger.cancel_requested(self.inbox, job.job_id):
                self.outcomes.cancelled(job.job_id, job.label, claim, job.phase)
                return "failed"
            sha = await asyncio.to_thread(sha256_of, claim.path)
            # the same bytes with another preset are another video, not a duplicate
            preset = ledger.preset_of(claim.folder, claim.files)
            key = f"{sha}-{preset}" if preset else sha
            if await asyncio.to_thread(inputs.is_version, claim.path):
                key = ""  # a version of a kept job: never a duplicate (its store serialises)
            else:
                original, job.marker = await self.outcomes.first_of(
                    key, job.job_id, lambda: job.update("waiting", 0.0)
                )
                if original is not None:
                    self.outcomes.duplicate(job.job_id, job.label, claim, sha, original)
                    return "duplicate"
            try:
                request = self.request(job, sha, fence, preset)
            except PresetUnknown as exc:  # removed from the config since the hand-in
                self.outcomes.failed(job.job_id, job.label, claim, self.refused(job, exc))
                return "failed"
            outcome = await execute(request, self.services)
        except asyncio.CancelledError:
            await self.stopped(job, give_back)
            raise
        except ClaimLost:
            job.lost = True
            log.warning("job_discarded", job_id=job.job_id, reason="claim taken back")
            return "discarded"
        else:
            return self.filed(job, key, outcome)
        finally:
            if job.marker is not None:
                job.marker.unlink(missing_ok=True)
            self.jobs.pop(job.job_id, None)
            self.last_job_end = time.monotonic()
            self.wake()

    def request(
        self, job: ClaimedJob, sha: str, fence: Callable[[], Awaitable[None]], preset: str
    ) -> JobRequest:
        """The pipeline's request for a claimed job, run with `preset` (the one its job
        sidecar names); its first output waits for `fence`."""

        async def fenced() -> None:
            await fence()
            job.fenced = True

        claim = job.claim
        cfg = config_mod.with_preset(self.config, preset)  # PresetUnknown
        outbox = cfg.paths.outbox / preset if preset else cfg.paths.outbox
        outbox.mkdir(parents=True, exist_ok=True)
        return JobRequest(
            claim.path,
            cfg,
            outbox,
            preset=preset,
            job_id=job.job_id,
            stem=claims.stem_of(claim.main),
            label=job.label,
            sha256=sha,
            progress=job.update,
            before_publish=fenced,
        )

    def refused(self, job: ClaimedJob, exc: PresgendError) -> dict[str, Any]:
        """The error document of a job that cannot start, in `exc`'s sentence."""
        record = JobRecord(job.job_id, job.label, inputs.reported_kind(job.claim.main))
        return error_document(record, JobError(str(exc), phase="intake"))

    async def stopped(self, job: ClaimedJob, give_back: Callable[[], Awaitable[None]]) -> None:
        """Where a cancelled job's files go: nowhere when its claim was taken back, the
        archive once its video is out (never run twice), failed/ when its submitter
        cancelled it, else back (the daemon is stopping)."""
        if job.lost:
            log.warning("job_discarded", job_id=job.job_id, reason="claim taken back")
        elif job.fenced:
            self.outcomes.archived(job.job_id, job.label, job.claim)
            log.warning("job_cancelled_while_publishing", job_id=job.job_id)
        elif job.cancelled:
            self.outcomes.cancelled(job.job_id, job.label, job.claim, job.phase)
        else:
            await give_back()

    def filed(self, job: ClaimedJob, key: str, outcome: Outcome) -> str:
        """A finished job's files to the archive (indexed by content); to failed/ when
        the input was at fault; else back to the inbox to wait ("waiting")."""
        if outcome.ok and outcome.document.get("status") == "awaiting_review":
            self.outcomes.held(job.job_id, job.label, job.claim, outcome.document)
            return "awaiting_review"
        if outcome.ok:
            if key:
                self.outcomes.index(key, job.job_id, job.label, outcome.document)
            self.outcomes.archived(job.job_id, job.label, job.claim, outcome.document)
            return "ok"
        not_its_fault = outcome.document.get("fault", "input") != "input"
        if not_its_fault and not job.fenced and self.outcomes.wait(
            job.job_id, job.label, job.claim, outcome.document
        ):
            return "waiting"
        self.outcomes.failed(job.job_id, job.label, job.claim, outcome.document)
        return "failed"

    async def drain(self, grace: float, forced: asyncio.Event) -> None:
        """Stop taking jobs; give running ones `grace` seconds (less if `forced` is set),
        cancel the rest (their inputs go back to the inbox), and log the counts."""
        self.stopping = True
        tasks = [j.task for j in self.jobs.values() if j.task is not None]
        if tasks:
            log.info("shutdown_waiting", jobs=len(tasks), grace_seconds=grace)
            notify.send(f"STOPPING=1\nSTATUS=finishing {len(tasks)} job(s), up to {grace:.0f}s")
            finished = asyncio.create_task(asyncio.wait(tasks))
            force = asyncio.create_task(forced.wait())
            await asyncio.wait(
                {finished, force}, timeout=grace, return_when=asyncio.FIRST_COMPLETED
            )
            finished.cancel()  # stops the waiting only; the jobs are cancelled below
            force.cancel()
        unfinished = [task for task in tasks if not task.done()]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks:
            log.info("shutdown_drained", finished=len(tasks) - len(unfinished),
                     cancelled=len(unfinished))  # fmt: skip
        notify.send("STOPPING=1")
