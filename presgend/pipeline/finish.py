"""The finish of a job: from what was decided (a `Composition`) to published files.

compose plan → compose (one ffmpeg, or the picture in parts side by side) → the final
check → the video published → the files beside it (captions, chapters, the editable
deck, the preview sheet) → the report, last. This is what both pipelines end in, and all
that a re-render runs again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend.core import files, logs
from presgend.core.errors import JobError
from presgend.pipeline import publish, report
from presgend.pipeline import store as store_mod
from presgend.pipeline.context import RunContext
from presgend.pipeline.text import powerpoint, slides, subtitles, summarize
from presgend.pipeline.video import compose, face, loudness, preview, probe, transcribe

log = logs.get(__name__)


@dataclass(frozen=True)
class Composition:
    """Everything a finish makes a video from: the picture and sound (`source`, probed
    as `info`), the presenter's framing, what was said, the slides and their pictures,
    the levelling of the sound, and the captions when an edit gave them (else they are
    cut from what was said)."""

    info: probe.MediaInfo
    source: compose.PresenterSource
    framing: face.Framing
    transcript: transcribe.Transcript
    sections: list[summarize.Section]
    deck: slides.Deck
    level: loudness.Leveling | None
    captions: list[transcribe.Segment] | None = None

    def cues(self) -> list[transcribe.Segment]:
        """The captions as shown: the edit's, else what was said cut into cues."""
        if self.captions is not None:
            return [c for c in self.captions if c.start < self.info.duration]
        return subtitles.cues(self.transcript.segments, self.info.duration)


@dataclass(frozen=True)
class Version:
    """A later version of a kept job (rerender.py): it replaces the outputs of `stem` as
    a whole, reuses the encoded segments `store` keeps, and the report says what changed."""

    number: int
    stem: str
    store: store_mod.Store
    changes: dict[str, Any]

    @property
    def replaces(self) -> bool:
        """A version after the first replaces one; the first (a draft approved) takes
        the name its draft held."""
        return self.number > 1


async def finish(
    job: RunContext,
    made: Composition,
    work: Path,
    version: Version | None = None,
    ahead: Awaitable[compose.Sound | None] | None = None,
) -> dict[str, Any]:
    """Compose, check and publish `made` (with its sound encoded `ahead`, when it was);
    its report. The job is kept (store.py) for later versions."""
    # one folder per run: a run of the same job that was stopped and wakes up must not
    # clear the folder the next run is composing into (the queue retries a job under its
    # id); owned while it runs, so no housekeeping removes it (publish.staging)
    run = f"{job.record.job_id}.{os.getpid()}.{id(job):x}"
    lease = job.config.jobs.lease_seconds
    kept = version.store if version else store_mod.Store.of(job.config, job.record.job_id)
    sources = identity(job, made)
    async with publish.staging(job.outbox, run, lease) as staged:
        document = await _finish(job, made, work, staged, kept, version, sources, ahead)
    if version is None:
        keep_first(job, made, document, kept, sources)
    return document


