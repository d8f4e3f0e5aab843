"""The content phase's slides: HTML/CSS rendered to PNG by Chromium, or drawn by Pillow.

Chromium runs with JavaScript off and every request aborted, behind a CSP that allows
nothing external; all text is HTML-escaped. Text shrinks until it fits the panel. The
layout is anchored at the top, so a bullet build adds text and moves nothing: every
build of a slide is the same page with later bullets hidden, shot once each.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import html
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont

from presgend.core import aio
from presgend.core.config import SlidesConfig
from presgend.pipeline.text import browser
from presgend.pipeline.text.summarize import Section

CHROMIUM_FLAGS = browser.CHROMIUM_FLAGS  # what tests launch with


@dataclass(frozen=True)
class Theme:
    background: str
    text: str
    muted: str
    accent: str


THEMES = {
    "light": Theme("#f7f6f2", "#1b2230", "#5b6576", "#2f6fde"),
    "dark": Theme("#14171d", "#f1f3f7", "#a7b0c0", "#3ec7b3"),
}
THEMES["professional_minimal"] = THEMES["light"]  # the original name of the light theme
FONT_STACK = (
    "'Inter', 'Source Sans 3', 'Noto Sans', 'DejaVu Sans', 'Noto Sans CJK SC', "
    "'Noto Sans CJK JP', 'Liberation Sans', sans-serif"
)
PAGES = 2  # pages drawing a deck side by side (see render_chromium)
PAGE_PICTURES = 4  # a page for each this many pictures (up to PAGES)
BUILD_TOLERANCE = 0.25  # a bullet spoken this soon after the slide opens is there at once
MIN_BULLET_PX_720P = 24.0
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".svg": "image/svg+xml", ".webp": "image/webp"}  # fmt: skip


@dataclass(frozen=True)
class Look:
    """A theme with the user's branding: accent colour, footer text, logo."""

    theme: Theme
    footer: str = ""
    logo: str = ""  # a data: URI, so the page still loads nothing


def look_from_theme(theme: str) -> Look:
    return Look(THEMES[theme])


def look_from(cfg: SlidesConfig) -> Look:
    theme = THEMES[cfg.theme]
    if cfg.accent:
        theme = dataclasses.replace(theme, accent=cfg.accent)
    return Look(theme, cfg.footer, _logo_uri(Path(cfg.logo)) if cfg.logo else "")


def _logo_uri(path: Path) -> str:
    kind = LOGO_TYPES.get(path.suffix.lower())
    if kind is None or not path.is_file():
        return ""
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@dataclass(frozen=True)
class Build:
    """One picture of the slide half: a slide with its first `shown` bullets; `key`
    names what it shows (`picture_key`), so an unchanged picture is used again."""

    section: int
    shown: int
    start: float  # when it appears
    png: Path
    key: str = ""


class Kept(Protocol):
    """Slide pictures kept from an earlier version (pipeline/store.py)."""

    def picture(self, key: str) -> Path | None: ...

    def text_size(self, key: str) -> float | None: ...


def slide_key(section: Section, total: int, look: Look, size: tuple[int, int], how: str) -> str:
    """What a slide's pictures show: its page, their size and who draws them."""
    page = slide_html(section, total, look)
    return hashlib.sha256(f"{how}\0{size}\0{page}".encode()).hexdigest()[:32]


def picture_key(slide: str, shown: int) -> str:
    return f"{slide}-{shown}"


def _kept(section: Section, key: str, kept: Kept | None) -> list[Build] | None:
    """The builds of a slide drawn before, all of them, or None."""
    if kept is None:
        return None
    found = []
    for start, shown in build_times(section):
        png = kept.picture(picture_key(key, shown))
        if png is None:
            return None
        found.append(Build(section.index, shown, start, png, picture_key(key, shown)))
    return found


@dataclass(frozen=True)
class Deck:
    builds: list[Build]  # in time order; each slide's first build opens it
    blank: Path  # the background alone, faded through between slides
    bullet_px: list[float]  # each slide's bullet size after fitting, in pixels


