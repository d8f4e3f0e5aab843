from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.phone import BAND, make_phone_recording

from presgend.pipeline.video import face, probe
from presgend.pipeline.video.face import Box
from presgend.pipeline.video.probe import MediaInfo


def _info(width: int = 1280, height: int = 720) -> MediaInfo:
    return MediaInfo(
        Path("x.mp4"),
        60.0,
        width,
        height,
        0,
        30.0,
        False,
        "yuv420p",
        "h264",
        True,
        "aac",
        2,
        60.0,
        60.0,
        1800,
    )


def test_samples_take_a_keyframe_of_their_shot_within_one_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 60 s clip sampled every 60/13 = 4.6 s: a keyframe of the sample's shot up to one
    interval away stands in for it (two samples may share one); a sample with none that
    near in its shot is sought."""
    sought: list[float] = []

    async def seek(info: MediaInfo, times: list[float], keys: list[float], width: int) -> dict:
        sought.extend(times)
        return {t: None for t in times}

    monkeypatch.setattr(face, "_sought", seek)
    frame = np.zeros((2, 2), np.uint8)
    keys = [(t, frame) for t in (0.0, 8.0, 16.0, 40.0)]  # 24 s to 40 s: no keyframe
    times = face.sample_times(60.0, face.SAMPLES)
    chosen = asyncio.run(face._samples(_info(), times, keys, [16.0], 320))
    # 4.6 s and 9.2 s share 8.0 (3.4 s and 1.2 s away); 13.8 s is 5.8 s from 8.0, and
    # 16.0 opens the next shot (a keyframe on a cut), where it stands in for 18.5 s;
    # 36.9 s and 41.5 s share 40.0
    assert [t for t, f in chosen if f is not None] == [8.0, 16.0, 40.0]
    assert sought == [times[i] for i in (2, 4, 5, 6, 9, 10, 11)]


def test_haar_finds_the_astronaut(astronaut_png: Path) -> None:
    gray = np.asarray(Image.open(astronaut_png).convert("L"))
    found = face.detect_faces(gray)
    assert len(found) >= 1
    biggest = max(found, key=lambda b: b.w * b.h)
    assert 150 < biggest.cx < 300 and 50 < biggest.cy < 200  # her face, upper middle


def test_jitter_is_not_followed() -> None:
    rng = np.random.default_rng(1)
    samples = [
        (
            float(t),
            Box(500 + int(rng.integers(-15, 15)), 200 + int(rng.integers(-10, 10)), 150, 150),
        )
        for t in range(12)
    ]
    framing = face.plan_framing(_info(), (640, 720), samples)
    assert framing.detected and len(framing.crop) == 1
    box = framing.crop[0].box
    assert abs(box.x + box.w / 2 - 575) < 20


def test_a_large_lasting_move_is_followed() -> None:
    left = [(float(t), Box(200, 200, 150, 150)) for t in range(6)]
    right = [(float(t), Box(900, 200, 150, 150)) for t in range(6, 12)]
    framing = face.plan_framing(_info(), (640, 720), left + right)
    assert len(framing.crop) == 2 and framing.crop[1].start == 6.0
    assert framing.crop[1].box.x > framing.crop[0].box.x
    assert framing.crop[0].box.w == framing.crop[1].box.w


def test_a_brief_move_is_ignored() -> None:
    samples = [(float(t), Box(200, 200, 150, 150)) for t in range(12)]
    samples[5] = (5.0, Box(900, 200, 150, 150))
    assert len(face.plan_framing(_info(), (640, 720), samples).crop) == 1


def test_a_lone_face_in_many_samples_is_not_framed_on() -> None:
    """A real recording, its head cut off at the top: Haar found a "face" in the
    background once in 11 samples, and the presenter was framed out of the picture."""
    samples: list[tuple[float, Box | None]] = [(float(t), None) for t in range(11)]
    samples[4] = (4.0, Box(725, 48, 293, 293))
    framing = face.plan_framing(_info(), (640, 720), samples)
    assert not framing.detected and framing.crop[0].box.x == 320  # centred
    few = [(0.0, Box(725, 48, 293, 293)), (1.0, None), (2.0, None)]  # a short clip: kept
    assert face.plan_framing(_info(), (640, 720), few).detected
    # a shot of its own with its face in one sample of many is centred, the others framed
    two_shots = [(float(t), Box(200, 200, 150, 150)) for t in range(6)]
    two_shots += [(float(t), None) for t in range(6, 12)]
    two_shots[8] = (8.0, Box(900, 200, 150, 150))
    framing = face.plan_framing(_info(), (640, 720), two_shots, cuts=[6.0])
    assert framing.detected and framing.hits == 6


def test_no_face_gives_a_centred_crop() -> None:
    framing = face.plan_framing(_info(), (640, 720), [(1.0, None), (2.0, None)])
    assert not framing.detected and framing.method == "centre"
    box = framing.crop[0].box
    assert (box.w, box.h) == (640, 720) and box.x == 320


def test_crop_fits_inside_portrait_and_tiny_frames() -> None:
    for width, height in [(720, 1280), (320, 240), (1920, 1080)]:
        for f in (None, Box(0, 0, 80, 80), Box(width - 60, height - 60, 60, 60)):
            box = face.crop_around(_info(width, height), (640, 720), f)
            assert box.x >= 0 and box.y >= 0
            assert box.x + box.w <= width and box.y + box.h <= height
            assert box.w % 2 == 0 and box.h % 2 == 0
            assert abs(box.w / box.h - 640 / 720) < 0.02


def test_the_recurring_box_wins_over_a_bigger_false_face() -> None:
    real = Box(400, 130, 140, 140)
    samples = [(float(t), [real]) for t in range(10)]
    samples[0] = (0.0, [real, Box(560, 210, 200, 200)])
    samples[6] = (6.0, [Box(700, 230, 210, 210), real])
    picked = face.pick_faces(samples)
    assert all(box == real for _, box in picked)
    assert face.pick_faces([(0.0, [])]) == [(0.0, None)]
    assert len(face.plan_framing(_info(), (640, 720), picked).crop) == 1


# --- borders: only where there are bars -------------------------------------------------------

FRAMES = {  # what each clip is made of, from the astronaut: ffmpeg filters
    "dark studio": "crop=700:620:150:0,scale=1280:720,eq=brightness=-0.12:gamma=0.7,"
    "vignette=angle=PI/2.4,noise=alls=6:allf=t",
    "letterboxed": "scale=1280:546,pad=1280:720:0:87:black,noise=alls=4:allf=t",
    "pillarboxed": "scale=960:720,pad=1280:720:160:0:black",
    "plain": "scale=1280:720",
}


def _clip(astronaut_png: Path, folder: Path, name: str) -> Path:
    out = folder / f"{name.replace(' ', '-')}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(astronaut_png), "-t", "3",
         "-vf", f"scale=1280:720,setsar=1,{FRAMES[name]},format=yuv420p",
         "-c:v", "libx264", "-preset", "ultrafast", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("name", "bars"),
    [("dark studio", None), ("plain", None), ("letterboxed", "top bottom"),
     ("pillarboxed", "left right")],
)  # fmt: skip
def test_borders_are_cropped_only_where_there_are_bars(
    astronaut_png: Path, tmp_path: Path, name: str, bars: str | None
) -> None:
    """A lit face in a dark room is dark at every edge but has no bars: the old rule (dark
    in every sample) cropped it by a third and warned about borders."""
    video = _clip(astronaut_png, tmp_path, name)
    info = asyncio.run(probe.probe(video))
    framing = asyncio.run(face.find_framing(info, (640, 720)))
    notes = [n for n in framing.notes if "Black borders" in n]
    if bars is None:
        assert notes == [], notes
        return
    assert len(notes) == 1 and all(side in notes[0] for side in bars.split()), notes
    crop = framing.crop[0].box
    if bars == "top bottom":
        assert 87 <= crop.y <= 96 and crop.y + crop.h <= 720 - 87
    else:
        assert crop.x >= 160 and crop.x + crop.w <= 1120


def _two_shots(tmp_path: Path, astronaut_png: Path, name: str, how: str, *x264: str) -> Path:
    """6 s at 30 fps, 320x180: the astronaut, then the coffee cup from frame 75 (2.5 s),
    by a hard cut or a 1 s cross-fade; a slow zoom keeps the frames changing."""
    from skimage import data

    cup = tmp_path / "cup.png"
    Image.fromarray(data.coffee()).save(cup)
    zoom = "scale=320:180,zoompan=z='1.1+0.001*on':d=1:s=320x180:fps=30"
    joined = (
        "[a]trim=0:2.5,setpts=PTS-STARTPTS[a2];[b]trim=0:3.5,setpts=PTS-STARTPTS[b2];"
        "[a2][b2]concat=n=2:v=1"
        if how == "cut"
        else "[a][b]xfade=transition=fade:duration=1:offset=2,trim=0:6"
    )
    out = tmp_path / f"{name}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-loop", "1", "-t", "6", "-i", str(astronaut_png),
         "-loop", "1", "-t", "6", "-i", str(cup), "-filter_complex",
         f"[0:v]{zoom}[a];[1:v]{zoom}[b];{joined},format=yuv420p[v]", "-map", "[v]",
         "-c:v", "libx264", *x264, str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.mark.parametrize(
    "how, x264, expected",
    [
        # a camera-like stream without B-frames, keyframes every 40 frames: cut mid-GOP
        ("cut", ["-preset", "ultrafast", "-g", "40"], [2.5]),
        # B-frames and scene-cut keyframes, as an editor exports: the cut is a keyframe
        ("cut", ["-preset", "veryfast"], [2.5]),
        # B-frames, fixed keyframes and no scene-cut detection: decoded to find the frame
        ("cut", ["-preset", "veryfast", "-x264-params", "keyint=40:scenecut=0"], [2.5]),
        ("fade", ["-preset", "veryfast"], []),
        ("fade", ["-preset", "ultrafast", "-g", "40"], []),
    ],
)
def test_a_cut_is_found_on_its_frame_and_a_cross_fade_is_none(
    tmp_path: Path, astronaut_png: Path, how: str, x264: list[str], expected: list[float]
) -> None:
    video = _two_shots(tmp_path, astronaut_png, "shots", how, *x264)

    async def cuts() -> list[float]:
        info = await probe.probe(video)
        keys = await face._frames(info, (320, 180), keyframes_only=True)
        return await face.find_cuts(info, keys)

    found = asyncio.run(cuts())
    assert len(found) == len(expected)
    assert all(abs(a - b) < 0.5 / 30 for a, b in zip(found, expected, strict=True)), found


def test_packet_sizes_place_a_cut_or_leave_it_to_the_decoder() -> None:
    p_frames = [(0.1 * k, 2000, False) for k in range(1, 20)]
    spike = [(t, 40_000 if abs(t - 1.2) < 1e-6 else s, k) for t, s, k in p_frames]
    key = [(2.0, 60_000, True)]
    assert face.cut_from_sizes(spike + key, 0.0, 2.0) == [pytest.approx(1.2)]
    # with B-frames the big frame may come after the cut: decode to find it
    assert face.cut_from_sizes(spike + key, 0.0, 2.0, reordered=True) is None
    # nothing stands out and little changed before the keyframe: the keyframe is the cut
    assert face.cut_from_sizes(p_frames + key, 0.0, 2.0) == [pytest.approx(2.0)]
    assert face.cut_from_sizes(p_frames + key, 0.0, 2.0, dark=True) is None  # may be a fade
    busy = [(t, 20_000, k) for t, _, k in p_frames]  # a pan: every frame changes a lot
    assert face.cut_from_sizes(busy + key, 0.0, 2.0) is None
    assert face.cut_from_sizes([(0.5, 50_000, True), (1.0, 50_000, True)], 0.0, 1.0) is None


def test_a_long_stretch_between_keyframes_gives_every_cut_in_it() -> None:
    """Two cuts between keyframes that look alike (A, B, back to A; a phone keeps a
    keyframe every few seconds, here 20 s) are both read from the sizes, B-frames or not."""
    frames = [(0.1 * k, 3000, False) for k in range(1, 200)]
    cuts = [(t, 90_000 if round(t, 1) in (9.0, 14.5) else s, k) for t, s, k in frames]
    assert face.cut_from_sizes(cuts, 0.0, 20.0, changed=False) == [
        pytest.approx(9.0), pytest.approx(14.5)]  # fmt: skip
    assert face.cut_from_sizes(cuts, 0.0, 20.0, reordered=True, changed=False) == [
        pytest.approx(9.0), pytest.approx(14.5)]  # fmt: skip
    assert face.cut_from_sizes(frames, 0.0, 20.0, changed=False) == [], "a still shot"


def test_a_phone_recording_is_framed_in_every_shot_and_its_bands_cropped(
    astronaut_png: Path, tmp_path: Path
) -> None:
    """Portrait, stored rotated, black bands above and below a dark room (so no step
    where the top band meets it), the face off-centre in two of three shots, and one
    keyframe in 20 s: both bands are cropped, every cut is found on its frame, and each
    shot is framed on its face (as near the middle as the picture allows)."""
    sound = tmp_path / "sound.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=25", str(sound)],
                   check=True)  # fmt: skip
    shots = [(0.0, 180), (9.0, 260), (18.0, 110)]
    phone = make_phone_recording(tmp_path / "phone.mp4", astronaut_png, sound, shots)
    info = asyncio.run(probe.probe(phone.video))
    assert (info.width, info.height, info.rotation) == (360, 640, 270)
    framing = asyncio.run(face.find_framing(info, (480, 540)))
    notes = " ".join(framing.notes)
    assert f"top {BAND + 2} px" in notes and f"bottom {BAND + 2} px" in notes, notes
    assert "left" not in notes and "3 shots" in notes, notes
    assert [round(s.start, 2) for s in framing.crop] == [0.0, 9.0, 18.0]
    for segment, (_, face_x) in zip(framing.crop, shots, strict=True):
        box = segment.box
        assert box.y >= BAND and box.y + box.h <= info.height - BAND, "no band in the panel"
        wanted = min(max(face_x - box.w / 2, 0), info.width - box.w)
        assert abs(box.x - wanted) <= 12, (segment, face_x)
