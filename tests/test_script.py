"""Script drops end to end: real espeak-ng, real Chromium, real ffmpeg."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.cli import cli, write_config
from support.frames import assert_changes_match, ffprobe, gray_frames
from test_slides import listener  # noqa: F401 - the request-recording fixture

from presgend.core import config as config_mod
from presgend.core import hardware, inputs
from presgend.core.errors import JobError, ToolError
from presgend.pipeline.script import presenter, script
from presgend.pipeline.text import slides
from presgend.pipeline.text.summarize import Section
from presgend.pipeline.video import face, transcribe

pytestmark = pytest.mark.slow

MARKDOWN = """\
# Solar power at home

Solar panels turn sunlight into electricity. Modern panels convert about a fifth of
the light they receive.

- Prices have **fallen sharply**
- Installation takes [one day](https://example.com)

## Storing the energy

Batteries keep the lights on after sunset. A home battery stores the midday surplus.

## The grid

Grid operators balance supply and demand every second. Smart meters shift demand to
sunny hours.
"""

PROSE = (
    "Bees pollinate most of the crops we eat. A single colony visits millions of flowers "
    "in a season. Without bees, orchards would need slow hand pollination. "
    "Bee numbers have fallen in many countries. Pesticides and parasites weaken the "
    "colonies. Lost habitat leaves bees with fewer wild flowers. "
    "Gardeners can help by planting native flowers. Leaving some lawn unmown gives bees "
    "shelter. Cities now add green roofs and flower strips for pollinators."
)


@pytest.fixture(scope="module")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech-cache")


def script_config(tmp_path: Path, cache: Path, **sections: dict[str, Any]) -> Path:
    values: dict[str, dict[str, Any]] = {
        "paths": {"logs": str(tmp_path / "logs")},
        "output": {"quality": "draft"},  # 640x360: what is checked scales with the frame
        "speech": {"cache_dir": str(cache)},
    }
    for section, extra in sections.items():
        values.setdefault(section, {}).update(extra)
    return write_config(values, tmp_path / "presgend.toml")


def process(
    tmp_path: Path, cache: Path, name: str, text: str | bytes, **sections: dict[str, Any]
) -> tuple[Any, Path, Path]:
    source = tmp_path / name
    if isinstance(text, bytes):
        source.write_bytes(text)
    else:
        source.write_text(text, encoding="utf-8")
    outbox = tmp_path / "out"
    config = script_config(tmp_path, cache, **sections)
    result = cli("process", str(source), "--outbox", str(outbox), "--config", str(config))
    return result, outbox, source


def report_of(outbox: Path, stem: str) -> dict[str, Any]:
    return json.loads((outbox / f"{stem}.report.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def check_timing(outbox: Path, stem: str, report: dict[str, Any]) -> None:
    """Duration equals the speech; each slide starts at its opening sentence, and is seen
    changing there in the output's right half (within 0.1 s)."""
    video = outbox / f"{stem}.mp4"
    probed = ffprobe(video)
    duration = float(probed["format"]["duration"])
    assert abs(duration - report["speech"]["duration_s"]) < 0.1
    kinds = sorted(s["codec_type"] for s in probed["streams"])
    assert kinds == ["audio", "data", "subtitle", "video"]  # + captions and chapters
    starts = [s["start_s"] for s in report["slides"]]
    sentence_starts = [seg["start"] for seg in report["transcript"]["segments"]]
    for start in starts[1:]:
        assert min(abs(start - t) for t in sentence_starts) < 0.001
    assert_changes_match(report, video)
    cues = transcribe.parse_cues((outbox / f"{stem}.srt").read_text(encoding="utf-8"))
    assert [c.text for c in cues] == [s["text"] for s in report["transcript"]["segments"]]


def test_markdown_script_uses_the_authors_headings_and_bullets(
    tmp_path: Path, speech_cache: Path
) -> None:
    result, outbox, _ = process(tmp_path, speech_cache, "solar talk.md", MARKDOWN)
    assert result.returncode == 0, result.stderr
    report = report_of(outbox, "solar talk")
    assert report["input"]["kind"] == "script"
    assert report["transcript"]["source"] == "script"
    assert [s["title"] for s in report["slides"]] == [  # the author's, in the deck's case
        "Solar Power at Home",
        "Storing the Energy",
        "The Grid",
    ]
    assert report["slides"][0]["bullets"] == [
        "Prices have fallen sharply",
        "Installation takes one day",
    ]
    texts = [seg["text"] for seg in report["transcript"]["segments"]]
    assert texts[0] == "Solar panels turn sunlight into electricity."
    assert "Prices have fallen sharply." in texts  # list items are spoken too
    # local first: Piper's neural voice speaks, and gTTS is never asked
    assert report["speech"]["engine"] == "piper"
    assert report["speech"]["voice"] == "en_US-joe-medium"
    assert report["speech"]["fallbacks"] == []
    assert not any("gTTS" in f for f in report["fallbacks"])
    assert report["presenter"] == {"kind": "panel", "image": "default"}
    assert any("branded panel" in f for f in report["fallbacks"])
    check_timing(outbox, "solar talk", report)


def test_prose_script_is_split_into_sections(tmp_path: Path, speech_cache: Path) -> None:
    result, outbox, source = process(tmp_path, speech_cache, "bees.txt", PROSE)
    assert result.returncode == 0, result.stderr
    report = report_of(outbox, "bees")
    assert len(report["transcript"]["segments"]) == 9
    assert 2 <= len(report["slides"]) <= 5
    check_timing(outbox, "bees", report)
    # a re-run synthesises nothing new: every sentence comes from the cache
    cached = sorted(speech_cache.rglob("*.wav"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    source.write_text(PROSE + " One new sentence ends the talk.", encoding="utf-8")
    again = cli("process", str(source), "--outbox", str(outbox), "--config",
                str(tmp_path / "presgend.toml"))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert len(list(speech_cache.rglob("*.wav"))) == len(cached) + 1


def test_presenter_image_is_framed_on_its_face(
    tmp_path: Path, speech_cache: Path, astronaut_png: Path
) -> None:
    shutil.copy(astronaut_png, tmp_path / "moon.png")
    result, outbox, _ = process(tmp_path, speech_cache, "moon.md", "# The Moon\n\n" + PROSE[:160],
                                output={"quality": "standard"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = report_of(outbox, "moon")
    assert report["presenter"] == {"kind": "image", "image": "sidecar"}
    assert report["face"]["detected"] and report["face"]["method"] == "haar-image"
    x, y, w, h = report["face"]["box"]
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200  # the astronaut's face, 512x512
    frames = gray_frames(outbox / "moon.mp4", "640:720:0:0", (320, 360), 1)
    centres = []
    for frame in frames:
        found = face.detect_faces(frame)
        if found:
            best = max(found, key=lambda b: b.w * b.h)
            centres.append((best.x + best.w / 2, best.y + best.h / 2))
    assert len(centres) >= len(frames) // 2
    cx, cy = np.median(centres, axis=0)
    assert abs(cx - 160) < 40 and abs(cy - 180) < 70  # near the middle of the left half


FAKE_SADTALKER = """\
import argparse, json, os, subprocess, sys, time
p = argparse.ArgumentParser()
for name in ("--driven_audio", "--source_image", "--result_dir", "--size", "--preprocess",
             "--enhancer"):
    p.add_argument(name)
p.add_argument("--still", action="store_true")
args = p.parse_args()
mode = os.environ.get("FAKE_SADTALKER", "ok")
json.dump({"argv": sys.argv[1:], "cwd": os.getcwd()}, open(args.result_dir + "/args.json", "w"))
if mode == "hang":
    time.sleep(60)
if mode == "fail":
    sys.exit("CUDA out of memory")
out = os.path.join(args.result_dir, time.strftime("%Y_%m_%d_%H.%M.%S") + ".mp4")
size = int(args.size)
subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                f"testsrc2=s={size}x{size}:r=25:d=3", "-i", args.driven_audio, "-shortest",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", out], check=True)
print(out)
"""


@pytest.fixture
def fake_sadtalker(tmp_path: Path) -> Path:
    folder = tmp_path / "SadTalker"
    folder.mkdir()
    (folder / "inference.py").write_text(FAKE_SADTALKER)
    return folder


def test_sadtalker_adapter_contract(
    tmp_path: Path, fake_sadtalker: Path, astronaut_png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = tmp_path / "speech.wav"
    import subprocess

    subprocess.run(["espeak-ng", "-w", str(wav), "Hello from the fake talking head."], check=True)
    cfg = config_mod.from_dict(
        {"presenter": {"sadtalker_dir": str(fake_sadtalker), "sadtalker_timeout": 30.0}}
    ).presenter
    for quality, size, enhancer in (("standard", "256", False), ("high", "512", True)):
        work = tmp_path / quality
        work.mkdir()
        video = asyncio.run(
            presenter.run_sadtalker(cfg, wav, astronaut_png, work, hardware.QUALITIES[quality])
        )
        assert video.suffix == ".mp4" and video.stat().st_size > 0
        args = json.loads((work / "sadtalker" / "args.json").read_text())
        argv = args["argv"]
        assert argv[argv.index("--size") + 1] == size
        assert argv[argv.index("--driven_audio") + 1] == str(wav.resolve())
        assert argv[argv.index("--source_image") + 1] == str(astronaut_png.resolve())
        assert ("--enhancer" in argv) is enhancer
        assert Path(args["cwd"]) == fake_sadtalker.resolve()  # its checkpoints are relative
    monkeypatch.setenv("FAKE_SADTALKER", "hang")
    quick = config_mod.replace(
        config_mod.from_dict({"presenter": {"sadtalker_dir": str(fake_sadtalker)}}),
        "presenter",
        sadtalker_timeout=2.0,
    ).presenter
    (tmp_path / "hang").mkdir()
    with pytest.raises(ToolError, match="longer than 2 seconds"):
        asyncio.run(
            presenter.run_sadtalker(
                quick, wav, astronaut_png, tmp_path / "hang", hardware.QUALITIES["standard"]
            )
        )


def test_sadtalker_is_used_when_on_and_falls_back_when_it_fails(
    tmp_path: Path,
    speech_cache: Path,
    fake_sadtalker: Path,
    monkeypatch: pytest.MonkeyPatch,
    astronaut_png: Path,
) -> None:
    shutil.copy(astronaut_png, tmp_path / "st.png")  # SadTalker animates a picture
    settings = {"sadtalker_dir": str(fake_sadtalker), "sadtalker": "on"}
    result, outbox, _ = process(tmp_path, speech_cache, "st.md", "# Hi\n\nA short talk. It ends.",
                                presenter=settings)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert report_of(outbox, "st")["presenter"]["kind"] == "sadtalker"
    monkeypatch.setenv("FAKE_SADTALKER", "fail")
    again = cli("process", str(tmp_path / "st.md"), "--outbox", str(outbox), "--config",
                str(tmp_path / "presgend.toml"))  # fmt: skip
    assert again.returncode == 0, again.stderr
    report = report_of(outbox, "st-2")
    assert report["presenter"]["kind"] == "image"
    assert any("SadTalker failed" in f for f in report["fallbacks"])


def test_plan_shows_sentences_sections_engine_and_estimates(
    tmp_path: Path, fake_sadtalker: Path
) -> None:
    source = tmp_path / "plan me.md"
    source.write_text(MARKDOWN, encoding="utf-8")
    config = script_config(
        tmp_path, tmp_path / "cache", presenter={"sadtalker_dir": str(fake_sadtalker),
                                                 "sadtalker": "on"}
    )  # fmt: skip
    result = cli("plan", str(source), "--config", str(config))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "slide 2: Storing the energy" in out
    assert "1. Solar panels turn sunlight into electricity." in out
    assert "Piper (en_US-joe-medium)" in out and "gTTS" not in out
    assert "SadTalker" in out and re.search(r"presenter\s+~\s*\d+", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["plan me.md", "presgend.toml", "SadTalker"]
    )  # nothing written


# --- bad and odd scripts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\t\n  ", "empty"),
        ("binary.txt", bytes(range(256)) * 8, "not text"),
        ("latin1.txt", "Un café au lait, s'il vous plaît.".encode("latin-1"), "not UTF-8"),
        ("huge.txt", b"All work and no play. " * 500_000, "limited to"),
        ("markup.md", b"# \n\n---\n\n- \n", "no words"),
    ],
)
def test_bad_scripts_fail_clearly(
    tmp_path: Path, speech_cache: Path, name: str, data: bytes, words: str
) -> None:
    result, outbox, source = process(tmp_path, speech_cache, name, data)
    assert result.returncode != 0
    stem = source.stem
    error = json.loads((outbox / f"{stem}.error.json").read_text(encoding="utf-8"))
    assert words in error["error"], error
    assert error["error"].endswith(".") and "\n" not in error["error"]
    assert not list(outbox.glob("*.mp4"))
    assert source.read_bytes() == data  # untouched


def test_decoding_rules() -> None:
    text = "Grüße aus Köln."
    assert inputs.decode_script(b"\xef\xbb\xbf" + text.encode()) == text
    assert inputs.decode_script(text.encode("utf-16")) == text  # with its BOM
    with pytest.raises(JobError, match="without a byte-order mark"):
        inputs.decode_script(text.encode("utf-16-le"))
    parsed = script.parse("Intro line.\n\n# One\n\n1. First point\n2) Second point\n# Two\nBody.")
    assert parsed.structured
    assert [p.title for p in parsed.parts] == ["One", "Two"]
    assert parsed.parts[0].bullets == ["First point", "Second point"]
    assert parsed.parts[0].lines == ["Intro line.", "First point.", "Second point."]


def test_html_in_a_script_is_literal_text_and_fetches_nothing(
    tmp_path: Path,
    speech_cache: Path,
    listener: tuple[int, list[str]],  # noqa: F811
) -> None:
    port, hits = listener
    text = (
        f"# <script>alert(1)</script> Safety\n\n"
        f"- <img src=http://127.0.0.1:{port}/img.png>\n"
        f"- @import url(http://127.0.0.1:{port}/x.css);\n\n"
        "Markup in a script is spoken and shown as plain text."
    )
    result, outbox, _ = process(tmp_path, speech_cache, "html.md", text)
    assert result.returncode == 0, result.stderr
    report = report_of(outbox, "html")
    assert report["slides"][0]["title"] == "<script>alert(1)</script> Safety"
    assert report["slides"][0]["bullets"][0] == f"<img src=http://127.0.0.1:{port}/img.png>"
    assert hits == []


def test_cjk_script_speaks_and_its_glyphs_render(tmp_path: Path, speech_cache: Path) -> None:
    text = "# 太阳能发电\n\n太阳能电池板把阳光变成电能。电池在晚上供电。电网每秒平衡供需。"
    result, outbox, _ = process(tmp_path, speech_cache, "solar-zh.md", text)
    assert result.returncode == 0, result.stderr
    report = report_of(outbox, "solar-zh")
    assert report["slides"][0]["title"] == "太阳能发电"
    assert len(report["transcript"]["segments"]) == 3
    # the English Piper voice cannot read Chinese: espeak-ng's Mandarin voice speaks it
    assert (report["speech"]["engine"], report["speech"]["voice"]) == ("espeak", "cmn")
    assert any("does not speak 'zh'" in f for f in report["speech"]["fallbacks"])
    # glyphs, not boxes: two different titles of the same length must render differently
    out = tmp_path / "glyphs"
    out.mkdir()
    sections = [
        Section(0, "太阳能发电", ["电池"], 0.0, 1.0, []),
        Section(1, "电网平衡供", ["阳光"], 1.0, 2.0, []),
    ]
    deck = asyncio.run(
        slides.render_chromium(
            sections, (640, 720), out, slides.look_from(config_mod.Config().slides), _chromium()
        )
    )
    from PIL import Image

    pngs = [b.png for b in deck.builds]
    first, second = (np.asarray(Image.open(p).convert("L"), dtype=np.int16) for p in pngs)
    assert np.abs(first[150:300] - second[150:300]).mean() > 1.0


def _chromium() -> str:
    return config_mod.from_dict({}).slides.chromium


def test_script_without_a_python_sadtalker_checkout_is_not_used(tmp_path: Path) -> None:
    cfg = config_mod.from_dict({"presenter": {"sadtalker_dir": str(tmp_path)}}).presenter
    usable, why = presenter.sadtalker_usable(cfg, hardware.detect())
    assert not usable and "inference.py" in why
