"""The queue's keeper on every daemon: each heartbeat it says this daemon is alive (with
its state, for `presgend status`), gives the jobs of workers silent for
`queue.stalled_seconds` back to the queue, stops work of ours that was given to another
worker, and defers staged inputs whose job never was."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from presgend.backends import WorkerSide
from presgend.backends.postgres.database import QUEUE, Database
from presgend.backends.postgres.handover import Handover
from presgend.backends.postgres.tasks import Tasks
from presgend.core import logs, owners
from presgend.core.settings import Live, Settings

log = logs.get(__name__)


class Keeper(Live):
    def __init__(
        self,
        settings: Settings,
        app: Any,
        *,
        name: str,
        tasks: Tasks,
        handover: Handover,
        worker: WorkerSide,
    ) -> None:
        self.settings = settings
        self.app = app
        self.db = Database(app)
        self.name = name
        self.tasks = tasks
        self.handover = handover
        self.worker = worker
        self.cluster_running: dict[str, dict[str, Any]] = {}  # every worker's, each beat

    async def keep(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        failing_since: float | None = None
        while True:
            try:
                await self.db.beat(name=self.name, host=owners.HOST, pid=os.getpid(),
                                   worker_id=self.tasks.worker_id, state=snapshot())  # fmt: skip
                self.cluster_running = await self.running_everywhere()
                await self.retry_stalled()
                await self.tasks.lost_jobs(lambda job_id: self.worker.stop(job_id, "lost"))
                await self.handover.requeue_orphans()
                failing_since = None
            except Exception as exc:  # a database blip: try again at the next beat
                failing_since = failing_since or time.monotonic()
                log.error("queue_keeper_failed", error=str(exc) or type(exc).__name__)
                if time.monotonic() - failing_since > self.config.queue.stalled_seconds:
                    raise  # gone for good: the daemon stops, and systemd starts it again
            await asyncio.sleep(self.config.queue.heartbeat_seconds)

    async def running_everywhere(self) -> dict[str, dict[str, Any]]:
        """Every live worker's running jobs (phase, progress), from their last beat."""
        rows = await self.db.running_everywhere(self.config.queue.stalled_seconds)
        return {job["job_id"]: job for row in rows for job in (row["running"] or [])}

    async def retry_stalled(self) -> None:
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(
            seconds_since_heartbeat=self.config.queue.stalled_seconds, queue=QUEUE
        )
        for job in stalled:
            if await self.db.retry_if_owned(job.id, job.worker_id):
                args = job.task_kwargs
                log.warning("queue_job_stalled", queue_job=job.id, worker_id=job.worker_id,
                            job_id=args.get("job_id"), input=args.get("label"),
                            action="given back to the queue")  # fmt: skip
        await manager.prune_stalled_workers(self.config.queue.stalled_seconds * 10)
