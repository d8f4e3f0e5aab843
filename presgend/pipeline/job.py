"""One job, top-down: check the input, probe, content, compose, publish, report.

`run_job` is what both `presgend process` and the daemon's worker call. It returns
the report on success and raises `JobFailed` (carrying the error document) when the
job cannot finish; cancellation propagates untouched so a daemon can hand the input back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import structlog

from presgend.core import aio, hardware, inputs, logs
from presgend.core.errors import ClaimLost, JobError, PresgendError, ToolError, causes
from presgend.core.hardware import Quality
from presgend.pipeline import publish, stall, workdir
from presgend.pipeline.context import JobRequest, Services
from presgend.pipeline.report import JobRecord, error_document, fault_of, now_iso, sha256_of
from presgend.pipeline.script import script
from presgend.pipeline.text import powerpoint, resentence, slides, subtitles, summarize, writer
from presgend.pipeline.video import compose, face, loudness, preview, probe, transcribe

MAX_UPSCALE = 1.5  # enlarging the presenter more than this is worth a warning
MEMORY_SAMPLE_SECONDS = 1.0  # how often a job's process tree is measured for its peak
T = TypeVar("T")
Content = tuple[transcribe.Transcript, list[summarize.Section], slides.Deck]
PHASE_SPAN = {"probe": (0.0, 0.08), "content": (0.08, 0.25), "compose": (0.25, 1.0)}

log = logs.get("presgend.job")


class JobFailed(PresgendError):
    """The job ended in failure; `document` is the `<stem>.error.json` content."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        super().__init__(str(document["error"]))


async def run_job(request: JobRequest, services: Services | None = None) -> dict[str, Any]:
    """Run one job: its report, or JobFailed carrying its error document."""
    if services is not None:
        return await _run_job(request, services)
    own = Services()
    try:
        return await _run_job(request, own)
    finally:
        await own.browser.close()


async def _run_job(request: JobRequest, services: Services) -> dict[str, Any]:
    config = request.config
    attempts = Attempts(request, services)
    with structlog.contextvars.bound_contextvars(
        job_id=request.job_id, input=str(request.label or request.input_path)
    ):
        log.info("job_started")
        try:
            report = await aio.bounded(attempts.run(), config.jobs.timeout_seconds)
        except asyncio.TimeoutError:
            error = JobError(
                f"The job took longer than {config.jobs.timeout_seconds:.0f} "
                "seconds and was stopped.",
                phase=attempts.record.phase,
                fault="presgend",
            )
            raise _failed(attempts.record, error) from None
        except asyncio.CancelledError:
            log.warning("job_cancelled", phase=attempts.record.phase)
            raise
        except ClaimLost:
            log.warning("job_discarded", phase=attempts.record.phase, reason="claim taken back")
            raise
        except Exception as exc:
            raise _failed(attempts.record, exc) from exc
        log.info(
            "job_succeeded",
            output=report["output"]["video"],
            total_s=report["total_s"],
            phases=report["phases"],
            fallbacks=report["fallbacks"],
        )
        return report


TRIES = 2  # a job that stalls, or whose program is killed, is run once more


