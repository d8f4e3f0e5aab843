"""Sound levels: measured in the probe phase, applied in the compose phase, checked after.

Every output is levelled to -16 LUFS integrated with true peaks under -1 dBTP, the level
web video players expect. A plain gain would clip peaky speech, so the compose pass adds
a gain and a peak limiter; since the limiter takes some loudness back, the probe runs the
same gain and limiter over the audio alone, measures what is left and corrects the gain.
All measuring is ffmpeg's ebur128 (EBU R 128: integrated loudness, true peak).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from presgend.core import procs

TARGET_LUFS = -16.0
LIMIT_DBFS = -2.0  # sample peaks; true peaks land under -1 dBTP after AAC
SAMPLE_RATE = 48_000
SILENT_LUFS = -70.0


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS) and true peak (dBTP) of a file's sound."""

    integrated: float
    true_peak: float


@dataclass(frozen=True)
class Leveling:
    source_lufs: float  # integrated loudness of the sound as it came
    gain_db: float  # what the compose pass adds before its limiter


def filters(gain_db: float | None) -> list[str]:
    """The audio filters of the compose pass after timing: resample, gain, limiter."""
    chain = [f"aresample={SAMPLE_RATE}"]
    if gain_db is not None:
        limit = 10 ** (LIMIT_DBFS / 20)
        chain += [
            f"volume={gain_db:.2f}dB",
            f"alimiter=limit={limit:.4f}:attack=5:release=50:level=disabled",
        ]
    return chain


async def measure(path: Path, timeout: float = 600.0) -> Loudness | None:
    """Integrated loudness and true peak of the first audio stream; None when silent."""
    stderr = await _analyse(path, "ebur128=peak=true", timeout)
    integrated, peak = _summary(stderr, "I"), _summary(stderr, "Peak")
    if integrated is None or peak is None or integrated <= SILENT_LUFS:
        return None
    return Loudness(integrated, peak)


async def plan(path: Path, timeout: float = 600.0) -> Leveling | None:
    """Measure, then try the gain and limiter on the sound alone and correct the gain.
    The source's peaks need no measuring: the limiter holds them down whatever they are."""
    source = _summary(await _analyse(path, "ebur128", timeout), "I")
    if source is None or source <= SILENT_LUFS:
        return None
    gain = TARGET_LUFS - source
    chain = ",".join([*filters(gain), "ebur128"])
    after = _summary(await _analyse(path, chain, timeout), "I")
    if after is not None:
        gain += TARGET_LUFS - after
    return Leveling(source, round(gain, 2))


def _summary(stderr: str, key: str) -> float | None:
    """A value from ebur128's closing summary ("I: -16.4 LUFS", "Peak: -1.6 dBFS")."""
    found = re.findall(rf"^\s*{key}:\s+(-?[\d.]+|-inf)\s", stderr, re.MULTILINE)
    if not found or found[-1] == "-inf":
        return None
    value = float(found[-1])
    return value if math.isfinite(value) else None


async def _analyse(path: Path, chain: str, timeout: float) -> str:
    args = [
        *procs.ffmpeg(level="info"),
        "-i",
        str(path.absolute()),
        "-map",
        "0:a:0",
        "-vn",
        "-af",
        chain,
        "-f",
        "null",
        "-",
    ]
    result = await procs.run(args, timeout=timeout, check=False, what="loudness measurement")
    return result.stderr.decode("utf-8", "replace")


def frame_db(samples: np.ndarray, frame: int) -> np.ndarray:
    """The level of each whole `frame` of samples (floats in -1..1), in dBFS RMS."""
    n = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1))
    return 20 * np.log10(rms + 1e-9)  # type: ignore[no-any-return]
