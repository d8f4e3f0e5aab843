"""The composition run by real ffmpeg on a clip whose every frame says which it is: each
source frame is a flat grey whose level is its number (mod 24), so the presenter half of
any output frame names the source frame it shows, and the slide half's level names the
slide."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.frames import ffprobe, gray_frames

from presgend.core.hardware import Quality
from presgend.pipeline.text import subtitles
from presgend.pipeline.video import compose
from presgend.pipeline.video.face import Box, CropSegment

FPS = 30  # 1 s / 30 is no whole number of microseconds: where concat's rounding showed
SECONDS = 12.1  # 363 frames: a seam whose time is no whole millisecond
# 640x360 at 30 fps and ultrafast: the rate is what matters, not the size
SMALL = Quality("small", 640, 360, 30, "ultrafast", 18, "p1", "64k")
# (first frame, opens a new slide; else a build): starts that are no whole number of
# tenths of a second, whose microseconds concat had rounded down
CUES = [(0, True), (37, False), (87, True), (137, False), (181, True), (243, False)]
SLIDE_LEVELS = [40, 70, 100, 130, 160, 190]


@pytest.fixture(scope="module")
def coded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clip (640x360, 30 fps, a tone) and the slide pictures beside it."""
    folder = tmp_path_factory.mktemp("coded")
    video = folder / "coded.mp4"
    frames = round(SECONDS * FPS)
    levels = (32 + np.arange(frames) % 24 * 8).astype(np.uint8)
    # the grey frames piped in (geq computes every pixel of every frame: 4 CPU-s)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "640x360",
         "-r", str(FPS), "-i", "-",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-g", "30",
         "-pix_fmt", "yuv420p", "-c:a", "aac", str(video)],
        input=np.repeat(levels, 360 * 640).tobytes(), check=True,
    )  # fmt: skip
    for i, level in enumerate(SLIDE_LEVELS):
        Image.new("RGB", (320, 360), (level,) * 3).save(folder / f"slide-{i}.png")
    Image.new("RGB", (320, 360), (10, 10, 10)).save(folder / "blank.png")
    (folder / "captions.srt").write_text(
        "1\n00:00:00,500 --> 00:00:02,500\nFirst words.\n\n"
        "2\n00:00:06,500 --> 00:00:09,000\nLast words.\n",
        encoding="utf-8",
    )
    chapters = subtitles.chapters([(0.0, "One"), (6.0, "Two")], SECONDS)
    (folder / "chapters.txt").write_text(subtitles.ffmetadata(chapters), encoding="utf-8")
    return video


def _plan(video: Path, output: Path) -> compose.ComposePlan:
    folder = video.parent
    return compose.ComposePlan(
        video=video,
        audio=video,
        duration=SECONDS,
        fps=FPS,
        quality=SMALL,
        crop=[CropSegment(0.0, Box(160, 0, 320, 360))],
        slides=[
            compose.SlideCue(folder / f"slide-{i}.png", first / FPS, opens)
            for i, (first, opens) in enumerate(CUES)
        ],
        crossfade=0.4,
        encoder=compose.X264,
        output=output,
        blank=folder / "blank.png",
        captions=folder / "captions.srt",
        chapters=folder / "chapters.txt",
    )


def _compose(video: Path, out: Path, parts: int) -> list[float]:
    out.mkdir()
    progress: list[float] = []
    asyncio.run(
        compose.compose(_plan(video, out / "video.mp4"), progress.append, parts, folder=out)
    )
    return progress


def _levels(video: Path, crop: str) -> np.ndarray:
    return gray_frames(video, crop, (8, 8), FPS).reshape(-1, 64).mean(axis=1)


def _sound(video: Path) -> str:
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a", "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return hashlib.sha256(pcm).hexdigest()


def _assert_presenter_in_time(video: Path, source: Path) -> None:
    said = _levels(source, "320:360:160:0")
    shown = _levels(video, "320:360:0:0")
    assert len(shown) == len(said) == round(SECONDS * FPS)
    late = [n for n in range(len(shown)) if abs(shown[n] - said[n]) > 3]
    assert not late, f"output frames showing another source frame: {late[:10]} of {len(late)}"


