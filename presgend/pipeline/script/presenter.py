"""The presenter half for scripts: a SadTalker talking head when it is installed and
allowed, otherwise the presenter's picture breathing slowly around the face with a calm
level meter of the speech, so the left half is alive but never busy.

The picture is `<stem>.png/.jpg` beside the script, else `presenter.image`. Faces in it
are found with the same Haar detector as for videos, and the motion is centred on the
face; it is sub-pixel (each frame is resampled with float maths, at the output rate), so
it glides instead of stepping a pixel at a time. With no picture, the half is a clean
panel in the slides' colours with the presenter's name and title, and the meter.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageOps

from presgend.core import inputs, logs, procs
from presgend.core.config import PresenterConfig
from presgend.core.errors import JobError, ToolError
from presgend.core.hardware import HardwareProfile, Quality
from presgend.pipeline.text import slides
from presgend.pipeline.video import face, probe

log = logs.get(__name__)

PRESENTER_FPS = 25


@dataclass(frozen=True)
class Picture:
    path: Path | None  # None: no picture was given (a branded panel stands in)
    source: str  # sidecar | config | default
    width: int
    height: int
    face: face.Box | None


@dataclass(frozen=True)
class Brand:
    """What the panel shows when there is no picture: the slides' colours and a name."""

    look: slides.Look
    name: str = ""
    title: str = ""


def find_picture(script: Path, cfg: PresenterConfig) -> tuple[Path | None, str]:
    beside = inputs.find_beside(script, inputs.IMAGE_SUFFIXES)
    if beside is not None:
        return beside, "sidecar"
    if cfg.image:
        path = Path(cfg.image)
        if not path.is_file():
            raise JobError(
                f"The presenter image {cfg.image} (presenter.image) does not exist.",
                phase="presenter",
                fault="setup",
            )
        return path, "config"
    return None, "default"


def load_picture(script: Path, cfg: PresenterConfig, work: Path) -> Picture:
    """The presenter picture, upright and in RGB, saved into `work`; faces found."""
    path, source = find_picture(script, cfg)
    if path is None:
        return Picture(None, source, 0, 0, None)
    out = work / "presenter.png"
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError) as exc:
        raise JobError(
            f"The presenter image {path.name} cannot be read as a picture.",
            phase="presenter",
            detail=str(exc),
        ) from exc
    image.save(out)
    gray = np.asarray(image.convert("L"))
    faces = face.detect_faces(gray)
    best = max(faces, key=lambda b: b.w * b.h) if faces else None
    return Picture(out, source, image.width, image.height, best)


# --- the animated half ------------------------------------------------------------------------

METER_WINDOW = 0.10  # seconds of sound behind each level reading
METER_ATTACK = 0.06  # seconds for the meter to rise, and to fall
METER_RELEASE = 0.30
METER_BARS = 5
ZOOM_PERIOD = 24.0  # one slow breath in and out
ZOOM_DEPTH = 0.04


def levels(wav: Path, fps: int = PRESENTER_FPS) -> np.ndarray:
    """The speech's level once per video frame, 0..1: RMS over 100 ms windows centred
    on each frame, in dB between -50 and -12, then smoothed (quick to rise, slow to
    fall) so the meter moves like a voice, not like a waveform."""
    with wave.open(str(wav), "rb") as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"{wav.name} is not 16-bit PCM")
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    samples = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
    frames = max(1, math.ceil(len(samples) / rate * fps))
    half = int(METER_WINDOW * rate / 2)
    power = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    centres = (np.arange(frames) * rate / fps).astype(np.int64)
    lo = np.clip(centres - half, 0, len(samples))
    hi = np.clip(centres + half, 0, len(samples))
    rms = np.sqrt((power[hi] - power[lo]) / np.maximum(hi - lo, 1))
    target = np.clip((20 * np.log10(rms + 1e-9) + 50) / 38, 0, 1)
    up = 1 - math.exp(-1 / (METER_ATTACK * fps))
    down = 1 - math.exp(-1 / (METER_RELEASE * fps))
    out = np.empty(frames, np.float32)
    value = 0.0
    for i, t in enumerate(target):
        value += (t - value) * (up if t > value else down)
        out[i] = value
    return out