def build_times(section: Section) -> list[tuple[float, int]]:
    """(time, bullets shown) for each build of a slide: it opens with the bullets spoken
    within `BUILD_TOLERANCE` of its start, then adds each at its sentence's start."""
    count = len(section.bullets)
    starts = list(section.bullet_starts) or [section.start] * count
    first = sum(1 for t in starts if t <= section.start + BUILD_TOLERANCE)
    builds = [(section.start, first)]
    builds += [(max(t, section.start), k + 1) for k, t in enumerate(starts) if k >= first]
    return builds


def slide_html(section: Section, total: int, look: Look) -> str:
    e = html.escape
    theme = look.theme
    bullets = "\n".join(f"<li>{e(b)}</li>" for b in section.bullets)
    logo = f'<img class="logo" alt="" src="{look.logo}">' if look.logo else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>
:root {{ --scale: 1; }}
* {{ box-sizing: border-box; margin: 0; padding: 0; }}
html, body {{ width: 100vw; height: 100vh; overflow: hidden; background: {theme.background}; }}
body {{ font-family: {FONT_STACK}; color: {theme.text}; font-feature-settings: "ss01", "cv11";
  -webkit-font-smoothing: antialiased; }}
.bar {{ position: absolute; left: 0; top: 0; bottom: 0; width: 1.4vw; background: {theme.accent}; }}
.slide {{ position: absolute; top: 8.5vh; left: 9vw; right: 7vw; bottom: 12vh; overflow: hidden; }}
h1 {{ font-size: calc(7vw * var(--scale)); line-height: 1.12; font-weight: 700;
  letter-spacing: -0.015em; text-wrap: balance; overflow-wrap: anywhere; }}
h1::after {{ content: ""; display: block; width: 12vw; height: 0.6vh; margin: 2.6vh 0 4.4vh;
  background: {theme.accent}; border-radius: 1vh; }}
ul {{ list-style: none; }}
li {{ font-size: calc(4.6vw * var(--scale)); line-height: 1.32; padding-left: 4.6vw;
  position: relative; margin-bottom: calc(3vh * var(--scale)); text-wrap: pretty;
  overflow-wrap: anywhere; }}
li::before {{ content: ""; position: absolute; left: 0; top: 0.48em; width: 1.5vw;
  height: 1.5vw; border-radius: 50%; background: {theme.accent}; }}
li.later {{ visibility: hidden; }}
.foot {{ position: absolute; left: 9vw; right: 7vw; bottom: 4.5vh; display: flex;
  align-items: center; gap: 2vw; font-size: 2.6vw; color: {theme.muted}; }}