def test_the_presenter_stays_on_its_own_frame_beside_many_slides(
    coded: Path, tmp_path: Path
) -> None:
    """Frame n of the output shows source frame n, all the way through six slide
    changes (concat's rounding had made the presenter fall up to three frames behind)."""
    progress = _compose(coded, tmp_path / "one", parts=1)
    _assert_presenter_in_time(tmp_path / "one" / "video.mp4", coded)
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0, abs=0.02)


def test_a_picture_made_in_two_parts_is_the_one_made_in_one(
    coded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compose, "PART_MIN_SECONDS", 4.0)  # 12.1 s: in segments
    monkeypatch.setattr(compose, "SEGMENT_MIN_SECONDS", 2.0)
    plan = _plan(coded, tmp_path / "two" / "video.mp4")
    pieces = compose.split(plan, 2, tmp_path / "two")
    # one a slide, each from the bare background between two slides
    assert [(p.first, p.end) for p in pieces] == [(0, 87), (87, 181), (181, 363)]
    seam = pieces[0].end
    _compose(coded, tmp_path / "one", parts=1)
    progress = _compose(coded, tmp_path / "two", parts=2)
    one, two = tmp_path / "one" / "video.mp4", tmp_path / "two" / "video.mp4"

    _assert_presenter_in_time(two, coded)
    slides_one, slides_two = _levels(one, "320:360:320:0"), _levels(two, "320:360:320:0")
    assert len(slides_one) == len(slides_two)
    moved = np.flatnonzero(np.abs(slides_one - slides_two) > 3)
    assert not moved.size, f"the slide half differs at frames {moved[:10]} (seam {seam})"
    for (first, _), level in zip(CUES, SLIDE_LEVELS, strict=True):
        shown = slides_two[first + 10]  # past its fade
        assert abs(shown - level) <= 3, f"slide from frame {first}: {shown}"

    info_one, info_two = ffprobe(one), ffprobe(two)
    kinds = [s["codec_type"] for s in info_two["streams"]]
    assert kinds[:3] == ["video", "audio", "subtitle"], kinds
    assert float(info_two["format"]["duration"]) == pytest.approx(SECONDS, abs=0.05)
    assert info_two["streams"][0]["nb_read_frames"] == info_one["streams"][0]["nb_read_frames"]
    assert _sound(two) == _sound(one), "the sound is encoded as in one run"
    times = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time",
         "-of", "csv=p=0", str(two)],
        capture_output=True, check=True, text=True,
    ).stdout.split()  # fmt: skip
    off = [t for t in map(float, times) if abs(t * FPS - round(t * FPS)) > 1e-3]
    assert not off, f"frames off the 1/{FPS} s grid after the seam at {seam}: {off[:3]}"
    chapters = subprocess.run(
        ["ffprobe", "-v", "error", "-show_chapters", "-of", "csv=p=0", str(two)],
        capture_output=True, check=True, text=True,
    ).stdout.split()  # fmt: skip
    assert len(chapters) == 2
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["video.mp4"], "parts removed"
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_a_thousand_shots_compose_each_framed_on_its_own(tmp_path: Path) -> None:
    """A recording cut every frame for 1,000 shots (jump cuts, a two-camera podcast): each
    shot's crop is its own from its first frame, in one run and in two parts. The source
    is a left-to-right ramp, so the presenter half's level says where it was cropped."""
    fps, shots = 10, 1000
    seconds = shots / fps
    ramp, picture = tmp_path / "ramp.mp4", tmp_path / "ramp.png"
    row = np.round(16 + np.arange(640) / 3).astype(np.uint8)
    Image.fromarray(np.tile(row, (360, 1))).save(picture)  # a still, looped
    subprocess.run(
        ["ffmpeg", "-v", "error", "-loop", "1", "-framerate", str(fps), "-i", str(picture),
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-pix_fmt", "yuv420p",
         "-c:a", "aac", str(ramp)],
        check=True,
    )  # fmt: skip
    Image.new("RGB", (320, 360), (90, 90, 90)).save(tmp_path / "slide.png")
    crop = [CropSegment(i / fps, Box(320 * (i % 2), 0, 320, 360), cut=i > 0) for i in range(shots)]
    for parts in (1, 2):
        out = tmp_path / f"parts-{parts}"
        out.mkdir()
        plan = compose.ComposePlan(
            video=ramp, audio=ramp, duration=seconds, fps=fps, quality=SMALL, crop=crop,
            slides=[compose.SlideCue(tmp_path / "slide.png", 0.0)], crossfade=0.4,
            encoder=compose.X264, output=out / "video.mp4",
        )  # fmt: skip
        asyncio.run(compose.compose(plan, lambda _f: None, parts, folder=out))
        left = gray_frames(out / "video.mp4", "320:360:0:0", (8, 8), fps).reshape(-1, 64)
        levels = left.mean(axis=1)
        assert len(levels) == shots
        wrong = [n for n, level in enumerate(levels) if (level > 120) != (n % 2 == 1)]
        assert not wrong, f"{parts} part(s): frames cropped as another shot: {wrong[:10]}"


