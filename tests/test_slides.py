"""Slides: hostile text renders as text, Chromium makes no request, Pillow stands in."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import http.server
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import psutil
import pytest
from PIL import Image

from presgend.core.config import SlidesConfig
from presgend.pipeline.text import browser, slides
from presgend.pipeline.text.summarize import Section

LIGHT = slides.look_from(SlidesConfig())
DARK = slides.look_from(SlidesConfig(theme="dark"))
CHROMIUM = browser.executable("auto")  # what the product renders with


def _finals(deck: slides.Deck) -> list[Path]:
    """Each slide as it looks complete (its last build)."""
    return list({b.section: b.png for b in deck.builds}.values())


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
    deck = asyncio.run(
        slides.render_chromium(_hostile(port), (640, 720), tmp_path, LIGHT, CHROMIUM)
    )
    pngs = _finals(deck)
    assert [p.name for p in pngs] == ["slide-01-3.png", "slide-02-2.png"]
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
    html = slides.slide_html(section, 2, LIGHT)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=slides.CHROMIUM_FLAGS)
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
    deck = asyncio.run(slides.render_chromium([long], (640, 720), tmp_path, LIGHT, CHROMIUM))
    [png] = _finals(deck)
    assert deck.bullet_px[0] < 24, "it says how far it shrank"
    image = np.asarray(Image.open(png).convert("L"))
    # The footer band stays clear of body text: nothing dark in the bottom strip but the
    # page number on the right.
    assert (image[-60:, :400] < 100).mean() == 0


def test_cjk_glyphs_render(tmp_path: Path) -> None:
    section = Section(
        0, "太陽光発電", ["電池は夜のために電気を蓄えます", "스마트 계량기"], 0.0, 1.0, []
    )
    [png] = _finals(
        asyncio.run(slides.render_chromium([section], (640, 720), tmp_path, DARK, CHROMIUM))
    )
    image = np.asarray(Image.open(png).convert("L"))
    assert (image > 200).mean() > 0.01, "light glyphs on the dark theme"


def test_pillow_fallback_draws_every_slide(tmp_path: Path) -> None:
    sections = [
        Section(i, f"Title {i}", ["First point here", "Second point"], i, i + 1, [])
        for i in range(3)
    ]
    pngs = _finals(slides.render_pillow(sections, (640, 720), tmp_path, LIGHT))
    assert len(pngs) == 3
    for png in pngs:
        image = np.asarray(Image.open(png).convert("L"))
        assert image.shape == (720, 640) and (image < 100).mean() > 0.003


def _built(count: int, start: float = 10.0) -> Section:
    bullets = [f"Point number {k} has a few words to wrap" for k in range(count)]
    starts = [start + 4.0 * k for k in range(count)]
    return Section(0, "Top Anchored Layout", bullets, start, 60.0, [], starts, list(range(count)))


def test_builds_open_with_what_is_spoken_and_add_the_rest_in_time() -> None:
    assert slides.build_times(_built(3)) == [(10.0, 1), (14.0, 2), (18.0, 3)]
    late = dataclasses.replace(_built(2), bullet_starts=[12.0, 15.0])
    assert slides.build_times(late) == [(10.0, 0), (12.0, 1), (15.0, 2)], "title first"


@pytest.mark.parametrize("render", ["chromium", "pillow"])
def test_a_build_adds_text_and_moves_nothing(render: str, tmp_path: Path) -> None:
    section = _built(3)
    if render == "chromium":
        deck = asyncio.run(slides.render_chromium([section], (640, 720), tmp_path, LIGHT, CHROMIUM))
    else:
        deck = slides.render_pillow([section], (640, 720), tmp_path, LIGHT)
    images = [np.asarray(Image.open(b.png).convert("L")).astype(int) for b in deck.builds]
    assert len(images) == 3
    for before, after in itertools.pairwise(images):
        changed = np.flatnonzero(np.abs(after - before).max(axis=1) > 40)
        assert changed.size, "the new bullet is drawn"
        assert not (np.abs(after - before)[: changed[0]] > 0).any(), "nothing above it moved"
    blank = np.asarray(Image.open(deck.blank).convert("L"))
    assert (blank[:, 40:] < 100).mean() == 0, "the background alone: no text"


def test_a_deck_drawn_in_two_pages_is_the_deck_drawn_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four slides of three builds each, drawn in two pages side by side and in one: the
    same pictures, in time order, and the same fitted text sizes."""
    sections = [
        dataclasses.replace(_built(3, start=60.0 * i), index=i, title=f"Slide Number {i + 1}",
                            end=60.0 * (i + 1))
        for i in range(4)
    ]  # fmt: skip
    monkeypatch.setattr(slides.os, "cpu_count", lambda: 2)  # two pages on any machine
    decks = []
    for pages in (1, 2):
        monkeypatch.setattr(slides, "PAGES", pages)
        out = tmp_path / f"pages-{pages}"
        out.mkdir()
        drawn = slides.render_chromium(sections, (640, 720), out, LIGHT, CHROMIUM)
        decks.append(asyncio.run(drawn))
    one, two = decks
    assert [(b.section, b.shown, b.start, b.png.name) for b in two.builds] == [
        (b.section, b.shown, b.start, b.png.name) for b in one.builds
    ]
    assert len(one.builds) == 12 and two.bullet_px == one.bullet_px
    for a, b in zip(one.builds, two.builds, strict=True):
        assert a.png.read_bytes() == b.png.read_bytes(), b.png.name
    assert one.blank.read_bytes() == two.blank.read_bytes()


