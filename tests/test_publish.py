"""Publishing: a run killed between its first output and its report leaves a note, and
the next run of the same input takes its partial outputs away and uses the same name;
a staging folder is removed only once the run that owns it has died."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from presgend.core import files, owners
from presgend.pipeline import publish


def _temp(outbox: Path, data: bytes, run: str = "job") -> Path:
    """A video in the staging folder of a run that has since died (nobody owns it)."""
    folder = outbox / publish.STAGING / run
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / "video.mp4"
    temp.write_bytes(data)
    return temp


def test_a_rerun_replaces_what_an_interrupted_run_published(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    first = publish.publish_video(_temp(outbox, b"first"), outbox, "talk", "sha-a")
    files.write_atomic(outbox / "talk.srt", "1\n")  # ...then the run was killed
    again = publish.publish_video(_temp(outbox, b"second"), outbox, "talk", "sha-a")
    assert again == first == outbox / "talk.mp4"
    assert again.read_bytes() == b"second" and not (outbox / "talk.srt").exists()
    files.write_json(publish.report_path(again), {"status": "ok"})
    publish.published(outbox, "sha-a")
    assert sorted(p.name for p in outbox.iterdir()) == [".presgend-tmp", "talk.mp4",
                                                        "talk.report.json"]  # fmt: skip


def test_another_input_of_the_same_name_never_touches_those_outputs(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mine = publish.publish_video(_temp(outbox, b"mine"), outbox, "talk", "sha-a")
    other = publish.publish_video(_temp(outbox, b"other"), outbox, "talk", "sha-b")
    assert other.name == "talk-2.mp4" and mine.read_bytes() == b"mine"


def test_a_finished_run_is_never_taken_away(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    video = publish.publish_video(_temp(outbox, b"done"), outbox, "talk", "sha-a")
    files.write_json(publish.report_path(video), {"status": "ok"})  # killed before its note went
    assert publish.discard_partial(outbox, "sha-a") == []
    assert video.exists() and publish.report_path(video).exists()


def test_a_failed_input_takes_its_partial_outputs_with_it(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    publish.publish_video(_temp(outbox, b"half"), outbox, "talk", "sha-a")
    assert publish.discard_partial(outbox, "sha-a") == ["talk.mp4"]
    assert not (outbox / "talk.mp4").exists() and not (outbox / publish.PUBLISHING).exists()


def test_a_run_still_publishing_keeps_its_outputs(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"

    async def publishing() -> list[str]:
        async with publish.staging(outbox, "live-run", lease_seconds=2.0) as folder:
            (folder / "video.mp4").write_bytes(b"live")
            publish.publish_video(folder / "video.mp4", outbox, "talk", "sha-a")
            return publish.discard_partial(outbox, "sha-a")  # another run of the same bytes

    assert asyncio.run(publishing()) == []
    assert (outbox / "talk.mp4").read_bytes() == b"live"


def test_housekeeping_never_removes_a_live_runs_staging_however_old(tmp_path: Path) -> None:
    """The encode leaves a run's staging folder untouched for minutes: its age says
    nothing. The lock its process holds does; once that process is killed, it goes."""
    outbox = tmp_path / "outbox"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(outbox)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        folder = outbox / publish.STAGING / "run-1"
        old = time.time() - 3600
        for path in (folder, folder / "video.mp4", folder / owners.OWNER):
            os.utime(path, (old, old))
        assert publish.remove_stale_staging(outbox, lease_seconds=1.0) == []
        assert (folder / "video.mp4").exists()
        holder.kill()
        holder.wait()
        assert publish.remove_stale_staging(outbox, lease_seconds=1.0) == ["run-1"]
        assert not folder.exists()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()


def test_another_hosts_run_is_judged_by_its_lease(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    folder = outbox / publish.STAGING / "remote-run"
    folder.mkdir(parents=True)
    (folder / owners.OWNER).write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    assert publish.remove_stale_staging(outbox, lease_seconds=5.0) == []  # beaten just now
    old = time.time() - 60
    os.utime(folder / owners.OWNER, (old, old))
    assert publish.remove_stale_staging(outbox, lease_seconds=5.0) == ["remote-run"]


HOLDER = """
import asyncio, sys
from pathlib import Path
from presgend.pipeline import publish

async def main():
    async with publish.staging(Path(sys.argv[1]), "run-1", lease_seconds=600) as folder:
        (folder / "video.mp4").write_bytes(b"half an encode")
        print("held", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""
