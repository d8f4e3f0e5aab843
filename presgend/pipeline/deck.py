"""The slide step of a job's content phase: who writes the slides (the extractive writer,
or a language model whose answers pass the fact checks), what the report warns about
them, and their pictures (Chromium behind its breaker, else drawn with Pillow).

Both pipelines (video talks and scripts) call it with their job's context.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from PIL import Image

from presgend.core import aio, inputs
from presgend.pipeline.context import RunContext
from presgend.pipeline.text import pages, slides, summarize, writer
from presgend.pipeline.video import preview


class Extractive:
    """Who writes the slides, chosen once from `summary.engine` (`WRITERS`): the
    extractive writer's slides are the summariser's, as made."""

    uses_model = False  # a server to check (`doctor`)

    async def written(
        self, job: RunContext, sections: list[summarize.Section], language: str
    ) -> list[summarize.Section]:
        return sections


class LanguageModel(Extractive):
    """A language model on an OpenAI-compatible server writes each slide; an answer that
    fails the fact checks (or does not come) leaves the extractive writer's slide."""

    uses_model = True

    async def written(
        self, job: RunContext, sections: list[summarize.Section], language: str
    ) -> list[summarize.Section]:
        cfg = job.config.summary
        breaker = job.services.breakers["summary"]
        if not breaker.allow():
            job.fallback(
                "summary", "the language model is paused after repeated failures; the "
                "extractive writer made the slides",
            )  # fmt: skip
            return sections
        outcome = await writer.rewrite(sections, cfg, language, beat=job.beat)
        if any(outcome.written) or not outcome.warnings:
            breaker.record_success()
        else:
            breaker.record_failure()
        job.record.warnings.extend(outcome.warnings)
        job.extra_report["summary"] = {
            "engine": cfg.engine,
            "model": cfg.model,
            "written_by_model": outcome.written,
            "seconds": outcome.seconds,
        }
        return outcome.sections


WRITERS: dict[str, Extractive] = {"extractive": Extractive(), "openai": LanguageModel()}


async def written(
    job: RunContext, sections: list[summarize.Section], language: str
) -> list[summarize.Section]:
    """The slides as `summary.engine`'s writer leaves them."""
    return await WRITERS[job.config.summary.engine].written(job, sections, language)


def note_sections(
    job: RunContext,
    sections: list[summarize.Section],
    sentences: list[summarize.Sentence],
    duration: float,
) -> None:
    """Warn about what the slides leave out and long stretches with no speech."""
    warnings = job.record.warnings
    for section in sections:
        if not section.bullets:
            warnings.append(
                f"Slide {section.index + 1} (“{section.title}”) has no bullets: nothing said "
                "while it is shown makes a point of its own (greetings, thanks, sentences "
                "too short or unfinished, or points an earlier slide already shows)."
            )
        for text in section.left_off:
            warnings.append(
                f'Slide {section.index + 1} was full, so this fact is only spoken: "{text}"'
            )
        others = section.no_room - len(section.left_off)
        if others > 0:
            warnings.append(
                f"Slide {section.index + 1} was full, so {others} more "
                f"sentence{'s are' if others > 1 else ' is'} only spoken "
                "(the report's slides[].omitted lists them)."
            )
    for a, b in summarize.silences(sentences, duration):
        warnings.append(
            f"Nobody speaks from {preview.clock(a)} to {preview.clock(b)}; that slide "
            "stays up the whole time."
        )


async def rendered(
    job: RunContext,
    sections: list[summarize.Section],
    work: Path,
    kept: slides.Kept | None = None,
) -> slides.Deck:
    """The slides' pictures (those `kept` from an earlier version used again), with a
    warning for text shrunk below a readable size."""
    deck = await _render(job, sections, work, kept)
    floor = slides.MIN_BULLET_PX_720P * job.quality.panel[1] / 720
    for section, px in zip(sections, deck.bullet_px, strict=True):
        if 0 < px < floor - 0.5:
            at720 = px * 720 / job.quality.panel[1]
            job.record.warnings.append(
                f"Slide {section.index + 1}'s text was shrunk to {at720:.0f} px (at 720p) "
                "to fit; shorter or fewer bullets would read better."
            )
    return deck


