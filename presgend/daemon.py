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

from watchdog.observers.api import BaseObserver

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
    watcher,
    worker,
)  # fmt: skip
from presgend import config as config_mod
from presgend.config import Config
from presgend.errors import ClaimLost, ConfigError, JobError
from presgend.pipeline.job import Services, new_job_id
from presgend.report import now_iso, sha256_of

log = logs.get("presgend.daemon")


@dataclass
class RunningJob:
    job_id: str
    claim: claims.Claim
    label: Path
    task: asyncio.Task[None] | None = None
    phase: str = "start"
    progress: float = 0.0
    lost: bool = False
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
        self.settler = watcher.Settler(self.inbox, cfg.watch.settle_seconds)
        self.ready: dict[str, tuple[int, int, int, int]] = {}
        self.jobs: dict[str, RunningJob] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=20)
        self.outcomes = outcomes.Outcomes(cfg, self._remember)
        self.pokes: set[str] = set()
        self.observer: BaseObserver | None = None
        self.mode, self.mode_reason = watcher.watch_mode(cfg.watch.mode, self.inbox)
        self.paused = False
        self.low_disk = False
        self.stopping = False
        self.last_job_end = float("-inf")
        self.started_at = now_iso()
        self.wake = asyncio.Event()
        self.stop_event = asyncio.Event()
        self.force_event = asyncio.Event()
        self.reload_requested = False
        self.once = False

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
            watch_mode=self.mode,
            why=self.mode_reason,
            max_concurrent=self.max_concurrent,
            settle_seconds=self.config.watch.settle_seconds,
            pid=os.getpid(),
        )
        claims.reclaim_stale(self.inbox, self.config.jobs.lease_seconds, mine=set())
        self._start_observer()
        self._rescan()
        notify.send(f"READY=1\nSTATUS=watching {self.inbox} ({self.mode})\nMAINPID={os.getpid()}")
        with signals.handled(self.loop, self._on_signal, self._on_reload):
            crashed = await self._supervise(
                {"intake": self._intake_loop(), "housekeeping": self._housekeeping_loop()}
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
        self._stop_observer()
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

    def _poke(self, name: str) -> None:
        """Called from the observer thread."""
        self.loop.call_soon_threadsafe(self._poked, name)

    def _poked(self, name: str) -> None:
        self.pokes.add(name)
        self.wake.set()

    def _start_observer(self) -> None:
        if self.observer is not None or not self._inbox_available():
            return
        try:
            self.observer = watcher.start_observer(
                self.inbox, self.mode, self.config.watch.poll_interval, self._poke
            )
        except OSError as exc:
            log.error("watch_failed", error=str(exc), fallback="rescans only")

    def _stop_observer(self) -> None:
        if self.observer is not None:
            with contextlib.suppress(Exception):
                self.observer.stop()
                self.observer.join(timeout=5)
            self.observer = None

    def _inbox_available(self) -> bool:
        return self.inbox.is_dir() and claims.control_dir(self.inbox).is_dir()

    def _check_inbox(self) -> bool:
        available = self._inbox_available()
        if not available and not self.paused:
            self.paused = True
            self._stop_observer()
            self.settler.candidates.clear()
            self.ready.clear()
            log.error("inbox_unavailable", inbox=str(self.inbox), action="intake paused")
            notify.send(f"STATUS=paused: {self.inbox} is not available")
        elif available and self.paused:
            self.paused = False
            log.info("inbox_available", inbox=str(self.inbox), action="intake resumed")
            notify.send(f"STATUS=watching {self.inbox} ({self.mode})")
            self._start_observer()
            self._rescan()
        elif available and (self.observer is None or not self.observer.is_alive()):
            self.observer = None
            self._start_observer()
        return available

    def _rescan(self) -> None:
        self.next_rescan = time.monotonic() + self.config.watch.rescan_interval
        try:
            names = set(os.listdir(self.inbox))
        except OSError:
            return
        for gone in set(self.settler.candidates) - names:
            self.settler.forget(gone)
        for gone in set(self.ready) - names:
            self.ready.pop(gone)
        self.pokes |= names

    async def _intake_loop(self) -> None:
        while not self.stopping:
            await self._sleep_until_needed()
            if self.stopping:
                break
            if self.reload_requested:
                self._reload()
            if not self._check_inbox():
                continue
            if time.monotonic() >= self.next_rescan:
                self._rescan()
            pokes, self.pokes = self.pokes, set()
            for name in pokes:
                self._look_at(name)
            for candidate in self.settler.due():
                await self._settled(candidate)
            self._admit()
            if self.once and not (self.settler.candidates or self.ready or self.jobs):
                log.info("inbox_drained")
                self.stop_event.set()
                return

    async def _sleep_until_needed(self) -> None:
        now = time.monotonic()
        # the inbox is looked at every poll_interval even when idle: a share that is
        # unmounted sends no event
        deadlines = [self.next_rescan, now + self.config.watch.poll_interval]
        settle = self.settler.next_deadline()
        if settle is not None:
            deadlines.append(settle)
        if self.ready and len(self.jobs) < self.max_concurrent:
            deadlines.append(now + max(self.monitor.retry_in(), 0.2))
        timeout = max(0.0, min(deadlines) - now)
        if not self.wake.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()

    def _look_at(self, name: str) -> None:
        if not name:
            return  # the inbox itself changed; _check_inbox has looked
        kind = inputs.classify(name)
        if kind in ("ignored", "sidecar"):
            return
        if name in self.ready:
            if self.settler.signature(name) == self.ready[name]:
                return
            del self.ready[name]
        self.settler.observe(name)

    async def _settled(self, candidate: watcher.Candidate) -> None:
        name = candidate.name
        path = self.inbox / name
        reason = inputs.hostile_reason(path)
        if reason is None and inputs.classify(name) == "unsupported":
            try:
                inputs.kind(path)
            except JobError as exc:
                reason = str(exc)
        if reason is not None:
            self.settler.forget(name)
            self.outcomes.rejected(new_job_id(), name, reason)
            return
        if candidate.rejected == candidate.signature:
            # unchanged since ffprobe refused it, for unreadable_seconds: give up waiting
            # and let the job say what is wrong with it
            log.info("input_still_unreadable", input=name, reason=candidate.reason)
            self._queue(candidate)
            return
        ok, why = await watcher.readable(path, self.config.speech.max_script_bytes)
        if ok:
            self._queue(candidate)
        else:
            candidate.rejected = candidate.signature
            candidate.reason = why
            # due again once it has stayed unchanged for unreadable_seconds more
            hold = self.config.watch.unreadable_seconds - self.settler.settle_seconds
            candidate.changed_at = time.monotonic() + hold
            log.info("input_not_readable_yet", input=name, reason=why)

    def _queue(self, candidate: watcher.Candidate) -> None:
        self.settler.forget(candidate.name)
        self.ready[candidate.name] = candidate.signature
        log.info("input_settled", input=candidate.name, size=candidate.signature[1])

    # -- admission and jobs --------------------------------------------------------------

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
                notify.send(f"STATUS=watching {self.inbox} ({self.mode})")
        return not low

    def _admit(self) -> None:
        while self.ready and len(self.jobs) < self.max_concurrent and not self.stopping:
            if self.monitor.sampled_at <= self.last_job_end:
                return  # judge the load without the job that just ended
            if not self._disk_ok():
                return
            if not self.monitor.admit():
                return
            name = next(iter(self.ready))
            del self.ready[name]
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
            job = RunningJob(job_id, claim, self.inbox / name)
            self.jobs[job_id] = job
            log.info("input_claimed", input=name, job_id=job_id, claim=claim.folder.name)
            job.task = asyncio.create_task(self._run_job(job), name=f"job-{job_id}")

    async def _run_job(self, job: RunningJob) -> None:
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
            outcome = await worker.execute(
                claim.path,
                cfg,
                outbox=cfg.paths.outbox,
                error_dir=None,
                progress=job.update,
                services=self.services,
                job_id=job.job_id,
                stem=claims.stem_of(claim.main),
                before_publish=claim.fence,
                input_label=job.label,
                sha256=sha,
            )
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

    def _remember(self, job_id: str, label: Path, status: str) -> None:
        self.recent.appendleft(
            {"job_id": job_id, "input": str(label), "status": status, "finished_at": now_iso()}
        )

    # -- housekeeping ----------------------------------------------------------------------

    async def _housekeeping_loop(self) -> None:
        cfg = self.config
        beat_every = cfg.jobs.lease_seconds / 4
        watchdog_every = notify.watchdog_interval()
        next_beat = next_reclaim = next_state = next_sample = next_ping = 0.0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                self.monitor.sample()
                next_sample = now + self.config.breaker.sample_seconds
            if now >= next_beat:
                self._heartbeat()
                next_beat = now + beat_every
            if now >= next_reclaim and not self.paused:
                self._reclaim()
                next_reclaim = now + cfg.jobs.lease_seconds / 3
            if now >= next_state:
                self._write_state()
                next_state = now + (1.0 if self.jobs or self.ready else 10.0)
            if watchdog_every is not None and now >= next_ping:
                notify.send("WATCHDOG=1")
                next_ping = now + watchdog_every
            if self.ready:
                self.wake.set()  # a fresh sample may admit a queued file
            pending = [next_sample, next_beat, next_reclaim, next_state]
            if watchdog_every is not None:
                pending.append(next_ping)
            await asyncio.sleep(max(0.05, min(pending) - time.monotonic()))

    def _heartbeat(self) -> None:
        for job in list(self.jobs.values()):
            outcomes.touch(job.marker)
            try:
                job.claim.heartbeat()
            except ClaimLost:
                if claims.claims_dir(self.inbox).is_dir():  # not merely an unmounted share
                    job.lost = True
                    if job.task is not None:
                        job.task.cancel()

    def _reclaim(self) -> None:
        mine = {job.claim.folder.name for job in self.jobs.values()}
        try:
            restored = claims.reclaim_stale(self.inbox, self.config.jobs.lease_seconds, mine=mine)
        except OSError as exc:
            log.error("reclaim_failed", error=str(exc))
            return
        if restored:
            self.pokes |= set(restored)
            self.wake.set()
        lease = self.config.jobs.lease_seconds
        stale = publish.remove_stale_staging(self.config.paths.outbox, lease)
        if stale:
            log.info("staging_cleaned", files=stale)

    def _write_state(self, *, stopped: bool = False) -> None:
        snapshot = {
            "host": claims.HOST,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated": time.time(),
            "stopped": stopped,
            "watch_mode": self.mode,
            "paused": self.paused,
            "low_disk": self.low_disk,
            "queued": len(self.ready) + len(self.settler.candidates),
            "running": [job.as_dict() for job in self.jobs.values()],
            "recent": list(self.recent),
            "breaker": self.monitor.as_dict(),
        }
        with contextlib.suppress(OSError):
            state.write(self.inbox, snapshot)

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
        self.settler.settle_seconds = new.watch.settle_seconds
        self.monitor.cpu_limit = new.breaker.cpu_percent
        self.monitor.memory_limit = new.breaker.memory_percent
        self.monitor.breaker.reset_seconds = new.breaker.cooldown_seconds
        log.info("config_reloaded", source=new.source, running_jobs=len(self.jobs))


def main(config: Config, *, once: bool = False, config_path: str | None = None) -> int:
    return asyncio.run(Daemon(config, config_path).run(once=once))
