"""Running real daemon processes in tests: config, start/stop, their logs, and a watcher
that checks every file appearing in the outbox the moment it appears."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from .cli import start, write_config
from .waiting import poll_until

# for a test whose daemon runs several jobs: they share its Chromium instead of starting
# one each (1.5 CPU-s a job); a test that kills a daemon keeps the default, so no kept
# browser outlives it
KEEP_BROWSER = {"keep_browser_seconds": 60.0}


def daemon_config(root: Path, name: str = "d", toml: str = "", **sections: dict[str, Any]) -> Path:
    """A config for a daemon sharing `root`'s folders; its logs go to `root/logs-<name>`.
    `toml` is added as written (tables such as [presets.NAME])."""
    values: dict[str, dict[str, Any]] = {
        "paths": {
            "inbox": str(root / "inbox"),
            "outbox": str(root / "outbox"),
            "failed": str(root / "failed"),
            "archive": str(root / "archive"),
            "logs": str(root / f"logs-{name}"),
        },
        "watch": {"settle_seconds": 1.0, "unreadable_seconds": 1.0, "rescan_interval": 30.0},
        "jobs": {"max_concurrent": 1, "lease_seconds": 10.0, "grace_seconds": 60.0},
        "breaker": {"cpu_percent": 100.0, "cooldown_seconds": 1.0},
        # 640x360: what a daemon test checks is what happens to files, not the picture
        "output": {"quality": "draft"},
    }
    for section, extra in sections.items():
        values.setdefault(section, {}).update(extra)
    (root / "inbox").mkdir(exist_ok=True)
    path = write_config(values, root / f"{name}.toml")
    if toml:
        path.write_text(path.read_text() + toml)
    return path


class DaemonProcess:
    def __init__(
        self, root: Path, name: str = "d", env: dict[str, str] | None = None, **sections: Any
    ) -> None:
        self.root = root
        self.name = name
        self.config = daemon_config(root, name, **sections)
        self.log_path = root / f"logs-{name}" / "presgend.jsonl"
        self.stderr_path = root / f"{name}.stderr"
        self.stderr_path.write_text("")
        self.proc = start(["run", "--config", str(self.config)], root, self.stderr_path,
                          {**os.environ, **(env or {})})  # fmt: skip
        self.wait_for(lambda: self.events("daemon_started"), 30, "the daemon to start")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return log_events(self.log_path, name)

    def wait_for(
        self, check: Callable[[], Any], timeout: float, what: str, *, failures_ok: bool = False
    ) -> Any:
        def checked() -> Any:
            result = check()
            if result:
                return result
            failed = [] if failures_ok else self.events("job_failed")
            if failed:
                raise AssertionError(f"a job failed waiting for {what}: {failed[0]['error']}")
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}) waiting for {what}")
            return None

        return poll_until(checked, timeout, what)

    def proc_children(self) -> list[psutil.Process]:
        try:
            return list(psutil.Process(self.proc.pid).children(recursive=True))
        except psutil.Error:
            return []

    def programs(self, name: str) -> list[psutil.Process]:
        """The daemon's descendants called `name` (say "ffmpeg")."""
        return named(self.proc_children(), name)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def log_events(path: Path, name: str | None = None) -> list[dict[str, Any]]:
    """The events of a daemon's JSON log called `name` (every one for None)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if name is None or event.get("event") == name:
            out.append(event)
    return out


def named(processes: list[psutil.Process], name: str) -> list[psutil.Process]:
    """The processes called `name`, leaving out any that end while being looked at (a
    daemon's Chromium opens and closes a renderer for each deck)."""
    found = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.name() == name:
                found.append(process)
    return found


def published(stem: str) -> list[str]:
    """Every file one job publishes, sorted as `visible` lists them."""
    from presgend.pipeline import publish

    return sorted(stem + suffix for suffix in publish.SUFFIXES)


def event_time(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def valid_video(path: Path) -> str:
    """'' if `path` is a complete MP4 with video and audio, else what is wrong."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return f"ffprobe failed: {result.stderr.strip()[:200]}"
    data = json.loads(result.stdout)
    kinds = sorted(s["codec_type"] for s in data.get("streams", []))
    # one picture and one sound; the captions track and the chapter list may come with them
    if kinds.count("video") != 1 or kinds.count("audio") != 1:
        return f"streams {kinds}"
    if float(data.get("format", {}).get("duration", 0)) < 1:
        return "too short"
    return ""


class OutboxWatcher(threading.Thread):
    """Checks every visible file the moment it appears in the outbox."""

    def __init__(self, outbox: Path) -> None:
        super().__init__(daemon=True)
        self.outbox = outbox
        self.seen: dict[str, str] = {}
        self.problems: list[str] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            self.scan()
            time.sleep(0.05)

    def scan(self) -> None:
        if not self.outbox.is_dir():
            return
        for path in self.outbox.iterdir():
            if path.name.startswith(".") or path.name in self.seen:
                continue
            problem = ""
            if path.suffix == ".mp4":
                problem = valid_video(path)
            elif path.name.endswith(".json"):
                try:
                    json.loads(path.read_text(encoding="utf-8"))
                except ValueError as exc:
                    problem = f"bad json: {exc}"
            self.seen[path.name] = problem
            if problem:
                self.problems.append(f"{path.name}: {problem}")

    def stop(self) -> None:
        self.running = False
        self.join(5)
        self.scan()


def visible(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def claims_left(inbox: Path) -> list[str]:
    folder = inbox / ".presgend" / "claims"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def remux(src: Path, dst: Path, tag: str) -> Path:
    """A copy of `src` with different bytes (a metadata tag), so it is not a duplicate."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy", "-metadata",
         f"comment={tag}", str(dst)],
        check=True,
    )  # fmt: skip
    return dst
