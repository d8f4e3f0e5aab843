"""Signals as a context manager: installed on entry, the previous handlers put back on
exit, and nothing at all off the main thread (so tests can run a daemon in-process in a
thread, and the host program keeps its own handlers).

The handlers only call back; the daemon's loop does the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def handled(
    loop: asyncio.AbstractEventLoop,
    on_stop: Callable[[str], None],
    on_reload: Callable[[], None],
) -> Iterator[bool]:
    """SIGTERM and SIGINT call `on_stop(name)`, SIGHUP `on_reload()`; yields whether they
    were installed (only on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    wanted: dict[signal.Signals, tuple[Callable[..., Any], tuple[Any, ...]]] = {
        signal.SIGTERM: (on_stop, ("SIGTERM",)),
        signal.SIGINT: (on_stop, ("SIGINT",)),
        signal.SIGHUP: (on_reload, ()),
    }
    previous = {sig: signal.getsignal(sig) for sig in wanted}
    for sig, (callback, args) in wanted.items():
        loop.add_signal_handler(sig, callback, *args)
    try:
        yield True
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            if handler is not None:
                signal.signal(sig, handler)
