"""MCP tools: what an assistant may ask of presgend, over stdio (`presgend mcp`) or at
/mcp on the HTTP service. The same front desk as HTTP: a submitted file goes into the
inbox like a drop, and a finished video comes back as its download link, never bytes.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from presgend.core import config as config_mod
from presgend.core import inputs
from presgend.core.errors import PresetUnknown
from presgend.fronts import editing, handin
from presgend.fronts.views import Desk, recent, view
from presgend.inbox import ledger
from presgend.pipeline.context import new_job_id

INSTRUCTIONS = (
    "presgend turns a talking-head video or a plain-text script into a split-screen "
    "presentation video with slides and subtitles. Submit a file by its path on the "
    "presgend machine, then poll job_status until it is ok or failed; the video comes "
    "back as a download link."
)


def allowed(path: Path, roots: tuple[str, ...]) -> bool:
    real = Path(os.path.realpath(path))
    for root in roots:
        base = Path(os.path.realpath(os.path.expanduser(root)))
        if real == base or base in real.parents:
            return True
    return False


class ToolError(Exception):
    """A tool's answer in one sentence (raised as MCP's ToolError by `build`)."""


class Tools:
    """The tools over a daemon's desk: plain methods, each one MCP tool (its docstring
    is the tool's description), testable without a server."""

    def __init__(self, desk: Desk, base_url: str = "") -> None:
        self.desk = desk
        self.base_url = base_url

    def known(self, job_id: str) -> dict[str, Any]:
        shown = view(self.desk, job_id, self.base_url)
        if shown is None:
            raise ToolError(f"There is no job with the id {job_id}.")
        return shown

    def readable(self, path: str) -> Path:
        """The file at `path`, if it is inside mcp.allowed_roots; ToolError otherwise."""
        roots = self.desk.config.mcp.allowed_roots
        source = Path(os.path.expanduser(path))
        if not roots:
            raise ToolError("Reading files is off: set mcp.allowed_roots in the config.")
        if not allowed(source, roots):
            raise ToolError(f"{path} is outside the folders presgend may read (mcp.allowed_roots).")
        if not source.is_file():
            raise ToolError(f"{path} is not a file presgend can read.")
        return source

    async def submit_file(self, path: str, preset: str = "") -> dict[str, Any]:
        """Queue a video (.mp4 .mov .mkv .webm .m4v .avi) or a script (.txt .md) on the
        presgend machine, with its transcript or picture beside it if there is one, and
        optionally a preset of the config by name. Returns the job id; poll job_status
        with it."""
        try:
            config_mod.with_preset(self.desk.config, preset)
        except PresetUnknown as exc:
            raise ToolError(str(exc)) from None
        source = self.readable(path)
        name = handin.safe_name(source.name)
        if inputs.classify(name) != "main":
            raise ToolError(f"{source.name} is neither a video nor a script presgend can use.")
        job_id = new_job_id()
        final = await asyncio.to_thread(
            ledger.hand_in, self.desk.config, source, name, job_id,
            sidecars=sidecars_beside(source, name), source="mcp", move=False, preset=preset,
        )  # fmt: skip
        self.desk.poke(final)
        return {"job_id": job_id, "input": final, "status": "queued"}

    async def job_status(self, job_id: str) -> dict[str, Any]:
        """Status (queued, running, ok, failed, duplicate, expired), phase and progress
        of one job; when it is done, its download links (or its error)."""
        return brief(self.known(job_id))

    async def list_jobs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The most recent jobs, newest first."""
        newest = recent(self.desk, max(1, min(limit, 100)), self.base_url)
        return [brief(shown) for shown in newest]

    async def get_report(self, job_id: str) -> dict[str, Any]:
        """The full report of a finished job (or its error document)."""
        shown = self.known(job_id)
        document = shown.get("report") or shown.get("error_document")
        if document is None:
            raise ToolError(f"The job {job_id} has no report yet; it is {shown['status']}.")
        return dict(document)

    async def plan(self, path: str) -> dict[str, Any]:
        """What processing a file would do (slides, timings, voice), writing nothing."""
        from presgend.ops.plan import plan

        result: dict[str, Any] = await plan(self.readable(path), self.desk.config, None)
        return result

    async def get_edit(self, job_id: str) -> dict[str, Any]:
        """The edit document of a finished job (or of a draft held for review): its
        slides (title, start_s, bullets with their at_s), captions, the presenter's crop
        (null: automatic), theme and quality. Change it and send it to submit_edit."""
        try:
            return editing.document(self.desk.config, job_id)
        except editing.Refused as exc:
            raise ToolError(str(exc)) from None

    async def submit_edit(self, job_id: str, edit: dict[str, Any]) -> dict[str, Any]:
        """Render a job again as `edit` (its edit document, changed) says: a misheard
        name put right, a title reworded, a slide moved. Every problem of the edit comes
        back as this tool's error; else poll job_status for the new version."""
        return await self._submit(job_id, edit)

    async def approve(self, job_id: str, edit: dict[str, Any] | None = None) -> dict[str, Any]:
        """Approve a draft held for review ([review] hold): it is rendered as it is, or
        as `edit` says when one is given."""
        return await self._submit(job_id, edit)

    async def _submit(self, job_id: str, edit: dict[str, Any] | None) -> dict[str, Any]:
        try:
            answer = await editing.submit(self.desk, job_id, edit)
        except editing.Refused as exc:
            problems = exc.body.get("problems")
            raise ToolError(" ".join(problems) if problems else str(exc)) from None
        return {**answer, "status": "queued"}

    async def doctor(self) -> list[dict[str, Any]]:
        """Whether everything presgend needs is ready (tools, models, voices, folders)."""
        return [check.as_dict() for check in await asyncio.to_thread(self.desk.ready_checks)]


