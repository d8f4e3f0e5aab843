"""Presets per folder: `[presets.NAME]` overrides, used by a drop into `inbox/NAME/`
(outputs to `outbox/NAME/`), an upload's `preset` field and `process --preset`; a
subfolder with no preset is left alone; an unknown name is one plain sentence."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from support.cli import cli
from support.daemons import remux
from support.frames import gray_frames
from support.http_service import HttpServer
from support.waiting import poll_until

from presgend.ops import sample

pytestmark = pytest.mark.slow

PRESETS = """
[presets.board]
slides.theme = "dark"
output.quality = "draft"
"""


def slide_luma(video: Path) -> float:
    """The mean brightness of the slide half, a second in."""
    frames = gray_frames(video, "iw/2:ih:iw/2:0", (96, 108), 1)
    return float(np.mean(frames[1]))


def test_process_with_a_preset_and_an_unknown_one(tmp_path: Path, clip: sample.SampleTalk) -> None:
    config = tmp_path / "presets.toml"
    config.write_text(PRESETS)
    out = tmp_path / "out"
    done = cli("process", str(clip.video), "--outbox", str(out), "--config", str(config),
               "--preset", "board")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "clip.report.json").read_text())
    assert report["preset"] == "board" and report["quality"] == "draft"
    assert slide_luma(out / "clip.mp4") < 60  # the dark theme
    plain = cli("process", str(clip.video), "--outbox", str(tmp_path / "plain"), "--quality",
                "draft")  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert json.loads((tmp_path / "plain" / "clip.report.json").read_text())["preset"] is None
    assert slide_luma(tmp_path / "plain" / "clip.mp4") > 180  # the light theme
    unknown = cli("process", str(clip.video), "--outbox", str(out), "--config", str(config),
                  "--preset", "nope")  # fmt: skip
    assert unknown.returncode == 1
    assert "There is no preset named 'nope'; the config has: board." in unknown.stderr


def test_a_preset_folder_and_an_upload_s_preset(tmp_path: Path, clip: sample.SampleTalk) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "board").mkdir(parents=True)
    (inbox / "misc").mkdir()
    (inbox / "misc" / "keep.mp4").write_bytes(b"left alone")
    server = HttpServer(tmp_path, toml=PRESETS)
    try:
        shutil.copy(clip.srt, inbox / "board" / "clip.srt")
        shutil.copy(clip.video, inbox / "board" / ".clip.part")
        os.rename(inbox / "board" / ".clip.part", inbox / "board" / "clip.mp4")
        report_path = tmp_path / "outbox" / "board" / "clip.report.json"
        poll_until(report_path.exists, 180, "the board drop's report")
        refused = server.upload(clip.video, "other.mp4", {"preset": "nope"}, transcript=clip.srt)
        other = remux(clip.video, tmp_path / "other.mp4", "2")  # not the drop's bytes
        uploaded = server.upload(other, "upload.mp4", {"preset": "board"}, transcript=clip.srt)
        status = server.wait(uploaded.json()["job_id"], 180)
        video = httpx.get(status["links"]["video"], timeout=30)
    finally:
        assert server.stop() == 0
    report = json.loads(report_path.read_text())
    assert report["preset"] == "board" and report["quality"] == "draft"
    assert slide_luma(tmp_path / "outbox" / "board" / "clip.mp4") < 60
    assert sorted(os.listdir(inbox / "board")) == []  # handed in, transcript and all
    assert (inbox / "misc" / "keep.mp4").read_bytes() == b"left alone"
    log = (tmp_path / "logs-srv" / "presgend.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in log]
    assert [e["folder"] for e in events if e["event"] == "inbox_subfolder_ignored"] == ["misc"]
    assert refused.status_code == 400
    assert refused.json()["error"] == "There is no preset named 'nope'; the config has: board."
    assert status["status"] == "ok" and status["report"]["preset"] == "board"
    assert status["report"]["output"]["video"].endswith("/board/upload.mp4")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
