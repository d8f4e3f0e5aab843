"""The daemon's lifecycle: watch the inbox, take each complete file once, run it, never
lose it.

One asyncio loop. The watchdog observer's thread only pokes names; the intake task
settles them, checks they are readable, and queues them; admission (gated by the
resource monitor's breaker and `max_concurrent`) claims a queued file by renaming it
into a claim folder and starts its job; the housekeeping task beats the claims'
leases, returns other daemons' stale claims, writes the state file and pings systemd.
Signal handlers only set flags; the loop does the work.

Every part is built once by the composition root (`presgend/app.py`) and handed in:
`Daemon` only runs them (as procrastinate's `Worker` runs what its `App` holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from presgend import backends
from presgend.core import aio, hardware, logs, owners
from presgend.core import config as config_mod
from presgend.core.config import Config
from presgend.core.errors import ConfigError
from presgend.core.files import now_iso
from presgend.core.settings import Live, Settings
from presgend.daemon import notify, outcomes, signals
from presgend.daemon.housekeeping import Housekeeping
from presgend.daemon.intake import Intake
from presgend.daemon.worker import Worker
from presgend.inbox import claims, state
from presgend.pipeline import publish
from presgend.pipeline.context import Services

log = logs.get(__name__)

ServiceFactory = Callable[[], Coroutine[Any, Any, None]]


class Lifecycle:
    """What the services of one daemon share about its life: the wake-up call (a name
    poked, a job ended), the stop asked for (and whether it is forced), and the jobs that
    ended lately (for `status`). Built first, so every service can be handed it."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.stop_event = asyncio.Event()
        self.force_event = asyncio.Event()
        self.stopping = False
        self.started_at = now_iso()
        self.recent: deque[dict[str, Any]] = deque(maxlen=20)

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

    def remember(self, job_id: str, label: Path, status: str) -> None:
        self.recent.appendleft(
            {"job_id": job_id, "input": str(label), "status": status, "finished_at": now_iso()}
        )


class StateView:
    """This daemon's state, as its state file and the queue's heartbeat carry it."""

    def __init__(
        self, life: Lifecycle, intake: Intake, worker: Worker, monitor: hardware.ResourceMonitor
    ) -> None:
        self.life = life
        self.intake = intake
        self.worker = worker
        self.monitor = monitor

    def snapshot(self, *, stopped: bool = False) -> dict[str, Any]:
        return {
            "host": owners.HOST,
            "pid": os.getpid(),
            "started_at": self.life.started_at,
            "updated": time.time(),
            "stopped": stopped,
            "watch_mode": self.intake.mode,
            "paused": self.intake.paused,
            "low_disk": self.worker.low_disk,
            "queued": self.intake.waiting,
            "running": [job.as_dict() for job in self.worker.jobs.values()],
            "recent": list(self.life.recent),
            "breaker": self.monitor.as_dict(),
        }