class Attempts:
    """A job's runs under the stall watchdog: one, and one more after a stall or after
    one of its programs was killed from outside."""

    def __init__(self, request: JobRequest, services: Services) -> None:
        self.request = request
        self.services = services
        self.record = self._record()
        self.stalls = 0

    def _record(self) -> JobRecord:
        request = self.request
        record = JobRecord(request.job_id, request.input_path, kind="video", label=request.label)
        record.sha256 = request.sha256
        return record

    async def run(self) -> dict[str, Any]:
        request = self.request
        for attempt in range(1, TRIES + 1):
            guard = stall.Guard(request.config.jobs.stall_seconds)
            watched = dataclasses.replace(
                request, progress=guard.relay(request.progress), beat=guard.beat
            )
            if attempt > 1:  # a fresh record; the input's hash is known by now
                sha256, self.record = self.record.sha256, self._record()
                self.record.sha256 = sha256
            job = Job(self.record, watched, self.services)
            try:
                return await guard.watch(job.run())
            except stall.Stalled as stalled:
                self.stalled(stalled, attempt, job.published)
            except Exception as exc:
                if attempt == TRIES or job.published or isinstance(exc, ClaimLost):
                    raise
                killed = killed_program(exc)
                if killed is not None:
                    # killed from outside (the OOM killer, an operator): worth one more run
                    log.warning("job_interrupted", phase=self.record.phase, program=killed,
                                attempt=attempt)  # fmt: skip
                elif fault_of(exc) == "presgend":  # our own trouble, not the input's
                    log.warning("job_retried", phase=self.record.phase, attempt=attempt,
                                error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
                else:
                    raise
        raise AssertionError("unreachable")

    def stalled(self, stalled: stall.Stalled, attempt: int, published: bool) -> None:
        """Log a stall; raise the job's failure when it may not run again."""
        log.warning("job_stalled", phase=stalled.phase,
                    seconds=round(stalled.seconds, 1), attempt=attempt)  # fmt: skip
        self.record.phase = stalled.phase
        self.stalls += 1
        if published:  # its video is out: never run it twice
            raise JobError(
                f"The job stopped making progress during {stalled.phase} after its "
                "video was published, and was stopped.",
                phase=stalled.phase,
                fault="presgend",
            )
        if attempt == TRIES:
            how = "twice" if self.stalls == TRIES else "after a run that was interrupted"
            raise JobError(
                f"The job stopped making progress during {stalled.phase} and was stopped {how}.",
                phase=stalled.phase,
                detail=f"no progress for {self.request.config.jobs.stall_seconds:.0f} s, "
                f"{self.stalls} time{'s' if self.stalls > 1 else ''}",
                fault="presgend",
            )


def killed_program(error: BaseException) -> str | None:
    """The program (its command line) whose death by a signal caused `error`, if any."""
    for seen in causes(error):
        if isinstance(seen, ToolError) and (seen.returncode or 0) < 0:
            return seen.command.split(" ", 1)[0]
    return None


def _failed(record: JobRecord, exc: BaseException) -> JobFailed:
    document = error_document(record, exc)
    log.error(
        "job_failed",
        phase=document["phase"],
        error=document["error"],
        detail=document["detail"][-500:],
        exc_info=not isinstance(exc, PresgendError),
    )
    return JobFailed(document)


class Job:
    """The job context (pipeline/context.py) for one input: its record, settings and the
    steps both pipelines share."""

    def __init__(self, record: JobRecord, request: JobRequest, services: Services) -> None:
        self.record = record
        self.request = request
        self.before_publish = request.before_publish
        self.extra_report: dict[str, Any] = {}  # kind-specific report keys (speech, presenter)
        self.config = request.config
        self.outbox = request.outbox
        self.services = services
        quality = request.quality or request.config.output.quality
        self.quality: Quality = hardware.choose_quality(services.profile, quality)
        self.progress = request.progress
        self.stem = request.output_stem
        self.started = time.monotonic()
        self.recognising: asyncio.Task[transcribe.Transcript] | None = None
        # a sidecar's slides, made while the probe phase frames the presenter
        self.early_content: asyncio.Task[Content] | None = None
        self.recognition_s: float | None = None
        self.sidecar: Path | None = None  # the transcript dropped with the video
        self.told: transcribe.Transcript | None = None  # and what it says
        self.published = False  # its video is in the outbox

    # -- the phases, in order ------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        path = self.record.input_path
        self.record.kind = inputs.kind(path)
        check_input(path)
        if not self.record.sha256:
            self.record.sha256 = await asyncio.to_thread(sha256_of, path)
        async with _peak_rss(self.record), workdir.work_folder() as work:
            try:
                if self.record.kind == "script":
                    return await script.run(self, work)
                return await self.run_video(work)
            finally:
                await self.stop_early_work()

    async def run_video(self, work: Path) -> dict[str, Any]:
        info, framing, wav, level = await self.phase("probe", self.probe_phase(work))
        transcript, sections, deck = await self.phase(
            "content", self.early_content or self.content_phase(info, wav, work)
        )
        source = compose.PresenterSource(info.path, info.path, loop=False)
        return await self.phase(
            "compose",
            self.compose_phase(info, source, framing, transcript, sections, deck, work, level),
        )

    async def stop_early_work(self) -> None:
        """A recognition or the slides started beside the probe are not awaited until the
        content phase: when the job ends before that, they (and their child processes) are
        stopped here."""
        for task in (self.recognising, self.early_content):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def phase(self, name: str, work: Awaitable[T]) -> T:
        self.record.phase = name
        self.report_progress(name, 0.0)
        started = time.monotonic()
        log.info("phase_started", phase=name)
        result = await work
        self.record.phases[name] = round(time.monotonic() - started, 3)
        log.info("phase_completed", phase=name, seconds=self.record.phases[name])
        return result

    def report_progress(self, phase: str, fraction: float) -> None:
        if phase != self.record.phase:
            return  # work started early for a later phase shows when that phase begins
        low, high = PHASE_SPAN.get(phase, (0.0, 1.0))
        self.progress(phase, low + (high - low) * fraction)

    def beat(self) -> None:
        self.request.beat()

    async def probe_phase(
        self, work: Path
    ) -> tuple[probe.MediaInfo, face.Framing, Path | None, loudness.Leveling | None]:
        info = await probe.probe(self.record.input_path)
        if info.duration < 1.0:
            raise JobError("The video is shorter than one second.", phase="probe")
        self.sidecar = sidecar = transcribe.find_sidecar(self.record.input_path)
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
                sidecar, info.duration, self.config.transcription.language
            )
        needs_audio = sidecar is None or self.may_hear_punctuation()
        if not needs_audio:  # the slides need only the sidecar: made beside the framing
            self.early_content = asyncio.create_task(self.content_phase(info, None, work))
            self.early_content.add_done_callback(_consume)
        self.report_progress("probe", 0.1)
        steps = _Steps(lambda f: self.report_progress("probe", 0.1 + 0.9 * f), 3)
        framing, wav, level = await asyncio.gather(
            steps.counted(self.framing(info)),
            steps.counted(self.listen(info, work / "audio.wav") if needs_audio else _none()),
            steps.counted(loudness.plan(info.path, timeout=60 + info.duration)),
        )
        if info.variable_frame_rate:
            self.record.warnings.append(
                "The input has a variable frame rate; the output is constant-rate."
            )
        if level is None:
            self.record.warnings.append("The sound is silent or unmeasurable; it is not levelled.")
        return info, framing, wav, level

    async def framing(self, info: probe.MediaInfo) -> face.Framing:
        breaker = self.services.breakers["face"]
        if breaker.allow():
            try:
                framing = await face.find_framing(info, self.quality.panel)
                breaker.record_success()
            except Exception as exc:  # OpenCV trouble must not fail the job
                breaker.record_failure()
                self.fallback(
                    "face", f"face detection failed ({type(exc).__name__}); centred crop used"
                )
                framing = face.plan_framing(info, self.quality.panel, [])
        else:
            self.fallback(
                "face", "face detection is paused after repeated failures; centred crop used"
            )
            framing = face.plan_framing(info, self.quality.panel, [])
        if not framing.detected:
            self.record.warnings.append("No face was found; the presenter is centre-cropped.")
        self.record.warnings.extend(framing.notes)
        upscale = self.quality.panel[1] / min(s.box.h for s in framing.crop)
        if upscale > MAX_UPSCALE:
            self.record.warnings.append(
                f"The presenter is enlarged {upscale:.1f}x from the source, so it may look "
                "soft; a closer or sharper recording (or a lower quality) avoids this."
            )
        return framing

    async def content_phase(self, info: probe.MediaInfo, wav: Path | None, work: Path) -> Content:
        transcript = await self.transcript(info, wav)
        self.report_progress("content", 0.6)
        sentences = summarize.sentences_from(transcript.segments, transcript.language)
        sections = summarize.sections_from(
            sentences, info.duration, self.config.slides.max_slides, transcript.language
        )
        if not sections:
            raise JobError("No speech was found to make slides from.", phase="content")
        sections = await self.written_sections(sections, transcript.language)
        self.note_sections(sections, sentences, info.duration)
        self.report_progress("content", 0.7)
        deck = await self.render_slides(sections, work)
        return transcript, sections, deck

    async def written_sections(
        self, sections: list[summarize.Section], language: str
    ) -> list[summarize.Section]:
        """The language model's slides, where `[summary] engine = "openai"` and its
        answers pass the fact checks; the extractive writer's elsewhere."""
        cfg = self.config.summary
        if cfg.engine != "openai":
            return sections
        breaker = self.services.breakers["summary"]
        if not breaker.allow():
            self.fallback(
                "summary", "the language model is paused after repeated failures; the "
                "extractive writer made the slides",
            )  # fmt: skip
            return sections
        outcome = await writer.rewrite(sections, cfg, language, beat=self.beat)
        if any(outcome.written) or not outcome.warnings:
            breaker.record_success()
        else:
            breaker.record_failure()
        self.record.warnings.extend(outcome.warnings)
        self.extra_report["summary"] = {
            "engine": cfg.engine,
            "model": cfg.model,
            "written_by_model": outcome.written,
            "seconds": outcome.seconds,
        }
        return outcome.sections

    def note_sections(
        self,
        sections: list[summarize.Section],
        sentences: list[summarize.Sentence],
        duration: float,
    ) -> None:
        """Warn about what the slides leave out and long stretches with no speech."""
        for section in sections:
            for text in section.left_off:
                self.record.warnings.append(
                    f'Slide {section.index + 1} was full, so this fact is only spoken: "{text}"'
                )
            others = section.no_room - len(section.left_off)
            if others > 0:
                self.record.warnings.append(
                    f"Slide {section.index + 1} was full, so {others} more "
                    f"sentence{'s are' if others > 1 else ' is'} only spoken "
                    "(the report's slides[].omitted lists them)."
                )
        for a, b in summarize.silences(sentences, duration):
            self.record.warnings.append(
                f"Nobody speaks from {preview.clock(a)} to {preview.clock(b)}; that slide "
                "stays up the whole time."
            )

    def note_text_size(self, sections: list[summarize.Section], deck: slides.Deck) -> None:
        floor = slides.MIN_BULLET_PX_720P * self.quality.panel[1] / 720
        for section, px in zip(sections, deck.bullet_px, strict=True):
            if 0 < px < floor - 0.5:
                at720 = px * 720 / self.quality.panel[1]
                self.record.warnings.append(
                    f"Slide {section.index + 1}'s text was shrunk to {at720:.0f} px (at 720p) "
                    "to fit; shorter or fewer bullets would read better."
                )

    async def listen(self, info: probe.MediaInfo, wav: Path) -> Path:
        """Extract the audio and start recognising it at once: the recogniser then runs
        beside face detection and loudness measurement instead of after them."""
        await probe.extract_audio(info, wav)
        self.recognising = asyncio.create_task(self.recognise(wav, info.duration))
        self.recognising.add_done_callback(_consume)  # read in content_phase, or dropped
        return wav

    def may_hear_punctuation(self) -> bool:
        """The sidecar has no punctuation and a recogniser is there to hear it."""
        assert self.told is not None
        return (
            resentence.needs_restoring(self.told.segments)
            and self.services.breakers["transcription"].allow()
            and transcribe.model_status(self.config.transcription)[0]
        )

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
        name = self.sidecar.name if self.sidecar else "transcript"
        log.info("transcript_from_sidecar", sidecar=name)
        if not resentence.needs_restoring(told.segments):
            return told
        guide: transcribe.Transcript | None = None
        if self.recognising is not None:
            try:
                guide = await self.recognising
            except JobError as exc:
                self.record.warnings.append(
                    f"The recogniser could not listen for punctuation: {exc}"
                )
        how = "the recogniser's punctuation and the pauses" if guide else "the pauses"
        self.record.warnings.append(
            f"The transcript {name} has no punctuation, so its sentences were restored from "
            f"{how}; check the slides' wording."
        )
        segments = resentence.restore(told.segments, guide.segments if guide else None)
        return transcribe.Transcript(told.source, told.language, segments)

    def heard(self, seconds: float, duration: float) -> None:
        """The recogniser has decoded up to `seconds`: progress while the content phase
        waits for it, a beat while the probe phase still runs beside it."""
        self.beat()
        if self.record.phase == "content":
            self.report_progress("content", 0.6 * min(1.0, seconds / max(duration, 1.0)))

    async def recognise(self, wav: Path, duration: float) -> transcribe.Transcript:
        cfg = self.config.transcription
        started = time.monotonic()
        breaker = self.services.breakers["transcription"]
        if not breaker.allow():
            raise JobError(
                "Speech recognition is paused after repeated failures; drop a "
                "transcript (<name>.srt) beside the video or check 'presgend doctor'.",
                phase="content",
                fault="presgend",
            )
        try:
            result = await transcribe.transcribe(
                wav, cfg, self.services.profile.cuda, heard=lambda t: self.heard(t, duration)
            )
        except JobError:
            breaker.record_failure()
            raise
        breaker.record_success()
        self.recognition_s = round(time.monotonic() - started, 3)
        log.info("speech_recognised", seconds=self.recognition_s, segments=len(result.segments))
        if not result.segments:
            raise JobError("No speech was recognised in the audio.", phase="content")
        if resentence.needs_restoring(result.segments):
            segments = resentence.restore(result.segments)
        else:
            segments = summarize.by_sentence(result.segments, result.language)
        return transcribe.Transcript(result.source, result.language, segments)

    async def render_slides(self, sections: list[summarize.Section], work: Path) -> slides.Deck:
        deck = await self._render(sections, work)
        self.note_text_size(sections, deck)
        return deck

    async def _render(self, sections: list[summarize.Section], work: Path) -> slides.Deck:
        breaker = self.services.breakers["slides"]
        cfg = self.config.slides
        size = self.quality.panel
        look = slides.look_from(cfg)
        if cfg.logo and not look.logo:
            self.record.warnings.append(
                f"The slide logo {cfg.logo} is missing or not a PNG, JPEG, SVG or WebP image."
            )
        if breaker.allow():
            try:
                deck = await aio.bounded(
                    slides.render_chromium(
                        sections,
                        size,
                        work,
                        look,
                        cfg.chromium,
                        self.services.browser,
                        cfg.keep_browser_seconds,
                    ),
                    120,
                )
                breaker.record_success()
                return deck
            except Exception as exc:  # any browser trouble: draw the slides instead
                breaker.record_failure()
                await self.services.browser.close()  # the next job gets a fresh one
                reason = (
                    str(exc).strip().splitlines()[0][:160]
                    if str(exc).strip()
                    else type(exc).__name__
                )
                self.fallback(
                    "slides", f"Chromium could not render the slides ({reason}); drawn with Pillow"
                )
        else:
            self.fallback(
                "slides", "Chromium is paused after repeated failures; slides drawn with Pillow"
            )
        return await asyncio.to_thread(slides.render_pillow, sections, size, work, look)

    async def compose_phase(
        self,
        info: probe.MediaInfo,
        source: compose.PresenterSource,
        framing: face.Framing,
        transcript: transcribe.Transcript,
        sections: list[summarize.Section],
        deck: slides.Deck,
        work: Path,
        level: loudness.Leveling | None,
    ) -> dict[str, Any]:
        # one folder per run: a run of the same job that was stopped and wakes up must
        # not clear the folder the next run is composing into (the queue retries a job
        # under its id)
        run = f"{self.record.job_id}.{os.getpid()}.{id(self):x}"
        lease = self.config.jobs.lease_seconds
        async with publish.staging(self.outbox, run, lease) as staged:
            return await self.compose_into(
                staged / "video.mp4", info, source, framing, transcript, sections, deck, work, level
            )

    async def compose_into(
        self,
        temp: Path,
        info: probe.MediaInfo,
        source: compose.PresenterSource,
        framing: face.Framing,
        transcript: transcribe.Transcript,
        sections: list[summarize.Section],
        deck: slides.Deck,
        work: Path,
        level: loudness.Leveling | None,
    ) -> dict[str, Any]:
        chapters = subtitles.chapters([(s.start, s.title) for s in sections], info.duration)
        plan = self.compose_plan(info, source, framing, transcript, deck, level, temp)
        plan = dataclasses.replace(
            plan, chapters=_text_file(work / "chapters.txt", subtitles.ffmetadata(chapters)),
            captions=_text_file(work / "captions.srt",
                                subtitles.to_srt(transcript.segments, info.duration)),
        )  # fmt: skip
        # the editable deck is built while ffmpeg encodes (about 0.7 CPU-s with python-pptx's
        # import, which the encode leaves room for), not after it
        deck_bytes = asyncio.ensure_future(self.deck_bytes(sections))
        try:
            await compose.compose(
                plan,
                lambda f: self.report_progress("compose", f * 0.97),
                parts=compose.PARTS if self.services.profile.cpu_cores > 1 else 1,
                folder=work,
            )
            verified = await compose.verify(temp, info.duration, self.quality)
            self.report_progress("compose", 0.98)
            await self.before_publish()
            video = publish.publish_video(temp, self.outbox, self.stem, self.record.sha256)
            self.published = True
        except BaseException:
            await asyncio.gather(deck_bytes, return_exceptions=True)  # its thread ends first
            raise
        outputs = await self.beside(
            video.stem, transcript, sections, chapters, await deck_bytes, verified.duration
        )
        sheet, audio = await asyncio.gather(
            self.preview(video, sections, deck, work), loudness.measure(video)
        )
        self.report_progress("compose", 0.99)
        self.record.phases["compose"] = round(
            time.monotonic() - self.started - sum(self.record.phases.values()), 3
        )
        report = self.report(video, outputs.pop("srt"), verified, transcript, sections, framing)
        report["output"].update(outputs, preview=str(sheet) if sheet else None)
        report["audio"] = {
            "loudness_lufs": round(audio.integrated, 1) if audio else None,
            "true_peak_dbtp": round(audio.true_peak, 1) if audio else None,
            "sample_rate": verified.sample_rate,
        }
        publish.write_json(publish.report_path(video), report)
        publish.published(self.outbox, self.record.sha256)
        self.report_progress("compose", 1.0)
        return report

    def compose_plan(
        self,
        info: probe.MediaInfo,
        source: compose.PresenterSource,
        framing: face.Framing,
        transcript: transcribe.Transcript,
        deck: slides.Deck,
        level: loudness.Leveling | None,
        output: Path,
    ) -> compose.ComposePlan:
        return compose.ComposePlan(
            video=source.video,
            audio=source.audio,
            duration=info.duration,
            fps=compose.output_fps(info.fps, self.quality.fps_cap),
            quality=self.quality,
            crop=framing.crop,
            slides=cues(deck),
            blank=deck.blank,
            gain_db=level.gain_db if level else None,
            crossfade=self.config.slides.crossfade_seconds,
            encoder=self.encoder(),
            output=output,
            loop_video=source.loop,
            audio_channels=source.audio_channels or info.audio_channels,
            threads=min(self.services.profile.cpu_cores, 16),
            captions_language=subtitles.track_language(transcript.language),
            burn_captions=self.config.output.burn_captions,
        )

    async def beside(
        self,
        stem: str,
        transcript: transcribe.Transcript,
        sections: list[summarize.Section],
        chapters: list[subtitles.Chapter],
        deck: bytes | None,
        end: float,
    ) -> dict[str, Any]:
        """The files published beside the video: captions (none past the video's `end`),
        chapters, the deck."""
        out = self.outbox
        pptx = publish.write_atomic(out / f"{stem}.pptx", deck) if deck is not None else None
        segments = transcript.segments
        return {
            "srt": publish.write_atomic(out / f"{stem}.srt", subtitles.to_srt(segments, end)),
            "vtt": str(publish.write_atomic(out / f"{stem}.vtt",
                                            subtitles.to_vtt(segments, end))),
            "chapters_vtt": str(publish.write_atomic(out / f"{stem}.chapters.vtt",
                                                     subtitles.chapters_vtt(chapters))),
            "pptx": str(pptx) if pptx else None,
        }  # fmt: skip

    async def deck_bytes(self, sections: list[summarize.Section]) -> bytes | None:
        """The editable deck's `.pptx`; a deck that cannot be made is a warning, not a
        failed job (the video is out by the time it is written)."""
        cfg = self.config.slides
        try:
            return await asyncio.to_thread(
                powerpoint.pptx_bytes, sections, slides.look_from(cfg), cfg.logo
            )
        except Exception as exc:  # python-pptx or a logo it cannot read
            self.record.warnings.append(
                f"The editable deck could not be written ({type(exc).__name__}: {exc})."
            )
            return None

    async def preview(
        self, video: Path, sections: list[summarize.Section], deck: slides.Deck, work: Path
    ) -> Path | None:
        """The contact sheet, published beside the video before the report."""
        first = sections[0].end / 2 if sections else 1.0
        tiles = []
        frame = await preview.presenter_frame(video, first, work / "presenter-frame.png")
        if frame is not None:
            tiles.append(preview.Tile(frame, "Presenter"))
        finals = {b.section: b.png for b in deck.builds}  # each slide's last build
        for section in sections:
            label = f"{section.index + 1} · {preview.clock(section.start)} · {section.title}"
            tiles.append(preview.Tile(finals[section.index], label))
        sheet = await asyncio.to_thread(preview.contact_sheet, tiles, work / "preview.jpg")
        return publish.write_atomic(self.outbox / f"{video.stem}.preview.jpg", sheet.read_bytes())

    # -- helpers -------------------------------------------------------------------------

    def encoder(self) -> str:
        chosen = self.config.output.encoder
        if chosen == "auto":
            return "nvenc" if self.services.profile.nvenc else "libx264"
        return "nvenc" if chosen == "nvenc" else "libx264"

    def fallback(self, stage: str, message: str) -> None:
        self.record.fallbacks.append(message)
        log.warning("fallback_taken", stage=stage, reason=message)

    def recogniser(self, transcript: transcribe.Transcript) -> dict[str, Any]:
        """What recognised the speech and how long it took (whisper transcripts only)."""
        if transcript.source != "whisper":
            return {}
        cfg = self.config.transcription
        device, compute = transcribe.resolve_device(cfg, self.services.profile.cuda)
        return {
            "model": Path(cfg.model).name or cfg.model,
            "device": device,
            "compute_type": compute,
            "seconds": self.recognition_s,
        }

    def report(
        self,
        video: Path,
        srt: Path,
        verified: compose.Verified,
        transcript: transcribe.Transcript,
        sections: list[summarize.Section],
        framing: face.Framing,
    ) -> dict[str, Any]:
        r = self.record
        return {
            "status": "ok",
            "job_id": r.job_id,
            "input": r.input_dict(),
            "output": {
                "video": str(video),
                "srt": str(srt),
                "duration_s": round(verified.duration, 3),
                "width": verified.width,
                "height": verified.height,
            },
            "quality": self.quality.name,
            "preset": self.request.preset or None,
            "transcript": {
                "source": transcript.source,
                "language": transcript.language,
                **self.recogniser(transcript),
                "segments": [s.as_dict() for s in transcript.segments],
            },
            "slides": [
                {
                    "index": s.index,
                    "title": s.title,
                    "bullets": s.bullets,
                    "start_s": round(s.start, 3),
                    "end_s": round(s.end, 3),
                    "bullet_starts": [round(t, 3) for t in s.bullet_starts],
                    "sources": list(s.sources),
                    "omitted": list(s.omitted),
                }
                for s in sections
            ],
            "face": {
                "detected": framing.detected,
                "box": framing.face.as_list() if framing.face else None,
                "method": framing.method,
                "crop": framing.crop[0].box.as_list(),
                "samples": framing.samples,
                "hits": framing.hits,
            },
            "phases": dict(r.phases),
            "total_s": round(time.monotonic() - self.started, 3),
            "peak_rss_mb": round(r.peak_rss_mb, 1),
            "started_at": r.started_at,
            "finished_at": now_iso(),
            "hardware": self.services.profile.as_dict(),
            "encoder": self.encoder(),
            "fallbacks": list(r.fallbacks),
            "warnings": list(r.warnings),
            **self.extra_report,
        }