def test_brand_footer_logo_and_accent(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (200, 60), (200, 30, 30)).save(logo)
    look = slides.look_from(SlidesConfig(accent="#12a150", footer="Acme Robotics", logo=str(logo)))
    assert look.theme.accent == "#12a150" and look.logo.startswith("data:image/png;base64,")
    html = slides.slide_html(_built(1), 1, look)
    assert "Acme Robotics" in html and "text-wrap: balance" in html and "img-src data:" in html
    deck = asyncio.run(slides.render_chromium([_built(1)], (640, 720), tmp_path, look, CHROMIUM))
    image = np.asarray(Image.open(deck.builds[-1].png).convert("RGB")).astype(int)
    footer = image[-60:, :300]
    red = (footer[..., 0] > 150) & (footer[..., 1] < 80)
    assert red.mean() > 0.01, "the logo is in the footer"
    bar = image[300:400, 2]
    assert abs(bar[:, 1] - 0xA1).max() < 10, "the accent colour is used"


def test_jobs_share_one_chromium_that_comes_back_after_a_crash_and_leaves_when_idle(
    listener: tuple[int, list[str]], tmp_path: Path
) -> None:
    """Kept between decks (slides.keep_browser_seconds), a process's renders share one
    browser; a hostile deck rendered after another still makes no request; a browser
    that died is launched again; one kept is closed when its time is up, one not kept
    (the default) at once; and the next loop (a new `presgend process`) gets its own."""
    port, hits = listener
    shared = browser.SharedBrowser()

    async def render(sections: list[Section], out: Path, keep: float = 0.5) -> slides.Deck:
        out.mkdir(exist_ok=True)
        return await slides.render_chromium(
            sections, (640, 720), out, LIGHT, CHROMIUM, shared, keep
        )

    async def renders() -> list[slides.Deck]:
        decks = [
            await render([_built(2)], tmp_path / "a"),
            await render(_hostile(port), tmp_path / "b"),
        ]
        assert shared.launches == 1 and shared.running
        await shared._browser.close()  # as if Chromium crashed between two jobs
        decks.append(await render([_built(1)], tmp_path / "c"))
        assert shared.launches == 2
        await asyncio.sleep(1.0)
        assert not shared.running, "closed half a second after the last deck"
        decks.append(await render([_built(1)], tmp_path / "d", keep=0.0))
        await asyncio.sleep(0.2)
        assert shared.launches == 3 and not shared.running, "not kept: closed at once"
        return decks

    decks = asyncio.run(renders())
    for deck in decks:
        image = np.asarray(Image.open(deck.builds[-1].png).convert("L"))
        assert (image < 100).mean() > 0.005, "text was drawn"
    assert [p.name for p in _finals(decks[1])] == ["slide-01-3.png", "slide-02-2.png"]
    assert hits == []

    async def again() -> None:
        await render([_built(1)], tmp_path / "e")
        assert shared.launches == 4 and shared.running
        await shared.close()
        assert not shared.running

    asyncio.run(again())


