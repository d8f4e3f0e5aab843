"""Speech for scripts: one sentence at a time, so every sentence's place in the audio is
known to the sample.

With the engine `auto`, Piper speaks first (a neural voice that runs offline: the
optional extra, run as a separate process, see voices.py), then gTTS (it needs Google's
service; offline it fails in milliseconds and leaves an empty file, which is never
used), then espeak-ng; `Policy` resolves the setting once. Each sentence is cached by
(engine, voice, text): re-running an edited script synthesises only the sentences that
changed. Sentences are trimmed of their
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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from presgend.core import aio, logs, procs
from presgend.core.config import SpeechConfig, cache_home
from presgend.core.errors import JobError
from presgend.pipeline.script import voices
from presgend.pipeline.video import loudness

log = logs.get(__name__)

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
    voice: str = ""


def cache_dir(cfg: SpeechConfig) -> Path:
    if cfg.cache_dir:
        return Path(cfg.cache_dir)
    return cache_home() / "speech"


def espeak_voice(voice: str, text: str) -> str:
    """The configured voice, unless the sentence is written in a script it cannot read."""
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    if re.search(r"[\uac00-\ud7af]", text):
        return "ko"
    if re.search(r"[\u4e00-\u9fff]", text) and not voice.startswith(("cmn", "yue", "zh")):
        return "cmn"
    return voice or "en"


@dataclass(frozen=True)
class Engine:
    """A speech engine chosen for one script: its name and voice as the report gives
    them; `speak` one sentence into a folder (Piper speaks a whole script in one run of
    its own, `_piper_all`, so its `piper` voice is set instead)."""

    name: str  # gtts | piper | espeak
    voice: str  # what the report names: a language, a Piper voice, espeak-ng voice(s)
    piper: voices.Voice | None = None

    def voice_key(self, text: str, cfg: SpeechConfig) -> str:
        """What a cached sentence of this engine is keyed by besides its text."""
        return self.voice or "en"

    async def speak(self, text: str, voice: str, folder: Path, cfg: SpeechConfig) -> Path:
        raise NotImplementedError(self.name)


@dataclass(frozen=True)
class Espeak(Engine):
    def voice_key(self, text: str, cfg: SpeechConfig) -> str:
        return espeak_voice(cfg.voice, text)

    async def speak(self, text: str, voice: str, folder: Path, cfg: SpeechConfig) -> Path:
        return await _espeak(text, voice, folder)


@dataclass(frozen=True)
class Gtts(Engine):
    async def speak(self, text: str, voice: str, folder: Path, cfg: SpeechConfig) -> Path:
        return await _gtts(text, voice, folder, cfg.gtts_timeout)


@dataclass(frozen=True)
class Piper(Engine):
    def voice_key(self, text: str, cfg: SpeechConfig) -> str:
        assert self.piper is not None  # the name and the model's size: a replaced file is new
        return f"{self.piper.name}:{self.piper.model.stat().st_size}"


def script_language(cfg: SpeechConfig, lines: list[Line]) -> str:
    """The language a script is in: the configured voice's, unless it is written in a
    script that voice cannot read (Japanese, Korean, Chinese)."""
    base = (cfg.voice or "en").replace("_", "-").split("-")[0].lower()
    for line in lines:
        chosen = espeak_voice(cfg.voice, line.text)
        if chosen in ("ja", "ko", "cmn") and not (cfg.voice or "en").startswith(chosen):
            return {"cmn": "zh"}.get(chosen, chosen)
    return {"cmn": "zh", "yue": "zh"}.get(base, base)


def espeak_engine(cfg: SpeechConfig, lines: list[Line]) -> Engine:
    used = sorted({espeak_voice(cfg.voice, line.text) for line in lines})
    return Espeak("espeak", ", ".join(used))


def piper_engine(cfg: SpeechConfig, lines: list[Line]) -> tuple[Engine | None, str]:
    """The Piper engine for this script, or None and why not."""
    if voices.piper_command() is None:
        return None, "Piper is not installed"
    try:
        voice = voices.find_voice(cfg.piper_voice)
    except JobError as exc:
        return None, str(exc)
    if voice is None:
        return None, "no Piper voice is installed"
    language = script_language(cfg, lines)
    if voice.language != language:
        return None, f"the Piper voice {voice.name} does not speak '{language}'"
    return Piper("piper", voice.name, voice), ""


class Policy:
    """How `speech.engine` picks an engine, resolved once (`POLICIES`): `auto` is local
    first (the Piper voice when it is installed: nothing leaves the machine, nothing waits
    on the network), else gTTS when Google answers, else espeak-ng; `gtts`, `piper` and
    `espeak` pin one. Every step down is a fallback the report lists."""

    seconds_per_sentence = 0.1  # what `presgend plan` expects a sentence to take

    async def choose(
        self, cfg: SpeechConfig, lines: list[Line], work: Path
    ) -> tuple[Engine, list[str]]:
        piper, why_not = piper_engine(cfg, lines)
        if piper is not None:
            return piper, []
        return await self.instead_of_piper(cfg, lines, work, why_not)

    async def instead_of_piper(
        self, cfg: SpeechConfig, lines: list[Line], work: Path, why_not: str
    ) -> tuple[Engine, list[str]]:
        return espeak_engine(cfg, lines), [f"{why_not}; speech by espeak-ng"]

    def plan(self, cfg: SpeechConfig, lines: list[Line]) -> str:
        """What will speak, for `presgend plan` (gTTS is not tried: planning stays
        offline)."""
        piper, why_not = piper_engine(cfg, lines)
        return f"Piper ({piper.voice})" if piper is not None else self.plan_without(why_not)

    def plan_without(self, why_not: str) -> str:
        return f"espeak-ng, as {why_not}"


class Auto(Policy):
    async def instead_of_piper(
        self, cfg: SpeechConfig, lines: list[Line], work: Path, why_not: str
    ) -> tuple[Engine, list[str]]:
        gtts, reason = await _try_gtts(cfg, lines, work)
        if gtts is not None:
            return gtts, [f"{why_not}; speech by gTTS"]
        return espeak_engine(cfg, lines), [
            f"{why_not}; gTTS unavailable ({reason[:120]}); speech by espeak-ng"
        ]

    def plan_without(self, why_not: str) -> str:
        return f"gTTS when online, else espeak-ng ({why_not})"


class EspeakOnly(Policy):
    async def choose(
        self, cfg: SpeechConfig, lines: list[Line], work: Path
    ) -> tuple[Engine, list[str]]:
        return espeak_engine(cfg, lines), []

    def plan(self, cfg: SpeechConfig, lines: list[Line]) -> str:
        return f"espeak-ng ({espeak_engine(cfg, lines).voice})"


class GttsOnly(Policy):
    seconds_per_sentence = 0.6  # a request to Google each
    async def choose(
        self, cfg: SpeechConfig, lines: list[Line], work: Path
    ) -> tuple[Engine, list[str]]:
        gtts, reason = await _try_gtts(cfg, lines, work)
        if gtts is None:
            raise JobError(
                "gTTS could not synthesise speech (is the internet reachable?); set "
                "speech.engine to auto, piper or espeak to speak offline.",
                phase="speech",
                detail=reason,
            )
        return gtts, []

    def plan(self, cfg: SpeechConfig, lines: list[Line]) -> str:
        return "gTTS (needs the internet)"


POLICIES: dict[str, Policy] = {
    "auto": Auto(), "piper": Policy(), "gtts": GttsOnly(), "espeak": EspeakOnly()
}


async def choose_engine(
    cfg: SpeechConfig, lines: list[Line], work: Path
) -> tuple[Engine, list[str]]:
    return await POLICIES[cfg.engine].choose(cfg, lines, work)


async def _try_gtts(cfg: SpeechConfig, lines: list[Line], work: Path) -> tuple[Engine | None, str]:
    """gTTS if it speaks the first line within `gtts_timeout`, else None and why not."""
    gtts = Gtts("gtts", script_language(cfg, lines))
    try:
        await aio.bounded(_cached(gtts, lines[0].text, cfg, work), cfg.gtts_timeout)
    except Exception as exc:  # offline, refused, timed out, empty file: all mean "no gTTS"
        return None, _first_line(exc) or type(exc).__name__
    return gtts, ""


def plan_engine(cfg: SpeechConfig, lines: list[Line]) -> str:
    return POLICIES[cfg.engine].plan(cfg, lines)


def _idle() -> None:
    return None


async def synthesize(
    lines: list[Line], cfg: SpeechConfig, work: Path, busy: Callable[[], None] = _idle
) -> Speech:
    """Speak every line; `busy` is called as the work moves (the stall watchdog hears it)."""
    if not lines:
        raise JobError("The script has no sentences to speak.", phase="speech")
    engine, fallbacks = await choose_engine(cfg, lines, work)
    if engine.piper is not None:
        clips = await _piper_all(engine, [line.text for line in lines], cfg, work, busy)
    else:
        limit = asyncio.Semaphore(max(1, min(4, os.cpu_count() or 1)))

        async def one(line: Line) -> np.ndarray:
            async with limit:
                clip = await _cached(engine, line.text, cfg, work)
                busy()
                return clip

        clips = list(await asyncio.gather(*(one(line) for line in lines)))
    wav = work / "speech.wav"
    spoken = await asyncio.to_thread(_assemble, lines, clips, wav)
    duration = _frames(wav) / RATE
    return Speech(wav, duration, spoken, engine.name, fallbacks, engine.voice)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _cache_file(engine: Engine, voice: str, text: str, cfg: SpeechConfig) -> Path:
    key = hashlib.sha256(f"{engine.name}\0{voice}\0{text}".encode()).hexdigest()
    return cache_dir(cfg) / key[:2] / f"{key}.wav"


def _from_cache(path: Path) -> np.ndarray | None:
    if path.is_file():
        with contextlib.suppress(OSError, wave.Error, ValueError):
            return read_wav(path)
    return None


def _to_cache(path: Path, samples: np.ndarray) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}.tmp")
        write_wav(temp, samples)
        os.replace(temp, path)


async def _cached(engine: Engine, text: str, cfg: SpeechConfig, work: Path) -> np.ndarray:
    voice = engine.voice_key(text, cfg)
    cached = _cache_file(engine, voice, text, cfg)
    hit = _from_cache(cached)
    if hit is not None:
        return hit
    raw = Path(tempfile.mkdtemp(prefix="say-", dir=work))
    source = await engine.speak(text, voice, raw, cfg)
    samples = await _convert(source, text)
    _to_cache(cached, samples)
    return samples


async def _piper_all(
    engine: Engine, texts: list[str], cfg: SpeechConfig, work: Path, busy: Callable[[], None]
) -> list[np.ndarray]:
    """Every sentence by Piper: the cached ones read back, the rest in one Piper run (its
    voice loads once), then each brought to the common rate."""
    assert engine.piper is not None
    files = [_cache_file(engine, engine.voice_key(t, cfg), t, cfg) for t in texts]
    clips: list[np.ndarray | None] = [_from_cache(f) for f in files]
    missing = sorted({voices.one_line(t) for t, c in zip(texts, clips, strict=True) if c is None})
    if missing:
        folder = Path(tempfile.mkdtemp(prefix="piper-", dir=work))
        text_file = folder / "sentences.txt"
        text_file.write_text("\n".join(missing) + "\n", encoding="utf-8")
        out_dir = folder / "out"
        await procs.run(
            voices.synth_command(engine.piper, text_file, out_dir),
            timeout=60 + 3 * len(missing),
            what="Piper",
            busy=busy,
        )
        made = dict(zip(missing, voices.outputs(out_dir, len(missing)), strict=True))
        converted = await asyncio.gather(*(_convert(made[t], t) for t in missing))
        fresh = dict(zip(missing, converted, strict=True))
        for i, text in enumerate(texts):
            if clips[i] is None:
                clips[i] = fresh[voices.one_line(text)]
                _to_cache(files[i], fresh[voices.one_line(text)])
    return [c for c in clips if c is not None]


async def _convert(source: Path, text: str) -> np.ndarray:
    """Any engine's audio as mono samples at RATE."""
    out = source.with_name(source.stem + ".24k.wav")
    await procs.run(
        [*procs.ffmpeg(), "-i", str(source),
         "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_s16le", str(out)],
        timeout=60, what="ffmpeg (speech)",
    )  # fmt: skip
    samples = read_wav(out)
    if samples.size == 0 or not np.any(samples):
        raise JobError(f"The speech engine produced no sound for: {text[:60]!r}.", phase="speech",
                       fault="presgend")  # fmt: skip
    return samples