def cues(deck: slides.Deck) -> list[compose.SlideCue]:
    """Each build in time order; the first build of a slide opens it."""
    found, previous = [], -1
    for build in deck.builds:
        found.append(compose.SlideCue(build.png, build.start, opens=build.section != previous))
        previous = build.section
    return found


def check_input(path: Path) -> None:
    """Refuse what is not a readable, non-empty regular file, before any tool opens it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise JobError("The input file does not exist.", phase="input") from None
    except PermissionError:
        raise JobError(
            "The input file cannot be read (permission denied).", phase="input"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise JobError("The input is not a regular file.", phase="input")
    if st.st_size == 0:
        raise JobError("The input file is empty (0 bytes).", phase="input")
    try:
        with path.open("rb") as f:
            f.read(1)
    except PermissionError:
        raise JobError(
            "The input file cannot be read (permission denied).", phase="input"
        ) from None
    except OSError as exc:
        raise JobError(f"The input file cannot be read ({exc.strerror}).", phase="input") from None


def tree_memory_mb(pid: int) -> float:
    """Resident memory of a process tree. Uses PSS where the OS has it, so pages that
    Chromium's or ffmpeg's processes share are counted once, not once per process."""
    total = 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            full = (
                proc.memory_full_info()
                if hasattr(psutil.Process, "memory_full_info")
                else proc.memory_info()
            )
            total += getattr(full, "pss", 0) or full.rss
    return total / 2**20


async def _none() -> None:
    return None


class _Steps:
    """Progress as the steps of a gather finish, in whatever order they do."""

    def __init__(self, report: Callable[[float], None], total: int) -> None:
        self.report = report
        self.total = total
        self.done = 0

    async def counted(self, work: Awaitable[T]) -> T:
        result = await work
        self.done += 1
        self.report(self.done / self.total)
        return result


def _text_file(path: Path, text: str) -> Path | None:
    """`text` in `path`, for ffmpeg to read; None when there is nothing in it (a
    transcript with no words gives no caption track)."""
    if not text.strip() or text.strip() == ";FFMETADATA1":
        return None
    path.write_text(text, encoding="utf-8")
    return path


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a background task's exception so an abandoned one is not reported twice."""
    if not task.cancelled():
        task.exception()


@contextlib.asynccontextmanager
async def _peak_rss(record: JobRecord) -> AsyncIterator[None]:
    """Sample the memory of this process and its children while the job runs: once a
    second, in a thread. Reading the PSS of a tree with Chromium in it costs about 50 ms
    of CPU; four times a second on the event loop, that held up the queue's heartbeat."""

    async def sample() -> None:
        while True:
            mb = await asyncio.to_thread(tree_memory_mb, os.getpid())
            record.peak_rss_mb = max(record.peak_rss_mb, mb)
            await asyncio.sleep(MEMORY_SAMPLE_SECONDS)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # a cancel of the job propagates
