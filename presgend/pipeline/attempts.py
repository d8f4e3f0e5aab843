"""A job's runs under the stall watchdog: one, and one more after a stall, after one of
its programs was killed from outside, or after a failure of presgend's own making."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from presgend.core import logs
from presgend.core.errors import ClaimLost, JobError, ToolError, causes
from presgend.pipeline import stall
from presgend.pipeline.context import JobRequest
from presgend.pipeline.report import JobRecord, fault_of

TRIES = 2

log = logs.get(__name__)


class Run(Protocol):
    """One run of a job: what `Attempts` needs of it."""

    published: bool  # its video is in the outbox: never run it again

    def run(self) -> Awaitable[dict[str, Any]]: ...


class Attempts:
    """Runs a job (`start` makes each run) until it succeeds or may not run again."""

    def __init__(
        self, request: JobRequest, start: Callable[[JobRecord, JobRequest], Run]
    ) -> None:
        self.request = request
        self.start = start
        self.record = self._record()
        self.stalls = 0

    def _record(self) -> JobRecord:
        request = self.request
        record = JobRecord(request.job_id, request.input_path, kind="video", label=request.label)
        record.sha256 = request.sha256
        return record

    async def run(self) -> dict[str, Any]:
        request = self.request
        for attempt in range(1, TRIES + 1):
            guard = stall.Guard(request.config.jobs.stall_seconds)
            watched = dataclasses.replace(
                request, progress=guard.relay(request.progress), beat=guard.beat
            )
            if attempt > 1:  # a fresh record; the input's hash is known by now
                sha256, self.record = self.record.sha256, self._record()
                self.record.sha256 = sha256
            job = self.start(self.record, watched)
            try:
                return await guard.watch(job.run())
            except stall.Stalled as stalled:
                self.stalled(stalled, attempt, job.published)
            except Exception as exc:
                if attempt == TRIES or job.published or isinstance(exc, ClaimLost):
                    raise
                self.again(exc, attempt)
        raise AssertionError("unreachable")

    def again(self, error: Exception, attempt: int) -> None:
        """Log why a failed run gets one more; raise `error` when it does not."""
        killed = killed_program(error)
        if killed is not None:
            # killed from outside (the OOM killer, an operator): worth one more run
            log.warning("job_interrupted", phase=self.record.phase, program=killed,
                        attempt=attempt)  # fmt: skip
        elif fault_of(error) == "presgend":  # our own trouble, not the input's
            log.warning("job_retried", phase=self.record.phase, attempt=attempt,
                        error=f"{type(error).__name__}: {error}"[:300])  # fmt: skip
        else:
            raise error

    def stalled(self, stalled: stall.Stalled, attempt: int, published: bool) -> None:
        """Log a stall; raise the job's failure when it may not run again."""
        log.warning("job_stalled", phase=stalled.phase,
                    seconds=round(stalled.seconds, 1), attempt=attempt)  # fmt: skip
        self.record.phase = stalled.phase
        self.stalls += 1
        if published:  # its video is out: never run it twice
            raise JobError(
                f"The job stopped making progress during {stalled.phase} after its "
                "video was published, and was stopped.",
                phase=stalled.phase,
                fault="presgend",
            )
        if attempt == TRIES:
            how = "twice" if self.stalls == TRIES else "after a run that was interrupted"
            raise JobError(
                f"The job stopped making progress during {stalled.phase} and was stopped {how}.",
                phase=stalled.phase,
                detail=f"no progress for {self.request.config.jobs.stall_seconds:.0f} s, "
                f"{self.stalls} time{'s' if self.stalls > 1 else ''}",
                fault="presgend",
            )


def killed_program(error: BaseException) -> str | None:
    """The program (its command line) whose death by a signal caused `error`, if any."""
    for seen in causes(error):
        if isinstance(seen, ToolError) and (seen.returncode or 0) < 0:
            return seen.command.split(" ", 1)[0]
    return None