async def _finish(
    job: RunContext,
    made: Composition,
    work: Path,
    staged: Path,
    kept: store_mod.Store,
    version: Version | None,
    sources: str,
    ahead: Awaitable[compose.Sound | None] | None = None,
) -> dict[str, Any]:
    duration = made.info.duration
    temp = staged / "video.mp4"
    chapters = subtitles.chapters([(s.start, s.title) for s in made.sections], duration)
    plan = dataclasses.replace(
        compose_plan(job, made, temp),
        chapters=text_file(work / "chapters.txt", subtitles.ffmetadata(chapters)),
        captions=text_file(work / "captions.srt", subtitles.srt(made.cues())),
        identity=sources,
    )  # fmt: skip
    # the editable deck is built while ffmpeg encodes (about 0.7 CPU-s with python-pptx's
    # import, which the encode leaves room for), not after it
    deck = asyncio.ensure_future(deck_bytes(job, made.sections))
    try:
        composed = await compose.compose(
            plan,
            lambda f: job.report_progress("compose", f * 0.97),
            parts=parts(job),
            folder=work,
            reuse=kept,
            ahead=ahead,
        )
        # the sheet's presenter frame is taken from the checked file, beside its check:
        # publishing renames it, the pixels are the same
        keys = compose.keyframe_times(plan)
        verified, frame = await asyncio.gather(
            compose.verify(temp, duration, job.quality), presenter_frame(temp, made, work, keys)
        )
        job.report_progress("compose", 0.98)
        await job.request.before_publish()
        if version is not None and version.replaces:
            video = publish.replace_video(temp, job.outbox, version.stem)
        else:
            if version is not None:  # a draft approved: its name is the video's now
                publish.remove_draft(job.outbox, version.stem)
            video = publish.publish_video(temp, job.outbox, job.stem, job.record.sha256)
        job.published = True
    except BaseException:
        await asyncio.gather(deck, return_exceptions=True)  # its thread ends first
        raise
    kept.prune_parts()
    outputs = beside(job.outbox, video.stem, made, chapters, await deck, verified.duration)

    async def level() -> loudness.Loudness | None:  # the sound's, measured while encoding
        return composed.loudness if composed.heard else await loudness.measure(video)

    sheet, audio = await asyncio.gather(
        preview_sheet(job.outbox, video, made, work, frame=frame), level()
    )
    job.report_progress("compose", 0.99)
    record = job.record
    record.phases["compose"] = round(
        time.monotonic() - job.started - sum(record.phases.values()), 3
    )
    document = report.video_report(
        record, video=video, verified=verified, outputs={**outputs, "preview": sheet},
        audio=audio, made=made, quality=job.quality, preset=job.request.preset,
        recogniser=job.recogniser, total_s=time.monotonic() - job.started,
        hardware=job.services.profile.as_dict(), encoder=plan.encoder.name,
        extra=job.extra_report,
    )  # fmt: skip
    document["version"] = version.number if version else 1
    document["compose"] = {"segments": composed.segments, "encoded": composed.encoded,
                           "seconds_encoded": round(composed.seconds_encoded, 3)}  # fmt: skip
    if version is not None:
        document["edit"] = version.changes
    files.write_json(publish.report_path(video), document)
    publish.published(job.outbox, record.sha256)
    job.report_progress("compose", 1.0)
    return document


def held(job: RunContext) -> bool:
    """Whether the job stops at a draft for review (`[review] hold`). A job shown with
    its author's own deck is not held: its slides are the deck's pages, which an edit
    document cannot change (the re-render would draw our slides instead), so it is
    composed at once and the report says why."""
    if not job.config.review.hold:
        return False
    if "deck" in job.extra_report:
        job.record.warnings.append(
            "Not held for review: its slides are the author's own deck, which is changed "
            "by changing the deck and dropping it again."
        )
        return False
    return True


async def hold(job: RunContext, made: Composition, work: Path) -> dict[str, Any]:
    """A draft for review (`[review] hold`): the job is kept as awaiting_review with its
    slide pictures, and its draft goes in the outbox for a person to judge, nothing
    encoded: `<stem>.draft.jpg` (the preview sheet, a frame of the presenter as framed),
    `<stem>.edit.json` and `<stem>.pptx` to change it. Approving it (or dropping an edit)
    renders version 1."""
    kept = store_mod.Store.of(job.config, job.record.job_id)
    sources = identity(job, made)
    stem = publish.free_stem(job.outbox, job.stem)
    draft = store_mod.keep_job(kept, job, made, sources, stem=stem, version=0,
                               status="awaiting_review")  # fmt: skip
    sheet = await preview_sheet(job.outbox, None, made, work, name=f"{stem}.draft.jpg")
    outputs = {"preview": sheet,
               "edit": files.write_json(job.outbox / f"{stem}.edit.json", draft),
               "pptx": None}  # fmt: skip
    deck = await deck_bytes(job, made.sections)
    if deck is not None:
        outputs["pptx"] = files.write_atomic(job.outbox / f"{stem}.pptx", deck)
    record = job.record
    return {
        "status": "awaiting_review", "job_id": record.job_id, "input": record.input_dict(),
        "version": 0, "draft": {k: str(v) if v else None for k, v in outputs.items()},
        "slides": [{"index": s.index, "title": s.title, "bullets": s.bullets,
                    "start_s": round(s.start, 3)} for s in made.sections],
        "phases": dict(record.phases), "fallbacks": list(record.fallbacks),
        "warnings": list(record.warnings), "started_at": record.started_at,
        "finished_at": files.now_iso(),
    }  # fmt: skip


