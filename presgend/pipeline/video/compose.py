"""The compose phase: one ffmpeg run that frames the presenter, times the slides and encodes.

The filtergraph and argument list are built by pure functions (tested as data); one
place runs them. Each slide PNG is decoded once and repeated with `loop`, then slides
are chained with `xfade` so every slide fades in, centred on its section's first word.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from presgend.core import aio, procs
from presgend.core.errors import JobError, ToolError
from presgend.core.hardware import Quality
from presgend.pipeline.video import loudness
from presgend.pipeline.video.face import Box, CropSegment
from presgend.pipeline.video.probe import TRUNCATED, ffprobe_json

CROP_RAMP_SECONDS = 0.6
DURATION_TOLERANCE = 0.1
BUILD_FADE = 0.2
# Parts of the picture encoded side by side (`split`), each by an ffmpeg of about 180 MB
# at 720p. Two parts of 18 s still paid: a 36 s talk took 9.6-10.1 s instead of 10.5-10.6.
# At 1080p (high: x264 medium, its lookahead of full frames) the 90 s talk's tree peaked at
# 1282 MB in two parts against 801 MB in one, past the 1 GB budget: high stays one run.
PARTS = 2
PART_MIN_SECONDS = 15.0
PART_MAX_PIXELS = 1280 * 720
SEGMENT_MIN_SECONDS = 6.0  # a slide shorter than this shares its segment
SEGMENT_MAX_SECONDS = 45.0


@dataclass(frozen=True)
class Encoder:
    """The H.264 encoder a setup uses, chosen once (`choose_encoder`) from
    `output.encoder` and the hardware: its arguments, and whether the picture may be
    encoded in parts side by side (x264: two parts keep two cores busy; NVENC is one
    chip)."""

    name: str  # as the report says it
    parts: bool

    def args(self, q: Quality) -> list[str]:
        if self.name == "nvenc":
            return ["-c:v", "h264_nvenc", "-preset", q.nvenc_preset, "-rc", "vbr",
                    "-cq", str(q.crf), "-b:v", "0"]  # fmt: skip
        params = ["-x264-params", q.x264_params] if q.x264_params else []
        return ["-c:v", "libx264", "-preset", q.x264_preset, "-crf", str(q.crf), *params]


X264 = Encoder("libx264", parts=True)
NVENC = Encoder("nvenc", parts=False)


def choose_encoder(setting: str, nvenc_available: bool) -> Encoder:
    """`output.encoder`: "auto" takes NVENC where an NVIDIA GPU has it."""
    if setting == "nvenc" or (setting == "auto" and nvenc_available):
        return NVENC
    return X264


@dataclass(frozen=True)
class PresenterSource:
    """Where the presenter picture and the sound come from."""

    video: Path
    audio: Path
    loop: bool = False
    audio_channels: int = 0  # 0: as probed from the video


@dataclass(frozen=True)
class SlideCue:
    """A picture of the slide half and when it appears: a new slide (`opens`) fades out
    the old one to the background before `start` and fades in from `start`; a bullet
    build fades in from `start`, so nothing shows before it is spoken."""

    png: Path
    start: float
    opens: bool = True


@dataclass(frozen=True)
class Transition:
    begin: int  # first frame of the fade
    frames: int
    opens: bool

    @property
    def end(self) -> int:
        return self.begin + self.frames


@dataclass(frozen=True)
class ComposePlan:
    video: Path
    audio: Path
    duration: float
    fps: int
    quality: Quality
    crop: list[CropSegment]
    slides: list[SlideCue]
    crossfade: float
    encoder: Encoder
    output: Path
    loop_video: bool = False  # a still or short presenter clip repeated to length
    audio_channels: int = 2
    threads: int = 2
    blank: Path | None = None  # the slide background, faded through between slides
    build_fade: float = BUILD_FADE
    gain_db: float | None = None  # levelling gain from the probe; None leaves the sound as is
    captions: Path | None = None  # an SRT: a soft subtitle track (mov_text)
    captions_language: str = "und"  # ISO 639-2, as the MP4 track is tagged
    burn_captions: bool = False  # the captions drawn into the picture instead
    chapters: Path | None = None  # ffmpeg metadata with one chapter per slide
    # what the video and sound sources are, whatever their paths (an input's sha256):
    # with it, encoded segments can be kept and used again (`Reuse`)
    identity: str = ""


@dataclass(frozen=True)
class Part:
    """One stretch of the picture, frames [first, end), encoded by an ffmpeg of its own
    beside the others'."""

    first: int
    end: int
    output: Path

    @property
    def frames(self) -> int:
        return self.end - self.first


