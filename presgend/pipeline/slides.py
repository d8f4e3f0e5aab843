"""Phase 2 slides: HTML/CSS rendered to PNG by Chromium, or drawn by Pillow as a fallback.

Chromium runs with JavaScript off and every request aborted, behind a CSP that allows
nothing external; all text is HTML-escaped. Text shrinks until it fits the panel.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from presgend.pipeline.summarize import Section

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-extensions",
    "--mute-audio",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]
LAUNCH_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Theme:
    background: str
    text: str
    muted: str
    accent: str


THEMES = {
    "professional_minimal": Theme("#f6f5f1", "#1c2433", "#5b6576", "#2f6fde"),
    "dark": Theme("#15181e", "#f1f3f7", "#a7b0c0", "#3ec7b3"),
}
FONT_STACK = "'DejaVu Sans', 'Noto Sans CJK SC', 'Noto Sans CJK JP', 'Liberation Sans', sans-serif"

_FIT_SCRIPT = """() => {
  const root = document.documentElement, box = document.querySelector('.slide');
  let scale = 1.0;
  while (scale > 0.3) {
    root.style.setProperty('--scale', scale.toFixed(2));
    if (box.scrollHeight <= box.clientHeight + 1 && box.scrollWidth <= box.clientWidth + 1) break;
    scale -= 0.05;
  }
  return scale;
}"""


def slide_html(section: Section, total: int, theme: Theme) -> str:
    e = html.escape
    bullets = "\n".join(f"<li>{e(b)}</li>" for b in section.bullets)
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
:root {{ --scale: 1; }}
* {{ box-sizing: border-box; margin: 0; padding: 0; }}
html, body {{ width: 100vw; height: 100vh; overflow: hidden; background: {theme.background}; }}
body {{ font-family: {FONT_STACK}; color: {theme.text}; }}
.slide {{ position: absolute; inset: 7vh 7vw 11vh 9vw; overflow: hidden;
  display: flex; flex-direction: column; justify-content: center; }}
.bar {{ position: absolute; left: 0; top: 0; bottom: 0; width: 1.6vw; background: {theme.accent}; }}
h1 {{ font-size: calc(7.2vw * var(--scale)); line-height: 1.15; font-weight: 700;
  overflow-wrap: anywhere; margin-bottom: calc(5vh * var(--scale)); }}
h1::after {{ content: ""; display: block; width: 14vw; height: 0.7vh; margin-top: 2.4vh;
  background: {theme.accent}; border-radius: 1vh; }}
ul {{ list-style: none; }}
li {{ font-size: calc(4.5vw * var(--scale)); line-height: 1.35; color: {theme.text};
  padding-left: 5vw; position: relative; margin-bottom: calc(2.6vh * var(--scale));
  overflow-wrap: anywhere; }}
li::before {{ content: ""; position: absolute; left: 0; top: 0.5em; width: 1.8vw; height: 1.8vw;
  border-radius: 50%; background: {theme.accent}; }}
.foot {{ position: absolute; left: 9vw; right: 7vw; bottom: 4.5vh; display: flex;
  justify-content: space-between; font-size: 2.6vw; color: {theme.muted}; }}
</style></head>
<body><div class="bar"></div>
<div class="slide"><h1>{e(section.title)}</h1><ul>{bullets}</ul></div>
<div class="foot"><span></span><span>{section.index + 1} / {total}</span></div>
</body></html>"""


async def render_chromium(
    sections: list[Section],
    size: tuple[int, int],
    out_dir: Path,
    theme_name: str,
    chromium: str,
) -> list[Path]:
    """Render every slide with one browser; raise if Chromium cannot do it."""
    from playwright.async_api import async_playwright

    theme = THEMES[theme_name]
    paths = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, timeout=LAUNCH_TIMEOUT_MS
        )
        try:
            context = await browser.new_context(
                viewport={"width": size[0], "height": size[1]},
                java_script_enabled=False,
                offline=True,
                service_workers="block",
            )
            await context.route("**/*", lambda route: route.abort())
            page = await context.new_page()
            for section in sections:
                await page.set_content(slide_html(section, len(sections), theme), wait_until="load")
                await page.evaluate(_FIT_SCRIPT)
                path = out_dir / f"slide-{section.index + 1:02d}.png"
                await page.screenshot(path=str(path), type="png")
                paths.append(path)
        finally:
            await browser.close()
    return paths


# --- Pillow fallback ----------------------------------------------------------------------

_FONT_DIRS = [
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
    Path("/System/Library/Fonts"),
]


def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    names = ["DejaVuSans-Bold.ttf"] if bold else ["DejaVuSans.ttf"]
    names += ["NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc", "Arial.ttf"]
    for name in names:
        for base in _FONT_DIRS:
            found = next(base.rglob(name), None) if base.is_dir() else None
            if found:
                return ImageFont.truetype(str(found), size)
    return ImageFont.load_default(size)


def render_pillow(
    sections: list[Section], size: tuple[int, int], out_dir: Path, theme_name: str
) -> list[Path]:
    theme = THEMES[theme_name]
    paths = []
    for section in sections:
        path = out_dir / f"slide-{section.index + 1:02d}.png"
        _draw(section, len(sections), size, theme).save(path)
        paths.append(path)
    return paths


def _draw(section: Section, total: int, size: tuple[int, int], theme: Theme) -> Image.Image:
    w, h = size
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4):
        image = Image.new("RGB", size, theme.background)
        draw = ImageDraw.Draw(image)
        draw.rectangle([0, 0, int(w * 0.016), h], fill=theme.accent)
        left, top, bottom = int(w * 0.09), int(h * 0.12), int(h * 0.86)
        width_chars = max(8, int(w * 0.82 / (w * 0.045 * scale * 0.55)))
        title_font = _font(True, int(w * 0.072 * scale))
        body_font = _font(False, int(w * 0.045 * scale))
        y = top
        for line in textwrap.wrap(section.title, max(6, int(width_chars * 0.62))):
            draw.text((left, y), line, font=title_font, fill=theme.text)
            y += int(w * 0.072 * scale * 1.2)
        y += int(h * 0.05 * scale)
        for bullet in section.bullets:
            lines = textwrap.wrap(bullet, width_chars)
            dot = int(w * 0.018)
            draw.ellipse([left, y + dot // 2, left + dot, y + dot * 3 // 2], fill=theme.accent)
            for line in lines:
                draw.text((left + int(w * 0.05), y), line, font=body_font, fill=theme.text)
                y += int(w * 0.045 * scale * 1.35)
            y += int(h * 0.026 * scale)
        if y <= bottom:
            break
    footer = _font(False, int(w * 0.026))
    draw.text(
        (int(w * 0.82), int(h * 0.92)),
        f"{section.index + 1} / {total}",
        font=footer,
        fill=theme.muted,
    )
    return image
