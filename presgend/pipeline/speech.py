"""Speech for scripts: one sentence at a time, so every sentence's place in the audio is
known to the sample.

gTTS is tried when the engine is `auto` (it needs Google's service; offline it fails in
milliseconds and leaves an empty file, which is never used), espeak-ng otherwise or as
the fallback. Each sentence is cached by (engine, voice, text): re-running an edited
script synthesises only the sentences that changed. Sentences are trimmed of their
silence, brought to one loudness, and joined with short pauses (longer between sections).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from presgend import logs, tools
from presgend.config import SpeechConfig
from presgend.errors import JobError

log = logs.get("presgend.speech")

RATE = 24_000
SENTENCE_PAUSE = 0.30
SECTION_PAUSE = 0.70
LEAD_IN = 0.30
TARGET_RMS_DB = -20.0
PEAK_DB = -1.0


@dataclass(frozen=True)
class Line:
    text: str
    opens_section: bool = False


@dataclass(frozen=True)
class Spoken:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Speech:
    wav: Path
    duration: float
    sentences: list[Spoken]
    engine: str
    fallbacks: list[str]


def cache_dir(cfg: SpeechConfig) -> Path:
    if cfg.cache_dir:
        return Path(cfg.cache_dir)
    base = os.environ.get("CACHE_DIRECTORY") or os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "presgend" / "speech"


def espeak_voice(voice: str, text: str) -> str:
    """The configured voice, unless the sentence is written in a script it cannot read."""
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    if re.search(r"[\uac00-\ud7af]", text):
        return "ko"
    if re.search(r"[\u4e00-\u9fff]", text) and not voice.startswith(("cmn", "yue", "zh")):
        return "cmn"
    return voice or "en"


async def synthesize(lines: list[Line], cfg: SpeechConfig, work: Path) -> Speech:
    if not lines:
        raise JobError("The script has no sentences to speak.", phase="speech")
    fallbacks: list[str] = []
    engine = "espeak" if cfg.engine == "espeak" else "gtts"
    if engine == "gtts":
        try:
            await asyncio.wait_for(_cached("gtts", lines[0].text, cfg, work), cfg.gtts_timeout)
        except Exception as exc:  # offline, refused, timed out, empty file: all mean "no gTTS"
            reason = _first_line(exc) or type(exc).__name__
            if cfg.engine == "gtts":
                raise JobError(
                    "gTTS could not synthesise speech (is the internet reachable?); set "
                    "speech.engine to auto or espeak to use espeak-ng.",
                    phase="speech",
                    detail=reason,
                ) from exc
            fallbacks.append(f"gTTS unavailable ({reason[:120]}); speech by espeak-ng")
            engine = "espeak"
    limit = asyncio.Semaphore(max(1, min(4, os.cpu_count() or 1)))

    async def one(line: Line) -> np.ndarray:
        async with limit:
            return await _cached(engine, line.text, cfg, work)

    clips = await asyncio.gather(*(one(line) for line in lines))
    wav = work / "speech.wav"
    spoken = await asyncio.to_thread(_assemble, lines, list(clips), wav)
    duration = _frames(wav) / RATE
    return Speech(wav, duration, spoken, engine, fallbacks)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


async def _cached(engine: str, text: str, cfg: SpeechConfig, work: Path) -> np.ndarray:
    voice = espeak_voice(cfg.voice, text) if engine == "espeak" else (cfg.voice or "en")
    key = hashlib.sha256(f"{engine}\0{voice}\0{text}".encode()).hexdigest()
    folder = cache_dir(cfg)
    cached = folder / key[:2] / f"{key}.wav"
    if cached.is_file():
        with contextlib.suppress(OSError, wave.Error, ValueError):
            return _read(cached)
    raw = Path(tempfile.mkdtemp(prefix="say-", dir=work))
    if engine == "gtts":
        source = await _gtts(text, voice, raw, cfg.gtts_timeout)
    else:
        source = await _espeak(text, voice, raw)
    out = raw / "sentence.wav"
    await tools.run(
        [tools.find("ffmpeg"), "-v", "error", "-nostdin", "-y", "-i", str(source),
         "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_s16le", str(out)],
        timeout=60, what="ffmpeg (speech)",
    )  # fmt: skip
    samples = _read(out)
    if samples.size == 0 or not np.any(samples):
        raise JobError(f"The speech engine produced no sound for: {text[:60]!r}.", phase="speech")
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        temp = cached.with_suffix(f".{os.getpid()}.tmp")
        _write(temp, samples)
        os.replace(temp, cached)
    return samples


async def _espeak(text: str, voice: str, folder: Path) -> Path:
    text_file = folder / "text.txt"
    text_file.write_text(text, encoding="utf-8")  # read from a file: no argument injection
    out = folder / "espeak.wav"
    await tools.run(
        [tools.find("espeak-ng"), "-v", voice, "-b", "1", "-w", str(out), "-f", str(text_file)],
        timeout=60,
        what="espeak-ng",
    )
    return out


async def _gtts(text: str, lang: str, folder: Path, timeout: float) -> Path:
    from gtts import gTTS

    out = folder / "gtts.mp3"

    def save() -> None:
        with out.open("wb") as f:
            gTTS(text, lang=lang.split("-")[0] or "en", timeout=timeout).write_to_fp(f)

    await asyncio.wait_for(asyncio.to_thread(save), timeout + 1)
    if not out.exists() or out.stat().st_size == 0:  # what gTTS leaves when it fails
        raise JobError("gTTS returned no audio.", phase="speech")
    return out


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("unexpected wav format")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def _write(path: Path, samples: np.ndarray) -> None:
    data = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data)


def _frames(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        return w.getnframes()


def trim(samples: np.ndarray, threshold_db: float = -45.0) -> np.ndarray:
    """Cut leading and trailing silence (10 ms windows under the threshold)."""
    window = RATE // 100
    n = len(samples) // window
    if n == 0:
        return samples
    frames = samples[: n * window].reshape(n, window)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    loud = np.flatnonzero(level > threshold_db)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] * window : (loud[-1] + 1) * window]


def normalise(samples: np.ndarray) -> np.ndarray:
    """Bring speech to one loudness (RMS of the voiced part) without clipping."""
    if samples.size == 0:
        return samples
    rms = float(np.sqrt(np.mean(samples**2)))
    gain = 10 ** (TARGET_RMS_DB / 20) / max(rms, 1e-6)
    peak = float(np.max(np.abs(samples))) * gain
    limit = 10 ** (PEAK_DB / 20)
    if peak > limit:
        gain *= limit / peak
    return samples * gain


def _assemble(lines: list[Line], clips: list[np.ndarray], out: Path) -> list[Spoken]:
    parts: list[np.ndarray] = [np.zeros(int(LEAD_IN * RATE), np.float32)]
    position = len(parts[0])
    spoken = []
    for i, (line, clip) in enumerate(zip(lines, clips, strict=True)):
        voiced = normalise(trim(clip))
        if voiced.size == 0:
            voiced = normalise(clip)
        if i > 0:
            pause = SECTION_PAUSE if line.opens_section else SENTENCE_PAUSE
            gap = np.zeros(int(pause * RATE), np.float32)
            parts.append(gap)
            position += len(gap)
        start = position
        parts.append(voiced.astype(np.float32))
        position += len(voiced)
        spoken.append(Spoken(line.text, start / RATE, position / RATE))
    tail = np.zeros(int(0.5 * RATE), np.float32)
    parts.append(tail)
    _write(out, np.concatenate(parts))
    return spoken
