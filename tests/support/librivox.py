"""A real person's voice: five LibriVox clips (a reader of Jane Austen's *Sense and
Sensibility*, from Debian's `pocketsphinx-testdata`, fetched by `make setup` into
.cache/testdata) read one after another as one recording, with where each clip's speech
is. Shared by the real-speech tests and `make bench`."""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LIBRIVOX = Path(__file__).resolve().parents[2] / ".cache" / "testdata" / "librivox"
GAP = 0.6  # seconds of silence between her sentences (the clips were cut at them)


@dataclass(frozen=True)
class Reading:
    wav: Path
    said: list[str]  # each clip's text, lower case without punctuation
    spans: list[tuple[float, float]]  # where each clip's speech is in the wav


def clips() -> tuple[list[Path], list[str]] | None:
    """The clips and what is said in each, in order; None when they are not fetched."""
    if not (LIBRIVOX / "transcription").is_file():
        return None
    said = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        match = re.match(r"<s> (.*) </s> \((.*)\)", line)
        if match:
            said[match.group(2)] = match.group(1)
    names = sorted(said)
    return [LIBRIVOX / f"{n}.wav" for n in names], [said[n] for n in names]


def read_aloud(wav: Path) -> Reading | None:
    """Her five clips as one recording in `wav`, a pause between sentences."""
    found = clips()
    if found is None:
        return None
    rate, audio, spans = 16_000, [], []
    t = 0.0
    for clip in found[0]:
        with wave.open(str(clip)) as w:
            assert w.getframerate() == rate and w.getnchannels() == 1
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        a, b = speech_span(samples, rate)
        spans.append((t + a, t + b))
        audio += [samples, np.zeros(int(GAP * rate), dtype=np.int16)]
        t += len(samples) / rate + GAP
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(np.concatenate(audio).tobytes())
    return Reading(wav, found[1], spans)


def speech_span(samples: np.ndarray, rate: float) -> tuple[float, float]:
    """First and last 20 ms frame within 30 dB of the loudest."""
    frame = int(rate * 0.02)
    x = samples[: len(samples) // frame * frame].astype(float).reshape(-1, frame)
    db = 10 * np.log10(np.mean(x**2, axis=1) + 1e-9)
    loud = np.flatnonzero(db > db.max() - 30)
    return loud[0] * 0.02, (loud[-1] + 1) * 0.02
