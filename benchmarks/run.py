"""`make bench`: presgend against a floor measured in the same run, on this machine.

Video: a 180 s talking-head fixture with a sidecar transcript. The floor is a bare
ffmpeg transcode of it to 1280x720 H.264 `veryfast`; presgend processes it at standard
quality (same size and preset) through the real CLI. Peak memory is the whole process
tree's, sampled every 0.2 s (PSS, so shared pages count once).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from presgend import sample  # noqa: E402
from presgend.pipeline.job import tree_memory_mb  # noqa: E402

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
    print(f"  ratio presgend / floor          {ours_s / floor_s:7.2f}x  (target <= 1.30x)")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the fixture")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    opts = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    results = {section.__name__: section(opts) for section in SECTIONS}
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nfigures saved to {WORK / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