async def _render(
    job: RunContext, sections: list[summarize.Section], work: Path, kept: slides.Kept | None
) -> slides.Deck:
    breaker = job.services.breakers["slides"]
    cfg = job.config.slides
    size = job.quality.panel
    look = slides.look_from(cfg)
    if cfg.logo and not look.logo:
        job.record.warnings.append(
            f"The slide logo {cfg.logo} is missing or not a PNG, JPEG, SVG or WebP image."
        )
    if not breaker.allow():
        job.fallback(
            "slides", "Chromium is paused after repeated failures; slides drawn with Pillow"
        )
        return await asyncio.to_thread(slides.render_pillow, sections, size, work, look)
    try:
        browser, keep = job.services.browser, cfg.keep_browser_seconds
        deck = await aio.bounded(
            slides.render_chromium(sections, size, work, look, cfg.chromium, browser, keep,
                                   kept=kept),
            120,
        )  # fmt: skip
    except Exception as exc:  # any browser trouble: draw the slides instead
        breaker.record_failure()
        await job.services.browser.close()  # the next job gets a fresh one
        text = str(exc).strip()
        reason = text.splitlines()[0][:160] if text else type(exc).__name__
        job.fallback(
            "slides", f"Chromium could not render the slides ({reason}); drawn with Pillow"
        )
        return await asyncio.to_thread(slides.render_pillow, sections, size, work, look)
    breaker.record_success()
    return deck


async def own_deck(
    job: RunContext, pdf: Path, said: list[tuple[float, str]], duration: float, work: Path
) -> tuple[list[summarize.Section], slides.Deck]:
    """A recording's own deck (a PDF or a PowerPoint file beside it) instead of written
    slides: each page from the moment the speaker starts on it (`pages.match`), one
    slide per page shown."""
    source = pdf.name
    if source.lower().endswith(inputs.DECK_SUFFIX):  # drawn by LibreOffice first
        from presgend.pipeline.script import slideshow

        await asyncio.to_thread(slideshow.check, pdf)
        pdf = await slideshow.to_pdf(pdf, work, timeout=300, busy=job.beat)
    found = await drawn_pages(job, pdf, work)
    matched = pages.match(found, said) or [pages.Match(1, 0.0, 0.0)]
    return await page_slides(job, pdf, found, matched, duration, work, source=source)


async def drawn_pages(job: RunContext, pdf: Path, work: Path) -> list[pages.Page]:
    """The deck's pages drawn at the panel's size on the theme's background."""
    look = slides.look_from(job.config.slides)
    return await asyncio.to_thread(
        pages.read, pdf, job.quality.panel, look.theme.background, work / "pages"
    )


async def page_slides(
    job: RunContext,
    pdf: Path,
    found: list[pages.Page],
    shown: list[pages.Match],
    duration: float,
    work: Path,
    unshown: str = "matched nothing that was said",
    source: str = "",
) -> tuple[list[summarize.Section], slides.Deck]:
    """The author's pages as the slides, each `shown` from its time as designed (no
    bullets of ours, no builds); the report's `deck` says which went up when and how sure
    that is, and a warning names each page not shown."""
    size = job.quality.panel
    digest = await asyncio.to_thread(lambda: hashlib.sha256(pdf.read_bytes()).hexdigest()[:16])
    sections, builds = [], []
    for k, match in enumerate(shown):
        page = found[match.page - 1]
        end = shown[k + 1].start_s if k + 1 < len(shown) else duration
        sections.append(summarize.Section(k, page.title, [], match.start_s, end, []))
        key = f"page-{digest}-{page.number}"
        builds.append(slides.Build(k, 0, match.start_s, page.png, key=key))
    blank = work / "pages" / "blank.png"
    Image.new("RGB", size, slides.look_from(job.config.slides).theme.background).save(blank)
    source = source or pdf.name  # the deck the user gave (a PowerPoint file drawn as a PDF)
    job.extra_report["deck"] = {
        "source": source,
        "pages": len(found),
        "matched": [
            {"page": m.page, "start_s": m.start_s, "confidence": m.confidence} for m in shown
        ],
    }
    _note_pages(job, source, found, shown, unshown)
    return sections, slides.Deck(builds, blank, [0.0] * len(sections))


def _note_pages(
    job: RunContext, name: str, found: list[pages.Page], matched: list[pages.Match], why: str
) -> None:
    shown = {m.page for m in matched}
    for page in found:
        if page.number not in shown:
            job.record.warnings.append(
                f"Page {page.number} of {name} (“{page.title}”) {why}, so it is not shown."
            )
    for m in matched:
        if m.confidence < pages.MIN_CONFIDENCE:
            job.record.warnings.append(
                f"Page {m.page} of {name} is shown from {preview.clock(m.start_s)}, but "
                f"little of what was said then is on it (confidence {m.confidence:.2f}); "
                "check that the deck belongs to this recording and is in the order presented."
            )
