"""A good recording never fails because of us, run through real daemons.

* A composition that takes longer than the lease: housekeeping running every fraction of
  a second never removes the live job's staging folder, on one daemon, on two sharing an
  outbox (the second calls itself another host, so it can judge only by the lease), and
  on the PostgreSQL queue; a killed job's staging is still cleaned.
* Our failures are not the input's: a composition that fails through presgend's own
  fault is run once more, then the input waits in the inbox (`status` says why) and runs
  again; only after `jobs.retry_rounds` does it go to failed/, saying whose fault it was.
* A machine without its speech model keeps a video with no transcript waiting in the
  inbox; a reload that names a model runs it.

The compositions are made slow, or made to fail, by a stand-in ffmpeg (PRESGEND_FFMPEG)
that runs the real one for everything else.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.daemons import DaemonProcess, published, remux, valid_video, visible
from support.waiting import poll_until

from presgend.ops import sample

STAND_IN = """#!/bin/sh
# a composition stacks the two halves: make it slow, or fail as a filter of ours would
case "$*" in *hstack*)
  if [ -e "{control}/fail" ]; then
    echo "[Parsed_crop_1 @ 0x1] Failed to configure input pad on Parsed_crop_1" >&2
    exit 1
  fi
  [ -e "{control}/sleep" ] && sleep "$(cat "{control}/sleep")";;