class KeptSegments:
    """What pipeline/store.py does with encoded segments, in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.taken: list[str] = []

    def get(self, fingerprint: str, into: Path) -> bool:
        kept = self.folder / fingerprint
        if not kept.is_file():
            return False
        into.write_bytes(kept.read_bytes())
        self.taken.append(fingerprint)
        return True

    def put(self, fingerprint: str, made: Path) -> None:
        (self.folder / fingerprint).write_bytes(made.read_bytes())


def test_a_re_render_encodes_only_the_segment_whose_slide_changed(
    coded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three segments, one a slide; the second slide's picture changes: the second
    segment is encoded again, the first and the last (and the sound) are reused, and
    the video is the one a full encode of the edit makes."""
    monkeypatch.setattr(compose, "PART_MIN_SECONDS", 4.0)
    monkeypatch.setattr(compose, "SEGMENT_MIN_SECONDS", 2.0)
    kept = KeptSegments(tmp_path / "kept")
    first = dataclasses.replace(_plan(coded, tmp_path / "v1.mp4"), identity="talk-sha")
    done = asyncio.run(compose.compose(first, lambda _f: None, 2, tmp_path, kept))
    assert (done.segments, done.encoded) == (3, 3) and kept.taken == []
    # the slide from frame 87 (and its build) gets new words: new pictures
    edited_pngs = []
    for i in (2, 3):
        png = tmp_path / f"edited-{i}.png"
        Image.new("RGB", (320, 360), (SLIDE_LEVELS[i] + 20,) * 3).save(png)
        edited_pngs.append(png)
    cues = list(first.slides)
    cues[2] = dataclasses.replace(cues[2], png=edited_pngs[0])
    cues[3] = dataclasses.replace(cues[3], png=edited_pngs[1])
    edited = dataclasses.replace(first, slides=cues, output=tmp_path / "v2.mp4")
    again = asyncio.run(compose.compose(edited, lambda _f: None, 2, tmp_path, kept))
    assert (again.segments, again.encoded) == (3, 1), "only the edited slide's segment"
    assert len(kept.taken) == 3, "two segments and the sound reused"
    whole = dataclasses.replace(edited, output=tmp_path / "v3.mp4")
    asyncio.run(compose.compose(whole, lambda _f: None, 2, tmp_path))
    for crop in ("320:360:320:0", "320:360:0:0"):
        reused, fresh = _levels(tmp_path / "v2.mp4", crop), _levels(tmp_path / "v3.mp4", crop)
        assert len(reused) == len(fresh) == 363
        assert np.abs(reused - fresh).max() <= 3, crop
    shown = _levels(tmp_path / "v2.mp4", "320:360:320:0")
    assert abs(shown[87 + 20] - (SLIDE_LEVELS[2] + 20)) <= 3, "the new picture"
    assert _sound(tmp_path / "v2.mp4") == _sound(tmp_path / "v1.mp4")


