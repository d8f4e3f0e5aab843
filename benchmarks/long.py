"""Long talks through the daemon: 1, 3, 10 and 30 minutes (`--minutes`), each on the
sidecar path and on the Whisper path, dropped into a real daemon with the default
config at standard quality. For each: the job's time (started to succeeded, from the
daemon's log) against a bare transcode of the same file measured here, and the peak
memory of the daemon's whole process tree. The ratio must not grow with length."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from presgend.core.config import JobsConfig, WatchConfig
from presgend.core.memory import tree_memory_mb
from tests.support.daemons import DaemonProcess, event_time, valid_video

from .common import WORK, fixture, fresh, measure, section, spoken_fixture, transcode, whisper_model


@dataclasses.dataclass
class Run:
    seconds: float  # the job, started to succeeded
    peak_mb: float  # the daemon's process tree
    report: dict[str, Any]


def through_daemon(
    root: Path, video: Path, srt: Path | None, timeout: float, **sections: dict[str, Any]
) -> Run:
    """Drop `video` (and `srt`) into a fresh daemon with the default watch and jobs
    settings; how its job went."""
    fresh(root)
    daemon = DaemonProcess(
        root, "d", watch=dataclasses.asdict(WatchConfig()), jobs=dataclasses.asdict(JobsConfig()),
        output={"quality": "standard"}, **sections,
    )  # fmt: skip
    peak = 0.0
    done = threading.Event()

    def sample_memory() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_memory_mb(daemon.proc.pid))
            done.wait(0.5)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    try:
        inbox = root / "inbox"
        if srt is not None:
            shutil.copy(srt, inbox / "talk.srt")
        shutil.copy(video, inbox / ".talk.mp4.part")
        os.rename(inbox / ".talk.mp4.part", inbox / "talk.mp4")  # whole, as a copy tool ends
        finished = daemon.wait_for(lambda: daemon.events("job_succeeded"), timeout, "the talk")
    finally:
        done.set()
        sampler.join()
        assert daemon.stop(180) == 0
    started = daemon.events("job_started")[0]
    outbox = root / "outbox"
    assert valid_video(outbox / "talk.mp4") == "" and not list((root / "failed").glob("*"))
    report = json.loads((outbox / "talk.report.json").read_text())
    return Run(event_time(finished[0]) - event_time(started), peak, report)


@section("long")
def long_section(opts: argparse.Namespace) -> dict[str, Any]:
    minutes = [float(m) for m in opts.minutes.split(",") if m.strip()]
    model, which = whisper_model(opts.whisper_model)
    root = WORK / "long"
    root.mkdir(parents=True, exist_ok=True)
    print(f"\nlong talks through the daemon (default config, standard quality, Whisper {which});"
          f" best of {opts.repeat} up to 3 minutes, one run beyond")  # fmt: skip
    print("  path      length   transcode   presgend   ratio   peak MB  slides  recognition")
    results: dict[str, Any] = {}
    for m in minutes:
        seconds = m * 60
        repeat = opts.repeat if m <= 3 else 1
        paths = [("sidecar", fixture(seconds).video, True, {}),
                 ("whisper", spoken_fixture(seconds)[0].video, False,
                  {"transcription": {"model": str(model), "language": "en"}})]  # fmt: skip
        for path, video, sidecar, sections in paths:
            srt = video.with_suffix(".srt") if sidecar else None
            floors, runs = [], []
            for _ in range(repeat):
                wall, _, rc = measure(transcode(video, root / "floor.mp4"))
                assert rc == 0
                floors.append(wall)
                runs.append(through_daemon(root / f"{path}-{int(m)}", video, srt,
                                           600 + 4 * seconds, **sections))  # fmt: skip
            floor = min(floors)
            best = min(runs, key=lambda r: r.seconds)
            peak = max(r.peak_mb for r in runs)
            heard = best.report.get("transcript", {}).get("seconds")
            said = f"{heard:6.1f} s = {heard / seconds:.3f}x" if heard and not sidecar else ""
            print(f"  {path:8s} {m:4g} min  {floor:8.1f} s {best.seconds:8.1f} s  "
                  f"{best.seconds / floor:5.2f}x  {peak:7.0f}  {len(best.report['slides']):5d}"
                  f"   {said}")  # fmt: skip
            results[f"{path} {m:g} min"] = {
                "floor_s": round(floor, 2),
                "presgend_s": round(best.seconds, 2),
                "ratio": round(best.seconds / floor, 3),
                "peak_mb": round(peak),
                "slides": len(best.report["slides"]),
                "recognition_s": heard if not sidecar else None,
                "phases": best.report["phases"],
            }
    return results
