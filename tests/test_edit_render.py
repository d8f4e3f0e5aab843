"""Upload → edit → download, end to end with the real pipeline: a finished job edited
and rendered again (only what changed redone), its deck edited in python-pptx and
dropped back, a job held for review and approved after a restart, an invalid edit
refused with every problem, and a crash mid re-render that leaves the previous version
whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli, write_config
from support.daemons import DaemonProcess, valid_video, visible
from support.frames import changes_of, gray_frames

from presgend.ops import sample


def config(tmp_path: Path, **extra: dict[str, Any]) -> Path:
    values: dict[str, dict[str, Any]] = {
        "paths": {name: str(tmp_path / name)
                  for name in ("inbox", "outbox", "failed", "archive", "logs")},
        "output": {"quality": "draft"},
    }  # fmt: skip
    for section, keys in extra.items():
        values.setdefault(section, {}).update(keys)
    (tmp_path / "inbox").mkdir(exist_ok=True)
    return write_config(values, tmp_path / "presgend.toml")


def report(outbox: Path, stem: str = "talk") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((outbox / f"{stem}.report.json").read_text())
    return data


def edit_doc(cfg: Path, job: str) -> dict[str, Any]:
    done = cli("edit", job, "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory, talk: sample.SampleTalk) -> Path:
    """The ~35 s talk made once (draft), with the job kept for editing."""
    root = tmp_path_factory.mktemp("edited")
    cfg = config(root)
    shutil.copy(talk.video, root / "talk.mp4")
    shutil.copy(talk.srt, root / "talk.srt")
    done = cli("process", str(root / "talk.mp4"), "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    return root


def test_an_edit_renders_a_new_version_encoding_only_what_changed(
    processed: Path, tmp_path: Path
) -> None:
    root = processed
    cfg, outbox = root / "presgend.toml", root / "outbox"
    first = report(outbox)
    assert first["version"] == 1
    doc = edit_doc(cfg, str(outbox / "talk.report.json"))
    assert doc["job_id"] == first["job_id"] and len(doc["slides"]) == len(first["slides"])
    # a new title for slide 2, shown 2 s later; a caption reworded
    doc["slides"][1]["title"] = "Watch Folders, Edited"
    later = doc["slides"][1]["start_s"] + 2.0
    doc["slides"][1]["start_s"] = later
    doc["slides"][1]["bullets"][0]["at_s"] = max(later, doc["slides"][1]["bullets"][0]["at_s"])
    doc["captions"][0]["text"] = "A caption, edited."
    edited = root / "talk.edit.json"
    edited.write_text(json.dumps(doc))
    done = cli("process", str(edited), "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    second = report(outbox)
    assert second["version"] == 2 and second["job_id"] == first["job_id"]
    assert second["edit"]["slides"] == [1] and second["edit"]["captions"] is True
    assert second["compose"]["encoded"] < second["compose"]["segments"], second["compose"]
    assert second["slides"][1]["title"] == "Watch Folders, Edited"
    assert second["slides"][1]["start_s"] == pytest.approx(later, abs=0.01)
    assert "A caption, edited." in (outbox / "talk.srt").read_text()
    assert valid_video(outbox / "talk.mp4") == ""
    assert sorted(p.name for p in outbox.iterdir() if not p.name.startswith(".")) == sorted(
        f"talk{s}" for s in (".mp4", ".srt", ".vtt", ".pptx", ".chapters.vtt", ".preview.jpg",
                             ".report.json")
    ), "the version replaced the outputs, under the same name"  # fmt: skip
    # the new title from its new time: the slide half changes there, not where it did
    changes = changes_of(outbox / "talk.mp4")
    assert [t for t in changes if abs(t - later) < 0.5], f"a slide change at {later:.1f} s"
    assert not [t for t in changes if abs(t - (later - 2.0)) < 0.3], "none at the old time"
    frames = gray_frames(outbox / "talk.mp4", "iw/2:ih:iw/2:0", (64, 72), 10)
    before, after = frames[int((later - 0.6) * 10)], frames[int((later + 0.8) * 10)]
    assert float(abs(before.astype(int) - after.astype(int)).mean()) > 3, "another slide"
    # nothing changed: nothing is encoded, the version still counts
    edited.write_text(json.dumps(edit_doc(cfg, str(outbox / "talk.report.json"))))
    assert cli("process", str(edited), "--config", str(cfg)).returncode == 0
    third = report(outbox)
    assert third["version"] == 3 and third["compose"]["encoded"] == 0


def test_a_new_crop_frames_the_presenter_anew(processed: Path) -> None:
    root = processed
    cfg, outbox = root / "presgend.toml", root / "outbox"
    doc = edit_doc(cfg, str(outbox / "talk.report.json"))
    info = json.loads((next((root / "inbox/.presgend/store").iterdir()) / "analysis.json")
                      .read_text())["info"]  # fmt: skip
    doc["presenter"]["crop"] = [0, 0, info["height"], info["height"]]  # square: adjusted
    (root / "talk.edit.json").write_text(json.dumps(doc))
    assert cli("process", str(root / "talk.edit.json"), "--config", str(cfg)).returncode == 0
    done = report(outbox)
    assert done["edit"]["crop"] is True and done["face"]["method"] == "edit"
    assert any("panel's shape" in w for w in done["warnings"])
    assert done["compose"]["encoded"] == done["compose"]["segments"], "every segment anew"


def test_an_invalid_edit_changes_nothing_and_says_every_problem(processed: Path) -> None:
    root = processed
    cfg, outbox = root / "presgend.toml", root / "outbox"
    kept = report(outbox)
    doc = edit_doc(cfg, str(outbox / "talk.report.json"))
    doc["slides"][0]["title"] = ""
    doc["captions"][0]["end_s"] = -1.0
    (root / "bad.edit.json").write_text(json.dumps(doc))
    done = cli("process", str(root / "bad.edit.json"), "--config", str(cfg))
    assert done.returncode == 1
    error = json.loads((outbox / "bad.edit.error.json").read_text())
    assert error["error"].startswith("The edit has 2 problems: Slide 1 has no title.")
    assert error["fault"] == "input"
    assert report(outbox)["version"] == kept["version"], "the outputs are as they were"


def test_the_deck_edited_in_python_pptx_and_dropped_back_is_an_edit(processed: Path) -> None:
    from pptx import Presentation

    root = processed
    cfg, outbox = root / "presgend.toml", root / "outbox"
    before = report(outbox)
    deck = Presentation(str(outbox / "talk.pptx"))
    first = deck.slides[0]
    first.shapes.title.text_frame.text = "A Better Title"
    body = [s for s in first.placeholders if s.placeholder_format.idx == 1]
    assert body, "the first slide has bullets, in its body placeholder"
    body[0].text_frame.add_paragraph().text = "Honest reports say what happened"
    deck.save(str(root / "talk.pptx"))
    done = cli("process", str(root / "talk.pptx"), "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    after = report(outbox)
    assert after["version"] == before["version"] + 1
    assert after["slides"][0]["title"] == "A Better Title"
    assert after["edit"]["slides"] == [0], "the other slides as they were"
    assert [s["title"] for s in after["slides"][1:]] == [s["title"] for s in before["slides"][1:]]
    assert after["slides"][0]["bullets"][-1] == "Honest reports say what happened"
    assert after["slides"][0]["bullet_starts"][:-1] == before["slides"][0]["bullet_starts"]


def test_a_deck_that_names_no_job_is_new_input_not_an_edit(tmp_path: Path) -> None:
    """Only a deck presgend published is an edit; any other is a deck to narrate (issue
    34), and an empty one says so in one sentence."""
    from pptx import Presentation

    cfg = config(tmp_path)
    Presentation().save(str(tmp_path / "mine.pptx"))
    done = cli("process", str(tmp_path / "mine.pptx"), "--config", str(cfg))
    assert done.returncode == 1
    error = json.loads((tmp_path / "outbox" / "mine.error.json").read_text())
    assert error["error"] == "The deck mine.pptx has no slides.", error


def test_a_held_job_waits_for_review_survives_a_restart_and_is_approved(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    daemon = DaemonProcess(tmp_path, review={"hold": True})
    try:
        shutil.copy(clip.srt, tmp_path / "inbox" / "clip.srt")
        shutil.copy(clip.video, tmp_path / "inbox" / "clip.mp4")
        daemon.wait_for(lambda: daemon.events("job_awaiting_review"), 120, "the draft")
    finally:
        assert daemon.stop() == 0
    outbox = tmp_path / "outbox"
    assert visible(outbox) == ["clip.draft.jpg", "clip.edit.json", "clip.pptx"], "no video yet"
    draft = json.loads((outbox / "clip.edit.json").read_text())
    assert daemon.events("job_awaiting_review")[0]["job_id"] == draft["job_id"]
    # a new daemon (the draft is kept on disk) renders it when it is approved
    again = DaemonProcess(tmp_path, "again", review={"hold": True})
    try:
        (tmp_path / "inbox" / "clip.approve").write_text("")
        again.wait_for(lambda: again.events("job_succeeded"), 120, "the approved job")
    finally:
        assert again.stop() == 0
    done = report(outbox, "clip")
    assert done["version"] == 1 and done["job_id"] == draft["job_id"]
    assert again.events("job_succeeded")[0]["job_id"] == draft["job_id"], "one job throughout"
    assert "clip.draft.jpg" not in visible(outbox) and "clip.edit.json" not in visible(outbox)
    assert valid_video(outbox / "clip.mp4") == ""
    assert visible(tmp_path / "failed") == []


def test_a_crash_mid_re_render_leaves_the_previous_version_whole(
    tmp_path: Path, clip: sample.SampleTalk
) -> None:
    from test_good_recordings import stand_in

    cfg = config(tmp_path)
    shutil.copy(clip.video, tmp_path / "clip.mp4")
    shutil.copy(clip.srt, tmp_path / "clip.srt")
    assert cli("process", str(tmp_path / "clip.mp4"), "--config", str(cfg)).returncode == 0
    outbox = tmp_path / "outbox"
    first_bytes = (outbox / "clip.mp4").read_bytes()
    doc = edit_doc(cfg, str(outbox / "clip.report.json"))
    doc["slides"][0]["title"] = "Edited While It Crashed"
    env = stand_in(tmp_path, sleep=30.0)
    daemon = DaemonProcess(tmp_path, env=env)
    try:
        (tmp_path / "inbox" / "clip.edit.json").write_text(json.dumps(doc))
        daemon.wait_for(lambda: daemon.programs("sleep") or daemon.programs("ffmpeg"), 60,
                        "the re-render's compose")  # fmt: skip
    finally:
        daemon.kill()  # as the OOM killer would
    assert report(outbox, "clip")["version"] == 1
    assert (outbox / "clip.mp4").read_bytes() == first_bytes, "the first version, whole"
    assert valid_video(outbox / "clip.mp4") == ""
    (tmp_path / "control" / "sleep").unlink()
    again = DaemonProcess(tmp_path, "again")
    try:
        again.wait_for(lambda: again.events("job_succeeded"), 120, "the edit, run again")
    finally:
        assert again.stop() == 0
    assert report(outbox, "clip")["version"] == 2
    assert report(outbox, "clip")["slides"][0]["title"] == "Edited While It Crashed"

