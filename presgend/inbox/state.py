"""Each daemon's state file, `inbox/.presgend/state/<host>.<pid>.json`: what it runs and
how its breaker stands, for `presgend status` on any machine sharing the inbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from presgend.core import files, owners
from presgend.inbox import claims

STALE_AFTER = 60.0  # seconds without an update before a daemon counts as gone


def state_dir(inbox: Path) -> Path:
    return claims.control_dir(inbox) / "state"


def state_file(inbox: Path) -> Path:
    return state_dir(inbox) / f"{owners.HOST}.{os.getpid()}.json"


def write(inbox: Path, snapshot: dict[str, Any]) -> None:
    """Write this daemon's snapshot; the folder is not created here, so a share that went
    away is not recreated on the empty mount point beneath it."""
    path = state_file(inbox)
    if path.parent.is_dir():
        files.write_json(path, snapshot)