def test_the_longest_segments_are_encoded_first_and_the_sound_is_measured_beside_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With one slot, segments start longest first (a long one started last would run
    alone at the end); the sound does not wait for a slot, and its loudness is taken as
    soon as it is encoded, before the pictures are done."""
    started: list[str] = []

    async def run(args: list[str], timeout: float, on_line: object = None) -> None:
        started.append(args[0])
        await asyncio.sleep(0.01)

    measured: list[Path] = []

    async def sound(job: compose._Encode) -> None:  # encoded, then measured
        await run(job.args, 60)
        measured.append(job.out)
        started.append("measured")

    monkeypatch.setattr(compose, "_run", run)
    lengths = (("sound", 0.0), ("a", 5.0), ("b", 30.0), ("c", 10.0))
    jobs = [compose._Encode([name], tmp_path / name, s, "ffmpeg") for name, s in lengths]
    asyncio.run(compose._encode_all(jobs, 1, 60, 45.0, lambda _f: None, sound))
    assert set(started[:2]) == {"sound", "b"} and started.index("measured") < len(started) - 1
    assert [s for s in started if s in "abc"] == ["b", "c", "a"]
    assert measured == [tmp_path / "sound"]


def test_only_the_fades_are_converted_for_xfade(coded: Path, tmp_path: Path) -> None:
    """xfade works in 4:4:4 (ffmpeg 5): the holds must not be converted to it and back,
    frame by frame, on their way to the stack. ffmpeg's own log of the graph it built
    names every converter it put in; none may feed the concatenation or the stack."""
    plan = _plan(coded, tmp_path / "out.mp4")
    args = compose.build_args(plan)
    args = [*args[: args.index("-c:v")], "-f", "null", "-"]
    args[args.index("-v") + 1] = "debug"
    log = subprocess.run(args, capture_output=True, text=True, check=True).stderr
    inserted = [line for line in log.splitlines() if "auto-inserting filter" in line]
    assert any("xfade" in line for line in inserted), "the fades are converted"
    assert not [line for line in inserted if "concat" in line or "hstack" in line], inserted


def test_the_sound_encoded_ahead_is_taken_only_when_it_is_the_plan_s(
    coded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sound encoded while the slides were made (its own ffmpeg run, measured) goes
    into the video as it is: no second encode, its loudness is the report's. Encoded for
    another level of the sound, it is not taken: the plan's is encoded."""
    monkeypatch.setattr(compose, "PART_MIN_SECONDS", 4.0)  # 12.1 s: in segments
    plan = dataclasses.replace(_plan(coded, tmp_path / "video.mp4"), gain_db=3.0)
    ahead = asyncio.run(compose.encode_sound(plan, tmp_path / "sound-ahead.m4a"))
    assert ahead.out.is_file() and ahead.loudness is not None
    sounds: list[str] = []
    real = compose._run

    async def counted(args: list[str], timeout: float, on_line: object = None) -> None:
        if args[-1].endswith("sound.m4a"):
            sounds.append(args[-1])
        await real(args, timeout, on_line)  # type: ignore[arg-type]

    monkeypatch.setattr(compose, "_run", counted)

    async def given(sound: compose.Sound) -> compose.Sound:
        return sound

    done = asyncio.run(compose.compose(plan, lambda _f: None, 2, tmp_path, ahead=given(ahead)))
    assert sounds == [] and done.heard and done.loudness == ahead.loudness
    assert not ahead.out.exists(), "moved into place, not copied"
    assert ffprobe(plan.output)["format"]["duration"]
    other = asyncio.run(compose.encode_sound(dataclasses.replace(plan, gain_db=-6.0),
                                             tmp_path / "quieter.m4a"))  # fmt: skip
    again = dataclasses.replace(plan, output=tmp_path / "again.mp4")
    done = asyncio.run(compose.compose(again, lambda _f: None, 2, tmp_path, ahead=given(other)))
    assert len(sounds) == 1 and other.out.exists(), "another level's sound is not taken"
    assert done.loudness is not None and done.loudness != other.loudness
