"""Decks for the tests: a PDF written by Debian's Chromium (print to PDF), so its pages
have real text to read, each page in a colour of its own so a frame says which it is."""

from __future__ import annotations

import html
from pathlib import Path

from presgend.pipeline.text import browser

# (title, lines, background): the `talk` fixture's three topics, with a page between the
# second and third that the speaker skips
SOLAR_DECK = [
    ("Solar Power", ["Panels turn sunlight into electricity",
                     "They convert about a fifth of the sunlight", "Prices have fallen"],
     "#f4c7a1"),
    ("Battery Storage", ["Batteries keep the lights on after sunset",
                         "Home batteries store the midday surplus",
                         "Chemistry decides how long storage lasts"], "#b9e3b0"),
    ("Quarterly Revenue", ["North region up", "South region flat"], "#d0d0d0"),
    ("The Grid", ["Grid operators balance supply and demand",
                  "Smart meters shift demand to sunny hours", "Clean power made reliable"],
     "#a9c8f2"),
]  # fmt: skip


def pdf_deck(path: Path, pages: list[tuple[str, list[str], str]]) -> Path:
    """A 16:9 PDF of `pages`, one title, its bullet lines and background each."""
    from playwright.sync_api import sync_playwright

    body = "".join(
        f'<section style="background:{colour}"><h1>{html.escape(title)}</h1><ul>'
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        + "</ul></section>"
        for title, lines, colour in pages
    )
    page_css = (
        "@page{size:1280px 720px;margin:0}body{margin:0;font-family:sans-serif}"
        "section{width:1280px;height:720px;box-sizing:border-box;padding:60px;"
        "page-break-after:always;font-size:40px}h1{font-size:64px}"
    )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=browser.executable("auto"),
                                      args=["--no-sandbox"])  # fmt: skip
        try:
            page = chromium.new_page()
            page.set_content(f"<html><style>{page_css}</style><body>{body}</body></html>")
            path.write_bytes(page.pdf(width="1280px", height="720px", print_background=True))
        finally:
            chromium.close()
    return path


# (title, bullets, speaker notes, background): a narrated deck, its last slide unnarrated
NARRATED = [
    ("Solar Power", ["Sunlight to electricity"],
     "Solar panels turn sunlight into electricity for homes.", "#f4c7a1"),
    ("Battery Storage", ["Evening power"],
     "Home batteries keep the lights on after sunset.", "#b9e3b0"),
    ("Appendix", ["Sources"], "", "#a9c8f2"),
]  # fmt: skip


def pptx_deck(
    path: Path, slides: list[tuple[str, list[str], str, str]], picture: Path | None = None
) -> Path:
    """A 16:9 PowerPoint deck made with python-pptx: a title, bullets, speaker notes and a
    background colour per slide, and `picture` on the first slide."""
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.util import Inches

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    for k, (title, bullets, notes, colour) in enumerate(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        fill = slide.background.fill
        fill.solid()
        fill.fore_color.rgb = RGBColor.from_string(colour.lstrip("#"))
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for line in bullets[1:]:
            body.add_paragraph().text = line
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        if picture is not None and k == 0:
            slide.shapes.add_picture(str(picture), Inches(1), Inches(4.6), height=Inches(2.5))
    deck.save(str(path))
    return path
