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
import json
import os
import shutil
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.observers.api import BaseObserver

from presgend import claims, hardware, logs, notify, publish, state, watcher, worker
from presgend import config as config_mod
from presgend.config import Config
from presgend.errors import ClaimLost, ConfigError, JobError
from presgend.pipeline.job import SCRIPT_SUFFIXES, Services, input_kind, new_job_id
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
        self.pokes: set[str] = set()
        self.observer: BaseObserver | None = None
        self.mode, self.mode_reason = watcher.watch_mode(cfg.watch.mode, self.inbox)
        self.paused = False
        self.low_disk = False
        self.stopping = False
        self.last_job_end = float("-inf")
        self.started_at = now_iso()

    @property
    def max_concurrent(self) -> int:
        return self.config.jobs.max_concurrent or self.services.profile.auto_concurrency()

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self, *, once: bool = False) -> int:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.stop_event = asyncio.Event()
        self.force_event = asyncio.Event()
        self.reload_requested = False
        self.once = once
        self._install_signals()
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
        intake = asyncio.create_task(self._intake_loop(), name="intake")
        housekeeping = asyncio.create_task(self._housekeeping_loop(), name="housekeeping")
        try:
            await self.stop_event.wait()
        finally:
            await self._shutdown()
            for task in (intake, housekeeping):
                task.cancel()
            await asyncio.gather(intake, housekeeping, return_exceptions=True)
            self._write_state(stopped=True)
            log.info("daemon_stopped")
        return 0

    def request_stop(self, reason: str = "requested", *, force: bool = False) -> None:
        """Stop intake and shut down; `force` skips the grace period."""
        if force:
            log.warning("shutdown_forced", reason=reason)
            self.force_event.set()
        else:
            log.info("shutdown_requested", reason=reason)
        self.stopping = True
        self.stop_event.set()
        self.wake.set()

    def _install_signals(self) -> None:
        def stop(signame: str) -> None:
            self.request_stop(signame, force=self.stopping and signame == "SIGINT")

        def reload() -> None:
            self.reload_requested = True
            self.wake.set()

        self.loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
        self.loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
        self.loop.add_signal_handler(signal.SIGHUP, reload)

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
            self._index_dir().mkdir(parents=True, exist_ok=True)
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
        kind = watcher.classify(name)
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
        reason = watcher.hostile_reason(path)
        if reason is None and watcher.classify(name) == "unsupported":
            try:
                input_kind(path)
            except JobError as exc:
                reason = str(exc)
        if reason is not None:
            self.settler.forget(name)
            self._reject(name, reason)
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

    def _reject(self, name: str, reason: str) -> None:
        """Move a name that must not be processed to failed/ with its error file."""
        failed = self.config.paths.failed
        stem = claims.free_stem(failed, [name], (".error.json",))
        target = failed / claims.rename_stem(name, name, stem)
        try:
            claims.move_no_clobber(self.inbox / name, target)
        except FileNotFoundError:
            return  # another daemon took it
        job_id = new_job_id()
        document = {
            "status": "failed",
            "job_id": job_id,
            "input": {"path": str(self.inbox / name), "sha256": None, "kind": _kind(name)},
            "error": reason,
            "phase": "intake",
            "detail": f"moved to {target}",
            "finished_at": now_iso(),
        }
        publish.write_json(failed / f"{stem}.error.json", document)
        self._remember(job_id, self.inbox / name, "failed")
        log.warning("input_rejected", input=name, job_id=job_id, error=reason, moved_to=str(target))

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
            sidecars = watcher.sidecars_of(self.inbox, name)
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
            original = await self._first_of(sha, job)
            if original is not None:
                self._duplicate(job, sha, original)
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
                self._archive(job)  # its video is already out: never run it twice
                log.warning("job_cancelled_while_publishing", job_id=job.job_id)
            else:
                back = claims.return_files(claim.folder, claim.files, self.inbox)
                claim.release()
                log.warning("job_returned", job_id=job.job_id, files=back)
            raise
        except ClaimLost:
            job.lost = True
            log.warning("job_discarded", job_id=job.job_id, reason="claim taken back")
        else:
            if outcome.ok:
                self._index(sha, job, outcome.document)
                self._archive(job)
                self._remember(job.job_id, job.label, "ok")
            else:
                self._fail(job, outcome.document)
        finally:
            if job.marker is not None:
                job.marker.unlink(missing_ok=True)
            self.jobs.pop(job.job_id, None)
            self.last_job_end = time.monotonic()
            self.wake.set()

    def _archive(self, job: RunningJob) -> None:
        archive = self.config.paths.archive
        claim = job.claim
        if archive is None:
            for name in claim.files:
                (claim.folder / name).unlink(missing_ok=True)
        else:
            claims.return_files(claim.folder, claim.files, archive)
        claim.release()

    def _fail(self, job: RunningJob, document: dict[str, Any]) -> None:
        failed = self.config.paths.failed
        claim = job.claim
        stem = claims.free_stem(failed, claim.files, (".error.json",))
        for name in claim.files:
            claims.move_no_clobber(
                claim.folder / name, failed / claims.rename_stem(name, claim.main, stem)
            )
        document["detail"] = document.get("detail", "")
        document["moved_to"] = str(failed / claims.rename_stem(claim.main, claim.main, stem))
        publish.write_json(failed / f"{stem}.error.json", document)
        claim.release()
        self._remember(job.job_id, job.label, "failed")

    # -- duplicates by content -------------------------------------------------------------

    def _index_dir(self) -> Path:
        return claims.control_dir(self.inbox) / "index"

    def _indexed(self, sha: str) -> dict[str, Any] | None:
        try:
            entry = json.loads((self._index_dir() / f"{sha}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if Path(entry.get("video", "")).is_file() else None

    async def _first_of(self, sha: str, job: RunningJob) -> dict[str, Any] | None:
        """The earlier result for these bytes, waiting for it while another job (here or
        on another daemon) is composing the same bytes; None when this job goes first.

        The marker `index/<sha>.running` is created exclusively, so of two identical
        drops at the same instant one composes and the other becomes its duplicate. Its
        owner touches it with the claim's heartbeat; one older than a lease is a dead
        daemon's, and is taken over."""
        marker = self._index_dir() / f"{sha}.running"
        lease = self.config.jobs.lease_seconds
        waited = False
        while True:
            original = self._indexed(sha)
            if original is not None:
                return original
            try:
                fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    age = claims.share_now(self.inbox) - marker.stat().st_mtime
                except FileNotFoundError:
                    continue  # it finished just now: look at the index again
                if age > lease:
                    log.warning("same_input_marker_stale", sha256=sha, age_s=round(age))
                    marker.unlink(missing_ok=True)
                    continue
                if not waited:
                    log.info("same_input_in_progress", job_id=job.job_id, sha256=sha)
                    waited = True
                job.update("waiting", 0.0)
                await asyncio.sleep(min(1.0, lease / 4))
                continue
            except OSError:
                return None  # no index (a read-only share): run without the marker
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps({"job_id": job.job_id, "host": claims.HOST}))
            job.marker = marker
            return None

    def _index(self, sha: str, job: RunningJob, report: dict[str, Any]) -> None:
        entry = {
            "job_id": job.job_id,
            "input": str(job.label),
            "video": report["output"]["video"],
            "finished_at": report["finished_at"],
        }
        with contextlib.suppress(OSError):
            publish.write_json(self._index_dir() / f"{sha}.json", entry)

    def _duplicate(self, job: RunningJob, sha: str, original: dict[str, Any]) -> None:
        outbox = self.config.paths.outbox
        stem = claims.free_stem(outbox, [job.claim.main], (".duplicate.json",))
        document = {
            "status": "duplicate",
            "job_id": job.job_id,
            "input": {"path": str(job.label), "sha256": sha, "kind": _kind(job.claim.main)},
            "message": (
                f"The same file was already processed as {original['input']}; its video is "
                f"{original['video']}."
            ),
            "original": original,
            "finished_at": now_iso(),
        }
        publish.write_json(outbox / f"{stem}.duplicate.json", document)
        self._archive(job)
        self._remember(job.job_id, job.label, "duplicate")
        log.info("job_duplicate", job_id=job.job_id, original_job_id=original["job_id"])

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
            if job.marker is not None:
                with contextlib.suppress(OSError):
                    os.utime(job.marker)
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
        self.settler.settle_seconds = new.watch.settle_seconds
        self.monitor.cpu_limit = new.breaker.cpu_percent
        self.monitor.memory_limit = new.breaker.memory_percent
        self.monitor.breaker.reset_seconds = new.breaker.cooldown_seconds
        log.info("config_reloaded", source=new.source, running_jobs=len(self.jobs))


def _kind(name: str) -> str:
    """The kind for an error document, also for names input_kind refuses."""
    return "script" if name.lower().endswith(SCRIPT_SUFFIXES) else "video"


def main(config: Config, *, once: bool = False, config_path: str | None = None) -> int:
    return asyncio.run(Daemon(config, config_path).run(once=once))
