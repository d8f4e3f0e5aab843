"""End to end through `presgend process`: real ffmpeg, Chromium, OpenCV and faster-whisper."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from support.cli import cli, write_config
from support.frames import assert_changes_match, ffprobe, gray_frames
from support.speech import word_error_rate

from presgend.pipeline.video import face, transcribe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def processed(talk, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The sidecar talk processed once at standard quality; shared by the checks below."""
    work = tmp_path_factory.mktemp("e2e")
    outbox = work / "out box"
    result = cli(
        "process", str(talk.video), "--outbox", str(outbox), "--quality", "standard", cwd=work
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((outbox / f"{talk.video.stem}.report.json").read_text())
    return talk, outbox, report, result


def test_outputs_are_published_together(processed) -> None:  # type: ignore[no-untyped-def]
    talk, outbox, report, result = processed
    stem = talk.video.stem
    assert sorted(p.name for p in outbox.iterdir()) == sorted(
        [f"{stem}.mp4", f"{stem}.srt", f"{stem}.vtt", f"{stem}.chapters.vtt", f"{stem}.pptx",
         f"{stem}.preview.jpg", f"{stem}.report.json"]
    )  # fmt: skip
    assert report["status"] == "ok"
    assert (
        report["output"]["video"] == str((outbox / f"{stem}.mp4").absolute())
        or Path(report["output"]["video"]).name == f"{stem}.mp4"
    )
    assert report["input"]["kind"] == "video" and len(report["input"]["sha256"]) == 64
    assert report["transcript"]["source"] == "sidecar"
    assert set(report["phases"]) == {"probe", "content", "compose"}
    assert report["fallbacks"] == [] and report["quality"] == "standard"
    assert report["peak_rss_mb"] > 0 and report["total_s"] > 0
    assert f"{stem}.mp4" in result.stdout


def test_video_streams_size_duration_and_frames(processed) -> None:  # type: ignore[no-untyped-def]
    talk, outbox, report, _ = processed
    info = ffprobe(outbox / f"{talk.video.stem}.mp4")
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert (video["width"], video["height"]) == (1280, 720)
    assert audio["codec_name"] == "aac"
    duration = float(info["format"]["duration"])
    assert abs(duration - talk.duration) <= 0.1
    assert abs(int(video["nb_read_frames"]) - round(talk.duration * 30)) <= 2
    assert report["output"]["duration_s"] == pytest.approx(duration, abs=0.01)


def test_slides_change_when_their_section_is_spoken(processed) -> None:  # type: ignore[no-untyped-def]
    talk, outbox, report, _ = processed
    slides = report["slides"]
    assert 3 <= len(slides) <= 5
    starts = [s["start_s"] for s in slides]
    assert starts[0] == 0.0 and starts == sorted(starts)
    sentence_starts = [round(seg.start, 3) for seg in talk.segments]
    for later in starts[1:]:
        assert any(abs(later - t) < 0.01 for t in sentence_starts), "cut between sentences"
    assert_changes_match(report, outbox / f"{talk.video.stem}.mp4")
    for s in slides:
        assert (s["title"] and 2 <= len(s["bullets"]) <= 4) or len(s["bullets"]) >= 1


def test_face_is_near_the_centre_of_the_left_panel(processed) -> None:  # type: ignore[no-untyped-def]
    talk, outbox, report, _ = processed
    assert report["face"]["detected"] and report["face"]["method"] == "haar"
    frames = gray_frames(outbox / f"{talk.video.stem}.mp4", "640:720:0:0", (320, 360), 1)
    centres = []
    for frame in frames[:: max(1, len(frames) // 6)]:
        found = face.detect_faces(np.ascontiguousarray(frame))
        if found:
            box = max(found, key=lambda b: b.w * b.h)
            centres.append((box.cx / 320, box.cy / 360))
    assert len(centres) >= 4
    for cx, cy in centres:
        assert abs(cx - 0.5) < 0.12, centres
        assert 0.25 < cy < 0.6, centres


def test_srt_matches_the_transcript(processed) -> None:  # type: ignore[no-untyped-def]
    talk, outbox, report, _ = processed
    cues = transcribe.parse_cues((outbox / f"{talk.video.stem}.srt").read_text())
    assert " ".join(c.text for c in cues) == " ".join(s.text for s in talk.segments)
    assert cues[0].start == pytest.approx(talk.segments[0].start, abs=0.002)
    assert [s["text"] for s in report["transcript"]["segments"]] == [s.text for s in talk.segments]


def test_captions_and_chapters_that_players_understand(processed) -> None:  # type: ignore[no-untyped-def]
    talk, outbox, report, _ = processed
    stem, titles = talk.video.stem, [s["title"] for s in report["slides"]]
    srt = (outbox / f"{stem}.srt").read_text()
    vtt = (outbox / f"{stem}.vtt").read_text()
    assert vtt.startswith("WEBVTT\n") and report["output"]["vtt"].endswith(f"{stem}.vtt")
    times = r"(\d\d:\d\d:\d\d)[,.](\d{3}) --> (\d\d:\d\d:\d\d)[,.](\d{3})"
    assert re.findall(times, vtt) == re.findall(times, srt) != []  # the same cues
    assert [c.text for c in transcribe.parse_cues(vtt)] == [
        c.text for c in transcribe.parse_cues(srt)
    ]
    chapters_vtt = (outbox / f"{stem}.chapters.vtt").read_text()
    assert report["output"]["chapters_vtt"].endswith(f"{stem}.chapters.vtt")
    assert [c.text for c in transcribe.parse_cues(chapters_vtt)] == titles
    info = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_chapters", "-show_streams", "-of", "json",
             str(outbox / f"{stem}.mp4")],
            capture_output=True, check=True, text=True,
        ).stdout
    )  # fmt: skip
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == titles
    starts = [float(c["start_time"]) for c in chapters]
    assert starts[0] == 0.0
    assert starts[1:] == pytest.approx([s["start_s"] for s in report["slides"]][1:], abs=0.002)
    subtitles = [s for s in info["streams"] if s["codec_type"] == "subtitle"]
    assert [(s["codec_name"], s["tags"]["language"]) for s in subtitles] == [("mov_text", "eng")]
    data = (outbox / f"{stem}.mp4").read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")  # +faststart: plays before it is all in


