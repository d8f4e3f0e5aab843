"""The presenter half for scripts: a SadTalker talking head when it is installed and
allowed, otherwise the presenter's picture with slow, gentle motion and a live waveform
of the speech under it, so the left half is never a frozen frame.

The picture is `<stem>.png/.jpg` beside the script, else `presenter.image`, else a
generated neutral silhouette. Faces in it are found with the same Haar detector as for
videos, and the motion is centred on the face.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from presgend import logs, tools
from presgend.config import PresenterConfig
from presgend.errors import JobError, ToolError
from presgend.hardware import HardwareProfile, Quality
from presgend.pipeline import face, probe

log = logs.get("presgend.presenter")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
PRESENTER_FPS = 25
WAVE_COLOUR = "0x2f6fdf"


@dataclass(frozen=True)
class Picture:
    path: Path
    source: str  # sidecar | config | default
    width: int
    height: int
    face: face.Box | None


def find_picture(script: Path, cfg: PresenterConfig) -> tuple[Path | None, str]:
    for suffix in IMAGE_SUFFIXES:
        for candidate in (script.with_suffix(suffix), script.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate, "sidecar"
    if cfg.image:
        path = Path(cfg.image)
        if not path.is_file():
            raise JobError(
                f"The presenter image {cfg.image} (presenter.image) does not exist.",
                phase="presenter",
            )
        return path, "config"
    return None, "default"


def load_picture(script: Path, cfg: PresenterConfig, work: Path) -> Picture:
    """The presenter picture, upright and in RGB, saved into `work`; faces found."""
    path, source = find_picture(script, cfg)
    out = work / "presenter.png"
    if path is None:
        image = default_picture()
    else:
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


def default_picture(size: tuple[int, int] = (1080, 1080)) -> Image.Image:
    """A calm, neutral silhouette on a soft gradient."""
    w, h = size
    top, bottom = np.array([226, 232, 240]), np.array([176, 190, 210])
    ramp = np.linspace(0, 1, h)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp).repeat(w, axis=1).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    shape = Image.new("L", size, 0)
    draw = ImageDraw.Draw(shape)
    cx = w // 2
    draw.ellipse([cx - w * 0.14, h * 0.22, cx + w * 0.14, h * 0.56], fill=255)  # head
    draw.ellipse([cx - w * 0.34, h * 0.62, cx + w * 0.34, h * 1.25], fill=255)  # shoulders
    shape = shape.filter(ImageFilter.GaussianBlur(2))
    image.paste(Image.new("RGB", size, (96, 112, 138)), mask=shape)
    return image


async def ken_burns(
    picture: Picture,
    speech_wav: Path,
    duration: float,
    panel: tuple[int, int],
    out: Path,
) -> Path:
    """A panel-sized video of the picture, slowly zooming and drifting around the face,
    with the speech's waveform along the bottom."""
    pw, ph = panel
    # the panel-shaped region around the face (the same framing rule as for videos)
    info = _still_info(picture)
    box = face.crop_around(info, panel, picture.face)
    with Image.open(picture.path) as image:
        region = image.crop((box.x, box.y, box.x + box.w, box.y + box.h))
        margin = 1.12  # room for the zoom
        region.resize((_even(pw * margin), _even(ph * margin)), Image.Resampling.LANCZOS).save(
            out.with_suffix(".still.png")
        )
    still = out.with_suffix(".still.png")
    wave_h = max(40, ph // 7)
    zoom = "(1.06-0.05*cos(2*PI*t/24))"  # breathes between 1.01 and 1.11 over 24 s
    graph = (
        f"[0:v]scale=w='2*trunc({pw}*{zoom}/2)':h='2*trunc({ph}*{zoom}/2)':eval=frame,"
        f"crop={pw}:{ph}:x='(iw-{pw})/2+(iw-{pw})/2*0.6*sin(2*PI*t/37)':"
        f"y='(ih-{ph})/2+(ih-{ph})/2*0.4*sin(2*PI*t/29)',setsar=1[pic];"
        f"[1:a]apad,aformat=channel_layouts=mono,showwaves=s={pw}x{wave_h}:mode=cline:"
        f"rate={PRESENTER_FPS}:colors={WAVE_COLOUR}:scale=sqrt,format=yuva420p,"
        f"colorchannelmixer=aa=0.85[wave];"
        f"[pic]drawbox=x=0:y={ph - wave_h}:w={pw}:h={wave_h}:color=white@0.55:t=fill[bg];"
        f"[bg][wave]overlay=0:{ph - wave_h}:shortest=1,format=yuv420p[v]"
    )
    await tools.run(
        [
            tools.find("ffmpeg"), "-v", "error", "-nostdin", "-y",
            "-loop", "1", "-framerate", str(PRESENTER_FPS), "-t", f"{duration:.3f}",
            "-i", str(still), "-i", str(speech_wav),
            "-filter_complex", graph, "-map", "[v]", "-an",
            "-t", f"{duration:.3f}", "-r", str(PRESENTER_FPS),
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p",
            str(out),
        ],
        timeout=max(120.0, duration * 4),
        what="ffmpeg (presenter)",
    )  # fmt: skip
    return out


def _still_info(picture: Picture) -> probe.MediaInfo:
    return probe.MediaInfo(
        path=picture.path, duration=0.0, width=picture.width, height=picture.height,
        rotation=0, fps=0.0, variable_frame_rate=False, pix_fmt="rgb24", video_codec="png",
        has_audio=False, audio_codec="", audio_channels=0, audio_duration=None,
        video_duration=None, frame_count=1,
    )  # fmt: skip


def _even(value: float) -> int:
    return max(2, math.ceil(value) // 2 * 2)


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
    cfg: PresenterConfig, audio: Path, image: Path, work: Path, quality: Quality
) -> Path:
    """Run SadTalker's inference.py in its checkout; the MP4 it wrote."""
    folder = Path(cfg.sadtalker_dir).resolve()
    result_dir = work / "sadtalker"
    result_dir.mkdir(exist_ok=True)
    command = sadtalker_command(folder, audio.resolve(), image.resolve(), result_dir, quality)
    started = time.time()
    log.info("sadtalker_started", size=command[command.index("--size") + 1])
    await _run_in(folder, command, cfg.sadtalker_timeout)
    videos = sorted(
        (p for p in result_dir.rglob("*.mp4") if p.stat().st_mtime >= started - 1),
        key=lambda p: p.stat().st_mtime,
    )
    if not videos:
        raise ToolError("SadTalker wrote no video.", " ".join(command), 0, "")
    log.info("sadtalker_finished", seconds=round(time.time() - started, 1))
    return videos[-1]


async def _run_in(folder: Path, command: list[str], timeout: float) -> None:
    """tools.run with a working directory (SadTalker loads its checkpoints relatively)."""
    wrapper = [
        sys.executable, "-c",
        "import os, sys; os.chdir(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])",
        str(folder), *command,
    ]  # fmt: skip
    await tools.run(wrapper, timeout=timeout, what="SadTalker")
