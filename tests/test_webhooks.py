"""Webhooks against real endpoint processes (tests/support/receiver.py): a finished job
is posted to every URL, signed; a 500 is retried with the same delivery id; an endpoint
that never answers is given up after max_attempts and delays nothing; a failed job is
posted with its sentence; and pending deliveries survive a daemon restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import standins
from support.cli import cli
from support.daemons import DaemonProcess, event_time
from support.ports import free_port

from presgend.ops import sample

SECRET = "correct horse battery staple"

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Start an endpoint in a mode: (its URL, its request log)."""
    started: list[subprocess.Popen[str]] = []

    def start(mode: str, port: int = 0) -> tuple[str, Path]:
        log = tmp_path / f"{mode}-{len(started)}.jsonl"
        proc, port = standins.start("receiver.py", "--mode", mode, "--log", str(log),
                                    "--port", str(port))  # fmt: skip
        started.append(proc)
        return f"http://127.0.0.1:{port}/hook", log

    yield start
    standins.stop(started)


def requests(log: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def drop(clip: sample.SampleTalk, inbox: Path) -> None:
    shutil.copy(clip.srt, inbox / "clip.srt")
    shutil.copy(clip.video, inbox / ".clip.mp4.part")
    os.rename(inbox / ".clip.mp4.part", inbox / "clip.mp4")


def test_a_finished_job_is_posted_signed_retried_and_given_up_without_delaying_it(
    tmp_path: Path, clip: sample.SampleTalk, receiver: Callable[..., tuple[str, Path]]
) -> None:
    (ok_url, ok_log), (flaky_url, flaky_log) = receiver("ok"), receiver("flaky")
    silent_url, silent_log = receiver("silent")
    hooks = {"urls": [ok_url, flaky_url, silent_url], "secret_env": "HOOK_SECRET",
             "timeout_seconds": 1.0, "max_attempts": 3}  # fmt: skip
    daemon = DaemonProcess(tmp_path, "wh", env={"HOOK_SECRET": SECRET}, webhooks=hooks)
    try:
        drop(clip, tmp_path / "inbox")
        done = daemon.wait_for(lambda: daemon.events("job_succeeded"), 180, "the job")[0]
        daemon.wait_for(lambda: daemon.events("webhook_failed"), 60, "the silent URL given up")
        daemon.wait_for(lambda: len(daemon.events("webhook_delivered")) == 2, 60, "two deliveries")
    finally:
        assert daemon.stop() == 0
    queued = daemon.events("webhook_queued")[0]
    assert event_time(done) <= event_time(queued)  # the job ended first, whatever the URLs do
    report = json.loads((tmp_path / "outbox" / "clip.report.json").read_text())
    [ok] = requests(ok_log)
    body = json.loads(ok["body"])
    assert body == {
        "event": "job.succeeded", "job_id": done["job_id"], "status": "ok", "input": "clip.mp4",
        "outputs": body["outputs"], "slides": [s["title"] for s in report["slides"]],
        "duration_s": report["output"]["duration_s"], "error": None, "version": 1,
        "draft": None,
    }  # fmt: skip
    assert body["outputs"]["video"] == report["output"]["video"]  # no HTTP: the paths
    assert set(body["outputs"]) >= {"video", "srt", "vtt", "pptx", "report"}
    headers = {k.lower(): v for k, v in ok["headers"].items()}
    assert headers["x-presgend-event"] == "job.succeeded"
    expected = hmac.new(SECRET.encode(), ok["body"].encode(), hashlib.sha256).hexdigest()
    assert headers["x-presgend-signature"] == f"sha256={expected}"
    flaky = requests(flaky_log)
    assert [r["status"] for r in flaky] == [500, 500, 200]
    assert len({r["headers"]["X-Presgend-Delivery"] for r in flaky}) == 1  # one delivery
    assert len(requests(silent_log)) == 3  # max_attempts, each cut at timeout_seconds
    [given_up] = daemon.events("webhook_failed")
    assert given_up["url"] == silent_url and given_up["attempt"] == 3
    assert (tmp_path / "inbox" / ".presgend" / "webhooks" / "failed").is_dir()


def test_a_failed_job_is_posted_and_its_delivery_survives_a_restart(
    tmp_path: Path, receiver: Callable[..., tuple[str, Path]]
) -> None:
    port = free_port()  # nothing listens there yet: every attempt is refused
    url = f"http://127.0.0.1:{port}/hook"
    hooks = {"urls": [url], "events": ["job.failed"], "max_attempts": 6}
    first = DaemonProcess(tmp_path, "first", webhooks=hooks)
    try:
        (tmp_path / "inbox" / "broken.mp4").write_bytes(os.urandom(20_000))
        first.wait_for(lambda: first.events("webhook_retry"), 60, "a refused attempt",
                       failures_ok=True)  # fmt: skip
    finally:
        assert first.stop() == 0
    pending = list((tmp_path / "inbox" / ".presgend" / "webhooks").glob("*.json"))
    assert len(pending) == 1  # on disk, not in a process that is gone
    _, log = receiver("ok", port)
    second = DaemonProcess(tmp_path, "second", webhooks=hooks)
    try:
        second.wait_for(lambda: second.events("webhook_delivered"), 60, "the delivery")
    finally:
        assert second.stop() == 0
    [request] = requests(log)
    body = json.loads(request["body"])
    assert body["event"] == "job.failed" and body["status"] == "failed"
    assert body["input"] == "broken.mp4" and body["outputs"] == {} and body["slides"] == []
    assert body["error"].endswith(".") and " " in body["error"]  # its one plain sentence
    assert request["headers"]["X-Presgend-Delivery"] == pending[0].stem
    assert "X-Presgend-Signature" not in request["headers"]  # no secret configured
    doctor = cli("doctor", "--config", str(second.config))
    assert f"1 URL(s) (127.0.0.1:{port}) on job.failed; 6 attempts of 10 s; unsigned" in (
        doctor.stdout
    )
