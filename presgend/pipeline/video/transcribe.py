"""The content phase's transcript: a sidecar dropped with the video, else faster-whisper.

Sidecars (`<stem>.srt`, `<stem>.vtt`, `<stem>.transcript.txt`) win because a person
wrote or checked them. The whisper model comes from config as a name in the local
cache or a model directory; it is never fetched during a job unless allowed.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import itertools
import json
import math
import os
import re
import sys
import threading
import wave
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from presgend.core import inputs, logs, procs
from presgend.core.config import TranscriptionConfig
from presgend.core.errors import JobError
from presgend.pipeline.text import languages
from presgend.pipeline.text.sentences import is_cjk, split_sentences
from presgend.pipeline.video import loudness, models

log = logs.get(__name__)


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}


@dataclass(frozen=True)
class Transcript:
    source: str  # whisper | sidecar | script
    language: str
    segments: list[Segment]
    # the voice detector heard no speech, so the whole soundtrack was decoded: words
    # "heard" under music or effects may not have been said
    unsure: bool = False

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


def words_of(segment: Segment) -> tuple[Word, ...]:
    """The segment's words with their times: the recogniser's, else spread over the
    segment in proportion to their length (text without spaces, as Chinese or Japanese
    is written, a character a word)."""
    if segment.words:
        return segment.words
    tokens = segment.text.split()
    if len(tokens) <= 1 and is_cjk(segment.text) and len(segment.text) > 1:
        tokens = list(segment.text.replace(" ", ""))
    total = sum(len(t) + 1 for t in tokens) or 1
    words, t = [], segment.start
    for token in tokens:
        length = (segment.end - segment.start) * (len(token) + 1) / total
        words.append(Word(t, t + length, token))
        t += length
    return tuple(words)


def find_sidecar(media: Path) -> Path | None:
    return inputs.find_beside(media, inputs.TRANSCRIPT_SUFFIXES)


# --- sidecars -----------------------------------------------------------------------------

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")


def read_sidecar(path: Path, duration: float, language: str = "") -> Transcript:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise JobError(f"The transcript {path.name} is not UTF-8 text.", phase="content") from None
    if path.name.endswith(".transcript.txt"):
        segments = spread_text(text, 0.0, duration)
    else:
        segments = parse_cues(text)
    segments = [s for s in segments if s.text and s.start < duration + 1]
    if not segments:
        raise JobError(f"The transcript {path.name} has no text in it.", phase="content")
    header = _VTT_LANGUAGE.search(text[:500])  # "Language: pt-BR" in a WebVTT header
    named = language or (header.group(1) if header else "")
    return Transcript("sidecar", named or guess_language(segments), segments)


_VTT_LANGUAGE = re.compile(r"^Language:\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)\s*$", re.MULTILINE)


def guess_language(segments: list[Segment]) -> str:
    """The language of a transcript from its commonest words: one presgend has rules for
    (languages.py) when its function words make up a fifth of the text, else "und"."""
    return languages.guess(" ".join(s.text for s in segments[:200]))


def parse_cues(text: str) -> list[Segment]:
    """Parse SRT or WebVTT cues into segments (tags, cue settings and sound labels such as
    "[Music]" dropped). Downloaded auto-captions roll: each cue repeats the line before it
    (and a 10 ms cue holds it alone), and words carry their own times
    (`so<00:00:00.539><c> today</c>`); repeats are read once and the word times kept."""
    segments: list[Segment] = []
    cues = []
    for timing, text_lines in _cues(text):
        left, right = timing.split("-->", 1)
        start, end = _seconds(left), _seconds(right)
        body = [(raw, plain) for raw in text_lines if (plain := _plain(raw))]
        if start is not None and end is not None and body:
            cues.append((start, max(end, start), body))
    flashes = sum(1 for start, end, _ in cues if end - start < 0.1)
    rolling = bool(_CUE_TIME.search(text)) or flashes * 5 >= len(cues) > 0
    last_line = ""
    for start, end, body in cues:
        if rolling and body[0][1] == last_line:
            body = body[1:]  # the line the cue before already showed
        last_line = body[-1][1] if body else last_line
        if not body:
            continue
        if any(_CUE_TIME.search(raw) for raw, _ in body):
            segments.extend(_timed_line(raw, plain, start, end) for raw, plain in body)
        else:
            segments.append(Segment(start, end, " ".join(plain for _, plain in body)))
    segments.sort(key=lambda s: s.start)
    return segments


def _cues(text: str) -> Iterator[tuple[str, list[str]]]:
    """Each timing line with the text lines after it, up to the first blank line after
    text (a blank line before the text, as auto-captions write " ", is skipped)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    k = 0
    while k < len(lines):
        if "-->" not in lines[k]:
            k += 1
            continue
        timing, body = lines[k], []
        k += 1
        while k < len(lines) and "-->" not in lines[k]:
            if lines[k].strip():
                body.append(lines[k])
            elif body:
                break
            k += 1
        yield timing, body


