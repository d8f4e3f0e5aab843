"""One Chromium for the jobs of a process.

Starting Chromium and Playwright's driver costs about 1.5 CPU-seconds and a second of
wall time on two cores: more than rendering a deck. A process's jobs share one browser:
jobs that render at once, and, where `slides.keep_browser_seconds` keeps it, the next
job. It is launched when a job first needs slides. Each render gets a page of its own,
in a context with JavaScript off and every request aborted, so no page can reach
anything another left behind (a new context per render cost 0.4 CPU-seconds more). It
is closed `keep_browser_seconds` after the last render, at once by default: an idle
Chromium holds about 400 MB, which the job's compose would carry beside it. A browser
that has died is launched again; one that failed a render is closed by the caller
(`close`), and the next render launches a fresh one.

`slides.chromium = "auto"` takes Debian's `chromium-headless-shell` where it is
installed: the same renderer without the browser around it, it starts a deck in half
the CPU time of the full `chromium` (1.3 against 3.0 CPU-seconds for launch and nine
slide pictures) and draws the same pixels.

Playwright's objects belong to the event loop that made them. Whoever owns the loop a
`SharedBrowser` is used from closes it before the loop ends (the supervisor, the
one-shot `process`, a `run_job` given no services).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

from presgend.core import aio

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-extensions",
    "--mute-audio",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]
# "auto": the headless shell first (the binary itself: the /usr/bin wrapper is a shell
# script that does not exec, so a stopped browser would leave its child behind)
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
FULL_CHROMIUM = "/usr/bin/chromium"
LAUNCH_TIMEOUT_MS = 30_000
CLOSE_SECONDS = 10.0


def executable(setting: str) -> str:
    """The Chromium that `slides.chromium` names; for "auto", the headless shell if it is
    installed, else the full browser (its usual path when none is found, for the error)."""
    if setting != "auto":
        return setting
    for path in (HEADLESS_SHELL, FULL_CHROMIUM):
        if runnable(path):
            return path
    names = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
    return next((found for name in names if (found := shutil.which(name))), FULL_CHROMIUM)


def runnable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


class SharedBrowser:
    def __init__(self) -> None:
        self.launches = 0  # browsers started so far
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._executable = ""
        self._users = 0
        self._idle: asyncio.Task[None] | None = None
        self._contexts: dict[str, Any] = {}

    @property
    def running(self) -> bool:
        return self._browser is not None

    @contextlib.asynccontextmanager
    async def page(self, chromium: str, keep: float, **options: Any) -> AsyncIterator[Any]:
        """A new page, closed on the way out, in the shared browser's context made with
        Playwright's `new_context(**options)` (one per set of options, every request
        aborted); launches the browser if none is running. Once no page is open, the
        browser is closed after `keep` seconds (at once for 0)."""
        context = await self._acquire(chromium, options)
        try:
            page = await context.new_page()
            try:
                yield page
            finally:
                with contextlib.suppress(Exception):
                    await aio.bounded(page.close(), CLOSE_SECONDS)
        finally:
            self._users -= 1
            if self._users == 0 and self._browser is not None:
                if keep > 0:
                    self._idle = asyncio.get_running_loop().create_task(self._close_later(keep))
                else:
                    await self.close()

    async def close(self) -> None:
        """Close the browser now (once a close under way has finished); the next render
        launches a new one."""
        if self._loop is not asyncio.get_running_loop():
            return  # never used on this loop: nothing of it is open here
        async with self._lock:
            await self._close()

    async def _close(self) -> None:
        """`close`, with the lock held."""
        if self._idle is not None and self._idle is not asyncio.current_task():
            self._idle.cancel()
        self._idle = None
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        self._contexts.clear()
        if browser is not None:
            with contextlib.suppress(Exception):
                await aio.bounded(browser.close(), CLOSE_SECONDS)
        if playwright is not None:
            with contextlib.suppress(Exception):
                await aio.bounded(playwright.stop(), CLOSE_SECONDS)

    async def _acquire(self, chromium: str, options: dict[str, Any]) -> Any:
        executable_path = executable(chromium)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # the loop it was made on has ended, and the browser
            self._loop, self._lock = loop, asyncio.Lock()  # with it (owners close it)
            self._browser = self._playwright = self._idle = None
            self._users = 0
            self._contexts.clear()
        async with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._browser is not None and (
                not self._browser.is_connected() or self._executable != executable_path
            ):  # it died, or the settings name another Chromium
                await self._close()
            if self._browser is None:
                await self._launch(executable_path)
            key = repr(sorted(options.items()))
            if key not in self._contexts:
                context = await self._browser.new_context(**options)
                await context.route("**/*", lambda route: route.abort())
                self._contexts[key] = context
            self._users += 1
            return self._contexts[key]

    async def _launch(self, executable: str) -> None:
        from playwright.async_api import async_playwright

        self._browser = None
        playwright = await async_playwright().start()
        try:
            self._browser = await playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_FLAGS, timeout=LAUNCH_TIMEOUT_MS
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await aio.bounded(playwright.stop(), CLOSE_SECONDS)
            raise
        self._playwright, self._executable = playwright, executable
        self.launches += 1

    async def _close_later(self, keep: float) -> None:
        await asyncio.sleep(keep)
        async with self._lock:
            if self._users == 0 and self._idle is asyncio.current_task():
                await self._close()
