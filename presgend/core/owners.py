"""Who owns a file or folder that several processes (and hosts) share, and whether that
owner is still alive: the one place that answers "may I clean this up?".

Two proofs of life, never a modification time of the work itself (an encoder may leave
its folder untouched for minutes):

* **A lock** (`flock`) held by the owning process on an `.owner` file. The kernel drops
  it however the process ends, `kill -9` included, so on the owner's own host a lock
  that can be taken means the owner is gone.
* **A lease**: the owner touches the `.owner` file every few seconds; another host calls
  it gone only when the touch is older than the lease, measured against the shared
  filesystem's own clock (`share_now`), so clock skew between hosts does not matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

# this machine's name in claims, leases and owner files; PRESGEND_HOST names it otherwise
# (two daemons on one machine then judge each other as two hosts on a share do: by lease)
HOST = os.environ.get("PRESGEND_HOST") or socket.gethostname().split(".")[0] or "host"
OWNER = ".owner"


def process_start(pid: int) -> float:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return 0.0


def me() -> dict[str, Any]:
    """This process as an owner: host, pid and when the pid started (a reused pid is
    another process)."""
    return {"host": HOST, "pid": os.getpid(), "pid_started": process_start(os.getpid())}


def owner_dead(owner: dict[str, Any]) -> bool:
    """True only when the owner ran on this host and that process is gone."""
    if owner.get("host") != HOST or not isinstance(owner.get("pid"), int):
        return False
    pid = owner["pid"]
    if pid == os.getpid():
        return False
    if not psutil.pid_exists(pid):
        return True
    started = owner.get("pid_started") or 0.0
    return bool(started) and abs(process_start(pid) - started) > 1.0  # pid reused


def share_now(folder: Path) -> float:
    """The current time as the filesystem holding `folder` sees it."""
    probe_file = folder / f".clock-{HOST}.{os.getpid()}.{time.monotonic_ns()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe_file.touch()
        return probe_file.stat().st_mtime
    except OSError:
        return time.time()
    finally:
        with contextlib.suppress(OSError):
            probe_file.unlink()


@dataclass
class Held:
    """An owned folder while its owner runs: the locked `.owner` file's descriptor."""

    folder: Path
    fd: int

    def beat(self) -> None:
        """Renew the lease (for hosts that cannot see the lock)."""
        with contextlib.suppress(OSError):
            os.utime(self.folder / OWNER)


@contextlib.contextmanager
def hold(folder: Path, **about: Any) -> Iterator[Held]:
    """Own `folder` (made if missing) while the block runs: `.owner` holds this process's
    name and `about`, locked before it gets its name, so no cleaner ever sees a named,
    unlocked `.owner` of a live owner. The folder is removed at the end, still locked."""
    folder.mkdir(parents=True, exist_ok=True)
    fresh = folder / f"{OWNER}.new"
    fd = os.open(fresh, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps({**me(), **about}).encode())
        os.rename(fresh, folder / OWNER)
        yield Held(folder, fd)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


@contextlib.asynccontextmanager
async def held(folder: Path, lease_seconds: float, **about: Any) -> AsyncIterator[Held]:
    """`hold`, with the lease beaten every quarter of `lease_seconds` while it is held."""
    with hold(folder, **about) as owned:

        async def beat() -> None:
            while True:
                await asyncio.sleep(max(0.5, lease_seconds / 4))
                owned.beat()

        beating = asyncio.create_task(beat())
        try:
            yield owned
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)


def read_owner(folder: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((folder / OWNER).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def abandoned(folder: Path, lease_seconds: float, now: float) -> bool:
    """Whether `folder` (made by `hold`) has no live owner: on this host, its lock is
    free; on another, its lease is older than `lease_seconds` by the share's clock `now`.
    A folder with no `.owner` at all (being made this instant, or left by an older
    version) counts as abandoned once the folder itself is older than the lease."""
    owner = read_owner(folder)
    if not owner:
        try:
            return now - folder.stat().st_mtime > lease_seconds
        except OSError:
            return False
    if owner.get("host") == HOST:
        return not locked(folder / OWNER)
    try:
        return now - (folder / OWNER).stat().st_mtime > lease_seconds
    except OSError:
        return False


def maybe_alive(folder: Path) -> bool:
    """Whether `folder` (made by `hold`) may still have a live owner: it exists, and its
    owner is on another host (only its lease can tell, see `abandoned`) or holds its lock."""
    owner = read_owner(folder)
    if not owner:
        return False  # gone, or never owned: a run notes its outputs only while it holds it
    return owner.get("host") != HOST or locked(folder / OWNER)


def locked(path: Path) -> bool:
    """Whether some process holds `path`'s lock (a file that cannot be opened: as if)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return False


def sweep(root: Path, lease_seconds: float) -> list[str]:
    """Remove the folders under `root` whose owner is gone; their names. Each is first
    renamed to a private name, so two cleaners never both remove it and an owner that
    wakes finds its folder gone rather than half-deleted."""
    removed: list[str] = []
    try:
        folders = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return removed
    for left in [p for p in folders if p.name.startswith(".gone-")]:
        shutil.rmtree(left, ignore_errors=True)  # a removal cut short by an earlier death
    folders = [p for p in folders if not p.name.startswith(".gone-")]
    now = share_now(root)
    for folder in folders:
        if not abandoned(folder, lease_seconds, now):
            continue
        private = root / f".gone-{HOST}.{os.getpid()}.{time.monotonic_ns()}"
        try:
            os.rename(folder, private)
        except OSError:
            continue  # another cleaner got there first
        shutil.rmtree(private, ignore_errors=True)
        removed.append(folder.name)
    return removed
