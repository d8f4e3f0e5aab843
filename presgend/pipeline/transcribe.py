"""Phase 2 transcript: a sidecar dropped with the video, else faster-whisper.

Sidecars (`<stem>.srt`, `<stem>.vtt`, `<stem>.transcript.txt`) win because a person
wrote or checked them. The whisper model comes from config as a name in the local
cache or a model directory; it is never fetched during a job unless allowed.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presgend.config import TranscriptionConfig
from presgend.errors import JobError
from presgend.pipeline.sentences import split_sentences

SIDECAR_SUFFIXES = (".srt", ".vtt", ".transcript.txt")


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

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


def find_sidecar(media: Path) -> Path | None:
    for suffix in SIDECAR_SUFFIXES:
        candidate = media.with_name(media.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


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
    return Transcript("sidecar", language or "und", segments)


def parse_cues(text: str) -> list[Segment]:
    """Parse SRT or WebVTT cues into segments (tags and cue settings dropped)."""
    segments: list[Segment] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [ln for ln in block.strip().split("\n") if ln.strip()]
        timing = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if timing is None:
            continue
        left, right = lines[timing].split("-->", 1)
        start, end = _seconds(left), _seconds(right)
        body = " ".join(_TAG.sub("", ln).strip() for ln in lines[timing + 1 :])
        body = re.sub(r"\s+", " ", body).strip()
        if start is not None and end is not None and body:
            segments.append(Segment(start, max(end, start), body))
    segments.sort(key=lambda s: s.start)
    return segments


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

_models: dict[tuple[str, str, str], Any] = {}
_models_lock = threading.Lock()


def resolve_device(cfg: TranscriptionConfig, cuda: bool) -> tuple[str, str]:
    device = cfg.device if cfg.device != "auto" else ("cuda" if cuda else "cpu")
    compute = cfg.compute_type
    if compute == "auto":
        compute = "float16" if device == "cuda" else "int8"
    return device, compute


def model_missing_message(model: str) -> str:
    return (
        f"The speech recognition model '{model}' is not installed; run "
        f"'presgend fetch-model {model}' on a machine with internet access, set "
        "transcription.model to a local model directory, or drop a transcript "
        "(<name>.srt) beside the video."
    )


def load_model(cfg: TranscriptionConfig, cuda: bool) -> Any:
    """Load (once per process) the configured model; a clear JobError if it is missing."""
    device, compute = resolve_device(cfg, cuda)
    key = (cfg.model, device, compute)
    with _models_lock:
        if key not in _models:
            _models[key] = _load(cfg, device, compute)
        return _models[key]


def _load(cfg: TranscriptionConfig, device: str, compute: str) -> Any:
    from faster_whisper import WhisperModel

    local = Path(cfg.model).expanduser()
    source = str(local) if local.is_dir() else cfg.model
    if ("/" in cfg.model or cfg.model.startswith(".")) and not local.is_dir():
        raise JobError(
            model_missing_message(cfg.model), phase="content", detail=f"{local} is not a directory"
        )
    try:
        return WhisperModel(
            source, device=device, compute_type=compute, local_files_only=not cfg.allow_download
        )
    except Exception as exc:  # missing files, hub errors, bad model dirs
        raise JobError(
            model_missing_message(cfg.model), phase="content", detail=f"{type(exc).__name__}: {exc}"
        ) from exc


def model_status(cfg: TranscriptionConfig) -> tuple[bool, str]:
    """Whether the model can be loaded offline, and where it is; for `doctor` and `plan`."""
    local = Path(cfg.model).expanduser()
    if local.is_dir():
        ok = all((local / f).is_file() for f in ("model.bin", "config.json", "tokenizer.json"))
        return ok, str(local)
    try:
        from faster_whisper.utils import download_model

        return True, download_model(cfg.model, local_files_only=True)
    except Exception:
        return False, ""


def whisper_transcribe(wav: Path, cfg: TranscriptionConfig, cuda: bool) -> Transcript:
    model = load_model(cfg, cuda)
    temperature: Any = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if cfg.temperature_fallback else 0.0
    try:
        pieces, info = model.transcribe(
            str(wav),
            language=cfg.language or None,
            beam_size=cfg.beam_size,
            vad_filter=True,
            word_timestamps=True,
            temperature=temperature,
            condition_on_previous_text=False,
        )
        segments = [_segment(p) for p in pieces]
    except Exception as exc:
        raise JobError(
            "Speech recognition failed on this audio.",
            phase="content",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    segments = [s for s in segments if s.text]
    return Transcript("whisper", str(info.language), segments)


def _segment(piece: Any) -> Segment:
    words = tuple(
        Word(float(w.start), float(w.end), str(w.word).strip())
        for w in (piece.words or [])
        if str(w.word).strip()
    )
    return Segment(float(piece.start), float(piece.end), str(piece.text).strip(), words)


async def transcribe(wav: Path, cfg: TranscriptionConfig, cuda: bool) -> Transcript:
    return await asyncio.to_thread(whisper_transcribe, wav, cfg, cuda)
