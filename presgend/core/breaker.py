"""Circuit breakers: after repeated failures a stage is skipped for a while.

A breaker is closed while things work. `threshold` failures in a row open it; while
open, callers go straight to their fallback. After `reset_seconds` it half-opens and
lets one attempt through: success closes it, failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class CircuitBreaker:
    name: str
    threshold: int = 3
    reset_seconds: float = 300.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    listeners: list[Callable[[str, str], None]] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        if self.clock() - self.opened_at >= self.reset_seconds:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        """Whether an attempt may be made now."""
        return self.state != OPEN

    def record_success(self) -> None:
        before = self.state
        self.failures = 0
        self.opened_at = None
        self._changed(before)

    def record_failure(self) -> None:
        before = self.state
        self.failures += 1
        if before == HALF_OPEN or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self._changed(before)

    def _changed(self, before: str) -> None:
        after = self.state
        if after != before:
            for listener in self.listeners:
                listener(before, after)


class StageBreakers:
    """One breaker per fallible stage, shared by all jobs of a process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def __getitem__(self, stage: str) -> CircuitBreaker:
        if stage not in self._breakers:
            self._breakers[stage] = CircuitBreaker(stage, clock=self._clock)
        return self._breakers[stage]

    def states(self) -> dict[str, str]:
        return {name: b.state for name, b in self._breakers.items()}
