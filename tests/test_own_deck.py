"""Decks in (issue 34): a recording with its own deck (a PDF or a PowerPoint file beside
the video) shown page by page as the speaker reaches each page; a PowerPoint deck's notes,
or a script beside a PDF, narrated over the author's pages; hostile decks refused in one
sentence; every front."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.cli import cli, write_config
from support.decks import SOLAR_DECK, pdf_deck

from presgend.ops import sample
from presgend.pipeline.text import pages


def _colour(hex_: str) -> np.ndarray:
    return np.array([int(hex_[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _right_half_at(video: Path, t: float) -> np.ndarray:
    """The mean colour at `t` of a patch of the slide half where a page shows only its
    background (right of its text, in the band a 16:9 page takes in the panel)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{t:.2f}", "-i", str(video), "-frames:v", "1",
         "-vf", "crop=iw/20:ih/10:iw*0.9:ih*0.6,scale=4:4", "-f", "rawvideo", "-pix_fmt",
         "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(float).mean(axis=0)


@pytest.fixture(scope="module")
def shown(
    talk: sample.SampleTalk, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, Path, sample.SampleTalk]:  # type: ignore[type-arg]
    work = tmp_path_factory.mktemp("own-deck")
    video = work / "solar.mp4"
    shutil.copy(talk.video, video)
    shutil.copy(talk.srt, work / "solar.srt")
    pdf_deck(work / "solar.pdf", SOLAR_DECK)
    config = write_config({"output": {"quality": "draft"}}, work / "presgend.toml")
    result = cli("process", str(video), "--outbox", str(work / "out"), "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((work / "out" / "solar.report.json").read_text())
    return report, work / "out" / "solar.mp4", talk


def test_each_page_goes_up_when_the_speaker_starts_on_it(shown) -> None:  # type: ignore[no-untyped-def]
    report, _, talk = shown
    deck = report["deck"]
    assert deck["source"] == "solar.pdf" and deck["pages"] == 4
    matched = {m["page"]: m for m in deck["matched"]}
    assert sorted(matched) == [1, 2, 4], deck  # the revenue page is skipped
    said = [s.start for s in talk.segments]
    assert matched[1]["start_s"] == 0.0
    assert abs(matched[2]["start_s"] - said[3]) <= 1.0, (matched, said)  # "Battery storage…"
    assert abs(matched[4]["start_s"] - said[6]) <= 1.0, (matched, said)  # "Grid operators…"
    assert all(m["confidence"] >= pages.MIN_CONFIDENCE for m in deck["matched"])
    assert any("Page 3 of solar.pdf (“Quarterly Revenue”) matched nothing" in w
               for w in report["warnings"])  # fmt: skip
    assert [s["title"] for s in report["slides"]] == ["Solar Power", "Battery Storage", "The Grid"]
    assert report["output"].get("pptx") is None  # the author has the deck: none of ours


def test_the_frames_show_the_authors_pages_at_those_times(shown) -> None:  # type: ignore[no-untyped-def]
    report, video, _ = shown
    starts = [m["start_s"] for m in report["deck"]["matched"]] + [report["output"]["duration_s"]]
    colours = {1: SOLAR_DECK[0][2], 2: SOLAR_DECK[1][2], 4: SOLAR_DECK[3][2]}
    for m, end in zip(report["deck"]["matched"], starts[1:], strict=True):
        seen = _right_half_at(video, (m["start_s"] + end) / 2)
        wanted = _colour(colours[m["page"]])
        others = [_colour(c) for p, c in colours.items() if p != m["page"]]
        assert np.abs(seen - wanted).max() < 20, (m, seen, wanted)
        assert all(np.abs(seen - o).max() > 20 for o in others)


def test_a_deck_presented_out_of_order_is_reported_honestly(tmp_path: Path) -> None:
    """Pages go forwards only: a talk that goes back to an earlier page shows the later
    one on, and the page passed over is reported."""
    found = [pages.Page(i + 1, tmp_path / f"{i}.png", f"{t}\n" + "\n".join(lines))
             for i, (t, lines, _) in enumerate(SOLAR_DECK)]  # fmt: skip
    said = [(0.0, "Grid operators balance supply and demand."),
            (5.0, "Panels turn sunlight into electricity."),
            (9.0, "Smart meters shift demand to sunny hours.")]  # fmt: skip
    matched = pages.match(found, said)
    assert [m.page for m in matched] == sorted(m.page for m in matched)  # never backwards
    assert len({m.page for m in matched}) == len(matched)  # no page twice
    assert matched[-1].page == 4


def test_a_damaged_deck_is_one_clear_sentence(tmp_path: Path, talk: sample.SampleTalk) -> None:
    video = tmp_path / "broken.mp4"
    shutil.copy(talk.video, video)
    shutil.copy(talk.srt, tmp_path / "broken.srt")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    result = cli("process", str(video), "--outbox", str(tmp_path / "out"))
    assert result.returncode != 0
    error = json.loads((tmp_path / "out" / "broken.error.json").read_text())
    assert error["error"].startswith("The deck broken.pdf could not be read as a PDF"), error


def test_a_deck_of_five_hundred_pages_is_refused_before_drawing(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    from presgend.core.errors import JobError

    doc = pdfium.PdfDocument.new()
    for _ in range(500):
        doc.new_page(960, 540)
    doc.save(str(tmp_path / "book.pdf"))
    with pytest.raises(JobError, match=r"The deck book.pdf has 500 pages; at most 300"):
        pages.read(tmp_path / "book.pdf", (320, 360), "#ffffff", tmp_path / "drawn")
    assert not (tmp_path / "drawn").exists()


def test_through_the_daemon_the_deck_travels_with_its_recording(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """Dropped in the inbox (the deck first, then the transcript, then the video), the
    PDF is claimed with the video and archived with it; the report names it."""
    from support.daemons import DaemonProcess, visible

    inbox = tmp_path / "inbox"
    daemon = DaemonProcess(tmp_path)
    try:
        pdf_deck(inbox / "clip.pdf", SOLAR_DECK)
        shutil.copy(clip.srt, inbox / "clip.srt")
        shutil.copy(clip.video, inbox / "clip.mp4")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the job")
        report = json.loads((tmp_path / "outbox" / "clip.report.json").read_text())
        assert report["deck"]["source"] == "clip.pdf"
        assert [m["page"] for m in report["deck"]["matched"]] == [1, 2, 4]
        assert not [n for n in visible(inbox) if n.startswith("clip")]
        daemon.wait_for(lambda: "clip.pdf" in visible(tmp_path / "archive"), 30, "archived")
    finally:
        assert daemon.stop() == 0


def test_an_edit_of_a_video_shown_with_its_own_deck_is_refused(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """Its slides are the author's pages: the edit document cannot change them, so an
    edit says what to do instead rather than replacing them with generated slides."""
    paths = {name: str(tmp_path / name) for name in ("inbox", "outbox", "failed", "archive")}
    cfg = write_config({"paths": paths, "output": {"quality": "draft"}}, tmp_path / "p.toml")
    (tmp_path / "inbox").mkdir()
    shutil.copy(clip.video, tmp_path / "clip.mp4")
    shutil.copy(clip.srt, tmp_path / "clip.srt")
    pdf_deck(tmp_path / "clip.pdf", SOLAR_DECK)
    assert cli("process", str(tmp_path / "clip.mp4"), "--config", str(cfg)).returncode == 0
    got = cli("edit", str(tmp_path / "outbox" / "clip.report.json"), "--config", str(cfg))
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    doc["slides"][0]["title"] = "Renamed"
    (tmp_path / "clip.edit.json").write_text(json.dumps(doc))
    done = cli("process", str(tmp_path / "clip.edit.json"), "--config", str(cfg))
    assert done.returncode != 0
    error = json.loads((tmp_path / "outbox" / "clip.edit.error.json").read_text())
    assert "shows its author's own deck (clip.pdf)" in error["error"], error
    assert json.loads((tmp_path / "outbox" / "clip.report.json").read_text())["version"] == 1


NOTES = """# Solar Power
Solar panels turn sunlight into electricity for homes.

# Battery Storage
Home batteries keep the lights on after sunset.
Their chemistry decides how long the storage lasts.

# Quarterly Revenue
Revenue grew in the north and held in the south.
"""


def test_a_script_with_its_deck_is_the_notes_spoken_over_the_pages(tmp_path: Path) -> None:
    """`talk.md` (a section per page) with `talk.pdf`: each section is said over its
    page, from its first sentence; the author's pages, not our slides; a page with no
    notes is not shown, and said so."""
    (tmp_path / "notes.md").write_text(NOTES)
    pdf_deck(tmp_path / "notes.pdf", SOLAR_DECK)
    config = write_config({"output": {"quality": "draft"}}, tmp_path / "p.toml")
    done = cli("process", str(tmp_path / "notes.md"), "--outbox", str(tmp_path / "out"),
               "--config", str(config))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out" / "notes.report.json").read_text())
    matched = report["deck"]["matched"]
    assert [m["page"] for m in matched] == [1, 2, 3]
    segments = report["transcript"]["segments"]
    firsts = [next(s["start"] for s in segments if s["text"].startswith(w))
              for w in ("Home batteries", "Revenue grew")]  # fmt: skip
    assert matched[0]["start_s"] == 0.0
    assert [m["start_s"] for m in matched[1:]] == pytest.approx(firsts, abs=0.01)
    assert [s["title"] for s in report["slides"]] == [t for t, _, _ in SOLAR_DECK[:3]]
    assert all(not s["bullets"] for s in report["slides"])  # no invented bullets
    assert any("Page 4 of notes.pdf (“The Grid”) has no notes" in w for w in report["warnings"])
    video = tmp_path / "out" / "notes.mp4"
    ends = [m["start_s"] for m in matched[1:]] + [report["output"]["duration_s"]]
    for m, end in zip(matched, ends, strict=True):
        seen = _right_half_at(video, (m["start_s"] + end) / 2)
        assert np.abs(seen - _colour(SOLAR_DECK[m["page"] - 1][2])).max() < 20, (m, seen)


def test_uploaded_with_its_deck_over_http(tmp_path: Path, clip: sample.SampleTalk) -> None:
    """The deck as a `deck` field beside the video (and beside its transcript)."""
    from support.http_service import HttpServer

    deck = pdf_deck(tmp_path / "slides.pdf", SOLAR_DECK)
    srv = HttpServer(tmp_path)
    try:
        answer = srv.upload(clip.video, "up.mp4", transcript=clip.srt, deck=deck)
        assert answer.status_code == 202, answer.text
        status = srv.wait(answer.json()["job_id"])
        assert status["status"] == "ok", status
        assert status["report"]["deck"]["source"] == "up.pdf"
        assert [m["page"] for m in status["report"]["deck"]["matched"]] == [1, 2, 4]
        assert "edit_url" not in status  # its slides are the deck's: edited as a deck
    finally:
        assert srv.stop() == 0


def test_mcp_submit_file_takes_the_deck_beside_the_file(tmp_path: Path) -> None:
    from presgend.fronts.mcp_tools import sidecars_beside

    for name in ("talk.mp4", "talk.srt", "talk.pdf", "notes.md", "notes.png", "notes.pdf"):
        (tmp_path / name).write_bytes(b"x")
    video = sidecars_beside(tmp_path / "talk.mp4", "talk.mp4")
    assert video == {".srt": tmp_path / "talk.srt", ".pdf": tmp_path / "talk.pdf"}
    script = sidecars_beside(tmp_path / "notes.md", "notes.md")
    assert script == {".png": tmp_path / "notes.png", ".pdf": tmp_path / "notes.pdf"}


def test_a_powerpoint_deck_with_notes_is_a_narrated_video(
    tmp_path: Path, astronaut_png: Path, tiny_model: Path
) -> None:
    """talk.pptx (titles, bullets, a picture, notes) → each slide drawn by LibreOffice as
    designed, its notes spoken over it; a slide without notes shown for
    `slides.silent_slide_seconds` in silence."""
    from support.decks import NARRATED, pptx_deck

    pptx_deck(tmp_path / "deck.pptx", NARRATED, picture=astronaut_png)
    config = write_config({"output": {"quality": "draft"}}, tmp_path / "p.toml")
    done = cli("process", str(tmp_path / "deck.pptx"), "--outbox", str(tmp_path / "out"),
               "--config", str(config))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out" / "deck.report.json").read_text())
    assert report["deck"]["source"] == "deck.pptx" and report["deck"]["pages"] == 3
    matched = report["deck"]["matched"]
    assert [m["page"] for m in matched] == [1, 2, 3]
    assert [s["title"] for s in report["slides"]] == ["Solar Power", "Battery Storage", "Appendix"]
    segments = report["transcript"]["segments"]
    assert matched[2]["start_s"] >= segments[-1]["end"]  # after the last word, in silence
    assert report["output"]["duration_s"] - matched[2]["start_s"] >= 3.0
    heard = " ".join(s["text"] for s in segments)
    assert heard.startswith("Solar panels turn sunlight") and "after sunset" in heard
    video = tmp_path / "out" / "deck.mp4"
    ends = [m["start_s"] for m in matched[1:]] + [report["output"]["duration_s"]]
    for m, end in zip(matched, ends, strict=True):
        seen = _right_half_at(video, (m["start_s"] + end) / 2)
        assert np.abs(seen - _colour(NARRATED[m["page"] - 1][3])).max() < 25, (m, seen)
    # the narration heard back by a recogniser is the notes
    from support.speech import word_error_rate

    from presgend.core.config import TranscriptionConfig
    from presgend.pipeline.video import transcribe

    wav = tmp_path / "heard.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-ac", "1", "-ar", "16000",
                    str(wav)], check=True)  # fmt: skip
    heard_back = transcribe.whisper_transcribe(
        wav, TranscriptionConfig(model=str(tiny_model), language="en"), cuda=False
    )
    notes = " ".join(n for _, _, n, _ in NARRATED if n)
    assert word_error_rate(notes, heard_back.text) <= 0.15, heard_back.text


def _with_member(source: Path, out: Path, name: str, data: bytes) -> Path:
    """`source` with one more member (or one replaced), as a crafted deck would have."""
    import zipfile

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != name:
                dst.writestr(item, src.read(item))
        dst.writestr(name, data)
    return out


def test_hostile_powerpoint_decks_are_refused_with_one_sentence(tmp_path: Path) -> None:
    """Macros, another program's object, a link outside the deck, a zip bomb, a corrupt
    file, a deck with nothing to say: each one sentence in failed/, nothing opened or
    fetched (the checks run before LibreOffice or python-pptx see the deck)."""
    from support.decks import NARRATED, pptx_deck

    good = pptx_deck(tmp_path / "good.pptx", NARRATED)
    rels = "ppt/slides/_rels/slide1.xml.rels"
    import zipfile

    with zipfile.ZipFile(good) as deck:
        linked = deck.read(rels).replace(
            b"</Relationships>",
            b'<Relationship Id="rIdX" Type="http://schemas.openxmlformats.org/officeDocument/'
            b'2006/relationships/image" Target="http://example.invalid/a.png" '
            b'TargetMode="External"/></Relationships>',
        )
    cases = {
        "macros": (_with_member(good, tmp_path / "macros.pptx", "ppt/vbaProject.bin", b"x"),
                   "contains macros"),
        "ole": (_with_member(good, tmp_path / "ole.pptx", "ppt/embeddings/oleObject1.bin",
                             b"x"), "embeds other programs' objects"),
        "link": (_with_member(good, tmp_path / "link.pptx", rels, linked),
                 "links to files or addresses outside it"),
        "bomb": (_with_member(good, tmp_path / "bomb.pptx", "ppt/media/big.bin",
                              b"\0" * (64 * 1024 * 1024)), "a zip bomb"),
        "corrupt": (tmp_path / "corrupt.pptx", "is not a PowerPoint file that can be read"),
        "silent": (pptx_deck(tmp_path / "silent.pptx", [(t, b, "", c) for t, b, _, c in NARRATED]),
                   "has no speaker notes to say"),
    }  # fmt: skip
    (tmp_path / "corrupt.pptx").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    for why, (deck, said) in cases.items():
        done = cli("process", str(deck), "--outbox", str(tmp_path / "out"))
        assert done.returncode != 0, why
        error = json.loads((tmp_path / "out" / f"{deck.stem}.error.json").read_text())
        assert said in error["error"], (why, error["error"])
        assert error["error"].count(". ") <= 1, error["error"]  # one sentence (and a hint)
    assert not list(tmp_path.glob("out/*.mp4"))


def test_a_video_with_its_own_deck_is_not_held_for_review(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """`[review] hold` makes a draft to edit; the deck's pages cannot be edited there, so
    the video is composed at once, saying why."""
    shutil.copy(clip.video, tmp_path / "held.mp4")
    shutil.copy(clip.srt, tmp_path / "held.srt")
    pdf_deck(tmp_path / "held.pdf", SOLAR_DECK)
    config = write_config({"output": {"quality": "draft"}, "review": {"hold": True}},
                          tmp_path / "p.toml")  # fmt: skip
    done = cli("process", str(tmp_path / "held.mp4"), "--outbox", str(tmp_path / "out"),
               "--config", str(config))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out" / "held.report.json").read_text())
    assert report["status"] == "ok" and (tmp_path / "out" / "held.mp4").is_file()
    assert any(w.startswith("Not held for review") for w in report["warnings"])


def test_a_slide_without_notes_is_silence_in_the_narration(tmp_path: Path) -> None:
    """Silence goes in where the slide is shown; every word after it moves by as much."""
    from presgend.pipeline.script import script, speech

    wav = tmp_path / "said.wav"
    speech.write_wav(wav, np.full(2 * speech.RATE, 0.25, np.float32))
    said = speech.Speech(wav, 2.0, [speech.Spoken("One.", 0.3, 1.0),
                                    speech.Spoken("Two.", 1.5, 1.9)], "piper", [])  # fmt: skip
    parts = [script.Part("A", lines=["One."]), script.Part("B"), script.Part("C", lines=["Two."])]
    at = script.silences(parts, script.timed_sentences(said.sentences), said.duration, 3.0)
    assert at == {1: 1.5}
    longer = speech.with_silences(said, list(at.values()), 3.0)
    assert [(s.start, s.end) for s in longer.sentences] == [(0.3, 1.0), (4.5, 4.9)]
    samples = speech.read_wav(wav)
    assert len(samples) == 5 * speech.RATE and longer.duration == 5.0
    assert not samples[int(1.6 * speech.RATE) : int(4.4 * speech.RATE)].any()  # silence
    assert samples[int(4.6 * speech.RATE)] > 0.2  # "Two." after it
    assert script.silences(parts, script.timed_sentences(said.sentences), 2.0, 0.0) == {}


def test_a_recording_with_its_powerpoint_deck_through_the_daemon(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """`clip.pptx` beside `clip.mp4` is the recording's deck, not a deck to narrate: it
    travels with the video, is drawn by LibreOffice and shown page by page."""
    from support.daemons import DaemonProcess, visible
    from support.decks import pptx_deck

    inbox = tmp_path / "inbox"
    deck = [(t, lines, "", c) for t, lines, c in SOLAR_DECK]  # no notes: it is not narrated
    daemon = DaemonProcess(tmp_path)
    try:
        shutil.copy(clip.srt, inbox / "clip.srt")
        shutil.copy(clip.video, inbox / "clip.mp4")
        pptx_deck(inbox / "clip.pptx", deck)
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the job")
        report = json.loads((tmp_path / "outbox" / "clip.report.json").read_text())
        assert report["deck"]["source"] == "clip.pptx"
        assert [m["page"] for m in report["deck"]["matched"]] == [1, 2, 4]
        assert len(daemon.events("job_started")) == 1  # one job, not a second for the deck
        archived = {"clip.mp4", "clip.pptx"}
        daemon.wait_for(lambda: archived <= set(visible(tmp_path / "archive")), 30, "archived")
        assert not list((tmp_path / "failed").glob("*"))
    finally:
        assert daemon.stop() == 0


def _pdf_with_script(path: Path) -> Path:
    """A one-page PDF that asks, when opened, to run JavaScript and to launch a program
    and fetch an address: a viewer that did would show it; PDFium only draws."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /AA << /WC 6 0 R >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] /Contents 4 0 R "
        b"/Resources << /Font << /F1 7 0 R >> >> >>",
        None,  # the page's text, below
        b"<< /S /JavaScript /JS (app.launchURL('http://example.invalid/', true);) >>",
        b"<< /S /Launch /F (/bin/sh) >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    text = b"BT /F1 48 Tf 60 440 Td (Solar Power) Tj ET"
    objects[3] = b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream"
    out, offsets = b"%PDF-1.7\n", []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)  # fmt: skip
    path.write_bytes(out)
    return path


def test_a_pdf_with_scripts_and_actions_is_only_drawn(tmp_path: Path) -> None:
    found = pages.read(_pdf_with_script(tmp_path / "s.pdf"), (320, 360), "#ffffff",
                       tmp_path / "drawn")  # fmt: skip
    assert len(found) == 1 and found[0].title == "Solar Power"
    drawn = np.asarray(Image.open(found[0].png).convert("L"))
    assert drawn.shape == (360, 320) and drawn.min() < 128  # the text is drawn


def test_without_libreoffice_a_powerpoint_deck_is_one_sentence_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from support.decks import NARRATED, pptx_deck

    from presgend.core.errors import JobError
    from presgend.pipeline.script import slideshow

    monkeypatch.setattr(slideshow, "soffice", lambda: None)
    deck = pptx_deck(tmp_path / "d.pptx", NARRATED)
    with pytest.raises(JobError, match="sudo apt-get install libreoffice-impress") as caught:
        asyncio.run(slideshow.to_pdf(deck, tmp_path, timeout=60))
    assert caught.value.fault == "setup"


def test_a_preset_folder_takes_the_deck_with_its_recording(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    """Dropped in a preset's subfolder, the PDF goes with the video into the preset's job
    (its dark theme letterboxes the pages on the dark background)."""
    from support.daemons import DaemonProcess

    board = tmp_path / "inbox" / "board"
    board.mkdir(parents=True)
    toml = '[presets.board]\nslides.theme = "dark"\noutput.quality = "draft"\n'
    daemon = DaemonProcess(tmp_path, toml=toml)
    try:
        pdf_deck(board / "clip.pdf", SOLAR_DECK)
        shutil.copy(clip.srt, board / "clip.srt")
        shutil.copy(clip.video, board / "clip.mp4")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the job")
    finally:
        assert daemon.stop() == 0
    report = json.loads((tmp_path / "outbox" / "board" / "clip.report.json").read_text())
    assert report["preset"] == "board" and report["deck"]["source"] == "clip.pdf"
    assert [m["page"] for m in report["deck"]["matched"]] == [1, 2, 4]
    top = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "1", "-i", str(tmp_path / "outbox" / "board" / "clip.mp4"),
         "-frames:v", "1", "-vf", "crop=iw/2:ih/10:iw/2:0,scale=4:4,format=gray", "-f",
         "rawvideo", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert np.frombuffer(top, np.uint8).mean() < 60  # above the page: the dark background


def test_a_page_goes_up_on_the_first_sentence_that_speaks_of_it(tmp_path: Path) -> None:
    """An agenda page names every topic; the sentence that opens a topic shares as much
    with the agenda as with the topic's page, and it is the topic page's."""
    deck = [("Reliable Media Pipelines", "Watch folders, safe publishing, honest reports"),
            ("Watch Folders", "Copy tools, sync clients and network shares"),
            ("Safe Publishing", "A temporary name, checked with ffprobe")]  # fmt: skip
    found = [pages.Page(i + 1, tmp_path / f"{i}.png", f"{t}\n{b}") for i, (t, b) in enumerate(deck)]
    said = [(0.3, "Welcome to this short talk about running reliable media pipelines."),
            (4.7, "I will cover watch folders, safe publishing and honest reports."),
            (9.2, "Watch folders are the simplest way to hand work to a machine."),
            (13.2, "People drop files with copy tools, sync clients and network shares."),
            (23.1, "Safe publishing means the outbox only ever shows finished results."),
            (27.5, "Every video is written under a temporary name and checked with ffprobe.")]
    assert [(m.page, m.start_s) for m in pages.match(found, said)] == [(1, 0.0), (2, 9.2),
                                                                       (3, 23.1)]  # fmt: skip


def test_the_same_narrated_deck_dropped_twice_is_a_duplicate(tmp_path: Path) -> None:
    """A deck to narrate is new input, so the same bytes again are the same video (an
    edit of a job, by contrast, is never a duplicate)."""
    from support.daemons import DaemonProcess
    from support.decks import NARRATED, pptx_deck

    deck = pptx_deck(tmp_path / "deck.pptx", NARRATED[:1])
    daemon = DaemonProcess(tmp_path)
    try:
        shutil.copy(deck, tmp_path / "inbox" / "first.pptx")
        daemon.wait_for(lambda: daemon.events("job_succeeded"), 120, "the first deck")
        shutil.copy(deck, tmp_path / "inbox" / "again.pptx")
        daemon.wait_for(lambda: daemon.events("job_duplicate"), 60, "the second drop")
    finally:
        assert daemon.stop() == 0
    assert len(daemon.events("job_succeeded")) == 1