.foot .who {{ flex: 1; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.logo {{ height: 4.2vh; max-width: 22vw; object-fit: contain; }}
body.blank .slide, body.blank .foot {{ visibility: hidden; }}
</style></head>
<body><div class="bar"></div>
<div class="slide"><h1>{e(section.title)}</h1><ul>{bullets}</ul></div>
<div class="foot">{logo}<span class="who">{e(look.footer)}</span>
<span>{section.index + 1} / {total}</span></div>
</body></html>"""


async def render_chromium(
    sections: list[Section],
    size: tuple[int, int],
    out_dir: Path,
    look: Look,
    chromium: str,
    shared: browser.SharedBrowser | None = None,
    keep: float = 0.0,
    kept: Kept | None = None,
) -> Deck:
    """Render every build of every slide in pages of `shared` (a browser of its own,
    closed after, when none is given), kept `keep` seconds for the next deck; raise if
    Chromium cannot. A slide whose pictures are `kept` from an earlier version is not
    drawn again."""
    if shared is None:
        own = browser.SharedBrowser()
        try:
            return await render_chromium(
                sections, size, out_dir, look, chromium, own, kept=kept
            )
        finally:
            await own.close()
    keys = [slide_key(section, len(sections), look, size, "chromium") for section in sections]
    done: dict[int, tuple[list[Build], float]] = {}
    for section, key in zip(sections, keys, strict=True):
        again = _kept(section, key, kept)
        px = kept.text_size(key) if kept is not None and again else None
        if again is not None and px is not None:
            done[section.index] = (again, px)
    to_draw = [(s, k) for s, k in zip(sections, keys, strict=True) if s.index not in done]
    # the slides are drawn in pages side by side, one a core (at most PAGES): each page
    # waits on its renderer's layout and screenshots, and the job waits on the deck. The
    # 90 s talk's 10 pictures: its first segment starts encoding 0.25 s sooner. A page
    # costs a renderer (0.05 CPU-s), which a deck of a few pictures does not win back
    pictures = sum(len(build_times(section)) for section, _ in to_draw)
    pages = max(1, min(PAGES, os.cpu_count() or 1, len(to_draw), pictures // PAGE_PICTURES))
    shares = [to_draw[i::pages] for i in range(pages)]
    blank = out_dir / "slide-blank.png"

    async def draw(share: list[tuple[Section, str]], last: bool) -> None:
        async with shared.page(chromium, keep, size[0], size[1]) as page:
            for section, key in share:
                await page.set_content(slide_html(section, len(sections), look))
                px = float(await page.evaluate(_FIT_SCRIPT))
                drawn: list[Build] = []
                for start, shown in build_times(section):
                    await page.evaluate(_SHOW_SCRIPT, shown)
                    path = out_dir / f"slide-{section.index + 1:02d}-{shown}.png"
                    await page.screenshot(path)
                    drawn.append(Build(section.index, shown, start, path, picture_key(key, shown)))
                done[section.index] = (drawn, px)
            if last:
                if not share:
                    # every slide was kept: the background is still drawn from a slide's
                    # page (an empty page is white, not the theme's background)
                    await page.set_content(slide_html(sections[-1], len(sections), look))
                await page.evaluate("() => document.body.classList.add('blank')")
                await page.screenshot(blank)

    await aio.together(*(draw(share, i == len(shares) - 1) for i, share in enumerate(shares)))
    builds = [b for section in sections for b in done[section.index][0]]
    sizes = [done[section.index][1] for section in sections]
    return Deck(builds, blank, sizes)


async def slide_picture(
    section: Section,
    total: int,
    look: Look,
    size: tuple[int, int],
    chromium: str,
    shared: browser.SharedBrowser,
    out: Path,
    keep: float = 60.0,
) -> Path:
    """One slide with all its bullets, as the video will show it (the editor's picture
    of the slide being typed); the browser is kept `keep` seconds for the next."""
    async with shared.page(chromium, keep, size[0], size[1]) as page:
        await page.set_content(slide_html(section, total, look))
        await page.evaluate(_FIT_SCRIPT)
        await page.screenshot(out)
    return out


# Shrinks all the text together until the slide fits; returns the bullets' size in px.
_FIT_SCRIPT = """() => {
  const root = document.documentElement, box = document.querySelector('.slide');
  let scale = 1.0;
  while (scale > 0.3) {
    root.style.setProperty('--scale', scale.toFixed(2));
    if (box.scrollHeight <= box.clientHeight + 1 && box.scrollWidth <= box.clientWidth + 1) break;
    scale -= 0.04;
  }
  const li = document.querySelector('li');
  return li ? parseFloat(getComputedStyle(li).fontSize) : 0;
}"""
_SHOW_SCRIPT = """(shown) => {
  document.querySelectorAll('li').forEach((li, i) => li.classList.toggle('later', i >= shown));
}"""


# --- Pillow fallback ----------------------------------------------------------------------

_FONT_DIRS = [
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
    Path("/System/Library/Fonts"),
]


def font(names: tuple[str, ...], size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The first of `names` installed, at `size`; Pillow's own font if none is."""
    for name in names:
        found = _font_file(name)
        if found:
            return ImageFont.truetype(found, size)
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=32)
def _font_file(name: str) -> str:
    """Where a font file is: searched once, since a slide is drawn many times to fit."""
    for base in _FONT_DIRS:
        found = next(base.rglob(name), None) if base.is_dir() else None
        if found:
            return str(found)
    return ""


def ui_font(bold: bool, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if bold:
        return font(
            ("Inter-Bold.otf", "DejaVuSans-Bold.ttf", "NotoSansCJK-Bold.ttc", "Arial.ttf"), size
        )
    return font(
        ("Inter-Regular.otf", "DejaVuSans.ttf", "NotoSansCJK-Regular.ttc", "Arial.ttf"), size
    )


def render_pillow(
    sections: list[Section], size: tuple[int, int], out_dir: Path, look: Look
) -> Deck:
    builds, sizes = [], []
    for section in sections:
        key = slide_key(section, len(sections), look, size, "pillow")
        scale = _fit_scale(section, len(sections), size, look)
        sizes.append(size[0] * 0.046 * scale)
        for start, shown in build_times(section):
            path = out_dir / f"slide-{section.index + 1:02d}-{shown}.png"
            _draw(section, len(sections), size, look, scale, shown)[0].save(path)
            builds.append(Build(section.index, shown, start, path, picture_key(key, shown)))
    blank = out_dir / "slide-blank.png"
    _background(size, look.theme).save(blank)
    return Deck(builds, blank, sizes)


FIT_CHECK_SIZE = (640, 720)  # the standard panel: what an edit's text is checked on


def fits_at_all(section: Section, total: int, look: Look) -> bool:
    """Whether a slide's text fits at the smallest size the slides shrink it to (as the
    Pillow drawing lays it out, on the standard panel)."""
    return _draw(section, total, FIT_CHECK_SIZE, look, 0.4, len(section.bullets))[1]


def _fit_scale(section: Section, total: int, size: tuple[int, int], look: Look) -> float:
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4):
        if _draw(section, total, size, look, scale, len(section.bullets))[1]:
            return scale
    return 0.4


def _background(size: tuple[int, int], theme: Theme) -> Image.Image:
    image = Image.new("RGB", size, theme.background)
    ImageDraw.Draw(image).rectangle([0, 0, int(size[0] * 0.014), size[1]], fill=theme.accent)
    return image


def _draw(
    section: Section, total: int, size: tuple[int, int], look: Look, scale: float, shown: int
) -> tuple[Image.Image, bool]:
    """The slide with its first `shown` bullets, and whether everything fitted."""
    w, h = size
    theme = look.theme
    image = _background(size, theme)
    draw = ImageDraw.Draw(image)
    left, top, bottom = int(w * 0.09), int(h * 0.085), int(h * 0.88)
    width_chars = max(8, int(w * 0.84 / (w * 0.046 * scale * 0.55)))
    title_font = ui_font(True, int(w * 0.07 * scale))
    body_font = ui_font(False, int(w * 0.046 * scale))
    y = top
    for line in textwrap.wrap(section.title, max(6, int(width_chars * 0.62))):
        draw.text((left, y), line, font=title_font, fill=theme.text)
        y += int(w * 0.07 * scale * 1.15)
    y += int(h * 0.026)
    draw.rectangle([left, y, left + int(w * 0.12), y + max(2, int(h * 0.006))], fill=theme.accent)
    y += int(h * 0.044)
    for k, bullet in enumerate(section.bullets):
        lines = textwrap.wrap(bullet, width_chars)
        if k < shown:
            dot = int(w * 0.015)
            draw.ellipse([left, y + dot // 2, left + dot, y + dot * 3 // 2], fill=theme.accent)
            for n, line in enumerate(lines):
                x = left + int(w * 0.046)
                draw.text((x, y + n * int(w * 0.046 * scale * 1.32)), line, font=body_font,
                          fill=theme.text)  # fmt: skip
        y += len(lines) * int(w * 0.046 * scale * 1.32) + int(h * 0.03 * scale)
    footer = ui_font(False, int(w * 0.026))
    draw.text((left, int(h * 0.93)), look.footer, font=footer, fill=theme.muted)
    draw.text(
        (int(w * 0.82), int(h * 0.93)), f"{section.index + 1} / {total}", font=footer,
        fill=theme.muted,
    )  # fmt: skip
    return image, y <= bottom