_CUE_TIME = re.compile(r"<((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})>")
_SOUND = re.compile(r"\[[^\]]*\]|♪+")


def _plain(line: str) -> str:
    return re.sub(r"\s+", " ", _SOUND.sub("", _TAG.sub("", line))).strip()


def _timed_line(raw: str, plain: str, start: float, end: float) -> Segment:
    """A caption line whose words carry their start times; a word ends at the next one's
    start, or sooner when it is short (the gap is a pause)."""
    pieces = _CUE_TIME.split(raw)  # text, time, text, time, text ...
    starts: list[tuple[float, str]] = []
    at = start
    for k, piece in enumerate(pieces):
        if k % 2:
            at = _seconds(piece) or at
            continue
        for token in _plain(piece).split():
            starts.append((at, token))
    words = []
    for k, (t, token) in enumerate(starts):
        following = starts[k + 1][0] if k + 1 < len(starts) else max(end, t)
        spoken = 0.15 + 0.07 * len(token)
        words.append(Word(t, max(t, min(following, t + spoken)), token))
    if not words:
        return Segment(start, end, plain)
    return Segment(words[0].start, words[-1].end, " ".join(w.text for w in words), tuple(words))


def _seconds(text: str) -> float | None:
    match = _TIME.search(text)
    if not match:
        return None
    h, m, s, frac = match.groups()
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def spread_text(text: str, start: float, end: float) -> list[Segment]:
    """Untimed text: one segment per sentence, timed in proportion to its length."""

    sentences = split_sentences(re.sub(r"\s+", " ", text).strip())
    total = sum(len(s) for s in sentences) or 1
    segments, t = [], start
    for sentence in sentences:
        length = (end - start) * len(sentence) / total
        segments.append(Segment(round(t, 3), round(t + length, 3), sentence))
        t += length
    return segments


# --- whisper ------------------------------------------------------------------------------

RATE = 16_000  # what whisper hears; probe.extract_audio writes this
SPEECH_RMS_DB = -20.0  # speech is brought to this level before VAD
MAX_GAIN_DB = 40.0
WINDOW_SECONDS = 30.0  # whisper hears 30 s at a time
MAX_DECODERS = 4
MAX_CHUNKS = 8  # speech chunks in flight in all the decoders (memory)

_models: dict[tuple[str, str, str, int, int], Any] = {}
_models_lock = threading.Lock()


def resolve_device(cfg: TranscriptionConfig, cuda: bool) -> tuple[str, str]:
    device = cfg.device if cfg.device != "auto" else ("cuda" if cuda else "cpu")
    compute = cfg.compute_type
    if compute == "auto":
        compute = "float16" if device == "cuda" else "int8"
    return device, compute


def threads(cfg: TranscriptionConfig) -> int:
    return cfg.cpu_threads or max(1, os.cpu_count() or 1)


def beam_size(cfg: TranscriptionConfig, device: str) -> int:
    """Greedy decoding on the CPU: beam search cost 35-60% more time there for the same
    words (benchmarks/README.md); a GPU has the time to search."""
    return cfg.beam_size or (5 if device == "cuda" else 1)


