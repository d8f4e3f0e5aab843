"""A finished job, kept so that it can be edited and rendered again, any number of times.

    inbox/.presgend/store/<job id>/
        job.json        what the job is: its input, outputs' name and folder, version
        analysis.json   what was found: the probe, framing, levelling and transcript (or
                        a script's speech), and the report's keys that come with them
        edit.json       the edit document of the version now published (edit.py)
        media/          the sources a re-render reads: the input (linked, not copied,
                        where the filesystem allows) or a script's speech and presenter
        slides/         each slide picture by its content's key, reused when unchanged
        parts/          the encoded segments and sound by fingerprint (compose.Reuse)
        .lock           held while a version is made: edits of one job are serialised

It lives on the inbox's share, beside the ledger, so any daemon of the team can render
an edit of any job. Nothing here is needed to publish a video: a store that cannot be
written is a warning, not a failed job.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from presgend.core import files, values
from presgend.core.config import Config, with_preset
from presgend.core.inputs import CONTROL_DIR

if TYPE_CHECKING:
    from presgend.pipeline.context import RunContext
    from presgend.pipeline.finish import Composition


def root(config: Config) -> Path:
    return config.paths.inbox / CONTROL_DIR / "store"


@dataclass
class Kept:
    """`job.json`: what a kept job is."""

    job_id: str
    kind: str  # "video" | "script"
    stem: str  # its outputs' name
    outbox: str  # where they are
    input: dict[str, Any]  # path (as dropped), name, sha256
    identity: str  # what its sources are, for the encoded segments' fingerprints
    quality: str
    preset: str = ""
    version: int = 1
    status: str = "ok"  # "ok" | "awaiting_review"
    source: dict[str, Any] = field(default_factory=dict)  # video, audio (media names), loop
    created_at: str = ""
    updated_at: str = ""


class Store:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()  # the parts the version being made uses

    @classmethod
    def of(cls, config: Config, job_id: str) -> Store:
        return cls(root(config) / job_id)

    @property
    def exists(self) -> bool:
        return (self.folder / "job.json").is_file()

    # -- documents ----------------------------------------------------------------------

    def read(self, name: str) -> dict[str, Any]:
        data = json.loads((self.folder / name).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{name} is not a JSON object")
        return data

    def write(self, name: str, data: dict[str, Any]) -> None:
        files.write_json(self.folder / name, data)

    def kept(self) -> Kept:
        return Kept(**self.read("job.json"))

    def keep(self, kept: Kept) -> None:
        kept.updated_at = files.now_iso()
        kept.created_at = kept.created_at or kept.updated_at
        self.write("job.json", dict(kept.__dict__))

    # -- files ----------------------------------------------------------------------------

    def keep_media(self, name: str, source: Path) -> Path:
        """`source` as `media/<name>`: a hard link where the filesystem allows (the
        input is not copied, and survives its archiving or deletion), else a copy."""
        target = self.folder / "media" / name
        _place(source, target)
        return target

    def media(self, name: str) -> Path:
        return self.folder / "media" / name

    def picture(self, key: str) -> Path | None:
        path = self.folder / "slides" / f"{key}.png"
        return path if path.is_file() else None

    def keep_picture(self, key: str, png: Path) -> None:
        target = self.folder / "slides" / f"{key}.png"
        if not target.is_file():
            _place(png, target, link=False)

    def text_size(self, key: str) -> float | None:
        """The bullets' size a slide was fitted to (slides.Kept)."""
        try:
            return float(json.loads((self.folder / "slides" / f"{key}.json").read_text())["px"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def keep_text_size(self, key: str, px: float) -> None:
        files.write_json(self.folder / "slides" / f"{key}.json", {"px": px})

    def prune_pictures(self, keys: Iterable[str], suffixes: tuple[str, ...] = (".png",)) -> None:
        """Remove the pictures (and their notes) no version in use shows any more."""
        wanted = {f"{key}{suffix}" for key in keys for suffix in suffixes}
        with contextlib.suppress(OSError):
            for path in (self.folder / "slides").iterdir():
                if path.name not in wanted:
                    path.unlink(missing_ok=True)

    # -- encoded segments (compose.Reuse) ------------------------------------------------

    def get(self, fingerprint: str, into: Path) -> bool:
        kept = self.folder / "parts" / f"{fingerprint}{into.suffix}"
        if not kept.is_file():
            return False
        with contextlib.suppress(FileNotFoundError):
            into.unlink()
        _place(kept, into)
        self.used.add(kept.name)
        return True

    def put(self, fingerprint: str, made: Path) -> None:
        target = self.folder / "parts" / f"{fingerprint}{made.suffix}"
        _place(made, target, link=False)
        self.used.add(target.name)

    def prune_parts(self) -> None:
        """Keep only the segments the version just made used."""
        if not self.used:
            return
        with contextlib.suppress(OSError):
            for path in (self.folder / "parts").iterdir():
                if path.name not in self.used:
                    path.unlink(missing_ok=True)

    # -- one version at a time -----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Held while a version is made: a second edit of the job waits for the first."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.2)
            yield
        finally:
            os.close(fd)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def mark_once(self, name: str) -> bool:
        """Create the marker `name` in the store; False when it was there already (another
        daemon of the team, or an earlier round, did what it marks)."""
        try:
            os.close(os.open(self.folder / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return False
        return True


AUTO_APPROVED = "auto-approved"


def drafts_due(config: Config, now: float) -> list[Kept]:
    """Drafts held for review longer than `review.auto_approve_hours` and not approved
    automatically yet (none when that is 0)."""
    folder = root(config)
    everywhere = [config.review, *(with_preset(config, n).review for n in config.presets)]
    if not any(review.auto_approve_hours > 0 for review in everywhere) or not folder.is_dir():
        return []
    due = []
    for job in sorted(folder.iterdir()):
        store = Store(job)
        if (job / AUTO_APPROVED).exists() or not store.exists:
            continue
        try:
            kept = store.kept()
        except (OSError, ValueError, TypeError):
            continue  # being written, or not a job: the next round sees it
        if kept.status != "awaiting_review":
            continue
        own = with_preset(config, kept.preset) if kept.preset in config.presets else config
        hours = own.review.auto_approve_hours  # a preset's own, where it sets one
        held_since = files.epoch(kept.updated_at)
        if hours > 0 and held_since and now >= held_since + hours * 3600:
            due.append(kept)
    return due


def _place(source: Path, target: Path, *, link: bool = True) -> None:
    """`source` at `target`, whole or not at all: linked when `link` and possible, else
    copied under a temporary name and renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if link:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    temp = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(source, temp)
    os.replace(temp, target)


def keep_job(
    store: Store,
    job: RunContext,
    made: Composition,
    identity: str,
    *,
    stem: str,
    version: int = 1,
    status: str = "ok",
) -> dict[str, Any]:
    """Keep a job's first version (or, `version` 0, its draft held for review): its
    sources, what was found, its slides' pictures and its edit document (returned)."""
    from presgend.pipeline import edit

    record = job.record
    if record.kind == "video":
        name = "input" + record.input_path.suffix.lower()
        store.keep_media(name, record.input_path)
        source = {"video": name, "audio": name, "loop": False, "audio_channels": 0}
    else:
        store.keep_media("presenter.mp4", made.source.video)
        store.keep_media("speech.wav", made.source.audio)
        source = {"video": "presenter.mp4", "audio": "speech.wav", "loop": made.source.loop,
                  "audio_channels": made.source.audio_channels}  # fmt: skip
    store.write("analysis.json", {
        "info": values.to_json(made.info), "framing": values.to_json(made.framing),
        "level": values.to_json(made.level), "transcript": values.to_json(made.transcript),
        "extra": job.extra_report, "recogniser": job.recogniser,
    })  # fmt: skip
    keep_pictures(store, made)
    theme = job.config.slides.theme
    info = made.info
    document = edit.document(record.job_id, record.sha256, info.duration, made.sections,
                             made.cues(), None, theme, job.quality.name,
                             (info.width, info.height))  # fmt: skip
    store.write("edit.json", document)
    store.keep(Kept(
        job_id=record.job_id, kind=record.kind, stem=stem, outbox=str(job.outbox),
        input=record.input_dict(), identity=identity, quality=job.quality.name,
        preset=job.request.preset, version=version, status=status, source=source,
    ))  # fmt: skip
    return document


def keep_pictures(store: Store, made: Composition) -> None:
    """The version's slide pictures and their text sizes, for the next version to reuse;
    those no version shows any more go."""
    for build in made.deck.builds:
        if build.key:
            store.keep_picture(build.key, build.png)
            slide = build.key.rsplit("-", 1)[0]
            store.keep_text_size(slide, made.deck.bullet_px[build.section])
    keys = [b.key for b in made.deck.builds if b.key]
    store.prune_pictures([*keys, *{k.rsplit("-", 1)[0] for k in keys}], suffixes=(".png", ".json"))
