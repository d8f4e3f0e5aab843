"""What an input is: the one place that knows names, kinds, sidecars and hostile files.

The watcher, the daemon, the job and `plan` all ask here, so a rule changes in one
place: which names are never inputs (temp files of copy tools, OS litter), which travel
with a main file (a video's transcripts, a script's picture), what kind a main file is,
which files must not be opened at all, and how a script's bytes become text.
"""

from __future__ import annotations

import codecs
import fnmatch
import json
import os
import re
import stat
import zipfile
from pathlib import Path

from presgend.core.errors import JobError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi")
SCRIPT_SUFFIXES = (".txt", ".md")
CONTROL_DIR = ".presgend"  # presgend's own folder in the inbox: claims, ledger, store
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".transcript.txt")  # travel with a video
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # a script's presenter picture
PDF_SUFFIX = ".pdf"  # a recording's own deck, shown instead of generated slides
JOB_SUFFIX = ".job.json"  # the job id an upload was given (handin.py), with any main file
EDIT_SUFFIX = ".edit.json"  # an edited job: the edit document (pipeline/edit.py)
APPROVE_SUFFIX = ".approve"  # a job held for review, approved as it is
DECK_SUFFIX = ".pptx"  # a job's own deck, edited and dropped back
DECK_JOB_MARK = "presgend-job:"  # in a published deck's properties: the job it came from

# Names that are never inputs: hidden and temp files of copy tools, OS litter.
IGNORED_PATTERNS = (
    ".*",  # dot files, rsync's .name.XXXXXX, our own .presgend/
    "*.part",
    "*.partial",
    "*.tmp",
    "*.temp",
    "*.crdownload",
    "*.download",
    "*.!sync",
    "~$*",
    "._*",
    "Thumbs.db",
    "desktop.ini",
)


def is_ignored(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_PATTERNS) or (
        name.lower() in {"thumbs.db", "desktop.ini", ".ds_store"}
    )


def classify(name: str) -> str:
    """'ignored', 'sidecar' (travels with a main file), 'main', or 'unsupported'."""
    if is_ignored(name):
        return "ignored"
    lower = name.lower()
    if lower.endswith((*TRANSCRIPT_SUFFIXES, *IMAGE_SUFFIXES, PDF_SUFFIX, JOB_SUFFIX)):
        return "sidecar"
    if lower.endswith((*VIDEO_SUFFIXES, *SCRIPT_SUFFIXES, EDIT_SUFFIX, APPROVE_SUFFIX,
                       DECK_SUFFIX)):  # fmt: skip
        return "main"
    return "unsupported"


def classify_in(folder: Path, name: str) -> str:
    """`classify`, knowing the folder: a PowerPoint deck beside a video of its stem is
    that recording's own deck, which travels with it, not a deck to narrate."""
    found = classify(name)
    if found == "main" and name.lower().endswith(DECK_SUFFIX) and video_beside(folder, name):
        return "sidecar"
    return found


def video_beside(folder: Path, name: str) -> bool:
    stem = os.path.splitext(name)[0]
    return any(os.path.lexists(folder / f"{stem}{suffix}") for suffix in VIDEO_SUFFIXES)


def kind(path: Path) -> str:
    """'video', 'script', 'edit' (an edit document or an approval of a kept job); a
    JobError with the supported suffixes for anything else."""
    name = path.name.lower()
    if name.endswith(SCRIPT_SUFFIXES):
        return "script"
    if name.endswith(VIDEO_SUFFIXES):
        return "video"
    if name.endswith((EDIT_SUFFIX, APPROVE_SUFFIX, DECK_SUFFIX)):
        return "edit"
    raise JobError(
        f"'{path.suffix or path.name}' files are not supported; drop a video "
        f"({' '.join(VIDEO_SUFFIXES)}) or a script ({' '.join(SCRIPT_SUFFIXES)}).",
        phase="input",
    )


def kept_job(inbox: Path, name: str) -> str | None:
    """The kept job (pipeline/store.py) an approval's name means: a job id, or the stem
    of a job's outputs (`talk.approve` for `talk.mp4`), a job held for review first."""
    store = inbox / CONTROL_DIR / "store"
    if (store / name / "job.json").is_file():
        return name
    found: list[tuple[bool, str]] = []
    for path in store.glob("*/job.json"):
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(kept, dict) and kept.get("stem") == name:
            found.append((kept.get("status") == "awaiting_review", path.parent.name))
    return max(found)[1] if found else None


def deck_job(path: Path) -> str:
    """The job a deck names in its document properties ("" for none), read from its
    docProps/core.xml alone (nothing of the deck is opened as a presentation)."""
    try:
        with zipfile.ZipFile(path) as deck:
            props = deck.read("docProps/core.xml")[:65536].decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return ""
    found = re.search(re.escape(DECK_JOB_MARK) + r"([A-Za-z0-9_.-]{1,80})", props)
    return found.group(1) if found else ""