def test_the_deck_is_editable_with_the_spoken_words_in_its_notes(processed) -> None:  # type: ignore[no-untyped-def]
    from pptx import Presentation

    talk, outbox, report, _ = processed
    path = outbox / f"{talk.video.stem}.pptx"
    assert report["output"]["pptx"] == str(path) or Path(report["output"]["pptx"]).name == path.name
    deck = Presentation(str(path))
    assert len(deck.slides) == len(report["slides"])
    notes = []
    for slide, shown in zip(deck.slides, report["slides"], strict=True):
        texts = [shape for shape in slide.shapes if shape.has_text_frame and shape.text_frame.text]
        assert not [shape for shape in slide.shapes if shape.shape_type == 13]  # no picture
        title = slide.shapes.title
        assert title.text_frame.text == shown["title"]
        body = [shape for shape in texts if shape.shape_id != title.shape_id]
        assert [p.text for p in body[0].text_frame.paragraphs] == shown["bullets"]
        run = title.text_frame.paragraphs[0].runs[0]
        assert str(run.font.color.rgb) == "1B2230" and run.font.name == "Inter"  # the theme
        notes.append(slide.notes_slide.notes_text_frame.text)
    # every sentence is in the notes of the slide it was spoken over, in order
    assert " ".join(notes) == " ".join(s.text for s in talk.segments)
    for slide_notes, shown in zip(notes, report["slides"], strict=True):
        for source in shown["sources"]:
            assert talk.segments[source].text in slide_notes


def test_burned_captions_are_in_the_picture_and_not_a_track(short_talk, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = write_config({"output": {"quality": "fast", "burn_captions": True}},
                          tmp_path / "burn.toml")  # fmt: skip
    outbox = tmp_path / "out"
    result = cli("process", str(short_talk.video), "--outbox", str(outbox), "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    video = outbox / f"{short_talk.video.stem}.mp4"
    streams = {s["codec_type"] for s in ffprobe(video)["streams"]}
    assert "subtitle" not in streams and {"video", "audio"} <= streams
    cue = transcribe.parse_cues((outbox / f"{short_talk.video.stem}.srt").read_text())[1]
    frame = tmp_path / "frame.png"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{(cue.start + cue.end) / 2:.3f}", "-i",
                    str(video), "-frames:v", "1", "-vf", "format=gray", str(frame)],
                   check=True)  # fmt: skip
    from PIL import Image

    gray = np.asarray(Image.open(frame).convert("L"), dtype=np.float32)  # 960x540
    beside_divider = gray[470:520, 490:540].mean()  # the caption's box, on the slide half
    far_right = gray[470:520, 800:860].mean()  # the slide's own background
    assert beside_divider < 110 < far_right, (beside_divider, far_right)


def test_whisper_path_with_a_local_model(short_talk, tiny_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No sidecar: the real tiny.en model, from a local directory, hears what was said."""
    video = tmp_path / "spoken.mp4"
    shutil.copy(short_talk.video, video)
    config = write_config(
        {"transcription": {"model": str(tiny_model), "language": "en"}},
        tmp_path / "presgend.toml",
    )
    result = cli(
        "process",
        str(video),
        "--outbox",
        str(tmp_path / "out"),
        "--config",
        str(config),
        "--quality",
        "draft",  # what is checked is the words
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "out" / "spoken.report.json").read_text())
    assert report["transcript"]["source"] == "whisper"
    assert report["transcript"]["language"] == "en"
    segments = report["transcript"]["segments"]
    assert segments and all(
        0 <= s["start"] <= s["end"] <= short_talk.duration + 0.5 for s in segments
    )
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    heard = " ".join(s["text"] for s in segments)
    assert word_error_rate(" ".join(s.text for s in short_talk.segments), heard) <= 0.15, heard
    assert report["slides"] and report["output"]["width"] == 640
    assert abs(report["output"]["duration_s"] - short_talk.duration) <= 0.1


def test_missing_model_is_a_clear_failure(short_talk, tmp_path) -> None:  # type: ignore[no-untyped-def]
    video = tmp_path / "spoken.mp4"
    shutil.copy(short_talk.video, video)
    config = write_config(
        {"transcription": {"model": "no-such-model-xyz"}}, tmp_path / "presgend.toml"
    )
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = cli(
        "process",
        str(video),
        "--outbox",
        str(tmp_path / "out"),
        "--config",
        str(config),
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode != 0
    error = json.loads((tmp_path / "out" / "spoken.error.json").read_text())
    assert error["phase"] == "content"
    assert "presgend fetch-model no-such-model-xyz" in error["error"]
    assert not list((tmp_path / "out").glob("*.mp4"))
