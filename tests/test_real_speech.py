"""A real person's voice, not a synthesiser's: five LibriVox clips (a reader of Jane
Austen's *Sense and Sensibility*, from Debian's `pocketsphinx-testdata`, fetched by
`make setup` into .cache/testdata) as one 25 s talking-head video without a transcript,
through `presgend process` with the real `tiny.en`: recognition, sentences, slides and
captions are checked against what she read."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli, write_config
from support.librivox import Reading, read_aloud
from support.speech import word_error_rate

from presgend.ops import sample
from presgend.pipeline.text import fidelity, phrases, resentence
from presgend.pipeline.text.subtitles import lines
from presgend.pipeline.video.transcribe import parse_cues, words_of

TRAILING = {"to", "the", "a", "an", "of", "and", "or", "should", "with", "for", "in", "but"}


@pytest.fixture(scope="module")
def reading(tmp_path_factory: pytest.TempPathFactory) -> Reading:
    """Her five clips as one recording, a pause between sentences."""
    found = read_aloud(tmp_path_factory.mktemp("reading") / "speech.wav")
    if found is None:
        pytest.skip("pocketsphinx-testdata is missing: `make setup` fetches it")
    return found


def auto_captions(reading: Reading, per_cue: int = 7) -> str:
    """What a video site's auto-captions look like when downloaded: lower case, no
    punctuation, a cue every `per_cue` words wherever the line is full, each cue rolling
    the line before it up and a 10 ms cue between, each word with its start time
    (spread over her speech in proportion to its length)."""
    words: list[tuple[float, str]] = []
    for (a, b), text in zip(reading.spans, reading.said, strict=True):
        tokens = text.split()
        total = sum(len(w) + 1 for w in tokens)
        t = a
        for token in tokens:
            words.append((t, token))
            t += (b - a) * (len(token) + 1) / total
    lines = [words[k : k + per_cue] for k in range(0, len(words), per_cue)]
    out, before = ["WEBVTT", "Kind: captions", "Language: en", ""], ""
    for k, line in enumerate(lines):
        start = line[0][0]
        end = lines[k + 1][0][0] if k + 1 < len(lines) else line[-1][0] + 0.6
        timed = line[0][1] + "".join(f"<{_clock(t)}><c> {w}</c>" for t, w in line[1:])
        out += [f"{_clock(start)} --> {_clock(end - 0.01)} align:start position:0%",
                before or " ", timed, ""]  # fmt: skip
        before = " ".join(w for _, w in line)
        out += [f"{_clock(end - 0.01)} --> {_clock(end)} align:start position:0%", before, " ", ""]
    return "\n".join(out)


def _clock(t: float) -> str:
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}"


def _talk(reading: Reading, astronaut_png: Path, video: Path) -> None:
    back = sample.canvas(astronaut_png, (640, 360), video.parent / "canvas.png")
    # the still converted once and repeated (`-loop 1` would decode and scale it each frame)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(back), "-i", str(reading.wav),
                    "-vf", "scale=640:360,format=yuv420p,loop=loop=-1:size=1,setpts=N/(25*TB)",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
                    str(video)], check=True)  # fmt: skip


def _process(video: Path, tiny_model: Path, work: Path) -> tuple[dict[str, Any], Path]:
    config = write_config(
        {"transcription": {"model": str(tiny_model), "language": "en"},
         "output": {"quality": "draft"}, "paths": {"logs": str(work / "logs")}},
        work / "presgend.toml",
    )  # fmt: skip
    out = work / "out"
    result = cli("process", str(video), "--outbox", str(out), "--config", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / f"{video.stem}.report.json").read_text()), out


@pytest.fixture(scope="module")
def austen(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path, tiny_model: Path,
           reading: Reading) -> tuple[dict[str, Any], Path, str]:  # fmt: skip
    work = tmp_path_factory.mktemp("austen")
    video = work / "in" / "austen.mp4"
    video.parent.mkdir()
    _talk(reading, astronaut_png, video)
    report, out = _process(video, tiny_model, work)
    return report, out, " ".join(reading.said)


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


# --- her reading as downloaded auto-captions: no punctuation, no capitals ------------------


def test_rolling_auto_captions_are_read_once_with_their_word_times(reading: Reading) -> None:
    cues = parse_cues(auto_captions(reading))
    assert " ".join(c.text for c in cues) == " ".join(reading.said)
    words = [w for c in cues for w in words_of(c)]
    assert len(words) == len(" ".join(reading.said).split())
    assert all(a.start < b.start for a, b in itertools.pairwise(words))


def test_auto_captions_become_her_sentences_from_the_pauses(reading: Reading) -> None:
    """No recogniser: the pauses and the words either side place the sentence ends."""
    cues = parse_cues(auto_captions(reading))
    assert resentence.needs_restoring(cues)
    restored = resentence.restore(cues)
    assert [_bare(s.text) for s in restored] == reading.said
    for seg in restored:
        assert seg.text[:1].isupper() and seg.text.endswith("."), seg.text
    assert restored[0].text.startswith("And Mister John Dashwood had")


def test_auto_captions_take_the_recognisers_punctuation(
    tmp_path: Path, astronaut_png: Path, tiny_model: Path, reading: Reading
) -> None:
    """With a recogniser the sidecar's own words get its punctuation and capitals, and
    the slides and captions are made of her whole sentences."""
    video = tmp_path / "in" / "austen.mp4"
    video.parent.mkdir()
    _talk(reading, astronaut_png, video)
    video.with_suffix(".vtt").write_text(auto_captions(reading))
    report, out = _process(video, tiny_model, tmp_path)
    assert report["transcript"]["source"] == "sidecar"
    assert any("recogniser's punctuation" in w for w in report["warnings"]), report["warnings"]
    segments = report["transcript"]["segments"]
    assert _bare(" ".join(s["text"] for s in segments)) == " ".join(reading.said)
    assert 3 <= len(segments) <= 6
    for seg in segments:
        assert seg["text"][:1].isupper() and seg["text"].endswith((".", "!", "?")), seg
    assert "John Dashwood" in segments[0]["text"]
    for slide in report["slides"]:
        for bullet in slide["bullets"]:
            assert bullet.split()[-1].lower().strip(".,") not in TRAILING, bullet
    cues = parse_cues((out / "austen.srt").read_text())
    for cue in cues:
        assert len(cue.text.split()) > 1 and cue.end - cue.start >= 1.0 - 1e-3, cue


def _bare(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]", " ", text.lower()).replace("-", " ").split())
