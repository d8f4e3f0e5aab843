"""The queue's worker on this daemon: procrastinate's worker takes jobs from the
database, and each runs through the daemon's own `Worker` (admission, the fence, the
outcomes), once the load and the disk allow; a job interrupted `queue.max_attempts`
times ends in failed/ instead of round a loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from presgend.backends import OutcomesSide, WorkerSide
from presgend.backends.postgres.database import QUEUE, Database
from presgend.core import inputs, logs
from presgend.core.errors import ClaimLost, JobError
from presgend.core.settings import Live, Settings
from presgend.inbox import claims
from presgend.pipeline.report import JobRecord, error_document, sha256_of

if TYPE_CHECKING:
    from procrastinate.job_context import JobContext

log = logs.get(__name__)


class Tasks(Live):
    def __init__(
        self,
        settings: Settings,
        app: Any,
        *,
        name: str,
        worker: WorkerSide,
        outcomes: OutcomesSide,
        failed: set[int],
        staging: Any,
    ) -> None:
        self.settings = settings
        self.app = app
        self.db = Database(app)
        self.name = name
        self.worker = worker
        self.outcomes = outcomes
        self.failed = failed  # queue jobs to finish as failed (the job manager reads it)
        self.staging = staging
        self.inbox = self.config.paths.inbox
        self.runner: Any = None  # procrastinate's Worker
        self.stopped = False
        self.owned: dict[str, tuple[int | None, int | None]] = {}  # job id: queue job, worker

    @property
    def worker_id(self) -> int | None:
        return getattr(self.runner, "worker_id", None)

    async def work(self, *, concurrency: int, wait: bool) -> None:
        """Run procrastinate's worker until `stop` (or, without `wait`, an empty queue)."""
        from procrastinate.worker import Worker as Runner

        q = self.config.queue
        self.runner = Runner(
            self.app,
            queues=[QUEUE],
            name=self.name,
            concurrency=concurrency,
            wait=wait,
            install_signal_handlers=False,
            update_heartbeat_interval=q.heartbeat_seconds,
            stalled_worker_timeout=q.stalled_seconds,
            fetch_job_polling_interval=max(1.0, q.heartbeat_seconds),
            abort_job_polling_interval=max(1.0, q.heartbeat_seconds),
            shutdown_graceful_timeout=None,  # Worker.drain applies jobs.grace_seconds
        )
        await self.runner.run()

    def stop(self) -> None:
        """Fetch no more jobs; the running ones are the Worker's to drain."""
        self.stopped = True
        if self.runner is not None:
            self.runner.stop()

    async def run(
        self, context: JobContext, *, job_id: str, folder: str, main: str,
        files: list[str], label: str,
    ) -> None:  # fmt: skip
        """One queue job: its staged input through the daemon's worker."""
        queue_job = context.job
        staged = claims.Claim(self.staging / folder, main, files)
        if not staged.path.exists():
            log.error("queue_input_missing", job_id=job_id, staged=folder, input=label)
            return
        attempt = queue_job.attempts + 1
        if attempt > self.config.queue.max_attempts:
            await self.out_of_attempts(queue_job, job_id, staged, label)
            return
        log.info("input_claimed", input=label, job_id=job_id, queue_job=queue_job.id,
                 attempt=attempt, worker=self.name)  # fmt: skip
        db = self.db

        async def fence() -> None:
            if not await db.owns(queue_job.id, queue_job.worker_id):
                raise ClaimLost(f"queue job {queue_job.id} was given to another worker")

        async def give_back() -> None:
            back = await db.retry_if_owned(queue_job.id, queue_job.worker_id)
            log.warning("job_returned", job_id=job_id, queue_job=queue_job.id, requeued=back)

        self.owned[job_id] = (queue_job.id, queue_job.worker_id)
        try:
            status = await self.worker.take_over(
                job_id, staged, self.inbox / label, fence=fence, give_back=give_back
            )
            if status == "failed":
                self.failed.add(queue_job.id or 0)
        finally:
            self.owned.pop(job_id, None)

    async def out_of_attempts(
        self, queue_job: Any, job_id: str, staged: claims.Claim, label: str
    ) -> None:
        record = JobRecord(job_id, self.inbox / label, inputs.reported_kind(staged.main))
        record.sha256 = await asyncio.to_thread(sha256_of, staged.path)
        runs = queue_job.attempts
        error = JobError(
            f"The job was interrupted {runs} time{'s' if runs != 1 else ''} (its worker "
            "died or stalled), as many as queue.max_attempts allows, so it was not tried "
            "again.",
            phase="queue",
            detail=f"queue job {queue_job.id}; queue.max_attempts = "
            f"{self.config.queue.max_attempts}",
            fault="presgend",
        )
        self.outcomes.failed(job_id, self.inbox / label, staged, error_document(record, error))
        self.failed.add(queue_job.id or 0)
        log.error("job_failed", job_id=job_id, input=label, error=str(error),
                  attempts=queue_job.attempts)  # fmt: skip

    async def lost_jobs(self, stop: Callable[[str], object]) -> None:
        """A job of ours that the keepers gave to another worker (we stalled) stops now."""
        for job_id, (queue_job, worker_id) in list(self.owned.items()):
            running = self.worker.jobs.get(job_id)
            if running is None or running.fenced:
                continue
            if not await self.db.owns(queue_job, worker_id):
                stop(job_id)