def identity(job: RunContext, made: Composition) -> str:
    """What the picture and sound sources are, whatever their paths: the input's sha256
    for a recording; a script's speech and presenter by their content."""
    if made.source.video == job.record.input_path or job.record.kind == "video":
        return job.record.sha256
    digest = hashlib.sha256()
    for path in (made.source.video, made.source.audio):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def keep_first(
    job: RunContext,
    made: Composition,
    document: dict[str, Any],
    kept: store_mod.Store,
    sources: str,
) -> None:
    """Keep what a later version needs (store.py); a job that cannot be kept is a
    warning in the log, not a failure: its video is out."""
    try:
        stem = Path(document["output"]["video"]).stem
        store_mod.keep_job(kept, job, made, sources, stem=stem)
    except OSError as exc:
        log.warning("job_not_kept", error=str(exc), reason="it cannot be edited later")


def parts(job: RunContext) -> int:
    """How many segments are encoded at a time."""
    return compose.PARTS if job.services.profile.cpu_cores > 1 else 1


async def sound_ahead(
    job: RunContext,
    info: probe.MediaInfo,
    source: compose.PresenterSource,
    framing: face.Framing,
    level: loudness.Leveling | None,
    work: Path,
) -> compose.Sound | None:
    """The sound encoded and measured while the slides are still to be made: it needs
    only the source, its framing and its level. None where the picture is one run with
    its sound, or the encode failed: compose then encodes it itself, and says why if it
    fails again."""
    unsaid = transcribe.Transcript("", "", [])
    known = Composition(info, source, framing, unsaid, [], slides.Deck([], work, []), level)
    plan = compose_plan(job, known, work / "ahead.mp4")
    if not compose.in_parts(plan, parts(job)):
        return None
    try:
        return await compose.encode_sound(plan, work / "sound-ahead.m4a")
    except JobError as exc:
        log.warning("sound_ahead_failed", error=str(exc))
        return None


def compose_plan(job: RunContext, made: Composition, output: Path) -> compose.ComposePlan:
    info, source, cfg = made.info, made.source, job.config
    return compose.ComposePlan(
        video=source.video,
        audio=source.audio,
        duration=info.duration,
        fps=compose.output_fps(info.fps, job.quality.fps_cap),
        quality=job.quality,
        crop=made.framing.crop,
        slides=cues(made.deck),
        blank=made.deck.blank,
        gain_db=made.level.gain_db if made.level else None,
        crossfade=cfg.slides.crossfade_seconds,
        encoder=compose.choose_encoder(cfg.output.encoder, job.services.profile.nvenc),
        output=output,
        loop_video=source.loop,
        audio_channels=source.audio_channels or info.audio_channels,
        threads=min(job.services.profile.cpu_cores, 16),
        captions_language=subtitles.track_language(made.transcript.language),
        burn_captions=cfg.output.burn_captions,
    )


def cues(deck: slides.Deck) -> list[compose.SlideCue]:
    """Each build in time order; the first build of a slide opens it."""
    found, previous = [], -1
    for build in deck.builds:
        found.append(compose.SlideCue(build.png, build.start, opens=build.section != previous))
        previous = build.section
    return found


