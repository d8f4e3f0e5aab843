"""Running presgend's CLI as a user does, and writing the config files it reads."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

ZYGOTE = Path(__file__).with_name("zygote.py")


def write_config(cfg_dict: dict[str, Any], path: Path) -> Path:
    lines = []
    for section, values in cfg_dict.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items())
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """`python -m presgend ARGS` in `cwd`, its output captured: a process forked from one
    that has imported presgend already (`zygote.py`), or a fresh interpreter where `env`
    is not this process's environment (some settings are read when presgend is
    imported)."""
    argv = command(list(args))
    zygote = _Zygote.for_this(env)
    if zygote is None:
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env,
                              timeout=timeout)  # fmt: skip
    out, err = zygote.files()
    try:
        child = zygote.fork(list(args), cwd, out, err)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise subprocess.TimeoutExpired(argv, timeout) from None
        return subprocess.CompletedProcess(argv, child.returncode, _read(out), _read(err))
    finally:
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)


def start(
    args: list[str], cwd: Path, stderr: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes] | Forked:
    """`python -m presgend ARGS` left running (a daemon, a server), its standard output
    thrown away and its standard error appended to `stderr`: forked as `cli` does, or a
    fresh interpreter where `env` is not this process's environment."""
    zygote = _Zygote.for_this(env)
    if zygote is not None:
        return zygote.fork(args, cwd, Path(os.devnull), stderr)
    with stderr.open("a") as err:
        return subprocess.Popen(command(args), cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip


def command(args: list[str]) -> list[str]:
    """`python -m presgend ARGS` with this interpreter, as a user runs it."""
    return [sys.executable, "-m", "presgend", *args]


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _environ() -> dict[str, str]:
    """This process's environment, less what pytest changes at each test."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


class Forked:
    """A command forked by the zygote, as much of `subprocess.Popen` as the tests use."""

    def __init__(
        self, folder: Path, conn: socket.socket, args: list[str], zygote: subprocess.Popen[str]
    ) -> None:
        self.folder = folder
        self.conn = conn
        self.zygote = zygote  # which reaps this process and writes down its status
        self.args = args
        said = json.loads(conn.makefile("r", encoding="utf-8").readline())
        self.pid: int = said["pid"]
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            status = self.folder / f"{self.pid}.status"
            if status.exists():
                self.returncode = int(status.read_text())
                status.unlink()
                self.conn.close()
            elif self.zygote.poll() is not None and self.conn.fileno() != -1:
                with contextlib.suppress(OSError):  # nobody left to say how it ended
                    self.conn.setblocking(False)
                    if not self.conn.recv(1):
                        self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self.conn.settimeout(min(left, 1.0) if left is not None else 1.0)
            try:  # the connection closes when the process ends; its status follows
                if not self.conn.recv(1):
                    time.sleep(0.002)
            except TimeoutError:
                pass
        return self.returncode  # type: ignore[return-value]  # set by poll

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _Zygote:
    """A forking process of this test process (a pytest-xdist worker)."""

    # one zygote per environment this process has had, the last used last; idle ones
    # beyond POOL are closed (one with a daemon still running is theirs to reap)
    pool: ClassVar[dict[tuple[tuple[str, str], ...], _Zygote]] = {}
    POOL = 3

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="presgend-zygote-"))
        self.socket = str(self.folder / "socket")
        self.environ = _environ()
        self.proc = subprocess.Popen(
            [sys.executable, str(ZYGOTE), self.socket],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the test CLI's zygote did not start")
        self.children: list[Forked] = []
        atexit.register(self.close)

    @classmethod
    def for_this(cls, env: dict[str, str] | None) -> _Zygote | None:
        """The zygote of this process's environment, if a command run in `env` (None:
        this process's) can be forked from it; started when none is. The environment of
        a test process changes (a library imported here sets a variable: threadpoolctl
        KMP_DUPLICATE_LIB_OK, OpenCV LD_LIBRARY_PATH; a test sets one for its commands),
        and some settings are read at import, so a zygote serves the environment it
        started in."""
        if os.environ.get("PRESGEND_TEST_FRESH_CLI"):
            return None
        if env is not None and env != dict(os.environ):
            return None
        key = tuple(sorted(_environ().items()))
        zygote = cls.pool.pop(key, None)
        if zygote is None or zygote.proc.poll() is not None:
            zygote = cls()
        cls.pool[key] = zygote
        for old_key, old in list(cls.pool.items())[:-1]:
            if len(cls.pool) > cls.POOL and old.idle():
                del cls.pool[old_key]
                old.close()
        return zygote

    def idle(self) -> bool:
        """None of its children is still running."""
        return all(child.poll() is not None for child in self.children)

    def files(self) -> tuple[Path, Path]:
        stem = self.folder / f"{os.getpid()}.{time.monotonic_ns()}"
        return stem.with_suffix(".out"), stem.with_suffix(".err")

    def fork(self, args: list[str], cwd: Path | None, stdout: Path, stderr: Path) -> Forked:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(self.socket)
        request = {
            "argv": args, "cwd": str(Path(cwd or Path.cwd()).absolute()),
            "environ": dict(os.environ), "stdout": str(stdout), "stderr": str(stderr),
        }  # fmt: skip
        conn.sendall(json.dumps(request).encode() + b"\n")
        child = Forked(self.folder, conn, command(args), self.proc)
        self.children = [c for c in self.children if c.returncode is None] + [child]
        return child

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.folder.is_dir():  # closed once already when it left the pool
            for path in self.folder.iterdir():
                path.unlink(missing_ok=True)
            self.folder.rmdir()
