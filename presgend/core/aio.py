"""Waiting with a bound, without losing a cancellation; blocking calls that never hold
the process.

`asyncio.wait_for` on Python 3.10 and 3.11 swallows a cancellation that arrives in the
same loop step as its work finishes: it returns the result, and the cancelled task runs
on. A job cancelled through the HTTP API as one of its programs exited went on to its
end and reported success (found as a flaky `test_cancel_a_running_job` in CI). `bounded`
is `wait_for` without that: the cancellation always propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def bounded(work: Awaitable[T], seconds: float) -> T:
    """Await `work` for at most `seconds`; on timeout it is cancelled (and awaited) and
    asyncio.TimeoutError is raised. A cancellation of the caller always propagates,
    even when `work` finishes in the same step."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():  # timed out, or we were cancelled: so is the work
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if not done:
        raise asyncio.TimeoutError
    return task.result()


async def together(*works: Awaitable[Any]) -> list[Any]:
    """Await `works` side by side, their results in order. When one fails the others are
    cancelled (and awaited) and its error is raised; `asyncio.gather` would leave them
    running, and `asyncio.TaskGroup` needs Python 3.11."""
    tasks = [asyncio.ensure_future(work) for work in works]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:  # one failed, or we were cancelled: the rest stop
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
    return [task.result() for task in tasks]


async def nothing() -> None:
    """An awaitable that does nothing: the place of a step that is not needed."""
    return None


def consume(task: asyncio.Task[Any]) -> None:
    """A done callback: retrieve a background task's exception, so one that is abandoned
    is not reported twice."""
    if not task.cancelled():
        task.exception()


class Steps:
    """Progress as the steps of a gather finish, in whatever order they do."""

    def __init__(self, report: Callable[[float], None], total: int) -> None:
        self.report = report
        self.total = total
        self.done = 0

    async def counted(self, work: Awaitable[T]) -> T:
        result = await work
        self.done += 1
        self.report(self.done / self.total)
        return result


async def in_thread(call: Callable[[], T]) -> T:
    """`call()` in a daemon thread: unlike the loop's executor (`asyncio.to_thread`), a
    thread stuck in a socket never keeps the process from exiting. For network calls."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="presgend-call", daemon=True).start()
    return await future
