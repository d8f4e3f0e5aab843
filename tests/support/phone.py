"""A phone recording as people film them: portrait, stored landscape with a rotation flag,
padded with black bands above and below, a dark room around a lit face, a face that sits
off-centre in some shots, and few keyframes (a phone encoder's long GOP)."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

WIDTH, HEIGHT = 360, 640  # as displayed (portrait)
BAND = 80  # black rows above and below the picture
FPS = 30


@dataclass(frozen=True)
class Phone:
    video: Path
    shots: list[tuple[float, float]]  # start, face centre x as displayed (source pixels)
    duration: float
    band: int = BAND


def frame(face_png: Path, face_x: int) -> Image.Image:
    """One displayed frame: a dark, textured room with the face lit at `face_x`."""
    rng = np.random.default_rng(7)
    room = rng.normal(14, 4, (HEIGHT - 2 * BAND, WIDTH)).clip(4, 26).astype(np.uint8)
    picture = Image.fromarray(room).convert("RGB").filter(ImageFilter.GaussianBlur(1.2))
    with Image.open(face_png) as image:
        face = image.convert("RGB").crop((130, 20, 330, 260)).resize((200, 240))
    picture.paste(face, (face_x - 100, 150))
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 0))
    canvas.paste(picture, (0, BAND))
    return canvas


def make_phone_recording(
    out: Path, face_png: Path, speech: Path, shots: list[tuple[float, int]]
) -> Phone:
    """`shots`: (start s, face centre x) each; the sound is `speech`. The frames are
    stored rotated 90° (landscape) with the display rotation in the file, as phones do."""
    duration = float(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
             str(speech)], capture_output=True, text=True, check=True,
        ).stdout
    )
    with tempfile.TemporaryDirectory() as tmp:
        listing = []
        ends = [start for start, _ in shots[1:]] + [duration]
        for i, ((start, x), end) in enumerate(zip(shots, ends, strict=True)):
            # stored landscape: the displayed frame turned a quarter to the left
            frame(face_png, x).transpose(Image.Transpose.ROTATE_270).save(f"{tmp}/s{i}.png")
            listing.append(f"file '{tmp}/s{i}.png'\nduration {end - start:.3f}")
        listing.append(f"file '{tmp}/s{len(shots) - 1}.png'")
        (Path(tmp) / "list.txt").write_text("\n".join(listing) + "\n")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", f"{tmp}/list.txt",
             "-i", str(speech), "-vf", f"fps={FPS},format=yuv420p", "-c:v", "libx264",
             "-preset", "ultrafast", "-g", "600", "-sc_threshold", "0", "-t", f"{duration:.3f}",
             "-c:a", "aac", f"{tmp}/plain.mp4"],
            check=True,
        )  # fmt: skip
        # the rotation flag: ffmpeg 5.1 keeps it only when copying
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", f"{tmp}/plain.mp4", "-c", "copy",
             "-metadata:s:v:0", "rotate=90", str(out)],
            check=True,
        )  # fmt: skip
    return Phone(out, [(float(s), float(x)) for s, x in shots], duration)
