"""Script drops: a plain-text script to a narrated video, with a cold speech cache."""

from __future__ import annotations

import argparse
import json
import shutil
from typing import Any

from .common import PRESGEND, WORK, measure, section

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


@section("script")
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
            [str(PRESGEND), "process", str(source), "--outbox", str(out),
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
