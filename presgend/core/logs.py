"""Structured logging: JSON lines to logs/presgend.jsonl, readable or JSON on stderr.

Every event has a stable name (`job_started`, `phase_completed`); a job's context
(`job_id`, `input`) is bound once with contextvars and rides on every event.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class _JsonFile:
    """A processor that appends each event as one JSON line and passes it on."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if self._file is not None:
            line = json.dumps(event, default=str, ensure_ascii=False)
            with self._lock:
                self._file.write(line + "\n")
        return event

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


_json_file: _JsonFile | None = None


class _ConsoleLevel:
    """Drops events below the console's level after they reached the file."""

    def __init__(self, level: str) -> None:
        self.level = _LEVELS[level]

    def __call__(
        self, _logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if _LEVELS.get(method, 20) < self.level:
            raise structlog.DropEvent
        return event


def configure(
    log_dir: Path | None, *, console_level: str = "info", stream: TextIO | None = None
) -> None:
    """Send events to `log_dir/presgend.jsonl` and to `stream` (stderr by default)."""
    global _json_file
    stream = stream or sys.stderr
    if _json_file is not None:
        _json_file.close()
    _json_file = _JsonFile(log_dir / "presgend.jsonl" if log_dir else None)
    renderer: Any
    if stream.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=True)
    else:
        renderer = structlog.processors.JSONRenderer(default=str)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _json_file,
            _ConsoleLevel(console_level),
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )


def get(name: str = "presgend") -> Any:
    return structlog.get_logger(name)
