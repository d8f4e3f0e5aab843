"""Publishing: a run killed between its first output and its report leaves a note, and
the next run of the same input takes its partial outputs away and uses the same name."""

from __future__ import annotations

from pathlib import Path

from presgend.pipeline import publish


def _temp(outbox: Path, data: bytes) -> Path:
    temp = publish.staging_dir(outbox, "job") / "video.mp4"
    temp.write_bytes(data)
    return temp


def test_a_rerun_replaces_what_an_interrupted_run_published(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    first = publish.publish_video(_temp(outbox, b"first"), outbox, "talk", "sha-a")
    publish.write_atomic(outbox / "talk.srt", "1\n")  # ...then the run was killed
    again = publish.publish_video(_temp(outbox, b"second"), outbox, "talk", "sha-a")
    assert again == first == outbox / "talk.mp4"
    assert again.read_bytes() == b"second" and not (outbox / "talk.srt").exists()
    publish.write_json(publish.report_path(again), {"status": "ok"})
    publish.published(outbox, "sha-a")
    assert sorted(p.name for p in outbox.iterdir()) == [".presgend-tmp", "talk.mp4",
                                                        "talk.report.json"]  # fmt: skip


def test_another_input_of_the_same_name_never_touches_those_outputs(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mine = publish.publish_video(_temp(outbox, b"mine"), outbox, "talk", "sha-a")
    other = publish.publish_video(_temp(outbox, b"other"), outbox, "talk", "sha-b")
    assert other.name == "talk-2.mp4" and mine.read_bytes() == b"mine"


def test_a_finished_run_is_never_taken_away(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    video = publish.publish_video(_temp(outbox, b"done"), outbox, "talk", "sha-a")
    publish.write_json(publish.report_path(video), {"status": "ok"})  # killed before its note went
    assert publish.discard_partial(outbox, "sha-a") == []
    assert video.exists() and publish.report_path(video).exists()


def test_a_failed_input_takes_its_partial_outputs_with_it(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    publish.publish_video(_temp(outbox, b"half"), outbox, "talk", "sha-a")
    assert publish.discard_partial(outbox, "sha-a") == ["talk.mp4"]
    assert not (outbox / "talk.mp4").exists() and not (outbox / publish.PUBLISHING).exists()
