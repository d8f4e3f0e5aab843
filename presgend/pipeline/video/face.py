"""The probe phase's framing: find the presenter's face and choose one steady crop box per shot.

A talking head barely moves, so the crop is locked to the median face box; only a
large move that lasts (several samples in a row) starts a new, equally steady box.
Jitter is never followed. A recording with cuts gets its own box for each shot, switched
on the cut's frame. Black borders (letterbox, pillarbox) seen in the sampled frames are
kept out of the crop.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from presgend.core import aio, procs
from presgend.pipeline.video.probe import MediaInfo

SAMPLES = 12
DETECT_WIDTH = 480
MOVE_FRACTION = 0.6  # of the face's size, before a move counts as large
MOVE_SAMPLES = 3  # consecutive samples a move must last
HEADROOM = 0.42  # the face's centre sits this far down the panel
BORDER_LUMA = 24  # a bar's pixels are darker than this in every sample
CUT_DIFF = 28.0  # mean luma change (0-255) between two frames that makes a cut
CUT_SIZE = (64, 36)
SAMPLES_PER_SHOT = 3
MANY_SHOTS = 60  # from this many cuts on, one sample a shot
KEY_GAP = 0.5  # seconds between keyframes kept (an all-intra file is all keyframes)


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
    height = _detect_height(info, width)
    args = [
        *procs.ffmpeg(),
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
    result = await procs.run(args, timeout=60, check=False, what="frame sampling")
    if result.returncode != 0 or len(result.stdout) < width * height:
        return None
    return np.frombuffer(result.stdout[: width * height], np.uint8).reshape(height, width)


async def find_framing(info: MediaInfo, panel: tuple[int, int]) -> Framing:
    """One pass over the keyframes gives the cuts, the borders and most face samples;
    only sample times with no keyframe near them (short clips, long GOPs) are sought."""
    width = min(DETECT_WIDTH, info.width)
    # the packets' sizes are read beside the keyframes' decode: both read the whole file
    keys, sizes = await aio.together(
        _frames(info, (width, _detect_height(info, width)), keyframes_only=True),
        packet_sizes(info),
    )
    cuts = await find_cuts(info, keys, sizes)
    times = sorted(set(sample_times(info.duration, SAMPLES)) | set(shot_samples(info, cuts)))
    samples = await _samples(info, times, keys, cuts, width)
    # in a thread: face detection takes 40 ms a frame and more on a busy machine, and
    # the event loop beats the queue's heartbeat and serves the HTTP API meanwhile
    return await asyncio.to_thread(_framing_of, info, panel, samples, cuts, width)


def _framing_of(
    info: MediaInfo,
    panel: tuple[int, int],
    samples: list[tuple[float, np.ndarray | None]],
    cuts: list[float],
    width: int,
) -> Framing:
    frames = [f for _, f in samples if f is not None]
    scale = info.width / width
    area = active_area(frames, scale, info)
    faces = Detections()
    found = [(t, [_scaled(b, scale) for b in faces.of(f)] if f is not None else [])
             for t, f in samples]  # fmt: skip
    return plan_framing(info, panel, pick_faces(found), cuts=cuts, area=area)


SAME_PICTURE = 8.0  # mean luma difference (0-255) of two thumbnails showing one picture (a cut: 28)


class Detections:
    """Faces found in frames, each picture looked at once: a frame that looks like one
    already seen (its 64x36 thumbnail within SAME_PICTURE) has that frame's faces. An
    edited talk of hundreds of shots from two or three cameras shows few pictures; a face
    search costs 35 ms a frame and the comparison a few microseconds."""

    def __init__(self) -> None:
        self.seen: list[tuple[np.ndarray, list[Box]]] = []

    def of(self, frame: np.ndarray) -> list[Box]:
        thumb = _shrink(frame)
        for other, boxes in self.seen:
            if _diff(thumb, other) < SAME_PICTURE:
                return boxes
        boxes = detect_faces(frame)
        self.seen.append((thumb, boxes))
        return boxes


async def _samples(
    info: MediaInfo,
    times: list[float],
    keys: list[tuple[float, np.ndarray]],
    cuts: list[float],
    width: int,
) -> list[tuple[float, np.ndarray | None]]:
    """A frame for each wanted time: a keyframe of the same shot within one sample
    interval of it, else one sought at that time (a seek decodes up to a whole GOP, a
    keyframe only itself). Within one interval, the face is looked at no further from a
    sample's time than the samples are apart; two samples may share a keyframe."""
    near = max(1.0, info.duration / (SAMPLES + 1))
    chosen: dict[float, np.ndarray | None] = {}
    missing = []
    for t in times:
        # a keyframe on a cut opens the new shot (cut times are rounded to the millisecond)
        same_shot = [k for k in keys if bisect.bisect(cuts, k[0] + 2e-3) == bisect.bisect(cuts, t)]
        key = min(same_shot, key=lambda k: abs(k[0] - t), default=None)
        if key is not None and abs(key[0] - t) <= near:
            chosen[key[0]] = key[1]
        else:
            missing.append(t)
    chosen.update(await _sought(info, missing, [k[0] for k in keys], width))
    return sorted(chosen.items(), key=lambda item: item[0])


