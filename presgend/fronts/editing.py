"""Editing from a front (the web page, HTTP, MCP): a kept job's edit document, an edit
checked and handed in, an approval, and the pictures the editor shows as a person types
(one slide, a frame of the recording for the crop).

An edit handed in becomes `<stem>.edit.json` in the inbox with the job's id beside it,
an approval `<job id>.approve`: they run like any drop (intake, admission, the queue on
every backend), and the ledger entry of the job says where the new version stands.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from presgend.core import procs
from presgend.core.config import Config
from presgend.core.hardware import QUALITIES
from presgend.fronts.views import Desk
from presgend.inbox import ledger
from presgend.pipeline import edit, rerender
from presgend.pipeline.text import slides

NOT_KEPT = (
    "This job is not kept for editing (its outputs may have expired, or it has not finished)."
)


class Refused(Exception):
    """An edit not handed in: `status` (404, 409, 422) and the answer's body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(body["error"])


def document(config: Config, job_id: str) -> dict[str, Any]:
    kept = rerender.kept_document(config, job_id)
    if kept is None:
        raise Refused(404, {"error": NOT_KEPT})
    return kept[1]


async def submit(desk: Desk, job_id: str, doc: Any | None) -> dict[str, Any]:
    """Check `doc` (None: approve the draft as it is) and hand it in; the job's id and the
    version it will make. Refused with every problem when it cannot be rendered."""
    config = desk.config
    kept = rerender.kept_document(config, job_id)
    if kept is None:
        raise Refused(404, {"error": NOT_KEPT})
    if doc is None and kept[0].status != "awaiting_review":
        raise Refused(409, {"error": "This job is not waiting for review; send an edit to "
                                     "render a new version."})  # fmt: skip
    if doc is not None:
        problems = await asyncio.to_thread(rerender.problems, config, job_id, doc)
        if problems:
            raise Refused(422, {"error": str(edit.EditInvalid(problems)), "problems": problems})
    text = None if doc is None else json.dumps(doc, ensure_ascii=False)
    final = await asyncio.to_thread(ledger.hand_in_edit, config, job_id, kept[0].stem, text)
    desk.poke(final)
    return {"job_id": job_id, "input": final, "version": kept[0].version + 1}


async def slide_picture(
    desk: Desk, job_id: str, slide: dict[str, Any], index: int, total: int, theme: str
) -> bytes:
    """The picture of one slide of an edit as the video will show it, all its bullets in."""
    config = desk.config
    kept = rerender.kept_document(config, job_id)
    if kept is None:
        raise Refused(404, {"error": NOT_KEPT})
    if theme not in edit.THEMES:
        raise Refused(422, {"error": f"The theme must be one of {', '.join(edit.THEMES)}."})
    quality = QUALITIES.get(kept[0].quality) or QUALITIES["standard"]
    section = rerender.slide_section(slide, max(0, index))
    look = slides.look_from(config.slides)
    look = slides.Look(slides.THEMES[theme], look.footer, look.logo)
    with tempfile.TemporaryDirectory(prefix="presgend-slide-") as folder:
        out = Path(folder) / "slide.png"
        await slides.slide_picture(section, max(total, index + 1), look, quality.panel,
                                   config.slides.chromium, desk.browser, out)  # fmt: skip
        return out.read_bytes()


async def recording_frame(config: Config, job_id: str, at: float) -> bytes:
    """A frame of the kept job's recording at `at` seconds (rotation applied, at most
    1280 wide), for the crop to be drawn on; its pixels map to the recording's by its
    width."""
    source = rerender.source_of(config, job_id)
    if source is None:
        raise Refused(404, {"error": NOT_KEPT})
    args = [*procs.ffmpeg(), "-ss", f"{max(0.0, at):.3f}", "-i", str(source), "-frames:v", "1",
            "-vf", "scale='min(1280,iw)':-2", "-f", "image2", "-c:v", "mjpeg", "-"]  # fmt: skip
    result = await procs.run(args, timeout=60, check=False, what="a frame of the recording")
    if result.returncode != 0 or not result.stdout:
        raise Refused(404, {"error": "No frame of the recording could be read at that time."})
    return bytes(result.stdout)
