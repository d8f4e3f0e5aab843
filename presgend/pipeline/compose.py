"""Phase 3: one ffmpeg run that frames the presenter, times the slides and encodes.

The filtergraph and argument list are built by pure functions (tested as data); one
place runs them. Each slide PNG is decoded once and repeated with `loop`, then slides
are chained with `xfade` so every slide fades in, centred on its section's first word.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend import tools
from presgend.errors import JobError, ToolError
from presgend.hardware import Quality
from presgend.pipeline.face import Box, CropSegment
from presgend.pipeline.probe import TRUNCATED, ffprobe_json

CROP_RAMP_SECONDS = 0.6
DURATION_TOLERANCE = 0.1


@dataclass(frozen=True)
class PresenterSource:
    """Where the presenter picture and the sound come from."""

    video: Path
    audio: Path
    loop: bool = False
    audio_channels: int = 0  # 0: as probed from the video


@dataclass(frozen=True)
class SlideCue:
    png: Path
    start: float  # when the slide should be fully visible, half-way through its fade


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
    encoder: str  # libx264 | nvenc
    output: Path
    loop_video: bool = False  # a still or short presenter clip repeated to length
    audio_channels: int = 2
    threads: int = 2


def output_fps(info_fps: float, cap: int) -> int:
    return max(10, min(cap, round(info_fps) if info_fps else cap))


def crop_expr(segments: list[CropSegment], axis: str) -> str:
    """A per-frame crop offset: steady within a segment, a short ramp between segments."""
    values = [getattr(s.box, axis) for s in segments]
    if len(set(values)) == 1:
        return str(values[0])
    expr = _ramp(segments, values, len(segments) - 1)
    for i in range(len(segments) - 2, -1, -1):
        expr = f"if(lt(t,{segments[i + 1].start:.3f}),{_ramp(segments, values, i)},{expr})"
    return expr


def _ramp(segments: list[CropSegment], values: list[int], i: int) -> str:
    if i == 0:
        return str(values[0])
    start, before, after = segments[i].start, values[i - 1], values[i]
    return f"{before}+({after - before})*min(1,(t-{start:.3f})/{CROP_RAMP_SECONDS})"


def slide_offsets(cues: list[SlideCue], fade: float, fps: int) -> list[float]:
    """When each crossfade begins (for cues[1:]), kept in order and a fade apart."""
    offsets: list[float] = []
    floor = 1.0 / fps
    for cue in cues[1:]:
        offset = max(cue.start - fade / 2, floor)
        if offsets:
            offset = max(offset, offsets[-1] + fade + floor)
        offsets.append(round(offset, 3))
    return offsets


def build_filtergraph(plan: ComposePlan) -> str:
    pw, ph = plan.quality.panel
    chains = [_left_chain(plan, plan.crop[0].box, pw, ph)]
    chains += _right_chains(plan, pw, ph)
    chains.append("[left][right]hstack=inputs=2[v]")
    audio_index = 0 if plan.audio == plan.video else len(plan.slides) + 1
    chains.append(
        f"[{audio_index}:a:0]aresample=async=1:first_pts=0,apad=whole_dur={plan.duration:.3f}[a]"
    )
    return ";".join(chains)


def _right_chains(plan: ComposePlan, pw: int, ph: int) -> list[str]:
    """The slide half as a concatenation of still holds and short crossfade clips.

    Chaining `xfade` over whole-length slide streams costs per-frame work for the full
    video; here `xfade` only runs inside each transition and the holds are a decoded
    frame repeated. Lengths are whole frames, so nothing drifts over many slides.
    """
    fps, count = plan.fps, len(plan.slides)
    fade = max(1, round(plan.crossfade * fps))
    starts = [round(o * fps) for o in slide_offsets(plan.slides, plan.crossfade, fps)]
    total = math.ceil((plan.duration + 1.0) * fps)
    chains, pieces = [], []
    for i in range(count):
        uses = 1 + (i + 1 < count) + (i > 0)
        outs = "".join(f"[p{i}_{j}]" for j in range(uses))
        split = f",split={uses}" if uses > 1 else ""
        chains.append(f"[{i + 1}:v]scale={pw}:{ph},setsar=1,format=yuv420p{split}{outs}")
    for i in range(count):
        begin = 0 if i == 0 else starts[i - 1] + fade
        end = starts[i] if i + 1 < count else max(total, begin + 1)
        chains.append(_still(f"p{i}_0", end - begin, fps, f"h{i}"))
        pieces.append(f"[h{i}]")
        if i + 1 < count:
            incoming = f"p{i + 1}_{2 if i + 2 < count else 1}"
            chains.append(_still(f"p{i}_1", fade, fps, f"ta{i}"))
            chains.append(_still(incoming, fade, fps, f"tb{i}"))
            chains.append(
                f"[ta{i}][tb{i}]xfade=transition=fade:duration={fade / fps:.4f}:offset=0[t{i}]"
            )
            pieces.append(f"[t{i}]")
    chains.append("".join(pieces) + f"concat=n={len(pieces)}:v=1:a=0[right]")
    return chains


def _still(label: str, frames: int, fps: int, out: str) -> str:
    return (
        f"[{label}]loop=loop=-1:size=1,setpts=N/({fps}*TB),fps={fps},"
        f"trim=end_frame={max(1, frames)}[{out}]"
    )


def _left_chain(plan: ComposePlan, box: Box, pw: int, ph: int) -> str:
    x, y = crop_expr(plan.crop, "x"), crop_expr(plan.crop, "y")
    return (
        f"[0:v]fps={plan.fps},crop={box.w}:{box.h}:x='{x}':y='{y}',"
        f"scale={pw}:{ph}:flags=bicubic,setsar=1,format=yuv420p,"
        f"tpad=stop_mode=clone:stop_duration={plan.duration:.3f}[left]"
    )


def encoder_args(plan: ComposePlan) -> list[str]:
    q = plan.quality
    if plan.encoder == "nvenc":
        video = [
            "-c:v",
            "h264_nvenc",
            "-preset",
            q.nvenc_preset,
            "-rc",
            "vbr",
            "-cq",
            str(q.crf),
            "-b:v",
            "0",
        ]
    else:
        video = ["-c:v", "libx264", "-preset", q.x264_preset, "-crf", str(q.crf)]
    return [
        *video,
        "-pix_fmt",
        "yuv420p",
        "-profile:v",
        "high",
        "-r",
        str(plan.fps),
        "-c:a",
        "aac",
        "-b:a",
        q.audio_bitrate,
        # The source's rate and channels are kept: resampling 22 kHz mono speech to
        # 48 kHz stereo cost 15% of the whole encode and gains nothing.
        *(["-ac", "2"] if plan.audio_channels > 2 else []),
        "-movflags",
        "+faststart",
    ]


def build_args(plan: ComposePlan, ffmpeg: str = "ffmpeg") -> list[str]:
    # Filter threads let crop/scale/xfade run beside the decoder and x264 rather than
    # in their thread: on two cores this is the difference between 1.2x and 1.0x the floor.
    args = [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-y",
        "-filter_complex_threads",
        str(plan.threads),
    ]
    if plan.loop_video:
        args += ["-stream_loop", "-1"]
    args += ["-i", str(plan.video.absolute())]
    for cue in plan.slides:
        args += ["-i", str(cue.png.absolute())]
    if plan.audio != plan.video:
        args += ["-i", str(plan.audio.absolute())]
    args += [
        "-filter_complex",
        build_filtergraph(plan),
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-t",
        f"{plan.duration:.3f}",
        *encoder_args(plan),
        "-progress",
        "pipe:1",
        "-nostats",
        "-f",
        "mp4",
        str(plan.output.absolute()),
    ]
    return args


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


async def compose(plan: ComposePlan, on_progress: Callable[[float], None]) -> None:
    args = build_args(plan, tools.find("ffmpeg"))
    timeout = 120 + plan.duration * 6
    try:
        result = await tools.run(
            args,
            timeout=timeout,
            what="ffmpeg composition",
            on_stdout_line=progress_parser(plan.duration, on_progress),
        )
    except ToolError as exc:
        raise JobError(
            "The video could not be composed by ffmpeg.", phase="compose", detail=exc.detail
        ) from exc
    stderr = result.stderr.decode("utf-8", "replace")
    if any(sign.lower() in stderr.lower() for sign in TRUNCATION_SIGNS):
        raise JobError(TRUNCATED, phase="compose", detail=stderr[-2000:])


@dataclass(frozen=True)
class Verified:
    duration: float
    width: int
    height: int


async def verify(path: Path, expected_duration: float, quality: Quality) -> Verified:
    """The published file must have H.264 video, AAC audio and the input's duration."""
    data = await ffprobe_json(path)
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
        )
    return Verified(duration, int(video["width"]), int(video["height"]))
