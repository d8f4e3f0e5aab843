"""Maildir-style claims: a job's files are renamed into a claim folder before any work.

    inbox/.presgend/claims/<host>.<pid>.<id>/
        talk.mp4  talk.srt      the job's files, moved here by one atomic rename each
        lease                   JSON owner; its mtime is the heartbeat
        publishing              the lease renamed: the owner is publishing (the fence)

Any daemon returns a claim whose heartbeat is older than `lease_seconds` (or whose
owner on this host is dead) to the inbox. It first renames the whole claim folder to a
private name, so exactly one daemon does it, and so a stalled owner that wakes finds its
lease gone: its fence fails and it discards its work instead of publishing it twice.
Ages are measured against a file touched on the same filesystem, so clock skew between
the hosts sharing a network folder does not matter.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presgend.core import inputs, logs, owners
from presgend.core.errors import ClaimLost

log = logs.get(__name__)

CONTROL = inputs.CONTROL_DIR
LEASE, FENCE = "lease", "publishing"
CONTROL_FILES = (LEASE, FENCE)  # a claim folder's own files, beside the job's


def control_dir(inbox: Path) -> Path:
    return inbox / CONTROL


def claims_dir(inbox: Path) -> Path:
    return control_dir(inbox) / "claims"


@dataclass
class Claim:
    folder: Path
    main: str
    files: list[str] = field(default_factory=list)  # main first, then sidecars

    @property
    def path(self) -> Path:
        return self.folder / self.main

    def marker(self) -> Path:
        fence = self.folder / FENCE
        return fence if fence.exists() else self.folder / LEASE

    def heartbeat(self) -> None:
        """Touch the lease; ClaimLost if another daemon took the claim back."""
        for name in (LEASE, FENCE):
            try:
                os.utime(self.folder / name)
                return
            except FileNotFoundError:
                continue
        raise ClaimLost(f"the claim {self.folder.name} was taken back")

    def fence(self) -> None:
        """Turn the lease into the publishing mark; ClaimLost if it is no longer ours."""
        try:
            os.rename(self.folder / LEASE, self.folder / FENCE)
        except FileNotFoundError:
            raise ClaimLost(f"the claim {self.folder.name} was taken back") from None
        os.utime(self.folder / FENCE)

    def release(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def new_claim_name() -> str:
    return f"{owners.HOST}.{os.getpid()}.{uuid.uuid4().hex[:12]}"


def claim(
    inbox: Path, main: str, sidecars: list[str], job_id: str, *, into: Path | None = None
) -> Claim | None:
    """Move `main` (and whatever sidecars are still there) into a new claim folder
    (under `into`, the claims folder by default). None if another daemon renamed `main`
    first."""
    folder = (into or claims_dir(inbox)) / new_claim_name()
    folder.mkdir(parents=True)
    owner = {
        **owners.me(),
        "job_id": job_id,
        "main": main,
        "claimed_at": time.time(),
    }
    (folder / LEASE).write_text(json.dumps(owner), encoding="utf-8")
    try:
        os.rename(inbox / main, folder / main)
    except FileNotFoundError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    taken = [main]
    for name in sidecars:
        with contextlib.suppress(FileNotFoundError):
            os.rename(inbox / name, folder / name)
            taken.append(name)
    return Claim(folder, main, taken)


def owner_of(folder: Path) -> dict[str, Any]:
    for name in (LEASE, FENCE):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((folder / name).read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
    return {}


def share_now(inbox: Path) -> float:
    """The current time as the filesystem holding the inbox sees it."""
    return owners.share_now(control_dir(inbox))


def reclaim_stale(inbox: Path, lease_seconds: float, *, mine: set[str]) -> list[str]:
    """Return stale claims (and half-done reclaims) to the inbox; names restored."""
    root = claims_dir(inbox)
    if not root.is_dir():
        return []
    now = share_now(inbox)
    restored: list[str] = []
    for folder in sorted(root.iterdir()):
        if folder.name in mine or not folder.is_dir():
            continue
        marker = folder / FENCE if (folder / FENCE).exists() else folder / LEASE
        try:
            age = now - marker.stat().st_mtime
        except FileNotFoundError:
            try:  # a claim being created right now, or one left without a lease
                age = now - folder.stat().st_mtime
            except FileNotFoundError:
                continue
        reclaiming = folder.name.startswith(".reclaim-")
        dead = not reclaiming and owners.owner_dead(owner_of(folder))
        if not (dead or age > lease_seconds):
            continue
        private = root / f".reclaim-{uuid.uuid4().hex[:12]}"
        try:
            os.rename(folder, private)
        except OSError:
            continue  # another daemon got there first
        owner = owner_of(private)
        names = [p.name for p in private.iterdir() if p.name not in (LEASE, FENCE)]
        restored += return_files(private, names, inbox)
        shutil.rmtree(private, ignore_errors=True)
        log.warning(
            "claim_reclaimed",
            claim=folder.name,
            owner_host=owner.get("host"),
            owner_pid=owner.get("pid"),
            job_id=owner.get("job_id"),
            reason="owner gone" if dead else f"lease {age:.0f}s old",
            files=names,
        )
    return restored


def return_files(folder: Path, names: list[str], dest: Path) -> list[str]:
    """Move `names` from `folder` to `dest` keeping their shared stem, or a free one."""
    if not names:
        return []
    stem = free_stem(dest, names)
    moved = []
    for name in names:
        target = dest / rename_stem(name, names[0], stem)
        move_no_clobber(folder / name, target)
        moved.append(target.name)
    return moved


def stem_of(name: str) -> str:
    lower = name.lower()
    for double in (".transcript.txt", ".report.json", ".error.json", ".job.json"):
        if lower.endswith(double):
            return name[: -len(double)]
    return os.path.splitext(name)[0]


def rename_stem(name: str, main: str, stem: str) -> str:
    old = stem_of(main)
    return stem + name[len(old) :] if name.startswith(old) else name


def free_stem(dest: Path, names: list[str], extra: tuple[str, ...] = ()) -> str:
    """The main file's stem, or `<stem>-2`, `-3`… so that no name (nor `extra`
    suffixes like `.error.json`) collides with something already in `dest`."""
    stem = stem_of(names[0])
    for n in range(1, 10_000):
        candidate = stem if n == 1 else f"{stem}-{n}"
        wanted = [rename_stem(name, names[0], candidate) for name in names]
        wanted += [candidate + suffix for suffix in extra]
        if not any(os.path.lexists(dest / w) for w in wanted):
            return candidate
    raise FileExistsError(f"no free name for {stem} in {dest}")


def move_no_clobber(src: Path, dst: Path) -> None:
    """Move one entry (file, link, special, folder) without following links and without
    replacing anything at `dst`; across filesystems, copy then delete."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    st = os.lstat(src)
    if not os.path.lexists(dst):
        try:
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                os.link(src, dst)  # fails instead of replacing
                os.unlink(src)
            else:
                os.rename(src, dst)
            return
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            if not os.path.lexists(dst):
                try:
                    os.rename(src, dst)
                    return
                except OSError as again:
                    if again.errno != errno.EXDEV:
                        raise
                _copy_entry(src, dst, st.st_mode)
                return
    base, suffix = _split(dst.name)
    for n in range(2, 10_000):
        other = dst.with_name(f"{base}-{n}{suffix}")
        if not os.path.lexists(other):
            move_no_clobber(src, other)
            return
    raise FileExistsError(str(dst))


def _split(name: str) -> tuple[str, str]:
    stem = stem_of(name)
    return stem, name[len(stem) :]


def _copy_entry(src: Path, dst: Path, mode: int) -> None:
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
        os.unlink(src)
    elif stat.S_ISDIR(mode):
        shutil.copytree(src, dst, symlinks=True)
        shutil.rmtree(src)
    elif stat.S_ISREG(mode):
        shutil.copy2(src, dst)
        os.unlink(src)
    else:  # a pipe or device holds no data: recreate the name, never open it
        if stat.S_ISFIFO(mode):
            os.mkfifo(dst)
        os.unlink(src)
