"""Putting results into the outbox atomically, never over another job's results.

Work happens in `<outbox>/.presgend-tmp/` (same filesystem, so renames are atomic and
the outbox only ever shows finished files). The video is linked into place, which
fails rather than overwrite when the name is taken; then the next free stem is used.

A job's outputs appear one by one (video, subtitles, preview, the report last). While
they do, `<outbox>/.presgend-publishing/<input sha256>.json` names them: a run that was
killed between the first and the last leaves it behind, and the next run of the same
input (a retry, a reclaim) removes those partial outputs and publishes under the same
name, instead of beside them as `<stem>-2`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

from presgend.core import owners
from presgend.core.files import write_atomic

STAGING = ".presgend-tmp"
PUBLISHING = ".presgend-publishing"
SUFFIXES = (  # what one job publishes
    ".mp4",
    ".srt",
    ".vtt",
    ".pptx",
    ".chapters.vtt",
    ".preview.jpg",
    ".report.json",
)


@contextlib.asynccontextmanager
async def staging(outbox: Path, run: str, lease_seconds: float) -> AsyncIterator[Path]:
    """A run's own folder under the outbox's staging folder, from its encode until its
    report is out. Each run has its own, so one tidying up never removes the folder
    another is writing into; it is owned (`owners.held`: locked, and its lease beaten),
    so housekeeping on this host or another removes it only once its run has died,
    however long the encode leaves it untouched."""
    async with owners.held(outbox / STAGING / run, lease_seconds) as owned:
        yield owned.folder
    cleanup_staging(outbox)


def publish_video(temp: Path, outbox: Path, stem: str, key: str = "") -> Path:
    """Move `temp` to `<outbox>/<stem>.mp4`, or `<stem>-2.mp4`… if taken; return the path.

    With `key` (the input's sha256), what an earlier, interrupted run of the same input
    published is removed first, and the names this run publishes are noted until
    `published` is called."""
    if key:
        discard_partial(outbox, key)
    for n in range(1, 1000):
        final = outbox / (f"{stem}.mp4" if n == 1 else f"{stem}-{n}.mp4")
        if _taken(final):
            continue
        if key:
            _note(outbox, key, final, temp.parent.name)
        try:
            os.link(temp, final)
        except FileExistsError:
            continue
        except OSError as exc:  # filesystems without hard links (some SMB mounts)
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if final.exists():
                continue
            os.replace(temp, final)
            return final
        temp.unlink()
        return final
    raise FileExistsError(f"no free output name for {stem} in {outbox}")


def free_stem(outbox: Path, stem: str) -> str:
    """`stem`, or `<stem>-2`… where nothing of that name is published (a draft held for
    review takes its name now)."""
    for n in range(1, 1000):
        name = stem if n == 1 else f"{stem}-{n}"
        if not _taken(outbox / f"{name}.mp4"):
            return name
    raise FileExistsError(f"no free output name for {stem} in {outbox}")


DRAFT_SUFFIXES = (".draft.jpg", ".edit.json")


def remove_draft(outbox: Path, stem: str) -> None:
    """A draft's files, once its video is made (its deck is replaced by the video's)."""
    for suffix in DRAFT_SUFFIXES:
        (outbox / f"{stem}{suffix}").unlink(missing_ok=True)


def replace_video(temp: Path, outbox: Path, stem: str) -> Path:
    """A later version: `temp` replaces `<outbox>/<stem>.mp4` in one rename (a player
    or a download that has the old file open goes on with it)."""
    final = outbox / f"{stem}.mp4"
    os.replace(temp, final)
    return final


def _marker(outbox: Path, key: str) -> Path:
    return outbox / PUBLISHING / f"{key}.json"


def _note(outbox: Path, key: str, video: Path, run: str) -> None:
    names = [video.stem + suffix for suffix in SUFFIXES]
    note = {"video": video.name, "files": names, "run": run}
    write_atomic(_marker(outbox, key), json.dumps(note))


def published(outbox: Path, key: str) -> None:
    """The run of input `key` has published everything, its report last."""
    if key:
        _marker(outbox, key).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (outbox / PUBLISHING).rmdir()


def discard_partial(outbox: Path, key: str) -> list[str]:
    """Remove what an interrupted run of input `key` published without its report; a
    run still publishing (its staging folder still owned) is left alone."""
    marker = _marker(outbox, key)
    try:
        noted = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    run = noted.get("run")
    if isinstance(run, str) and run and owners.maybe_alive(outbox / STAGING / run):
        return []
    names = [n for n in noted.get("files", []) if "/" not in n and not n.startswith(".")]
    if any(n.endswith(".report.json") and (outbox / n).exists() for n in names):
        removed: list[str] = []  # it did finish: its outputs are whole
    else:
        removed = [n for n in names if (outbox / n).exists()]
        for name in removed:
            (outbox / name).unlink(missing_ok=True)
    published(outbox, key)
    return removed


def report_path(video: Path) -> Path:
    """Where the report of the published `video` goes: `<stem>.report.json` beside it."""
    return video.with_name(video.stem + ".report.json")


def _taken(video: Path) -> bool:
    """Whether a name is a published job's (or a draft's, held for review)."""
    stem = video.stem
    return any((video.parent / f"{stem}{suffix}").exists()
               for suffix in (".mp4", ".srt", ".report.json", DRAFT_SUFFIXES[0]))  # fmt: skip


def cleanup_staging(outbox: Path) -> None:
    """Remove the staging folder when no job is using it."""
    with contextlib.suppress(OSError):
        (outbox / STAGING).rmdir()


def remove_stale_staging(outbox: Path, lease_seconds: float) -> list[str]:
    """Delete the staging folders of runs that died (a lock nobody holds on this host, a
    lease older than `lease_seconds` from another); never a live run's, however long
    its encode has left the folder untouched."""
    return owners.sweep(outbox / STAGING, lease_seconds)
