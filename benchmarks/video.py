"""The video path: the sidecar job against the bare transcode, and the probe phase
(framing, cuts, loudness) alone on recordings with and without cuts."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from presgend.ops import sample

from .common import WORK, fixture, rounds, section, transcode, worst_ratio


@section("video")
def video_section(opts: argparse.Namespace) -> dict[str, Any]:
    talk = fixture(opts.seconds)
    out = WORK / "video-out"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    floor_args = transcode(talk.video, out / "floor.mp4")
    # `process` never overwrites, so each run publishes under a new name: talk, talk-2…
    ours_args = [sys.executable, "-m", "presgend", "process", str(talk.video), "--outbox",
                 str(out / "presgend"), "--quality", "standard"]  # fmt: skip
    print(f"\nvideo: {talk.duration:.1f} s talk, 1280x720 veryfast, best of {opts.repeat}")
    floors, ours = rounds(opts.repeat, (floor_args, None), (ours_args, WORK))
    floor_s, floor_mb = min(w for w, _ in floors), max(p for _, p in floors)
    ours_s, ours_mb = min(w for w, _ in ours), max(p for _, p in ours)
    worst = worst_ratio(ours, floors)
    report = json.loads((out / "presgend" / "talk.report.json").read_text())
    print(f"  floor (bare ffmpeg transcode)   {floor_s:7.1f} s   peak {floor_mb:6.0f} MB")
    print(f"  presgend process (standard)     {ours_s:7.1f} s   peak {ours_mb:6.0f} MB")
    print(f"  ratio presgend / floor          {ours_s / floor_s:7.2f}x best, {worst:.2f}x worst "
          "round  (target <= 0.75x, aim 0.6x)")  # fmt: skip
    print(f"  phases of the first run: {report['phases']}")
    return {
        "duration_s": report["output"]["duration_s"],
        "floor_s": round(floor_s, 2),
        "floor_peak_mb": round(floor_mb),
        "presgend_s": round(ours_s, 2),
        "presgend_peak_mb": round(ours_mb),
        "ratio": round(ours_s / floor_s, 3),
        "worst_ratio": round(worst, 3),
        "phases": report["phases"],
        "repeat": opts.repeat,
    }


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


@section("analysis")
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
