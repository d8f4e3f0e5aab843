"""Reload reaches every service: each section's settings, changed in the file and reloaded,
are what every service that reads them sees; those fixed at start keep their running
values and are named in the log line; a real daemon's next job follows a SIGHUP."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import write_config
from support.daemons import DaemonProcess

from presgend import app
from presgend.core import config as config_mod
from presgend.core import logs
from presgend.daemon.supervisor import Daemon
from presgend.fronts.desk import FrontDesk
from presgend.ops import sample

Seen = Callable[[Daemon, FrontDesk], list[Any]]  # what each service reading a setting sees


def base(root: Path, **extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {
        "paths": {name: str(root / name) for name in ("inbox", "outbox", "failed", "archive")},
        "watch": {"mode": "auto"},
        "http": {"tokens": ["first-token"]},
    }
    for section, keys in extra.items():
        values.setdefault(section, {}).update(keys)
    return values


def reloaded(tmp_path: Path, values: dict[str, dict[str, Any]], section: str, key: str,
             new: Any) -> tuple[Daemon, FrontDesk, list[dict[str, Any]]]:  # fmt: skip
    path = write_config(values, tmp_path / "presgend.toml")
    (tmp_path / "inbox").mkdir(exist_ok=True)
    built = app.build(config_mod.load(path), str(path), sampler=lambda: (10.0, 10.0))
    daemon, front = built.daemon, built.desk
    values.setdefault(section, {})[key] = new
    write_config(values, path)
    logs.configure(tmp_path / "logs")
    try:
        daemon.reload()
    finally:
        logs.configure(None)
    lines = (tmp_path / "logs" / "presgend.jsonl").read_text().splitlines()
    return daemon, front, [json.loads(line) for line in lines]


LIVE: list[tuple[str, str, Any, Seen]] = [
    (
        "watch",
        "settle_seconds",
        7.0,
        lambda d, f: [d.intake.settler.settle_seconds, d.intake.config.watch.settle_seconds],
    ),
    ("watch", "mode", "polling", lambda d, f: [d.intake.mode, d.intake.config.watch.mode]),
    ("watch", "rescan_interval", 5.0, lambda d, f: [d.intake.config.watch.rescan_interval]),
    ("jobs", "max_concurrent", 3, lambda d, f: [d.max_concurrent, d.worker.max_concurrent()]),
    ("jobs", "stall_seconds", 42.0, lambda d, f: [d.worker.config.jobs.stall_seconds]),
    (
        "jobs",
        "lease_seconds",
        33.0,
        lambda d, f: [
            d.housekeeping.config.jobs.lease_seconds,
            d.outcomes.config.jobs.lease_seconds,
        ],
    ),
    ("breaker", "cpu_percent", 55.0, lambda d, f: [d.monitor.cpu_limit]),
    ("breaker", "cooldown_seconds", 4.0, lambda d, f: [d.monitor.breaker.reset_seconds]),
    ("breaker", "sample_seconds", 3.0, lambda d, f: [d.housekeeping.config.breaker.sample_seconds]),
    ("output", "quality", "high", lambda d, f: [d.worker.config.output.quality]),
    ("transcription", "model", "small", lambda d, f: [d.worker.config.transcription.model]),
    ("slides", "theme", "dark", lambda d, f: [d.worker.config.slides.theme]),
    ("speech", "engine", "espeak", lambda d, f: [d.worker.config.speech.engine]),
    ("presenter", "name", "Ada", lambda d, f: [d.worker.config.presenter.name]),
    ("outbox", "retention_hours", 2.0, lambda d, f: [d.housekeeping.config.outbox.retention_hours]),
    (
        "http",
        "tokens",
        ["second-token"],
        lambda d, f: [list(f.desk().config.http.tokens), list(f.config.http.tokens)],
    ),
    ("http", "max_upload_mb", 10, lambda d, f: [f.desk().config.http.max_upload_mb]),
    ("webhooks", "max_attempts", 9, lambda d, f: [f.webhooks.config.webhooks.max_attempts]),
    (
        "mcp",
        "allowed_roots",
        ["/srv/talks"],
        lambda d, f: [list(f.desk().config.mcp.allowed_roots)],
    ),
]


@pytest.mark.parametrize(("section", "key", "new", "seen"), LIVE,
                         ids=[f"{s}.{k}" for s, k, _, _ in LIVE])  # fmt: skip
def test_a_reload_reaches_every_service_that_reads_the_setting(
    tmp_path: Path, section: str, key: str, new: Any, seen: Seen
) -> None:
    daemon, front, events = reloaded(tmp_path, base(tmp_path), section, key, new)
    assert seen(daemon, front) and all(value == new for value in seen(daemon, front))
    line = next(e for e in events if e["event"] == "config_reloaded")
    assert line["changed"] == [f"{section}.{key}"] and line["need_restart"] == []


def test_queue_settings_reach_the_queue_service(tmp_path: Path) -> None:
    values = base(tmp_path, queue={"backend": "postgres", "dsn": "postgresql://u@127.0.0.1:9/q"})
    daemon, _, _ = reloaded(tmp_path, values, "queue", "max_attempts", 7)
    assert daemon.backend.config.queue.max_attempts == 7  # type: ignore[attr-defined]
    values["queue"]["max_attempts"] = 3
    daemon, _, _ = reloaded(tmp_path, values, "queue", "stalled_seconds", 90.0)
    assert daemon.backend.config.queue.stalled_seconds == 90.0  # type: ignore[attr-defined]


FIXED: list[tuple[str, str, Any, dict[str, dict[str, Any]]]] = [
    ("paths", "outbox", "elsewhere", {}),
    ("http", "port", 9999, {}),
    ("http", "bind", "127.0.0.2", {}),
    (
        "queue",
        "dsn",
        "postgresql://v@127.0.0.1:9/r",
        {"queue": {"backend": "postgres", "dsn": "postgresql://u@127.0.0.1:9/q"}},
    ),
    (
        "jobs",
        "max_concurrent",
        4,
        {"queue": {"backend": "postgres", "dsn": "postgresql://u@127.0.0.1:9/q"}},
    ),
]


@pytest.mark.parametrize(("section", "key", "new", "extra"), FIXED,
                         ids=[f"{s}.{k}" for s, k, _, _ in FIXED])  # fmt: skip
def test_settings_fixed_at_start_are_kept_and_named_in_the_log(
    tmp_path: Path, section: str, key: str, new: Any, extra: dict[str, dict[str, Any]]
) -> None:
    values = base(tmp_path, **extra)
    daemon, front, events = reloaded(tmp_path, values, section, key, new)
    before = getattr(getattr(config_mod.Config(), section), key)
    kept = getattr(getattr(daemon.config, section), key)
    assert kept != new
    if section != "paths":
        assert kept == extra.get(section, {}).get(key, before)
    for service in (daemon.worker, daemon.intake, daemon.housekeeping, front):
        assert getattr(getattr(service.config, section), key) == kept
    line = next(e for e in events if e["event"] == "config_reloaded")
    assert line["need_restart"] == [f"{section}.{key}"] and line["changed"] == []
    assert [e for e in events if e["event"] == "config_needs_restart"]


def test_a_bad_file_keeps_the_running_settings(tmp_path: Path) -> None:
    daemon, _, events = reloaded(tmp_path, base(tmp_path), "jobs", "stall_seconds", -1.0)
    assert daemon.worker.config.jobs.stall_seconds == 300.0
    failed = [e for e in events if e["event"] == "config_reload_failed"]
    assert failed and "jobs.stall_seconds must be greater than 0" in failed[0]["problems"][0]


def test_a_new_watch_mode_restarts_the_watcher(tmp_path: Path) -> None:
    path = write_config(base(tmp_path), tmp_path / "presgend.toml")
    (tmp_path / "inbox").mkdir()

    async def scenario() -> tuple[str, str]:
        daemon = app.build(config_mod.load(path), str(path), sampler=lambda: (10.0, 10.0)).daemon
        daemon.outcomes.index_dir().mkdir(parents=True)
        (tmp_path / "inbox" / ".presgend" / "claims").mkdir(parents=True)
        daemon.intake.start(asyncio.get_running_loop())
        try:
            first = type(daemon.intake.observer).__name__
            write_config(base(tmp_path, watch={"mode": "polling"}), path)
            daemon.reload()
            return first, type(daemon.intake.observer).__name__
        finally:
            daemon.intake.stop()

    first, after = asyncio.run(scenario())
    assert first != "PollingObserver" and after == "PollingObserver"


def test_sighup_the_next_job_follows_the_new_settings(
    tmp_path: Path, short_talk: sample.SampleTalk
) -> None:
    daemon = DaemonProcess(tmp_path, output={"quality": "draft"})
    try:
        text = daemon.config.read_text()
        changed = text.replace('quality = "draft"', 'quality = "fast"').replace(
            "grace_seconds = 60.0", "grace_seconds = 30.0"
        )
        assert changed.count('"fast"') == 1 and "30.0" in changed
        daemon.config.write_text(changed)
        daemon.signal(signal.SIGHUP)
        line = daemon.wait_for(lambda: daemon.events("config_reloaded"), 10, "the reload")[0]
        assert sorted(line["changed"]) == ["jobs.grace_seconds", "output.quality"]
        shutil.copy(short_talk.srt, tmp_path / "inbox" / "talk.srt")
        shutil.copy(short_talk.video, tmp_path / "inbox" / "talk.mp4")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 180, "the job")
    finally:
        assert daemon.stop() == 0
    report = json.loads((tmp_path / "outbox" / "talk.report.json").read_text())
    assert report["quality"] == "fast"