class Meter:
    """Five rounded bars in the accent colour on a small solid pill: the voice, calmly."""

    def __init__(self, bar_w: int, accent: str, back: str | None) -> None:
        self.bar_w = max(3, bar_w)
        self.gap = self.bar_w
        self.max_h = self.bar_w * 5
        self.w = METER_BARS * self.bar_w + (METER_BARS + 1) * self.gap + self.bar_w
        self.h = self.max_h + 2 * self.gap
        pill = Image.new("RGBA", (self.w * 4, self.h * 4), (0, 0, 0, 0))
        if back is not None:  # on a picture: a small solid pill behind the bars
            ImageDraw.Draw(pill).rounded_rectangle(
                [0, 0, self.w * 4 - 1, self.h * 4 - 1], radius=self.h * 2, fill=back
            )
        self.pill = np.asarray(pill.resize((self.w, self.h), Image.Resampling.LANCZOS))
        self.accent = np.array(ImageColor.getrgb(accent)[:3], np.float32)
        self._bars: dict[int, np.ndarray] = {}
        self.shape = (0.55, 0.8, 1.0, 0.8, 0.55)  # the middle bar moves most

    def _bar(self, height: int) -> np.ndarray:
        if height not in self._bars:
            mask = Image.new("L", (self.bar_w * 4, height * 4), 0)
            ImageDraw.Draw(mask).rounded_rectangle(
                [0, 0, self.bar_w * 4 - 1, height * 4 - 1], radius=self.bar_w * 2, fill=255
            )
            small = mask.resize((self.bar_w, height), Image.Resampling.LANCZOS)
            self._bars[height] = np.asarray(small, np.float32)[:, :, None] / 255
        return self._bars[height]

    def draw(self, frame: np.ndarray, x: int, y: int, level: float) -> None:
        """Draw onto `frame` (RGB, uint8) with its top-left corner at (x, y)."""
        region: np.ndarray = frame[y : y + self.h, x : x + self.w].astype(np.float32)
        alpha = self.pill[:, :, 3:4].astype(np.float32) / 255
        region = region * (1 - alpha) + self.pill[:, :, :3] * alpha
        for i, weight in enumerate(self.shape):
            height = max(self.bar_w, round(self.bar_w + (self.max_h - self.bar_w) * level * weight))
            bar = self._bar(height)
            bx = self.gap + self.bar_w // 2 + i * (self.bar_w + self.gap)
            by = (self.h - height) // 2
            patch = region[by : by + height, bx : bx + self.bar_w]
            region[by : by + height, bx : bx + self.bar_w] = patch * (1 - bar) + self.accent * bar
        frame[y : y + self.h, x : x + self.w] = region.astype(np.uint8)


def framed_still(picture: Picture, panel: tuple[int, int], margin: float) -> np.ndarray:
    """The panel-shaped region around the face, `margin` times the panel's size."""
    assert picture.path is not None
    pw, ph = panel
    box = face.crop_around(_still_info(picture), panel, picture.face)
    with Image.open(picture.path) as image:
        region = image.convert("RGB").crop((box.x, box.y, box.x + box.w, box.y + box.h))
        size = (round(pw * margin), round(ph * margin))
        return np.asarray(region.resize(size, Image.Resampling.LANCZOS))


