"""The PostgreSQL queue, for teams whose daemons outgrow one shared folder.

With `[queue] backend = "postgres"` the claim folders give way to procrastinate:

* Intake, on any daemon, moves a settled input into the shared staging area
  `inbox/.presgend/queue/<name>/` (one rename: the loser of a race finds nothing to move
  and does nothing), then defers one job naming that folder, with the folder's name as
  its queueing lock.
* Every daemon runs a procrastinate worker. Its task waits for the resource breaker and
  the disk, then runs the job through the same `Worker.run` as a folder claim, so the
  outcomes, the content index and the reports are the same.
* Workers beat a heartbeat in the database. Any daemon's keeper gives the jobs of a
  worker silent for `stalled_seconds` back to the queue, where another worker takes
  them; a job that has run `max_attempts` times ends in failed/ instead.
* Before its first output becomes visible a job checks in the database that it is still
  its worker's (status `doing`, its worker id); finishing a job is guarded the same way.
  A worker that stalled and woke up finds it is not, and discards its work.

Delivery is at least once: a job whose worker died after its video became visible and
before the job was finished runs again, and is then found in the content index.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from presgend.backends import IntakeSide, Parts, Service
from presgend.backends.postgres.database import (
    QUERIES,
    QUEUE,
    TASK,
    connect,
    dsn_of,
    has_schema,
    no_schema,
    owns,
    retry_if_owned,
    where,
)
from presgend.core import inputs, logs, owners
from presgend.core.config import Config
from presgend.core.errors import ClaimLost, JobError
from presgend.core.settings import Live
from presgend.inbox import claims, ledger
from presgend.pipeline.context import new_job_id
from presgend.pipeline.report import JobRecord, error_document, sha256_of

if TYPE_CHECKING:
    import procrastinate
    from procrastinate.job_context import JobContext

log = logs.get(__name__)


def staging_dir(inbox: Path) -> Path:
    return claims.control_dir(inbox) / "queue"


class PostgresBackend(Live):
    """One daemon's side of the queue: intake's hand-over, the worker, the keeper."""

    # procrastinate's worker has its slots from the start
    restart_only: ClassVar[tuple[tuple[str, str], ...]] = (("jobs", "max_concurrent"),)

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.settings = parts.settings
        self.inbox = self.config.paths.inbox
        self.worker = parts.worker
        self.outcomes = parts.outcomes
        self.drained = asyncio.Event()  # --once: intake has handed everything over
        self.stopped = False
        self.name = f"{owners.HOST}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.app: procrastinate.App | None = None
        self.runner: Any = None  # procrastinate's Worker
        self.owned: dict[str, tuple[int | None, int | None]] = {}  # job id: queue job, worker
        self.failed: set[int] = set()  # queue jobs to finish as failed
        self.cluster_running: dict[str, dict[str, Any]] = {}  # every worker's, each beat


    @property
    def staging(self) -> Path:
        return staging_dir(self.inbox)

    @classmethod
    def status(cls, config: Config) -> dict[str, Any]:
        from presgend.backends.postgres.status import collect

        return asyncio.run(collect(config))

    @classmethod
    def render(cls, snapshot: dict[str, Any]) -> str:
        from presgend.backends.postgres.status import render

        return render(snapshot)

    @classmethod
    def ready(cls, config: Config) -> str | None:
        """The database answers and has its tables (QueueUnavailable otherwise)."""

        async def probe() -> str:
            dsn = dsn_of(config)
            app = await connect(dsn, max_size=1)
            try:
                if not await has_schema(app):
                    raise no_schema(dsn)
            finally:
                await app.close_async()
            return f"{where(dsn)}, tables in place"

        return asyncio.run(probe())

    async def open(self) -> None:
        dsn = dsn_of(self.config)
        size = self.parts.concurrency() + 5
        self.app = await connect(dsn, max_size=size, failed=self.failed)
        if not await has_schema(self.app):
            await self.app.close_async()
            raise no_schema(dsn)
        self.app.task(name=TASK, queue=QUEUE, pass_context=True)(self._task)
        self.staging.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        if self.app is not None:
            await self.app.connector.execute_query_async(
                query=QUERIES.forget_daemon, name=self.name
            )
            await self.app.close_async()

    def services(self, *, once: bool) -> dict[str, Service]:
        return {"worker": self.run_worker(once), "keeper": self.keep(self.parts.snapshot)}

    def intake_drained(self) -> bool:
        self.drained.set()  # the queue's workers run what was handed over
        return True

    def running_elsewhere(self) -> dict[str, dict[str, Any]]:
        return dict(self.cluster_running)

    # -- intake's hand-over ------------------------------------------------------------------

    async def admit(self) -> None:
        await self.hand_over(self.parts.intake, lambda: not self.parts.stopping())

    async def enqueue(self, name: str, job_id: str) -> bool:
        """Stage `name` (and its sidecars) and defer its job; False if another daemon
        staged it first. On a database error the files go back to the inbox."""
        from procrastinate.exceptions import AlreadyEnqueued

        assert self.app is not None
        sidecars = inputs.sidecars_of(self.inbox, name)
        staged = claims.claim(self.inbox, name, sidecars, job_id, into=self.staging)
        if staged is None:
            log.info("claimed_elsewhere", input=name)
            return False
        try:
            queue_job = await self._defer(staged, job_id, name)
        except AlreadyEnqueued:
            return True
        except Exception as exc:
            back = self.outcomes.returned(staged)
            log.error("queue_defer_failed", input=name, error=str(exc), files=back)
            raise
        log.info("input_queued", input=name, job_id=job_id, queue_job=queue_job,
                 staged=staged.folder.name)  # fmt: skip
        return True

    async def hand_over(self, intake: IntakeSide, going_on: Callable[[], bool]) -> None:
        """Every ready input to the queue, while the outbox has room; on a database
        error the file is back in the inbox and intake sees it again at its rescan."""
        while intake.ready and going_on() and self.worker.disk_ok():
            name = intake.take()
            assert name is not None
            job_id = ledger.job_id_of(self.inbox, inputs.sidecars_of(self.inbox, name))
            try:
                await self.enqueue(name, job_id or new_job_id())
            except Exception as exc:
                log.error("queue_unavailable", input=name, error=str(exc),
                          action="retried at the next rescan")  # fmt: skip
                return

    async def _defer(self, staged: claims.Claim, job_id: str, label: str) -> int:
        assert self.app is not None
        deferrer = self.app.configure_task(TASK, queue=QUEUE, queueing_lock=staged.folder.name)
        return await deferrer.defer_async(
            job_id=job_id, folder=staged.folder.name, main=staged.main,
            files=list[Any](staged.files), label=label,
        )  # fmt: skip

    # -- the worker --------------------------------------------------------------------------

    async def work(self, *, concurrency: int, wait: bool) -> None:
        """Run procrastinate's worker until `stop` (or, without `wait`, an empty queue)."""
        from procrastinate.worker import Worker as Runner

        assert self.app is not None
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

    async def run_worker(self, once: bool) -> None:
        """The queue's worker as a daemon service; with `once`, until everything handed
        over has run."""
        concurrency = self.parts.concurrency()
        if once:
            await self.drained.wait()
            await self.work(concurrency=concurrency, wait=False)
            log.info("inbox_drained")
            self.parts.finished()
            return
        await self.work(concurrency=concurrency, wait=True)
        if not self.stopped:
            raise RuntimeError("the queue worker stopped (its database connection failed)")

    def stop(self) -> None:
        """Fetch no more jobs; the running ones are the Worker's to drain."""
        self.stopped = True
        if self.runner is not None:
            self.runner.stop()

    async def _task(
        self, context: JobContext, *, job_id: str, folder: str, main: str,
        files: list[str], label: str,
    ) -> None:  # fmt: skip
        assert self.app is not None
        app, queue_job = self.app, context.job
        staged = claims.Claim(self.staging / folder, main, files)
        if not staged.path.exists():
            log.error("queue_input_missing", job_id=job_id, staged=folder, input=label)
            return
        attempt = queue_job.attempts + 1
        if attempt > self.config.queue.max_attempts:
            record = JobRecord(job_id, self.inbox / label, inputs.reported_kind(main))
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
            return
        log.info("input_claimed", input=label, job_id=job_id, queue_job=queue_job.id,
                 attempt=attempt, worker=self.name)  # fmt: skip

        async def fence() -> None:
            if not await owns(app, queue_job.id, queue_job.worker_id):
                raise ClaimLost(f"queue job {queue_job.id} was given to another worker")

        async def give_back() -> None:
            back = await retry_if_owned(app.job_manager, queue_job.id, queue_job.worker_id)
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

    # -- the keeper ------------------------------------------------------------------------------

    async def keep(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Every heartbeat: say this daemon is alive (with its state, for `status`), give
        stalled workers' jobs back to the queue, stop work that is no longer ours, and
        queue staged inputs whose job was never deferred."""
        assert self.app is not None
        failing_since: float | None = None
        while True:
            try:
                await self.beat(snapshot())
                self.cluster_running = await self.running_everywhere()
                await self.retry_stalled()
                await self.check_ownership()
                await self.requeue_orphans()
                failing_since = None
            except Exception as exc:  # a database blip: try again at the next beat
                failing_since = failing_since or time.monotonic()
                log.error("queue_keeper_failed", error=str(exc) or type(exc).__name__)
                if time.monotonic() - failing_since > self.config.queue.stalled_seconds:
                    raise  # gone for good: the daemon stops, and systemd starts it again
            await asyncio.sleep(self.config.queue.heartbeat_seconds)

    async def beat(self, state: dict[str, Any]) -> None:
        assert self.app is not None
        worker_id = getattr(self.runner, "worker_id", None)
        await self.app.connector.execute_query_async(
            query=QUERIES.beat,
            name=self.name, host=owners.HOST, pid=os.getpid(), worker_id=worker_id,
            state=state,
        )  # fmt: skip

    async def running_everywhere(self) -> dict[str, dict[str, Any]]:
        """Every live worker's running jobs (phase, progress), from their last beat."""
        assert self.app is not None
        rows = await self.app.connector.execute_query_all_async(
            query=QUERIES.running_everywhere,
            stale=self.config.queue.stalled_seconds,
        )
        return {job["job_id"]: job for row in rows for job in (row["running"] or [])}

    async def retry_stalled(self) -> None:
        assert self.app is not None
        stalled = await self.app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=self.config.queue.stalled_seconds, queue=QUEUE
        )
        for job in stalled:
            if await retry_if_owned(self.app.job_manager, job.id, job.worker_id):
                args = job.task_kwargs
                log.warning("queue_job_stalled", queue_job=job.id, worker_id=job.worker_id,
                            job_id=args.get("job_id"), input=args.get("label"),
                            action="given back to the queue")  # fmt: skip
        await self.app.job_manager.prune_stalled_workers(self.config.queue.stalled_seconds * 10)

    async def check_ownership(self) -> None:
        """A job of ours that the keepers gave to another worker (we stalled) stops now."""
        assert self.app is not None
        for job_id, (queue_job, worker_id) in list(self.owned.items()):
            running = self.worker.jobs.get(job_id)
            if running is None or running.fenced:
                continue
            if not await owns(self.app, queue_job, worker_id):
                self.worker.stop(job_id, "lost")

    async def requeue_orphans(self) -> None:
        """Staged folders older than the stall window with no job (a daemon died between
        the rename and the defer) get their job now; the queueing lock stops a second."""
        from procrastinate.exceptions import AlreadyEnqueued

        assert self.app is not None
        limit = self.config.queue.stalled_seconds
        now = claims.share_now(self.inbox)
        try:
            folders = [p for p in self.staging.iterdir() if p.is_dir()]
        except OSError:
            return
        old = [f for f in folders if now - _mtime(f) > limit]
        if not old:
            return
        rows = await self.app.connector.execute_query_all_async(
            query=QUERIES.deferred_folders,
            task=TASK,
            folders=[f.name for f in old],
        )
        known = {row["folder"] for row in rows}
        for folder in old:
            if folder.name in known:
                continue
            owner = claims.owner_of(folder)
            names = sorted(p.name for p in folder.iterdir() if p.name not in claims.CONTROL_FILES)
            main = owner.get("main") or next((n for n in names if inputs.classify(n) == "main"), "")
            if not main or main not in names:
                continue
            staged = claims.Claim(folder, main, [main, *[n for n in names if n != main]])
            job_id = str(owner.get("job_id") or uuid.uuid4().hex[:12])
            try:
                queue_job = await self._defer(staged, job_id, main)
            except AlreadyEnqueued:
                continue
            log.warning("queue_orphan_requeued", staged=folder.name, input=main,
                        queue_job=queue_job)  # fmt: skip


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