def decoders(cfg: TranscriptionConfig, device: str, seconds: float) -> int:
    """How many recognisers decode side by side, each its own stretch of the audio.

    On the CPU a greedy decoder keeps about one core busy however many threads it is
    given: on two cores the 180 s bench talk took 17.8 s with one decoder of two threads
    and 11.6 s with two decoders of one thread each. A stretch is at least one 30 s
    window, so a short clip keeps one decoder and all the threads."""
    wanted = cfg.decoders or (1 if device == "cuda" else min(MAX_DECODERS, threads(cfg)))
    return max(1, min(wanted, math.ceil(seconds / WINDOW_SECONDS)))


def batch_size(cfg: TranscriptionConfig, device: str, threads_each: int, workers: int = 1) -> int:
    """How many speech chunks each decoder decodes at once: one per thread it has on the
    CPU (two single-threaded decoders on two cores were faster at 1 than at 2 or 4),
    with at most 8 in flight in all (each costs about 85 MB with `base`); 16 on CUDA."""
    if cfg.batch_size:
        return cfg.batch_size
    if device == "cuda":
        return 16
    return max(1, min(threads_each, MAX_CHUNKS // max(1, workers)))


def model_missing_message(model: str) -> str:
    return (
        f"The speech recognition model '{model}' is not installed; run "
        f"'presgend fetch-model {model}' on a machine with internet access, set "
        "transcription.model to a local model directory, or drop a transcript "
        "(<name>.srt) beside the video."
    )


def load_model(cfg: TranscriptionConfig, cuda: bool, workers: int = 1) -> Any:
    """Load (once per process) the configured model for `workers` decoders side by side,
    sharing the threads; a clear JobError if it is missing."""
    device, compute = resolve_device(cfg, cuda)
    key = (cfg.model, device, compute, threads(cfg), workers)
    with _models_lock:
        if key not in _models:
            _models[key] = _load(cfg, device, compute, workers)
        return _models[key]


def _load(cfg: TranscriptionConfig, device: str, compute: str, workers: int) -> Any:
    from faster_whisper import WhisperModel

    try:
        folder = models.ensure(cfg.model)  # a split wheel is joined into the cache once
    except OSError as exc:
        raise JobError(
            model_missing_message(cfg.model),
            phase="content",
            detail=f"joining the model's wheels into {models.cache_dir()}: {exc}",
            fault="setup",
        ) from exc
    if folder is None and (models.is_path(cfg.model) or not cfg.allow_download):
        raise JobError(model_missing_message(cfg.model), phase="content",
                       detail="not found in any model folder", fault="setup")  # fmt: skip
    source = str(folder) if folder is not None else cfg.model
    try:
        return WhisperModel(
            source,
            device=device,
            compute_type=compute,
            cpu_threads=max(1, threads(cfg) // workers),
            num_workers=workers,
            local_files_only=not cfg.allow_download,
        )
    except Exception as exc:  # missing files, hub errors, bad model dirs
        raise JobError(
            model_missing_message(cfg.model),
            phase="content",
            detail=f"{type(exc).__name__}: {exc}",
            fault="setup",
        ) from exc


def model_status(cfg: TranscriptionConfig) -> tuple[bool, str]:
    """Whether the model can be loaded offline, and where it is (or what it comes from);
    for `doctor`, `plan` and the daemon's intake. Nothing is loaded or downloaded."""
    found = models.locate(cfg.model)
    if found.path is not None:
        return True, str(found.path)
    if found.joinable:
        return True, f"the installed {cfg.model} model packages (joined at first use)"
    return False, ""


def load_audio(wav: Path) -> np.ndarray:
    """16 kHz mono float samples: read directly when the file is already that, else decoded."""
    try:
        with wave.open(str(wav), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2):
                data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
                return data.astype(np.float32) / 32768.0
    except (wave.Error, EOFError):
        pass
    from faster_whisper import decode_audio

    return np.asarray(decode_audio(str(wav), sampling_rate=RATE), dtype=np.float32)


def normalise_level(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """Bring the speech (the loud part of the audio) to SPEECH_RMS_DB; the gain in dB.

    Silero VAD judges speech partly by level: a quiet recording under music is "no
    speech" at all until it is brought up. The level is that of the loudest tenth of
    20 ms frames, so long pauses and a music bed do not count as speech."""
    levels = loudness.frame_db(audio, RATE // 50)
    if levels.size == 0:
        return audio, 0.0
    rms = 10 ** (levels / 20)
    loud = rms[rms >= np.quantile(rms, 0.9)]
    level = 20 * np.log10(float(np.sqrt(np.mean(loud**2))) + 1e-9)
    if level < -90:
        return audio, 0.0
    gain_db = min(MAX_GAIN_DB, SPEECH_RMS_DB - level)
    scaled = np.clip(audio * np.float32(10 ** (gain_db / 20)), -1.0, 1.0)
    return scaled.astype(np.float32), gain_db


Heard = Callable[[float], None]  # seconds of audio decoded so far


def _deaf(_seconds: float) -> None:
    return None


def whisper_transcribe(
    wav: Path, cfg: TranscriptionConfig, cuda: bool, heard: Heard = _deaf
) -> Transcript:
    """Recognise in this process (the recogniser child calls this; `transcribe` runs it)."""
    audio, gain_db = normalise_level(load_audio(wav))
    device = resolve_device(cfg, cuda)[0]
    workers = decoders(cfg, device, len(audio) / RATE) if cfg.vad else 1
    model = load_model(cfg, cuda, workers)
    batch = batch_size(cfg, device, max(1, threads(cfg) // workers), workers)
    cfg = dataclasses.replace(cfg, beam_size=beam_size(cfg, device))
    log.info("recognising", device=device, decoders=workers, batch=batch, beam=cfg.beam_size)
    try:
        segments, language = _decode(model, audio, cfg, batch, workers, heard=heard)
        unsure = not segments and cfg.vad and audio.size > 0
        if not unsure:
            segments = _loops_decoded_again(model, audio, cfg, segments, language)
        else:
            # VAD heard nothing (speech under a loud score, a very quiet room): listen to
            # all of it, in windows cut at pauses, decoded side by side as speech is. What
            # loops here is left to the content phase: decoding each hallucinated stretch
            # again at six temperatures cost more than the whole soundtrack.
            log.info("vad_found_no_speech", gain_db=round(gain_db, 1))
            options = _options(dataclasses.replace(cfg, vad=False))
            segments, language = _decode_chunks(model, audio, options, batch, workers, heard,
                                                windows=True)  # fmt: skip
    except Exception as exc:
        raise JobError(
            "Speech recognition failed on this audio.",
            phase="content",
            detail=f"{type(exc).__name__}: {exc}",
            fault="presgend",
        ) from exc
    finally:
        _give_back_memory()
    return Transcript("whisper", language, onsets(segments, audio), unsure=unsure)


def _loops_decoded_again(
    model: Any, audio: np.ndarray, cfg: TranscriptionConfig, segments: list[Segment], language: str
) -> list[Segment]:
    """Each stretch where the recogniser looped (repetition.py), decoded once more with
    the settings that avoid it: temperature fallback for that stretch only, a check of
    how repetitive its text is, nothing carried over from the text before. A stretch
    that still loops is left as it was (the content phase collapses it and says so)."""
    from presgend.pipeline.video import repetition

    for loop in repetition.find(segments):
        # the segments the loop touches, whole: the stretch is theirs
        near = [s for s in segments if s.end > loop.start - 0.5 and s.start < loop.end + 0.5]
        a = max(0.0, min([loop.start, *(s.start for s in near)]) - 0.2)
        b = min(len(audio) / RATE, max([loop.end, *(s.end for s in near)]) + 0.2)
        pieces, _ = model.transcribe(
            audio[int(a * RATE) : int(b * RATE)], language=language or None,
            beam_size=max(1, cfg.beam_size), word_timestamps=True,
            condition_on_previous_text=False, temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold=2.4, vad_filter=cfg.vad,
        )  # fmt: skip
        again = [seg for seg in (_segment(p, a) for p in pieces) if seg.text]
        still = bool(repetition.find(again))
        log.info("recogniser_loop", start=round(loop.start, 2), end=round(loop.end, 2),
                 said=loop.text[:80], times=loop.times, still_loops=still)  # fmt: skip
        if not still:
            outside = [s for s in segments if s not in near]
            segments = sorted([*outside, *again], key=lambda s: s.start)
    return segments


def _give_back_memory() -> None:
    """Return the decoder's freed scratch memory to the system (glibc keeps it otherwise,
    and the slides and the encoder come next)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


ONSET_RISE_DB = 6.0  # a word's sound stands this far above the local background
ONSET_SEARCH = 0.6  # seconds after whisper's start in which to look for it
ONSET_BACK = 0.3  # seconds before it, after a pause, in which the sound may already start
PAUSE_FRAMES = 10  # 100 ms of background makes a pause
COLLAPSED = 0.02  # a word whisper gave less time than this has no time of its own
SAID_BEFORE = 1.5  # seconds before whisper's time in which a word's sound may start


def onsets(segments: list[Segment], audio: np.ndarray) -> list[Segment]:
    """Move each word's start to where its sound begins.

    Whisper's word starts are off by up to a few tenths: often in the silence before the
    word (at a window's or VAD chunk's start), sometimes a little late after a pause.
    Slides and bullets appear on these times, so a word that starts in background sound
    moves forward to where the level rises within it; one placed in the pause after its
    own sound (a comma's: "Next," 0.6 s late) or given no time at all moves back to the
    last sound to begin since the word before; and one that starts in sound moves back to
    the end of a pause just before it. Background is judged locally (the quieter part of
    the surrounding three seconds), so a music bed under the voice is not taken for
    speech."""
    loud = _sounding(audio)
    n = len(loud)
    if n == 0:
        return segments
    result = []
    before = 0.0  # where the word before ended
    for seg in segments:
        moved = []
        for w in seg.words:
            moved.append(_moved(w, _onset(w, loud, n, before)))
            before = w.end
        start = moved[0].start if moved else seg.start
        result.append(Segment(start, seg.end, seg.text, tuple(moved)))
    return result


def _moved(word: Word, start: float) -> Word:
    return Word(start, max(word.end, start), word.text)


def _sounding(audio: np.ndarray) -> np.ndarray:
    """Per 10 ms: whether the level stands above the local background."""
    level = loudness.frame_db(audio, RATE // 100)
    n = len(level)
    if n < 3:
        return np.zeros(0, dtype=bool)
    speech = float(np.quantile(level, 0.9))
    half = 150  # frames: 1.5 s each side
    padded = np.pad(level, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)[::10]
    background = np.repeat(np.quantile(windows, 0.2, axis=1), 10)[:n]
    loud = level > np.maximum(background + ONSET_RISE_DB, speech - 30)
    # sound, not a click or the beating of a chord: loud for 30 ms in a row
    sustained = loud.copy()
    sustained[:-2] &= loud[1:-1] & loud[2:]
    sustained[-2:] = False
    return sustained  # type: ignore[no-any-return]


def _onset(word: Word, loud: np.ndarray, n: int, before: float) -> float:
    """Where `word` starts to sound; `before` is where the word before it ended."""
    first = min(n - 1, max(0, round(word.start * 100)))
    # since the word before, or as far back as a word's sound may lie from whisper's time
    since = max(0, round(max(before, word.start - SAID_BEFORE) * 100))
    if word.end - word.start < COLLAPSED:  # no time: the last sound to start after a
        found = _last_onset(loud, since, first + 1)  # pause before it (or ending there)
        if found is not None:
            return found
    if not loud[first]:  # in background: forward to the first sound within the word,
        own = np.flatnonzero(loud[first : min(n, round(word.end * 100))])
        if own.size:
            return (first + int(own[0])) / 100
        said = _last_onset(loud, since, first)  # else said just before, in the pause
        if said is not None:  # after the word before
            return said
        last = min(n, round((word.start + ONSET_SEARCH) * 100))  # else the next sound
        rises = np.flatnonzero(loud[first:last])
        return (first + int(rises[0])) / 100 if rises.size else word.start
    back = max(0, first - int(ONSET_BACK * 100))  # in sound: back to a pause just before
    quiet = np.flatnonzero(~loud[back:first])
    if quiet.size == 0:
        return word.start
    onset = back + int(quiet[-1]) + 1
    pause = loud[max(0, onset - PAUSE_FRAMES) : onset]
    return onset / 100 if pause.size == PAUSE_FRAMES and not pause.any() else word.start


def _last_onset(loud: np.ndarray, start: int, end: int) -> float | None:
    """The last frame in [start, end) where sound begins after a pause, in seconds."""
    lo = max(0, start - PAUSE_FRAMES)
    if end - lo <= PAUSE_FRAMES:
        return None
    paused = np.lib.stride_tricks.sliding_window_view(~loud[lo : end - 1], PAUSE_FRAMES)
    onsets = lo + PAUSE_FRAMES + np.flatnonzero(paused.all(axis=1))
    onsets = onsets[(onsets >= start) & (onsets < end)]
    onsets = onsets[loud[onsets]]
    return int(onsets[-1]) / 100 if onsets.size else None


def _decode(
    model: Any,
    audio: np.ndarray,
    cfg: TranscriptionConfig,
    batch: int,
    workers: int,
    heard: Heard = _deaf,
) -> tuple[list[Segment], str]:
    options = _options(cfg)
    if cfg.vad and (batch > 1 or workers > 1):
        return _decode_chunks(model, audio, options, batch, workers, heard)
    options["temperature"] = [0.0, 0.4, 0.8] if cfg.temperature_fallback else 0.0
    options["vad_filter"] = cfg.vad
    pieces, info = model.transcribe(audio, **options)
    segments = []
    for piece in pieces:  # a generator: each piece is decoded as it is asked for
        segment = _segment(piece)
        heard(segment.end)
        if segment.text:
            segments.append(segment)
    return segments, str(info.language)


def _options(cfg: TranscriptionConfig) -> dict[str, Any]:
    return {
        "language": cfg.language or None,
        "beam_size": cfg.beam_size,
        "word_timestamps": True,
        "condition_on_previous_text": False,
    }


def _decode_chunks(
    model: Any,
    audio: np.ndarray,
    options: dict[str, Any],
    batch: int,
    workers: int,
    heard: Heard,
    windows: bool = False,
) -> tuple[list[Segment], str]:
    """VAD's speech chunks (each under 30 s) decoded `batch` at a time by faster-whisper's
    batched pipeline, with the audio cut at its quietest moments into one stretch per
    decoder, decoded side by side. `windows`: no VAD, every stretch is heard whole, in
    windows of under 30 s cut at its quietest moments too (never blindly mid-word)."""
    from faster_whisper import BatchedInferencePipeline

    options = {**options, "batch_size": batch, "temperature": 0.0}
    cuts = quiet_cuts(audio, workers)
    # VAD and the features are computed here, one stretch after another (numpy has one
    # caller at a time); the generators then decode in their own threads
    started = [
        BatchedInferencePipeline(model).transcribe(
            audio[a:b], **options, **(_windows(audio[a:b]) if windows else {})
        )
        for a, b in itertools.pairwise(cuts)
    ]
    done = [0.0] * len(started)
    lock = threading.Lock()

    def decode(part: int) -> list[Segment]:
        offset, found = cuts[part] / RATE, []
        for piece in started[part][0]:
            segment = _segment(piece, offset)
            with lock:
                done[part] = segment.end - offset
                heard(sum(done))
            if segment.text:
                found.append(segment)
        return found

    if len(started) == 1:
        parts = [decode(0)]
    else:
        with ThreadPoolExecutor(len(started), thread_name_prefix="decoder") as pool:
            parts = list(pool.map(decode, range(len(started))))
    return [s for part in parts for s in part], str(started[0][1].language)


def _windows(stretch: np.ndarray) -> dict[str, Any]:
    """The batched pipeline's options for hearing all of `stretch` without VAD: windows
    of at most about 27 s (a tenth either way, under whisper's 30), cut at pauses."""
    parts = max(1, math.ceil(len(stretch) / (0.9 * 0.9 * WINDOW_SECONDS * RATE)))
    cuts = quiet_cuts(stretch, parts)
    clips = [{"start": a / RATE, "end": b / RATE} for a, b in itertools.pairwise(cuts)]
    return {"vad_filter": False, "clip_timestamps": clips}


def quiet_cuts(audio: np.ndarray, parts: int) -> list[int]:
    """Sample indices that cut `audio` into `parts` stretches of about equal length, each
    cut at the quietest 200 ms within a tenth of a stretch of its even place: a pause
    between words, even over a music bed, rather than a word cut in two."""
    n = len(audio)
    if parts <= 1 or n < parts * RATE:
        return [0, n]
    frame = RATE // 50
    power = 10 ** (loudness.frame_db(audio, frame) / 10)
    smooth = np.convolve(power, np.ones(10) / 10, mode="same")
    reach = max(1, len(smooth) // (10 * parts))
    cuts = [0]
    for k in range(1, parts):
        middle = len(smooth) * k // parts
        low, high = max(1, middle - reach), min(len(smooth) - 1, middle + reach)
        cuts.append((low + int(np.argmin(smooth[low:high]))) * frame)
    return [*cuts, n]


def _at(offset: float, seconds: Any) -> float:
    return round(offset + float(seconds), 3)


def _segment(piece: Any, offset: float = 0.0) -> Segment:
    words = tuple(
        Word(_at(offset, w.start), _at(offset, w.end), str(w.word).strip())
        for w in (piece.words or [])
        if str(w.word).strip()
    )
    start, end = _at(offset, piece.start), _at(offset, piece.end)
    return Segment(start, end, str(piece.text).strip(), words)


# --- in a child process -------------------------------------------------------------------


def transcript_dict(transcript: Transcript) -> dict[str, Any]:
    return {
        "source": transcript.source,
        "language": transcript.language,
        "segments": [
            [s.start, s.end, s.text, [[w.start, w.end, w.text] for w in s.words]]
            for s in transcript.segments
        ],
        "unsure": transcript.unsure,
    }


def transcript_from_dict(data: dict[str, Any]) -> Transcript:
    segments = [
        Segment(start, end, text, tuple(Word(*w) for w in words))
        for start, end, text, words in data["segments"]
    ]
    return Transcript(data["source"], data["language"], segments, bool(data.get("unsure")))


RECOGNISER_TIMEOUT = 6 * 3600.0  # the job's own timeout and the stall watchdog come first


async def transcribe(
    wav: Path, cfg: TranscriptionConfig, cuda: bool, heard: Heard = _deaf
) -> Transcript:
    """Recognise `wav` in a child process (pipeline/video/recogniser.py says why), which
    is killed with its process group when the job is cancelled or stalls."""
    answers: dict[str, Any] = {}

    def on_line(line: str) -> None:
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if not isinstance(message, dict):
                return
            if "heard" in message:
                heard(float(message["heard"]))
            else:
                answers.update(message)

    from presgend.pipeline.video import recogniser

    args = [sys.executable, "-m", "presgend.pipeline.video.recogniser"]
    result = await procs.run(
        args, timeout=RECOGNISER_TIMEOUT, check=False, what="speech recognition",
        on_stdout_line=on_line, stdin=recogniser.request_line(wav, cfg, cuda),
    )  # fmt: skip
    if "transcript" in answers:
        return transcript_from_dict(answers["transcript"])
    if "error" in answers:
        raise JobError(answers["error"], phase="content", detail=answers.get("detail", ""),
                       fault=answers.get("fault", "input"))  # fmt: skip
    if result.returncode < 0:  # killed from outside: the job may run once more
        raise procs.failure("Speech recognition", result)
    stderr = result.stderr.decode("utf-8", "replace").strip()[-2000:]
    raise JobError(
        "Speech recognition failed on this audio.",
        phase="content",
        detail=f"the recogniser exited {result.returncode}: {stderr}",
        fault="presgend",
    )