def frame_count(plan: ComposePlan) -> int:
    """The output's frames: those that start before its end."""
    return math.ceil(plan.duration * plan.fps - 1e-6)


def split(plan: ComposePlan, count: int, folder: Path) -> list[Part]:
    """The picture in segments, each encoded by an ffmpeg of its own (`count` at a time)
    and written in `folder`; one part is the whole, written to the output.

    One ffmpeg leaves about a fifth of two cores idle: its main thread decodes, filters
    and feeds x264 in turn, and x264's threads wait on it. Two side by side keep both
    cores busy (the 90 s talk: 12.0 s instead of 14.1, the same CPU time).

    A segment holds one slide: seams fall where a slide change has faded to the bare
    background, between the old slide fading out and the new one fading in (a long slide
    is cut again so no segment passes SEGMENT_MAX_SECONDS; a short one joins the next).
    So an edit of one slide's words changes the pictures of one segment, and a re-render
    encodes that segment again and reuses the others (`Segments`).
    """
    total = frame_count(plan)
    if not in_parts(plan, count):
        return [Part(0, total, plan.output)]
    found = pieces(plan)
    seams = [p.first for p in found if p.seam and 0 < p.first < total]
    fades = [(p.first, p.end) for p in found if not p.still]
    seams = _spaced(seams, total, plan.fps, fades)
    return [
        Part(first, end, folder / f"picture-{i}.mp4")
        for i, (first, end) in enumerate(zip([0, *seams], [*seams, total], strict=True))
    ]


def in_parts(plan: ComposePlan, count: int) -> bool:
    """Whether the picture is encoded in segments (and the sound on its own): not for one
    at a time, a short talk, NVENC, a looped picture, or past 720p."""
    big = plan.quality.width * plan.quality.height > PART_MAX_PIXELS
    short = plan.duration < 2 * PART_MIN_SECONDS
    return count > 1 and not short and plan.encoder.parts and not plan.loop_video and not big


def _spaced(seams: list[int], total: int, fps: int, fades: list[tuple[int, int]]) -> list[int]:
    """Seams at least SEGMENT_MIN_SECONDS apart, with more in any stretch longer than
    SEGMENT_MAX_SECONDS: in a still hold, which can be cut anywhere, never inside one of
    `fades` (frames [first, end) of a dissolve, which a segment holds whole: one cut in
    two was left out of both, its build never faded in and its segment came out short)."""
    shortest, longest = round(SEGMENT_MIN_SECONDS * fps), round(SEGMENT_MAX_SECONDS * fps)
    kept: list[int] = []
    for seam in seams:
        if seam - (kept[-1] if kept else 0) >= shortest and total - seam >= shortest:
            kept.append(seam)
    filled: list[int] = []
    for first, end in itertools.pairwise([0, *kept, total]):
        extra = max(0, math.ceil((end - first) / longest) - 1)
        for k in range(extra):
            at = first + (end - first) * (k + 1) // (extra + 1)
            filled.append(next((e for b, e in fades if b < at < e), at))
        if end < total:
            filled.append(end)
    return filled


def output_fps(info_fps: float, cap: int) -> int:
    return max(10, min(cap, round(info_fps) if info_fps else cap))


def crop_expr(
    segments: list[CropSegment], axis: str, offset: float = 0.0, end: float = math.inf
) -> str:
    """A per-frame crop offset: steady within a segment, a short ramp between segments
    (a cut: at once). For a part, `offset` is the talk's time at its first frame and
    `end` at its last: the part's own clock `t` starts at 0.

    A sum of steps, one per change (`value0 + d1*step1(t) + d2*step2(t) + …`), never an
    `if()` nested per segment: ffmpeg refuses an expression about 100 deep, and a chain
    of additions is as deep as it is long, so a recording of a hundred shots failed to
    compose. The steps are summed in brackets of brackets (`procs.expr_sum`), a few
    levels deep for any count. Steps the part has passed are folded into the first value and those
    after it left out, so a part carries only its own."""
    value = getattr(segments[0].box, axis)
    terms: list[str] = []
    for before, segment in itertools.pairwise(segments):
        change = getattr(segment.box, axis) - getattr(before.box, axis)
        ramp = 0.0 if segment.cut else CROP_RAMP_SECONDS
        at = segment.start - offset  # on the part's clock
        if change == 0 or segment.start >= end:
            continue
        if at + ramp <= 0:
            value += change  # done before the part starts
        elif ramp:
            terms.append(f"{change:+d}*clip((t-{at:.3f})/{ramp},0,1)")
        else:
            terms.append(f"{change:+d}*gte(t,{at:.3f})")
    return str(value) + (procs.expr_sum(terms) if terms else "")


