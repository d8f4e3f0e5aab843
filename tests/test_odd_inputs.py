"""Inputs as phones and editors make them: rotated, portrait, 4:4:4, variable frame rate;
and the fallbacks the report must own up to."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import cli, write_config
from support.frames import ffprobe

pytestmark = pytest.mark.slow


def test_rotated_portrait_444_vfr_mov(short_talk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "plain.mov"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(short_talk.video),
            "-vf",
            # upright portrait, stored turned a quarter turn, like a phone's sensor
            "crop=202:360,scale=404:720,transpose=1,select='not(eq(mod(n\\,7)\\,0))'",
            "-fps_mode",
            "vfr",
            "-pix_fmt",
            "yuv444p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "copy",
            str(plain),
        ],
        check=True,
    )
    odd = tmp_path / "phone clip.mov"  # a phone held upright: stored landscape, shown portrait
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(plain),
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
            str(odd),
        ],
        check=True,
    )
    shutil.copy(short_talk.srt, tmp_path / "phone clip.srt")
    source = ffprobe(odd)
    video = next(s for s in source["streams"] if s["codec_type"] == "video")
    assert video["pix_fmt"] == "yuv444p" and video["avg_frame_rate"] != video["r_frame_rate"]
    duration = float(source["format"]["duration"])
    result = cli(
        "process", str(odd), "--outbox", str(tmp_path / "out"), "--quality", "draft", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "out" / "phone clip.report.json").read_text())
    out = ffprobe(tmp_path / "out" / "phone clip.mp4")
    out_video = next(s for s in out["streams"] if s["codec_type"] == "video")
    assert report["warnings"] == [
        "The input has a variable frame rate; the output is constant-rate."
    ]
    assert (out_video["width"], out_video["height"]) == (640, 360)
    assert out_video["pix_fmt"] == "yuv420p"
    assert abs(float(out["format"]["duration"]) - duration) <= 0.1
    x, y, w, h = report["face"]["crop"]
    assert report["face"]["detected"], "the face is upright once the rotation is applied"
    assert y + h <= 720 and x + w <= 404, "crop is in the portrait (displayed) frame"


def test_chromium_missing_falls_back_to_pillow(short_talk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    video = tmp_path / "talk.mp4"
    shutil.copy(short_talk.video, video)
    shutil.copy(short_talk.srt, tmp_path / "talk.srt")
    config = write_config(
        {"slides": {"chromium": str(tmp_path / "no-chromium")}}, tmp_path / "c.toml"
    )
    result = cli(
        "process",
        str(video),
        "--outbox",
        str(tmp_path / "out"),
        "--config",
        str(config),
        "--quality",
        "draft",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "out" / "talk.report.json").read_text())
    assert len(report["fallbacks"]) == 1
    assert "drawn with Pillow" in report["fallbacks"][0]
    lines = (tmp_path / "logs" / "presgend.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    names = [e["event"] for e in events]
    assert "fallback_taken" in names and names[-1] == "job_succeeded"
    job_ids = {e.get("job_id") for e in events if e["event"] != "fallback_taken"}
    assert job_ids == {report["job_id"]}, "job_id bound to every event"


def test_plan_writes_nothing(short_talk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    video = tmp_path / "talk.mp4"
    shutil.copy(short_talk.video, video)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = cli("plan", str(video), "--quality", "standard", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for word in (
        "quality:  standard",
        "probe",
        "transcript",
        "faster-whisper",
        "compose",
        "estimated total",
    ):
        assert word in result.stdout
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_plan_of_a_bad_file_says_why(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(b"junk")
    result = cli("plan", str(path), cwd=tmp_path)
    assert result.returncode == 1 and "cannot be read as a video" in result.stdout


def test_doctor_reports_each_check(tmp_path: Path) -> None:
    result = cli("doctor", "--json", cwd=tmp_path)
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    for name in (
        "ffmpeg",
        "ffprobe",
        "libx264",
        "chromium",
        "fonts",
        "voice piper",
        "voice espeak-ng",
        "voice gTTS",
        "whisper model",
        "folder inbox",
        "free disk",
    ):
        assert name in checks
    assert checks["ffmpeg"]["status"] == "ok"
    assert checks["chromium"]["status"] == "ok"
    assert checks["voice piper"]["status"] == "ok"  # the voice extra is installed
    assert "en_US-joe-medium" in checks["voice piper"]["message"]
    # No model is cached on a test machine: a warning with a fix, not a crash.
    assert checks["whisper model"]["status"] in ("ok", "warn")
    if checks["whisper model"]["status"] == "warn":
        assert "presgend fetch-model" in checks["whisper model"]["fix"]
    assert result.returncode == (1 if any(c["status"] == "fail" for c in checks.values()) else 0)
    broken = write_config({"slides": {"chromium": "/nonexistent/chromium"}}, tmp_path / "c.toml")
    text = cli("doctor", "--config", str(broken), cwd=tmp_path).stdout
    assert "chromium" in text and "fix:" in text


def test_bad_config_lists_every_problem(tmp_path: Path) -> None:
    path = write_config(
        {"watch": {"mode": "psychic"}, "output": {"quality": "4k"}}, tmp_path / "c.toml"
    )
    result = cli("plan", "x.mp4", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "watch.mode" in result.stderr and "output.quality" in result.stderr
