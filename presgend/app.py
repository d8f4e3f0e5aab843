"""The composition root: the live settings, the services jobs share, the daemon's parts,
the backend and the fronts' services, each built once here and handed to the others.

`presgend run`, `serve` and `mcp` (and the tests) build an `App` and run its daemon; the
daemon itself only runs the lifecycle (as uvicorn's `Config` → `Server(config).run()`,
and procrastinate's `App` → `Worker`). Nothing is added to a daemon after it is built.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from presgend import backends
from presgend.core import config as config_mod
from presgend.core import hardware
from presgend.core.config import Config
from presgend.core.errors import HttpRefused
from presgend.core.settings import Settings
from presgend.daemon.housekeeping import Housekeeping
from presgend.daemon.intake import Intake
from presgend.daemon.outcomes import Outcomes
from presgend.daemon.supervisor import Daemon, Lifecycle, ServiceFactory, StateView
from presgend.daemon.worker import Worker
from presgend.fronts.desk import FrontDesk
from presgend.fronts.webhooks import Webhooks
from presgend.pipeline.context import Services, new_job_id

# MCP on stdio (`presgend mcp`): a service made from the front desk and the daemon
StdioFront = Callable[[FrontDesk, Daemon], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class App:
    settings: Settings
    daemon: Daemon
    desk: FrontDesk

    def run(self, *, once: bool = False) -> int:
        return asyncio.run(self.daemon.run(once=once))


def build(
    config: Config,
    config_path: str | None = None,
    *,
    sampler: Callable[[], hardware.Sample] = hardware.system_load,
    services: Services | None = None,
    stdio: StdioFront | None = None,
) -> App:
    """Every part of a daemon, built once and wired; the HTTP service when `http.enabled`
    (a public bind without tokens is refused here, in one sentence, before anything
    starts), webhooks always, MCP on stdio when asked."""
    chosen = backends.kind(config)  # the backend is chosen once, here
    settings = Settings(config, restart_only=chosen.restart_only)
    services = services or Services()
    life = Lifecycle()
    breaker = config.breaker
    monitor = hardware.ResourceMonitor(
        breaker.cpu_percent, breaker.memory_percent, breaker.cooldown_seconds, sampler
    )

    def concurrency() -> int:
        return settings.current.jobs.max_concurrent or services.profile.auto_concurrency()

    outcomes = Outcomes(settings, life.remember)
    intake = Intake(
        settings, wake=life.wake.set,
        reject=lambda name, reason: outcomes.rejected(new_job_id(), name, reason),
    )  # fmt: skip
    worker = Worker(
        settings, services=services, monitor=monitor, outcomes=outcomes, intake=intake,
        wake=life.wake.set, max_concurrent=concurrency,
    )  # fmt: skip
    view = StateView(life, intake, worker, monitor)
    backend = chosen(
        backends.Parts(
            settings, worker=worker, outcomes=outcomes, intake=intake, snapshot=view.snapshot,
            stopping=lambda: life.stopping, finished=life.stop_event.set,
            concurrency=concurrency,
        )
    )  # fmt: skip
    housekeeping = Housekeeping(
        settings, jobs=worker.jobs, stop=worker.stop, intake=intake, monitor=monitor,
        snapshot=view.snapshot, wake=life.wake.set, clock=time.monotonic,
    )  # fmt: skip
    desk = FrontDesk(
        settings, intake=intake, worker=worker, outcomes=outcomes, monitor=monitor,
        backend=backend, browser=services.browser,
    )  # fmt: skip
    webhooks = Webhooks(settings, desk.outputs_of)
    desk.webhooks = webhooks
    outcomes.listeners.append(webhooks.on_finished)
    fronts: dict[str, ServiceFactory] = {"webhooks": webhooks.run}
    if config.http.enabled:
        refused = config_mod.unguarded_http(config.http)
        if refused:
            raise HttpRefused(refused)
        fronts["http"] = lambda: desk.serve(life.stop_event)
    daemon = Daemon(
        settings, life=life, services=services, monitor=monitor, intake=intake, worker=worker,
        outcomes=outcomes, backend=backend, housekeeping=housekeeping, state_view=view,
        fronts=fronts, max_concurrent=concurrency, config_path=config_path,
    )  # fmt: skip
    if stdio is not None:
        fronts["mcp"] = lambda: stdio(desk, daemon)
    return App(settings, daemon, desk)
