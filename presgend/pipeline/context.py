"""The job context: what a pipeline (video or script) may use of the job running it.

`job.JobRun` is the one implementation. The pipelines (video/talk.py, script/script.py), the
slide step (deck.py) and the finish are written against this protocol, not against the
job module, so nothing imports back up: job -> talk/script -> finish -> context.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from presgend.core import hardware
from presgend.core.breaker import StageBreakers
from presgend.core.config import Config
from presgend.core.hardware import HardwareProfile, Quality
from presgend.pipeline.report import JobRecord
from presgend.pipeline.text.browser import SharedBrowser

T = TypeVar("T")
ProgressFn = Callable[[str, float], None]  # phase, overall fraction 0..1


def new_job_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + uuid.uuid4().hex[:8]


def _no_progress(_phase: str, _fraction: float) -> None:
    return None


def _no_beat() -> None:
    return None


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class JobRequest:
    """One job, as asked for: what to process, where results go, and how to report."""

    input_path: Path
    config: Config
    outbox: Path
    job_id: str = field(default_factory=new_job_id)
    quality: str = ""  # "" = output.quality
    stem: str = ""  # the outputs' name; "" = the input's stem
    label: Path | None = None  # where the user dropped it, when the job runs on a claimed copy
    sha256: str = ""  # when the caller has read the file already
    preset: str = ""  # the [presets.NAME] `config` was made with, for the report
    progress: ProgressFn = _no_progress
    # work moved that the progress fraction does not show (the stall watchdog hears it)
    beat: Callable[[], None] = _no_beat
    # awaited just before the first output becomes visible; a daemon fences off work
    # whose claim (or queue job) was taken back here by raising ClaimLost
    before_publish: Callable[[], Awaitable[None]] = _nothing

    @property
    def output_stem(self) -> str:
        return self.stem or self.input_path.stem


@dataclass
class Services:
    """What jobs of one process share: the hardware profile, the stage breakers and one
    Chromium for their slides (whoever makes a Services closes `browser` before its
    event loop ends)."""

    profile: HardwareProfile = field(default_factory=hardware.detect)
    breakers: StageBreakers = field(default_factory=StageBreakers)
    browser: SharedBrowser = field(default_factory=SharedBrowser)

    def __post_init__(self) -> None:
        hardware.limit_blas()


class RunContext(Protocol):
    """What a pipeline (video talk, script) and the finish use of the job running them."""

    record: JobRecord
    request: JobRequest
    config: Config
    services: Services
    quality: Quality
    outbox: Path
    stem: str  # the outputs' name
    started: float  # monotonic
    extra_report: dict[str, Any]  # kind-specific report keys (speech, presenter)
    recogniser: dict[str, Any]  # what recognised the speech (model, device, seconds)
    published: bool  # its video is in the outbox

    async def phase(self, name: str, work: Awaitable[T]) -> T: ...

    def report_progress(self, phase: str, fraction: float) -> None: ...

    def beat(self) -> None: ...

    def fallback(self, stage: str, message: str) -> None: ...

    def keep_analysis(self, analysis: Any) -> None: ...
