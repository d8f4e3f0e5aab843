"""Review and edit: the Whisper talk rendered again after a one-title edit and after a
caption-only edit, against its first run, and the edited slide's picture as the editor
asks for it while a person types (over HTTP, from `presgend serve`)."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.waiting import poll_until

from .common import (
    PRESGEND,
    WORK,
    answers,
    folders,
    fresh,
    measure,
    section,
    spoken_fixture,
    whisper_model,
)


def edit_of(config: Path, report: Path) -> dict[str, Any]:
    """The job's edit document, as `presgend edit` prints it."""
    out = subprocess.run([str(PRESGEND), "edit", str(report), "--config", str(config)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    doc: dict[str, Any] = json.loads(out)
    return doc


def rendered(config: Path, doc: dict[str, Any], folder: Path) -> tuple[float, float, dict]:
    """Render `doc` with `presgend process`: wall seconds, peak MB and the new report."""
    path = folder / "talk.edit.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    wall, peak, rc = measure([str(PRESGEND), "process", str(path), "--config", str(config)])
    assert rc == 0, "the re-render failed"
    report = json.loads((folder / "outbox" / "talk.report.json").read_text())
    assert report["version"] > 1
    return wall, peak, report


@section("edit")
def edit_section(opts: argparse.Namespace) -> dict[str, Any]:
    talk, _ = spoken_fixture(opts.seconds)
    model, which = whisper_model(opts.whisper_model)
    root = fresh(WORK / "edit")
    config = root / "presgend.toml"
    config.write_text(folders(root) + f'[transcription]\nmodel = "{model}"\nlanguage = "en"\n'
                      '[output]\nquality = "standard"\n')  # fmt: skip
    print(f"\nedit: the {talk.duration:.0f} s Whisper talk (model {which}), standard quality; "
          f"best of {opts.repeat}")  # fmt: skip
    firsts = []
    for _ in range(opts.repeat):  # a fresh job each time: its own store, nothing reused
        shutil.rmtree(root / "outbox", ignore_errors=True)
        shutil.rmtree(root / "inbox", ignore_errors=True)
        (root / "inbox").mkdir()
        wall, peak, rc = measure([str(PRESGEND), "process", str(talk.video), "--config",
                                  str(config)])  # fmt: skip
        assert rc == 0, "the first run failed"
        firsts.append((wall, peak))
    report_path = root / "outbox" / "talk.report.json"
    first = json.loads(report_path.read_text())
    titles, captions = [], []
    for run in range(opts.repeat):
        doc = edit_of(config, report_path)
        doc["slides"][0]["title"] = f"An Edited Title, Take {run + 1}"
        titles.append(rendered(config, doc, root))
        doc = edit_of(config, report_path)
        doc["captions"][0]["text"] = f"A caption reworded, take {run + 1}."
        captions.append(rendered(config, doc, root))
    first_s = min(w for w, _ in firsts)
    title_s, title_report = min(((w, r) for w, _, r in titles), key=lambda x: x[0])
    caption_s, caption_report = min(((w, r) for w, _, r in captions), key=lambda x: x[0])
    print(f"  first run (recognition and all)  {first_s:6.1f} s   peak "
          f"{max(p for _, p in firsts):5.0f} MB")  # fmt: skip
    compose = title_report["compose"]
    print(f"  one title edited                 {title_s:6.1f} s = {title_s / first_s:.0%} of "
          f"the first run (target <= 50%, aim 35%); {compose['encoded']} of "
          f"{compose['segments']} segments encoded")  # fmt: skip
    print(f"  one caption reworded             {caption_s:6.1f} s = {caption_s / first_s:.0%}; "
          f"{caption_report['compose']['encoded']} segments encoded")  # fmt: skip
    print(f"  phases, first run: {first['phases']}")
    print(f"  phases, title edit: {title_report['phases']}")
    picture = slide_pictures(root, config, first["job_id"], first["slides"][0])
    return {
        "duration_s": round(talk.duration, 2),
        "model": which,
        "first_s": round(first_s, 2),
        "title_edit_s": round(title_s, 2),
        "title_ratio": round(title_s / first_s, 3),
        "title_compose": compose,
        "caption_edit_s": round(caption_s, 2),
        "caption_ratio": round(caption_s / first_s, 3),
        **picture,
    }


def slide_pictures(root: Path, config: Path, job_id: str, slide: dict[str, Any]) -> dict:
    """What the editor waits for as a person types a title: POST the slide, get its PNG.
    The first after the server starts launches Chromium; the rest are what typing costs."""
    import httpx

    port = free_port()
    served = root / "serve.toml"
    served.write_text(config.read_text() + f"[http]\nport = {port}\n")
    server = subprocess.Popen([str(PRESGEND), "serve", "--config", str(served)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: answers(url), 60, "the server's first answer")
        bullets = [{"text": b} for b in slide["bullets"]]
        times = []
        for k in range(8):
            body = {"slide": {"title": "An Edited Title"[: 6 + k], "bullets": bullets},
                    "index": 0, "total": 5, "theme": "light"}  # fmt: skip
            started = time.monotonic()
            answer = httpx.post(f"{url}/api/jobs/{job_id}/slide", json=body, timeout=60)
            times.append(time.monotonic() - started)
            assert answer.status_code == 200 and answer.content[:4] == b"\x89PNG", answer.text
    finally:
        server.terminate()
        server.wait(60)
    warm = times[1:]
    print(f"  the slide as typed (HTTP, PNG)   first {times[0]:.2f} s after the server starts, "
          f"then median {statistics.median(warm):.2f} s, worst {max(warm):.2f} s (target <= 1 s)")
    return {"slide_first_s": round(times[0], 3),
            "slide_median_s": round(statistics.median(warm), 3),
            "slide_worst_s": round(max(warm), 3)}  # fmt: skip
