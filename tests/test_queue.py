"""The PostgreSQL queue with real daemons, a real server (started by the tests) and real
signals: each drop runs once across workers, a dead or stalled worker's job runs
elsewhere, a stalled worker that wakes publishes nothing, retries are bounded."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from support.cli import cli
from support.daemons import (
    KEEP_BROWSER,
    DaemonProcess,
    OutboxWatcher,
    daemon_config,
    published,
    remux,
    valid_video,
    visible,
)
from support.waiting import poll_until

from presgend.ops import sample

pytestmark = pytest.mark.slow

STAGING = Path(".presgend") / "queue"


def queue_section(dsn: str, **extra: Any) -> dict[str, Any]:
    values = {"backend": "postgres", "dsn": dsn, "heartbeat_seconds": 1.0, "stalled_seconds": 4.0}
    return {**values, **extra}


def presgend(config: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return cli(*args, "--config", str(config), env={**os.environ, **(env or {})}, timeout=120)


def init_queue(root: Path, dsn: str) -> None:
    config = daemon_config(root, "init", queue=queue_section(dsn))
    result = presgend(config, "queue", "init")
    assert result.returncode == 0, result.stderr


def staged(inbox: Path) -> list[str]:
    folder = inbox / STAGING
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def jobs_in(dsn: str) -> list[tuple[str, int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status::text, attempts FROM procrastinate_jobs ORDER BY id"
        ).fetchall()
    return [(str(status), int(attempts)) for status, attempts in rows]


def test_queue_init_is_idempotent_and_run_says_what_is_missing(
    tmp_path: Path, queue_dsn: str, pg_server: Any
) -> None:
    config = daemon_config(tmp_path, "d", queue=queue_section(queue_dsn))
    # before init: the daemon refuses to start, with one sentence saying what to do
    result = presgend(config, "run")
    assert result.returncode == 1
    assert "has no presgend tables yet; run `presgend queue init` once." in result.stderr
    first = presgend(config, "queue", "init")
    second = presgend(config, "queue", "init")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.startswith("created the queue's tables in 127.0.0.1:")
    assert "is ready already" in second.stdout
    # a database that cannot be reached is named, without its password
    unreachable = f"postgresql://me:secret@127.0.0.1:{pg_server.port + 1}/nowhere"
    refused = presgend(config, "status", env={"PRESGEND_QUEUE_DSN": unreachable})
    assert refused.returncode == 1
    assert "The queue database at 127.0.0.1:" in refused.stderr
    assert "secret" not in refused.stderr
    # no dsn at all
    bare = daemon_config(tmp_path, "bare", queue={"backend": "postgres"})
    missing = presgend(bare, "queue", "init", env={"PRESGEND_QUEUE_DSN": ""})
    assert missing.returncode == 1
    assert "set queue.dsn in the config or PRESGEND_QUEUE_DSN" in missing.stderr


DROPS = 4  # more than the workers: enough to see the work shared and nothing run twice


def test_three_workers_share_one_inbox_and_run_each_drop_once(
    tmp_path: Path, clip: sample.SampleTalk, queue_dsn: str
) -> None:
    init_queue(tmp_path, queue_dsn)
    drops_dir = tmp_path / "drops"
    drops_dir.mkdir()
    drops = [remux(clip.video, drops_dir / f"talk{i:02d}.mp4", str(i)) for i in range(DROPS)]
    watcher = OutboxWatcher(tmp_path / "outbox")
    watcher.start()
    section = queue_section(queue_dsn, stalled_seconds=8.0)
    daemons = [DaemonProcess(tmp_path, n, queue=section, slides=KEEP_BROWSER) for n in "abc"]
    try:
        for path in drops:  # all at once: the transcript first, then a rename each
            shutil.copy(clip.srt, tmp_path / "inbox" / f"{path.stem}.srt")
            os.rename(path, tmp_path / "inbox" / path.name)

        def running_status() -> Any:
            result = presgend(daemons[0].config, "status", "--json")
            assert result.returncode == 0, result.stderr
            data = json.loads(result.stdout)
            return data if data["running"] and len(data["daemons"]) == 3 else None

        status = daemons[0].wait_for(running_status, 120, "status with a running job")
        assert {d["pid"] for d in status["daemons"]} == {d.proc.pid for d in daemons}
        job = status["running"][0]
        assert job["input"].startswith("talk") and job["worker"]

        def finished() -> bool:
            return sum(len(d.events("job_succeeded")) for d in daemons) >= DROPS

        daemons[0].wait_for(finished, 300, "every job")
        text = presgend(daemons[0].config, "status")
        assert "worker   " in text.stdout and "ok " in text.stdout, text.stdout
    finally:
        for daemon in daemons:
            assert daemon.stop() == 0
        watcher.stop()
    assert watcher.problems == []
    queued = [e["input"] for d in daemons for e in d.events("input_queued")]
    assert sorted(queued) == sorted(p.name for p in drops)  # staged once each
    ran = {d.name: [e["input"] for e in d.events("job_succeeded")] for d in daemons}
    assert sum(len(v) for v in ran.values()) == DROPS
    assert sum(1 for v in ran.values() if v) >= 2  # the work was shared
    outbox = tmp_path / "outbox"
    for path in drops:
        assert valid_video(outbox / path.name) == ""
        assert (outbox / f"{path.stem}.report.json").is_file()
    assert not [n for n in visible(outbox) if "-2." in n]  # nothing composed twice
    assert len(visible(tmp_path / "archive")) == 2 * DROPS
    assert staged(tmp_path / "inbox") == []
    assert jobs_in(queue_dsn) == [("succeeded", 1)] * DROPS


def _running_job(daemons: list[DaemonProcess]) -> DaemonProcess:
    """The daemon whose job reached compose (with its ffmpeg running)."""

    def composing() -> DaemonProcess | None:
        for d in daemons:
            composed = [e for e in d.events("phase_started") if e.get("phase") == "compose"]
            if composed and d.programs("ffmpeg"):
                return d
        return None

    found: DaemonProcess = daemons[0].wait_for(composing, 120, "a job in compose")
    return found


def two_workers_one_talk(
    root: Path, talk: sample.SampleTalk, dsn: str
) -> tuple[OutboxWatcher, DaemonProcess, DaemonProcess]:
    """A watched outbox; worker `a` takes the talk, then worker `b` starts beside it."""
    init_queue(root, dsn)
    watcher = OutboxWatcher(root / "outbox")
    watcher.start()
    section = queue_section(dsn)
    a = DaemonProcess(root, "a", queue=section, output={"quality": "standard"})
    shutil.copy(talk.srt, root / "inbox" / "talk.srt")
    shutil.copy(talk.video, root / "inbox" / "talk.mp4")
    a.wait_for(lambda: a.events("input_claimed"), 60, "a to take the job")
    b = DaemonProcess(root, "b", queue=section)  # fast: only a's run must last long enough
    return watcher, a, b


def test_a_killed_worker_s_job_completes_once_elsewhere(
    tmp_path: Path, talk: sample.SampleTalk, queue_dsn: str
) -> None:
    watcher, a, b = two_workers_one_talk(tmp_path, talk, queue_dsn)
    try:
        assert _running_job([a]) is a
        children = a.proc_children()
        a.kill()
        poll_until(lambda: not any(_alive(p) for p in children), 10, "the orphaned child's end")
        assert [n for n in visible(tmp_path / "outbox") if n.endswith(".mp4")] == []
        b.wait_for(lambda: b.events("job_succeeded"), 240, "the job to run again on b")
    finally:
        if a.proc.poll() is None:  # failed before the kill
            a.kill()
        assert b.stop() == 0
        watcher.stop()
    assert watcher.problems == []
    stalled = [e for e in b.events("queue_job_stalled")]
    assert len(stalled) == 1
    assert [e["attempt"] for e in b.events("input_claimed")] == [2]
    assert visible(tmp_path / "outbox") == published("talk")  # fmt: skip
    assert valid_video(tmp_path / "outbox" / "talk.mp4") == ""
    assert visible(tmp_path / "archive") == ["talk.mp4", "talk.srt"]
    assert staged(tmp_path / "inbox") == []
    assert jobs_in(queue_dsn) == [("succeeded", 2)]  # attempts: runs that ended


def test_a_stalled_worker_that_wakes_publishes_nothing(
    tmp_path: Path, talk: sample.SampleTalk, queue_dsn: str
) -> None:
    watcher, a, b = two_workers_one_talk(tmp_path, talk, queue_dsn)
    stopped = [a.proc, *a.proc_children()]
    try:
        assert _running_job([a]) is a
        stopped = [a.proc, *a.proc_children()]
        signal_all(stopped, signal.SIGSTOP)  # the whole tree, as in a frozen VM
        b.wait_for(lambda: b.events("job_succeeded"), 240, "b to run the stalled job")
        seen = visible(tmp_path / "outbox")
        signal_all(stopped, signal.SIGCONT)
        a.wait_for(lambda: a.events("job_discarded"), 60, "a to discard its work")
    finally:
        signal_all(stopped, signal.SIGCONT)
        assert a.stop() == 0
        assert b.stop() == 0
        watcher.stop()
    assert watcher.problems == []
    assert seen == published("talk")
    assert visible(tmp_path / "outbox") == seen
    assert a.events("job_succeeded") == []
    assert visible(tmp_path / "archive") == ["talk.mp4", "talk.srt"]
    assert jobs_in(queue_dsn) == [("succeeded", 2)]


def test_a_job_out_of_attempts_ends_in_failed_with_its_sentence(
    tmp_path: Path, talk: sample.SampleTalk, queue_dsn: str
) -> None:
    init_queue(tmp_path, queue_dsn)
    section = queue_section(queue_dsn, max_attempts=1)
    a = DaemonProcess(tmp_path, "a", queue=section, output={"quality": "standard"})
    shutil.copy(talk.srt, tmp_path / "inbox" / "talk.srt")
    shutil.copy(talk.video, tmp_path / "inbox" / "talk.mp4")
    try:
        a.wait_for(lambda: a.events("input_claimed"), 60, "a to take the job")
    finally:
        a.kill()
    b = DaemonProcess(tmp_path, "b", queue=section)
    try:
        b.wait_for(
            lambda: (tmp_path / "failed" / "talk.error.json").is_file(), 60, "the error file",
            failures_ok=True,
        )  # fmt: skip
    finally:
        assert b.stop() == 0
    document = json.loads((tmp_path / "failed" / "talk.error.json").read_text())
    assert document["error"].startswith("The job was interrupted 1 time (its worker died or")
    assert document["phase"] == "queue"
    assert visible(tmp_path / "failed") == ["talk.error.json", "talk.mp4", "talk.srt"]
    assert visible(tmp_path / "outbox") == []
    assert staged(tmp_path / "inbox") == []
    assert jobs_in(queue_dsn) == [("failed", 2)]


def signal_all(processes: list[psutil.Process], sig: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_doctor_checks_the_queue_database(tmp_path: Path, queue_dsn: str) -> None:
    config = daemon_config(tmp_path, "d", queue=queue_section(queue_dsn))
    before = json.loads(presgend(config, "doctor", "--json").stdout)
    check = next(c for c in before if c["name"] == "queue postgres")
    assert check["status"] == "fail" and "presgend queue init" in check["message"]
    init_queue(tmp_path, queue_dsn)
    after = json.loads(presgend(config, "doctor", "--json").stdout)
    check = next(c for c in after if c["name"] == "queue postgres")
    assert check["status"] == "ok" and "tables in place" in check["message"]


def test_an_upload_runs_through_the_queue_under_its_job_id(
    tmp_path: Path, clip: sample.SampleTalk, queue_dsn: str
) -> None:
    import httpx
    from support.http_service import HttpServer

    init_queue(tmp_path, queue_dsn)
    front = HttpServer(tmp_path, tokens=[], queue=queue_section(queue_dsn))
    try:
        files = {"file": ("queued.mp4", clip.video.read_bytes()),
                 "transcript": ("queued.srt", clip.srt.read_bytes())}  # fmt: skip
        job_id = httpx.post(f"{front.url}/api/jobs", files=files).json()["job_id"]
        status = front.wait(job_id, 120)
        assert status["status"] == "ok", status
        assert status["report"]["job_id"] == job_id
        assert httpx.get(status["links"]["video"]).headers["content-type"] == "video/mp4"
        with psycopg.connect(queue_dsn) as conn:
            (args,) = conn.execute("SELECT args FROM procrastinate_jobs").fetchone() or (None,)
        assert args["job_id"] == job_id and args["label"] == "queued.mp4"
    finally:
        assert front.stop() == 0
    assert staged(tmp_path / "inbox") == []


def test_a_draft_held_on_the_queue_is_approved_through_another_worker(
    tmp_path: Path, clip: sample.SampleTalk, queue_dsn: str
) -> None:
    """Review on the PostgreSQL queue: one worker stops the job at its draft and goes
    away; the approval dropped later is run by another worker, once."""
    init_queue(tmp_path, queue_dsn)
    section = queue_section(queue_dsn)
    a = DaemonProcess(tmp_path, "a", queue=section, review={"hold": True})
    try:
        shutil.copy(clip.srt, tmp_path / "inbox" / "clip.srt")
        shutil.copy(clip.video, tmp_path / "inbox" / "clip.mp4")
        held = a.wait_for(lambda: a.events("job_awaiting_review"), 120, "the draft")[0]
    finally:
        assert a.stop() == 0
    outbox = tmp_path / "outbox"
    assert "clip.mp4" not in visible(outbox) and "clip.edit.json" in visible(outbox)
    b = DaemonProcess(tmp_path, "b", queue=section, review={"hold": True})
    try:
        (tmp_path / "inbox" / f"{held['job_id']}.approve").write_text("")
        done = b.wait_for(lambda: b.events("job_succeeded"), 120, "the approved job")[0]
    finally:
        assert b.stop() == 0
    assert done["job_id"] == held["job_id"]
    assert valid_video(outbox / "clip.mp4") == ""
    assert "clip.draft.jpg" not in visible(outbox) and visible(tmp_path / "failed") == []
    assert [status for status, _ in jobs_in(queue_dsn)] == ["succeeded", "succeeded"]