class Daemon(Live):
    """Runs the parts it is given: prepares the folders, supervises the services, reloads
    on SIGHUP, drains and stops."""

    def __init__(
        self,
        settings: Settings,
        *,
        life: Lifecycle,
        services: Services,
        monitor: hardware.ResourceMonitor,
        intake: Intake,
        worker: Worker,
        outcomes: outcomes.Outcomes,
        backend: backends.Backend,
        housekeeping: Housekeeping,
        state_view: StateView,
        fronts: dict[str, ServiceFactory],
        max_concurrent: Callable[[], int],
        config_path: str | None = None,
    ) -> None:
        self.settings = settings
        self.life = life
        self.services = services
        self.monitor = monitor
        self.intake = intake
        self.worker = worker
        self.outcomes = outcomes
        self.backend = backend
        self.housekeeping = housekeeping
        self.state_view = state_view
        self.fronts = fronts  # the fronts' services (HTTP, webhooks, MCP on stdio)
        self.concurrency = max_concurrent
        self.config_path = config_path
        self.inbox = self.config.paths.inbox
        self.reload_requested = False
        self.once = False
        self.settings.subscribe(self._breaker_settings)
        self.monitor.breaker.listeners.append(self._breaker_changed)

    @property
    def max_concurrent(self) -> int:
        return self.concurrency()

    @property
    def stopping(self) -> bool:
        return self.life.stopping

    def request_stop(self, reason: str = "requested", *, force: bool = False) -> None:
        self.life.request_stop(reason, force=force)

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self, *, once: bool = False) -> int:
        """Run until stopped; 0 after a clean stop, 1 when a service crashed."""
        self.loop = asyncio.get_running_loop()
        self.once = once
        self._prepare_folders()
        await self.backend.open()  # QueueUnavailable: one sentence
        # handlers first: a SIGHUP or SIGTERM right after READY=1 (a `systemctl reload`
        # as soon as the unit is up) must reach them, not kill the daemon by default
        with signals.handled(self.loop, self._on_signal, self._on_reload):
            self._start_watching()
            crashed = await self._supervise(self._services())
        with contextlib.suppress(Exception):
            await self.backend.close()
        await self.services.browser.close()
        self._write_state(stopped=True)
        log.info("daemon_stopped", crashed=crashed or None)
        return 1 if crashed else 0

    def _start_watching(self) -> None:
        log.info(
            "daemon_started",
            queue=self.config.queue.backend,
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

    def _services(self) -> dict[str, Coroutine[Any, Any, None]]:
        services = {"intake": self._intake_loop(), "housekeeping": self.housekeeping.run()}
        services.update(self.backend.services(once=self.once))
        for name, make in self.fronts.items():
            services[name] = make()
        return services

    async def _supervise(self, services: dict[str, Coroutine[Any, Any, None]]) -> str:
        """Run the services until a stop is asked for or one of them crashes; then shut
        down (jobs get their grace period). The crashed service's name, or ""."""
        tasks: dict[asyncio.Task[Any], str] = {
            asyncio.create_task(coro, name=name): name for name, coro in services.items()
        }
        stop = asyncio.create_task(self.life.stop_event.wait())
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
                await self.life.stop_event.wait()
        finally:
            await self._shutdown()
            # the HTTP service saw the stop too: let it answer what is in flight and close
            http = [task for task, name in tasks.items() if name == "http"]
            if http:
                await asyncio.wait(http, timeout=10)
            for task in (stop, *tasks):
                task.cancel()
            await asyncio.gather(stop, *tasks, return_exceptions=True)
        return crashed

    def _on_signal(self, signame: str) -> None:
        self.request_stop(signame, force=self.stopping and signame == "SIGINT")

    def _on_reload(self) -> None:
        self.reload_requested = True
        self.life.wake.set()

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
        self.life.stopping = True
        self.intake.stop()
        self.backend.stop()
        await self.worker.drain(self.config.jobs.grace_seconds, self.life.force_event)

    # -- watching and settling -----------------------------------------------------------

    async def _intake_loop(self) -> None:
        while not self.stopping:
            await self._sleep_until_needed()
            if self.stopping:
                break
            if self.reload_requested:
                self.reload()
            if not await self.intake.step():
                continue
            await self.backend.admit()
            if self.once and not self.intake.waiting and self.backend.intake_drained():
                return

    async def _sleep_until_needed(self) -> None:
        now = time.monotonic()
        # the inbox is looked at every poll_interval even when idle: a share that is
        # unmounted sends no event
        deadlines = [self.intake.next_deadline()]
        if self.worker.wants_admission:
            deadlines.append(now + max(self.monitor.retry_in(), 0.2))
        timeout = max(0.0, min(deadlines) - now)
        wake = self.life.wake
        if not wake.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await aio.bounded(wake.wait(), timeout)
        wake.clear()

    # -- state and breaker -----------------------------------------------------------------

    def _write_state(self, *, stopped: bool = False) -> None:
        with contextlib.suppress(OSError):
            state.write(self.inbox, self.state_view.snapshot(stopped=stopped))

    def _breaker_changed(self, before: str, after: str) -> None:
        cpu, memory = self.monitor.last
        log.warning(
            "resource_breaker_changed", before=before, after=after, cpu_percent=cpu,
            memory_percent=memory,
        )  # fmt: skip
        notify.send(f"STATUS=resource breaker {after} (cpu {cpu:.0f}%, memory {memory:.0f}%)")

    def _breaker_settings(self, _before: Config, after: Config) -> None:
        self.monitor.cpu_limit = after.breaker.cpu_percent
        self.monitor.memory_limit = after.breaker.memory_percent
        self.monitor.breaker.reset_seconds = after.breaker.cooldown_seconds

    # -- configuration -----------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: read the config again; every service sees the new settings at once,
        except those fixed at start, which the log line names."""
        self.reload_requested = False
        try:
            new = config_mod.load(self.config_path)
        except ConfigError as exc:
            log.error("config_reload_failed", problems=exc.problems, kept="previous config")
            return
        reloaded = self.settings.apply(new)
        log.info(
            "config_reloaded",
            source=new.source,
            changed=reloaded.changed,
            need_restart=reloaded.need_restart,
            running_jobs=len(self.worker.jobs),
        )
        if reloaded.need_restart:
            log.warning("config_needs_restart", settings=reloaded.need_restart,
                        reason="these take effect when the daemon restarts")  # fmt: skip
