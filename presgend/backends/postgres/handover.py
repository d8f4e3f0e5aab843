"""Intake's hand-over to the queue: a settled input is moved (one rename) into the share's
staging area `inbox/.presgend/queue/<name>/` and one job is deferred for it, with the
folder's name as its queueing lock; a staged folder whose job was never deferred (its
daemon died between the two) gets one later."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from presgend.backends import IntakeSide, OutcomesSide, WorkerSide
from presgend.backends.postgres.database import QUEUE, TASK, Database
from presgend.core import inputs, logs
from presgend.core.settings import Live, Settings
from presgend.inbox import claims, ledger
from presgend.pipeline.context import new_job_id

log = logs.get(__name__)


def staging_dir(inbox: Path) -> Path:
    return claims.control_dir(inbox) / "queue"


class Handover(Live):
    def __init__(
        self, settings: Settings, app: Any, worker: WorkerSide, outcomes: OutcomesSide
    ) -> None:
        self.settings = settings
        self.app = app
        self.db = Database(app)
        self.worker = worker
        self.outcomes = outcomes
        self.inbox = self.config.paths.inbox
        self.staging = staging_dir(self.inbox)

    async def hand_over(self, intake: IntakeSide, going_on: Callable[[], bool]) -> None:
        """Every ready input to the queue, while the outbox has room; on a database
        error the file is back in the inbox and intake sees it again at its rescan."""
        while intake.ready and going_on() and self.worker.disk_ok():
            name = intake.take()
            assert name is not None
            job_id = ledger.job_id_for(self.inbox, name, inputs.sidecars_of(self.inbox, name))
            try:
                await self.enqueue(name, job_id or new_job_id())
            except Exception as exc:
                log.error("queue_unavailable", input=name, error=str(exc),
                          action="retried at the next rescan")  # fmt: skip
                return

    async def enqueue(self, name: str, job_id: str) -> bool:
        """Stage `name` (and its sidecars) and defer its job; False if another daemon
        staged it first. On a database error the files go back to the inbox."""
        from procrastinate.exceptions import AlreadyEnqueued

        sidecars = inputs.sidecars_of(self.inbox, name)
        staged = claims.claim(self.inbox, name, sidecars, job_id, into=self.staging)
        if staged is None:
            log.info("claimed_elsewhere", input=name)
            return False
        try:
            queue_job = await self.defer(staged, job_id, name)
        except AlreadyEnqueued:
            return True
        except Exception as exc:
            back = self.outcomes.returned(staged)
            log.error("queue_defer_failed", input=name, error=str(exc), files=back)
            raise
        log.info("input_queued", input=name, job_id=job_id, queue_job=queue_job,
                 staged=staged.folder.name)  # fmt: skip
        return True

    async def defer(self, staged: claims.Claim, job_id: str, label: str) -> int:
        deferrer = self.app.configure_task(TASK, queue=QUEUE, queueing_lock=staged.folder.name)
        queue_job: int = await deferrer.defer_async(
            job_id=job_id, folder=staged.folder.name, main=staged.main,
            files=list[Any](staged.files), label=label,
        )  # fmt: skip
        return queue_job

    async def requeue_orphans(self) -> None:
        """Staged folders older than the stall window with no job (a daemon died between
        the rename and the defer) get their job now; the queueing lock stops a second."""
        from procrastinate.exceptions import AlreadyEnqueued

        limit = self.config.queue.stalled_seconds
        now = claims.share_now(self.inbox)
        try:
            folders = [p for p in self.staging.iterdir() if p.is_dir()]
        except OSError:
            return
        old = [f for f in folders if now - _mtime(f) > limit]
        if not old:
            return
        known = await self.db.deferred_folders([f.name for f in old])
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
                queue_job = await self.defer(staged, job_id, main)
            except AlreadyEnqueued:
                continue
            log.warning("queue_orphan_requeued", staged=folder.name, input=main,
                        queue_job=queue_job)  # fmt: skip


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
