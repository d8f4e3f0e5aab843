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

`PostgresBackend` is the three parts together: the hand-over (handover.py), the tasks
(tasks.py) and the keeper (keeper.py); every query goes through `database.Database`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any, ClassVar

from presgend.backends import Parts, Service
from presgend.backends.postgres.database import (
    QUEUE,
    TASK,
    Database,
    connect,
    dsn_of,
    no_schema,
    where,
)
from presgend.backends.postgres.handover import Handover, staging_dir
from presgend.backends.postgres.keeper import Keeper
from presgend.backends.postgres.tasks import Tasks
from presgend.core import logs, owners
from presgend.core.config import Config
from presgend.core.settings import Live

log = logs.get(__name__)


class PostgresBackend(Live):
    """One daemon's side of the queue: the hand-over, the tasks, the keeper."""

    # procrastinate's worker has its slots from the start
    restart_only: ClassVar[tuple[tuple[str, str], ...]] = (("jobs", "max_concurrent"),)

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.settings = parts.settings
        self.inbox = self.config.paths.inbox
        self.drained = asyncio.Event()  # --once: intake has handed everything over
        self.name = f"{owners.HOST}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.failed: set[int] = set()  # queue jobs to finish as failed
        self.app: Any = None  # procrastinate's App, once opened
        self.handover: Handover | None = None
        self.tasks: Tasks | None = None
        self.keeper: Keeper | None = None

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
                if not await Database(app).has_schema():
                    raise no_schema(dsn)
            finally:
                await app.close_async()
            return f"{where(dsn)}, tables in place"

        return asyncio.run(probe())

    async def open(self) -> None:
        dsn = dsn_of(self.config)
        size = self.parts.concurrency() + 5
        self.app = app = await connect(dsn, max_size=size, failed=self.failed)
        if not await Database(app).has_schema():
            await app.close_async()
            raise no_schema(dsn)
        parts, settings = self.parts, self.settings
        self.handover = Handover(settings, app, parts.worker, parts.outcomes)
        self.tasks = Tasks(
            settings, app, name=self.name, worker=parts.worker, outcomes=parts.outcomes,
            failed=self.failed, staging=staging_dir(self.inbox),
        )  # fmt: skip
        self.keeper = Keeper(
            settings, app, name=self.name, tasks=self.tasks, handover=self.handover,
            worker=parts.worker,
        )  # fmt: skip
        app.task(name=TASK, queue=QUEUE, pass_context=True)(self.tasks.run)
        staging_dir(self.inbox).mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        if self.app is not None:
            await Database(self.app).forget_daemon(self.name)
            await self.app.close_async()

    def services(self, *, once: bool) -> dict[str, Service]:
        assert self.keeper is not None
        return {"worker": self.run_worker(once), "keeper": self.keeper.keep(self.parts.snapshot)}

    async def admit(self) -> None:
        assert self.handover is not None
        await self.handover.hand_over(self.parts.intake, lambda: not self.parts.stopping())

    def intake_drained(self) -> bool:
        self.drained.set()  # the queue's workers run what was handed over
        return True

    def running_elsewhere(self) -> dict[str, dict[str, Any]]:
        return dict(self.keeper.cluster_running) if self.keeper else {}

    async def run_worker(self, once: bool) -> None:
        """The queue's worker as a daemon service; with `once`, until everything handed
        over has run."""
        assert self.tasks is not None
        concurrency = self.parts.concurrency()
        if once:
            await self.drained.wait()
            await self.tasks.work(concurrency=concurrency, wait=False)
            log.info("inbox_drained")
            self.parts.finished()
            return
        await self.tasks.work(concurrency=concurrency, wait=True)
        if not self.tasks.stopped:
            raise RuntimeError("the queue worker stopped (its database connection failed)")

    def stop(self) -> None:
        """Fetch no more jobs; the running ones are the Worker's to drain."""
        if self.tasks is not None:
            self.tasks.stop()
