"""A later version of a kept job: its edit document in, the video out again, with only
what the edit touched made anew.

The probe, the framing, the transcript and the levelling are the kept job's (store.py);
a slide whose page did not change keeps its pictures; the compose encodes only the
segments whose pictures changed (a caption edit encodes nothing: the parts are joined
again with the new captions). The outputs replace the previous version's as a whole,
which stays complete until then; the report says `version` and what the edit changed.
Two edits of one job are made one after the other (the store's lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend.core import config as config_mod
from presgend.core import inputs, logs, values
from presgend.core.config import Config
from presgend.core.errors import JobError, PresetUnknown
from presgend.core.hardware import QUALITIES
from presgend.pipeline import deck, edit, finish
from presgend.pipeline.context import RunContext
from presgend.pipeline.store import Kept, Store, keep_pictures
from presgend.pipeline.text import powerpoint, summarize
from presgend.pipeline.video import compose, face, loudness, probe, talk, transcribe

log = logs.get(__name__)


@dataclass(frozen=True)
class Found:
    """What the store keeps of a job, read once for a version."""

    kept: Kept
    info: probe.MediaInfo
    framing: face.Framing
    level: loudness.Leveling | None
    transcript: transcribe.Transcript
    extra: dict[str, Any]
    recogniser: dict[str, Any]


def read_document(path: Path) -> dict[str, Any]:
    """The edit document dropped (or handed in); an approval names its job by its own
    name: `<job id>.approve` holds the job id, or is empty and named by the stem."""
    if path.name.lower().endswith(inputs.APPROVE_SUFFIX):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        return {"approve": text or path.name[: -len(inputs.APPROVE_SUFFIX)]}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JobError(
            "The edit document is not JSON (it is what `presgend edit` prints, changed).",
            phase="input", detail=str(exc),
        ) from None  # fmt: skip
    if not isinstance(data, dict) or not isinstance(data.get("job_id"), str):
        raise JobError(
            "The edit document names no job (its job_id is missing).", phase="input"
        )
    return data


async def run(job: RunContext, work: Path) -> dict[str, Any]:
    """The job for an edit document (or an approval) dropped or handed in."""
    path = job.record.input_path
    deck: list[tuple[str, list[str]]] | None = None
    if path.name.lower().endswith(inputs.DECK_SUFFIX):
        named, slides = await asyncio.to_thread(powerpoint.read_deck, path)
        if not named:
            raise JobError(
                "This PowerPoint deck names no presgend job: only a deck presgend published "
                "(<name>.pptx), edited and dropped back, is read as an edit.",
                phase="input",
            )
        doc: dict[str, Any] = {"job_id": named}
        deck = [(s.title, s.bullets) for s in slides]
    else:
        doc = read_document(path)
    named = str(doc.get("job_id") or doc.get("approve"))
    found = inputs.kept_job(job.config.paths.inbox, named)
    store = Store.of(job.config, found or named)
    if not store.exists:
        raise JobError(
            f"No job {named} is kept here to edit (its outputs may have expired, or it "
            "ran on another inbox).",
            phase="input",
        )
    async with store.locked():
        if "approve" in doc:
            doc = store.read("edit.json")
        elif deck is not None:
            doc = edit_of_deck(store, deck)
        return await render(job, store, doc, work)


def edit_of_deck(store: Store, deck: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """The kept job's edit document with the deck's titles and bullets."""
    found = load(store)
    said = summarize.sentences_from(found.transcript.segments, found.transcript.language)
    return edit.from_deck(store.read("edit.json"), deck, said, found.info.duration)


def load(store: Store) -> Found:
    analysis = store.read("analysis.json")
    return Found(
        store.kept(),
        values.from_json(probe.MediaInfo, analysis["info"]),
        values.from_json(face.Framing, analysis["framing"]),
        values.from_json(loudness.Leveling | None, analysis["level"]),  # type: ignore[arg-type]
        values.from_json(transcribe.Transcript, analysis["transcript"]),
        dict(analysis.get("extra") or {}),
        dict(analysis.get("recogniser") or {}),
    )


def talk_of(found: Found, panel: tuple[int, int]) -> edit.Talk:
    info = found.info
    return edit.Talk(found.kept.job_id, found.kept.input.get("sha256", ""), info.duration,
                     info.width, info.height, panel)  # fmt: skip


async def render(job: RunContext, store: Store, doc: dict[str, Any], work: Path) -> dict[str, Any]:
    """The next version of the job `store` keeps, made from `doc`."""
    found = load(store)
    kept = found.kept
    own = found.extra.get("deck")
    if own:
        raise JobError(
            f"This video shows its author's own deck ({own.get('source')}): to change a "
            "slide, change the deck and drop it again with the recording.",
            phase="input",
        )
    quality = QUALITIES.get(str(doc.get("quality") or kept.quality), job.quality)
    job.quality = quality
    try:
        applied = edit.apply(doc, talk_of(found, quality.panel), found.transcript)
    except edit.EditInvalid as exc:
        raise JobError(str(exc), phase="input", detail="\n".join(exc.problems)) from None
    _as_the_kept_job(job, found, applied)
    made = await job.phase("content", _composition(job, found, store, applied, work))
    previous = store.read("edit.json")
    changes = edit.changes(previous, doc)
    job.record.warnings += applied.notes
    job.record.warnings += edit.said_otherwise(made.sections, changes["slides"])
    version = finish.Version(kept.version + 1, kept.stem, store, changes)
    report = await job.phase("compose", finish.finish(job, made, work, version))
    kept.version, kept.quality, kept.status = version.number, quality.name, "ok"
    kept.stem = Path(report["output"]["video"]).stem
    store.keep(kept)
    store.write("edit.json", edit.document(
        kept.job_id, kept.input.get("sha256", ""), found.info.duration, made.sections,
        made.cues(), applied.crop, applied.theme, quality.name,
        (found.info.width, found.info.height),
    ))  # fmt: skip
    keep_pictures(store, made)
    log.info("version_published", version=version.number, edit=changes)
    return report


def _as_the_kept_job(job: RunContext, found: Found, applied: edit.Applied) -> None:
    """The report names the kept job's input, its findings and its outputs' folder;
    the theme is the edit's."""
    kept = found.kept
    record = job.record
    record.job_id = kept.job_id  # a version of that job, whatever handed the edit in
    record.kind = kept.kind
    record.label = Path(kept.input.get("path", record.input_path))
    record.sha256 = kept.input.get("sha256", record.sha256)
    job.outbox = Path(kept.outbox)
    job.stem = kept.stem
    job.extra_report.update(found.extra)
    job.recogniser.update(found.recogniser)
    with contextlib.suppress(PresetUnknown):  # its preset's looks (unless since removed)
        job.config = config_mod.with_preset(job.config, kept.preset)
    slides_cfg = dataclasses.replace(job.config.slides, theme=applied.theme)
    job.config = dataclasses.replace(job.config, slides=slides_cfg)
    talk.framing_notes(job, _framing(found, applied))  # as a first run says them


