"""A recording's own deck: a PDF beside the video (`talk.pdf` with `talk.mp4`), its pages
drawn as the author designed them and shown in the slide half, each switched in when
the speaker starts talking about it.

Which page is when comes from the words: each page's text against the transcript's
sentences, in order. A deck is presented forwards; a page may be skipped; a page that
was left does not come back (`match`). The pages are drawn by PDFium (pypdfium2), which
runs none of a PDF's scripts and fetches nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from presgend.core.errors import JobError
from presgend.pipeline.text import lexicon

MAX_PAGES = 300  # a deck longer than this is refused (a talk's deck, not a book)
MAX_BYTES = 200 * 1024 * 1024
MAX_PAGE_PIXELS = 4096 * 4096  # no page is drawn bigger than this, whatever it claims
SKIP_COST = 0.15  # what passing over a page costs the path through the deck
MIN_CONFIDENCE = 0.12  # a page whose sentences share less than this with it matched nothing


@dataclass(frozen=True)
class Page:
    number: int  # from 1
    png: Path
    text: str

    @property
    def title(self) -> str:
        """The page's first line of text (its heading, as decks are written)."""
        for line in self.text.splitlines():
            if len(line.strip()) > 1:
                return line.strip()[:80]
        return f"Page {self.number}"


@dataclass(frozen=True)
class Match:
    page: int  # from 1
    start_s: float
    confidence: float  # 0-1: how much of what was said while it was up is on the page


def read(pdf: Path, size: tuple[int, int], background: str, out: Path) -> list[Page]:
    """Each page of `pdf` drawn to fit `size` without distortion, letterboxed on
    `background`, as `out/page-NNN.png`; with its text. A clear JobError for a file that
    is not a PDF, is locked, is empty or has more than MAX_PAGES pages."""
    import pypdfium2 as pdfium

    name = pdf.name
    if pdf.stat().st_size > MAX_BYTES:
        raise JobError(f"The deck {name} is larger than {MAX_BYTES // 2**20} MB.", phase="input")
    try:
        document = pdfium.PdfDocument(str(pdf))
    except pdfium.PdfiumError as exc:
        raise JobError(
            f"The deck {name} could not be read as a PDF (damaged, locked with a password, "
            "or not a PDF).",
            phase="input",
            detail=str(exc),
        ) from None
    try:
        count = len(document)
        if count == 0:
            raise JobError(f"The deck {name} has no pages.", phase="input")
        if count > MAX_PAGES:
            raise JobError(
                f"The deck {name} has {count} pages; at most {MAX_PAGES} can be shown.",
                phase="input",
            )
        out.mkdir(parents=True, exist_ok=True)
        return [_page(document[i], i + 1, size, background, out) for i in range(count)]
    finally:
        document.close()


def _page(page: object, number: int, size: tuple[int, int], background: str, out: Path) -> Page:
    import pypdfium2 as pdfium

    assert isinstance(page, pdfium.PdfPage)
    try:
        width, height = page.get_size()  # points
        if width <= 0 or height <= 0:
            raise JobError(f"Page {number} of the deck has no size.", phase="input")
        scale = min(size[0] / width, size[1] / height)
        if width * height * scale * scale > MAX_PAGE_PIXELS:
            scale = (MAX_PAGE_PIXELS / (width * height)) ** 0.5
        drawn = page.render(scale=scale, may_draw_forms=False).to_pil().convert("RGB")
        text = page.get_textpage().get_text_range()
    except pdfium.PdfiumError as exc:
        raise JobError(f"Page {number} of the deck could not be drawn.", phase="input",
                       detail=str(exc)) from None  # fmt: skip
    finally:
        page.close()
    canvas = Image.new("RGB", size, background)
    drawn.thumbnail(size)  # never larger than the panel
    canvas.paste(drawn, ((size[0] - drawn.width) // 2, (size[1] - drawn.height) // 2))
    png = out / f"page-{number:03d}.png"
    canvas.save(png)
    return Page(number, png, text.replace("\r\n", "\n").replace("\r", "\n"))


_WORD = re.compile(r"[^\W\d_]{3,}|\d[\d.,%$€£]*")


def words(text: str) -> set[str]:
    """The words that say what a text is about: no function words, folded to lower case,
    a plural as its singular."""
    found = set()
    for word in _WORD.findall(text.lower()):
        if word in lexicon.STOPWORDS:
            continue
        found.add(word[:-1] if len(word) > 4 and word.endswith("s") else word)
    return found


def match(pages: list[Page], said: list[tuple[float, str]]) -> list[Match]:
    """When each page went up: the best forward path through the deck for the spoken
    sentences `said` (start, text), each sentence with the page it shares most words
    with, a skipped page costing SKIP_COST, a page never returned to. A page on no
    sentence is left out; the first page shown goes up at 0:00."""
    if not pages or not said:
        return []
    heard = [words(text) for _, text in said]
    shown = [words(p.text) or words(p.title) for p in pages]
    scores = [[_share(h, s) for s in shown] for h in heard]
    path = _earliest(_best_path(scores, len(pages)), scores)
    matches: list[Match] = []
    for k, page in enumerate(path):
        if matches and matches[-1].page == page + 1:
            continue
        own = [scores[j][page] for j, p in enumerate(path) if p == page]
        start = 0.0 if not matches else said[k][0]
        matches.append(Match(page + 1, round(start, 3), round(sum(own) / len(own), 3)))
    return matches


def _earliest(path: list[int], scores: list[list[float]]) -> list[int]:
    """Each page up from the first sentence that speaks of it: a sentence just before a
    change that shares as much with the new page as with the old one ("Watch folders
    are the simplest way…" under the agenda, before the watch-folders page) is the new
    page's. A sentence that shares nothing with it stays with the old one."""
    path = list(path)
    for k in range(1, len(path)):
        new, j = path[k], k - 1
        if new == path[j]:
            continue
        old = path[j]
        # never the old page's first sentence: it keeps its time up
        while j > 0 and path[j - 1] == old and 0 < scores[j][new] >= scores[j][old]:
            path[j] = new
            j -= 1
    return path


def _share(heard: set[str], shown: set[str]) -> float:
    """How much of what a sentence says is on the page (0-1)."""
    if not heard or not shown:
        return 0.0
    return len(heard & shown) / len(heard)


def _best_path(scores: list[list[float]], count: int) -> list[int]:
    """The page for each sentence: never decreasing, the sum of the shares less the
    skips' cost the highest (dynamic programming, sentences x pages)."""
    best = [scores[0][i] - SKIP_COST * i for i in range(count)]
    back: list[list[int]] = []
    for row in scores[1:]:
        came, step = [], []
        top, top_at = float("-inf"), -1  # the best earlier page to come from, skips paid
        for i in range(count):
            stay = best[i]
            move = top - SKIP_COST * (i - 1) if top_at >= 0 else float("-inf")
            # a tie goes to the move: a page goes up when its words are said, not before
            came.append(top_at if move >= stay else i)
            step.append(max(stay, move) + row[i])
            if best[i] + SKIP_COST * i > top:
                top, top_at = best[i] + SKIP_COST * i, i
        back.append(came)
        best = step
    page = max(range(count), key=lambda i: best[i])
    path = [page]
    for came in reversed(back):
        page = came[page]
        path.append(page)
    return path[::-1]
