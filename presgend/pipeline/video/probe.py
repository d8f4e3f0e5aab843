"""The probe phase's metadata: what ffprobe says about an input, normalised to what we display."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend.core import procs
from presgend.core.errors import JobError, ToolError

PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float
    width: int  # as displayed, rotation applied
    height: int
    rotation: int
    fps: float
    variable_frame_rate: bool
    pix_fmt: str
    video_codec: str
    has_audio: bool
    audio_codec: str
    audio_channels: int
    audio_duration: float | None
    video_duration: float | None
    frame_count: int | None
    b_frames: bool = False  # frames predicted from later ones: the stream is reordered

    @property
    def aspect(self) -> float:
        return self.width / self.height


async def ffprobe_json(path: Path, *, count_frames: bool = False) -> dict[str, Any]:
    args = [
        procs.find("ffprobe"),
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]
    if count_frames:
        args += ["-count_packets"]
    args.append(str(path.absolute()))
    try:
        result = await procs.run(args, timeout=PROBE_TIMEOUT, what="ffprobe")
    except ToolError as exc:
        reason = _first_line(exc.stderr) or "it is not a media file"
        raise JobError(
            f"The file cannot be read as a video ({reason}).", phase="probe", detail=exc.detail
        ) from exc
    data: dict[str, Any] = json.loads(result.stdout or b"{}")
    return data


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    # ffprobe prefixes the path; keep only what it says about it.
    return lines[-1].rsplit(": ", 1)[-1].rstrip(".")


async def probe(path: Path) -> MediaInfo:
    data = await ffprobe_json(path)
    if iso_media_truncated(path):
        raise JobError(
            TRUNCATED, phase="probe", detail="a top-level MP4/MOV box runs past the end of the file"
        )
    info = parse(path, data)
    last = await last_packet_time(path, info.duration)
    if last is not None and last < max(0.0, info.duration - END_WINDOW) - 1.0:
        raise JobError(
            TRUNCATED,
            phase="probe",
            detail=f"media data ends at {last:.2f}s of a stated {info.duration:.2f}s",
        )
    return info


TRUNCATED = "The video file is incomplete (it was cut off before its end)."
END_WINDOW = 3.0


async def last_packet_time(path: Path, duration: float) -> float | None:
    """The latest packet time found when seeking to the last seconds of the file.

    Containers that state their duration up front (Matroska, WebM, MP4) still do when
    the data behind it is missing; a seek near the end shows where the data really stops.
    """
    start = max(0.0, duration - END_WINDOW)
    args = [
        procs.find("ffprobe"),
        "-v",
        "error",
        "-read_intervals",
        f"{start:.3f}%",
        "-show_entries",
        "packet=pts_time",
        "-of",
        "csv=p=0",
        str(path.absolute()),
    ]
    result = await procs.run(args, timeout=PROBE_TIMEOUT, check=False, what="ffprobe")
    times = [_float(line.strip().strip(",")) for line in result.stdout.decode().splitlines()]
    found = [t for t in times if t is not None]
    return max(found) if found else None


ISO_BOXES = {
    b"ftyp",
    b"moov",
    b"mdat",
    b"free",
    b"skip",
    b"wide",
    b"uuid",
    b"moof",
    b"mfra",
    b"meta",
    b"pdin",
    b"styp",
    b"sidx",
    b"prft",
    b"emsg",
    b"pnot",
    b"PICT",
}


def iso_media_truncated(path: Path) -> bool:
    """Whether an MP4/MOV's top-level boxes claim more bytes than the file has.

    A recording cut off mid-copy keeps its index, so ffprobe still reports the full
    duration; only the box sizes give the truncation away.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(16)
            box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind not in ISO_BOXES:
                return False  # not ISO media, or trailing data we do not judge
            if box_size == 1:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                return False  # extends to the end of the file by definition
            if box_size < 8:
                return False
            if offset + box_size > size:
                return True
            offset += box_size
    return False


def parse(path: Path, data: dict[str, Any]) -> MediaInfo:
    streams = data.get("streams", [])
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        raise JobError("The file has no video stream.", phase="probe")
    duration = _duration(data, video, audio)
    if duration is None or duration <= 0:
        raise JobError(
            "The video's duration cannot be determined (the file may be truncated).", phase="probe"
        )
    rotation = _rotation(video)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise JobError("The video stream has no picture size.", phase="probe")
    if rotation in (90, 270):
        width, height = height, width
    fps, vfr = _frame_rate(video)
    return MediaInfo(
        path=path,
        duration=duration,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        variable_frame_rate=vfr,
        pix_fmt=str(video.get("pix_fmt", "")),
        video_codec=str(video.get("codec_name", "")),
        has_audio=audio is not None,
        audio_codec=str(audio.get("codec_name", "")) if audio else "",
        audio_channels=int(audio.get("channels") or 2) if audio else 0,
        audio_duration=_float(audio.get("duration")) if audio else None,
        video_duration=_float(video.get("duration")),
        frame_count=_int(video.get("nb_frames")),
        b_frames=bool(_int(video.get("has_b_frames"))),
    )


def _duration(
    data: dict[str, Any], video: dict[str, Any], audio: dict[str, Any] | None
) -> float | None:
    candidates = [_float(data.get("format", {}).get("duration")), _float(video.get("duration"))]
    if audio:
        candidates.append(_float(audio.get("duration")))
    found = [c for c in candidates if c is not None and math.isfinite(c) and c > 0]
    return found[0] if found else None


def _rotation(video: dict[str, Any]) -> int:
    for side in video.get("side_data_list", []) or []:
        if "rotation" in side:
            return round(-float(side["rotation"])) % 360
    rotate = video.get("tags", {}).get("rotate")
    return int(rotate) % 360 if rotate else 0


def _frame_rate(video: dict[str, Any]) -> tuple[float, bool]:
    avg = _ratio(video.get("avg_frame_rate"))
    real = _ratio(video.get("r_frame_rate"))
    fps = avg or real or 30.0
    vfr = bool(avg and real and abs(avg - real) / real > 0.01)
    return fps, vfr


def _ratio(text: object) -> float | None:
    if not isinstance(text, str) or "/" not in text:
        return None
    num, den = text.split("/", 1)
    try:
        value = float(num) / float(den)
    except (ValueError, ZeroDivisionError):
        return None
    return value if 1 <= value <= 240 else None


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


async def extract_audio(info: MediaInfo, wav: Path) -> Path:
    """16 kHz mono PCM, what the speech recogniser wants."""
    args = [
        *procs.ffmpeg(),
        "-i",
        str(info.path.absolute()),
        "-vn",
        "-ac",
        "1",
        "-ar",
        "16000",
        "-c:a",
        "pcm_s16le",
        str(wav),
    ]
    timeout = 60 + info.duration
    try:
        await procs.run(args, timeout=timeout, what="audio extraction")
    except ToolError as exc:
        raise JobError(
            "The audio track cannot be decoded.", phase="probe", detail=exc.detail
        ) from exc
    return wav
