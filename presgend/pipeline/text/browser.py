"""One Chromium for the jobs of a process, spoken to over its DevTools pipe.

Starting a browser costs CPU and wall time on two cores: a process's jobs share one:
jobs that render at once, and, where `slides.keep_browser_seconds` keeps it, the next
job. It is launched when a job first needs slides, or, for a video with its transcript
beside it (whose slides are drawn as soon as it is probed), as its probe starts (`warm`).
Each render gets a page of its own, in one browser context with JavaScript off, the
network offline and every scheme but data: blocked (the slide's own
Content-Security-Policy lets it load nothing but its inline style and data: images
either). It is closed `keep_browser_seconds` after the last render, at once by default: an idle
Chromium holds about 300 MB, which the job's compose would carry beside it. A browser
that has died is launched again; one that failed a render is closed by the caller
(`close`), and the next render launches a fresh one.

The browser is driven with the Chrome DevTools Protocol over `--remote-debugging-pipe`
(JSON messages ended by a NUL byte: ours on its fd 3, its own on fd 4), the few calls a
deck needs. Playwright did this through a Node.js driver that cost 0.5 s of wall time and
0.7 CPU-s to start for every deck, and 120 MB beside it; the pictures are the same
pixels. Chromium exits when the pipe closes, so a killed daemon leaves no browser.

`slides.chromium = "auto"` takes Debian's `chromium-headless-shell` where it is
installed: the same renderer without the browser around it, it starts a deck in half
the CPU time of the full `chromium` and draws the same pixels.

The browser's pipe belongs to the event loop that started it. Whoever owns the loop a
`SharedBrowser` is used from closes it before the loop ends (the supervisor, the
one-shot `process`, a `run_job` given no services).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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
    # the network service in the browser's process, not a process of its own: a fifth
    # less CPU a launch (0.03 CPU-s), and the pages are offline besides
    "--enable-features=NetworkServiceInProcess2",
]
# "auto": the headless shell first (the binary itself: the /usr/bin wrapper is a shell
# script that does not exec, so a stopped browser would leave its child behind)
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
FULL_CHROMIUM = "/usr/bin/chromium"
# every scheme a page could fetch from but data: (a logo is a data: image); the slide's
# Content-Security-Policy refuses them too, and the network is offline besides
BLOCKED = [f"{scheme}:*" for scheme in ("http", "https", "ws", "wss", "file", "ftp", "blob")]
LAUNCH_SECONDS = 30.0
CALL_SECONDS = 30.0  # any one DevTools call; a render is bounded as a whole by its caller
CLOSE_SECONDS = 10.0
MESSAGE_LIMIT = 1 << 27  # a screenshot comes back base64 in one message


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


class BrowserError(RuntimeError):
    """Chromium could not be started, went away, or refused a call."""


class DevTools:
    """A Chromium process and its DevTools pipe."""

    def __init__(self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.WriteTransport) -> None:  # fmt: skip
        self.process, self._reader, self._writer = process, reader, writer
        self._next = 0
        self._calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waits: dict[tuple[str, str], list[asyncio.Future[dict[str, Any]]]] = {}
        self._gone = False
        self._pump = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def launch(cls, executable: str) -> DevTools:
        if not runnable(executable):
            raise BrowserError(f"no Chromium at {executable} (slides.chromium)")
        its_in, ours = _high(os.pipe())  # we write, it reads on fd 3
        theirs, its_out = _high(os.pipe())  # it writes on fd 4, we read
        # bash puts its two ends on fds 3 and 4 (from above 9, so neither move overwrites
        # the other's source; dash takes one digit only), then becomes Chromium (exec)
        move = f'exec "$0" "$@" 3<&{its_in} 4>&{its_out} {its_in}<&- {its_out}>&-'
        try:
            process = await asyncio.create_subprocess_exec(
                "/bin/bash", "-c", move, executable, *CHROMIUM_FLAGS, "--remote-debugging-pipe",
                "about:blank", pass_fds=(its_in, its_out), start_new_session=True,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            os.close(its_in)
            os.close(its_out)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MESSAGE_LIMIT)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(theirs, "rb", 0)
        )
        writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(ours, "wb", 0))
        browser = cls(process, reader, writer)
        try:
            await browser.call("Browser.getVersion", timeout=LAUNCH_SECONDS)
        except BaseException:
            await browser.close()
            raise
        return browser

    @property
    def alive(self) -> bool:
        return not self._gone and self.process.returncode is None

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str = "",
        timeout: float = CALL_SECONDS,
    ) -> dict[str, Any]:  # fmt: skip
        """Send one command and wait for its answer (a BrowserError if it is refused, or
        the browser goes away or takes longer than `timeout`)."""
        if not self.alive:
            raise BrowserError(f"Chromium has gone away (before {method})")
        self._next += 1
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._calls[self._next] = answer
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._writer.write(json.dumps(message).encode() + b"\0")
        try:
            return await asyncio.wait_for(answer, timeout)
        except asyncio.TimeoutError:  # not the builtin one before Python 3.11
            raise BrowserError(f"Chromium did not answer {method} in {timeout:.0f} s") from None
        finally:
            self._calls.pop(message["id"], None)

    def event(self, method: str, session: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next `method` event of `session`, set when it comes."""
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waits.setdefault((session, method), []).append(waiter)
        return waiter

    async def _read(self) -> None:
        while True:
            try:
                data = await self._reader.readuntil(b"\0")
                message = json.loads(data[:-1])
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
                break
            if "id" in message:
                answer = self._calls.get(message["id"])
                if answer is not None and not answer.done():
                    if "error" in message:
                        error = message["error"].get("message", str(message["error"]))
                        answer.set_exception(BrowserError(f"Chromium refused: {error}"))
                    else:
                        answer.set_result(message.get("result", {}))
            else:
                key = (message.get("sessionId", ""), message.get("method", ""))
                for waiter in self._waits.pop(key, []):
                    if not waiter.done():
                        waiter.set_result(message.get("params", {}))
        self._gone = True
        gone = BrowserError("Chromium has gone away")
        for future in [*self._calls.values(), *(w for ws in self._waits.values() for w in ws)]:
            if not future.done():
                future.set_exception(gone)
                future.exception()  # retrieved: nobody may be waiting for it any more

    async def close(self) -> None:
        """Ask Chromium to close; kill its process group if it has not in CLOSE_SECONDS."""
        if self.alive:
            with contextlib.suppress(BrowserError):
                await self.call("Browser.close", timeout=CLOSE_SECONDS)
        try:
            await asyncio.wait_for(self.process.wait(), CLOSE_SECONDS)
        except asyncio.TimeoutError:  # not the builtin one before Python 3.11
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        self._writer.close()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The two descriptors moved above 9 (where a test's capture may hold 3 or 4)."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved[0], moved[1]


class Page:
    """One tab of the shared browser, the size of a slide."""

    def __init__(self, devtools: DevTools, session: str) -> None:
        self._devtools, self._session = devtools, session

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._devtools.call(method, params, self._session)

    async def set_content(self, html: str) -> None:
        """Replace the document with `html` and wait for its load event and its fonts."""
        frame = (await self.call("Page.getFrameTree"))["frameTree"]["frame"]["id"]
        loaded = self._devtools.event("Page.loadEventFired", self._session)
        try:
            await self.call("Page.setDocumentContent", {"frameId": frame, "html": html})
            await asyncio.wait_for(loaded, CALL_SECONDS)
        except asyncio.TimeoutError:  # not the builtin one before Python 3.11
            raise BrowserError(f"a slide did not load in {CALL_SECONDS:.0f} s") from None
        finally:
            loaded.cancel()
        await self.evaluate("() => document.fonts.ready.then(() => true)")

    async def evaluate(self, function: str, arg: Any = None) -> Any:
        """Call the JavaScript `function` with `arg` (as JSON) in the page; its value."""
        answer = await self.call(
            "Runtime.evaluate",
            {"expression": f"({function})({json.dumps(arg)})", "returnByValue": True,
             "awaitPromise": True},
        )  # fmt: skip
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise BrowserError(f"a slide script failed: {details.get('text', details)}")
        return answer.get("result", {}).get("value")

    async def screenshot(self, path: Path) -> None:
        """The page as a PNG at `path`, compressed for speed: the same pixels in a file
        a quarter larger, a fifth less wall time and CPU for each shot (the file is read
        once, by the compose)."""
        shot = await self.call(
            "Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}
        )
        path.write_bytes(base64.b64decode(shot["data"]))


async def _set_up(browser: DevTools, target: str, width: int, height: int) -> Page:
    attached = await browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})
    page = Page(browser, attached["sessionId"])
    await page.call("Page.enable")
    size = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    await page.call("Emulation.setDeviceMetricsOverride", size)
    await page.call("Emulation.setScriptExecutionDisabled", {"value": True})
    await page.call("Network.enable")
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    await page.call("Network.emulateNetworkConditions", offline)
    await page.call("Network.setBlockedURLs", {"urls": BLOCKED})
    return page


