"""`python -m presgend …` for the tests, without importing presgend again each time.

A fresh interpreter spends about 0.55 CPU-s importing presgend, numpy, OpenCV and
python-pptx before a command starts, and the suite runs some 150 commands and daemons on
two busy cores. This process imports them once, then forks a child for each command: the
child takes the caller's folder and environment, writes to the caller's files, runs
presgend's `main` as `python -m presgend` would and exits as that process would (its
exit handlers, its threads joined, its output flushed). A command is still a process of
its own, with its own exit status, signals and children.

Run as `python zygote.py SOCKET`: it answers on the UNIX socket SOCKET, one connection a
command, and ends when its standard input closes (the test process that started it is
gone). A request is one JSON line: {"argv": [...], "cwd": ..., "environ": {...},
"stdout": path, "stderr": path}. The child answers {"pid": N}; the connection closes
when the child has exited, and its exit status, as `Popen.returncode` gives it, is then
in `PID.status` beside SOCKET.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

import presgend

# what the commands import when they run, imported here once
import presgend.app
import presgend.daemon.supervisor
import presgend.daemon.worker
import presgend.ops.doctor
import presgend.ops.plan
import presgend.pipeline.store
from presgend.fronts import cli

MAIN = str(Path(presgend.__file__).with_name("__main__.py"))  # `python -m presgend`'s argv[0]
_keep: list[socket.socket] = []  # the child's connection, open until the process ends


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter makes of `SystemExit(code)`: None is 0, a number is itself,
    anything else is printed to stderr and is 1."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _command(conn: socket.socket) -> int:
    request: dict[str, Any] = json.loads(conn.makefile("r", encoding="utf-8").readline())
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["environ"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.close(null)
    sys.argv = [MAIN, *request["argv"]]
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    try:
        code = cli.main(request["argv"])
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:  # as the interpreter does with an exception nobody caught
        traceback.print_exc()
        code = 1
    return code


def _reap(folder: Path) -> None:
    """Each child that has ended: its exit status written beside the socket."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        temp = folder / f"{pid}.status.tmp"
        temp.write_text(str(os.waitstatus_to_exitcode(status)))
        temp.replace(folder / f"{pid}.status")


def _serve(path: str) -> socket.socket | None:
    """Fork a child for each connection; return its connection in the child, None in the
    zygote when its caller has gone."""
    folder = Path(path).parent
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    woken, wake = os.pipe()  # a child's end wakes the loop (SIGCHLD)
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([listener, sys.stdin, woken], [], [], 5.0)
        if woken in ready:
            os.read(woken, 4096)
        _reap(folder)
        if sys.stdin in ready and not sys.stdin.buffer.read1(1024):
            listener.close()
            return None
        if listener in ready:
            conn, _ = listener.accept()
            if os.fork() == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                for fd in (woken, wake):
                    os.close(fd)
                listener.close()
                return conn
            conn.close()


if __name__ == "__main__":
    child = _serve(sys.argv[1])
    if child is None:
        raise SystemExit(0)
    _keep.append(child)
    raise SystemExit(_command(child))