def panel_image(brand: Brand, panel: tuple[int, int]) -> np.ndarray:
    """A clean panel in the slides' colours: the presenter's name and title (or a speaker
    mark) in the upper half, the level meter goes below them."""
    theme = brand.look.theme
    pw, ph = panel
    image = Image.new("RGB", panel, theme.background)
    draw = ImageDraw.Draw(image)
    accent = theme.accent
    cx = pw // 2
    radius = int(pw * 0.16)
    cy = int(ph * 0.36)
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=accent)
    initials = "".join(part[0] for part in brand.name.split()[:2]).upper()
    if initials:
        mark = slides.ui_font(True, int(radius * 0.9))
        draw.text((cx, cy), initials, font=mark, fill=theme.background, anchor="mm")
    else:  # a simple microphone: capsule, cradle, stand
        w, h = radius * 0.34, radius * 0.62
        draw.rounded_rectangle(
            [cx - w, cy - h, cx + w, cy + h * 0.35], radius=int(w), fill=theme.background
        )
        draw.arc(
            [cx - w * 1.7, cy - h * 0.7, cx + w * 1.7, cy + h * 0.75],
            start=20, end=160, fill=theme.background, width=max(3, radius // 12),
        )  # fmt: skip
        draw.line(
            [cx, cy + h * 0.75, cx, cy + h * 1.1], fill=theme.background, width=max(3, radius // 12)
        )
    y = cy + radius + int(ph * 0.06)
    if brand.name:
        name_font = slides.ui_font(True, int(pw * 0.075))
        draw.text((cx, y), brand.name, font=name_font, fill=theme.text, anchor="mt")
        y += int(pw * 0.075 * 1.35)
    if brand.title:
        title_font = slides.ui_font(False, int(pw * 0.045))
        draw.text((cx, y), brand.title, font=title_font, fill=theme.muted, anchor="mt")
    return np.asarray(image)


def motion(t: float, still: tuple[int, int], panel: tuple[int, int]) -> np.ndarray:
    """The affine map from the still to the panel at time t: a slow breath of zoom
    (sub-pixel: float maths, interpolated) and a drift that stays inside the margin."""
    sw, sh = still
    pw, ph = panel
    zoom = 1 + ZOOM_DEPTH * (1 - math.cos(2 * math.pi * t / ZOOM_PERIOD)) / 2
    k = zoom  # output pixels per still pixel: the still is already the panel's scale
    room_x = max(0.0, (sw - pw / k) / 2) * 0.6
    room_y = max(0.0, (sh - ph / k) / 2) * 0.4
    cx = sw / 2 + room_x * math.sin(2 * math.pi * t / 37)
    cy = sh / 2 + room_y * math.sin(2 * math.pi * t / 29)
    return np.array([[k, 0, pw / 2 - k * cx], [0, k, ph / 2 - k * cy]], np.float32)


def frames(
    picture: Picture, brand: Brand, level: np.ndarray, panel: tuple[int, int]
) -> Iterator[bytes]:
    """Each frame of the presenter half as raw YUV 4:2:0, made as ffmpeg asks for it."""
    import cv2

    pw, ph = panel
    theme = brand.look.theme
    if picture.path is None:
        still = panel_image(brand, panel)
        meter = Meter(pw // 30, theme.accent, None)
        lines = bool(brand.name) + bool(brand.title)
        my = int(ph * 0.36 + pw * 0.16 + ph * 0.08 + pw * 0.075 * 1.35 * lines)
        my = min(my, ph - meter.h - int(ph * 0.06))
    else:
        still = framed_still(picture, panel, 1.10)
        meter = Meter(pw // 64, theme.accent, theme.background)
        my = ph - meter.h - int(ph * 0.04)
    mx = (pw - meter.w) // 2
    for i, value in enumerate(level):
        if picture.path is None:
            frame = still.copy()
        else:
            matrix = motion(i / PRESENTER_FPS, (still.shape[1], still.shape[0]), panel)
            frame = cv2.warpAffine(
                still, matrix, (pw, ph), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
        meter.draw(frame, mx, my, float(value))
        yield cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes()


async def animate(
    picture: Picture,
    brand: Brand,
    speech_wav: Path,
    duration: float,
    panel: tuple[int, int],
    out: Path,
    busy: Callable[[], None] | None = None,
) -> Path:
    """A panel-sized video: the picture breathing gently around the face (or the branded
    panel, still), with a level meter of the speech."""
    pw, ph = panel
    level = await asyncio.to_thread(levels, speech_wav)
    count = math.ceil(duration * PRESENTER_FPS)
    level = np.pad(level, (0, max(0, count - len(level))))[:count]
    await procs.run(
        [
            *procs.ffmpeg(),
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{pw}x{ph}",
            "-r", str(PRESENTER_FPS), "-i", "pipe:0",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p",
            str(out),
        ],
        timeout=max(120.0, duration * 4),
        what="ffmpeg (presenter)",
        stdin=frames(picture, brand, level, panel),
        busy=busy,
    )  # fmt: skip
    return out


def _still_info(picture: Picture) -> probe.MediaInfo:
    assert picture.path is not None
    return probe.MediaInfo(
        path=picture.path, duration=0.0, width=picture.width, height=picture.height,
        rotation=0, fps=0.0, variable_frame_rate=False, pix_fmt="rgb24", video_codec="png",
        has_audio=False, audio_codec="", audio_channels=0, audio_duration=None,
        video_duration=None, frame_count=1,
    )  # fmt: skip


# --- SadTalker --------------------------------------------------------------------------


def sadtalker_usable(cfg: PresenterConfig, profile: HardwareProfile) -> tuple[bool, str]:
    """Whether to run SadTalker, and why (not)."""
    if cfg.sadtalker == "off":
        return False, "SadTalker is turned off (presenter.sadtalker)"
    if not cfg.sadtalker_dir:
        return False, "SadTalker is not installed (presenter.sadtalker_dir is empty)"
    if not (Path(cfg.sadtalker_dir) / "inference.py").is_file():
        return False, f"no inference.py in {cfg.sadtalker_dir}"
    if cfg.sadtalker == "auto" and not (profile.cuda or profile.metal):
        return False, 'SadTalker needs a GPU here (set presenter.sadtalker = "on" to force)'
    return True, "SadTalker"


def sadtalker_estimate(duration: float, profile: HardwareProfile) -> float:
    """Rough seconds: reports range from minutes (GPU) to tens of minutes (CPU) per minute."""
    return duration * (2.0 if (profile.cuda or profile.metal) else 30.0) + 20.0


def sadtalker_python(folder: Path) -> str:
    for candidate in (folder / "venv" / "bin" / "python", folder / ".venv" / "bin" / "python"):
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def sadtalker_command(
    folder: Path, audio: Path, image: Path, result_dir: Path, quality: Quality
) -> list[str]:
    size = "512" if quality.name == "high" else "256"
    command = [
        sadtalker_python(folder), str(folder / "inference.py"),
        "--driven_audio", str(audio), "--source_image", str(image),
        "--result_dir", str(result_dir), "--size", size,
        "--preprocess", "full", "--still",
    ]  # fmt: skip
    if quality.name == "high":
        command += ["--enhancer", "gfpgan"]
    return command


async def run_sadtalker(
    cfg: PresenterConfig,
    audio: Path,
    image: Path,
    work: Path,
    quality: Quality,
    busy: Callable[[], None] | None = None,
) -> Path:
    """Run SadTalker's inference.py in its checkout; the MP4 it wrote."""
    folder = Path(cfg.sadtalker_dir).resolve()
    result_dir = work / "sadtalker"
    result_dir.mkdir(exist_ok=True)
    command = sadtalker_command(folder, audio.resolve(), image.resolve(), result_dir, quality)
    started = time.time()
    log.info("sadtalker_started", size=command[command.index("--size") + 1])
    await _run_in(folder, command, cfg.sadtalker_timeout, busy)
    videos = sorted(
        (p for p in result_dir.rglob("*.mp4") if p.stat().st_mtime >= started - 1),
        key=lambda p: p.stat().st_mtime,
    )
    if not videos:
        raise ToolError("SadTalker wrote no video.", " ".join(command), 0, "")
    log.info("sadtalker_finished", seconds=round(time.time() - started, 1))
    return videos[-1]


async def _run_in(
    folder: Path, command: list[str], timeout: float, busy: Callable[[], None] | None = None
) -> None:
    """procs.run with a working directory (SadTalker loads its checkpoints relatively)."""
    wrapper = [
        sys.executable, "-c",
        "import os, sys; os.chdir(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])",
        str(folder), *command,
    ]  # fmt: skip
    await procs.run(wrapper, timeout=timeout, what="SadTalker", busy=busy)
