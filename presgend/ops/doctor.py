"""`presgend doctor`: is everything a job needs here, and if not, how to fix it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from presgend.core import config as config_mod
from presgend.core import procs
from presgend.core.config import Config
from presgend.core.errors import JobError, PresgendError
from presgend.inbox import waiting
from presgend.pipeline import deck
from presgend.pipeline.script import voices
from presgend.pipeline.video import transcribe

MIN_FREE_GB = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def run_checks(cfg: Config) -> list[Check]:
    checks = [
        _tool("ffmpeg"),
        _tool("ffprobe"),
        _x264(),
        _chromium(cfg),
        _fonts(),
        _word_list(),
        _model(cfg),
        _decks(),
    ]
    checks += _speech(cfg)
    checks += _folders(cfg)
    checks.append(_disk(cfg))
    checks += _waiting(cfg)
    checks += _backend(cfg)
    if cfg.webhooks.urls:
        checks.append(_webhooks(cfg))
    if cfg.http.enabled:
        checks.append(_http(cfg))
    if deck.WRITERS[cfg.summary.engine].uses_model:
        checks.append(_summary(cfg))
    return checks


def _summary(cfg: Config) -> Check:
    """The language model's server answers and lists the model; its key is set."""
    from presgend.pipeline.text import writer

    summary = cfg.summary
    if summary.api_key_env and not os.environ.get(summary.api_key_env):
        return Check(
            "summary model", "warn", f"${summary.api_key_env} is not set",
            f"export {summary.api_key_env}=… in the service's environment",
        )  # fmt: skip
    ok, detail = writer.check_endpoint(summary)
    if not ok:
        return Check(
            "summary model", "warn", f"{detail}; the extractive writer makes the slides",
            "start the server, or fix summary.base_url and summary.model",
        )  # fmt: skip
    return Check("summary model", "ok", detail)


def _webhooks(cfg: Config) -> Check:
    """The webhook settings, and whether the signing secret is there."""
    hooks = cfg.webhooks
    where = ", ".join(urlsplit(u).netloc or u for u in hooks.urls)
    detail = (f"{len(hooks.urls)} URL(s) ({where}) on {', '.join(hooks.events)}; "
              f"{hooks.max_attempts} attempts of {hooks.timeout_seconds:g} s")  # fmt: skip
    if hooks.secret_env and not os.environ.get(hooks.secret_env):
        return Check("webhooks", "warn", f"{detail}; ${hooks.secret_env} is not set, so "
                     "deliveries go unsigned", f"export {hooks.secret_env}=… in the service's "
                     "environment")  # fmt: skip
    signed = f"signed with ${hooks.secret_env}" if hooks.secret_env else "unsigned"
    return Check("webhooks", "ok", f"{detail}; {signed}")


def _backend(cfg: Config) -> list[Check]:
    """What the chosen backend needs (the queue's database answers and has its tables)."""
    from presgend import backends

    name = f"queue {cfg.queue.backend}"
    try:
        detail = backends.kind(cfg).ready(cfg)
    except PresgendError as exc:
        return [Check(name, "fail", str(exc), "presgend queue init, or fix queue.dsn")]
    return [] if detail is None else [Check(name, "ok", detail)]


def _http(cfg: Config) -> Check:
    refused = config_mod.unguarded_http(cfg.http)
    if refused:
        return Check("http", "fail", refused, "set http.tokens or bind to 127.0.0.1")
    guarded = "bearer tokens" if cfg.http.tokens else "loopback only, no token"
    return Check("http", "ok", f"{cfg.http.bind}:{cfg.http.port} ({guarded})")


def _tool(name: str) -> Check:
    try:
        path = procs.find(name)
    except Exception as exc:
        return Check(name, "fail", "not found", str(exc))
    version = _first_line([path, "-version"])
    return Check(name, "ok", version or path)


def _x264() -> Check:
    if not procs.available("ffmpeg"):
        return Check("libx264", "fail", "ffmpeg is missing", "install ffmpeg")
    out = _output([procs.find("ffmpeg"), "-hide_banner", "-encoders"])
    if " libx264 " in out:
        return Check("libx264", "ok", "H.264 encoder available")
    return Check(
        "libx264",
        "fail",
        "ffmpeg has no libx264 encoder",
        "install an ffmpeg build with libx264 (Debian's ffmpeg has it)",
    )


def _chromium(cfg: Config) -> Check:
    from presgend.pipeline.text import browser

    path = browser.executable(cfg.slides.chromium)
    if not browser.runnable(path):
        found = browser.executable("auto")  # what "auto" would take instead
        usable = found != path and browser.runnable(found)
        return Check(
            "chromium",
            "warn",
            f"{path} not found; slides will be drawn with Pillow",
            f'set slides.chromium = "auto" (it finds {found})'
            if usable
            else "sudo apt-get install chromium-headless-shell (or chromium)",
        )
    version = _first_line([path, "--version"]) or path
    if cfg.slides.chromium == "auto" and path != browser.HEADLESS_SHELL:
        return Check(
            "chromium",
            "ok",
            f"{version}; chromium-headless-shell would start each deck in half the CPU time",
            "sudo apt-get install chromium-headless-shell",
        )
    return Check("chromium", "ok", version)


def _decks() -> Check:
    """Which decks can be read: PDFs always (pypdfium2), PowerPoint files with
    LibreOffice to draw them."""
    from presgend.pipeline.script import slideshow

    try:
        import pypdfium2  # noqa: F401
    except ImportError:
        return Check("decks", "fail", "pypdfium2 is missing: a talk.pdf deck cannot be read",
                     "reinstall presgend (make setup)")  # fmt: skip
    program = slideshow.soffice()
    if program is None:
        return Check(
            "decks",
            "warn",
            "PDF decks are read; PowerPoint decks (.pptx) are not: LibreOffice is missing",
            "sudo apt-get install libreoffice-impress (or export decks as PDF)",
        )
    return Check("decks", "ok", f"PDF decks, and PowerPoint decks drawn by {program}")


