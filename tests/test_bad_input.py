"""Bad input: a clear one-sentence error file, a non-zero exit, and never a partial MP4."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from support.cli import cli


def _assert_clean_failure(
    result: subprocess.CompletedProcess[str], outbox: Path, stem: str, phase: str | None = None
) -> dict[str, object]:
    assert result.returncode != 0, result.stdout + result.stderr
    error_file = outbox / f"{stem}.error.json"
    document = json.loads(error_file.read_text())
    assert document["status"] == "failed" and document["job_id"]
    message = document["error"]
    assert isinstance(message, str) and message.endswith(".")
    assert message.count(". ") == 0 and "\n" not in message, "one plain sentence"
    assert "Traceback" not in message
    if phase:
        assert document["phase"] == phase
    leftovers = [
        p
        for p in outbox.rglob("*")
        if p.suffix in (".mp4", ".srt") or p.name.endswith(".report.json")
    ]
    assert leftovers == [], leftovers
    assert message in result.stdout
    return document


@pytest.mark.parametrize(
    "name", ["random.mp4", "name with spaces.mp4", "ünïcödé 名前.mp4", "-y.mp4", "-i.mov"]
)
def test_random_bytes_under_hostile_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(random.Random(name).randbytes(200_000))  # the same bytes every run
    result = cli("process", str(path), "--outbox", str(tmp_path / "out"), cwd=tmp_path)
    document = _assert_clean_failure(result, tmp_path / "out", path.stem, "probe")
    # Now and then random bytes look enough like some container for ffprobe to open them;
    # then there is no video in it, or no duration. Either way: one clear sentence, no
    # output. (os.urandom here failed one run in a few hundred with the third sentence.)
    assert "cannot be read as a video" in str(document["error"]) or document["error"] in (
        "The file has no video stream.",
        "The video's duration cannot be determined (the file may be truncated).",
    )
    assert path.read_bytes() and path.exists(), "input kept"


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    result = cli("process", str(path), "--outbox", str(tmp_path / "out"), cwd=tmp_path)
    document = _assert_clean_failure(result, tmp_path / "out", "empty", "input")
    assert document["error"] == "The input file is empty (0 bytes)."


def test_truncated_mp4(short_talk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = short_talk.video.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 3])  # moov at the front (+faststart), mdat cut short
    shutil.copy(short_talk.srt, tmp_path / "truncated.srt")
    result = cli("process", str(path), "--outbox", str(tmp_path / "out"), cwd=tmp_path)
    if result.returncode == 0:  # pragma: no cover - a decoder that pads would be a bug here
        pytest.fail("a truncated file must not be reported as a success")
    _assert_clean_failure(result, tmp_path / "out", "truncated")


def test_truncated_header(short_talk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "header.mp4"
    path.write_bytes(short_talk.video.read_bytes()[:4000])
    result = cli("process", str(path), "--outbox", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_failure(result, tmp_path / "out", "header", "probe")


def test_video_without_audio(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:r=25",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(path),
        ],
        check=True,
    )
    result = cli("process", str(path), "--outbox", str(tmp_path / "out"), cwd=tmp_path)
    document = _assert_clean_failure(result, tmp_path / "out", "silent", "probe")
    assert "no audio" in str(document["error"])


def test_unsupported_kind(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.4")
    result = cli("process", str(path), "--outbox", str(tmp_path / "out"), cwd=tmp_path)
    document = _assert_clean_failure(result, tmp_path / "out", "notes", "input")
    assert "not supported" in str(document["error"])


def test_directory_and_fifo_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "dir.mp4").mkdir()
    os.mkfifo(tmp_path / "pipe.mp4")  # opening it for reading would block forever
    for stem in ("dir", "pipe"):
        result = cli(
            "process",
            str(tmp_path / f"{stem}.mp4"),
            "--outbox",
            str(tmp_path / "out"),
            cwd=tmp_path,
            timeout=60,
        )
        document = _assert_clean_failure(result, tmp_path / "out", stem, "input")
        assert document["error"] == "The input is not a regular file."


def test_unreadable_file() -> None:
    """Run as an unprivileged user when we are root, since root reads anything."""
    work = Path(tempfile.mkdtemp(prefix="presgend-perm-"))
    try:
        os.chmod(work, 0o777)
        path = work / "secret.mp4"
        path.write_bytes(os.urandom(1000))
        os.chmod(path, 0)
        args = [
            sys.executable,
            "-m",
            "presgend",
            "process",
            str(path),
            "--outbox",
            str(work / "out"),
        ]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if not setpriv:
                pytest.skip("setpriv is needed to drop root")
            args = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *args]
        env = {**os.environ, "HOME": str(work)}
        result = subprocess.run(
            args, capture_output=True, text=True, cwd=work, env=env, timeout=120
        )
        document = _assert_clean_failure(result, work / "out", "secret", "input")
        assert document["error"] == "The input file cannot be read (permission denied)."
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_every_file_gets_an_outcome_and_the_exit_code_reflects_any_failure(
    short_talk, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.mp4"
    shutil.copy(short_talk.video, good)
    shutil.copy(short_talk.srt, tmp_path / "good.srt")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    result = cli(
        "process",
        str(bad),
        str(good),
        "--outbox",
        str(tmp_path / "out"),
        "--quality",
        "draft",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert (tmp_path / "out" / "good.mp4").is_file()
    assert (tmp_path / "out" / "bad.error.json").is_file()


def test_truncated_matroska(short_talk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Matroska states its duration up front; the data behind it is what is missing."""
    whole = tmp_path / "whole.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(short_talk.video), "-c", "copy", str(whole)], check=True
    )
    path = tmp_path / "cut.mkv"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    shutil.copy(short_talk.srt, tmp_path / "cut.srt")
    result = cli("process", str(path), "--outbox", str(tmp_path / "out"), cwd=tmp_path)
    document = _assert_clean_failure(result, tmp_path / "out", "cut", "probe")
    assert "incomplete" in str(document["error"])
