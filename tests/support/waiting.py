"""Waiting without sleeping blind: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(
    check: Callable[[], T | None], timeout: float, what: str = "the condition", every: float = 0.1
) -> T:
    """The first truthy value of `check()`, polled every `every` seconds; AssertionError
    naming `what` once `timeout` seconds have passed without one."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(every)


async def until(
    check: Callable[[], T | None], timeout: float = 30.0, what: str = "the condition"
) -> T:
    """`poll_until` for a test running on an event loop: the loop keeps running between
    the checks."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.02)
