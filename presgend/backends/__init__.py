"""Where settled inputs go and how the daemons on one inbox share them: one `Backend`,
chosen once from `queue.backend` by `kind`, so no other module compares its name.

* `folder/`: each daemon claims an input by renaming it into its own claim folder,
  as its load allows (the default; nothing to set up).
* `postgres/`: intake hands every input to a PostgreSQL queue (procrastinate); each
  daemon's queue worker takes jobs from it.

The composition root (app.py) builds the backend from the daemon's parts (`Parts`);
the daemon only ever calls the protocol below; `presgend status` and `doctor` ask the
chosen kind too.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from presgend.core.config import Config
from presgend.core.settings import Settings
from presgend.inbox.claims import Claim

Service = Coroutine[Any, Any, None]


class Running(Protocol):
    fenced: bool  # its first output may be visible: it must never run again


class WorkerSide(Protocol):
    """What a backend asks of the daemon's worker (daemon/worker.py)."""

    @property
    def jobs(self) -> Mapping[str, Running]: ...

    def admit(self) -> None: ...

    def disk_ok(self) -> bool: ...

    def stop(self, job_id: str, reason: Literal["cancelled", "lost"]) -> bool: ...

    async def take_over(
        self,
        job_id: str,
        claim: Claim,
        label: Path,
        *,
        fence: Callable[[], Awaitable[None]],
        give_back: Callable[[], Awaitable[None]],
    ) -> str: ...


class OutcomesSide(Protocol):
    """Where a backend's inputs end (daemon/outcomes.py)."""

    def returned(self, claim: Claim) -> list[str]: ...

    def failed(
        self, job_id: str, label: Path, claim: Claim, document: dict[str, Any]
    ) -> None: ...


class IntakeSide(Protocol):
    """The inputs intake found ready (daemon/intake.py)."""

    @property
    def ready(self) -> Mapping[str, Any]: ...

    def take(self) -> str | None: ...


@dataclass(frozen=True)
class Parts:
    """What a backend gets from the daemon it runs in."""

    settings: Settings
    worker: WorkerSide
    outcomes: OutcomesSide
    intake: IntakeSide
    snapshot: Callable[[], dict[str, Any]]  # this daemon's state, for the cluster's status
    stopping: Callable[[], bool]  # the daemon is shutting down
    finished: Callable[[], None]  # `--once`: everything dropped has run; stop now
    concurrency: Callable[[], int]  # jobs at once on this daemon


class Backend(Protocol):
    # settings that take effect only at a restart with this backend (besides the usual)
    restart_only: ClassVar[tuple[tuple[str, str], ...]]

    def __init__(self, parts: Parts) -> None: ...

    @classmethod
    def status(cls, config: Config) -> dict[str, Any]:
        """What `presgend status` shows of the cluster."""

    @classmethod
    def render(cls, snapshot: dict[str, Any]) -> str:
        """`status` as text."""

    @classmethod
    def ready(cls, config: Config) -> str | None:
        """What `doctor` checks: the backend's own needs, described; PresgendError with
        one sentence when they are not met; None when there is nothing to check."""

    async def open(self) -> None:
        """Connect (QueueUnavailable, one sentence, when it cannot)."""

    async def close(self) -> None: ...

    def services(self, *, once: bool) -> dict[str, Service]:
        """The daemon services this backend adds (its worker, its keeper)."""

    async def admit(self) -> None:
        """Hand the inputs intake found ready on, as far as the load and disk allow."""

    def intake_drained(self) -> bool:
        """`--once`, when intake has nothing left: True when intake's loop may end
        (the backend takes it from there, and calls `finished` when all has run)."""

    def stop(self) -> None:
        """Take no more jobs; the running ones are the worker's to drain."""

    def running_elsewhere(self) -> dict[str, dict[str, Any]]:
        """Other daemons' running jobs (job id: phase, progress), as last seen."""


KINDS = {
    "folder": "presgend.backends.folder.service:FolderBackend",
    "postgres": "presgend.backends.postgres.service:PostgresBackend",
}


def kind(config: Config) -> type[Backend]:
    """The backend class `queue.backend` names (imported only when chosen: procrastinate
    is loaded only for the PostgreSQL queue)."""
    module, _, name = KINDS[config.queue.backend].partition(":")
    chosen: type[Backend] = getattr(importlib.import_module(module), name)
    return chosen