async def _composition(
    job: RunContext, found: Found, store: Store, applied: edit.Applied, work: Path
) -> finish.Composition:
    kept = found.kept
    source = compose.PresenterSource(
        store.media(kept.source["video"]), store.media(kept.source["audio"]),
        loop=bool(kept.source.get("loop")),
        audio_channels=int(kept.source.get("audio_channels") or 0),
    )  # fmt: skip
    info = dataclasses.replace(found.info, path=source.video)
    sections = applied.sections
    pictures = await deck.rendered(job, sections, work, kept=store)
    return finish.Composition(
        info, source, _framing(found, applied), found.transcript, sections, pictures,
        found.level, captions=applied.captions,
    )  # fmt: skip


def _framing(found: Found, applied: edit.Applied) -> face.Framing:
    """The kept framing, or the edit's crop for the whole talk."""
    if applied.crop is None:
        return found.framing
    return dataclasses.replace(
        found.framing, crop=[face.CropSegment(0.0, applied.crop)], method="edit", notes=[]
    )


# -- for the fronts: what they show and check before they hand an edit in ----------------


def kept_document(config: Config, job_id: str) -> tuple[Kept, dict[str, Any]] | None:
    """A kept job and its edit document as published now (None: not kept here)."""
    store = Store.of(config, job_id)
    if not store.exists:
        return None
    return store.kept(), store.read("edit.json")


def problems(config: Config, job_id: str, doc: Any) -> list[str]:
    """Every problem of `doc` as an edit of the kept job `job_id` (the fronts answer
    with them before anything is handed in)."""
    found = load(Store.of(config, job_id))
    name = doc.get("quality") if isinstance(doc, dict) else None
    quality = QUALITIES.get(str(name or found.kept.quality)) or QUALITIES["standard"]
    return edit.check(doc, talk_of(found, quality.panel))


def slide_section(slide: dict[str, Any], index: int) -> summarize.Section:
    """One slide of an edit document, as the slide pictures draw it (all its bullets)."""
    bullets = [str(b.get("text", "")) for b in slide.get("bullets", []) if isinstance(b, dict)]
    return summarize.Section(index, str(slide.get("title", "")), bullets, 0.0, 0.0, [])


def source_of(config: Config, job_id: str) -> Path | None:
    """The recording a kept job was made from (for the crop's frame)."""
    store = Store.of(config, job_id)
    if not store.exists:
        return None
    video = store.media(store.kept().source.get("video", ""))
    return video if video.is_file() else None
