"""The exceptions presgend raises, each carrying a sentence a user can act on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

# Whose fault a failure is, which decides where its input goes: "input" (the file is
# bad: failed/, with a sentence about the file), "setup" (this machine lacks something
# or is configured wrong: the input waits in the inbox until that is mended), "presgend"
# (presgend itself or the machine under it: a missing temporary file, a killed program,
# an internal error: the job runs again, and the input is never blamed).
Fault = Literal["input", "setup", "presgend"]


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what caused it, and so on (at most ten: a chain, never a cycle)."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


class PresgendError(Exception):
    """Base class: `str(error)` is one plain sentence for the user."""

    fault: Fault = "presgend"


class ConfigError(PresgendError):
    """The configuration has problems; all of them are listed in `problems`."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The configuration in {source} has {len(problems)} problem(s):\n{lines}")


class PresetUnknown(PresgendError):
    """A preset name the config does not define; the sentence lists those it does."""


class HttpRefused(PresgendError):
    """The HTTP service cannot start as configured."""

    fault: Fault = "setup"


class ToolMissing(PresgendError):
    """An external program presgend needs is not installed."""

    fault: Fault = "setup"


class ToolError(PresgendError):
    """An external program failed; the command line and the tail of its stderr are kept."""

    def __init__(self, message: str, command: str, returncode: int | None, stderr: str) -> None:
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message)

    @property
    def detail(self) -> str:
        return f"{self.command} exited {self.returncode}: {self.stderr.strip()[-2000:]}"


class JobError(PresgendError):
    """A job cannot go on. `phase` is where it stopped; `detail` is for the curious;
    `fault` whose it is (the input's unless said otherwise)."""

    def __init__(
        self, message: str, *, phase: str = "", detail: str = "", fault: Fault = "input"
    ) -> None:
        self.phase = phase
        self.detail = detail
        self.fault = fault
        super().__init__(message)


class ClaimLost(PresgendError):
    """Another daemon took this job back while it ran; its work must not be published."""
