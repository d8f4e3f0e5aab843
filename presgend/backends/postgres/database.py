"""The queue's database: connecting (one sentence when it cannot be used), the schema,
the owner-only job manager, and `Database`, the one place every query is run from (as
procrastinate's `JobManager` holds all of its job SQL); the statements are read once from
`queries.sql` by `Queries`.
"""

from __future__ import annotations

import datetime
import os
import re
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

from presgend.core import logs
from presgend.core.config import Config
from presgend.core.errors import PresgendError

if TYPE_CHECKING:
    import procrastinate
    from procrastinate.jobs import Job

log = logs.get(__name__)

QUEUE = "presgend"
TASK = "presgend.job"
DSN_ENV = "PRESGEND_QUEUE_DSN"


class Queries:
    """The statements of `queries.sql` by name (`QUERIES.beat`), read on first use."""

    @cached_property
    def _all(self) -> dict[str, str]:
        text = resources.files(__package__).joinpath("queries.sql").read_text(encoding="utf-8")
        found: dict[str, str] = {}
        for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
            name, _, body = block.partition("\n")
            lines = [line for line in body.splitlines() if not line.startswith("--")]
            found[name.strip()] = "\n".join(lines).strip()
        owned = found["owned"]
        return {name: sql.replace("{owned}", owned) for name, sql in found.items()}

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._all[name]
        except KeyError:
            raise AttributeError(f"queries.sql has no query named {name}") from None


QUERIES = Queries()


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
                query=QUERIES.finish_owned,
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


class Database:
    """Every statement presgend runs on the queue's database, by name, over one opened
    procrastinate app. The service, the keeper and `presgend status` ask it; none of
    them runs SQL itself."""

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    async def has_schema(self) -> bool:
        row = await self.app.connector.execute_query_one_async(query=QUERIES.has_schema)
        return bool(row["ok"])

    async def beat(
        self, *, name: str, host: str, pid: int, worker_id: int | None, state: dict[str, Any]
    ) -> None:
        """This daemon is alive, with its state for `presgend status`."""
        await self.app.connector.execute_query_async(
            query=QUERIES.beat, name=name, host=host, pid=pid, worker_id=worker_id, state=state
        )

    async def forget_daemon(self, name: str) -> None:
        await self.app.connector.execute_query_async(query=QUERIES.forget_daemon, name=name)

    async def running_everywhere(self, stale: float) -> list[dict[str, Any]]:
        """Every live worker's running jobs, as its last beat said."""
        rows: list[dict[str, Any]] = await self.app.connector.execute_query_all_async(
            query=QUERIES.running_everywhere, stale=stale
        )
        return rows

    async def live_daemons(self, stale: float) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.app.connector.execute_query_all_async(
            query=QUERIES.live_daemons, stale=stale
        )
        return rows

    async def jobs_for_status(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.app.connector.execute_query_all_async(
            query=QUERIES.jobs_for_status, task=TASK
        )
        return rows

    async def deferred_folders(self, folders: list[str]) -> set[str]:
        """Which of the staged `folders` have a job deferred for them."""
        rows = await self.app.connector.execute_query_all_async(
            query=QUERIES.deferred_folders, task=TASK, folders=folders
        )
        return {row["folder"] for row in rows}

    async def owns(self, job_id: int | None, worker_id: int | None) -> bool:
        """Whether queue job `job_id` is still `doing` on `worker_id` (the fence)."""
        row = await self.app.connector.execute_query_one_async(
            query=QUERIES.owns, job_id=job_id, worker_id=worker_id
        )
        return bool(row["n"])

    async def retry_if_owned(self, job_id: int | None, worker_id: int | None) -> bool:
        return await retry_if_owned(self.app.job_manager, job_id, worker_id)


async def retry_if_owned(
    manager: Any, job_id: int | None, worker_id: int | None, retry_at: Any = None
) -> bool:
    """Put a job back in the queue if it is still `doing` on `worker_id`."""
    rows = await manager.connector.execute_query_all_async(
        query=QUERIES.retry_owned,
        job_id=job_id,
        worker_id=worker_id,
        retry_at=retry_at or datetime.datetime.now(datetime.timezone.utc),
    )
    return bool(rows)


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


async def init_schema(dsn: str) -> bool:
    """Apply procrastinate's schema and presgend's table; False if they were there."""
    app = await connect(dsn, max_size=2)
    try:
        if await Database(app).has_schema():
            return False
        row = await app.connector.execute_query_one_async(query=QUERIES.has_procrastinate)
        if not row["ok"]:
            await app.schema_manager.apply_schema_async()
        await app.connector.execute_query_async(query=QUERIES.schema)
        return True
    finally:
        await app.close_async()
