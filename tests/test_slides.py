"""Slides: hostile text renders as text, Chromium makes no request, Pillow stands in."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from presgend.pipeline import slides
from presgend.pipeline.summarize import Section


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _Recorder.hits
    finally:
        server.shutdown()
        server.server_close()


def _hostile(port: int) -> list[Section]:
    url = f"http://127.0.0.1:{port}"
    return [
        Section(
            0,
            "<script>fetch('" + url + "/js')</script>",
            [
                f"<img src={url}/img.png>",
                f"<style>@import url({url}/x.css);</style>",
                f"<link rel=stylesheet href={url}/l.css>",
            ],
            0.0,
            1.0,
            [],
        ),
        Section(
            1,
            f"@import url({url}/title.css);",
            [f"<iframe src={url}/frame></iframe>", f"url({url}/bg.png)"],
            1.0,
            2.0,
            [],
        ),
    ]


def test_hostile_text_makes_no_request(listener: tuple[int, list[str]], tmp_path: Path) -> None:
    port, hits = listener
    pngs = asyncio.run(
        slides.render_chromium(
            _hostile(port), (640, 720), tmp_path, "professional_minimal", "/usr/bin/chromium"
        )
    )
    assert [p.name for p in pngs] == ["slide-01.png", "slide-02.png"]
    for png in pngs:
        image = np.asarray(Image.open(png).convert("L"))
        assert image.shape == (720, 640)
        assert (image < 100).mean() > 0.005, "text was drawn"
    assert hits == []


def test_hostile_text_is_literal_text(listener: tuple[int, list[str]]) -> None:
    """Load the very HTML we render and read back what a viewer would see."""
    port, hits = listener
    from playwright.sync_api import sync_playwright

    section = _hostile(port)[0]
    html = slides.slide_html(section, 2, slides.THEMES["professional_minimal"])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=slides.CHROMIUM_FLAGS
        )
        context = browser.new_context(java_script_enabled=False)
        context.route("**/*", lambda route: route.abort())
        page = context.new_page()
        page.set_content(html)
        text = page.inner_text("body")
        assert page.locator("script, img, link, iframe").count() == 0
        browser.close()
    assert f"<script>fetch('http://127.0.0.1:{port}/js')</script>" in text
    assert f"<img src=http://127.0.0.1:{port}/img.png>" in text
    assert "@import url(" in text
    assert hits == []


def test_long_text_shrinks_to_fit(tmp_path: Path) -> None:
    long = Section(
        0,
        "A very long title " * 6,
        ["word " * 60, "more words " * 40, "and still more " * 30],
        0.0,
        1.0,
        [],
    )
    [png] = asyncio.run(
        slides.render_chromium(
            [long], (640, 720), tmp_path, "professional_minimal", "/usr/bin/chromium"
        )
    )
    image = np.asarray(Image.open(png).convert("L"))
    # The footer band stays clear of body text: nothing dark in the bottom strip but the
    # page number on the right.
    assert (image[-60:, :400] < 100).mean() == 0


def test_cjk_glyphs_render(tmp_path: Path) -> None:
    section = Section(
        0, "太陽光発電", ["電池は夜のために電気を蓄えます", "스마트 계량기"], 0.0, 1.0, []
    )
    [png] = asyncio.run(
        slides.render_chromium([section], (640, 720), tmp_path, "dark", "/usr/bin/chromium")
    )
    image = np.asarray(Image.open(png).convert("L"))
    assert (image > 200).mean() > 0.01, "light glyphs on the dark theme"


def test_pillow_fallback_draws_every_slide(tmp_path: Path) -> None:
    sections = [
        Section(i, f"Title {i}", ["First point here", "Second point"], i, i + 1, [])
        for i in range(3)
    ]
    pngs = slides.render_pillow(sections, (640, 720), tmp_path, "professional_minimal")
    assert len(pngs) == 3
    for png in pngs:
        image = np.asarray(Image.open(png).convert("L"))
        assert image.shape == (720, 640) and (image < 100).mean() > 0.003
