"""Watching the inbox: which names matter, when a file is complete, and the observer.

The observer (watchdog) only says "look at this name again"; what a file *is* is
decided from `lstat` and the settle window here, so a missed or doubled event costs
at most a rescan interval, never a file taken mid-copy.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from presgend.core import inputs, procs
from presgend.core.errors import JobError
from presgend.core.inputs import SCRIPT_SUFFIXES, decode_script
from presgend.pipeline.video import probe

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "afpfs", "webdav", "davfs",
        "fuse.sshfs", "sshfs", "fuse.rclone", "fuse.s3fs", "fuse.davfs2", "fuse.glusterfs",
        "glusterfs", "ceph", "fuse.ceph", "lustre", "afs", "9p", "virtiofs", "vboxsf",
    }
)  # fmt: skip


# --- what kind of filesystem the inbox is on ------------------------------------------------


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding `path` ("ext4", "nfs4", "smbfs"…), or ""."""
    real = os.path.realpath(path)
    best, best_type = "", ""
    for part in psutil.disk_partitions(all=True):
        mount = part.mountpoint
        inside = real == mount or real.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best):
            best, best_type = mount, part.fstype
    return best_type


def watch_mode(configured: str, inbox: Path) -> tuple[str, str]:
    """(mode, why): "native" events on local disks, "polling" on network mounts."""
    if configured == "polling":
        return "polling", "set in config"
    if configured == "inotify":
        return "native", "set in config"
    fs = filesystem_type(inbox)
    if fs in NETWORK_FILESYSTEMS or fs.startswith("fuse.sshfs"):
        return "polling", f"the inbox is on a network filesystem ({fs})"
    return "native", f"the inbox is on a local filesystem ({fs or 'unknown'})"


class _Handler(FileSystemEventHandler):
    def __init__(self, inbox: Path, poke: Callable[[str], None]) -> None:
        self.inbox = os.path.realpath(inbox)
        self.poke = poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            if not path:
                continue
            # resolve the folder only: the name itself may be a link pointing anywhere
            if os.path.realpath(os.path.dirname(path)) == self.inbox:
                self.poke(os.path.basename(path))
            elif os.path.realpath(path) == self.inbox:
                self.poke("")  # the inbox itself changed (deleted, moved away)


def start_observer(
    inbox: Path, mode: str, poll_interval: float, poke: Callable[[str], None]
) -> BaseObserver:
    """Start a watchdog observer on `inbox` (not recursive) calling `poke(name)`
    from its thread for every name an event touches."""
    observer: BaseObserver = (
        PollingObserver(timeout=poll_interval) if mode == "polling" else Observer()
    )
    observer.schedule(_Handler(inbox, poke), str(inbox), recursive=False)
    observer.daemon = True
    observer.start()
    return observer


# --- settling -------------------------------------------------------------------------------


@dataclass
class Candidate:
    name: str
    signature: tuple[int, int, int, int]  # mode, size, mtime_ns, nlink
    changed_at: float
    rejected: tuple[int, int, int, int] | None = None
    rejected_at: float = 0.0
    reason: str = ""


class Settler:
    """Tracks names in the inbox until their size and mtime hold still.

    `observe` is called for every event or rescan; `due` lists the names whose
    signature has not changed for `settle_seconds` (checked again with a fresh stat).
    """

    def __init__(
        self, inbox: Path, settle_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.inbox = inbox
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.candidates: dict[str, Candidate] = {}

    def signature(self, name: str) -> tuple[int, int, int, int] | None:
        try:
            st = os.lstat(self.inbox / name)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_nlink)

    def observe(self, name: str) -> None:
        sig = self.signature(name)
        if sig is None:
            self.candidates.pop(name, None)
            return
        known = self.candidates.get(name)
        if known is None:
            self.candidates[name] = Candidate(name, sig, self.clock())
        elif known.signature != sig:
            known.signature = sig
            known.changed_at = self.clock()

    def forget(self, name: str) -> None:
        self.candidates.pop(name, None)

    def due(self) -> list[Candidate]:
        now = self.clock()
        ready = []
        for name, cand in list(self.candidates.items()):
            if now - cand.changed_at < self.settle_seconds:
                continue
            sig = self.signature(name)
            if sig is None:
                del self.candidates[name]
            elif sig != cand.signature:
                cand.signature, cand.changed_at = sig, now
            else:
                ready.append(cand)
        return ready

    def next_deadline(self) -> float | None:
        """Monotonic time of the next candidate that may become due, if any."""
        times = [c.changed_at + self.settle_seconds for c in self.candidates.values()]
        return min(times) if times else None


# --- is a settled file complete? ------------------------------------------------------------


async def readable(path: Path, max_script_bytes: int) -> tuple[bool, str]:
    """Whether a settled main file looks complete: ffprobe reads a video (and an MP4's
    boxes are whole), a script decodes as text. (ok, why not)."""
    if path.suffix.lower() in SCRIPT_SUFFIXES:
        return await asyncio.to_thread(_script_readable, path, max_script_bytes)
    if inputs.kind_of_name(path.name) == "edit":
        return await asyncio.to_thread(_edit_readable, path)
    try:
        result = await procs.run(
            [
                procs.find("ffprobe"), "-v", "error", "-show_entries", "format=duration",
                "-of", "csv=p=0", "--", str(path),
            ],
            timeout=60,
            check=False,
            what="ffprobe",
        )  # fmt: skip
    except OSError as exc:
        return False, str(exc)
    if result.returncode != 0:
        return False, result.stderr.decode("utf-8", "replace").strip()[-300:] or "ffprobe failed"
    if await asyncio.to_thread(probe.iso_media_truncated, path):
        return False, "the MP4 boxes end early (still being copied?)"
    return True, ""


def _edit_readable(path: Path) -> tuple[bool, str]:
    """An approval is read whole at once; an edit document once it parses as JSON (one
    being copied in does not)."""
    if path.name.lower().endswith(inputs.APPROVE_SUFFIX):
        return True, ""
    if path.name.lower().endswith(inputs.DECK_SUFFIX):
        import zipfile

        try:
            with zipfile.ZipFile(path) as deck:
                deck.testzip()
        except (OSError, zipfile.BadZipFile) as exc:
            return False, f"not (yet) a whole PowerPoint file: {exc}"
        return True, ""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return False, f"not (yet) a whole JSON document: {exc}"
    return True, ""


def _script_readable(path: Path, max_bytes: int) -> tuple[bool, str]:
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        return False, exc.strerror or str(exc)
    if not data.strip() or len(data) > max_bytes:
        return True, ""  # complete as far as we can tell; the job says what is wrong
    try:
        decode_script(data)  # the job's own decoding rules
    except JobError as exc:
        return False, str(exc)
    return True, ""
