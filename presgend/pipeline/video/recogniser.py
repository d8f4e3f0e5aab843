"""Speech recognition in a child process: `python -m presgend.pipeline.video.recogniser`.

Recognition used to run in a thread of the job's process. A thread stuck in C code
(OpenBLAS spinning in `inner_thread` while other threads also call BLAS) cannot be
stopped from Python: the job held its slot until `jobs.timeout_seconds`, and the process
could not even exit. A child process can always be killed, with its process group, by
the stall watchdog or a cancellation; its model and scratch memory go back to the
system when it ends; and in it the feature extractor is numpy's only caller.

The parent sends the request as one JSON line on stdin; the child answers with JSON
lines on stdout: `{"heard": seconds}` as each segment is decoded (the job's progress),
then `{"transcript": {...}}` or `{"error": ..., "detail": ...}`.
"""

from __future__ import annotations

import os

# before numpy loads: one BLAS thread (see presgend/__init__.py for why)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from presgend.core.config import TranscriptionConfig
from presgend.core.errors import JobError


def request_line(wav: Path, cfg: TranscriptionConfig, cuda: bool) -> bytes:
    return (json.dumps({"wav": str(wav), "cuda": cuda, "config": dataclasses.asdict(cfg)})
            + "\n").encode()  # fmt: skip


def _answer(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    from presgend.core import logs
    from presgend.pipeline.video import transcribe

    logs.configure(None, stream=sys.stderr)  # stdout carries the answers
    request = json.loads(sys.stdin.readline())
    cfg = TranscriptionConfig(**request["config"])
    try:
        result = transcribe.whisper_transcribe(
            Path(request["wav"]), cfg, bool(request["cuda"]),
            heard=lambda t: _answer({"heard": round(t, 3)}),
        )  # fmt: skip
    except JobError as exc:
        _answer({"error": str(exc), "detail": exc.detail, "fault": exc.fault})
        return 3
    _answer({"transcript": transcribe.transcript_dict(result)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
