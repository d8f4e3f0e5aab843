"""The Whisper path: talks spoken by Piper with no sidecar over three soundtracks (soft
music, a dense score with effects, a lecture's long silences), recognised by
faster-whisper `base` (rebuilt from its PyPI data wheels), against the bare transcode,
with the word error rate against what was said; and beam 1 against beam 5."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from presgend.ops import sample

from .common import (
    SOUNDTRACKS,
    WORK,
    fresh,
    rounds,
    section,
    speech_seconds,
    spoken_fixture,
    transcode,
    whisper_model,
    worst_ratio,
)


@section("whisper")
def whisper_section(opts: argparse.Namespace) -> dict[str, Any]:
    """Each soundtrack (common.SOUNDTRACKS) through `process` with no sidecar, against
    the bare transcode of the same file: recognition seconds per minute of speech and of
    talk, the word error rate, the ratio."""
    model, which = whisper_model(opts.whisper_model)
    print(f"\nwhisper path: {opts.seconds:.0f} s talks by Piper, no sidecar, model {which}, "
          f"best of {opts.repeat}")  # fmt: skip
    print("  soundtrack  transcode  presgend  ratio (worst round)  peak MB  recognition "
          "(x talk, s/min of speech)   WER")  # fmt: skip
    results: dict[str, Any] = {"model": which}
    for soundtrack in SOUNDTRACKS:
        results[soundtrack] = _one_soundtrack(opts, soundtrack, model)
    print("  targets: recognition <= 0.08x the talk, ratio <= 1.10x (aim 1.0x), peak <= 1000 MB")
    return results


def _one_soundtrack(opts: argparse.Namespace, soundtrack: str, model: Path) -> dict[str, Any]:
    from tests.support.speech import word_error_rate

    talk, said = spoken_fixture(opts.seconds, soundtrack)
    out = fresh(WORK / f"whisper-{soundtrack}")
    config = out / "presgend.toml"
    config.write_text(f'[transcription]\nmodel = "{model}"\nlanguage = "en"\n')
    ours_args = [
        sys.executable, "-m", "presgend", "process", str(talk.video), "--outbox",
        str(out / "presgend"), "--quality", "standard", "--config", str(config),
    ]  # fmt: skip
    floors, ours = rounds(
        opts.repeat, (transcode(talk.video, out / "floor.mp4"), None), (ours_args, WORK)
    )
    floor_s, ours_s = min(w for w, _ in floors), min(w for w, _ in ours)
    ours_mb, worst = max(p for _, p in ours), worst_ratio(ours, floors)
    reports = [json.loads(p.read_text()) for p in (out / "presgend").glob("*.report.json")]
    report = min(reports, key=lambda r: sum(r["phases"].values()))  # the fastest run's
    heard = " ".join(s["text"] for s in report["transcript"]["segments"])
    wer = word_error_rate(said, heard)
    recognised = float(report["transcript"]["seconds"])
    speech = speech_seconds(talk)
    share = recognised / talk.duration
    print(f"  {soundtrack:10s} {floor_s:7.1f} s {ours_s:7.1f} s {ours_s / floor_s:6.2f}x "
          f"({worst:.2f}x worst) {ours_mb:5.0f}   {recognised:5.1f} s ({share:.3f}x, "
          f"{60 * recognised / speech:4.1f} s)   {wer:6.1%}")  # fmt: skip
    return {
        "duration_s": round(talk.duration, 2),
        "speech_s": round(speech, 2),
        "floor_s": round(floor_s, 2),
        "presgend_s": round(ours_s, 2),
        "presgend_peak_mb": round(ours_mb),
        "ratio": round(ours_s / floor_s, 3),
        "worst_ratio": round(worst, 3),
        "recognition_s": recognised,
        "recognition_per_speech_minute_s": round(60 * recognised / speech, 2),
        "wer": round(wer, 4),
        "phases": report["phases"],
    }


def _speech_sets() -> dict[str, tuple[Path, list[tuple[float, str]]]]:
    """Audio with the time each sentence starts: three of the tests' scripts spoken by
    Piper (the pitch 8 dB under its level over music), and the LibriVox clips read one
    after another as the real-speech tests hear them (a clip starts at its first 20 ms
    within 30 dB of its loudest)."""
    from tests.support import talks
    from tests.support.librivox import read_aloud

    folder = WORK / "speech-sets"
    folder.mkdir(parents=True, exist_ok=True)
    sets = {}
    for name, sentences, music in (
        ("pitch", talks.flatten(talks.PITCH), True),
        ("lesson", talks.flatten(talks.LESSON), False),
        ("facts", talks.PITCH_FACTS, False),
    ):
        wav, known = folder / f"{name}.wav", folder / f"{name}.json"
        if not known.is_file():
            segments = sample.speech_track(sentences, wav, engine="piper")
            if music:
                sample.mix_music(wav, -34, -8)
            known.write_text(json.dumps([[s.start, s.text] for s in segments]))
        sets[name] = (wav, [(float(t), str(x)) for t, x in json.loads(known.read_text())])
    reading = read_aloud(folder / "librivox.wav")
    if reading is None:
        return sets
    truth = [(a, text) for (a, _), text in zip(reading.spans, reading.said, strict=True)]
    sets["librivox"] = (reading.wav, truth)
    return sets


@section("beam")
def beam_section(opts: argparse.Namespace) -> dict[str, Any]:
    """Beam 1 against beam 5 on the same audio: recognition time, word error rate, and
    how far from where it was spoken the recogniser puts each sentence's first word
    (word times place the slides and their builds)."""

    import numpy as np

    from presgend.core.config import TranscriptionConfig
    from presgend.pipeline.video import transcribe
    from tests.support.speech import alignment, word_error_rate, words

    sets = _speech_sets()
    model, which = whisper_model(opts.whisper_model)
    print(f"\nbeam 1 against 5: model {which}, on the CPU, in this process, "
          f"alternating, best of {opts.repeat}")  # fmt: skip
    results: dict[str, Any] = {"model": which}
    for name, (wav, known) in sets.items():
        ref, firsts = [], []
        for start, text in known:
            firsts.append((len(ref), start))
            ref += words(text)
        said = " ".join(text for _, text in known)
        times: dict[int, list[float]] = {1: [], 5: []}
        for _ in range(opts.repeat):
            for beam in (1, 5):
                cfg = TranscriptionConfig(model=str(model), language="en", beam_size=beam)
                started = time.monotonic()
                heard = transcribe.whisper_transcribe(wav, cfg, cuda=False)
                times[beam].append(time.monotonic() - started)
                timed = [(w, word.start) for s in heard.segments for word in s.words
                         for w in words(word.text)]  # fmt: skip
                _, matched = alignment(ref, [w for w, _ in timed])
                errors = np.abs([timed[matched[i]][1] - t for i, t in firsts if i in matched])
                wer = word_error_rate(said, " ".join(s.text for s in heard.segments))
                results[f"beam{beam}_{name}"] = {
                    "seconds": round(min(times[beam]), 2),
                    "wer": round(wer, 4),
                    "matched": len(errors),
                    "of": len(firsts),
                    "mean_error_s": round(float(errors.mean()), 3),
                    "max_error_s": round(float(errors.max()), 3),
                }
        for beam in (1, 5):
            row = results[f"beam{beam}_{name}"]
            print(f"  beam {beam}  {name:9s} {row['seconds']:5.1f} s  WER {row['wer']:6.1%}  "
                  f"first words {row['matched']}/{row['of']}: mean {row['mean_error_s']:.3f} s, "
                  f"max {row['max_error_s']:.3f} s off")  # fmt: skip
    return results
