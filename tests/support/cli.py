"""Running presgend's CLI as a user does, and writing the config files it reads."""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
    """`python -m presgend ARGS` in `cwd`, its output captured. In this process's own
    environment the command is forked from a process that has imported presgend already
    (`zygote.py`); with another environment (`env`, or one changed since) it is a fresh
    interpreter, since some settings are read when presgend is imported."""
    argv = [sys.executable, "-m", "presgend", *args]
    zygote = None if env is not None else _Zygote.for_this_environment()
    if zygote is None:
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env,
                              timeout=timeout)  # fmt: skip
    return zygote.run(argv, list(args), cwd or Path.cwd(), timeout)


def _environ() -> dict[str, str]:
    """This process's environment, less what pytest changes at each test."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


class _Zygote:
    """The forking process of this test process (one per pytest-xdist worker)."""

    current: _Zygote | None = None

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
        atexit.register(self.close)

    @classmethod
    def for_this_environment(cls) -> _Zygote | None:
        if os.environ.get("PRESGEND_TEST_FRESH_CLI"):
            return None
        zygote = cls.current
        if zygote is None or zygote.proc.poll() is not None:
            zygote = cls.current = cls()
        return zygote if zygote.environ == _environ() else None

    def run(
        self, argv: list[str], args: list[str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        deadline = time.monotonic() + timeout
        out, err = (self.folder / f"{os.getpid()}.{time.monotonic_ns()}.{k}" for k in "oe")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self.socket)
            request = {"argv": args, "cwd": str(Path(cwd).absolute()), "environ": dict(os.environ),
                       "stdout": str(out), "stderr": str(err)}  # fmt: skip
            conn.sendall(json.dumps(request).encode() + b"\n")
            lines = conn.makefile("r", encoding="utf-8")
            pid = code = None
            try:
                while True:
                    conn.settimeout(max(0.01, deadline - time.monotonic()))
                    line = lines.readline()
                    if not line:  # the command's process has ended
                        break
                    said = json.loads(line)
                    pid, code = said.get("pid", pid), said.get("code", code)
            except TimeoutError:
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(argv, timeout) from None
        try:
            stdout = out.read_text(errors="replace") if out.exists() else ""
            stderr = err.read_text(errors="replace") if err.exists() else ""
        finally:
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)
        return subprocess.CompletedProcess(argv, -signal.SIGKILL if code is None else code,
                                           stdout, stderr)  # fmt: skip

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for path in self.folder.iterdir():
            path.unlink(missing_ok=True)
        self.folder.rmdir()
