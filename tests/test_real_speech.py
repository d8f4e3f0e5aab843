"""A real person's voice, not a synthesiser's: five LibriVox clips (a reader of Jane
Austen's *Sense and Sensibility*, from Debian's `pocketsphinx-testdata`, fetched by
`make setup` into .cache/testdata) as one 25 s talking-head video without a transcript,
through `presgend process` with the real `tiny.en`: recognition, sentences, slides and
captions are checked against what she read."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import cli, write_config
from speech_check import word_error_rate

from presgend import sample
from presgend.pipeline import fidelity, phrases
from presgend.pipeline.transcribe import parse_cues
from presgend.subtitles import lines

LIBRIVOX = Path(__file__).resolve().parents[1] / ".cache" / "testdata" / "librivox"
TRAILING = {"to", "the", "a", "an", "of", "and", "or", "should", "with", "for", "in", "but"}


def _clips() -> tuple[list[Path], str]:
    if not (LIBRIVOX / "transcription").is_file():
        pytest.skip("pocketsphinx-testdata is missing: `make setup` fetches it")
    said = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        match = re.match(r"<s> (.*) </s> \((.*)\)", line)
        if match:
            said[match.group(2)] = match.group(1)
    names = sorted(said)
    return [LIBRIVOX / f"{n}.wav" for n in names], " ".join(said[n] for n in names)


@pytest.fixture(scope="module")
def austen(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path, tiny_model: Path
           ) -> tuple[dict[str, Any], Path, str]:  # fmt: skip
    clips, said = _clips()
    work = tmp_path_factory.mktemp("austen")
    wav, video = work / "speech.wav", work / "in" / "austen.mp4"
    video.parent.mkdir()
    inputs = [arg for clip in clips for arg in ("-i", str(clip))]
    joined = "".join(f"[{i}]" for i in range(len(clips)))
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex",
                    f"{joined}concat=n={len(clips)}:v=0:a=1,apad=pad_dur=0.5[a]",
                    "-map", "[a]", str(wav)], check=True)  # fmt: skip
    back = sample.canvas(astronaut_png, (640, 360), work / "canvas.png")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(back), "-i", str(wav),
                    "-vf", "scale=640:360,format=yuv420p", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", "-shortest", str(video)], check=True)  # fmt: skip
    config = write_config(
        {"transcription": {"model": str(tiny_model), "language": "en"},
         "output": {"quality": "fast"}, "paths": {"logs": str(work / "logs")}},
        work / "presgend.toml",
    )  # fmt: skip
    result = cli("process", str(video), "--outbox", str(work / "out"), "--config", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((work / "out" / "austen.report.json").read_text())
    return report, work / "out", said


def test_her_words_are_heard(austen: tuple[dict[str, Any], Path, str]) -> None:
    report, _, said = austen
    assert report["transcript"]["source"] == "whisper"
    heard = " ".join(s["text"] for s in report["transcript"]["segments"])
    assert word_error_rate(said, heard) <= 0.2


def test_recognition_becomes_whole_sentences(austen: tuple[dict[str, Any], Path, str]) -> None:
    segments = austen[0]["transcript"]["segments"]
    assert 3 <= len(segments) <= 6
    for seg in segments:
        assert seg["text"][:1].isupper() and seg["text"].endswith((".", "!", "?")), seg


def test_slides_are_faithful_and_end_on_whole_words(
    austen: tuple[dict[str, Any], Path, str],
) -> None:
    report = austen[0]
    segments = report["transcript"]["segments"]
    names_shown = set()
    assert report["slides"]
    for slide in report["slides"]:
        assert 2 <= len(slide["title"].split()) <= 6
        assert slide["title"] == phrases.title_case(slide["title"])
        for bullet, source in zip(slide["bullets"], slide["sources"], strict=True):
            said = segments[source]["text"]
            assert fidelity.broken(said, bullet) == [], (said, bullet)
            assert bullet.split()[-1].lower() not in TRAILING, bullet
            names_shown |= fidelity.names(bullet)
        shown = set(slide["sources"]) | set(slide["omitted"])
        for k, seg in enumerate(segments):  # each sentence: on the slide, or listed
            if slide["start_s"] <= seg["start"] < slide["end_s"]:
                assert k in shown, seg["text"]
    assert "dashwood" in names_shown  # the one name she reads is on a slide


def test_captions_read_well(austen: tuple[dict[str, Any], Path, str]) -> None:
    report, out, _ = austen
    cues = parse_cues((out / "austen.srt").read_text())
    heard = " ".join(s["text"] for s in report["transcript"]["segments"])
    assert " ".join(c.text for c in cues) == heard
    for cue in cues:
        assert len(lines(cue.text)) <= 2 and all(len(x) <= 42 for x in lines(cue.text))
        assert len(cue.text.split()) > 1, cue
        assert cue.end - cue.start >= 1.0 - 1e-3, cue
