"""A PowerPoint deck with speaker notes as a script: each slide's notes spoken over a
picture of the slide as its author designed it.

The deck is untrusted input, like a video: before anything opens it as a presentation its
zip is checked (no macros, no embedded programs' objects, no links outside it, nothing
that unpacks past MAX_UNPACKED), its text and notes are read with python-pptx, and its
pictures are drawn by LibreOffice headless (`soffice --convert-to pdf`) with a profile of
its own in the job's work folder, in its own process group, killed with it on a timeout or
a cancelled job, under the stall watchdog (`busy`); the PDF is then drawn page by page as
any PDF deck is (text/pages.py).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from presgend.core import procs
from presgend.core.errors import JobError, ToolError

MAX_UNPACKED = 512 * 1024 * 1024
MAX_RATIO = 200  # a member that unpacks to more than this many times its packed size
MAX_SLIDES = 300
_EXTERNAL = re.compile(rb'TargetMode\s*=\s*"External"', re.IGNORECASE)
LIBREOFFICE_MISSING = (
    "A PowerPoint deck needs LibreOffice to draw its slides, and it is not installed "
    "(sudo apt-get install libreoffice-impress); or export the deck as a PDF and drop it "
    "beside its notes (talk.md)."
)


@dataclass(frozen=True)
class Slide:
    number: int  # from 1
    title: str
    notes: str


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def check(path: Path) -> None:
    """Refuse a deck that could do anything but be read: one clear sentence each."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as deck:
            members = deck.infolist()
            if sum(m.file_size for m in members) > MAX_UNPACKED or any(
                m.file_size > MAX_RATIO * max(m.compress_size, 1) for m in members
            ):
                raise JobError(
                    f"The deck {name} unpacks to far more than it holds (a zip bomb?), so "
                    "it is not opened.",
                    phase="input",
                )
            names = [m.filename.lower() for m in members]
            if "ppt/presentation.xml" not in names:
                raise JobError(f"The deck {name} is not a PowerPoint presentation.",
                               phase="input")  # fmt: skip
            if any("vbaproject" in n for n in names):
                raise JobError(
                    f"The deck {name} contains macros, which presgend does not run: save it "
                    "as a .pptx without them.",
                    phase="input",
                )
            if any(n.startswith("ppt/embeddings/") and "oleobject" in n for n in names):
                raise JobError(
                    f"The deck {name} embeds other programs' objects (OLE), which presgend "
                    "does not open: remove them, or export the deck as a PDF.",
                    phase="input",
                )
            for member in members:
                if member.filename.endswith(".rels") and _EXTERNAL.search(deck.read(member)):
                    raise JobError(
                        f"The deck {name} links to files or addresses outside it, and "
                        "presgend fetches nothing: embed them, or export the deck as a PDF.",
                        phase="input",
                    )
    except zipfile.BadZipFile:
        raise JobError(f"The deck {name} is not a PowerPoint file that can be read "
                       "(damaged, or not a .pptx).", phase="input") from None  # fmt: skip


def slides_of(path: Path) -> list[Slide]:
    """Each slide's title and speaker notes (python-pptx), after `check`."""
    from pptx import Presentation

    try:
        deck = Presentation(str(path))
    except Exception as exc:  # python-pptx raises what its XML parser meets
        raise JobError(f"The deck {path.name} could not be read as a presentation.",
                       phase="input", detail=f"{type(exc).__name__}: {exc}") from None  # fmt: skip
    found = []
    for number, slide in enumerate(deck.slides, start=1):
        title = slide.shapes.title.text_frame.text.strip() if slide.shapes.title else ""
        notes = ""
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
        found.append(Slide(number, title or f"Slide {number}", notes))
    if len(found) > MAX_SLIDES:
        raise JobError(f"The deck {path.name} has {len(found)} slides; at most {MAX_SLIDES} "
                       "can be shown.", phase="input")  # fmt: skip
    if not found:
        raise JobError(f"The deck {path.name} has no slides.", phase="input")
    return found


async def to_pdf(
    path: Path, work: Path, timeout: float, busy: Callable[[], None] | None = None
) -> Path:
    """The deck as a PDF, drawn by LibreOffice headless with a private profile."""
    program = soffice()
    if program is None:
        raise JobError(LIBREOFFICE_MISSING, phase="content", fault="setup")
    out = work / "converted"
    out.mkdir(parents=True, exist_ok=True)
    source = out / "deck.pptx"  # a plain name: LibreOffice names its output after it
    shutil.copyfile(path, source)
    args = [
        program, f"-env:UserInstallation={(work / 'libreoffice-profile').as_uri()}",
        "--headless", "--invisible", "--norestore", "--nologo", "--nodefault",
        "--nolockcheck", "--convert-to", "pdf", "--outdir", str(out), str(source),
    ]  # fmt: skip
    try:
        await procs.run(args, timeout=timeout, what="LibreOffice", busy=busy)
    except ToolError as exc:
        raise JobError(f"LibreOffice could not draw the deck {path.name}.", phase="content",
                       detail=str(exc)) from None  # fmt: skip
    pdf = out / "deck.pdf"
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise JobError(f"LibreOffice could not draw the deck {path.name}.", phase="content")
    return pdf