def _word_list() -> Check:
    from presgend.pipeline.text import resentence

    path = resentence.word_list_path()
    if path is None:
        return Check(
            "word list",
            "warn",
            "no /usr/share/dict/words: names in transcripts without capitals stay lower case",
            "sudo apt-get install wamerican",
        )
    return Check("word list", "ok", f"{path} (names for transcripts without capitals)")


def _fonts() -> Check:
    out = _output(["fc-list", ":", "family"])
    if not out:
        return Check(
            "fonts",
            "warn",
            "fontconfig lists no fonts",
            "sudo apt-get install fonts-dejavu-core fonts-noto-cjk",
        )
    missing = [f for f in ("DejaVu Sans", "Noto Sans CJK") if f not in out]
    if missing:
        return Check(
            "fonts",
            "warn",
            f"missing: {', '.join(missing)}",
            "sudo apt-get install fonts-dejavu-core fonts-noto-cjk",
        )
    return Check("fonts", "ok", "DejaVu Sans and Noto Sans CJK installed")


def _speech(cfg: Config) -> list[Check]:
    """Which voices can speak a script here: Piper's voices, espeak-ng, gTTS (online)."""
    checks = []
    espeak = procs.available("espeak-ng")
    if voices.piper_command() is None:
        checks.append(
            Check(
                "voice piper",
                "warn",
                "Piper is not installed; offline scripts are spoken by espeak-ng",
                "pip install 'presgend[voice]'",
            )
        )
    else:
        try:
            chosen = voices.find_voice(cfg.speech.piper_voice)
        except JobError as exc:
            checks.append(Check("voice piper", "fail", str(exc), "presgend fetch-voice NAME"))
            chosen = None
        found = voices.installed()
        if chosen is not None:
            others = sorted({v.name for v in found} - {chosen.name})
            extra = f"; also installed: {', '.join(others)}" if others else ""
            detail = f"{chosen.name} ({chosen.language}) speaks scripts first{extra}"
            checks.append(Check("voice piper", "ok", detail))
        elif not cfg.speech.piper_voice:
            checks.append(
                Check(
                    "voice piper",
                    "warn",
                    "Piper is installed but has no voice",
                    "presgend fetch-voice en_US-lessac-medium (needs internet)",
                )
            )
    if espeak:
        checks.append(Check("voice espeak-ng", "ok", "installed: every language, robotic"))
    else:
        checks.append(
            Check(
                "voice espeak-ng",
                "warn",
                "espeak-ng not found; scripts in languages Piper has no voice for cannot "
                "be spoken offline",
                "sudo apt-get install espeak-ng",
            )
        )
    gtts = {
        "gtts": "speaks every script (speech.engine = gtts; needs the internet)",
        "auto": "used when no Piper voice speaks the script and Google's service answers",
    }.get(cfg.speech.engine, f"not used (speech.engine = {cfg.speech.engine})")
    checks.append(Check("voice gTTS", "ok", gtts))
    return checks


def _model(cfg: Config) -> Check:
    ok, where = transcribe.model_status(cfg.transcription)
    if ok:
        return Check("whisper model", "ok", f"{cfg.transcription.model} at {where}")
    return Check(
        "whisper model",
        "warn",
        f"'{cfg.transcription.model}' is not installed; videos need a sidecar transcript",
        f"presgend fetch-model {cfg.transcription.model} (needs internet), or set "
        "transcription.model to a local model directory",
    )


def _waiting(cfg: Config) -> list[Check]:
    """Inputs held in the inbox through no fault of their own, and why."""
    held = waiting.listing(cfg.paths.inbox)
    if not held:
        return []
    reasons = sorted({item["reason"] for item in held})
    return [Check(
        "waiting inputs", "warn",
        f"{len(held)} input(s) wait in the inbox: " + " ".join(reasons),
        "mend what the sentence names; a reload (SIGHUP) or the next retry runs them",
    )]  # fmt: skip


def _folders(cfg: Config) -> list[Check]:
    p = cfg.paths
    folders = {"inbox": p.inbox, "outbox": p.outbox, "failed": p.failed, "logs": p.logs}
    if p.archive is not None:
        folders["archive"] = p.archive
    checks = []
    for name, folder in folders.items():
        target = folder if folder.exists() else _existing_parent(folder)
        if os.access(target, os.W_OK | os.X_OK):
            state = "exists" if folder.exists() else "will be created"
            checks.append(Check(f"folder {name}", "ok", f"{folder.absolute()} ({state})"))
        else:
            checks.append(
                Check(
                    f"folder {name}",
                    "fail",
                    f"{folder.absolute()} is not writable",
                    f"sudo chown -R $USER {target}",
                )
            )
    return checks


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _disk(cfg: Config) -> Check:
    places = {cfg.paths.outbox, Path(tempfile.gettempdir())}
    worst = min(shutil.disk_usage(_existing_parent(p)).free / 2**30 for p in places)
    if worst < MIN_FREE_GB:
        return Check(
            "free disk",
            "fail",
            f"only {worst:.1f} GB free",
            f"free at least {MIN_FREE_GB:.0f} GB in the outbox and temp folders",
        )
    return Check("free disk", "ok", f"{worst:.1f} GB free")


def _output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _first_line(args: list[str]) -> str:
    out = _output(args).strip()
    return out.splitlines()[0] if out else ""
