"""The video job, top-down: probe (the file, the presenter's framing, the sound's level,
and the speech, recognised beside them), content (the transcript, the sections and their
slides), then the finish every job ends in.

What the probe and the transcript find is one value, an `Analysis`, which a re-render
uses again instead of finding it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presgend.core import aio, inputs, logs
from presgend.core.errors import JobError
from presgend.pipeline import deck, finish
from presgend.pipeline.context import RunContext
from presgend.pipeline.text import resentence, slides, summarize
from presgend.pipeline.video import compose, face, loudness, preview, probe, repetition, transcribe

# how long a browser started ahead of the slides waits for them before it is closed
WARM_SECONDS = 30.0
MAX_UPSCALE = 1.5  # enlarging the presenter more than this is worth a warning

log = logs.get(__name__)


@dataclass(frozen=True)
class Analysis:
    """What a video talk's probe and transcript found: kept with the job, so that a
    re-render frames, levels and times the same talk without looking at it again."""

    info: probe.MediaInfo
    framing: face.Framing
    level: loudness.Leveling | None
    transcript: transcribe.Transcript


@dataclass(frozen=True)
class Content:
    analysis: Analysis
    sections: list[summarize.Section]
    deck: slides.Deck


async def run(job: RunContext, work: Path) -> dict[str, Any]:
    talk = Talk(job, work)
    try:
        content = await talk.run()
        found = content.analysis
        made = finish.Composition(
            found.info, talk.source(found.info), found.framing, found.transcript,
            content.sections, content.deck, found.level,
        )  # fmt: skip
        job.keep_analysis(found)
        if finish.held(job):
            return await finish.hold(job, made, work)
        return await job.phase("compose", finish.finish(job, made, work, ahead=talk.sound))
    finally:
        await talk.stop_early_work()


class Talk:
    """One video's probe and content phases, with the work they start early: the
    recogniser (from the moment the audio is out) and, with a sidecar, the slides."""

    def __init__(self, job: RunContext, work: Path) -> None:
        self.job = job
        self.work = work
        self.recognising: asyncio.Task[transcribe.Transcript] | None = None
        # a sidecar's slides, made while the probe phase frames the presenter
        self.early_content: asyncio.Task[tuple[Any, ...]] | None = None
        self.sidecar: Path | None = None  # the transcript dropped with the video
        self.own_deck: Path | None = None  # the author's deck (PDF or PowerPoint) beside it
        self.told: transcribe.Transcript | None = None  # and what it says
        # the sound, encoded from the end of the probe phase while the slides are made
        self.sound: asyncio.Task[compose.Sound | None] | None = None
        self.warming: asyncio.Task[None] | None = None  # Chromium, started for the slides

    def source(self, info: probe.MediaInfo) -> compose.PresenterSource:
        return compose.PresenterSource(info.path, info.path, loop=False)

    async def run(self) -> Content:
        job = self.job
        info, framing, wav, level = await job.phase("probe", self.probe_phase())
        if not finish.held(job):  # the cores have room while the words become slides
            ahead = finish.sound_ahead(job, info, self.source(info), framing, level, self.work)
            self.sound = asyncio.create_task(ahead)
            self.sound.add_done_callback(aio.consume)
        transcript, sections, slides_deck = await job.phase(
            "content", self.early_content or self.content_phase(info, wav)
        )
        return Content(Analysis(info, framing, level, transcript), sections, slides_deck)

    async def stop_early_work(self) -> None:
        """A recognition or the slides started beside the probe are not awaited until the
        content phase, nor the sound until the compose: when the job ends before that,
        they (and their child processes) are stopped here."""
        for task in (self.warming, self.recognising, self.early_content, self.sound):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    # -- probe ---------------------------------------------------------------------------

    async def probe_phase(
        self,
    ) -> tuple[probe.MediaInfo, face.Framing, Path | None, loudness.Leveling | None]:
        job = self.job
        self.sidecar = sidecar = transcribe.find_sidecar(job.record.input_path)
        self.own_deck = inputs.find_beside(
            job.record.input_path, (inputs.PDF_SUFFIX, inputs.DECK_SUFFIX)
        )
        self.warm_browser()
        info = await probe.probe(job.record.input_path)
        if info.duration < 1.0:
            raise JobError("The video is shorter than one second.", phase="probe")
        if not info.has_audio and sidecar is None:
            raise JobError(
                "The video has no audio track and no transcript was dropped with it.", phase="probe"
            )
        if not info.has_audio:
            raise JobError(
                "The video has no audio track to put under the presentation.", phase="probe"
            )
        if sidecar is not None:
            self.told = transcribe.read_sidecar(
                sidecar, info.duration, job.config.transcription.language
            )
        needs_audio = sidecar is None or self.may_hear_punctuation()
        if not needs_audio:  # the slides need only the sidecar: made beside the framing
            self.early_content = asyncio.create_task(self.content_phase(info, None))
            self.early_content.add_done_callback(aio.consume)
        job.report_progress("probe", 0.1)
        steps = aio.Steps(lambda f: job.report_progress("probe", 0.1 + 0.9 * f), 3)
        framing, wav, level = await asyncio.gather(
            steps.counted(self.framing(info)),
            steps.counted(self.listen(info, self.work / "audio.wav") if needs_audio
                          else aio.nothing()),
            steps.counted(loudness.plan(info.path, timeout=60 + info.duration)),
        )  # fmt: skip
        if info.variable_frame_rate:
            job.record.warnings.append(
                "The input has a variable frame rate; the output is constant-rate."
            )
        if level is None:
            job.record.warnings.append("The sound is silent or unmeasurable; it is not levelled.")
        return info, framing, wav, level

    def warm_browser(self) -> None:
        """With a transcript beside the video (and no deck of the author's), the slides
        are drawn as soon as the video is probed: Chromium is started now, beside the
        probe, not after it. Not for a video that is heard first: the browser would wait
        the recognition out."""
        job = self.job
        if self.sidecar is None or self.own_deck is not None:
            return
        if not job.services.breakers["slides"].allow():
            return
        cfg = job.config.slides
        self.warming = asyncio.create_task(
            job.services.browser.warm(cfg.chromium, max(cfg.keep_browser_seconds, WARM_SECONDS))
        )
        self.warming.add_done_callback(aio.consume)

    async def framing(self, info: probe.MediaInfo) -> face.Framing:
        job = self.job
        panel = job.quality.panel
        breaker = job.services.breakers["face"]
        if breaker.allow():
            try:
                framing = await face.find_framing(info, panel)
                breaker.record_success()
            except Exception as exc:  # OpenCV trouble must not fail the job
                breaker.record_failure()
                job.fallback(
                    "face", f"face detection failed ({type(exc).__name__}); centred crop used"
                )
                framing = face.plan_framing(info, panel, [])
        else:
            job.fallback(
                "face", "face detection is paused after repeated failures; centred crop used"
            )
            framing = face.plan_framing(info, panel, [])
        framing_notes(job, framing)
        return framing

    async def listen(self, info: probe.MediaInfo, wav: Path) -> Path:
        """Extract the audio and start recognising it at once: the recogniser then runs
        beside face detection and loudness measurement instead of after them."""
        await probe.extract_audio(info, wav)
        self.recognising = asyncio.create_task(self.recognise(wav, info.duration))
        self.recognising.add_done_callback(aio.consume)  # read in content_phase, or dropped
        return wav

    def may_hear_punctuation(self) -> bool:
        """The sidecar has no punctuation and a recogniser is there to hear it."""
        assert self.told is not None
        return (
            resentence.needs_restoring(self.told.segments)
            and self.job.services.breakers["transcription"].allow()
            and transcribe.model_status(self.job.config.transcription)[0]
        )

    # -- content -------------------------------------------------------------------------

    async def content_phase(
        self, info: probe.MediaInfo, wav: Path | None
    ) -> tuple[transcribe.Transcript, list[summarize.Section], slides.Deck]:
        job = self.job
        transcript, loops = self.without_loops(await self.transcript(info, wav))
        job.report_progress("content", 0.6)
        sentences = [
            s for s in summarize.sentences_from(transcript.segments, transcript.language)
            if not repetition.inside((s.start, s.end), loops)
        ]  # fmt: skip
        if not sentences:
            raise JobError("No speech was found to make slides from.", phase="content")
        if self.own_deck is not None:
            # the author's deck, shown as designed, in step with the words
            said = [(s.start, s.text) for s in sentences]
            sections, shown = await deck.own_deck(
                job, self.own_deck, said, info.duration, self.work
            )
            return transcript, sections, shown
        sections = summarize.sections_from(
            sentences, info.duration, job.config.slides.max_slides, transcript.language
        )
        if not sections:
            raise JobError("No speech was found to make slides from.", phase="content")
        sections = await deck.written(job, sections, transcript.language)
        deck.note_sections(job, sections, sentences, info.duration)
        job.report_progress("content", 0.7)
        return transcript, sections, await deck.rendered(job, sections, self.work)

    def without_loops(
        self, transcript: transcribe.Transcript
    ) -> tuple[transcribe.Transcript, list[repetition.Loop]]:
        """The transcript with each recogniser loop said once, and the loops, each
        warned about: that stretch is unreliable and no slide is built from it."""
        segments, loops = repetition.collapse(transcript.segments)
        for loop in loops:
            self.job.record.warnings.append(
                f"The transcript repeats “{loop.text}” {loop.times} times in a row from "
                f"{preview.clock(loop.start)} to {preview.clock(loop.end)} (a recogniser "
                "loop): that stretch is unreliable, so it is said once in the captions "
                "and no slide is made from it."
            )
        return dataclasses.replace(transcript, segments=segments), loops

    async def transcript(self, info: probe.MediaInfo, wav: Path | None) -> transcribe.Transcript:
        if self.told is not None:
            return await self.sidecar_sentences(self.told)
        assert wav is not None
        if self.recognising is None:
            self.recognising = asyncio.create_task(self.recognise(wav, info.duration))
        return await self.recognising

    async def sidecar_sentences(self, told: transcribe.Transcript) -> transcribe.Transcript:
        """The dropped transcript, re-sentenced when it has no punctuation (downloaded
        auto-captions), with the recogniser's punctuation when it could listen too."""
        warnings = self.job.record.warnings
        name = self.sidecar.name if self.sidecar else "transcript"
        log.info("transcript_from_sidecar", sidecar=name)
        if not resentence.needs_restoring(told.segments):
            return told
        guide: transcribe.Transcript | None = None
        if self.recognising is not None:
            try:
                guide = await self.recognising
            except JobError as exc:
                warnings.append(f"The recogniser could not listen for punctuation: {exc}")
        how = "the recogniser's punctuation and the pauses" if guide else "the pauses"
        warnings.append(
            f"The transcript {name} has no punctuation, so its sentences were restored from "
            f"{how}; check the slides' wording."
        )
        segments = resentence.restore(told.segments, guide.segments if guide else None)
        return transcribe.Transcript(told.source, told.language, segments)

    def heard(self, seconds: float, duration: float) -> None:
        """The recogniser has decoded up to `seconds`: progress while the content phase
        waits for it, a beat while the probe phase still runs beside it."""
        self.job.beat()
        if self.job.record.phase == "content":
            self.job.report_progress("content", 0.6 * min(1.0, seconds / max(duration, 1.0)))

    async def recognise(self, wav: Path, duration: float) -> transcribe.Transcript:
        job = self.job
        cfg = job.config.transcription
        started = time.monotonic()
        breaker = job.services.breakers["transcription"]
        if not breaker.allow():
            raise JobError(
                "Speech recognition is paused after repeated failures; drop a "
                "transcript (<name>.srt) beside the video or check 'presgend doctor'.",
                phase="content",
                fault="presgend",
            )
        try:
            result = await transcribe.transcribe(
                wav, cfg, job.services.profile.cuda, heard=lambda t: self.heard(t, duration)
            )
        except JobError:
            breaker.record_failure()
            raise
        breaker.record_success()
        seconds = round(time.monotonic() - started, 3)
        device, compute = transcribe.resolve_device(cfg, job.services.profile.cuda)
        job.recogniser.update(model=Path(cfg.model).name or cfg.model, device=device,
                              compute_type=compute, seconds=seconds)  # fmt: skip
        log.info("speech_recognised", seconds=seconds, segments=len(result.segments))
        if not result.segments:
            raise JobError("No speech was recognised in the audio.", phase="content")
        if result.unsure:
            job.record.warnings.append(
                "The voice detector heard no speech (a voice under loud music or effects, "
                "or a very quiet one), so the whole soundtrack was transcribed: words heard "
                "over music may not have been said; check the captions and the slides."
            )
        if resentence.needs_restoring(result.segments):
            segments = resentence.restore(result.segments)
        else:
            segments = summarize.by_sentence(result.segments, result.language)
        return transcribe.Transcript(result.source, result.language, segments, result.unsure)


def framing_notes(job: RunContext, framing: face.Framing) -> None:
    """What the report says of a framing: no face, borders, shots, an enlarged presenter."""
    warnings = job.record.warnings
    if not framing.detected:
        warnings.append("No face was found; the presenter is centre-cropped.")
    warnings.extend(framing.notes)
    upscale = job.quality.panel[1] / min(s.box.h for s in framing.crop)
    if upscale > MAX_UPSCALE:
        warnings.append(
            f"The presenter is enlarged {upscale:.1f}x from the source, so it may look "
            "soft; a closer or sharper recording (or a lower quality) avoids this."
        )
