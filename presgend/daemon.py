"""The daemon: watch the inbox, take each complete file once, run it, never lose it.

One asyncio loop. The watchdog observer's thread only pokes names; the intake task
settles them, checks they are readable, and queues them; admission (gated by the
resource monitor's breaker and `max_concurrent`) claims a queued file by renaming it
into a claim folder and starts its job; the housekeeping task beats the claims'
leases, returns other daemons' stale claims, writes the state file and pings systemd.
Signal handlers only set flags; the loop does the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presgend import (
    claims,
    hardware,
    inputs,
    logs,
    notify,
    outcomes,
    publish,
    signals,
    state,
    worker,
)  # fmt: skip
from presgend import config as config_mod
from presgend.config import Config
from presgend.errors import ClaimLost, ConfigError
from presgend.housekeeping import Housekeeping
from presgend.intake import Intake
from presgend.pipeline.context import JobRequest, Services, new_job_id
from presgend.report import now_iso, sha256_of

log = logs.get("presgend.daemon")


@dataclass
class Daemon:
    config: Config
    config_path: str | None = None
    sampler: Callable[[], hardware.Sample] = hardware.system_load
    services: Services = field(default_factory=Services)

    def __post_init__(self) -> None:
        cfg = self.config
        self.inbox = cfg.paths.inbox
        self.monitor = hardware.ResourceMonitor(
            cfg.breaker.cpu_percent,
            cfg.breaker.memory_percent,
            cfg.breaker.cooldown_seconds,
            self.sampler,
        )
        self.monitor.breaker.listeners.append(self._breaker_changed)
        self.jobs: dict[str, worker.RunningJob] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=20)
        self.outcomes = outcomes.Outcomes(cfg, self._remember)
        self.low_disk = False
        self.stopping = False
        self.last_job_end = float("-inf")
        self.started_at = now_iso()
        self.wake = asyncio.Event()
        self.stop_event = asyncio.Event()
        self.force_event = asyncio.Event()
        self.reload_requested = False
        self.once = False
        self.intake = Intake(cfg, wake=self.wake.set, reject=self._reject)
        self.housekeeping = Housekeeping(
            cfg,
            jobs=self.jobs,
            intake=self.intake,
            monitor=self.monitor,
            snapshot=self._snapshot,
            wake=self.wake.set,
            clock=time.monotonic,
        )

    @property
    def max_concurrent(self) -> int:
        return self.config.jobs.max_concurrent or self.services.profile.auto_concurrency()

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self, *, once: bool = False) -> int:
        """Run until stopped; 0 after a clean stop, 1 when a service crashed."""
        self.loop = asyncio.get_running_loop()
        self.once = once
        self._prepare_folders()
        log.info(
            "daemon_started",
            inbox=str(self.inbox),
            outbox=str(self.config.paths.outbox),
            watch_mode=self.intake.mode,
            why=self.intake.mode_reason,
            max_concurrent=self.max_concurrent,
            settle_seconds=self.config.watch.settle_seconds,
            pid=os.getpid(),
        )
        claims.reclaim_stale(self.inbox, self.config.jobs.lease_seconds, mine=set())
        self.intake.start(self.loop)
        notify.send(
            f"READY=1\nSTATUS=watching {self.inbox} ({self.intake.mode})\nMAINPID={os.getpid()}"
        )
        with signals.handled(self.loop, self._on_signal, self._on_reload):
            crashed = await self._supervise(
                {"intake": self._intake_loop(), "housekeeping": self.housekeeping.run()}
            )
        self._write_state(stopped=True)
        log.info("daemon_stopped", crashed=crashed or None)
        return 1 if crashed else 0

    async def _supervise(self, services: dict[str, Coroutine[Any, Any, None]]) -> str:
        """Run the services until a stop is asked for or one of them crashes; then shut
        down (jobs get their grace period). The crashed service's name, or ""."""
        tasks: dict[asyncio.Task[Any], str] = {
            asyncio.create_task(coro, name=name): name for name, coro in services.items()
        }
        stop = asyncio.create_task(self.stop_event.wait())
        crashed = ""
        try:
            done, _ = await asyncio.wait({stop, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stop}:
                if task.cancelled() or task.exception() is None:
                    continue  # intake ends by itself in --once mode
                crashed = tasks[task]
                error = task.exception()
                log.error(
                    "service_crashed",
                    service=crashed,
                    error=f"{type(error).__name__}: {error}",
                    action="daemon stops",
                )
                notify.send(f"STATUS=stopping: the {crashed} service crashed ({error})")
                self.request_stop(f"{crashed} crashed")
            if not crashed and not stop.done():
                await self.stop_event.wait()
        finally:
            await self._shutdown()
            for task in (stop, *tasks):
                task.cancel()
            await asyncio.gather(stop, *tasks, return_exceptions=True)
        return crashed

    def request_stop(self, reason: str = "requested", *, force: bool = False) -> None:
        """Stop intake and shut down; `force` skips the grace period. Safe before `run`."""
        if force:
            log.warning("shutdown_forced", reason=reason)
            self.force_event.set()
        else:
            log.info("shutdown_requested", reason=reason)
        self.stopping = True
        self.stop_event.set()
        self.wake.set()

    def _on_signal(self, signame: str) -> None:
        self.request_stop(signame, force=self.stopping and signame == "SIGINT")

    def _on_reload(self) -> None:
        self.reload_requested = True
        self.wake.set()

    def _prepare_folders(self) -> None:
        paths = self.config.paths
        if not self.inbox.exists() and self.inbox.parent.is_dir():
            self.inbox.mkdir()
        for folder in (paths.outbox, paths.failed, paths.archive):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        if self.inbox.is_dir():
            claims.claims_dir(self.inbox).mkdir(parents=True, exist_ok=True)
            state.state_dir(self.inbox).mkdir(parents=True, exist_ok=True)
            self.outcomes.index_dir().mkdir(parents=True, exist_ok=True)
        publish.cleanup_staging(paths.outbox)

    async def _shutdown(self) -> None:
        self.stopping = True
        self.intake.stop()
        tasks = [j.task for j in self.jobs.values() if j.task is not None]
        if tasks:
            grace = self.config.jobs.grace_seconds
            log.info("shutdown_waiting", jobs=len(tasks), grace_seconds=grace)
            notify.send(f"STOPPING=1\nSTATUS=finishing {len(tasks)} job(s), up to {grace:.0f}s")
            finished = asyncio.create_task(asyncio.wait(tasks))
            forced = asyncio.create_task(self.force_event.wait())
            await asyncio.wait(
                {finished, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED
            )
            finished.cancel()  # stops the waiting only; the jobs are cancelled below
            forced.cancel()
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        notify.send("STOPPING=1")

    # -- watching and settling -----------------------------------------------------------

    async def _intake_loop(self) -> None:
        while not self.stopping:
            await self._sleep_until_needed()
            if self.stopping:
                break
            if self.reload_requested:
                self._reload()
            if not await self.intake.step():
                continue
            self._admit()
            if self.once and not (self.intake.waiting or self.jobs):
                log.info("inbox_drained")
                self.stop_event.set()
                return

    async def _sleep_until_needed(self) -> None:
        now = time.monotonic()
        # the inbox is looked at every poll_interval even when idle: a share that is
        # unmounted sends no event
        deadlines = [self.intake.next_deadline()]
        if self.intake.ready and len(self.jobs) < self.max_concurrent:
            deadlines.append(now + max(self.monitor.retry_in(), 0.2))
        timeout = max(0.0, min(deadlines) - now)
        if not self.wake.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()

    def _disk_ok(self) -> bool:
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

    def _admit(self) -> None:
        while self.intake.ready and len(self.jobs) < self.max_concurrent and not self.stopping:
            if self.monitor.sampled_at <= self.last_job_end:
                return  # judge the load without the job that just ended
            if not self._disk_ok():
                return
            if not self.monitor.admit():
                return
            name = self.intake.take()
            assert name is not None
            job_id = new_job_id()
            sidecars = inputs.sidecars_of(self.inbox, name)
            try:
                claim = claims.claim(self.inbox, name, sidecars, job_id)
            except OSError as exc:
                log.error("claim_failed", input=name, error=str(exc))
                continue
            if claim is None:
                log.info("claimed_elsewhere", input=name)
                continue
            job = worker.RunningJob(job_id, claim, self.inbox / name)
            self.jobs[job_id] = job
            log.info("input_claimed", input=name, job_id=job_id, claim=claim.folder.name)
            job.task = asyncio.create_task(self._run_job(job), name=f"job-{job_id}")

    async def _run_job(self, job: worker.RunningJob) -> None:
        claim = job.claim
        cfg = self.config
        try:
            sha = await asyncio.to_thread(sha256_of, claim.path)
            original, job.marker = await self.outcomes.first_of(
                sha, job.job_id, lambda: job.update("waiting", 0.0)
            )
            if original is not None:
                self.outcomes.duplicate(job.job_id, job.label, claim, sha, original)
                return
            request = JobRequest(
                claim.path,
                cfg,
                cfg.paths.outbox,
                job_id=job.job_id,
                stem=claims.stem_of(claim.main),
                label=job.label,
                sha256=sha,
                progress=job.update,
                before_publish=claim.fence,
            )
            outcome = await worker.execute(request, self.services)
        except asyncio.CancelledError:
            if job.lost:
                log.warning("job_discarded", job_id=job.job_id, reason="claim taken back")
            elif (claim.folder / claims.FENCE).exists():
                # its video is already out: never run it twice
                self.outcomes.archived(job.job_id, job.label, claim)
                log.warning("job_cancelled_while_publishing", job_id=job.job_id)
            else:
                back = self.outcomes.returned(claim)
                log.warning("job_returned", job_id=job.job_id, files=back)
            raise
        except ClaimLost:
            job.lost = True
            log.warning("job_discarded", job_id=job.job_id, reason="claim taken back")
        else:
            if outcome.ok:
                self.outcomes.index(sha, job.job_id, job.label, outcome.document)
                self.outcomes.archived(job.job_id, job.label, claim)
            else:
                self.outcomes.failed(job.job_id, job.label, claim, outcome.document)
        finally:
            if job.marker is not None:
                job.marker.unlink(missing_ok=True)
            self.jobs.pop(job.job_id, None)
            self.last_job_end = time.monotonic()
            self.wake.set()

    def _reject(self, name: str, reason: str) -> None:
        self.outcomes.rejected(new_job_id(), name, reason)

    def _remember(self, job_id: str, label: Path, status: str) -> None:
        self.recent.appendleft(
            {"job_id": job_id, "input": str(label), "status": status, "finished_at": now_iso()}
        )

    # -- housekeeping ----------------------------------------------------------------------

    def _write_state(self, *, stopped: bool = False) -> None:
        with contextlib.suppress(OSError):
            state.write(self.inbox, self._snapshot(stopped=stopped))

    def _snapshot(self, *, stopped: bool = False) -> dict[str, Any]:
        return {
            "host": claims.HOST,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated": time.time(),
            "stopped": stopped,
            "watch_mode": self.intake.mode,
            "paused": self.intake.paused,
            "low_disk": self.low_disk,
            "queued": self.intake.waiting,
            "running": [job.as_dict() for job in self.jobs.values()],
            "recent": list(self.recent),
            "breaker": self.monitor.as_dict(),
        }

    def _breaker_changed(self, before: str, after: str) -> None:
        cpu, memory = self.monitor.last
        log.warning(
            "resource_breaker_changed", before=before, after=after, cpu_percent=cpu,
            memory_percent=memory,
        )  # fmt: skip
        notify.send(f"STATUS=resource breaker {after} (cpu {cpu:.0f}%, memory {memory:.0f}%)")

    # -- configuration -----------------------------------------------------------------------

    def _reload(self) -> None:
        self.reload_requested = False
        try:
            new = config_mod.load(self.config_path)
        except ConfigError as exc:
            log.error("config_reload_failed", problems=exc.problems, kept="previous config")
            return
        if new.paths != self.config.paths:
            log.warning("config_paths_unchanged", reason="changing folders needs a restart")
            new = dataclasses.replace(new, paths=self.config.paths)
        self.config = new
        self.outcomes.config = new
        self.intake.reload(new)
        self.housekeeping.config = new
        self.monitor.cpu_limit = new.breaker.cpu_percent
        self.monitor.memory_limit = new.breaker.memory_percent
        self.monitor.breaker.reset_seconds = new.breaker.cooldown_seconds
        log.info("config_reloaded", source=new.source, running_jobs=len(self.jobs))


def main(config: Config, *, once: bool = False, config_path: str | None = None) -> int:
    return asyncio.run(Daemon(config, config_path).run(once=once))