async def _sought(
    info: MediaInfo, times: list[float], keys: list[float], width: int
) -> dict[float, np.ndarray | None]:
    """The frames at `times`: each sought on its own (a seek decodes from the keyframe
    before it), or all picked out of one decode of the stretch that holds them, whichever
    decodes fewer seconds of video. A short clip with one keyframe is decoded once, not
    once per sample; a long one with keyframes every few seconds is sought."""
    if not times:
        return {}

    def before(t: float) -> float:
        i = bisect.bisect_right(keys, t)
        return keys[i - 1] if i else 0.0

    start, end = before(min(times)), max(times)
    if end - start <= sum(t - before(t) for t in times):
        frame = 1.0 / info.fps if info.fps else 0.04
        picked = await _frames(
            info, (width, _detect_height(info, width)), pick=times, start=start, end=end + 2 * frame
        )
        return {t: next((f for ft, f in picked if ft >= t - frame / 2), None) for t in times}
    limit = asyncio.Semaphore(2)

    async def seek(t: float) -> np.ndarray | None:
        async with limit:
            return await sample_frame(info, t, width)

    return dict(zip(times, await asyncio.gather(*(seek(t) for t in times)), strict=True))


def _detect_height(info: MediaInfo, width: int) -> int:
    return round(info.height * width / info.width / 2) * 2


def shot_samples(info: MediaInfo, cuts: list[float]) -> list[float]:
    """A few sample times inside every shot, so each shot's face is seen; one each when
    there are many (shots of a few seconds, whose framing a move cannot change)."""
    if not cuts:
        return []  # one shot: the evenly spread samples see it
    each = SAMPLES_PER_SHOT if len(cuts) < MANY_SHOTS else 1
    times = []
    for a, b in itertools.pairwise([0.0, *cuts, info.duration]):
        step = (b - a) / (each + 1)
        times += [round(a + step * (k + 1), 3) for k in range(each)]
    return times


def active_area(frames: list[np.ndarray], scale: float, info: MediaInfo) -> Box | None:
    """The picture inside black bars (in source pixels), or None when there are none.

    A bar is a band of rows (or columns) at an edge that is black, flat along its length
    and the same in every sampled frame, and that ends at an edge: the picture starts
    with a step up. A dark studio, dark all round but textured and fading into the
    light, has none. A few pixels more are taken off each bar so no dark edge survives
    scaling."""
    if not frames:
        return None
    stack = np.stack(frames).astype(np.float32)  # frames, rows, columns
    h, w = stack.shape[1:]
    # each line's statistics once per direction, read from both of its ends
    by_row, by_column = _Lines.of(stack), _Lines.of(stack.transpose(0, 2, 1))
    rows, columns = _black_pair(by_row), _black_pair(by_column)
    if rows and columns:  # black all round: a vignette or a dark room, not two pairs of bands
        rows = columns = None
    top, bottom = rows or (_bar(by_row), _bar(by_row.reversed()))
    left, right = columns or (_bar(by_column), _bar(by_column.reversed()))
    if top + bottom >= h or left + right >= w:
        return None  # black frames: nothing to find a picture in
    if max(top, bottom) < h * 0.01 and max(left, right) < w * 0.01:
        return None

    def edge(n: int) -> int:
        return 0 if n == 0 else _even(n * scale + 3)

    x, y = edge(left), edge(top)
    return Box(x, y, _even(info.width - x - edge(right)), _even(info.height - y - edge(bottom)))


