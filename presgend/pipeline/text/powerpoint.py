"""The deck as an editable PowerPoint file (`<stem>.pptx`, written by python-pptx): one
slide per slide of the video, its title and bullets as real text in the theme's colours
and font, the logo and footer when set, and the sentences spoken over it in its
presenter notes, so the talk can be given again from the deck.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from presgend.core.inputs import DECK_JOB_MARK
from presgend.pipeline.text.slides import Look
from presgend.pipeline.text.summarize import Section

if TYPE_CHECKING:
    from pptx.text.text import TextFrame

FONT = "Inter"  # the slides' own face; an office suite without it substitutes its sans
WIDE = (12_192_000, 6_858_000)  # 13.333 x 7.5 inches: PowerPoint's 16:9, in EMU
PICTURES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")  # what a .pptx can hold as a picture
TITLE_LAYOUT, CONTENT_LAYOUT = 0, 1  # the default template's "Title Slide", "Title and Content"


JOB_MARK = DECK_JOB_MARK  # in the deck's keywords and identifier: the job it came from
FOOTER = "presgend footer"


def pptx_bytes(sections: list[Section], look: Look, logo: str = "", job_id: str = "") -> bytes:
    """The deck, one slide per section; `logo` is the configured logo's path. The deck
    names `job_id` in its document properties, so the deck edited and dropped back is
    an edit of that job."""
    from pptx import Presentation
    from pptx.util import Emu

    deck = Presentation()
    deck.slide_width, deck.slide_height = Emu(WIDE[0]), Emu(WIDE[1])
    if job_id:
        deck.core_properties.identifier = JOB_MARK + job_id
        deck.core_properties.keywords = JOB_MARK + job_id
    for section in sections:
        _slide(deck, section, look, Path(logo) if logo else None)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def _slide(deck: Any, section: Section, look: Look, logo: Path | None) -> None:
    from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
    from pptx.util import Emu, Pt

    theme = look.theme
    layout = CONTENT_LAYOUT if section.bullets else TITLE_LAYOUT
    slide = deck.slides.add_slide(deck.slide_layouts[layout])
    fill = slide.background.fill
    fill.solid()
    fill.fore_color.rgb = _rgb(theme.background)
    width, height = deck.slide_width, deck.slide_height
    margin = Emu(width // 20)
    title, body = slide.placeholders[0], slide.placeholders[1]
    title.left, title.top, title.width, title.height = (
        margin,
        margin,
        width - 2 * margin,
        Emu(height // 6),
    )
    _write(title.text_frame, [section.title], theme.text, Pt(40), bold=True)
    title.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT  # over the accent bar, as on video
    title.text_frame.vertical_anchor = MSO_ANCHOR.BOTTOM
    bar = slide.shapes.add_shape(1, margin, title.top + title.height, Emu(width // 16), Pt(4))
    bar.fill.solid()
    bar.fill.fore_color.rgb = _rgb(theme.accent)
    bar.line.fill.background()
    bar.shadow.inherit = False
    if section.bullets:
        body.left, body.top = margin, title.top + title.height + Pt(24)
        body.width, body.height = width - 2 * margin, height - body.top - 2 * margin
        _write(body.text_frame, section.bullets, theme.text, Pt(24))
    else:
        body._element.getparent().remove(body._element)  # no empty "subtitle" box
    if look.footer:
        box = slide.shapes.add_textbox(margin, height - margin, width // 2, Pt(20))
        box.name = FOOTER  # not a bullet when the deck is read back
        _write(box.text_frame, [look.footer], theme.muted, Pt(12))
    if logo is not None and logo.suffix.lower() in PICTURES and logo.is_file():
        slide.shapes.add_picture(str(logo), width - margin - Emu(width // 10), margin // 2,
                                 height=Emu(height // 14))  # fmt: skip
    spoken = " ".join(s.text for s in section.sentences)
    slide.notes_slide.notes_text_frame.text = spoken


def _write(frame: TextFrame, lines: list[str], colour: str, size: Any, bold: bool = False) -> None:
    """`lines` as the frame's paragraphs (a body placeholder bullets each one)."""
    frame.word_wrap = True
    for k, line in enumerate(lines):
        paragraph = frame.paragraphs[0] if k == 0 else frame.add_paragraph()  # type: ignore[no-untyped-call]
        paragraph.text = line
        for run in paragraph.runs:
            run.font.name = FONT
            run.font.size = size
            run.font.bold = bold
            run.font.color.rgb = _rgb(colour)


def _rgb(colour: str) -> Any:
    """A theme colour (#rrggbb, or #rgb) as PowerPoint's; grey for anything else."""
    from pptx.dml.color import RGBColor

    hex_digits = colour.strip().lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", hex_digits):
        hex_digits = "808080"
    return RGBColor.from_string(hex_digits.upper())  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class EditedSlide:
    title: str
    bullets: list[str]


def read_deck(path: Path) -> tuple[str, list[EditedSlide]]:
    """The job a deck names ("" for none) and its slides' titles and bullets as edited
    (in PowerPoint, LibreOffice, Keynote or python-pptx). The title is the slide's title
    placeholder, else its first text; the bullets are the other text's paragraphs."""
    from pptx import Presentation

    deck = Presentation(str(path))
    props = deck.core_properties
    marked = f"{props.identifier or ''} {props.keywords or ''}"
    found = re.search(re.escape(JOB_MARK) + r"([A-Za-z0-9_.-]+)", marked)
    slides = []
    for slide in deck.slides:
        texts = [s for s in slide.shapes if s.has_text_frame and s.name != FOOTER]
        title_shape = slide.shapes.title if slide.shapes.title is not None else None
        if title_shape is None and texts:
            title_shape = texts[0]
        title = " ".join(title_shape.text_frame.text.split()) if title_shape else ""
        title_id = title_shape.shape_id if title_shape is not None else None
        bullets = [
            " ".join(p.text.split())
            for shape in texts
            if shape.shape_id != title_id  # shapes are read anew each time: by their id
            for p in shape.text_frame.paragraphs
            if p.text.strip()
        ]
        slides.append(EditedSlide(title, bullets))
    return (found.group(1) if found else ""), slides
