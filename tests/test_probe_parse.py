from __future__ import annotations

from pathlib import Path

import pytest

from presgend.core.errors import JobError
from presgend.pipeline.video import probe


def _data(**video: object) -> dict[str, object]:
    stream = {
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1920,
        "height": 1080,
        "pix_fmt": "yuv420p",
        "avg_frame_rate": "30/1",
        "r_frame_rate": "30/1",
    }
    stream.update(video)
    return {
        "streams": [stream, {"codec_type": "audio", "codec_name": "aac", "duration": "9.9"}],
        "format": {"duration": "10.0"},
    }


def test_rotation_from_display_matrix_swaps_the_size() -> None:
    info = probe.parse(Path("x"), _data(side_data_list=[{"rotation": -90}]))
    assert (info.width, info.height, info.rotation) == (1080, 1920, 90)
    info = probe.parse(Path("x"), _data(tags={"rotate": "270"}))
    assert (info.width, info.height) == (1080, 1920)


def test_variable_frame_rate_is_noticed() -> None:
    info = probe.parse(Path("x"), _data(avg_frame_rate="2997/100", r_frame_rate="60/1"))
    assert info.variable_frame_rate and info.fps == pytest.approx(29.97)
    assert not probe.parse(Path("x"), _data()).variable_frame_rate


def test_cover_art_is_not_the_video() -> None:
    data = _data()
    data["streams"] = [
        {"codec_type": "video", "disposition": {"attached_pic": 1}},
        {"codec_type": "audio", "codec_name": "mp3"},
    ]
    with pytest.raises(JobError, match="no video stream"):
        probe.parse(Path("x"), data)


def test_missing_duration_is_an_error() -> None:
    data = _data()
    data["format"] = {}
    data["streams"][1].pop("duration")  # type: ignore[index, union-attr]
    with pytest.raises(JobError, match="duration"):
        probe.parse(Path("x"), data)


def test_iso_box_check(tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    good.write_bytes(
        (16).to_bytes(4, "big")
        + b"ftypisom"
        + b"\0" * 4
        + (12).to_bytes(4, "big")
        + b"mdat"
        + b"abcd"
    )
    assert not probe.iso_media_truncated(good)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[:-2])
    assert probe.iso_media_truncated(cut)
    other = tmp_path / "other.mkv"
    other.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 20)
    assert not probe.iso_media_truncated(other)
