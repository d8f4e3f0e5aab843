"""Inputs that wait in the inbox: not bad, but not to be run yet.

A good recording is never filed under failed/ for a fault that is not its own. When this
machine lacks something a job needs (a speech model, a voice: the setup's fault) or a job
failed twice through presgend's own fault (a missing temporary file, a killed program,
an internal error), the input goes back to the inbox, and a note here holds it there:

    inbox/.presgend/waiting/<digest of the name>.json
        {"name", "size", "mtime_ns", "reason", "fault", "until", "rounds"}

A held input is looked at again when the note says (`until`, on the share's clock, so
every daemon on the inbox honours it), at once when the user replaces the file (its size
or time changes) or the config is reloaded. Notes are plain files on the share, so
`presgend status` on any machine lists what waits and why.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from presgend.core import owners

FOLDER = Path(".presgend") / "waiting"


@dataclass(frozen=True)
class Hold:
    name: str
    size: int
    mtime_ns: int
    reason: str  # one sentence: why it waits
    fault: str  # "setup" or "presgend"
    until: float  # the share's clock
    rounds: int = 1  # how many times presgend's own fault has sent it back

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def folder(inbox: Path) -> Path:
    return inbox / FOLDER


def _path(inbox: Path, name: str) -> Path:
    return folder(inbox) / f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.json"


def signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def now(inbox: Path) -> float:
    return owners.share_now(folder(inbox))


def hold(inbox: Path, name: str, reason: str, fault: str, seconds: float) -> Hold | None:
    """Hold `inbox/name` for `seconds`; None when it is no longer there. A note already
    there for the same bytes counts its rounds on."""
    found = signature(inbox / name)
    if found is None:
        return None
    before = note_of(inbox, name)
    rounds = before.rounds + 1 if before and (before.size, before.mtime_ns) == found else 1
    note = Hold(name, *found, reason, fault, now(inbox) + seconds, rounds)
    path = _path(inbox, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{owners.HOST}.{os.getpid()}")
    temp.write_text(json.dumps(note.as_dict()), encoding="utf-8")
    os.replace(temp, path)
    return note


def note_of(inbox: Path, name: str) -> Hold | None:
    """The note about `name`, whether or not it still holds it."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        data = json.loads(_path(inbox, name).read_text(encoding="utf-8"))
        return Hold(**data)
    return None


def held(inbox: Path, name: str) -> Hold | None:
    """The hold on `inbox/name` if it still applies: the same bytes (size and time), and
    not yet due. A note about a replaced file is removed."""
    note = note_of(inbox, name)
    if note is None:
        return None
    if signature(inbox / name) != (note.size, note.mtime_ns):
        release(inbox, name)
        return None
    return note if note.until > now(inbox) else None


def rounds(inbox: Path, name: str, path: Path) -> int:
    """How many times presgend's own fault has sent the bytes of `inbox/name`, now at
    `path` (claimed: a rename keeps their size and time), back already."""
    note = note_of(inbox, name)
    if note is None or signature(path) != (note.size, note.mtime_ns):
        return 0
    return note.rounds if note.fault == "presgend" else 0


def release(inbox: Path, name: str) -> None:
    _path(inbox, name).unlink(missing_ok=True)


def release_all(inbox: Path, fault: str) -> int:
    """Lift every hold of `fault` (the config was reloaded: the setup may be mended)."""
    count = 0
    for path in _notes(inbox):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("fault") == fault:
                path.unlink(missing_ok=True)
                count += 1
    return count


def listing(inbox: Path) -> list[dict[str, Any]]:
    """Every input held now, for `presgend status` and `doctor`."""
    found = []
    clock = now(inbox)
    for path in _notes(inbox):
        with contextlib.suppress(OSError, ValueError, TypeError):
            note = Hold(**json.loads(path.read_text(encoding="utf-8")))
            if signature(inbox / note.name) != (note.size, note.mtime_ns):
                continue  # gone or replaced: the next look removes its note
            found.append({"input": note.name, "reason": note.reason, "fault": note.fault,
                          "retry_in_s": max(0, round(note.until - clock))})  # fmt: skip
    return sorted(found, key=lambda item: item["input"])


def status_lines(held: list[dict[str, Any]]) -> list[str]:
    """`listing`'s inputs as `presgend status` prints them, whatever the backend."""
    return [
        f"waiting  {item['input']}  ({item['fault']}: again in {item['retry_in_s']} s)  "
        f"{item['reason']}"
        for item in held
    ]


def _notes(inbox: Path) -> list[Path]:
    try:
        return sorted(folder(inbox).glob("*.json"))
    except OSError:
        return []
