"""Stand-in servers the tests run as real processes (the language model `llm.py`, the
webhook endpoint `receiver.py`): each prints "port N" once it listens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def start(script: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """`python tests/support/<script> ARGS…`, and the port it says it listens on."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline().split()[1])


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
