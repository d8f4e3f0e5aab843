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
import datetime
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from presgend.backends import claims
from presgend.core import inputs, logs
from presgend.core.config import Config
from presgend.core.errors import ClaimLost, JobError, PresgendError
from presgend.core.settings import Settings
from presgend.daemon import ledger
from presgend.pipeline.context import new_job_id
from presgend.pipeline.report import JobRecord, error_document, sha256_of

if TYPE_CHECKING:
    import procrastinate
    from procrastinate.job_context import JobContext
    from procrastinate.jobs import Job

    from presgend.daemon.intake import Intake
    from presgend.daemon.outcomes import Outcomes
    from presgend.daemon.worker import Worker

log = logs.get("presgend.queue")

QUEUE = "presgend"
TASK = "presgend.job"
DSN_ENV = "PRESGEND_QUEUE_DSN"

# the job's row, locked, while it is still the given worker's
_OWNED = """
    SELECT id FROM procrastinate_jobs
     WHERE id = %(job_id)s AND status = 'doing'
       AND worker_id IS NOT DISTINCT FROM %(worker_id)s
       FOR UPDATE
"""
_FINISH = f"""
    WITH owned AS MATERIALIZED ({_OWNED})
    SELECT id, procrastinate_finish_job_v1(id, %(status)s, %(delete_job)s)::text
      FROM owned
"""
_RETRY = f"""
    WITH owned AS MATERIALIZED ({_OWNED})
    SELECT id, procrastinate_retry_job_v2(id, %(retry_at)s, NULL, NULL, NULL)::text
      FROM owned
"""
_SCHEMA = """
    CREATE TABLE IF NOT EXISTS presgend_daemons (
        name text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        worker_id bigint,
        started_at timestamptz NOT NULL DEFAULT now(),
        seen_at timestamptz NOT NULL DEFAULT now(),
        state jsonb NOT NULL DEFAULT '{}'
    )
"""


class QueueUnavailable(PresgendError):
    """The queue's database cannot be used; the sentence says what to do."""


def dsn_of(config: Config) -> str:
    value = os.environ.get(DSN_ENV) or config.queue.dsn
    if not value:
        raise QueueUnavailable(
            f"The PostgreSQL queue needs a database: set queue.dsn in the config or {DSN_ENV}."
        )
    return value


