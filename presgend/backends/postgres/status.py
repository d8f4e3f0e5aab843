"""What `presgend status` shows with the PostgreSQL queue: every live daemon, and the
queued, running and recent jobs, as the database sees them."""

from __future__ import annotations

from typing import Any

from presgend.backends.postgres.database import Database, connect, dsn_of, no_schema, where
from presgend.core.config import Config
from presgend.inbox import waiting


async def collect(config: Config) -> dict[str, Any]:
    """The cluster as the database sees it: every daemon, queued, running, recent jobs."""
    dsn = dsn_of(config)
    app = await connect(dsn, max_size=2)
    try:
        db = Database(app)
        if not await db.has_schema():
            raise no_schema(dsn)
        daemons = await db.live_daemons(config.queue.stalled_seconds)
        jobs = await db.jobs_for_status()
    finally:
        await app.close_async()
    views = [job_view(row, daemons) for row in jobs]
    finished = [v for v in views if v["status"] not in ("todo", "doing")]
    finished.sort(key=lambda v: v["at"] or "", reverse=True)
    return {
        "inbox": str(config.paths.inbox),
        "backend": "postgres",
        "database": where(dsn),
        "daemons": [daemon_view(d) for d in daemons],
        "queued": [v for v in views if v["status"] == "todo"],
        "waiting": waiting.listing(config.paths.inbox),
        "running": [v for v in views if v["status"] == "doing"],
        "recent": finished[:20],
    }


def job_view(row: dict[str, Any], daemons: list[dict[str, Any]]) -> dict[str, Any]:
    """A queue job with its worker, and its phase and progress from that worker's beat."""
    args = row["args"] or {}
    job_id = args.get("job_id")
    worker = row["worker_id"]
    owner = next((d for d in daemons if worker is not None and d["worker_id"] == worker), None)
    running = [j for d in daemons for j in d["state"].get("running", [])]
    recent = [r for d in daemons for r in d["state"].get("recent", [])]
    live: dict[str, Any] = next((j for j in running if j["job_id"] == job_id), {})
    outcome = next((r["status"] for r in recent if r["job_id"] == job_id), None)
    return {
        "job_id": job_id,
        "queue_job": row["id"],
        "input": args.get("label"),
        "status": row["status"],
        "outcome": outcome,
        "attempts": row["attempts"],
        "worker": f"{owner['host']}:{owner['pid']}" if owner else None,
        "phase": live.get("phase", "start"),
        "progress": live.get("progress", 0.0),
        "at": row["at"].isoformat() if row["at"] else None,
    }


def daemon_view(row: dict[str, Any]) -> dict[str, Any]:
    state = row["state"]
    return {
        "host": row["host"],
        "pid": row["pid"],
        "worker_id": row["worker_id"],
        "seen_seconds_ago": round(float(row["seen_ago"]), 1),
        "running": len(state.get("running", [])),
        "breaker": state.get("breaker", {}),
        "paused": state.get("paused", False),
        "low_disk": state.get("low_disk", False),
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
    lines += waiting.status_lines(snapshot.get("waiting", []))
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