TOOLS = ("submit_file", "job_status", "list_jobs", "get_report", "get_edit", "submit_edit",
         "approve", "plan", "doctor")  # fmt: skip


def brief(shown: dict[str, Any]) -> dict[str, Any]:
    """A status without the documents: get_report is there for those."""
    return {k: v for k, v in shown.items() if k not in ("report", "error_document")}


def sidecars_beside(source: Path, name: str) -> dict[str, Path]:
    """The transcript beside a video, or the picture beside a script, if there is one;
    and the deck (a PDF) beside either."""
    wanted = (
        inputs.IMAGE_SUFFIXES
        if name.lower().endswith(inputs.SCRIPT_SUFFIXES)
        else inputs.TRANSCRIPT_SUFFIXES
    )
    found: dict[str, Path] = {}
    for suffix in wanted:
        beside = source.with_name(source.stem + suffix)
        if beside.is_file():
            found[suffix] = beside
            break
    decks = (inputs.PDF_SUFFIX,) if name.lower().endswith(inputs.SCRIPT_SUFFIXES) else (
        inputs.PDF_SUFFIX, inputs.DECK_SUFFIX)  # fmt: skip
    for suffix in decks:
        deck = source.with_name(source.stem + suffix)
        if deck.is_file():
            found[suffix] = deck
            break
    return found


def build(desk: Desk, base_url: str = "") -> Any:
    """The MCP server with presgend's tools, bound to a daemon's desk."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError as McpToolError

    server = MCPServer("presgend", instructions=INSTRUCTIONS, log_level="WARNING")
    tools = Tools(desk, base_url)
    for name in TOOLS:
        server.tool()(_speaking(getattr(tools, name), McpToolError))
    return server


def _speaking(method: Callable[..., Awaitable[Any]], error: type[Exception]) -> Any:
    """`method` with its ToolError raised as MCP's, so the assistant reads the sentence."""

    @functools.wraps(method)
    async def tool(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except ToolError as exc:
            raise error(str(exc)) from None

    return tool