def where(dsn: str) -> str:
    """host:port/database of a connection string, without its password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "the configured database"
    host = parts.get("host") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


def no_schema(dsn: str) -> QueueUnavailable:
    return QueueUnavailable(
        f"The queue database at {where(dsn)} has no presgend tables yet; run "
        "`presgend queue init` once."
    )


def staging_dir(inbox: Path) -> Path:
    return claims.control_dir(inbox) / "queue"


def make_app(dsn: str, *, max_size: int = 6, failed: set[int] | None = None) -> procrastinate.App:
    """A procrastinate app on `dsn` whose job manager only lets a job's worker finish or
    retry it; not opened yet. A job whose id is in `failed` ends as failed (presgend's
    tasks return normally and file the failure themselves)."""
    try:
        import procrastinate
        from procrastinate.manager import JobManager
    except ImportError:
        raise QueueUnavailable(
            "The PostgreSQL queue needs procrastinate: pip install 'presgend[queue]'."
        ) from None

    class OwnerOnlyJobManager(JobManager):
        async def finish_job(self, job: Job, status: Any, delete_job: bool) -> None:
            if failed is not None and job.id in failed:
                failed.discard(job.id)
                status = type(status).FAILED
            rows = await self.connector.execute_query_all_async(
                query=_FINISH,
                job_id=job.id,
                worker_id=job.worker_id,
                status=status.value,
                delete_job=delete_job,
            )
            if not rows:
                log.warning("queue_finish_skipped", queue_job=job.id, reason="no longer ours")

        async def retry_job(self, job: Job, retry_at: Any = None, *args: Any, **kw: Any) -> None:
            await retry_if_owned(self, job.id, job.worker_id, retry_at)

    connector = procrastinate.PsycopgConnector(
        conninfo=dsn, min_size=1, max_size=max_size, timeout=30
    )
    app = procrastinate.App(connector=connector)
    app.job_manager = OwnerOnlyJobManager(connector)
    return app


async def retry_if_owned(
    manager: Any, job_id: int | None, worker_id: int | None, retry_at: Any = None
) -> bool:
    """Put a job back in the queue if it is still `doing` on `worker_id`."""
    rows = await manager.connector.execute_query_all_async(
        query=_RETRY,
        job_id=job_id,
        worker_id=worker_id,
        retry_at=retry_at or datetime.datetime.now(datetime.timezone.utc),
    )
    return bool(rows)


async def owns(app: procrastinate.App, job_id: int | None, worker_id: int | None) -> bool:
    row = await app.connector.execute_query_one_async(
        query=f"SELECT count(*) AS n FROM ({_OWNED}) AS owned",
        job_id=job_id,
        worker_id=worker_id,
    )
    return bool(row["n"])


async def connect(
    dsn: str, *, max_size: int = 6, failed: set[int] | None = None
) -> procrastinate.App:
    """An opened app; QueueUnavailable with one sentence when the database cannot be
    reached or has no schema."""
    import psycopg

    try:
        probe = await psycopg.AsyncConnection.connect(dsn, connect_timeout=10)
        await probe.close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QueueUnavailable(
            f"The queue database at {where(dsn)} could not be reached ({reason})."
        ) from None
    app = make_app(dsn, max_size=max_size, failed=failed)
    await app.open_async()
    return app


async def has_schema(app: procrastinate.App) -> bool:
    row = await app.connector.execute_query_one_async(
        query="SELECT to_regclass('procrastinate_jobs') IS NOT NULL AND "
        "to_regclass('presgend_daemons') IS NOT NULL AS ok"
    )
    return bool(row["ok"])


async def init_schema(dsn: str) -> bool:
    """Apply procrastinate's schema and presgend's table; False if they were there."""
    app = await connect(dsn, max_size=2)
    try:
        if await has_schema(app):
            return False
        row = await app.connector.execute_query_one_async(
            query="SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS ok"
        )
        if not row["ok"]:
            await app.schema_manager.apply_schema_async()
        await app.connector.execute_query_async(query=_SCHEMA)
        return True
    finally:
        await app.close_async()


class Queue:
    """One daemon's side of the queue: intake's hand-over, the worker, the keeper."""

    def __init__(self, settings: Settings | Config, *, worker: Worker, outcomes: Outcomes) -> None:
        self.settings = Settings.of(settings)
        self.inbox = self.config.paths.inbox
        self.worker = worker
        self.outcomes = outcomes
        self.name = f"{claims.HOST}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.app: procrastinate.App | None = None
        self.runner: Any = None  # procrastinate's Worker
        self.owned: dict[str, tuple[int | None, int | None]] = {}  # job id: queue job, worker
        self.failed: set[int] = set()  # queue jobs to finish as failed
        self.cluster_running: dict[str, dict[str, Any]] = {}  # every worker's, each beat

    @property
    def config(self) -> Config:
        """The live settings (a reload replaces them)."""
        return self.settings.current

    @property
    def staging(self) -> Path:
        return staging_dir(self.inbox)

    async def open(self, max_concurrent: int) -> None:
        dsn = dsn_of(self.config)
        self.app = await connect(dsn, max_size=max_concurrent + 5, failed=self.failed)
        if not await has_schema(self.app):
            await self.app.close_async()
            raise no_schema(dsn)
        self.app.task(name=TASK, queue=QUEUE, pass_context=True)(self._task)
        self.staging.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        if self.app is not None:
            await self.app.connector.execute_query_async(
                query="DELETE FROM presgend_daemons WHERE name = %(name)s",
                name=self.name,
            )
            await self.app.close_async()

    # -- intake's hand-over ------------------------------------------------------------------

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

    async def hand_over(self, intake: Intake, going_on: Callable[[], bool]) -> None:
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

    def stop(self) -> None:
        """Fetch no more jobs; the running ones are the Worker's to drain."""
        if self.runner is not None:
            self.runner.stop()

    async def _task(
        self, context: JobContext, *, job_id: str, folder: str, main: str,
        files: list[str], label: str,
    ) -> None:  # fmt: skip
        from presgend.daemon.worker import RunningJob

        assert self.app is not None
        app, queue_job = self.app, context.job
        staged = claims.Claim(self.staging / folder, main, files)
        job = RunningJob(job_id, staged, self.inbox / label, task=asyncio.current_task())
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
            )
            self.outcomes.failed(job_id, job.label, staged, error_document(record, error))
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
            status = await self.worker.run(
                job, fence=fence, give_back=give_back, wait_for_admission=True
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
            query="""INSERT INTO presgend_daemons (name, host, pid, worker_id, state)
                     VALUES (%(name)s, %(host)s, %(pid)s, %(worker_id)s, %(state)s)
                     ON CONFLICT (name) DO UPDATE
                        SET worker_id = EXCLUDED.worker_id, state = EXCLUDED.state,
                            seen_at = now()""",
            name=self.name, host=claims.HOST, pid=os.getpid(), worker_id=worker_id,
            state=state,
        )  # fmt: skip

    async def running_everywhere(self) -> dict[str, dict[str, Any]]:
        """Every live worker's running jobs (phase, progress), from their last beat."""
        assert self.app is not None
        rows = await self.app.connector.execute_query_all_async(
            query="""SELECT state->'running' AS running FROM presgend_daemons
                      WHERE seen_at > now() - make_interval(secs => %(stale)s)""",
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
            query="""SELECT args->>'folder' AS folder FROM procrastinate_jobs
                      WHERE task_name = %(task)s AND args->>'folder' = ANY(%(folders)s)""",
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


# -- status --------------------------------------------------------------------------------


async def collect(config: Config) -> dict[str, Any]:
    """The cluster as the database sees it: every daemon, queued, running, recent jobs."""
    dsn = dsn_of(config)
    app = await connect(dsn, max_size=2)
    try:
        if not await has_schema(app):
            raise no_schema(dsn)
        stale = config.queue.stalled_seconds
        daemons = await app.connector.execute_query_all_async(
            query="""SELECT d.name, d.host, d.pid, d.worker_id, d.state,
                            extract(epoch FROM now() - d.seen_at) AS seen_ago
                       FROM presgend_daemons d
                      WHERE d.seen_at > now() - make_interval(secs => %(stale)s)
                      ORDER BY d.started_at""",
            stale=stale,
        )
        jobs = await app.connector.execute_query_all_async(
            query="""SELECT j.id, j.status::text AS status, j.args, j.attempts, j.worker_id,
                            (SELECT max(e.at) FROM procrastinate_events e
                              WHERE e.job_id = j.id) AS at
                       FROM procrastinate_jobs j
                      WHERE j.task_name = %(task)s
                        AND (j.status IN ('todo', 'doing')
                             OR j.id IN (SELECT id FROM procrastinate_jobs
                                          WHERE task_name = %(task)s
                                          ORDER BY id DESC LIMIT 50))
                      ORDER BY j.id""",
            task=TASK,
        )
    finally:
        await app.close_async()
    by_worker = {d["worker_id"]: d for d in daemons if d["worker_id"] is not None}
    progress = {job["job_id"]: job for d in daemons for job in d["state"].get("running", [])}
    outcomes = {r["job_id"]: r["status"] for d in daemons for r in d["state"].get("recent", [])}

    def job_view(row: dict[str, Any]) -> dict[str, Any]:
        args = row["args"] or {}
        owner = by_worker.get(row["worker_id"])
        live = progress.get(args.get("job_id"), {})
        return {
            "job_id": args.get("job_id"),
            "queue_job": row["id"],
            "input": args.get("label"),
            "status": row["status"],
            "outcome": outcomes.get(args.get("job_id")),
            "attempts": row["attempts"],
            "worker": f"{owner['host']}:{owner['pid']}" if owner else None,
            "phase": live.get("phase", "start"),
            "progress": live.get("progress", 0.0),
            "at": row["at"].isoformat() if row["at"] else None,
        }

    views = [job_view(row) for row in jobs]
    finished = [v for v in views if v["status"] not in ("todo", "doing")]
    finished.sort(key=lambda v: v["at"] or "", reverse=True)
    return {
        "inbox": str(config.paths.inbox),
        "backend": "postgres",
        "database": where(dsn),
        "daemons": [
            {
                "host": d["host"],
                "pid": d["pid"],
                "worker_id": d["worker_id"],
                "seen_seconds_ago": round(float(d["seen_ago"]), 1),
                "running": len(d["state"].get("running", [])),
                "breaker": d["state"].get("breaker", {}),
                "paused": d["state"].get("paused", False),
                "low_disk": d["state"].get("low_disk", False),
            }
            for d in daemons
        ],
        "queued": [v for v in views if v["status"] == "todo"],
        "running": [v for v in views if v["status"] == "doing"],
        "recent": finished[:20],
    }


def render(snapshot: dict[str, Any]) -> str:
    lines = [f"inbox    {snapshot['inbox']}", f"queue    postgres {snapshot['database']}"]
    if not snapshot["daemons"]:
        lines.append("workers  none running")
    for d in snapshot["daemons"]:
        b = d.get("breaker") or {}
        flags = "  (paused: inbox unavailable)" if d.get("paused") else ""
        flags += "  (paused: outbox low on space)" if d.get("low_disk") else ""
        lines.append(
            f"worker   {d['host']}:{d['pid']}  {d['running']} running  seen "
            f"{d['seen_seconds_ago']:.0f}s ago  breaker {b.get('state')}{flags}"
        )
    lines.append(f"queued   {len(snapshot['queued'])}")
    for job in snapshot["queued"]:
        lines.append(f"queued   {job['job_id']}  {job['input']}  (attempts {job['attempts']})")
    for job in snapshot["running"]:
        lines.append(
            f"running  {job['job_id']}  {job['input']}  on {job['worker'] or '?'}  "
            f"{job['phase']} {job['progress'] * 100:.0f}%"
        )
    for job in snapshot["recent"][:10]:
        status = job["outcome"] or job["status"]
        at = (job["at"] or "")[:19].replace("T", " ")
        lines.append(f"{status:<10}{at:<21}{job['input']}  ({job['job_id']})")
    return "\n".join(lines)