def test_a_browser_started_ahead_serves_the_deck_or_leaves_when_none_comes(
    tmp_path: Path,
) -> None:
    """A job with a transcript beside its video starts Chromium beside its probe: the
    deck then draws in that browser (one launch, not two); started for a deck that never
    comes (the job failed), it is closed when its hold is up."""
    shared = browser.SharedBrowser()

    async def scenario() -> None:
        warming = asyncio.create_task(shared.warm(CHROMIUM, 0.5))
        await asyncio.sleep(0)  # the deck is asked for while the browser starts
        deck = await slides.render_chromium([_built(1)], (640, 720), tmp_path, LIGHT,
                                            CHROMIUM, shared)  # fmt: skip
        await warming
        assert shared.launches == 1 and not shared.running, "drawn in it, then closed"
        assert deck.builds and deck.builds[-1].png.is_file()
        await shared.warm(CHROMIUM, 0.3)
        assert shared.launches == 2 and shared.running
        await asyncio.sleep(0.8)
        assert not shared.running, "no deck came: closed when its hold was up"
        await shared.warm("/nonexistent/chromium", 0.3)  # left to the deck to report
        assert shared.launches == 2 and not shared.running

    asyncio.run(scenario())


def test_a_shot_compressed_for_speed_has_the_default_shot_s_pixels(tmp_path: Path) -> None:
    """Slides are captured with Chromium's fast PNG compression: a bigger file, the
    pixels of its default compression."""

    async def shots() -> tuple[Path, bytes]:
        shared = browser.SharedBrowser()
        try:
            async with shared.page(CHROMIUM, 0.0, 640, 720) as page:
                await page.set_content(slides.slide_html(_built(3), 4, DARK))
                await page.screenshot(tmp_path / "fast.png")
                default = await page.call("Page.captureScreenshot", {"format": "png"})
        finally:
            await shared.close()
        return tmp_path / "fast.png", base64.b64decode(default["data"])

    fast, default = asyncio.run(shots())
    (tmp_path / "default.png").write_bytes(default)
    assert fast.stat().st_size > len(default)
    same = [np.asarray(Image.open(p)) for p in (fast, tmp_path / "default.png")]
    assert same[0].shape == (720, 640, 3) and np.array_equal(*same)


def test_a_killed_process_leaves_no_chromium_behind(tmp_path: Path) -> None:
    """Chromium reads its DevTools pipe from the process that started it: when that
    process is killed (kill -9: no clean-up runs), the pipe closes and Chromium exits."""
    script = (
        "import asyncio, sys\n"
        "from presgend.pipeline.text import browser\n"
        "async def main():\n"
        f"    devtools = await browser.DevTools.launch({CHROMIUM!r})\n"
        "    print(devtools.process.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as owner:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        assert psutil.Process(pid).is_running()
        owner.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return  # exited, not yet reaped by its new parent
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)
    raise AssertionError(f"Chromium {pid} outlived the process that started it")


def test_auto_takes_the_headless_shell_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell = tmp_path / "chromium-headless-shell"
    shell.write_text("#!/bin/sh\n")
    shell.chmod(0o755)
    monkeypatch.setattr(browser, "HEADLESS_SHELL", str(shell))
    assert browser.executable("auto") == str(shell)
    assert browser.executable("/opt/chrome/chrome") == "/opt/chrome/chrome"  # as set
    monkeypatch.setattr(browser, "HEADLESS_SHELL", str(tmp_path / "absent"))
    full = tmp_path / "chromium"
    full.write_text("#!/bin/sh\n")
    full.chmod(0o755)
    monkeypatch.setattr(browser, "FULL_CHROMIUM", str(full))
    assert browser.executable("auto") == str(full)
