"""A job's work folder (slides, captions, extracted audio) in the temporary directory,
and the sweep that removes those a killed job left behind.

Each folder holds `.owner`, a file its job keeps locked (`flock`) while it runs. The
kernel drops the lock when the process ends however it ends, `kill -9` included, so a
folder whose `.owner` can be locked has no job: the sweep removes it. The lock is taken
before `.owner` gets its name, so no sweep ever sees a named, unlocked `.owner` of a
live job; a folder with no `.owner` yet is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

PREFIX = "presgend-"
OWNER = ".owner"


@contextlib.asynccontextmanager
async def work_folder() -> AsyncIterator[Path]:
    """A new folder for one job, locked as its own while the job runs, removed after
    (still locked, so a sweep never races the removal)."""
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    fd = os.open(folder / f"{OWNER}.new", os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(folder / f"{OWNER}.new", folder / OWNER)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def sweep(tmp: Path | None = None) -> list[str]:
    """Remove the work folders under `tmp` (the temporary directory) whose job has
    ended without removing them; their names."""
    root = Path(tmp or tempfile.gettempdir())
    removed = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(PREFIX)]
    except OSError:
        return []
    for folder in candidates:
        try:
            found = folder.lstat()
            if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
                continue  # a link, or another user's
            fd = os.open(folder / OWNER, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # none yet, not ours, or gone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its job is running
            os.close(fd)
            continue
        try:  # removed while locked, so a second sweep skips it
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)
        if not folder.exists():
            removed.append(folder.name)
    return removed