esac
exec {ffmpeg} "$@"
"""


def stand_in(tmp_path: Path, *, sleep: float = 0.0, fail: bool = False) -> dict[str, str]:
    """The environment that makes a daemon use the stand-in ffmpeg."""
    control = tmp_path / "control"
    control.mkdir(exist_ok=True)
    if sleep:
        (control / "sleep").write_text(str(sleep))
    if fail:
        (control / "fail").touch()
    script = tmp_path / "ffmpeg"
    real = shutil.which("ffmpeg")
    script.write_text(STAND_IN.format(control=control, ffmpeg=real))
    script.chmod(0o755)
    return {"PRESGEND_FFMPEG": str(script)}


def drop(clip: sample.SampleTalk, inbox: Path, stem: str = "clip") -> None:
    shutil.copy(clip.srt, inbox / f"{stem}.srt")
    shutil.copy(clip.video, inbox / f"{stem}.mp4")


def status(daemon: DaemonProcess) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "presgend", "status", "--json", "--config", str(daemon.config)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(done.stdout)
    return data


FAST_HOUSEKEEPING = {"lease_seconds": 2.0}  # reclaims and staging sweeps every 0.7 s


def test_a_compose_longer_than_the_lease_is_never_swept(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    env = stand_in(tmp_path, sleep=6.0)
    daemon = DaemonProcess(tmp_path, env=env, jobs=FAST_HOUSEKEEPING)
    try:
        drop(clip, tmp_path / "inbox")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the slow job")
    finally:
        assert daemon.stop() == 0
    assert daemon.events("staging_cleaned") == []
    assert visible(tmp_path / "outbox") == published("clip")
    assert valid_video(tmp_path / "outbox" / "clip.mp4") == ""


def test_two_daemons_on_two_hosts_never_sweep_each_others_live_staging(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    env = stand_in(tmp_path, sleep=6.0)
    one = DaemonProcess(tmp_path, "one", env=env, jobs=FAST_HOUSEKEEPING)
    two = DaemonProcess(tmp_path, "two", env={**env, "PRESGEND_HOST": "otherhost"},
                        jobs=FAST_HOUSEKEEPING)  # fmt: skip
    try:
        drop(clip, tmp_path / "inbox")
        remux(clip.video, tmp_path / "clip-b.mp4", "b")
        shutil.copy(clip.srt, tmp_path / "inbox" / "second.srt")
        shutil.move(tmp_path / "clip-b.mp4", tmp_path / "inbox" / "second.mp4")
        poll_until(
            lambda: len(one.events("job_succeeded")) + len(two.events("job_succeeded")) == 2,
            180, "both jobs",
        )  # fmt: skip
    finally:
        assert one.stop() == 0 and two.stop() == 0
    assert one.events("job_succeeded") and two.events("job_succeeded"), "one job each"
    assert one.events("staging_cleaned") == two.events("staging_cleaned") == []
    assert visible(tmp_path / "outbox") == sorted(published("clip") + published("second"))
    assert visible(tmp_path / "failed") == []


def test_on_the_queue_a_long_compose_is_never_swept(
    tmp_path: Path, clip: sample.SampleTalk, queue_dsn: str
) -> None:
    from support.cli import cli

    env = stand_in(tmp_path, sleep=6.0)
    daemon_cfg: dict[str, Any] = {"queue": {"backend": "postgres", "dsn": queue_dsn}}
    daemon = None
    try:
        from support.daemons import daemon_config

        config = daemon_config(tmp_path, "q", jobs=FAST_HOUSEKEEPING, **daemon_cfg)
        assert cli("queue", "init", "--config", str(config)).returncode == 0
        daemon = DaemonProcess(tmp_path, "q", env=env, jobs=FAST_HOUSEKEEPING, **daemon_cfg)
        drop(clip, tmp_path / "inbox")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the slow job")
    finally:
        if daemon is not None:
            assert daemon.stop() == 0
    assert daemon.events("staging_cleaned") == []
    assert visible(tmp_path / "outbox") == published("clip")


def test_presgends_own_fault_is_retried_then_the_input_waits_then_runs(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    env = stand_in(tmp_path, fail=True)
    daemon = DaemonProcess(tmp_path, env=env, jobs={"retry_seconds": 3.0})
    try:
        drop(clip, tmp_path / "inbox")
        waiting = daemon.wait_for(
            lambda: daemon.events("input_waiting"), 120, "the input to wait", failures_ok=True
        )[0]
        assert waiting["fault"] == "presgend" and waiting["input"] == "clip.mp4"
        assert "composed" in waiting["reason"]
        retried = daemon.events("job_retried")
        assert len(retried) == 1 and retried[0]["phase"] == "compose", "one more run at once"
        assert sorted(visible(tmp_path / "inbox")) == ["clip.mp4", "clip.srt"]
        assert visible(tmp_path / "failed") == [], "never blamed on the recording"
        held = status(daemon)["waiting"]
        assert [(h["input"], h["fault"]) for h in held] == [("clip.mp4", "presgend")]
        (tmp_path / "control" / "fail").unlink()  # the fault is mended
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the job, run again",
                        failures_ok=True)  # fmt: skip
    finally:
        assert daemon.stop() == 0
    assert visible(tmp_path / "outbox") == published("clip")
    assert visible(tmp_path / "archive") == ["clip.mp4", "clip.srt"]
    assert not list((tmp_path / "inbox" / ".presgend" / "waiting").glob("*.json"))


def test_presgends_own_fault_that_persists_goes_to_failed_saying_whose_it_is(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    env = stand_in(tmp_path, fail=True)
    daemon = DaemonProcess(tmp_path, env=env, jobs={"retry_seconds": 1.0, "retry_rounds": 1})
    try:
        drop(clip, tmp_path / "inbox")
        daemon.wait_for(lambda: (tmp_path / "failed" / "clip.error.json").exists(), 180,
                        "the input to be given up on", failures_ok=True)  # fmt: skip
    finally:
        assert daemon.stop() == 0
    assert len(daemon.events("input_waiting")) == 1
    document = json.loads((tmp_path / "failed" / "clip.error.json").read_text())
    assert document["fault"] == "presgend"
    assert document["error"].startswith(
        "presgend failed on this file 2 times through a fault of its own, not the file's"
    )
    assert sorted(visible(tmp_path / "failed")) == ["clip.error.json", "clip.mp4", "clip.srt"]


def test_a_video_waits_for_a_missing_speech_model_until_the_config_names_one(
    tmp_path: Path, clip: sample.SampleTalk, tiny_model: Path
) -> None:
    missing = {"model": str(tmp_path / "no-such-model"), "language": "en"}
    daemon = DaemonProcess(tmp_path, transcription=missing)
    try:
        shutil.copy(clip.video, tmp_path / "inbox" / "clip.mp4")  # no transcript beside it
        waiting = daemon.wait_for(lambda: daemon.events("input_waiting"), 60, "the hold")[0]
        assert waiting["fault"] == "setup" and "is not installed" in waiting["reason"]
        held = status(daemon)["waiting"]
        assert [(h["input"], h["fault"]) for h in held] == [("clip.mp4", "setup")]
        assert daemon.events("input_claimed") == [], "not even taken"
        doctor = subprocess.run(
            [sys.executable, "-m", "presgend", "doctor", "--json", "--config",
             str(daemon.config)], capture_output=True, text=True, check=False,
        )  # fmt: skip
        checks = {c["name"]: c for c in json.loads(doctor.stdout)}
        assert "1 input(s) wait in the inbox" in checks["waiting inputs"]["message"]
        daemon.config.write_text(
            daemon.config.read_text().replace(missing["model"], str(tiny_model))
        )
        daemon.signal(signal.SIGHUP)
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 180, "the job after the reload")
    finally:
        assert daemon.stop() == 0
    assert len(daemon.events("input_waiting")) == 1, "one log line while it waited"
    report = json.loads((tmp_path / "outbox" / "clip.report.json").read_text())
    assert report["transcript"]["source"] == "whisper"


def test_a_child_s_answer_of_megabytes_is_read_whole() -> None:
    """The recogniser answers a 30-minute talk's transcript as one JSON line of several
    megabytes; reading it must not stop at asyncio's 64 KiB line limit (a 30-minute
    Whisper talk failed with "Separator is not found, and chunk exceed the limit")."""
    import asyncio

    from presgend.core import procs

    seen: list[str] = []
    script = ("import sys; sys.stdout.write('{\"heard\": 1.5}\\n' + 'x' * 3_000_000 + '\\n'); "
              "sys.stdout.write('last line without its end')")  # fmt: skip
    done = asyncio.run(procs.run([sys.executable, "-c", script], timeout=30,
                                 on_stdout_line=seen.append))  # fmt: skip
    assert done.returncode == 0
    assert seen == ['{"heard": 1.5}', "x" * 3_000_000, "last line without its end"]
