"""`<stem>.preview.jpg`: one picture to judge a result by without playing it.

A presenter frame from the finished video, then every slide as it looks when complete,
each labelled with its number and the time it appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from presgend.core import procs
from presgend.pipeline.text import slides
from presgend.pipeline.video.face import Box

THUMB_HEIGHT = 360
LABEL_HEIGHT = 44
GAP = 12
BACKGROUND = (32, 36, 44)
LABEL = (226, 230, 236)


@dataclass(frozen=True)
class Tile:
    png: Path
    label: str


def clock(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"


async def presenter_frame(video: Path, at: float, out: Path) -> Path | None:
    """The left half of the output at `at` seconds, or None if ffmpeg cannot give it."""
    args = [
        *procs.ffmpeg(),
        "-ss",
        f"{max(0.0, at):.3f}",
        "-i",
        str(video.absolute()),
        "-frames:v",
        "1",
        "-vf",
        "crop=iw/2:ih:0:0",
        str(out.absolute()),
    ]
    result = await procs.run(args, timeout=60, check=False, what="preview frame")
    return out if result.returncode == 0 and out.is_file() else None


def grid(count: int) -> tuple[int, int]:
    """Columns and picture height for `count` tiles: a 3-wide sheet of 360 px pictures
    for a short talk; for a long one more columns of smaller pictures, so a 30-minute
    talk's 30-odd slides still fit one sheet a screen can show, each label readable."""
    if count <= 9:
        return 3, THUMB_HEIGHT
    if count <= 16:
        return 4, 300
    if count <= 30:
        return 5, 250
    return 6, 220


async def source_frame(video: Path, at: float, box: Box, out: Path) -> Path | None:
    """A frame of the recording at `at` seconds, cropped to the presenter's box."""
    crop = f"crop={box.w}:{box.h}:{box.x}:{box.y}"
    args = [*procs.ffmpeg(), "-ss", f"{max(0.0, at):.3f}", "-i", str(video.absolute()),
            "-frames:v", "1", "-vf", crop, str(out.absolute())]  # fmt: skip
    result = await procs.run(args, timeout=60, check=False, what="preview frame")
    return out if result.returncode == 0 and out.is_file() else None


def contact_sheet(tiles: list[Tile], out: Path) -> Path:
    """Tiles in rows (`grid`), each scaled to one height, a label under each."""
    columns, height = grid(len(tiles))
    thumbs = [_thumb(t.png, height) for t in tiles]
    width = max(t.width for t in thumbs) if thumbs else height
    rows = (len(thumbs) + columns - 1) // columns
    cell_w, cell_h = width + GAP, height + LABEL_HEIGHT + GAP
    sheet = Image.new("RGB", (columns * cell_w + GAP, rows * cell_h + GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = slides.font(("Inter-Medium.otf", "Inter-Regular.otf", "DejaVuSans.ttf"), 18)
    for n, (tile, thumb) in enumerate(zip(tiles, thumbs, strict=True)):
        x = GAP + (n % columns) * cell_w
        y = GAP + (n // columns) * cell_h
        sheet.paste(thumb, (x, y))
        label = _fit(draw, tile.label, font, thumb.width - 8)
        draw.text((x + 4, y + height + 10), label, font=font, fill=LABEL)
    sheet.save(out, "JPEG", quality=85, optimize=True)
    return out


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
         width: int) -> str:  # fmt: skip
    """The label, shortened at a word to fit under its picture."""
    words = text.split()
    while len(words) > 1 and draw.textlength(" ".join(words), font=font) > width:
        words = words[:-1]
    return " ".join(words)


def _thumb(png: Path, height: int) -> Image.Image:
    with Image.open(png) as image:
        rgb = image.convert("RGB")
    width = round(rgb.width * height / rgb.height)
    thumb: Image.Image = rgb.resize((width, height), Image.Resampling.LANCZOS)
    return thumb
