"""The edit document: everything a viewer sees of a job's video, as JSON a person (or a
page, or an assistant) can change, checked all at once, and turned back into a
composition for the next version.

    {"version": 1, "job_id": "…", "input": {"sha256": "…", "duration_s": 92.4},
     "slides": [{"title": "…", "start_s": 0.0, "bullets": [{"text": "…", "at_s": 1.2}]}],
     "captions": [{"start_s": 0.5, "end_s": 2.9, "text": "…"}],
     "presenter": {"crop": [x, y, w, h] or null},
     "theme": "light", "quality": "standard"}

`version` is the schema's. Times are seconds of the talk. A crop is in the recording's
pixels as displayed (rotation applied); null is the automatic framing. Edits are the
author's: the fidelity rule refuses none of them, but a figure or name on an edited slide
that differs from what was said is a warning in the report.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from presgend.core.hardware import QUALITIES
from presgend.pipeline.text import fidelity, slides, summarize
from presgend.pipeline.text.summarize import Section, Sentence
from presgend.pipeline.video import face, transcribe
from presgend.pipeline.video.transcribe import Segment

SCHEMA = 1
THEMES = ("light", "dark", "professional_minimal")
MIN_CROP = 64  # pixels: a smaller presenter crop is a mistake, not a choice
TIME_SLACK = 0.05  # seconds: a time this far outside the talk is its edge


class EditInvalid(Exception):
    """An edit with problems; `problems` lists every one, each a plain sentence."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = len(problems)
        head = "The edit has a problem" if count == 1 else f"The edit has {count} problems"
        super().__init__(f"{head}: " + " ".join(problems))


@dataclass(frozen=True)
class Applied:
    """An edit document, checked, as what the finish makes a video from."""

    sections: list[Section]
    captions: list[Segment]
    crop: face.Box | None  # None: the automatic framing
    theme: str
    quality: str
    notes: list[str]  # what was adjusted, and the fidelity warnings


# -- making one ------------------------------------------------------------------------


