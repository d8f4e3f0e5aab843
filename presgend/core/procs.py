"""External programs: found once, run as argument lists, bounded in time, always reaped.

The child runs in its own process group so a timeout or a cancellation kills it and
everything it started (Chromium's helpers, ffmpeg's filters) in one signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from presgend.core.aio import bounded
from presgend.core.errors import ToolError, ToolMissing

INSTALL_HINTS = {
    "ffmpeg": "install it with 'sudo apt-get install ffmpeg' (or 'brew install ffmpeg')",
    "ffprobe": "it comes with ffmpeg: 'sudo apt-get install ffmpeg' (or 'brew install ffmpeg')",
    "espeak-ng": "install it with 'sudo apt-get install espeak-ng' (or 'brew install espeak-ng')",
    "chromium": "install it with 'sudo apt-get install chromium' or set slides.chromium",
    "nvidia-smi": "it comes with the NVIDIA driver",
}

LineHandler = Callable[[str], None]


@dataclass(frozen=True)
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes


@cache
def find(name: str) -> str:
    """The path of `name`, from $PRESGEND_<NAME> if set, else from PATH."""
    override = os.environ.get("PRESGEND_" + name.upper().replace("-", "_"))
    found = override or shutil.which(name)
    if not found:
        hint = INSTALL_HINTS.get(name, f"install {name}")
        raise ToolMissing(f"{name} is not installed; {hint}.")
    return found


def available(name: str) -> bool:
    try:
        find(name)
    except ToolMissing:
        return False
    return True


async def run(
    args: Sequence[str],
    *,
    timeout: float,
    check: bool = True,
    what: str = "",
    on_stdout_line: LineHandler | None = None,
    stdin: bytes | Iterator[bytes] | None = None,
    busy: Callable[[], None] | None = None,
) -> Completed:
    """Run `args`, return its output; kill its process group on timeout or cancellation.

    `stdin` is bytes, or an iterator of chunks made in a worker thread as the process
    reads them (raw video frames, say: never all in memory at once). `busy` is called
    every few seconds in which the child used CPU: the stall watchdog's sign of life
    for programs that say nothing while they work (Piper, SadTalker)."""
    argv = tuple(str(a) for a in args)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
    watching = asyncio.create_task(_watch_cpu(proc.pid, busy)) if busy else None
    try:
        out, err = await bounded(_communicate(proc, stdin, on_stdout_line), timeout)
    except asyncio.TimeoutError:
        await _kill(proc)
        raise ToolError(
            f"{what or os.path.basename(argv[0])} took longer than {timeout:.0f} seconds and was "
            "stopped.",
            shlex.join(argv),
            None,
            "",
        ) from None
    except BaseException:
        await _kill(proc)
        raise
    finally:
        if watching is not None:
            watching.cancel()
    result = Completed(argv, proc.returncode or 0, out, err)
    if check and result.returncode != 0:
        raise failure(what or os.path.basename(argv[0]), result)
    return result


def ffmpeg(*args: str, level: str = "error", program: str = "") -> list[str]:
    """An ffmpeg command line: the program (`program`, else found: `PRESGEND_FFMPEG`
    overrides it), never reading stdin, quiet but for `level`, overwriting its output,
    then `args`. With level "info" (what showinfo and ebur128 report at) the running
    statistics are left out too."""
    head = [program or find("ffmpeg"), "-nostdin", "-hide_banner"]
    head += ["-nostats", "-v", level] if level == "info" else ["-v", level]
    return [*head, "-y", *args]


EXPR_GROUP = 8  # terms per bracket of `expr_sum`


def expr_sum(terms: list[str]) -> str:
    """Signed terms ("+2*gte(t,1)", "-2*gte(t,3)") as one ffmpeg expression that stays
    shallow however many there are. ffmpeg refuses an expression about 100 deep, and a
    chain of additions is as deep as it is long; in brackets of eight, 1,000 terms nest
    three deep. Empty: "+0"."""
    if not terms:
        return "+0"
    while len(terms) > EXPR_GROUP:
        terms = [
            "+(0" + "".join(terms[i : i + EXPR_GROUP]) + ")"
            for i in range(0, len(terms), EXPR_GROUP)
        ]
    return "".join(terms)


def failure(what: str, result: Completed) -> ToolError:
    """The error for a program that exited non-zero: killed by a signal (from outside:
    a job may run once more), or failed with its exit code."""
    code = result.returncode
    how = (
        f"was killed by {signal.Signals(-code).name}"
        if -code in signal.valid_signals()
        else f"failed (exit code {code})"
    )
    return ToolError(
        f"{what} {how}.",
        shlex.join(result.args),
        code,
        result.stderr.decode("utf-8", "replace")[-4000:],
    )


CPU_CHECK_SECONDS = 2.0


async def _watch_cpu(pid: int, busy: Callable[[], None]) -> None:
    """Call `busy` after each check in which the process tree's CPU time grew."""
    import psutil

    last = 0.0
    while True:
        await asyncio.sleep(CPU_CHECK_SECONDS)
        used = 0.0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            for proc in (root, *root.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    used += times.user + times.system
        if used > last:
            busy()
        last = max(last, used)


PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel kill the child when presgend dies, even by
    `kill -9` (Linux's PR_SET_PDEATHSIG): a daemon that is gone leaves no ffmpeg or Piper
    running, so a job another daemon reclaims is never composed twice at once. The
    children run in their own session (so a terminal's Ctrl-C reaches only presgend,
    which stops them itself), so the process group cannot do this. None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no allocation
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


async def _communicate(
    proc: asyncio.subprocess.Process,
    stdin: bytes | Iterator[bytes] | None,
    on_line: LineHandler | None,
) -> tuple[bytes, bytes]:
    assert proc.stdout is not None and proc.stderr is not None
    tasks: list[Awaitable[bytes]] = [
        _read_lines(proc.stdout, on_line) if on_line else proc.stdout.read(),
        proc.stderr.read(),
    ]
    if stdin is not None and proc.stdin is not None:
        tasks.append(_feed(proc.stdin, stdin))
    out, err, *_ = await asyncio.gather(*tasks)
    await proc.wait()
    return out, err


async def _feed(pipe: asyncio.StreamWriter, data: bytes | Iterator[bytes]) -> bytes:
    chunks = iter([data]) if isinstance(data, bytes) else data
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        while True:
            batch = await asyncio.to_thread(_take, chunks, 16)
            if not batch:
                break
            pipe.write(b"".join(batch))
            await pipe.drain()
    pipe.close()
    return b""


def _take(chunks: Iterator[bytes], n: int) -> list[bytes]:
    return list(itertools.islice(chunks, n))


async def _read_lines(stream: asyncio.StreamReader, on_line: LineHandler) -> bytes:
    """Each line of `stream` as it comes, however long: a 30-minute talk's transcript is
    one line of JSON of several megabytes, where `StreamReader.readline` gives up at its
    64 KiB limit."""
    parts: list[bytes] = []
    while chunk := await stream.read(1 << 16):
        *ended, rest = chunk.split(b"\n")
        for k, raw in enumerate(ended):
            on_line((b"".join([*parts, raw]) if k == 0 else raw).decode("utf-8", "replace"))
            parts = []
        if rest:
            parts.append(rest)
    if parts:
        on_line(b"".join(parts).decode("utf-8", "replace"))
    return b""


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await asyncio.shield(proc.wait())


Runner = Callable[..., Awaitable[Completed]]