def beside(
    outbox: Path,
    stem: str,
    made: Composition,
    chapters: list[subtitles.Chapter],
    deck: bytes | None,
    end: float,
) -> dict[str, Path | None]:
    """The files published beside the video: captions (none past the video's `end`),
    chapters, the deck."""
    cues = [c for c in made.cues() if c.start < end]
    return {
        "srt": files.write_atomic(outbox / f"{stem}.srt", subtitles.srt(cues)),
        "vtt": files.write_atomic(outbox / f"{stem}.vtt", subtitles.vtt(cues)),
        "chapters_vtt": files.write_atomic(outbox / f"{stem}.chapters.vtt",
                                             subtitles.chapters_vtt(chapters)),
        "pptx": files.write_atomic(outbox / f"{stem}.pptx", deck) if deck is not None else None,
    }  # fmt: skip


async def deck_bytes(job: RunContext, sections: list[summarize.Section]) -> bytes | None:
    """The editable deck's `.pptx`; a deck that cannot be made is a warning, not a failed
    job (the video is out by the time it is written). None when the slides are the
    author's own deck: a deck of their titles alone would only stand in for it."""
    if "deck" in job.extra_report:
        return None
    cfg = job.config.slides
    try:
        return await asyncio.to_thread(
            powerpoint.pptx_bytes, sections, slides.look_from(cfg), cfg.logo,
            job.record.job_id,
        )
    except Exception as exc:  # python-pptx or a logo it cannot read
        job.record.warnings.append(
            f"The editable deck could not be written ({type(exc).__name__}: {exc})."
        )
        return None


def presenter_time(made: Composition, keys: Sequence[float] = ()) -> float:
    """When the sheet shows the presenter: halfway through the first slide, or at the
    keyframe of the output's `keys` nearest that in its second and third quarters (one
    frame is decoded there, not every frame since the stretch's start: on a 90 s talk
    its ffmpeg took 0.22-0.28 CPU-s, now 0.08-0.11)."""
    if not made.sections:
        return 1.0
    end = made.sections[0].end
    near = [t for t in keys if end / 4 <= t <= 3 * end / 4]
    if not near:
        return end / 2
    # a millisecond on: a time rounded to milliseconds may fall just before the keyframe,
    # and the seek would land on the one before it
    return min(near, key=lambda t: abs(t - end / 2)) + 0.001


def presenter_frame(
    video: Path, made: Composition, work: Path, keys: Sequence[float] = ()
) -> Awaitable[Path | None]:
    """The sheet's presenter: the video's left half at `presenter_time`."""
    return preview.presenter_frame(
        video, presenter_time(made, keys), work / "presenter-frame.png"
    )


async def preview_sheet(
    outbox: Path,
    video: Path | None,
    made: Composition,
    work: Path,
    name: str = "",
    frame: Path | None = None,
) -> Path | None:
    """The contact sheet, published beside the video before the report (for a draft, with
    no video yet, the presenter is a frame of the recording as it will be framed), with
    `frame` as its presenter when it was taken already."""
    sections = made.sections
    tiles = []
    if frame is None and video is not None:
        frame = await presenter_frame(video, made, work)
    elif frame is None:
        box = made.framing.crop[0].box
        frame = await preview.source_frame(made.source.video, presenter_time(made), box,
                                           work / "presenter-frame.png")  # fmt: skip
    if frame is not None:
        tiles.append(preview.Tile(frame, "Presenter"))
    finals = {b.section: b.png for b in made.deck.builds}  # each slide's last build
    for section in sections:
        label = f"{section.index + 1} · {preview.clock(section.start)} · {section.title}"
        tiles.append(preview.Tile(finals[section.index], label))
    sheet = await asyncio.to_thread(preview.contact_sheet, tiles, work / "preview.jpg")
    name = name or f"{video.stem if video else 'draft'}.preview.jpg"
    return files.write_atomic(outbox / name, sheet.read_bytes())


def text_file(path: Path, text: str) -> Path | None:
    """`text` in `path`, for ffmpeg to read; None when there is nothing in it (a
    transcript with no words gives no caption track)."""
    if not text.strip() or text.strip() == ";FFMETADATA1":
        return None
    path.write_text(text, encoding="utf-8")
    return path
