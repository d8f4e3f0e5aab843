"""Decks in: a 10-slide PowerPoint deck with speaker notes to a narrated video (cold speech
cache, standard quality), with the deck's conversion by LibreOffice and the drawing of
its pages measured on their own."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
from typing import Any

from .common import PRESGEND, WORK, measure, section
from .script import SCRIPT_SENTENCES

COLOURS = ("#f4c7a1", "#b9e3b0", "#a9c8f2", "#e8d3f0", "#f2eea9")


@section("decks")
def decks_section(opts: argparse.Namespace) -> dict[str, Any]:
    from presgend.core.hardware import QUALITIES
    from presgend.pipeline.script import slideshow
    from presgend.pipeline.text import pages
    from tests.support.decks import pptx_deck

    folder = WORK / "decks"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    slides = [
        (f"Water, part {k + 1}", [SCRIPT_SENTENCES[2 * k][:40]],
         " ".join(SCRIPT_SENTENCES[2 * k : 2 * k + 3]), COLOURS[k % len(COLOURS)])
        for k in range(10)
    ]  # fmt: skip
    deck = pptx_deck(folder / "water.pptx", slides)
    print("\ndecks: a 10-slide PowerPoint deck with notes, standard quality, cold speech cache")
    converted, drawn = [], []
    for run in range(opts.repeat):
        work = folder / f"convert-{run}"
        started = time.monotonic()
        pdf = asyncio.run(slideshow.to_pdf(deck, work, timeout=300))
        converted.append(time.monotonic() - started)
        started = time.monotonic()
        pages.read(pdf, QUALITIES["standard"].panel, "#ffffff", work / "pages")
        drawn.append(time.monotonic() - started)
    times, report = [], {}
    for run in range(opts.repeat):
        config = folder / "presgend.toml"
        cache = folder / f"cache-{run}"
        config.write_text(f'[paths]\nlogs = "{folder / "logs"}"\n[output]\nquality = "standard"\n'
                          f'[speech]\ncache_dir = "{cache}"\n')  # fmt: skip
        out = folder / f"out-{run}"
        wall, peak, rc = measure([str(PRESGEND), "process", str(deck), "--outbox", str(out),
                                  "--config", str(config)])  # fmt: skip
        assert rc == 0, "deck job failed"
        report = json.loads((out / "water.report.json").read_text())
        times.append((wall, peak))
    best = min(w for w, _ in times)
    speech_s = report["speech"]["duration_s"]
    print(f"  LibreOffice: .pptx to PDF       {min(converted):7.1f} s (best of {opts.repeat}, "
          f"worst {max(converted):.1f} s)")  # fmt: skip
    print(f"  PDFium: 10 pages drawn at 640x720 {min(drawn):5.2f} s")
    print(f"  narration                       {speech_s:7.1f} s by {report['speech']['engine']}")
    print(f"  presgend process (best of {opts.repeat})    {best:7.1f} s   peak "
          f"{max(p for _, p in times):6.0f} MB; phases {report['phases']}")  # fmt: skip
    print(f"  ratio time / narration          {best / speech_s:7.2f}x")
    return {
        "convert_s": round(min(converted), 2),
        "draw_pages_s": round(min(drawn), 3),
        "speech_s": speech_s,
        "presgend_s": round(best, 2),
        "ratio": round(best / speech_s, 3),
        "phases": report["phases"],
        "pages": report["deck"]["pages"],
    }