BAR_FLAT = 3.0  # luma: a bar's line varies less than this along its length
BLACK_LUMA = 8.0  # a band a player or phone adds is black: luma 0-2 once decoded
BLACK_FLAT = 1.5  # and flat to within compression noise
PAIR_SLACK = 4  # lines: a letterbox's bands are one size, give or take an odd line


@dataclass(frozen=True)
class _Lines:
    """What the bar tests need of each line (a row or a column) of the sampled frames,
    in order from one edge: its 99th percentile (the most of any frame), its spread along
    its length (the most of any frame), its mean in each frame, and how far that mean
    moves between frames. Computed once for both edges: the percentile sorts every line,
    and was taken eight times over."""

    p99: np.ndarray  # lines
    spread: np.ndarray  # lines
    means: np.ndarray  # frames, lines
    swing: np.ndarray  # lines

    @staticmethod
    def of(lines: np.ndarray) -> _Lines:  # frames, lines, pixels
        means = lines.mean(axis=2)
        return _Lines(np.percentile(lines, 99, axis=2).max(axis=0),
                      lines.std(axis=2).max(axis=0), means,
                      means.max(axis=0) - means.min(axis=0))  # fmt: skip

    def reversed(self) -> _Lines:
        """The same lines, from the other edge."""
        return _Lines(self.p99[::-1], self.spread[::-1], self.means[:, ::-1], self.swing[::-1])


def _black_pair(lines: _Lines) -> tuple[int, int] | None:
    """A pair of bands at the start and the end of `lines`, or None (then each side is a
    bar only where it ends at a step up, `_bar`).

    Letterbox and pillarbox bands come in pairs: black, full length, the same in every
    frame, and of one size on both sides. Where both sides have such a black run, that is
    the pair; a side whose run goes on into a black scene is cut back to its twin's size.
    This needs no step into the picture, so a band that adjoins a dark scene is cropped
    too (a step was all the old rule knew, and it found none there)."""
    start, end = _black(lines), _black(lines.reversed())
    if not (start and end):
        return None
    if abs(start - end) > PAIR_SLACK:
        start = end = min(start, end)
    return start, end


