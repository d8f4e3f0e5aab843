"""The shared-folder backend: the worker claims ready inputs as the load allows (the
claim is a rename, so of the daemons on one inbox exactly one takes each file), and
`presgend status` reads every daemon's state file."""

from __future__ import annotations

import contextlib
import time
from typing import Any, ClassVar

from presgend.backends import Parts, Service
from presgend.backends.folder import status
from presgend.core import logs
from presgend.core.config import Config

log = logs.get(__name__)


class FolderBackend:
    restart_only: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self._others: tuple[float, dict[str, dict[str, Any]]] = (float("-inf"), {})

    @classmethod
    def status(cls, config: Config) -> dict[str, Any]:
        return status.collect(config)

    @classmethod
    def render(cls, snapshot: dict[str, Any]) -> str:
        return status.render(snapshot)

    @classmethod
    def ready(cls, config: Config) -> str | None:
        return None  # the folders themselves are doctor's own checks

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def services(self, *, once: bool) -> dict[str, Service]:
        return {}

    async def admit(self) -> None:
        self.parts.worker.admit()

    def intake_drained(self) -> bool:
        if self.parts.worker.jobs:
            return False  # the last claims are still running
        log.info("inbox_drained")
        self.parts.finished()
        return True

    def stop(self) -> None:
        return None

    def running_elsewhere(self) -> dict[str, dict[str, Any]]:
        """From the daemons' state files, read at most once a second."""
        at, others = self._others
        if time.monotonic() - at > 1.0:
            with contextlib.suppress(OSError, ValueError):
                running = status.collect(self.parts.settings.current)["running"]
                others = {job["job_id"]: job for job in running}
            self._others = (time.monotonic(), others)
        return others
