"""The stall watchdog: a job whose progress has not moved for `jobs.stall_seconds` is
stopped, with every child it started.

Each phase reports progress (the phase and a fraction) and long steps whose fraction
moves slowly also beat (a recognised segment, a synthesised sentence). `Guard.watch`
runs one attempt of a job and cancels it when neither has happened for the limit;
cancelling a job kills its external programs' process groups on the way out
(`procs.run`), so a stopped ffmpeg or a recogniser spinning in C goes with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
ProgressFn = Callable[[str, float], None]


class Stalled(Exception):
    """An attempt made no progress for the limit: `phase` is where it stood."""

    def __init__(self, phase: str, seconds: float) -> None:
        self.phase = phase
        self.seconds = seconds
        super().__init__(f"no progress for {seconds:.0f} s during {phase}")


class Guard:
    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.moved_at = clock()
        self.phase = "start"
        self.last: tuple[str, float] | None = None

    def relay(self, report: ProgressFn) -> ProgressFn:
        """`report`, noting each change of phase or fraction as progress."""

        def progress(phase: str, fraction: float) -> None:
            if (phase, fraction) != self.last:
                self.last = (phase, fraction)
                self.phase = phase
                self.moved_at = self.clock()
            report(phase, fraction)

        return progress

    def beat(self) -> None:
        """Work moved that the progress fraction does not show."""
        self.moved_at = self.clock()

    def idle(self) -> float:
        return self.clock() - self.moved_at

    async def watch(self, work: Awaitable[T]) -> T:
        """Await `work`; cancel it and raise Stalled once it has been idle for the limit."""
        task = asyncio.ensure_future(work)
        check_every = min(1.0, self.limit / 5)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=check_every)
                if done:
                    return task.result()
                idle = self.idle()
                if idle >= self.limit:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    raise Stalled(self.phase, idle)
        finally:
            if not task.done():  # we were cancelled: so is the work
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