def kind_of_file(path: Path) -> str:
    """`kind`, looking inside a PowerPoint deck: one naming a job of ours is an edit of
    it, any other is a "deck" to narrate (new input, like a script)."""
    found = kind(path)
    if found == "edit" and path.name.lower().endswith(DECK_SUFFIX) and not deck_job(path):
        return "deck"
    return found


def is_version(path: Path) -> bool:
    """Whether `path` makes a new version of a kept job (an edit, an approval, our own
    deck dropped back) rather than a new video; False for a file `kind` refuses."""
    try:
        return kind_of_file(path) == "edit"
    except JobError:
        return False


def kind_of_name(name: str) -> str:
    """`kind` of a file name, or "" for one it refuses."""
    try:
        return kind(Path(name))
    except JobError:
        return ""


def check_readable(path: Path) -> None:
    """Refuse what is not a readable, non-empty regular file, before any tool opens it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise JobError("The input file does not exist.", phase="input") from None
    except PermissionError:
        raise JobError(
            "The input file cannot be read (permission denied).", phase="input"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise JobError("The input is not a regular file.", phase="input")
    if st.st_size == 0 and not path.name.lower().endswith(APPROVE_SUFFIX):
        raise JobError("The input file is empty (0 bytes).", phase="input")
    try:
        with path.open("rb") as f:
            f.read(1)
    except PermissionError:
        raise JobError(
            "The input file cannot be read (permission denied).", phase="input"
        ) from None
    except OSError as exc:
        raise JobError(f"The input file cannot be read ({exc.strerror}).", phase="input") from None


def reported_kind(name: str) -> str:
    """The kind an error document names, also for a file `kind` refuses."""
    lower = name.lower()
    if lower.endswith((EDIT_SUFFIX, APPROVE_SUFFIX, DECK_SUFFIX)):
        return "edit"
    return "script" if lower.endswith(SCRIPT_SUFFIXES) else "video"


def sidecars_of(inbox: Path, name: str) -> list[str]:
    """The names in `inbox` that travel with main file `name`: transcripts and its own
    deck (a PDF or a PowerPoint file) for a video, a presenter picture and the deck it
    narrates for a script, and an upload's job file for either."""
    stem, suffix = os.path.splitext(name)
    if suffix.lower() in SCRIPT_SUFFIXES:  # a presenter picture, the deck it narrates
        kinds: tuple[str, ...] = (*IMAGE_SUFFIXES, PDF_SUFFIX)
    else:
        kinds = (*TRANSCRIPT_SUFFIXES, PDF_SUFFIX, DECK_SUFFIX)
    wanted = (*kinds, JOB_SUFFIX)
    found = []
    for extra in wanted:
        candidate = stem + extra
        for variant in (candidate, stem + extra.upper()):
            if os.path.lexists(inbox / variant) and variant not in found:
                found.append(variant)
    return found


def handed_in(inbox: Path, name: str) -> bool:
    """Whether `name` was handed in complete (an upload): its job file is beside it."""
    return (inbox / (os.path.splitext(name)[0] + JOB_SUFFIX)).is_file()


def find_beside(main: Path, suffixes: tuple[str, ...]) -> Path | None:
    """The first `<stem><suffix>` next to `main` (either case of the suffix)."""
    for suffix in suffixes:
        for candidate in (
            main.with_name(main.stem + suffix),
            main.with_name(main.stem + suffix.upper()),
        ):
            if candidate.is_file():
                return candidate
    return None


def hostile_reason(path: Path) -> str | None:
    """Why a name must not be opened at all (links, devices, folders), or None."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "The file is a symbolic link; presgend does not follow links, so copy the file itself into the inbox."  # noqa: E501
    if stat.S_ISDIR(st.st_mode):
        return "This is a folder, not a file; drop the video or script itself into the inbox."
    if not stat.S_ISREG(st.st_mode):
        return "This is not a regular file (a pipe, socket or device); presgend does not read it."
    if st.st_nlink > 1:
        return "The file has other hard links; presgend does not take linked files, so copy the file into the inbox instead."  # noqa: E501
    return None


def decode_script(data: bytes) -> str:
    """UTF-8 (BOM or not) or UTF-16 with a BOM; anything else is a clear error."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise JobError(
                "The script starts like UTF-16 text but is not valid UTF-16.",
                phase="probe",
                detail=str(exc),
            ) from exc
    if b"\x00" in data:
        half = max(1, len(data) // 2)
        if max(data[0::2].count(0), data[1::2].count(0)) > 0.4 * half:
            raise JobError(
                "The script looks like UTF-16 text without a byte-order mark; save it as "
                "UTF-8 and drop it again.",
                phase="probe",
            )
        raise JobError("The script is not text (it contains binary data).", phase="probe")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JobError(
            f"The script is not UTF-8 text (byte 0x{data[exc.start]:02X} at position "
            f"{exc.start}); save it as UTF-8 and drop it again.",
            phase="probe",
            detail=str(exc),
        ) from exc