def _black(lines: _Lines) -> int:
    """How many lines from the start are black, flat and unchanging in every frame (0
    when fewer than 1% of them)."""
    band = (lines.p99 <= BLACK_LUMA) & (lines.spread <= BLACK_FLAT) & (lines.swing <= BLACK_FLAT)
    n = int(np.argmin(band)) if not band.all() else len(band)
    return n if n >= max(2, len(band) // 100) and n < len(band) else 0


BAR_STEADY = 3.0  # luma: and from one sampled frame to the next
BAR_STEP = 10.0  # luma: the picture starts this much brighter than the bar


def _bar(lines: _Lines) -> int:
    """How many lines from the start of `lines` form a bar."""
    bar = (lines.p99 <= BORDER_LUMA) & (lines.spread <= BAR_FLAT) & (lines.swing <= BAR_STEADY)
    n = int(np.argmin(bar)) if not bar.all() else len(bar)
    if n == 0 or n == len(bar):
        return n
    means = lines.means
    inside = means[:, n : n + 3].mean(axis=1)
    edge = means[:, max(0, n - 3) : n].mean(axis=1)
    return n if float(np.median(inside - edge)) >= BAR_STEP else 0


@dataclass(frozen=True)
class _Stretch:
    """The frames between two kept keyframes (or the last one and the end)."""

    t0: float
    t1: float
    changed: bool  # its keyframes differ: a cut (or a fade) lies between them
    dark: bool


async def find_cuts(
    info: MediaInfo,
    keys: list[tuple[float, np.ndarray]],
    sizes: list[tuple[float, int, bool]] | None = None,
) -> list[float]:
    """Hard cuts between shots, each placed on its frame.

    Encoders put a keyframe at or after each cut, so a stretch between two keyframes that
    differ a lot holds one; a phone's encoder keeps a keyframe only every few seconds, so
    a long stretch may hold several whatever its ends look like (A, B, back to A). Where
    the cuts lie is read first from the sizes of the packets (one demux of every such
    stretch, nothing decoded): a frame coded from a new picture is many times the size of
    the frames around it, and when none stands out and the frames before the later
    keyframe barely changed, the cut is that keyframe (what encoders do at a scene
    change). Only a stretch the sizes leave in doubt (a fade, a pan, an all-intra file, a
    cut between reordered B-frames) is decoded and compared frame by frame; so the cost
    follows the length, not the cuts. `sizes`: the packets' (`packet_sizes`), when read
    already."""
    small = [(t, _shrink(f)) for t, f in keys]
    stretches = [
        _Stretch(t0, t1, _diff(a, b) >= CUT_DIFF, min(a.mean(), b.mean()) < DARK_LUMA)
        for (t0, a), (t1, b) in itertools.pairwise(small)
    ]
    if small:  # after the last keyframe, to the end
        stretches.append(_Stretch(small[-1][0], info.duration, False, False))
    if sizes is None:
        sizes = await packet_sizes(info) if stretches else []  # the whole file: demuxed only
    cuts: list[float] = []
    for s in stretches:
        found = cut_from_sizes(
            sizes, s.t0, s.t1, reordered=info.b_frames, dark=s.dark, changed=s.changed
        )
        if found is None:
            found = _jumps(await _frames(info, CUT_SIZE, start=s.t0, end=s.t1 + 0.05))
        cuts += [round(at, 3) for at in found]
    return sorted(c for c in set(cuts) if 0.5 < c < info.duration - 0.5)


def _jumps(stretch: list[tuple[float, np.ndarray]]) -> list[float]:
    """The frames of a decoded stretch that differ from the one before like a cut."""
    found: list[float] = []
    for (_, x), (t, y) in itertools.pairwise(stretch):
        if _diff(x, y) >= CUT_DIFF and (not found or t - found[-1] >= MIN_SHOT):
            found.append(t)
    return found


SPIKE = 5.0  # a frame this many times the stretch's usual large frame starts a new picture
LONG_GOP = 4.0  # seconds between keyframes past which a stretch may hide cuts of its own
MIN_SHOT = 0.3  # seconds: two cuts nearer than this are one
STILL = 0.1  # frames under this fraction of the keyframe's size barely change the picture
DARK_LUMA = 40.0  # a keyframe this dark may end or start a fade: its stretch is decoded


def cut_from_sizes(
    packets: list[tuple[float, int, bool]],
    t0: float,
    t1: float,
    *,
    reordered: bool = False,
    dark: bool = False,
    changed: bool = True,
) -> list[float] | None:
    """The cuts between keyframe `t0` and `t1` (a keyframe, or the end) as the packet
    sizes (time, bytes, keyframe) show them, or None when they cannot tell.

    Each frame that stands out is a cut. With B-frames a big frame may follow its cut by
    a frame or two, so in a short stretch only a cut on the keyframe is read (the decoder
    finds the frame); in a long one, decoding would cost seconds of video for that
    frame or two, so the big frame is taken. A stretch whose keyframes look alike
    (`changed` False) and where nothing stands out has no cut."""
    inside = [p for p in packets if t0 + 1e-3 < p[0] <= t1 + 1e-3]
    plain = [p for p in inside if not p[2] and p[0] < t1 - 1e-3]
    key = next((size for t, size, is_key in inside if is_key and abs(t - t1) < 2e-3), None)
    if len(plain) < 3:
        return None  # all-intra, or too few frames to judge
    # the 90th percentile: a predicted (P) frame's size, which B-frames stay far under
    usual = max(float(np.percentile([size for _, size, _ in plain], 90)), 1.0)
    spikes: list[float] = []
    for when, size, _ in plain:
        if size >= SPIKE * usual and (not spikes or when - spikes[-1] >= MIN_SHOT):
            spikes.append(when)
    if spikes:
        # a cut between keyframes that differ is found on its frame by the decoder; one
        # whose keyframes look alike (A, B, back to A) is taken from its big frame, which
        # with B-frames may be a frame or two after it
        return None if reordered and changed and t1 - t0 <= LONG_GOP else spikes
    if not changed:
        return []
    if key is None:
        return None  # no keyframe where one was decoded
    return [t1] if usual <= STILL * key and not dark else None


async def packet_sizes(
    info: MediaInfo, stretches: list[tuple[float, float]] | None = None
) -> list[tuple[float, int, bool]]:
    """(time, bytes, keyframe) of the video packets in `stretches` (None: all of them):
    one ffprobe that demuxes and decodes nothing (some 50,000 packets a second)."""
    args = [procs.find("ffprobe"), "-v", "error", "-select_streams", "v:0"]
    if stretches is not None:
        intervals = ",".join(f"{a:.3f}%{b + 0.05:.3f}" for a, b in stretches)
        args += ["-read_intervals", intervals]
    args += ["-show_entries", "packet=pts_time,size,flags"]
    args += ["-of", "csv=p=0", str(info.path.absolute())]
    result = await procs.run(args, timeout=60 + info.duration / 10, check=False, what="packet scan")
    found = []
    for line in result.stdout.decode("ascii", "replace").splitlines():
        parts = line.split(",")
        with contextlib.suppress(ValueError, IndexError):
            found.append((float(parts[0]), int(parts[1]), "K" in parts[2]))
    return sorted(set(found))


def _shrink(frame: np.ndarray) -> np.ndarray:
    import cv2

    shrunk: np.ndarray = cv2.resize(frame, CUT_SIZE, interpolation=cv2.INTER_AREA)
    return shrunk


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


async def _frames(
    info: MediaInfo,
    size: tuple[int, int],
    *,
    keyframes_only: bool = False,
    start: float = 0.0,
    end: float = 0.0,
    pick: list[float] | None = None,
) -> list[tuple[float, np.ndarray]]:
    """Grey frames of `size` with their times (from showinfo): the keyframes, at most
    `KEY_GAP` apart so an all-keyframe file cannot flood memory; a stretch; or from a
    stretch, the first frame at or after each time in `pick`."""
    w, h = size
    keep = ""
    if keyframes_only:
        keep = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{KEY_GAP})',"
    elif pick:  # times count from the seek point; a frame is picked once for each time
        at = [f"{t - start:.3f}" for t in sorted(pick)]
        first = [f"+gte(t\\,{t})*(isnan(prev_selected_t)+lt(prev_selected_t\\,{t}))" for t in at]
        # summed in brackets: a flat sum of a few hundred is too deep for ffmpeg
        keep = f"select='0{procs.expr_sum(first)}',"
    args = procs.ffmpeg(level="info")
    args += ["-skip_frame", "nokey"] if keyframes_only else ["-ss", f"{start:.3f}"]
    args += ["-i", str(info.path.absolute()), "-an"]
    args += ["-to", f"{end - start:.3f}"] if end else []
    args += ["-vf", f"{keep}scale={w}:{h},format=gray,showinfo", "-fps_mode", "passthrough"]
    args += ["-f", "rawvideo", "-"]
    result = await procs.run(args, timeout=60 + info.duration / 4, check=False, what="frame scan")
    times = [
        float(m) + start  # input seeking restarts the clock at 0
        for m in re.findall(r"pts_time:\s*(-?[\d.]+)", result.stderr.decode("utf-8", "replace"))
    ]
    data = np.frombuffer(result.stdout, np.uint8)
    count = min(len(times), data.size // (w * h))
    frames = data[: count * w * h].reshape(count, h, w)
    return list(zip(times[:count], frames, strict=True))


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
    info: MediaInfo,
    panel: tuple[int, int],
    samples: list[tuple[float, Box | None]],
    *,
    cuts: list[float] | None = None,
    area: Box | None = None,
) -> Framing:
    """Turn per-sample detections into steady crop segments (pure): one box per shot,
    moved within a shot only for a large, lasting move; all of one size."""
    cuts = cuts or []
    notes = _border_note(info, area)
    hits = supported_hits(samples, cuts)
    if not hits:
        centre = crop_around(info, panel, None, area)
        return Framing(False, None, [CropSegment(0.0, centre)], "centre", len(samples), 0, notes)
    size = _median_box([b for _, b in hits])
    segments: list[CropSegment] = []
    edges = [0.0, *cuts, info.duration + 1]
    for shot, (a, b) in enumerate(itertools.pairwise(edges)):
        in_shot = [(t, box) for t, box in hits if a <= t < b]
        for i, group in enumerate(_steady_groups(in_shot) if in_shot else []):
            face = _median_box([box for _, box in group])
            start = a if i == 0 else group[0][0]
            box = crop_around(info, panel, face, area, size)
            segments.append(CropSegment(start, box, cut=shot > 0 and i == 0))
    if cuts:
        notes.append(f"The recording has {len(cuts) + 1} shots; each is framed on its own.")
    face = _median_box([b for _, b in hits])
    segments[0] = CropSegment(0.0, segments[0].box)
    return Framing(True, face, segments, "haar", len(samples), len(hits), notes)


