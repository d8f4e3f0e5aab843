"""Hand-in and links: how a file that arrives by upload (or by path, from MCP) becomes a
job, and how its outputs are fetched without the bearer token.

* **Hand-in.** The file goes into the inbox like any drop, with one more sidecar,
  `<stem>.job.json`, that carries the job id the caller was given. The sidecar is
  written first and the main file is renamed in last, so intake sees a complete file
  (it skips the settle wait for it) and any daemon on the inbox may run it under that
  id. Its ledger entry (daemon/ledger.py) says `queued` from the start.
* **Links.** A download link names one output file and its expiry, signed with HMAC
  by a key kept beside the ledger (`inbox/.presgend/http.key`), so every daemon on the
  inbox honours every other's links, and a link works without the bearer token.
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

from presgend.backends.folder import claims
from presgend.core import logs
from presgend.core.config import Config
from presgend.daemon.ledger import JOB_SIDECAR, record
from presgend.pipeline import publish

log = logs.get("presgend.desk")


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


def hand_in(
    config: Config,
    main: Path,
    name: str,
    job_id: str,
    *,
    sidecars: dict[str, Path] | None = None,
    source: str = "upload",
    move: bool = True,
) -> str:
    """Put `main` (and `sidecars`, keyed by their suffix such as ".srt") into the inbox
    under a free version of `name`; the job sidecar first, the main file last, by
    rename (`move`) or by a copy renamed into place. The name used."""
    inbox = config.paths.inbox
    sidecars = sidecars or {}
    stem = claims.stem_of(name)
    suffix = name[len(stem) :]
    names = [name, *(stem + s for s in sidecars)]
    free = claims.free_stem(inbox, names, (JOB_SIDECAR,))
    final = free + suffix
    ttl = config.http.link_ttl_hours if source == "upload" else 0
    record(inbox, job_id, status="queued", input=final, source=source, ttl_hours=ttl,
           phase="queued", progress=0.0)  # fmt: skip
    publish.write_json(inbox / (free + JOB_SIDECAR), {"job_id": job_id, "source": source})
    for side_suffix, path in sidecars.items():
        _place(path, inbox / (free + side_suffix), move)
    _place(main, inbox / final, move)
    log.info("input_handed_in", input=final, job_id=job_id, source=source)
    return final


def _place(src: Path, dst: Path, move: bool) -> None:
    if move:
        os.replace(src, dst)
        return
    temp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    with src.open("rb") as reader, temp.open("wb") as writer:
        while chunk := reader.read(1 << 20):
            writer.write(chunk)
    os.replace(temp, dst)


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
    if "/" in relative or relative.startswith("."):
        raise BadLink("This link is not valid.")
    return relative
