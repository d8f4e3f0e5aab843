"""How much memory a process tree holds, measured while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable

import psutil

SAMPLE_SECONDS = 1.0  # how often a job's process tree is measured for its peak


def tree_memory_mb(pid: int) -> float:
    """Resident memory of a process tree. Uses PSS where the OS has it, so pages that
    Chromium's or ffmpeg's processes share are counted once, not once per process."""
    total = 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            full = (
                proc.memory_full_info()
                if hasattr(psutil.Process, "memory_full_info")
                else proc.memory_info()
            )
            total += getattr(full, "pss", 0) or full.rss
    return total / 2**20


@contextlib.asynccontextmanager
async def peak_sampled(seen: Callable[[float], None]) -> AsyncIterator[None]:
    """Measure this process and its children while the block runs, once a second in a
    thread, telling `seen` each figure. Reading the PSS of a tree with Chromium in it
    costs about 50 ms of CPU; four times a second on the event loop, that held up the
    queue's heartbeat."""

    async def sample() -> None:
        while True:
            seen(await asyncio.to_thread(tree_memory_mb, os.getpid()))
            await asyncio.sleep(SAMPLE_SECONDS)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # a cancel of the job propagates
