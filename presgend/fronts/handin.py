"""Uploads' names and links: a client's file name made safe, where uploads are written
while they arrive, and the signed download links.

* **Hand-in** itself is the daemon's (`daemon/ledger.hand_in`): uploads, MCP and the
  presets' subfolders all use it.
* **Links.** A download link names one output file (`talk.mp4`, or `board/talk.mp4` for
  a preset's) and its expiry, signed with HMAC by a key kept beside the ledger
  (`inbox/.presgend/http.key`), so every daemon on the inbox honours every other's
  links, and a link works without the bearer token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import time
import unicodedata
from pathlib import Path

from presgend.core import logs
from presgend.core.config import PRESET_NAME
from presgend.inbox import claims

log = logs.get(__name__)


# -- names -----------------------------------------------------------------------------------


def safe_name(filename: str, default: str = "upload") -> str:
    """A client's file name reduced to a safe base name: no folders, no leading dot or
    dash, no control characters, at most 120 characters with its suffix kept."""
    base = re.split(r"[/\\]", filename or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = re.sub(r"\s+", " ", base).strip()
    base = base.lstrip(".-~ ")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip(" .") or default
    suffix = re.sub(r"[^A-Za-z0-9]", "", suffix)[:10]
    stem = stem[: 120 - len(suffix) - 1]
    return f"{stem}.{suffix}" if suffix else stem


def uploads_dir(inbox: Path) -> Path:
    """Where uploads are written while they arrive (the inbox's share, so the hand-in
    is a rename)."""
    return claims.control_dir(inbox) / "uploads"


# -- hand-in -------------------------------------------------------------------------------------


# -- links ----------------------------------------------------------------------------------------


class BadLink(Exception):
    pass


class ExpiredLink(Exception):
    pass


def link_key(inbox: Path) -> bytes:
    """The inbox's link-signing key, created once (exclusively, mode 0600)."""
    path = claims.control_dir(inbox) / "http.key"
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32).hex().encode())
    for _ in range(50):  # another daemon may be writing it this instant
        key = path.read_bytes().strip()
        if len(key) == 64:
            return key
        time.sleep(0.01)
    raise OSError(f"the link key {path} is damaged")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, relative: str, expires: float) -> str:
    payload = _b64(json.dumps({"f": relative, "e": int(expires)}, separators=(",", ":")).encode())
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    return f"{payload}.{_b64(mac)}"


def verify(key: bytes, token: str, now: float | None = None) -> str:
    """The outbox-relative file a token names; BadLink or ExpiredLink otherwise."""
    payload, _, mac = token.partition(".")
    expected = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    try:
        ok = hmac.compare_digest(_unb64(mac), expected)
        data = json.loads(_unb64(payload)) if ok else None
    except (ValueError, TypeError):
        raise BadLink("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("f"), str):
        raise BadLink("This link is not valid.")
    if (now or time.time()) > float(data.get("e", 0)):
        raise ExpiredLink("This link has expired; ask for the job's status to get a new one.")
    relative = str(data["f"])
    folder, _, name = relative.rpartition("/")
    if not name or name.startswith(".") or (folder and not PRESET_NAME.fullmatch(folder)):
        raise BadLink("This link is not valid.")  # a file of the outbox, or of a preset's
    return relative