class SharedBrowser:
    def __init__(self) -> None:
        self.launches = 0  # browsers started so far
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._browser: DevTools | None = None
        self._context = ""  # the browser context every page opens in
        self._executable = ""
        self._users = 0
        self._idle: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._browser is not None

    @contextlib.asynccontextmanager
    async def page(
        self, chromium: str, keep: float, width: int, height: int
    ) -> AsyncIterator[Page]:
        """A new page of `width` x `height`, JavaScript off and the network offline,
        closed on the way out; launches the browser if none is running. Once no page is
        open, the browser is closed after `keep` seconds (at once for 0)."""
        browser, context = await self._acquire(chromium)
        try:
            made = await browser.call(
                "Target.createTarget", {"url": "about:blank", "browserContextId": context}
            )
            target = {"targetId": made["targetId"]}
            try:
                yield await _set_up(browser, made["targetId"], width, height)
            finally:
                if browser.alive:
                    with contextlib.suppress(BrowserError):
                        await browser.call("Target.closeTarget", target, timeout=CLOSE_SECONDS)
        finally:
            self._users -= 1
            if self._users == 0 and self._browser is not None:
                if keep > 0:
                    self._idle = asyncio.get_running_loop().create_task(self._close_later(keep))
                else:
                    await self.close()

    async def warm(self, chromium: str, hold: float) -> None:
        """Launch the browser before its first page is asked for (a job that will draw
        slides starts it beside its probe, 0.3 s of wall time); it is closed `hold`
        seconds on if no page has opened by then. A launch that fails is left to the
        first page to try again, and to report."""
        try:
            await self._acquire(chromium)
        except BrowserError:
            return
        self._users -= 1
        if self._users == 0 and self._browser is not None:
            self._idle = asyncio.get_running_loop().create_task(self._close_later(hold))

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
        browser, self._browser, self._context = self._browser, None, ""
        if browser is not None:
            await browser.close()

    async def _acquire(self, chromium: str) -> tuple[DevTools, str]:
        executable_path = executable(chromium)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # the loop it was made on has ended, and the browser
            self._loop, self._lock = loop, asyncio.Lock()  # with it (owners close it)
            self._browser, self._idle, self._context = None, None, ""
            self._users = 0
        async with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._browser is not None and (
                not self._browser.alive or self._executable != executable_path
            ):  # it died, or the settings name another Chromium
                await self._close()
            if self._browser is None:
                browser = await DevTools.launch(executable_path)
                try:
                    made = await browser.call("Target.createBrowserContext")
                except BaseException:
                    await browser.close()
                    raise
                self._browser, self._context = browser, made["browserContextId"]
                self._executable = executable_path
                self.launches += 1
            self._users += 1
            return self._browser, self._context

    async def _close_later(self, keep: float) -> None:
        await asyncio.sleep(keep)
        async with self._lock:
            if self._users == 0 and self._idle is asyncio.current_task():
                await self._close()
