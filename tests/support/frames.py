"""What an output video holds, measured: its streams (ffprobe), its frames as gray
arrays, and the moments its slide half changes against the report's timeline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            "-count_frames",
            str(path),
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return json.loads(out)


def gray_frames(path: Path, crop: str, size: tuple[int, int], fps: int) -> np.ndarray:
    """Decoded frames of one region, small and grey: shape (frames, h, w)."""
    w, h = size
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-vf",
            f"fps={fps},crop={crop},scale={w}:{h},format=gray",
            "-f",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w)


def slide_changes(
    path: Path, width: int, height: int, fps: int = 30, threshold: float = 0.15
) -> list[float]:
    """Times where the right half changes: the midpoint of each run of changing frames
    (tuned for fades, which spread a change over several frames, and sensitive enough
    for one bullet fading in)."""
    frames = gray_frames(path, f"{width // 2}:{height}:{width // 2}:0", (160, 180), fps)
    diff = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2))
    changing = diff > threshold
    runs: list[list[int]] = []
    gap = max(1, round(fps * 0.15))  # a fade can dip below the threshold mid-way
    for i in np.flatnonzero(changing):
        if runs and i - runs[-1][1] <= gap + 1:
            runs[-1][1] = int(i)
        else:
            runs.append([int(i), int(i)])
    changes = [((i + j) / 2 + 1) / fps for i, j in runs]
    return changes


def changes_of(video: Path, fps: int = 10) -> list[float]:
    """`slide_changes` of a video at its own size."""
    size = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
         "stream=width,height", "-of", "json", str(video)],
        capture_output=True, text=True, check=True).stdout)["streams"][0]  # fmt: skip
    return slide_changes(video, int(size["width"]), int(size["height"]), fps=fps)


def expected_changes(report: dict[str, Any]) -> list[float]:
    """Where the right half should change: each new slide (faded out before its start and
    in after it, so centred on it) and each later bullet (a 0.2 s fade from its word)."""
    times = []
    for i, slide in enumerate(report["slides"]):
        if i:
            times.append(slide["start_s"])
        times += [t + 0.1 for t in slide["bullet_starts"] if t > slide["start_s"] + 0.25]
    return times


def assert_changes_match(report: dict[str, Any], video: Path, tolerance: float = 0.25) -> None:
    """Every expected change is seen, and nothing else changes (no ghost, no stray)."""
    expected = expected_changes(report)
    seen = slide_changes(video, report["output"]["width"], report["output"]["height"])
    for t in expected:
        assert seen and min(abs(t - s) for s in seen) <= tolerance, (t, seen)
    for s in seen:
        assert min(abs(t - s) for t in expected) <= tolerance, (s, expected)
