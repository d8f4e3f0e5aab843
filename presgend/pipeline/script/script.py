"""Script drops: a `.txt` or `.md` becomes the same split-screen video as a talk.

    probe    read and parse the script; find the presenter picture and its face
    content  speak it sentence by sentence (exact times), slides, the presenter video
    compose  the same one-pass composition as for a video drop

Markdown headings become slide titles and list items bullets when the author wrote
them; plain prose is split into sentences and sections like a transcript.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presgend.core import hardware, inputs, logs
from presgend.core.config import Config
from presgend.core.errors import JobError
from presgend.core.hardware import HardwareProfile, Quality
from presgend.pipeline import deck as slide_step
from presgend.pipeline import finish
from presgend.pipeline.context import RunContext
from presgend.pipeline.script import presenter, slideshow, speech
from presgend.pipeline.text import pages, slides, summarize
from presgend.pipeline.text.sentences import split_sentences
from presgend.pipeline.video import compose, face, loudness, probe, transcribe

log = logs.get(__name__)

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`+|~~)(?=\S)(.+?)(?<=\S)\1")
_WORDY = re.compile(r"\w")
MAX_BULLETS = 5
WORDS_PER_SECOND = 2.6  # espeak-ng speaks about 155 words a minute


@dataclass
class Part:
    title: str | None = None
    bullets: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # what is spoken, sentence by sentence
    bullet_lines: list[int] = field(default_factory=list)  # the line each bullet is said in

    def absorb(self, other: Part) -> None:
        self.bullet_lines += [len(self.lines) + k for k in other.bullet_lines]
        self.bullets += other.bullets
        self.lines += other.lines


@dataclass
class Script:
    parts: list[Part]
    structured: bool  # the author gave headings

    @property
    def sentences(self) -> list[str]:
        return [line for part in self.parts for line in part.lines]


# --- reading ----------------------------------------------------------------------------


def read(path: Path, max_bytes: int) -> Script:
    size = path.stat().st_size
    if size > max_bytes:
        raise JobError(
            f"The script is {_size(size)}; scripts are limited to {_size(max_bytes)} "
            "(speech.max_script_bytes).",
            phase="probe",
        )
    text = inputs.decode_script(path.read_bytes())
    if not text.strip():
        raise JobError("The script is empty.", phase="probe")
    script = parse(text)
    if not any(_WORDY.search(sentence) for sentence in script.sentences):
        raise JobError("The script has no words to speak.", phase="probe")
    return script


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def clean(text: str) -> str:
    """Inline Markdown to plain words; HTML and everything else stays literal."""
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    for _ in range(2):
        text = _EMPHASIS.sub(lambda m: m.group(2), text)
    return re.sub(r"\s+", " ", text).strip()


def parse(text: str) -> Script:
    parts: list[Part] = [Part()]
    paragraph: list[str] = []
    headings = 0

    def flush() -> None:
        if paragraph:
            joined = clean(" ".join(paragraph))
            sentences = split_sentences(joined)
            parts[-1].lines.extend(s for s in sentences if _WORDY.search(s))
            paragraph.clear()

    for raw in text.splitlines():
        if _RULE.match(raw):
            flush()
            continue
        heading = _HEADING.match(raw)
        item = _ITEM.match(raw)
        if heading and _WORDY.search(clean(heading.group(2))):
            flush()
            headings += 1
            parts.append(Part(title=clean(heading.group(2))))
        elif item and _WORDY.search(clean(item.group(1))):
            flush()
            words = clean(item.group(1))
            parts[-1].bullets.append(words.rstrip(".;:"))
            parts[-1].bullet_lines.append(len(parts[-1].lines))
            spoken = words if words.endswith((".", "!", "?", "。", "！", "？")) else words + "."
            parts[-1].lines.extend(split_sentences(spoken))
        elif _WORDY.search(raw):
            paragraph.append(raw.strip())
        else:
            flush()
    flush()
    if headings == 0:
        return Script([parts[0]], structured=False)
    intro, sections = parts[0], parts[1:]
    if intro.lines:  # words before the first heading belong to the first section
        intro.absorb(sections[0])
        intro.title = sections[0].title
        sections[0] = intro
    for part in sections:
        if not part.lines and part.title:
            part.lines.append(part.title if part.title.endswith(".") else part.title + ".")
    return Script([p for p in sections if p.lines], structured=True)


def fit_parts(parts: list[Part], max_slides: int) -> list[Part]:
    """At most `max_slides` parts (0: as many as the author wrote): the extra ones join
    the last slide."""
    if max_slides <= 0 or len(parts) <= max_slides:
        return parts
    kept = parts[: max_slides - 1]
    rest = Part(title=parts[max_slides - 1].title)
    for part in parts[max_slides - 1 :]:
        rest.absorb(part)
    return [*kept, rest]


def spoken_lines(script: Script, max_slides: int) -> tuple[list[speech.Line], list[Part]]:
    parts = fit_parts(script.parts, max_slides) if script.structured else script.parts
    lines = []
    for part in parts:
        for i, text in enumerate(part.lines):
            lines.append(speech.Line(text, opens_section=script.structured and i == 0))
    return lines, parts


def estimated_times(texts: list[str]) -> list[summarize.Sentence]:
    """Sentences timed as `plan` estimates them, so sections are counted as for real."""
    found, t = [], 0.0
    for i, text in enumerate(texts):
        length = len(text.split()) / WORDS_PER_SECOND
        found.append(summarize.Sentence(text, t, t + length, i))
        t += length + 0.5
    return found


def timed_sentences(spoken: list[speech.Spoken]) -> list[summarize.Sentence]:
    """The spoken sentences; each is its own transcript segment."""
    return [summarize.Sentence(s.text, s.start, s.end, i) for i, s in enumerate(spoken)]


def sections_for(
    script: Script,
    parts: list[Part],
    sentences: list[summarize.Sentence],
    duration: float,
    max_slides: int,
    language: str = "en",
) -> list[summarize.Section]:
    if not script.structured:
        return summarize.sections_from(sentences, duration, max_slides, language)
    groups, position = [], 0
    for part in parts:
        groups.append(sentences[position : position + len(part.lines)])
        position += len(part.lines)
    given: list[list[tuple[str, int]] | None] = [
        list(zip(p.bullets, p.bullet_lines, strict=True))[:MAX_BULLETS] or None for p in parts
    ]
    return summarize.describe(
        groups, duration, titles=[p.title for p in parts], given=given, language=language
    )


# --- the job ----------------------------------------------------------------------------


async def run(job: RunContext, work: Path) -> dict[str, Any]:
    cfg = job.config
    path = job.record.input_path
    script, picture, pdf = await job.phase("probe", _probe(job, path, work))
    speech_result, sections, deck, (video, info, framing, loop) = await job.phase(
        "content", _content(job, script, picture, work, pdf)
    )
    transcript = transcribe.Transcript(
        "script",
        cfg.speech.voice,
        [transcribe.Segment(s.start, s.end, s.text) for s in speech_result.sentences],
    )
    source = compose.PresenterSource(video, speech_result.wav, loop=loop, audio_channels=1)
    level = await loudness.plan(speech_result.wav)
    made = finish.Composition(info, source, framing, transcript, sections, deck, level)
    if finish.held(job):
        return await finish.hold(job, made, work)
    return await job.phase("compose", finish.finish(job, made, work))


async def _probe(
    job: RunContext, path: Path, work: Path
) -> tuple[Script, presenter.Picture, Path | None]:
    """The script (a PowerPoint deck's notes, for a deck), the presenter's picture, and
    the deck its pages come from (a PDF beside the script, or the deck drawn as one)."""
    cfg = job.config
    pdf: Path | None
    if path.name.lower().endswith(inputs.DECK_SUFFIX):
        script, pdf = await _deck_script(job, path, work)
    else:
        script = await asyncio.to_thread(read, path, cfg.speech.max_script_bytes)
        pdf = inputs.find_beside(path, (inputs.PDF_SUFFIX,))
    picture = await asyncio.to_thread(presenter.load_picture, path, cfg.presenter, work)
    if picture.source == "default":
        job.fallback("presenter", "no presenter image was given; a branded panel is used")
    elif picture.face is None:
        job.record.warnings.append("No face was found in the presenter image; it is centred.")
    log.info(
        "script_read",
        sentences=len(script.sentences),
        structured=script.structured,
        picture=picture.source,
        face=picture.face is not None,
    )
    return script, picture, pdf


async def _deck_script(job: RunContext, path: Path, work: Path) -> tuple[Script, Path]:
    """A PowerPoint deck's speaker notes as a script, a section per slide, and the deck
    drawn as a PDF (slideshow.py). A slide without notes is an empty section (shown in
    silence, `silences`); a deck with no notes at all is an error, not a silent video."""
    await asyncio.to_thread(slideshow.check, path)
    found = await asyncio.to_thread(slideshow.slides_of, path)
    if not any(slide.notes for slide in found):
        raise JobError(
            f"The deck {path.name} has no speaker notes to say: write what is said over each "
            "slide in its notes.",
            phase="input",
        )
    pdf = await slideshow.to_pdf(path, work, timeout=120 + 10 * len(found), busy=job.beat)
    parts = []
    for slide in found:
        part = Part(title=slide.title)
        part.lines = [line for line in split_sentences(clean(slide.notes)) if _WORDY.search(line)]
        parts.append(part)
    return Script(parts, structured=True), pdf


async def _content(
    job: RunContext, script: Script, picture: presenter.Picture, work: Path, own: Path | None
) -> tuple[speech.Speech, list[summarize.Section], slides.Deck, Presenter]:
    cfg = job.config
    lines, parts = spoken_lines(script, 0 if own else cfg.slides.max_slides)
    said = await speech.synthesize(lines, cfg.speech, work, busy=job.beat)
    for message in said.fallbacks:
        job.fallback("speech", message)
    job.report_progress("content", 0.4)
    silent: dict[int, float] = {}
    if own is not None and script.structured:  # a slide without notes, shown in silence
        wait = cfg.slides.silent_slide_seconds
        silent = silences(parts, timed_sentences(said.sentences), said.duration, wait)
        said = await asyncio.to_thread(speech.with_silences, said, list(silent.values()), wait)
        silent = {k: t + wait * n for n, (k, t) in enumerate(silent.items())}
    spoken = timed_sentences(said.sentences)
    if own is not None:  # a narrated deck: the notes spoken over the author's pages
        (sections, deck), made = await asyncio.gather(
            _narrated_pages(job, own, script, parts, spoken, said.duration, work, silent),
            _presenter(job, picture, said, work),
        )
    else:
        sections = sections_for(
            script, parts, spoken, said.duration, cfg.slides.max_slides, cfg.speech.voice
        )
        if not script.structured:  # an author's own slides are kept as written
            sections = await slide_step.written(job, sections, cfg.speech.voice)
        slide_step.note_sections(job, sections, spoken, said.duration)
        deck, made = await asyncio.gather(
            slide_step.rendered(job, sections, work), _presenter(job, picture, said, work)
        )
    job.extra_report.update(
        speech={
            "engine": said.engine,
            "voice": said.voice,
            "fallbacks": said.fallbacks,
            "sentences": len(lines),
            "duration_s": round(said.duration, 3),
        },
    )
    return said, sections, deck, made


def silences(
    parts: list[Part], spoken: list[summarize.Sentence], duration: float, seconds: float
) -> dict[int, float]:
    """Where each part with nothing to say (a slide without notes) is shown in silence,
    in the narration's timeline: just before the next part's first sentence, or at the
    end; none when `seconds` is 0."""
    if seconds <= 0:
        return {}
    found, position = {}, 0
    for k, part in enumerate(parts):
        if not part.lines:
            found[k] = spoken[position].start if position < len(spoken) else duration
        position += len(part.lines)
    return found


async def _narrated_pages(
    job: RunContext,
    pdf: Path,
    script: Script,
    parts: list[Part],
    spoken: list[summarize.Sentence],
    duration: float,
    work: Path,
    silent: dict[int, float],
) -> tuple[list[summarize.Section], slides.Deck]:
    """A script with its deck (`talk.md` + `talk.pdf`, or a PowerPoint deck's notes and
    its slides drawn): with headings, section k is said over page k, from its first
    sentence (sections past the last page stay on it; a page with no section, or an empty
    one, is not shown); without headings, each page from the sentence that first speaks
    of it (`pages.match`)."""
    found = await slide_step.drawn_pages(job, pdf, work)
    shown: list[pages.Match] = []
    if not script.structured:
        said = [(s.start, s.text) for s in spoken]
        shown = pages.match(found, said) or [pages.Match(1, 0.0, 0.0)]
        return await slide_step.page_slides(job, pdf, found, shown, duration, work)
    position = 0
    for number, part in enumerate(parts[: len(found)], start=1):
        if part.lines or number - 1 in silent:  # a slide with no notes: `silences`
            at = spoken[position].start if part.lines else silent[number - 1]
            shown.append(pages.Match(number, round(at, 3) if shown else 0.0, 1.0))
        position += len(part.lines)
    if len(parts) > len(found):
        job.record.warnings.append(
            f"The notes have {len(parts)} sections and {pdf.name} {len(found)} pages: the "
            f"last {len(parts) - len(found)} are spoken over its last page."
        )
    given = job.record.input_path
    source = given.name if given.name.lower().endswith(inputs.DECK_SUFFIX) else pdf.name
    return await slide_step.page_slides(job, pdf, found, shown, duration, work,
                                        unshown="has no notes", source=source)  # fmt: skip


Presenter = tuple[Path, probe.MediaInfo, face.Framing, bool]  # video, info, framing, loop


async def _presenter(
    job: RunContext, picture: presenter.Picture, said: speech.Speech, work: Path
) -> Presenter:
    cfg = job.config
    panel = job.quality.panel
    usable, why = presenter.sadtalker_usable(cfg.presenter, job.services.profile)
    if picture.path is None:
        usable, why = False, "SadTalker needs a presenter picture"
    breaker = job.services.breakers["sadtalker"]
    if usable and breaker.allow():
        try:
            assert picture.path is not None
            video = await presenter.run_sadtalker(
                cfg.presenter, said.wav, picture.path, work, job.quality, busy=job.beat
            )
            info = dataclasses.replace(await probe.probe(video), duration=said.duration)
            breaker.record_success()
            framing = face.plan_framing(info, panel, [])  # its output is face-centred
            job.extra_report["presenter"] = {"kind": "sadtalker", "image": picture.source}
            return video, info, framing, True
        except Exception as exc:  # SadTalker is optional: any failure falls back
            breaker.record_failure()
            job.fallback("presenter", f"SadTalker failed ({str(exc)[:120]}); image presenter used")
    elif usable:
        job.fallback("presenter", "SadTalker is paused after repeated failures")
    elif cfg.presenter.sadtalker_dir:
        job.fallback("presenter", f"{why}; image presenter used")
    out = work / "presenter.mp4"
    brand = presenter.Brand(
        slides.look_from(cfg.slides), cfg.presenter.name or cfg.slides.footer, cfg.presenter.title
    )
    await presenter.animate(picture, brand, said.wav, said.duration, panel, out, busy=job.beat)
    info = dataclasses.replace(await probe.probe(out), duration=said.duration)
    box = face.Box(0, 0, panel[0], panel[1])
    framing = face.Framing(
        detected=picture.face is not None,
        face=picture.face,
        crop=[face.CropSegment(0.0, box)],
        method="haar-image" if picture.face is not None else "centre",
        samples=1,
        hits=1 if picture.face is not None else 0,
    )
    kind = "image" if picture.path is not None else "panel"
    job.extra_report["presenter"] = {"kind": kind, "image": picture.source}
    return out, info, framing, False


# --- plan -----------------------------------------------------------------------------------


async def plan(
    path: Path, cfg: Config, quality: Quality, profile: HardwareProfile, result: dict[str, Any]
) -> None:
    script = await asyncio.to_thread(read, path, cfg.speech.max_script_bytes)
    lines, parts = spoken_lines(script, cfg.slides.max_slides)
    words = sum(len(line.text.split()) for line in lines)
    duration = words / WORDS_PER_SECOND + 0.5 * len(lines)
    picture, source = presenter.find_picture(path, cfg.presenter)
    usable, why = presenter.sadtalker_usable(cfg.presenter, profile)
    engine = speech.plan_engine(cfg.speech, lines)
    details = [f"script:   {len(lines)} sentences, {words} words, about {duration:.0f} s spoken"]
    if script.structured:
        details.append("sections: from the author's headings")
        titles = [p.title or "(untitled)" for p in parts]
    else:
        sentences = estimated_times([line.text for line in lines])
        found = summarize.sections_from(
            sentences, duration, cfg.slides.max_slides, cfg.speech.voice
        )
        titles = [s.title for s in found]
        details.append(f"sections: {len(found)} found in the prose")
    for i, title in enumerate(titles, 1):
        details.append(f"  slide {i}: {title}")
    details.append("sentences:")
    details += [f"  {i:>3}. {line.text[:90]}" for i, line in enumerate(lines, 1)]
    details.append(f"speech:   {engine}")
    where = {"sidecar": f"{picture.name if picture else ''} beside the script",
             "config": f"{cfg.presenter.image} (presenter.image)",
             "default": "a panel in the slides' colours"}[source]  # fmt: skip
    if usable:
        kind = f"SadTalker talking head from {where}"
    else:
        kind = f"{where} with a level meter ({why})"
    details.append(f"presenter: {kind}")
    result["details"] = details
    result["duration_s"] = round(duration, 1)
    steps = result["steps"]
    steps.append(("read", "parse the script, find the presenter and its face", 0.5))
    per_sentence = speech.POLICIES[cfg.speech.engine].seconds_per_sentence
    steps.append(("speech", f"{len(lines)} sentences by {engine}", 1.0 + per_sentence * len(lines)))
    steps.append(("slides", f"{len(titles)} slides rendered by Chromium", 2.0))
    if usable:
        estimate = presenter.sadtalker_estimate(duration, profile)
        steps.append(("presenter", "SadTalker (slow: minutes per minute of speech)", estimate))
    else:
        steps.append(("presenter", "picture or panel with a level meter", 2.0 + duration * 0.1))
    steps.append(
        ("compose", f"{quality.width}x{quality.height} H.264, AAC",
         hardware.estimate_compose(duration, quality, profile))
    )  # fmt: skip