async def _espeak(text: str, voice: str, folder: Path) -> Path:
    text_file = folder / "text.txt"
    text_file.write_text(text, encoding="utf-8")  # read from a file: no argument injection
    out = folder / "espeak.wav"
    await procs.run(
        [procs.find("espeak-ng"), "-v", voice, "-b", "1", "-w", str(out), "-f", str(text_file)],
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

    await aio.bounded(aio.in_thread(save), timeout + 1)
    if not out.exists() or out.stat().st_size == 0:  # what gTTS leaves when it fails
        raise JobError("gTTS returned no audio.", phase="speech")
    return out


def with_silences(said: Speech, at: list[float], seconds: float) -> Speech:
    """`said` with `seconds` of silence put in at each time of `at` (in its own timeline,
    ascending), its wav rewritten and every sentence at or after a silence later by it:
    a narrated deck's slide without notes, shown in silence."""
    if not at or seconds <= 0:
        return said
    samples = read_wav(said.wav)
    gap = np.zeros(round(seconds * RATE), np.float32)
    pieces, last = [], 0
    for t in at:
        cut = min(len(samples), round(t * RATE))
        pieces += [samples[last:cut], gap]
        last = cut
    pieces.append(samples[last:])
    write_wav(said.wav, np.concatenate(pieces))

    def later(t: float) -> float:
        return t + seconds * sum(1 for s in at if t >= s)

    sentences = [Spoken(x.text, later(x.start), later(x.end)) for x in said.sentences]
    return replace(said, duration=said.duration + seconds * len(at), sentences=sentences)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("unexpected wav format")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def write_wav(path: Path, samples: np.ndarray) -> None:
    """16-bit samples: the inverse of `read_wav`, so a clip read back from the cache is the
    clip that was written (a lossy round trip moved trimmed sentence ends by 10 ms)."""
    data = np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2").tobytes()
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
    level = loudness.frame_db(samples, window)
    if level.size == 0:
        return samples
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
    write_wav(out, np.concatenate(parts))
    return spoken
