"""The hardware profile and what it implies: quality preset, concurrency, encoder."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from presgend.core.breaker import HALF_OPEN, OPEN, CircuitBreaker


@dataclass(frozen=True)
class Quality:
    name: str
    width: int
    height: int
    fps_cap: int
    x264_preset: str
    crf: int
    nvenc_preset: str
    audio_bitrate: str
    x264_params: str = ""  # on top of the preset

    @property
    def panel(self) -> tuple[int, int]:
        """Size of each half of the split screen."""
        return self.width // 2, self.height


QUALITIES = {
    # a quick look at the slides and their timing: a quarter of standard's pixels
    "draft": Quality("draft", 640, 360, 25, "ultrafast", 28, "p1", "64k"),
    "fast": Quality("fast", 960, 540, 25, "superfast", 26, "p2", "96k"),
    # veryfast with superfast's one-iteration subpixel refinement (subme 1): on the
    # split screen, 17% less encoding CPU for the same PSNR on the bench talk (3.6% more
    # bytes), and 24% less for 0.07 dB less on a real webcam clip (6% more bytes); see
    # benchmarks/README.md. And superfast's partitions (no 8x8 split of a moving block):
    # on two real talking heads (a phone's and a webcam's) 2-12% less encoding CPU for
    # 0.004-0.04 dB less and 1% fewer bytes
    "standard": Quality("standard", 1280, 720, 30, "veryfast", 23, "p4", "128k",
                        "subme=1:partitions=i8x8,i4x4"),
    "high": Quality("high", 1920, 1080, 30, "medium", 20, "p6", "192k"),
}


@dataclass(frozen=True)
class HardwareProfile:
    cpu_cores: int
    memory_gb: float
    machine: str
    system: str
    cuda: bool
    gpu_name: str
    metal: bool
    nvenc: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def auto_quality(self) -> str:
        if ((self.cuda or self.metal) and self.memory_gb >= 8) or (
            self.cpu_cores >= 8 and self.memory_gb >= 16
        ):
            return "high"
        if self.cpu_cores >= 2 and self.memory_gb >= 4:
            return "standard"
        return "fast"

    def auto_concurrency(self) -> int:
        by_cpu = max(1, self.cpu_cores // 4)
        by_memory = max(1, int(self.memory_gb // 3))
        return min(by_cpu, by_memory, 4)


def choose_quality(profile: HardwareProfile, pinned: str | None) -> Quality:
    name = pinned if pinned and pinned != "auto" else profile.auto_quality()
    return QUALITIES[name]


@functools.cache
def limit_blas() -> None:
    """One BLAS thread in this process (presgend/__init__.py says why), also where numpy
    was loaded before presgend could set OPENBLAS_NUM_THREADS."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


@functools.cache
def detect() -> HardwareProfile:
    """Look at this machine once: cores, memory, CUDA, Apple Metal, NVENC."""
    gpu = _nvidia_gpu()
    cuda = bool(gpu) and _ctranslate2_cuda()
    return HardwareProfile(
        cpu_cores=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else (os.cpu_count() or 1),
        memory_gb=round(psutil.virtual_memory().total / 2**30, 1),
        machine=platform.machine(),
        system=platform.system(),
        cuda=cuda,
        gpu_name=gpu,
        metal=platform.system() == "Darwin" and platform.machine() == "arm64",
        nvenc=bool(gpu) and _ffmpeg_has("h264_nvenc"),
    )


def _nvidia_gpu() -> str:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return ""
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def _ctranslate2_cuda() -> bool:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count()) > 0
    except Exception:  # a broken CUDA install must not stop the daemon
        return False


def _ffmpeg_has(encoder: str) -> bool:
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return False
    try:
        out = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return f" {encoder} " in out


# --- the resource monitor: admission control for the daemon ---------------------------------

Sample = tuple[float, float]  # (cpu_percent, memory_percent)


def system_load() -> Sample:
    """CPU use since the previous call and memory in use, both in percent."""
    return psutil.cpu_percent(interval=None), psutil.virtual_memory().percent


class ResourceMonitor:
    """Gates job admission on CPU and memory through a circuit breaker.

    Over either limit the breaker opens and nothing is admitted; after `cooldown`
    seconds it half-opens, and the next sample under both limits closes it again
    (one over them opens it anew). `sampler` is injectable for tests.
    """

    def __init__(
        self,
        cpu_limit: float,
        memory_limit: float,
        cooldown: float,
        sampler: Callable[[], Sample] = system_load,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cpu_limit = cpu_limit
        self.memory_limit = memory_limit
        self.sampler = sampler
        self.clock = clock
        self.breaker = CircuitBreaker("resources", threshold=1, reset_seconds=cooldown, clock=clock)
        self.last: Sample = (0.0, 0.0)
        self.sampled_at = float("-inf")

    def sample(self) -> Sample:
        self.last = self.sampler()
        self.sampled_at = self.clock()
        return self.last

    def overloaded(self) -> bool:
        cpu, memory = self.last
        return cpu > self.cpu_limit or memory > self.memory_limit

    def admit(self) -> bool:
        """Whether a job may start now, judged on the latest sample."""
        state = self.breaker.state
        if self.overloaded():
            if state != OPEN:
                self.breaker.record_failure()
            return False
        if state == OPEN:
            return False
        if state == HALF_OPEN:
            self.breaker.record_success()
        return True

    def retry_in(self) -> float:
        """Seconds until the breaker half-opens (0 when it is not open)."""
        if self.breaker.opened_at is None or self.breaker.state != OPEN:
            return 0.0
        return max(0.0, self.breaker.opened_at + self.breaker.reset_seconds - self.clock())

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.breaker.state,
            "cpu_percent": round(self.last[0], 1),
            "memory_percent": round(self.last[1], 1),
            "cpu_limit": self.cpu_limit,
            "memory_limit": self.memory_limit,
        }


# Seconds of work per second of media on one core, measured on a 2-core x86-64 machine
# (see benchmarks/README.md); divided by the cores that the work can use.
ENCODE_CORE_SECONDS = {"draft": 0.06, "fast": 0.18, "standard": 0.40, "high": 1.60}
# whisper: batched at temperature 0 (2026-11-29: base 12 s for 181 s on 2 cores)
WHISPER_CORE_SECONDS = {"tiny": 0.07, "base": 0.12, "small": 0.4, "medium": 1.2}


def estimate_compose(duration: float, quality: Quality, profile: HardwareProfile) -> float:
    return 3.0 + duration * ENCODE_CORE_SECONDS[quality.name] / min(profile.cpu_cores, 8)


def estimate_whisper(duration: float, model: str, profile: HardwareProfile) -> float:
    per_core = WHISPER_CORE_SECONDS.get(model.split("/")[-1].split(".")[0], 1.0)
    speed = 10.0 if profile.cuda else 1.0
    return 2.0 + duration * per_core / min(profile.cpu_cores, 8) / speed