def transitions(cues: list[SlideCue], fade: float, build_fade: float, fps: int) -> list[Transition]:
    """The fade into each cue after the first, in whole frames, in order, never overlapping.

    A new slide fades out to the background in the half before its start and in over
    the half after; a build fades its new bullet in from its start.
    """
    found: list[Transition] = []
    floor = 1
    for cue in cues[1:]:
        frames = max(2, round((fade if cue.opens else build_fade) * fps))
        begin = round(cue.start * fps) - (frames // 2 if cue.opens else 0)
        begin = max(begin, floor, found[-1].end + 1 if found else 0)
        found.append(Transition(begin, frames, cue.opens))
    return found


def keyframe_times(plan: ComposePlan) -> list[float]:
    """A keyframe right after each fade, so no trace of the old picture lingers."""
    fades = transitions(plan.slides, plan.crossfade, plan.build_fade, plan.fps)
    return [round(t.end / plan.fps, 3) for t in fades]


def build_filtergraph(plan: ComposePlan, part: Part | None = None) -> str:
    """The whole graph; for a `part`, only its stretch of the picture (the sound is
    encoded on its own, `audio_args`)."""
    pw, ph = plan.quality.panel
    first, end = (part.first, part.end) if part else (0, None)
    offset = first / plan.fps
    until = end / plan.fps if end is not None else math.inf
    chains = [_left_chain(plan, plan.crop[0].box, pw, ph, offset, until)]
    chains += _right_chains(plan, pw, ph, first, end)
    stack = "[left][right]hstack=inputs=2"
    if plan.burn_captions and plan.captions is not None:
        # the captions are timed from the talk's start, a part's frames from its own
        shift = f"setpts=PTS+{offset:.6f}/TB," if offset else ""
        back = f",setpts=PTS-{offset:.6f}/TB" if offset else ""
        stack += f",{shift}{burned(plan.captions)}{back}"
    chains.append(f"{stack}[v]")
    if part is None:
        chains.append(f"[{audio_input(plan)}:a:0]{audio_filters(plan)}[a]")
    return ";".join(chains)


def audio_input(plan: ComposePlan) -> int:
    return 0 if plan.audio == plan.video else len(plan.slides) + 1 + (plan.blank is not None)


def audio_filters(plan: ComposePlan) -> str:
    """In time with the video, levelled (gain and limiter from the probe) at 48 kHz, and
    padded to the video's length."""
    chain = ["aresample=async=1:first_pts=0", *loudness.filters(plan.gain_db)]
    return ",".join([*chain, f"apad=whole_dur={plan.duration:.3f}"])


@dataclass(frozen=True)
class Piece:
    """A stretch of the slide half, frames [first, end): a cue held still (`still`, cut
    anywhere), or a dissolve from cue `old` to cue `new` (either may be None: the blank
    background), kept whole. `seam`: a segment may start here (a slide change, faded to
    the background)."""

    first: int
    end: int
    old: int | None
    new: int | None = None
    still: bool = False
    seam: bool = False


def pieces(plan: ComposePlan) -> list[Piece]:
    """The slide half of the whole video, as still holds and dissolves: a build fades its
    new bullet in; a new slide fades the old one out to the background and the new one
    in (through a cross-dissolve when there is no background picture)."""
    cues, fps = plan.slides, plan.fps
    fades = transitions(cues, plan.crossfade, plan.build_fade, fps)
    total = math.ceil((plan.duration + 1.0) * fps)
    found: list[Piece] = []
    for i in range(len(cues)):
        begin = fades[i - 1].end if i else 0
        last = fades[i].begin if i + 1 < len(cues) else max(total, begin + 1)
        found.append(Piece(begin, last, i, still=True))
        if i + 1 == len(cues):
            break
        fade = fades[i]
        if fade.opens and plan.blank is not None:
            half = fade.begin + fade.frames // 2
            found.append(Piece(fade.begin, half, i, None))
            found.append(Piece(half, fade.end, None, i + 1, seam=True))
        else:
            found.append(Piece(fade.begin, fade.end, i, i + 1))
    return found


def _right_chains(plan: ComposePlan, pw: int, ph: int, first: int, end: int | None) -> list[str]:
    """The slide half of frames [first, end) (to the end for None) as a concatenation of
    still holds and short dissolves.

    Chaining `xfade` over whole-length slide streams costs per-frame work for the full
    video; here `xfade` only runs inside each transition and the holds are a decoded
    frame repeated. Lengths are whole frames, so nothing drifts over many slides. A
    segment's ends fall in a hold or between the halves of a slide change (`split`),
    never inside a dissolve; a hold is cut to the segment."""
    fps, count = plan.fps, len(plan.slides)
    stop = math.ceil((plan.duration + 1.0) * fps) if end is None else end
    uses: list[list[str]] = [[] for _ in range(count + 1)]  # the blank's last

    def label(cue: int | None) -> str:
        index = count if cue is None else cue
        name = f"u{index}x{len(uses[index])}"
        uses[index].append(name)
        return name

    chains: list[str] = []
    joined: list[str] = []
    for n, piece in enumerate(pieces(plan)):
        if piece.still:
            held = min(piece.end, stop) - max(piece.first, first)
            if held > 0:
                chains.append(_still(label(piece.old), held, fps, f"h{n}"))
                joined.append(f"[h{n}]")
        elif first <= piece.first and piece.end <= stop:
            frames = piece.end - piece.first
            chains += _dissolve(label(piece.old), label(piece.new), frames, fps, f"t{n}")
            joined.append(f"[t{n}]")
    decoded = [_decoded(i + 1, pw, ph, labels) for i, labels in enumerate(uses) if labels]
    # concat counts in microseconds and rounds each piece's start down: frame n of the
    # slide half came out 1 us before frame n of the presenter, hstack took them for two
    # frames, and the encoder's constant rate then dropped presenter frames (the presenter
    # fell up to 3 frames behind its sound). Back on the frame grid, exactly.
    tail = f"concat=n={len(joined)}:v=1:a=0,settb=1/{fps},setpts=N[right]"
    return [*decoded, *chains, "".join(joined) + tail]


def _decoded(index: int, pw: int, ph: int, outs: list[str]) -> str:
    split = f",split={len(outs)}" if len(outs) > 1 else ""
    labels = "".join(f"[{o}]" for o in outs)
    return f"[{index}:v]scale={pw}:{ph},setsar=1,format=yuv420p{split}{labels}"


def _dissolve(a: str, b: str, frames: int, fps: int, out: str) -> list[str]:
    """A fade from `a` to `b`, back in the holds' yuv420p. xfade works in yuv444p
    (ffmpeg 5): left to negotiate, the whole concatenation took its format, so every
    frame of every hold was converted to 4:4:4 and back before the stack (1.4 ms a frame,
    as much as decoding the presenter); now only the fade's few frames are."""
    frames = max(1, frames)
    fade = f"xfade=transition=fade:duration={frames / fps:.4f}:offset=0,format=yuv420p"
    return [
        _still(a, frames, fps, f"{out}x"),
        _still(b, frames, fps, f"{out}y"),
        f"[{out}x][{out}y]{fade}[{out}]",
    ]


def _still(label: str, frames: int, fps: int, out: str) -> str:
    return (
        f"[{label}]loop=loop=-1:size=1,setpts=N/({fps}*TB),fps={fps},"
        f"trim=end_frame={max(1, frames)}[{out}]"
    )


def _left_chain(
    plan: ComposePlan, box: Box, pw: int, ph: int, offset: float, end: float = math.inf
) -> str:
    x, y = crop_expr(plan.crop, "x", offset, end), crop_expr(plan.crop, "y", offset, end)
    # a later part's first frame is its time 0: `start_time` keeps every part on the
    # same grid of frames, so the parts join without a frame lost or repeated
    fps = f"fps={plan.fps}:start_time=0" if offset else f"fps={plan.fps}"
    return (
        f"[0:v]{fps},crop={box.w}:{box.h}:x='{x}':y='{y}',"
        f"scale={pw}:{ph}:flags=bicubic,setsar=1,format=yuv420p,"
        f"tpad=stop_mode=clone:stop_duration={plan.duration:.3f}[left]"
    )


def encoder_args(plan: ComposePlan) -> list[str]:
    return [*video_args(plan, keyframe_times(plan)), *audio_codec_args(plan),
            "-movflags", "+faststart"]  # fmt: skip


def video_args(plan: ComposePlan, keys: list[float]) -> list[str]:
    """The picture's encoder, with a keyframe at each of `keys` (seconds)."""
    return [
        *plan.encoder.args(plan.quality),
        "-pix_fmt",
        "yuv420p",
        "-profile:v",
        "high",
        "-r",
        str(plan.fps),
        *(["-force_key_frames", ",".join(f"{t:.3f}" for t in keys)] if keys else []),
    ]


def audio_codec_args(plan: ComposePlan) -> list[str]:
    q = plan.quality
    return [
        "-c:a",
        "aac",
        # At 96-128 kb/s the fast coder is transparent for speech and encodes 48 kHz in
        # half the time of the default two-loop search, which "high" keeps.
        *(["-aac_coder", "fast"] if q.name != "high" else []),
        "-b:a",
        q.audio_bitrate,
        "-ar",
        str(loudness.SAMPLE_RATE),
        # The source's channels are kept (mono speech stays mono: stereo would cost
        # encode time and gain nothing); surround is folded down.
        *(["-ac", "2"] if plan.audio_channels > 2 else []),
    ]


# libass draws an SRT on a 384x288 canvas scaled to the frame; BorderStyle 3 puts the
# words on a translucent box (the outline is its padding), readable across the divider
BURN_STYLE = (
    "FontName=DejaVu Sans,FontSize=13,BorderStyle=3,Outline=3,Shadow=0,"
    "BackColour=&H99000000,MarginV=12"
)


def burned(captions: Path) -> str:
    """The captions drawn across the bottom of the frame (libass): white with a dark
    outline, readable over the presenter and the slide alike."""
    path = str(captions.absolute())
    for char in ("\\", ":", "'", ",", "[", "]", ";"):
        path = path.replace(char, "\\" + char)
    return f"subtitles=filename={path}:force_style='{BURN_STYLE}'"


def _head(ffmpeg: str) -> list[str]:
    return procs.ffmpeg(program=ffmpeg)


def _tail(output: Path) -> list[str]:
    return ["-progress", "pipe:1", "-nostats", "-f", "mp4", str(output.absolute())]


def _captions_and_chapters(plan: ComposePlan, args: list[str]) -> list[str]:
    """Adds the soft captions' and the chapters' inputs to `args` (after every picture
    and sound input); the options that map them."""
    extra = []
    if plan.captions is not None and not plan.burn_captions:
        extra += ["-map", f"{args.count('-i')}:s", "-c:s", "mov_text",
                  "-metadata:s:s:0", f"language={plan.captions_language}"]  # fmt: skip
        args += ["-i", str(plan.captions.absolute())]
    if plan.chapters is not None:
        extra += ["-map_chapters", str(args.count("-i"))]
        args += ["-f", "ffmetadata", "-i", str(plan.chapters.absolute())]
    return extra


def build_args(plan: ComposePlan, ffmpeg: str = "ffmpeg", part: Part | None = None) -> list[str]:
    """The whole video in one run; or a `part` of its picture alone (`audio_args` and
    `join_args` make the rest)."""
    # Filter threads let crop/scale/xfade run beside the decoder and x264 rather than
    # in their thread: on two cores this is the difference between 1.2x and 1.0x the floor.
    args = [*_head(ffmpeg), "-filter_complex_threads", str(plan.threads)]
    if plan.loop_video:
        args += ["-stream_loop", "-1"]
    start = part.first / plan.fps if part else 0.0
    if start:  # decoding starts at the keyframe before, frames before `start` are dropped
        args += ["-ss", f"{start:.6f}"]
    if part is not None:  # the decoder's share of the threads (frame threads cost CPU)
        args += ["-threads", str(plan.threads)]
    args += ["-i", str(plan.video.absolute())]
    for cue in plan.slides:
        args += ["-i", str(cue.png.absolute())]
    if plan.blank is not None:
        args += ["-i", str(plan.blank.absolute())]
    if part is not None:
        keys = [t - start for t in keyframe_times(plan) if start < t < part.end / plan.fps]
        # a frame count, not -t, whose last frame hangs on how long the input's last frame
        # lasts (after -ss it kept one frame less than one run did)
        length = ["-frames:v", str(part.frames)]
        return [
            *args,
            "-filter_complex",
            build_filtergraph(plan, part),
            "-map",
            "[v]",
            *length,
            *video_args(plan, keys),
            "-threads",
            str(plan.threads),
            *_tail(part.output),
        ]
    if plan.audio != plan.video:
        args += ["-i", str(plan.audio.absolute())]
    extra = _captions_and_chapters(plan, args)
    return [
        *args,
        "-filter_complex",
        build_filtergraph(plan),
        "-map",
        "[v]",
        "-map",
        "[a]",
        *extra,
        "-t",
        f"{plan.duration:.3f}",
        *encoder_args(plan),
        *_tail(plan.output),
    ]


def audio_args(plan: ComposePlan, output: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """The sound alone, levelled and encoded as in one run, for the parts' join."""
    return [
        *_head(ffmpeg),
        "-i",
        str(plan.audio.absolute()),
        "-filter_complex",
        f"[0:a:0]{audio_filters(plan)}[a]",
        "-map",
        "[a]",
        "-t",
        f"{plan.duration:.3f}",
        *audio_codec_args(plan),
        *_tail(output),
    ]


def join_args(plan: ComposePlan, listing: Path, audio: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """The parts named in `listing` (ffmpeg's concat list) one after the other, the
    sound, the captions and the chapters, copied into the output, its index first."""
    args = [*_head(ffmpeg), "-f", "concat", "-safe", "0", "-i", str(listing.absolute())]
    args += ["-i", str(audio.absolute())]
    extra = _captions_and_chapters(plan, args)
    return [
        *args,
        "-map",
        "0:v",
        "-map",
        "1:a",
        *extra,
        "-c:v",
        "copy",
        "-c:a",
        "copy",
        "-t",
        f"{plan.duration:.3f}",
        "-movflags",
        "+faststart",
        *_tail(plan.output),
    ]


def concat_listing(parts: list[Part], fps: int) -> str:
    """ffmpeg's concat list of the parts' files, quoted as it reads them, each with its
    exact length: the demuxer would otherwise start the next part where the MP4's header
    says this one ends, rounded up to a millisecond (a part of 505 frames at 30 fps is
    16.834 s there), and every later frame would lie off the frame grid."""
    lines = []
    for part in parts:
        lines.append("file '" + str(part.output.absolute()).replace("'", "'\\''") + "'")
        lines.append(f"duration {part.frames / fps:.6f}")
    return "".join(f"{line}\n" for line in lines)


def progress_parser(duration: float, report: Callable[[float], None]) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.strip().lstrip("-").isdigit():
            report(min(1.0, max(0.0, int(value) / 1e6 / duration)))

    return on_line


# What ffmpeg says when an input ends before its container said it would.
TRUNCATION_SIGNS = (
    "partial file",
    "Read error",
    "truncated",
    "End of file",
    "ended prematurely",
    "moov atom not found",
)


class Reuse(Protocol):
    """Where encoded segments (and the sound) are kept between versions of one video,
    by fingerprint (pipeline/store.py keeps them with the job)."""

    def get(self, fingerprint: str, into: Path) -> bool:
        """Put the kept file at `into`; False when there is none."""

    def put(self, fingerprint: str, made: Path) -> None: ...


@dataclass(frozen=True)
class Sound:
    """The sound encoded ahead of the pictures (while the slides are made) and its
    loudness: `compose` takes the file when `args` are what it would have run."""

    args: list[str]
    out: Path
    loudness: loudness.Loudness | None


async def encode_sound(plan: ComposePlan, out: Path) -> Sound:
    """The sound of `plan` alone, as `compose` encodes it beside the segments, and its
    loudness, measured from the file (the join copies it into the output as it is)."""
    args = audio_args(plan, out, procs.find("ffmpeg"))
    await _run(args, 120 + plan.duration * 6)
    return Sound(args, out, await loudness.measure(out, 120 + plan.duration))


@dataclass(frozen=True)
class Composed:
    segments: int
    encoded: int  # those not reused
    seconds_encoded: float
    # the sound's loudness, measured from its own file while the pictures still encoded
    # (the join copies it into the output as it is); `heard` False: not measured here
    heard: bool = False
    loudness: loudness.Loudness | None = None


async def compose(
    plan: ComposePlan,
    on_progress: Callable[[float], None],
    parts: int = 1,
    folder: Path | None = None,
    reuse: Reuse | None = None,
    ahead: Awaitable[Sound | None] | None = None,
) -> Composed:
    """Make `plan.output`: in one ffmpeg run, or its picture in segments (`parts` at a
    time, in `folder`) and its sound beside them, then joined without encoding again.
    With `reuse` (and `plan.identity`), a segment whose fingerprint was encoded before
    is taken as it is: an edit of one slide encodes that slide's segment only. The sound
    encoded `ahead` (`encode_sound`) is taken when it was made as this plan's."""
    ffmpeg = procs.find("ffmpeg")
    timeout = 120 + plan.duration * 6
    folder = folder or plan.output.parent
    pieces = split(plan, parts, folder)
    if len(pieces) == 1:
        on_line = progress_parser(plan.duration, on_progress)
        await _run(scripted(build_args(plan, ffmpeg), folder / "graph.txt"), timeout, on_line)
        return Composed(1, 1, plan.duration)
    reuse = reuse if plan.identity else None
    sound = pieces[0].output.with_name("sound.m4a")
    listing = pieces[0].output.with_name("pictures.txt")
    try:
        jobs = [_Encode(audio_args(plan, sound, ffmpeg), sound, 0, ffmpeg)]
        # each run side by side has its share of the threads, for its decoder, filters
        # and x264 alike: on two cores one thread each kept both busy for 10% less CPU
        # than two each (thread handovers); the 180 s talk's segments took 11-13% less
        # wall time, its whole job 8%
        # wall time, its whole job 8%. The last to start has them all: the others are
        # finishing, and one thread would leave a core idle once they are done
        shared = replace(plan, threads=max(1, plan.threads // max(1, parts)))
        for i, part in enumerate(pieces):
            graph = folder / f"graph-{i}.txt"  # the same graph, whatever the threads
            alone = scripted(build_args(plan, ffmpeg, part), graph) if shared != plan else None
            jobs.append(_Encode(scripted(build_args(shared, ffmpeg, part), graph), part.output,
                                part.frames / plan.fps, ffmpeg, alone))  # fmt: skip
        fresh = [job for job in jobs if not (reuse and reuse.get(job.fingerprint(plan), job.out))]
        seconds = sum(job.seconds for job in fresh)
        heard: list[loudness.Loudness | None] = []

        async def make_sound(job: _Encode) -> None:
            """The sound encoded ahead when it was this plan's, else encoded now; its
            loudness, while the pictures are still encoding."""
            made = await ahead if ahead is not None else None
            if made is not None and made.args == audio_args(plan, made.out, ffmpeg):
                made.out.replace(job.out)
                heard.append(made.loudness)
                return
            await _run(job.args, timeout)
            heard.append(await loudness.measure(job.out, timeout))

        await _encode_all(fresh, parts, timeout, seconds, on_progress, make_sound)
        if reuse is not None:
            for job in fresh:
                reuse.put(job.fingerprint(plan), job.out)
        listing.write_text(concat_listing(pieces, plan.fps), encoding="utf-8")
        await _run(join_args(plan, listing, sound, ffmpeg), timeout)
    finally:
        for path in (sound, listing, *(part.output for part in pieces)):
            path.unlink(missing_ok=True)
    on_progress(1.0)
    encoded = sum(1 for job in fresh if job.seconds)
    return Composed(len(pieces), encoded, seconds, bool(heard), heard[0] if heard else None)


@dataclass
class _Encode:
    """One ffmpeg run of a segment (or of the sound: `seconds` 0, it is quick)."""

    args: list[str]
    out: Path
    seconds: float
    ffmpeg: str
    alone: list[str] | None = None  # the same with all the threads, for the last to start

    def fingerprint(self, plan: ComposePlan) -> str:
        """What decides this run's output, whatever the paths: its arguments, with the
        sources named by `plan.identity`, every other file by its content, and an input
        its filtergraph does not read (another segment's slide) as unused."""
        named = {str(plan.video.absolute()): "video", str(plan.audio.absolute()): "audio"}
        used = _inputs_read(self.args)
        words, inputs = [], 0
        for k, word in enumerate(self.args[1:], start=1):
            if self.args[k - 1] == "-i":
                inputs += 1
                if inputs - 1 not in used:
                    word = "unused"
            if word in named:
                word = f"{named[word]}:{plan.identity}"
            elif word == str(self.out):
                word = "output"
            elif word.startswith("/") and Path(word).is_file():
                word = "file:" + _digest(Path(word))
            words.append(word)
        return hashlib.sha256("\0".join(words).encode()).hexdigest()


def _inputs_read(args: list[str]) -> set[int]:
    """The input indices a run's filtergraph reads (`[3:v]`)."""
    if "-filter_complex_script" in args:
        graph = Path(args[args.index("-filter_complex_script") + 1]).read_text("utf-8")
    else:
        graph = args[args.index("-filter_complex") + 1]
    return {int(n) for n in re.findall(r"\[(\d+):[va]", graph)}


_digests: dict[tuple[str, int, int], str] = {}


def _digest(path: Path) -> str:
    """A file's sha256, once per version of it (a slide's picture is an input of every
    segment)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if len(_digests) > 4096:  # a daemon's many jobs: their pictures are gone
        _digests.clear()
    if key not in _digests:
        _digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _digests[key]


async def _encode_all(
    jobs: list[_Encode],
    at_once: int,
    timeout: float,
    seconds: float,
    on_progress: Callable[[float], None],
    sound: Callable[[_Encode], Awaitable[None]] | None = None,
) -> None:
    """`jobs` side by side, `at_once` segments at a time, the sound beside them (made by
    `sound` when given, else run as it is)."""
    if not jobs:
        return  # every segment and the sound kept from the version before
    done = [0.0] * len(jobs)
    gate = asyncio.Semaphore(max(1, at_once))

    def counted(i: int) -> Callable[[str], None]:
        def report(fraction: float) -> None:
            done[i] = fraction * jobs[i].seconds
            on_progress(0.98 * sum(done) / max(seconds, 1e-3))

        return progress_parser(jobs[i].seconds or 1.0, report)

    async def one(i: int) -> None:
        if not jobs[i].seconds:  # the sound: beside the pictures, no slot of theirs
            await (sound(jobs[i]) if sound is not None else _run(jobs[i].args, timeout))
            return
        async with gate:
            waiting.remove(i)
            args = (not waiting and jobs[i].alone) or jobs[i].args
            await _run(args, timeout, counted(i))

    # the longest first (the gate lets them in in order): a long segment started last ran
    # alone on one core for its last seconds (the 90 s talk's last 28 s segment: 1.7 s of
    # one idle core); the short ones then fill the gaps
    longest = sorted(range(len(jobs)), key=lambda i: -jobs[i].seconds)
    waiting = {i for i in longest if jobs[i].seconds}
    await aio.together(*(one(i) for i in longest))


INLINE_GRAPH_MAX = 32 * 1024  # longer filtergraphs go to a file (one argument may hold 128 KiB)


def scripted(args: list[str], path: Path) -> list[str]:
    """`args` with a long filtergraph read from `path` instead (a talk of a thousand
    shots has a crop expression of some 50 KB); short ones stay inline, as tested."""
    at = args.index("-filter_complex")
    if len(args[at + 1]) <= INLINE_GRAPH_MAX:
        return args
    path.write_text(args[at + 1], encoding="utf-8")
    return [*args[:at], "-filter_complex_script", str(path.absolute()), *args[at + 2 :]]


async def _run(
    args: list[str], timeout: float, on_line: Callable[[str], None] | None = None
) -> None:
    try:
        result = await procs.run(
            args, timeout=timeout, what="ffmpeg composition", on_stdout_line=on_line
        )
    except ToolError as exc:
        raise JobError(
            "The video could not be composed by ffmpeg.",
            phase="compose",
            detail=exc.detail,
            fault="input" if unreadable_input(exc.stderr) else "presgend",
        ) from exc
    stderr = result.stderr.decode("utf-8", "replace")
    if any(sign.lower() in stderr.lower() for sign in TRUNCATION_SIGNS):
        raise JobError(TRUNCATED, phase="compose", detail=stderr[-2000:])


# what ffmpeg says when it cannot read its input, as opposed to trouble of our own making
# (a filtergraph it refuses, a file of ours that is missing, a killed encoder)
UNREADABLE_SIGNS = (
    "Invalid data found when processing input",
    "Error while decoding",
    "error while decoding",
    "corrupt decoded frame",
    "moov atom not found",
    "Invalid NAL unit size",
)


def unreadable_input(stderr: str) -> bool:
    return any(sign in stderr for sign in UNREADABLE_SIGNS)


@dataclass(frozen=True)
class Verified:
    duration: float
    width: int
    height: int
    sample_rate: int


async def verify(path: Path, expected_duration: float, quality: Quality) -> Verified:
    """The published file must have H.264 video, AAC audio and the input's duration."""
    try:
        data = await ffprobe_json(path)
    except JobError as exc:  # its sentence is about an input; this is our own output
        raise JobError(
            "The composed video failed its final check.",
            phase="compose",
            detail=exc.detail,
            fault="presgend",
        ) from exc
    streams = data.get("streams", [])
    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "audio"), {})
    duration = float(data.get("format", {}).get("duration") or 0)
    problems = []
    if video.get("codec_name") != "h264":
        problems.append("no H.264 video stream")
    if audio.get("codec_name") != "aac":
        problems.append("no AAC audio stream")
    if (video.get("width"), video.get("height")) != (quality.width, quality.height):
        problems.append(f"size {video.get('width')}x{video.get('height')}")
    if not math.isfinite(duration) or abs(duration - expected_duration) > DURATION_TOLERANCE:
        problems.append(f"duration {duration:.3f}s instead of {expected_duration:.3f}s")
    if problems:
        raise JobError(
            "The composed video failed its final check.",
            phase="compose",
            detail="; ".join(problems),
            fault="presgend",
        )
    rate = int(audio.get("sample_rate") or 0)
    return Verified(duration, int(video["width"]), int(video["height"]), rate)