LONE_HIT_SAMPLES = 4  # a shot sampled this often whose face shows in one sample has none


def supported_hits(
    samples: list[tuple[float, Box | None]], cuts: list[float]
) -> list[tuple[float, Box]]:
    """The detections worth framing on: a face found in one sample of a shot sampled
    `LONE_HIT_SAMPLES` times or more is Haar's odd false face (a patch of background
    beside a head the frame cuts off), and framing on it loses the presenter, so that
    shot keeps the centred crop. Found on a real recording: 1 hit in 11 samples."""
    edges = [0.0, *cuts, math.inf]
    kept: list[tuple[float, Box]] = []
    for a, b in itertools.pairwise(edges):
        shot = [(t, box) for t, box in samples if a <= t < b]
        found = [(t, box) for t, box in shot if box is not None]
        if len(found) == 1 and len(shot) >= LONE_HIT_SAMPLES:
            continue
        kept += found
    return kept


def _border_note(info: MediaInfo, area: Box | None) -> list[str]:
    if area is None:
        return []
    sides = {
        "top": area.y,
        "left": area.x,
        "bottom": info.height - area.y - area.h,
        "right": info.width - area.x - area.w,
    }
    found = ", ".join(f"{k} {v} px" for k, v in sides.items() if v)
    return [f"Black borders were found in the recording ({found}) and are cropped away."]


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


def crop_around(
    info: MediaInfo,
    panel: tuple[int, int],
    face: Box | None,
    area: Box | None = None,
    size: Box | None = None,
) -> Box:
    """The largest sensible panel-shaped box inside the picture (`area`, borders left
    out) with the face centred and some headroom; sized by `size`'s face when given, so
    every shot's box has the same size."""
    area = area or Box(0, 0, info.width, info.height)
    aspect = panel[0] / panel[1]
    sizer = size or face
    h = float(area.h) if sizer is None else min(area.h, sizer.h * 3.2)
    w = h * aspect
    if w > area.w:
        w = float(area.w)
        h = w / aspect
    w_i, h_i = _even(w), _even(h)
    cx = area.cx if face is None else face.cx
    cy = area.cy if face is None else face.cy + (0.5 - HEADROOM) * h_i
    x = int(min(max(cx - w_i / 2, area.x), area.x + area.w - w_i))
    y = int(min(max(cy - h_i / 2, area.y), area.y + area.h - h_i))
    x, y = x + x % 2, y + y % 2  # even, and rounded inward so no border row creeps in
    return Box(min(x, area.x + area.w - w_i), min(y, area.y + area.h - h_i), w_i, h_i)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)
