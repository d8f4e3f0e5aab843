"""The daemon as users run it: real processes, real writers, real signals."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.daemons import (
    KEEP_BROWSER,
    DaemonProcess,
    OutboxWatcher,
    claims_left,
    event_time,
    published,
    remux,
    valid_video,
    visible,
)
from support.waiting import poll_until, until

from presgend.ops import sample

pytestmark = pytest.mark.slow


def slow_write(src: Path, dst: Path, seconds: float, chunks: int = 12) -> float:
    """Write `src` to `dst` in chunks spread over `seconds`; the time of the last byte."""
    data = src.read_bytes()
    step = len(data) // chunks + 1
    with dst.open("wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i : i + step])
            f.flush()
            time.sleep(seconds / chunks)
    return time.time()


def test_each_writer_gives_one_job_after_its_last_byte(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    inbox = tmp_path / "inbox"
    staging = tmp_path / "elsewhere"
    staging.mkdir()
    sources = {name: remux(clip.video, staging / f"src-{name}.mp4", name) for name in
               ("slow", "cp", "rsync", "inplace", "mv")}  # fmt: skip
    watcher = OutboxWatcher(tmp_path / "outbox")
    watcher.start()
    daemon = DaemonProcess(tmp_path, jobs={"max_concurrent": 2}, slides=KEEP_BROWSER)
    try:
        # temp and system names: never taken
        for junk in (".hidden.mp4", "movie.mp4.part", "movie.tmp", "._movie.mp4", ".DS_Store",
                     "movie.mp4.crdownload", "Thumbs.db"):  # fmt: skip
            shutil.copy(clip.video, inbox / junk)
        for name in sources:  # each video travels with its transcript, dropped first
            shutil.copy(clip.srt, inbox / f"{name}.srt")
        last_byte = {"slow": slow_write(sources["slow"], inbox / "slow.mp4", 4.0)}
        subprocess.run(["cp", str(sources["cp"]), str(inbox / "cp.mp4")], check=True)
        last_byte["cp"] = time.time()
        subprocess.run(
            ["rsync", "--bwlimit=400", str(sources["rsync"]), str(inbox / "rsync.mp4")], check=True
        )
        last_byte["rsync"] = time.time()
        (inbox / "inplace.mp4").write_bytes(b"")  # an earlier, empty attempt rsync overwrites
        subprocess.run(
            ["rsync", "--inplace", "--bwlimit=400", str(sources["inplace"]),
             str(inbox / "inplace.mp4")],
            check=True,
        )  # fmt: skip
        last_byte["inplace"] = time.time()
        os.rename(sources["mv"], inbox / "mv.mp4")
        last_byte["mv"] = time.time()

        names = {f"{n}.mp4" for n in last_byte}
        daemon.wait_for(
            lambda: {e["input"] for e in daemon.events("job_succeeded")} >= {
                str(tmp_path / "inbox" / n) for n in names},
            150,
            "all five jobs",
        )  # fmt: skip
        # a barrier instead of a pause: once a name dropped now has been settled and
        # handled, every earlier name has been looked at too
        (inbox / "zz-barrier.xyz").write_bytes(b"barrier")
        daemon.wait_for(lambda: daemon.events("input_rejected"), 30, "the barrier")
        claimed = [e["input"] for e in daemon.events("input_claimed")]
        assert sorted(claimed) == sorted(names)  # exactly one job each, no junk
        for event in daemon.events("input_claimed"):
            stem = event["input"].removesuffix(".mp4")
            assert event_time(event) > last_byte[stem], f"{stem} was taken before its last byte"
        assert sorted(p.name for p in inbox.iterdir()) == sorted(
            [".presgend", ".hidden.mp4", "movie.mp4.part", "movie.tmp", "._movie.mp4",
             ".DS_Store", "movie.mp4.crdownload", "Thumbs.db"]
        )  # fmt: skip
        assert daemon.proc.poll() is None
    finally:
        assert daemon.stop() == 0
        watcher.stop()
    assert watcher.problems == []
    assert {f"{n}.mp4" for n in last_byte} <= set(visible(tmp_path / "outbox"))
    archived = {f"{n}.{suffix}" for n in last_byte for suffix in ("mp4", "srt")}
    assert set(visible(tmp_path / "archive")) == archived
    assert claims_left(inbox) == []


def test_two_daemons_share_an_inbox_and_take_each_file_once(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    staging = tmp_path / "drops"
    staging.mkdir()
    drops = [remux(clip.video, staging / f"talk{i:02d}.mp4", str(i)) for i in range(4)]
    watcher = OutboxWatcher(tmp_path / "outbox")
    watcher.start()
    a = DaemonProcess(tmp_path, "a", slides=KEEP_BROWSER)
    b = DaemonProcess(tmp_path, "b", slides=KEEP_BROWSER)
    try:
        for path in drops:  # all at once: a rename each, the transcript first
            shutil.copy(clip.srt, tmp_path / "inbox" / f"{path.stem}.srt")
            os.rename(path, tmp_path / "inbox" / path.name)
        expected = {f"talk{i:02d}.mp4" for i in range(4)}

        def finished() -> bool:
            done = a.events("job_succeeded") + b.events("job_succeeded")
            return len(done) >= len(expected)

        a.wait_for(finished, 240, "every job")
        claimed_a = [e["input"] for e in a.events("input_claimed")]
        claimed_b = [e["input"] for e in b.events("input_claimed")]
        assert sorted(claimed_a + claimed_b) == sorted(expected)  # once each, across both
        assert claimed_a and claimed_b  # both daemons took part
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
        watcher.stop()
    assert watcher.problems == []
    outbox = tmp_path / "outbox"
    for name in expected:
        stem = name.removesuffix(".mp4")
        assert valid_video(outbox / name) == ""
        assert (outbox / f"{stem}.report.json").is_file()
        assert (outbox / f"{stem}.srt").is_file()
    assert visible(tmp_path / "archive") == sorted(
        expected | {n.replace(".mp4", ".srt") for n in expected}
    )
    assert visible(tmp_path / "failed") == []
    assert claims_left(tmp_path / "inbox") == []


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_kill_9_mid_job_then_restart_completes_the_job_once(
    tmp_path: Path, talk: sample.SampleTalk
) -> None:
    watcher = OutboxWatcher(tmp_path / "outbox")
    watcher.start()
    tmp = {"TMPDIR": str(tmp_path / "tmp")}  # the daemons' own, to see what a kill leaves
    (tmp_path / "tmp").mkdir()
    first = DaemonProcess(tmp_path, "first", env=tmp, output={"quality": "standard"})
    try:
        shutil.copy(talk.srt, tmp_path / "inbox" / "talk.srt")
        shutil.copy(talk.video, tmp_path / "inbox" / "talk.mp4")
        first.wait_for(
            lambda: [e for e in first.events("phase_started") if e.get("phase") == "compose"],
            120,
            "the compose phase",
        )
        children = first.wait_for(
            lambda: first.programs("ffmpeg"),
            30,
            "the compose's ffmpeg",
        )
    finally:
        first.kill()
    # its ffmpeg dies with it (PR_SET_PDEATHSIG), so the job is never composed twice at once
    poll_until(lambda: not any(alive(p) for p in children), 10, "the orphaned ffmpeg's end")
    assert claims_left(tmp_path / "inbox"), "the killed job's claim should still be there"
    assert [n for n in visible(tmp_path / "outbox") if n.endswith(".mp4")] == []
    left = [p.name for p in (tmp_path / "tmp").glob("presgend-*")]
    assert len(left) == 1, "the killed job's work folder stays until a daemon sweeps it"
    staged = [p.name for p in (tmp_path / "outbox" / ".presgend-tmp").iterdir()]
    assert len(staged) == 1, "and so does its staging folder in the outbox"
    second = DaemonProcess(tmp_path, "second", env=tmp)  # draft: only the first run must last
    try:
        second.wait_for(lambda: second.events("job_succeeded"), 180, "the reclaimed job")
        reclaimed = second.events("claim_reclaimed")
        assert len(reclaimed) == 1 and reclaimed[0]["reason"] == "owner gone"
        assert [e["folders"] for e in second.events("work_folders_cleaned")] == [left]
        assert [e["runs"] for e in second.events("staging_cleaned")] == [staged]
    finally:
        assert second.stop() == 0
        watcher.stop()
    assert watcher.problems == []
    outbox = visible(tmp_path / "outbox")
    assert outbox == published("talk")
    assert valid_video(tmp_path / "outbox" / "talk.mp4") == ""
    assert visible(tmp_path / "archive") == ["talk.mp4", "talk.srt"]
    assert claims_left(tmp_path / "inbox") == []
    assert list((tmp_path / "tmp").glob("presgend-*")) == []


def test_sigterm_lets_a_job_finish_within_grace(tmp_path: Path, clip: sample.SampleTalk) -> None:
    daemon = DaemonProcess(tmp_path)
    shutil.copy(clip.srt, tmp_path / "inbox" / "clip.srt")
    shutil.copy(clip.video, tmp_path / "inbox" / "clip.mp4")
    daemon.wait_for(lambda: daemon.events("job_started"), 30, "the job")
    assert daemon.stop() == 0
    assert daemon.events("job_succeeded")
    drained = daemon.events("shutdown_drained")
    assert [(d["finished"], d["cancelled"]) for d in drained] == [(1, 0)]
    assert visible(tmp_path / "outbox") == published("clip")
    assert visible(tmp_path / "archive") == ["clip.mp4", "clip.srt"]
    assert claims_left(tmp_path / "inbox") == []


def test_sigterm_past_grace_returns_the_input(tmp_path: Path, talk: sample.SampleTalk) -> None:
    watcher = OutboxWatcher(tmp_path / "outbox")
    watcher.start()
    daemon = DaemonProcess(tmp_path, jobs={"grace_seconds": 1.0}, output={"quality": "standard"})
    shutil.copy(talk.srt, tmp_path / "inbox" / "talk.srt")
    shutil.copy(talk.video, tmp_path / "inbox" / "talk.mp4")
    daemon.wait_for(lambda: daemon.events("phase_started"), 30, "the job to be under way")
    assert daemon.stop() == 0
    watcher.stop()
    assert daemon.events("job_returned")
    assert visible(tmp_path / "inbox") == ["talk.mp4", "talk.srt"]  # back, with its sidecar
    assert visible(tmp_path / "outbox") == []
    staging = tmp_path / "outbox" / ".presgend-tmp"
    assert not staging.exists() or os.listdir(staging) == []
    assert watcher.problems == []
    assert claims_left(tmp_path / "inbox") == []


def test_hostile_drops_fail_cleanly_and_good_files_still_run(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    inbox, failed = tmp_path / "inbox", tmp_path / "failed"
    outside = tmp_path / "secret.mp4"
    shutil.copy(clip.video, outside)
    daemon = DaemonProcess(tmp_path)
    try:
        os.symlink(outside, inbox / "link.mp4")
        os.link(outside, inbox / "hard.mp4")
        os.mkfifo(inbox / "x.mp4")
        (inbox / "y.mp4").mkdir()
        (inbox / "random.mp4").write_bytes(os.urandom(200_000))
        (inbox / "zero.mp4").write_bytes(b"")
        (inbox / "-y.mp4").write_bytes(os.urandom(50_000))
        (inbox / "notes.docx").write_bytes(b"PK\x03\x04 not a talk")
        hostile = {"link", "hard", "x", "y", "random", "zero", "-y", "notes"}
        daemon.wait_for(
            lambda: (
                {p.name.removesuffix(".error.json") for p in failed.glob("*.error.json")} >= hostile
            ),
            60,
            "every hostile drop to fail",
            failures_ok=True,
        )
        assert daemon.proc.poll() is None
        assert (failed / "link.mp4").is_symlink()
        assert stat_kind(failed / "x.mp4") == "fifo"
        assert (failed / "y.mp4").is_dir()
        assert outside.is_file() and outside.read_bytes() == clip.video.read_bytes()
        for stem in hostile:
            doc = read_json(failed / f"{stem}.error.json")
            assert doc["status"] == "failed" and doc["phase"] in {"intake", "input", "probe"}
            assert doc["error"].endswith(".") and "\n" not in doc["error"]
        assert "symbolic link" in read_json(failed / "link.error.json")["error"]
        assert "hard links" in read_json(failed / "hard.error.json")["error"]
        assert "empty" in read_json(failed / "zero.error.json")["error"]

        # a good file afterwards runs; the same name dropped again while it runs runs too
        good = inbox / "-good talk.mp4"
        shutil.copy(clip.srt, inbox / "-good talk.srt")
        shutil.copy(clip.video, good)
        daemon.wait_for(lambda: daemon.events("input_claimed")[-1]["input"] == good.name, 30,
                        "the good file to be claimed", failures_ok=True)  # fmt: skip
        remux(clip.video, tmp_path / "other.mp4", "other")
        shutil.copy(clip.srt, inbox / "-good talk.srt")
        os.rename(tmp_path / "other.mp4", good)
        daemon.wait_for(
            lambda: len(daemon.events("job_succeeded")) >= 2, 90, "both jobs", failures_ok=True
        )
        # the same bytes a third time: recognised, not recomposed
        shutil.copy(clip.srt, inbox / "again.srt")
        shutil.copy(clip.video, inbox / "again.mp4")
        daemon.wait_for(
            lambda: daemon.events("job_duplicate"), 30, "the duplicate", failures_ok=True
        )
    finally:
        assert daemon.stop() == 0
    out = visible(tmp_path / "outbox")
    assert "-good talk.mp4" in out and "-good talk-2.mp4" in out
    assert "again.duplicate.json" in out and "again.mp4" not in out
    duplicate = read_json(tmp_path / "outbox" / "again.duplicate.json")
    assert duplicate["status"] == "duplicate"
    assert duplicate["original"]["video"].endswith("-good talk.mp4")


def test_breaker_holds_admission_while_overloaded(tmp_path: Path, clip: sample.SampleTalk) -> None:
    import asyncio

    from support.daemons import daemon_config

    from presgend import app
    from presgend.backends.folder import status
    from presgend.core import config as config_mod
    from presgend.core import logs

    load = {"cpu": 97.0}
    cfg = config_mod.load(daemon_config(tmp_path, breaker={"cpu_percent": 90.0}))
    logs.configure(cfg.paths.logs)
    daemon = app.build(cfg, sampler=lambda: (load["cpu"], 40.0)).daemon

    async def scenario() -> None:
        runner = asyncio.create_task(daemon.run())
        await until(lambda: daemon.intake.observer is not None or daemon.intake.mode == "polling")
        shutil.copy(clip.srt, tmp_path / "inbox" / "clip.srt")
        shutil.copy(clip.video, tmp_path / "inbox" / "clip.mp4")
        await until(lambda: "clip.mp4" in daemon.intake.ready)  # settled: only the load holds it
        sampled = daemon.monitor.sampled_at
        await until(lambda: daemon.monitor.sampled_at > sampled + 2.5)  # three more samples
        assert not daemon.worker.jobs, "a job started while the breaker was open"
        assert (tmp_path / "inbox" / "clip.mp4").exists()
        assert daemon.monitor.breaker.state in ("open", "half_open")
        daemon._write_state()
        snapshot = status.collect(cfg)
        assert snapshot["breaker"]["state"] in ("open", "half_open")
        assert snapshot["breaker"]["cpu_percent"] == 97.0
        assert snapshot["queued"] == 1
        load["cpu"] = 20.0
        for _ in range(300):
            await asyncio.sleep(0.1)
            if (tmp_path / "outbox" / "clip.mp4").exists():
                break
        daemon.request_stop("test")
        await runner

    try:
        asyncio.run(scenario())
    finally:
        logs.configure(None)  # closes the log file
    assert (tmp_path / "outbox" / "clip.mp4").is_file()
    assert daemon.monitor.breaker.state == "closed"
    changes = [(e["before"], e["after"]) for e in _log_events(tmp_path, "resource_breaker_changed")]
    assert ("closed", "open") in changes and ("half_open", "closed") in changes


def test_notify_socket_status_and_reload(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    messages: list[str] = []

    def receive() -> None:
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    threading.Thread(target=receive, daemon=True).start()
    daemon = DaemonProcess(
        tmp_path, env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}
    )
    try:
        daemon.wait_for(lambda: any("READY=1" in m for m in messages), 10, "READY=1")
        daemon.wait_for(lambda: sum("WATCHDOG=1" in m for m in messages) >= 2, 10, "WATCHDOG=1")
        daemon.signal(signal.SIGHUP)
        daemon.wait_for(lambda: daemon.events("config_reloaded"), 10, "the reload")
        status = subprocess.run(
            [sys_python(), "-m", "presgend", "status", "--json", "--config", str(daemon.config)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        snapshot = json.loads(status.stdout)
        assert {"queued", "running", "recent", "breaker"} <= set(snapshot)
        assert snapshot["daemons"][0]["pid"] == daemon.proc.pid
        assert snapshot["breaker"]["state"] == "closed"
    finally:
        assert daemon.stop() == 0
        sock.close()
    assert any("STOPPING=1" in m for m in messages)
    assert any(m.startswith("READY=1") and "STATUS=watching" in m for m in messages)


def test_inbox_that_disappears_pauses_intake_and_loses_nothing(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    inbox = tmp_path / "inbox"
    daemon = DaemonProcess(tmp_path, watch={"poll_interval": 0.5})
    try:
        away = tmp_path / "unmounted"
        os.rename(inbox, away)
        inbox.mkdir()  # an empty mount point left behind, as when a share goes away
        daemon.wait_for(lambda: daemon.events("inbox_unavailable"), 10, "the pause")
        shutil.copy(clip.srt, away / "clip.srt")
        shutil.copy(clip.video, away / "clip.mp4")
        inbox.rmdir()
        os.rename(away, inbox)
        daemon.wait_for(lambda: daemon.events("inbox_available"), 10, "the resume")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 60, "the job")
    finally:
        assert daemon.stop() == 0
    assert visible(tmp_path / "failed") == []
    assert "clip.mp4" in visible(tmp_path / "outbox")


# --- helpers ------------------------------------------------------------------------------


def stat_kind(path: Path) -> str:
    import stat

    mode = os.lstat(path).st_mode
    return "fifo" if stat.S_ISFIFO(mode) else "other"


def read_json(path: Path) -> dict:  # type: ignore[type-arg]
    import json

    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def sys_python() -> str:
    import sys

    return sys.executable


def _log_events(root: Path, name: str) -> list[dict]:  # type: ignore[type-arg]
    import json

    events = []
    for line in (root / "logs-d" / "presgend.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == name:
            events.append(event)
    return events


def test_a_script_drop_brings_its_presenter_picture(tmp_path: Path, astronaut_png: Path) -> None:
    daemon = DaemonProcess(tmp_path)
    try:
        shutil.copy(astronaut_png, tmp_path / "inbox" / "notes.png")
        (tmp_path / "inbox" / "notes.md").write_text(
            "# Hello\n\nThis script came with a picture. It is spoken by espeak-ng.\n"
        )
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 90, "the script job")
    finally:
        assert daemon.stop() == 0
    report = read_json(tmp_path / "outbox" / "notes.report.json")
    assert report["presenter"] == {"kind": "image", "image": "sidecar"}
    assert visible(tmp_path / "archive") == ["notes.md", "notes.png"]


def test_a_low_disk_pauses_intake_until_there_is_room(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """With less free space than jobs.min_free_mb nothing is claimed; after a reload with
    a limit the disk meets, the waiting file is processed."""
    daemon = DaemonProcess(tmp_path, jobs={"min_free_mb": 2**40})  # a petabyte: never met
    try:
        shutil.copy(clip.srt, tmp_path / "inbox" / "clip.srt")
        shutil.copy(clip.video, tmp_path / "inbox" / "clip.mp4")
        low = daemon.wait_for(lambda: daemon.events("outbox_low_on_space"), 20, "the pause")
        assert low[0]["action"] == "intake paused"
        assert not daemon.events("input_claimed")
        assert "clip.mp4" in os.listdir(tmp_path / "inbox")
        snapshot = daemon.wait_for(lambda: _state_of(tmp_path).get("low_disk"), 15, "the state")
        assert snapshot is True
        daemon.config.write_text(daemon.config.read_text().replace(str(2**40), "1"))
        daemon.signal(signal.SIGHUP)
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the job after the reload")
        assert daemon.events("outbox_space_ok")
    finally:
        assert daemon.stop() == 0
    assert "clip.mp4" in visible(tmp_path / "outbox")


def _state_of(root: Path) -> dict[str, Any]:
    from presgend.inbox import state

    for path in state.state_dir(root / "inbox").glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads(path.read_text()))
    return {}


def test_a_full_disk_fails_the_job_with_its_own_sentence(tmp_path: Path) -> None:
    """ffmpeg writing to a full disk (/dev/full, a real ENOSPC) is reported as a full
    outbox, not as a broken video."""
    import asyncio

    from presgend.core import procs
    from presgend.core.errors import JobError, ToolError
    from presgend.pipeline.report import DISK_FULL, JobRecord, error_document

    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=d=1",
            "-c:v", "libx264", "-f", "mp4", "/dev/full"]  # fmt: skip
    with pytest.raises(ToolError) as caught:
        asyncio.run(procs.run(args, timeout=30, what="ffmpeg composition"))
    error = JobError("The video could not be composed by ffmpeg.", detail=caught.value.detail)
    document = error_document(JobRecord("j", tmp_path / "talk.mp4", "video"), error)
    assert document["error"] == DISK_FULL
    assert document["error"].startswith("The outbox ran out of disk space")
    assert "No space left on device" in document["detail"]
    full = OSError(28, "No space left on device")
    assert error_document(JobRecord("j", tmp_path / "t", "video"), full)["error"] == DISK_FULL


def test_identical_drops_at_the_same_instant_are_composed_once(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """Two copies of the same bytes start together (two job slots): one composes, the
    other waits on its in-progress marker and becomes its duplicate."""
    daemon = DaemonProcess(tmp_path, jobs={"max_concurrent": 2})
    stage = tmp_path / "stage"
    stage.mkdir()
    for name in ("one", "two"):
        shutil.copy(clip.video, stage / f"{name}.mp4")
        shutil.copy(clip.srt, stage / f"{name}.srt")
    try:
        for path in sorted(stage.iterdir(), key=lambda p: p.suffix != ".srt"):
            os.rename(path, tmp_path / "inbox" / path.name)  # sidecars first, then videos
        daemon.wait_for(
            lambda: daemon.events("job_succeeded") and daemon.events("job_duplicate"),
            180,
            "one job and one duplicate",
        )
        assert len(daemon.events("input_claimed")) == 2
        assert daemon.events("same_input_in_progress"), "both jobs should have run at once"
        assert len(daemon.events("job_started")) == 1  # composed once
    finally:
        assert daemon.stop() == 0
    outbox = visible(tmp_path / "outbox")
    videos = [n for n in outbox if n.endswith(".mp4")]
    duplicates = [n for n in outbox if n.endswith(".duplicate.json")]
    assert len(videos) == 1 and len(duplicates) == 1, outbox
    assert valid_video(tmp_path / "outbox" / videos[0]) == ""
    assert not list((tmp_path / "inbox" / ".presgend" / "index").glob("*.running"))
