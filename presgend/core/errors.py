"""The exceptions presgend raises, each carrying a sentence a user can act on."""

from __future__ import annotations

from collections.abc import Iterator


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


class ConfigError(PresgendError):
    """The configuration has problems; all of them are listed in `problems`."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The configuration in {source} has {len(problems)} problem(s):\n{lines}")


class PresetUnknown(PresgendError):
    """A preset name the config does not define; the sentence lists those it does."""


class ToolMissing(PresgendError):
    """An external program presgend needs is not installed."""


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
    """A job cannot go on. `phase` is where it stopped; `detail` is for the curious."""

    def __init__(self, message: str, *, phase: str = "", detail: str = "") -> None:
        self.phase = phase
        self.detail = detail
        super().__init__(message)


class ClaimLost(PresgendError):
    """Another daemon took this job back while it ran; its work must not be published."""
