"""The finish of a job: from what was decided (a `Composition`) to published files.

compose plan → compose (one ffmpeg, or the picture in parts side by side) → the final
check → the video published → the files beside it (captions, chapters, the editable
deck, the preview sheet) → the report, last. This is what both pipelines end in, and all
that a re-render runs again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend.core import files
from presgend.pipeline import publish, report
from presgend.pipeline.context import JobContext
from presgend.pipeline.text import powerpoint, slides, subtitles, summarize
from presgend.pipeline.video import compose, face, loudness, preview, probe, transcribe


@dataclass(frozen=True)
class Composition:
    """Everything a finish makes a video from: the picture and sound (`source`, probed
    as `info`), the presenter's framing, what was said, the slides and their pictures,
    and the levelling of the sound."""

    info: probe.MediaInfo
    source: compose.PresenterSource
    framing: face.Framing
    transcript: transcribe.Transcript
    sections: list[summarize.Section]
    deck: slides.Deck
    level: loudness.Leveling | None


async def finish(job: JobContext, made: Composition, work: Path) -> dict[str, Any]:
    """Compose, check and publish `made`; its report."""
    # one folder per run: a run of the same job that was stopped and wakes up must not
    # clear the folder the next run is composing into (the queue retries a job under its
    # id); owned while it runs, so no housekeeping removes it (publish.staging)
    run = f"{job.record.job_id}.{os.getpid()}.{id(job):x}"
    lease = job.config.jobs.lease_seconds
    async with publish.staging(job.outbox, run, lease) as staged:
        return await _finish(job, made, work, staged / "video.mp4")


async def _finish(job: JobContext, made: Composition, work: Path, temp: Path) -> dict[str, Any]:
    duration = made.info.duration
    chapters = subtitles.chapters([(s.start, s.title) for s in made.sections], duration)
    plan = dataclasses.replace(
        compose_plan(job, made, temp),
        chapters=text_file(work / "chapters.txt", subtitles.ffmetadata(chapters)),
        captions=text_file(work / "captions.srt", subtitles.to_srt(made.transcript.segments,
                                                                    duration)),
    )  # fmt: skip
    # the editable deck is built while ffmpeg encodes (about 0.7 CPU-s with python-pptx's
    # import, which the encode leaves room for), not after it
    deck = asyncio.ensure_future(deck_bytes(job, made.sections))
    try:
        await compose.compose(
            plan,
            lambda f: job.report_progress("compose", f * 0.97),
            parts=compose.PARTS if job.services.profile.cpu_cores > 1 else 1,
            folder=work,
        )
        verified = await compose.verify(temp, duration, job.quality)
        job.report_progress("compose", 0.98)
        await job.request.before_publish()
        video = publish.publish_video(temp, job.outbox, job.stem, job.record.sha256)
        job.published = True
    except BaseException:
        await asyncio.gather(deck, return_exceptions=True)  # its thread ends first
        raise
    outputs = beside(job.outbox, video.stem, made, chapters, await deck, verified.duration)
    sheet, audio = await asyncio.gather(
        preview_sheet(job.outbox, video, made, work), loudness.measure(video)
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
    files.write_json(publish.report_path(video), document)
    publish.published(job.outbox, record.sha256)
    job.report_progress("compose", 1.0)
    return document


def compose_plan(job: JobContext, made: Composition, output: Path) -> compose.ComposePlan:
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
    segments = made.transcript.segments
    return {
        "srt": files.write_atomic(outbox / f"{stem}.srt", subtitles.to_srt(segments, end)),
        "vtt": files.write_atomic(outbox / f"{stem}.vtt", subtitles.to_vtt(segments, end)),
        "chapters_vtt": files.write_atomic(outbox / f"{stem}.chapters.vtt",
                                             subtitles.chapters_vtt(chapters)),
        "pptx": files.write_atomic(outbox / f"{stem}.pptx", deck) if deck is not None else None,
    }  # fmt: skip


async def deck_bytes(job: JobContext, sections: list[summarize.Section]) -> bytes | None:
    """The editable deck's `.pptx`; a deck that cannot be made is a warning, not a failed
    job (the video is out by the time it is written)."""
    cfg = job.config.slides
    try:
        return await asyncio.to_thread(
            powerpoint.pptx_bytes, sections, slides.look_from(cfg), cfg.logo
        )
    except Exception as exc:  # python-pptx or a logo it cannot read
        job.record.warnings.append(
            f"The editable deck could not be written ({type(exc).__name__}: {exc})."
        )
        return None


async def preview_sheet(outbox: Path, video: Path, made: Composition, work: Path) -> Path | None:
    """The contact sheet, published beside the video before the report."""
    sections = made.sections
    first = sections[0].end / 2 if sections else 1.0
    tiles = []
    frame = await preview.presenter_frame(video, first, work / "presenter-frame.png")
    if frame is not None:
        tiles.append(preview.Tile(frame, "Presenter"))
    finals = {b.section: b.png for b in made.deck.builds}  # each slide's last build
    for section in sections:
        label = f"{section.index + 1} · {preview.clock(section.start)} · {section.title}"
        tiles.append(preview.Tile(finals[section.index], label))
    sheet = await asyncio.to_thread(preview.contact_sheet, tiles, work / "preview.jpg")
    return files.write_atomic(outbox / f"{video.stem}.preview.jpg", sheet.read_bytes())


def text_file(path: Path, text: str) -> Path | None:
    """`text` in `path`, for ffmpeg to read; None when there is nothing in it (a
    transcript with no words gives no caption track)."""
    if not text.strip() or text.strip() == ";FFMETADATA1":
        return None
    path.write_text(text, encoding="utf-8")
    return path