def document(
    job_id: str,
    sha256: str,
    duration: float,
    sections: list[Section],
    captions: list[Segment],
    crop: face.Box | None,
    theme: str,
    quality: str,
    size: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """The edit document of a version as it is (`size`: the recording as displayed, what
    a crop is measured in)."""
    return {
        "version": SCHEMA,
        "job_id": job_id,
        "input": {
            "sha256": sha256,
            "duration_s": round(duration, 3),
            "width": size[0],
            "height": size[1],
        },
        "slides": [
            {
                "title": s.title,
                "start_s": round(s.start, 3),
                "bullets": [
                    {"text": text, "at_s": round(at, 3)}
                    for text, at in zip(s.bullets, _starts(s), strict=True)
                ],
            }
            for s in sections
        ],
        "captions": [
            {"start_s": round(c.start, 3), "end_s": round(c.end, 3), "text": c.text}
            for c in captions
        ],
        "presenter": {"crop": crop.as_list() if crop else None},
        "theme": theme,
        "quality": quality,
    }


def _starts(section: Section) -> list[float]:
    return list(section.bullet_starts) or [section.start] * len(section.bullets)


def from_deck(
    kept: dict[str, Any], deck: list[tuple[str, list[str]]], said: list[Sentence], duration: float
) -> dict[str, Any]:
    """The edit a deck makes of the kept document: its titles and bullets as the deck
    now has them, slide by slide. A bullet still worded as before keeps its time; a new
    or rewritten one appears when the sentence it says best is spoken (on its slide). A
    slide the deck adds starts at the sentence its words match best after the one before;
    slides it removed are gone. Captions, crop, theme and quality stay as they were."""
    before = kept.get("slides", [])
    slides: list[dict[str, Any]] = []
    for i, (title, bullets) in enumerate(deck):
        start = float(before[i]["start_s"]) if i < len(before) else _placed(
            title, bullets, said, slides[-1]["start_s"] if slides else 0.0, duration
        )
        slides.append({"title": title, "start_s": 0.0 if i == 0 else start, "bullets": []})
    ends = [s["start_s"] for s in slides[1:]] + [duration]
    for i, ((_, bullets), slide) in enumerate(zip(deck, slides, strict=True)):
        timed = {b["text"]: b["at_s"] for b in (before[i]["bullets"] if i < len(before) else [])}
        span = [s for s in said if slide["start_s"] - TIME_SLACK <= s.start < ends[i]]
        previous = slide["start_s"]
        for text in bullets:
            at = timed.get(text)
            if at is None:  # after the bullet above it: builds appear in order
                at = max(previous, _best_sentence(text, span, previous))
            previous = max(previous, at)
            slide["bullets"].append({"text": text, "at_s": round(at, 3)})
    return {**kept, "slides": slides}


def _best_sentence(text: str, spoken: list[Sentence], otherwise: float) -> float:
    """When the sentence whose words `text` shares most is spoken (`otherwise` if none
    shares a word)."""
    words = fidelity.stems(text)
    best = max(spoken, key=lambda s: len(words & fidelity.stems(s.text)), default=None)
    if best is None or not words & fidelity.stems(best.text):
        return otherwise
    return max(otherwise, best.start)


def _placed(
    title: str, bullets: list[str], said: list[Sentence], after: float, duration: float
) -> float:
    """Where a slide the deck adds starts: at the sentence after `after` its words match
    best, else halfway through what is left."""
    later = [s for s in said if s.start > after + 1.0]
    at = _best_sentence(" ".join([title, *bullets]), later, -1.0)
    return round(at if at > after else (after + duration) / 2, 3)


# -- checking one ----------------------------------------------------------------------


@dataclass(frozen=True)
class Talk:
    """What an edit is checked against: the kept job."""

    job_id: str
    sha256: str
    duration: float
    width: int  # the recording as displayed
    height: int
    panel: tuple[int, int]  # the presenter half, for the crop's shape


def check(doc: Any, talk: Talk) -> list[str]:
    """Every problem of `doc`, each a plain sentence ([] when it can be rendered)."""
    if not isinstance(doc, dict):
        return ["An edit is a JSON object (the document `presgend edit` prints)."]
    problems = _check_header(doc, talk)
    problems += _check_slides(doc.get("slides"), talk.duration)
    problems += _check_captions(doc.get("captions", []), talk.duration)
    problems += _check_crop(doc.get("presenter", {}), talk)
    if doc.get("theme", "light") not in THEMES:
        problems.append(f"The theme must be one of {', '.join(THEMES)}, not {doc['theme']!r}.")
    if doc.get("quality", "standard") not in QUALITIES:
        problems.append(
            f"The quality must be one of {', '.join(QUALITIES)}, not {doc['quality']!r}."
        )
    return problems


def _check_header(doc: dict[str, Any], talk: Talk) -> list[str]:
    problems = []
    if doc.get("version", SCHEMA) != SCHEMA:
        problems.append(f"This edit document is version {doc.get('version')!r}; "
                        f"this presgend reads version {SCHEMA}.")  # fmt: skip
    if doc.get("job_id") not in (None, talk.job_id):
        problems.append(f"This edit is for job {doc.get('job_id')}, not {talk.job_id}.")
    sha = (doc.get("input") or {}).get("sha256")
    if sha not in (None, talk.sha256):
        problems.append("This edit was made for another recording (its input's sha256 differs).")
    return problems


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _check_slides(found: Any, duration: float) -> list[str]:
    if not isinstance(found, list) or not found:
        return ["An edit needs at least one slide."]
    problems: list[str] = []
    starts: list[float | None] = []
    for n, slide in enumerate(found, start=1):
        if not isinstance(slide, dict):
            problems.append(f"Slide {n} is not an object with a title, start_s and bullets.")
            starts.append(None)
            continue
        problems += _check_slide(n, slide, duration)
        starts.append(_number(slide.get("start_s")))
    if starts[0] is not None and starts[0] > TIME_SLACK:
        problems.append("Slide 1 must start at 0:00.0 (it is shown from the start).")
    known = [(n, t) for n, t in enumerate(starts, start=1) if t is not None]
    for (a, ta), (b, tb) in itertools.pairwise(known):
        if tb <= ta:
            problems.append(f"Slide {b} starts at {_clock(tb)}, not after slide {a} "
                            f"({_clock(ta)}): slides must be in order.")  # fmt: skip
    # a slide's bullets are checked against its span where that span makes sense (its
    # start and end inside the talk and in order: else that is the problem said)
    starts[0] = 0.0  # the first slide is shown from the start whatever it says
    ends = [*starts[1:], duration]
    for n, (slide, start, end) in enumerate(zip(found, starts, ends, strict=True), start=1):
        inside = start is not None and end is not None and 0 <= start < end <= duration
        if isinstance(slide, dict) and inside:
            problems += _check_bullet_times(n, slide, start or 0.0, end or duration)
    problems += _check_fit(found)
    return problems


def _check_slide(n: int, slide: dict[str, Any], duration: float) -> list[str]:
    problems = []
    title = slide.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(f"Slide {n} has no title.")
    start = _number(slide.get("start_s"))
    if start is None:
        problems.append(f"Slide {n}'s start_s is not a number of seconds.")
    elif not -TIME_SLACK <= start < duration:
        problems.append(f"Slide {n} starts at {_clock(start)}, outside the talk "
                        f"(0:00.0 to {_clock(duration)}).")  # fmt: skip
    bullets = slide.get("bullets", [])
    if not isinstance(bullets, list):
        return [*problems, f"Slide {n}'s bullets are not a list."]
    for k, bullet in enumerate(bullets, start=1):
        text = bullet.get("text") if isinstance(bullet, dict) else None
        if not isinstance(text, str) or not text.strip():
            problems.append(f"Slide {n}'s bullet {k} has no text.")
        if not isinstance(bullet, dict) or _number(bullet.get("at_s")) is None:
            problems.append(f"Slide {n}'s bullet {k} has no at_s time.")
    return problems


def _check_bullet_times(n: int, slide: dict[str, Any], start: float, end: float) -> list[str]:
    problems = []
    previous = start
    for k, bullet in enumerate(slide.get("bullets", []), start=1):
        at = _number(bullet.get("at_s")) if isinstance(bullet, dict) else None
        if at is None:
            continue
        if not start - TIME_SLACK <= at < end:
            problems.append(f"Slide {n}'s bullet {k} appears at {_clock(at)}, outside its "
                            f"slide ({_clock(start)} to {_clock(end)}).")  # fmt: skip
        elif at < previous - TIME_SLACK:
            problems.append(f"Slide {n}'s bullet {k} appears at {_clock(at)}, before the "
                            f"bullet above it ({_clock(previous)}).")  # fmt: skip
        previous = max(previous, at)
    return problems


def _check_fit(found: list[Any]) -> list[str]:
    """Text that will not fit on its slide even at the smallest size the slides shrink
    to, measured as the Pillow drawing lays it out (the same box and fonts)."""
    problems = []
    total = len(found)
    look = slides.look_from_theme("light")
    for n, slide in enumerate(found, start=1):
        if not isinstance(slide, dict):
            continue
        bullets = [b.get("text", "") for b in slide.get("bullets", []) if isinstance(b, dict)]
        section = Section(n - 1, str(slide.get("title", "")), [str(b) for b in bullets],
                          0.0, 0.0, [])  # fmt: skip
        if not slides.fits_at_all(section, total, look):
            problems.append(f"Slide {n}'s text will not fit on the slide: shorten its title "
                            "or bullets, or split it into two slides.")  # fmt: skip
    return problems


def _check_captions(found: Any, duration: float) -> list[str]:
    if not isinstance(found, list):
        return ["The captions are not a list."]
    problems = []
    previous_end: float | None = None
    for k, cue in enumerate(found, start=1):
        if not isinstance(cue, dict):
            problems.append(f"Caption {k} is not an object with start_s, end_s and text.")
            continue
        start, end = _number(cue.get("start_s")), _number(cue.get("end_s"))
        if not isinstance(cue.get("text"), str) or not cue["text"].strip():
            problems.append(f"Caption {k} has no text.")
        if start is None or end is None:
            problems.append(f"Caption {k}'s start_s and end_s must be numbers of seconds.")
            continue
        if end <= start:
            problems.append(f"Caption {k} ends ({_clock(end)}) before it starts "
                            f"({_clock(start)}).")  # fmt: skip
        if start < -TIME_SLACK or end > duration + TIME_SLACK:
            problems.append(f"Caption {k} ({_clock(start)} to {_clock(end)}) is outside the "
                            f"talk (0:00.0 to {_clock(duration)}).")  # fmt: skip
        if previous_end is not None and start < previous_end - 1e-3:
            problems.append(f"Caption {k} starts at {_clock(start)}, before caption "
                            f"{k - 1} ends ({_clock(previous_end)}): captions may not "
                            "overlap.")  # fmt: skip
        previous_end = max(end, previous_end or end)
    return problems


def _check_crop(presenter: Any, talk: Talk) -> list[str]:
    crop = presenter.get("crop") if isinstance(presenter, dict) else None
    if crop is None:
        return []
    if (not isinstance(crop, list) or len(crop) != 4
            or any(_number(v) is None for v in crop)):  # fmt: skip
        return ["The presenter's crop is [x, y, width, height] in the recording's pixels, "
                "or null for the automatic framing."]  # fmt: skip
    x, y, w, h = (float(v) for v in crop)
    problems = []
    if w < MIN_CROP or h < MIN_CROP:
        problems.append(f"The presenter's crop is {w:.0f}x{h:.0f}; it must be at least "
                        f"{MIN_CROP}x{MIN_CROP} pixels.")  # fmt: skip
    if x < 0 or y < 0 or x + w > talk.width or y + h > talk.height:
        problems.append(f"The presenter's crop ({x:.0f}, {y:.0f}, {w:.0f}x{h:.0f}) goes "
                        f"outside the {talk.width}x{talk.height} recording.")  # fmt: skip
    return problems


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


# -- applying one ----------------------------------------------------------------------


def apply(doc: dict[str, Any], talk: Talk, transcript: transcribe.Transcript) -> Applied:
    """A checked document as slides, captions and a crop (EditInvalid with every problem
    when it cannot be rendered)."""
    problems = check(doc, talk)
    if problems:
        raise EditInvalid(problems)
    notes: list[str] = []
    sentences = summarize.sentences_from(transcript.segments, transcript.language)
    sections = _sections(doc["slides"], talk.duration, sentences)
    captions = [
        Segment(float(c["start_s"]), min(float(c["end_s"]), talk.duration), c["text"].strip())
        for c in doc.get("captions", [])
    ]
    crop = _crop((doc.get("presenter") or {}).get("crop"), talk, notes)
    theme = doc.get("theme", "light")
    return Applied(sections, captions, crop, theme, doc.get("quality", "standard"), notes)


def _sections(found: list[dict[str, Any]], duration: float, said: list[Sentence]) -> list[Section]:
    starts = [0.0] + [float(s["start_s"]) for s in found[1:]]
    ends = [*starts[1:], duration]
    sections = []
    for i, (slide, start, end) in enumerate(zip(found, starts, ends, strict=True)):
        bullets = [b["text"].strip() for b in slide.get("bullets", [])]
        at = [max(start, float(b["at_s"])) for b in slide.get("bullets", [])]
        spoken = [s for s in said if start - TIME_SLACK <= s.start < end]
        sources = [_nearest(spoken, t) for t in at]
        sections.append(Section(i, slide["title"].strip(), bullets, start, end, spoken,
                                bullet_starts=at, sources=sources))  # fmt: skip
    return sections


def _nearest(spoken: list[Sentence], at: float) -> int:
    """The transcript segment of the sentence spoken nearest `at` (-1: none)."""
    if not spoken:
        return -1
    return min(spoken, key=lambda s: abs(s.start - at)).source


def _crop(crop: Any, talk: Talk, notes: list[str]) -> face.Box | None:
    """The crop, in even pixels and the panel's shape: a crop of another shape is grown
    or shrunk about its centre to the panel's, and the report says so."""
    if crop is None:
        return None
    x, y, w, h = (float(v) for v in crop)
    aspect = talk.panel[0] / talk.panel[1]
    if abs(w / h - aspect) > 0.01 * aspect:
        cx, cy = x + w / 2, y + h / 2
        h = min(h, talk.height, w / aspect if w / aspect <= talk.height else talk.height)
        w = min(h * aspect, talk.width)
        h = w / aspect
        x = min(max(cx - w / 2, 0), talk.width - w)
        y = min(max(cy - h / 2, 0), talk.height - h)
        notes.append(f"The presenter's crop was made {w:.0f}x{h:.0f} to have the panel's "
                     f"shape ({talk.panel[0]}:{talk.panel[1]}).")  # fmt: skip
    even = [int(v) // 2 * 2 for v in (x, y, w, h)]
    return face.Box(*even)


# -- what changed, and what differs from what was said ---------------------------------


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What an edit changed, for the report's `edit`."""
    old, new = before.get("slides", []), after.get("slides", [])
    changed = [n for n, slide in enumerate(new) if n >= len(old) or slide != old[n]]
    bullets = sum(
        1
        for n, slide in enumerate(new)
        for k, bullet in enumerate(slide.get("bullets", []))
        if n >= len(old) or k >= len(old[n].get("bullets", [])) or bullet != old[n]["bullets"][k]
    )
    return {
        "slides": changed,
        "slides_added": max(0, len(new) - len(old)),
        "slides_removed": max(0, len(old) - len(new)),
        "bullets": bullets,
        "captions": before.get("captions") != after.get("captions"),
        "crop": (before.get("presenter") or {}).get("crop")
        != (after.get("presenter") or {}).get("crop"),
        "theme": before.get("theme") != after.get("theme"),
        "quality": before.get("quality") != after.get("quality"),
    }


def said_otherwise(sections: list[Section], edited: list[int]) -> list[str]:
    """A warning for each figure or name on an edited slide that the speaker did not say
    while it was up: "Slide 2 says $90,000; the speaker said $85,000"."""
    warnings = []
    for section in sections:
        if section.index not in edited:
            continue
        spoken = " ".join(s.text for s in section.sentences)
        heard = fidelity.facts(spoken)
        shown = " ".join([section.title, *section.bullets])
        put = fidelity.facts(shown)
        n = section.index + 1
        for value in put.values:
            if value in heard.values:
                continue
            alike = [v for v in heard.values if v[0] == value[0]]
            said = (f"the speaker said {', '.join(fidelity.shown_value(v) for v in alike)}"
                    if alike else "the speaker did not say it")  # fmt: skip
            warnings.append(f"Slide {n} says {fidelity.shown_value(value)}; {said}.")
        spoken_words = fidelity.words(spoken)
        bullets = " ".join(section.bullets)  # a title is in Title Case: its capitals say little
        for name in sorted(fidelity.names(bullets)):
            if name not in spoken_words:
                written = next((w for w in bullets.split() if w.strip(".,;:!?").lower() == name),
                               name)  # fmt: skip
                warnings.append(f"Slide {n} names {written.strip('.,;:!?')}, which the speaker "
                                "did not say while it was up.")  # fmt: skip
    return warnings


def clock(seconds: float) -> str:
    """m:ss.s, as the editor shows times."""
    return _clock(seconds)

