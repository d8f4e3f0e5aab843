"""Phase 1 framing: find the presenter's face and choose one steady crop box.

A talking head barely moves, so the crop is locked to the median face box; only a
large move that lasts (several samples in a row) starts a new, equally steady box.
Jitter is never followed.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from presgend import tools
from presgend.pipeline.probe import MediaInfo

SAMPLES = 12
DETECT_WIDTH = 480
MOVE_FRACTION = 0.6  # of the face's size, before a move counts as large
MOVE_SAMPLES = 3  # consecutive samples a move must last
HEADROOM = 0.42  # the face's centre sits this far down the panel


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class CropSegment:
    start: float
    box: Box
    cut: bool = False  # starts at a cut between shots: switch at once, no ramp


@dataclass(frozen=True)
class Framing:
    detected: bool
    face: Box | None
    crop: list[CropSegment]
    method: str
    samples: int
    hits: int
    notes: list[str] = field(default_factory=list)  # what the report should warn about


_cascade = None


def _detector() -> "cv2.CascadeClassifier":  # type: ignore[name-defined]  # noqa: F821, UP037
    global _cascade
    if _cascade is None:
        import cv2

        cascades = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        path = cascades / "haarcascade_frontalface_default.xml"
        _cascade = cv2.CascadeClassifier(str(path))
        if _cascade.empty():
            raise RuntimeError(f"OpenCV's Haar cascade is missing at {path}")
    return _cascade


def detect_faces(gray: np.ndarray) -> list[Box]:
    import cv2

    height = gray.shape[0]
    min_size = max(24, height // 10)
    found = _detector().detectMultiScale(
        cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size)
    )
    return [Box(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


async def sample_frame(info: MediaInfo, t: float, width: int) -> np.ndarray | None:
    """One grey frame at `t` seconds, scaled to `width`, rotation applied."""
    height = round(info.height * width / info.width / 2) * 2
    args = [
        tools.find("ffmpeg"),
        "-nostdin",
        "-v",
        "error",
        "-ss",
        f"{t:.3f}",
        "-i",
        str(info.path.absolute()),
        "-frames:v",
        "1",
        "-an",
        "-vf",
        f"scale={width}:{height}",
        "-pix_fmt",
        "gray",
        "-f",
        "rawvideo",
        "-",
    ]
    result = await tools.run(args, timeout=60, check=False, what="frame sampling")
    if result.returncode != 0 or len(result.stdout) < width * height:
        return None
    return np.frombuffer(result.stdout[: width * height], np.uint8).reshape(height, width)


async def find_framing(info: MediaInfo, panel: tuple[int, int]) -> Framing:
    width = min(DETECT_WIDTH, info.width)
    times = sample_times(info.duration, SAMPLES)
    limit = asyncio.Semaphore(2)

    async def one(t: float) -> np.ndarray | None:
        async with limit:
            return await sample_frame(info, t, width)

    frames = await asyncio.gather(*(one(t) for t in times))
    scale = info.width / width
    found = [[_scaled(b, scale) for b in detect_faces(f)] if f is not None else [] for f in frames]
    return plan_framing(info, panel, pick_faces(list(zip(times, found, strict=True))))


def sample_times(duration: float, count: int) -> list[float]:
    if duration <= 0.5:
        return [0.0]
    step = duration / (count + 1)
    return [round(step * (i + 1), 3) for i in range(count)]


def _scaled(b: Box, scale: float) -> Box:
    return Box(round(b.x * scale), round(b.y * scale), round(b.w * scale), round(b.h * scale))


def pick_faces(samples: list[tuple[float, list[Box]]]) -> list[tuple[float, Box | None]]:
    """One box per sample: the one that most other samples agree with.

    Haar finds the odd false face (a patch of shirt, a poster); the real presenter is
    the box that recurs across samples. Ties go to the larger box.
    """
    every = [box for _, boxes in samples for box in boxes]

    def support(box: Box) -> int:
        return sum(1 for other in every if not _far(box, other))

    return [
        (t, max(boxes, key=lambda b: (support(b), b.w * b.h)) if boxes else None)
        for t, boxes in samples
    ]


def plan_framing(
    info: MediaInfo, panel: tuple[int, int], samples: list[tuple[float, Box | None]]
) -> Framing:
    """Turn per-sample detections into steady crop segments (pure)."""
    hits = [(t, b) for t, b in samples if b is not None]
    if not hits:
        centre = crop_around(info, panel, None)
        return Framing(False, None, [CropSegment(0.0, centre)], "centre", len(samples), 0)
    groups = _steady_groups(hits)
    segments = []
    for i, group in enumerate(groups):
        face = _median_box([b for _, b in group])
        start = 0.0 if i == 0 else group[0][0]
        segments.append(CropSegment(start, crop_around(info, panel, face)))
    face = _median_box([b for _, b in groups[0]])
    return Framing(True, face, segments, "haar", len(samples), len(hits))


def _steady_groups(hits: list[tuple[float, Box]]) -> list[list[tuple[float, Box]]]:
    groups: list[list[tuple[float, Box]]] = [[]]
    pending: list[tuple[float, Box]] = []
    for t, box in hits:
        anchor = _median_box([b for _, b in groups[-1]]) if groups[-1] else box
        if _far(anchor, box):
            pending.append((t, box))
            if len(pending) >= MOVE_SAMPLES and not _far(pending[0][1], pending[-1][1]):
                groups.append(pending)
                pending = []
        else:
            groups[-1].append((t, box))
            pending = []
    return [g for g in groups if g] or [hits]


def _far(a: Box, b: Box) -> bool:
    size = max(a.w, a.h, 1)
    return max(abs(a.cx - b.cx), abs(a.cy - b.cy)) > MOVE_FRACTION * size


def _median_box(boxes: list[Box]) -> Box:
    cx = statistics.median(b.cx for b in boxes)
    cy = statistics.median(b.cy for b in boxes)
    w = statistics.median(b.w for b in boxes)
    h = statistics.median(b.h for b in boxes)
    return Box(round(cx - w / 2), round(cy - h / 2), round(w), round(h))


def crop_around(info: MediaInfo, panel: tuple[int, int], face: Box | None) -> Box:
    """The largest sensible panel-shaped box with the face centred and some headroom."""
    aspect = panel[0] / panel[1]
    h = float(info.height) if face is None else min(info.height, face.h * 3.2)
    w = h * aspect
    if w > info.width:
        w = float(info.width)
        h = w / aspect
    w_i, h_i = _even(w), _even(h)
    cx = info.width / 2 if face is None else face.cx
    cy = info.height / 2 if face is None else face.cy + (0.5 - HEADROOM) * h_i
    x = int(min(max(cx - w_i / 2, 0), info.width - w_i))
    y = int(min(max(cy - h_i / 2, 0), info.height - h_i))
    return Box(x - x % 2, y - y % 2, w_i, h_i)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)
