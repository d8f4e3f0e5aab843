"""The configuration: one frozen dataclass tree, its defaults, loading and validation."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from presgend.core.errors import ConfigError, PresetUnknown

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_VAR = "PRESGEND_CONFIG"
DEFAULT_FILE = Path("config/presgend.toml")


@dataclass(frozen=True)
class PathsConfig:
    inbox: Path = Path("inbox")
    outbox: Path = Path("outbox")
    failed: Path = Path("failed")
    archive: Path | None = Path("archive")  # None: delete processed inputs
    logs: Path = Path("logs")


@dataclass(frozen=True)
class WatchConfig:
    mode: str = "auto"
    settle_seconds: float = 2.0
    poll_interval: float = 2.0
    rescan_interval: float = 60.0
    unreadable_seconds: float = 30.0


@dataclass(frozen=True)
class JobsConfig:
    max_concurrent: int = 0
    lease_seconds: float = 60.0
    grace_seconds: float = 120.0
    timeout_seconds: float = 3600.0
    # no progress this long: the job is stopped with its children, logged job_stalled
    # and run once more; a second stall fails it
    stall_seconds: float = 300.0
    min_free_mb: int = 500  # no job starts while the outbox's disk has less free than this
    # an input that failed through no fault of its own waits in the inbox this long
    # before it runs again (presgend's own fault: 1x, 3x, 9x… this; the setup's: this)
    retry_seconds: float = 300.0
    retry_rounds: int = 3  # presgend's own fault this many times over: failed/, saying so


@dataclass(frozen=True)
class BreakerConfig:
    cpu_percent: float = 90.0
    memory_percent: float = 85.0
    sample_seconds: float = 1.0
    cooldown_seconds: float = 10.0


@dataclass(frozen=True)
class OutputConfig:
    quality: str = "auto"
    encoder: str = "auto"
    burn_captions: bool = False  # captions drawn into the picture, not a soft track


@dataclass(frozen=True)
class TranscriptionConfig:
    model: str = "base"
    device: str = "auto"
    compute_type: str = "auto"
    language: str = ""
    # 0 = by the device: 1 (greedy) on the CPU, 5 on CUDA. On the bench's speech `base`
    # made the same words and word times at 1 as at 5 in 65-75% of the time.
    beam_size: int = 0
    # Decode at temperature 0 only. With the fallback on, a window that fails whisper's
    # quality thresholds is decoded again at 0.4 and 0.8 (sequential decoding only): over
    # music that is every window, and several times the cost for no better text.
    temperature_fallback: bool = False
    # Recognisers decoding side by side, each a stretch of the audio cut at a pause (at
    # least 30 s each); 0 = by the machine (one per core, up to 4, on the CPU; 1 on CUDA).
    # Each costs about 50 MB more memory with `base`.
    decoders: int = 0
    # Speech chunks each decoder decodes together (faster-whisper's batched pipeline);
    # 0 = by the machine (one per thread it has on the CPU, at most 8 in all the decoders;
    # 16 on CUDA). Each one in a batch costs about 85 MB of memory with `base` on the
    # CPU. With `decoders = 1`, 1 decodes one 30 s window after another, seeking by
    # timestamps.
    batch_size: int = 0
    cpu_threads: int = 0  # 0 = one per core, shared among the decoders
    vad: bool = True  # skip silence and music (Silero VAD, after level normalisation)
    allow_download: bool = False


@dataclass(frozen=True)
class SlidesConfig:
    theme: str = "professional_minimal"
    max_slides: int = 0  # 0: automatic, following the talk's length and topics; N: at most N
    # "auto": Debian's chromium-headless-shell if installed (half the CPU a deck), else
    # /usr/bin/chromium; or a path to any Chromium or Chrome
    chromium: str = "auto"
    # Chromium kept running this long after a deck, for the next job's slides (a launch
    # costs about 1.5 CPU-seconds); 0 closes it at once. An idle one holds about 400 MB.
    keep_browser_seconds: float = 0.0
    crossfade_seconds: float = 0.4
    # a narrated deck's slide with no speaker notes is shown this long, in silence
    # (0: not shown)
    silent_slide_seconds: float = 3.0
    accent: str = ""  # a #rrggbb colour; "" = the theme's own
    logo: str = ""  # an image shown small in the slides' footer
    footer: str = ""  # a company or speaker name beside it


@dataclass(frozen=True)
class SummaryConfig:
    # "extractive": the talk's own sentences, condensed, on this machine (the default);
    # "openai": a language model on any OpenAI-compatible server (Ollama, llama.cpp's
    # llama-server, vLLM) writes each slide's title and bullets, checked fact by fact
    engine: str = "extractive"
    base_url: str = ""  # e.g. http://127.0.0.1:11434/v1
    model: str = ""
    api_key_env: str = ""  # the NAME of an environment variable holding the key
    timeout_seconds: float = 60.0  # what the model may cost one job, all slides together


@dataclass(frozen=True)
class SpeechConfig:
    engine: str = "auto"
    voice: str = "en"  # the script's language (an espeak-ng voice name: en, de, fr, cmn)
    piper_voice: str = ""  # a Piper .onnx path or a cached voice name; "" = the bundled one
    max_script_bytes: int = 200_000
    gtts_timeout: float = 10.0
    cache_dir: str = ""


@dataclass(frozen=True)
class PresenterConfig:
    image: str = ""
    # With no picture, the left half is a panel in the slides' colours with these on it.
    name: str = ""
    title: str = ""
    sadtalker_dir: str = ""
    sadtalker: str = "auto"
    sadtalker_timeout: float = 3600.0


@dataclass(frozen=True)
class OutboxConfig:
    retention_hours: float = 0.0  # delete outputs this long after their job; 0 keeps them


@dataclass(frozen=True)
class ReviewConfig:
    # true: a job stops after its content phase as awaiting_review (slide pictures and
    # the preview sheet, no encode) until it is approved, with or without an edit
    hold: bool = False
    auto_approve_hours: float = 0.0  # 0 never; else an unapproved draft ships after this


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool = False  # `presgend serve` turns it on for one run
    bind: str = "127.0.0.1"  # beyond loopback, tokens are required
    port: int = 8737
    tokens: tuple[str, ...] = ()  # bearer tokens; any one of them is accepted
    max_upload_mb: int = 2048
    link_ttl_hours: float = 24.0  # download links, and uploads' outputs, expire after this


WEBHOOK_EVENTS = ("job.succeeded", "job.failed", "job.awaiting_review")


@dataclass(frozen=True)
class WebhooksConfig:
    urls: tuple[str, ...] = ()  # every one gets a POST of JSON on each event
    secret_env: str = ""  # the NAME of an environment variable holding the signing secret
    events: tuple[str, ...] = WEBHOOK_EVENTS
    timeout_seconds: float = 10.0  # one attempt
    max_attempts: int = 6  # then the delivery is given up (retries back off exponentially)


@dataclass(frozen=True)
class McpConfig:
    allowed_roots: tuple[str, ...] = ()  # folders submit_file and plan may read from


@dataclass(frozen=True)
class QueueConfig:
    # "folder": daemons share the inbox through claim folders (no server needed);
    # "postgres": jobs go through a PostgreSQL queue (procrastinate), for teams
    backend: str = "folder"
    dsn: str = ""  # a libpq connection string or URL; PRESGEND_QUEUE_DSN wins over it
    max_attempts: int = 3  # runs of one job (a worker that died or stalled ends a run)
    heartbeat_seconds: float = 10.0  # how often each worker says it is alive
    stalled_seconds: float = 60.0  # silence after which a worker's jobs run elsewhere


@dataclass(frozen=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    transcription: TranscriptionConfig = field(default_factory=TranscriptionConfig)
    slides: SlidesConfig = field(default_factory=SlidesConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    presenter: PresenterConfig = field(default_factory=PresenterConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    mcp: McpConfig = field(default_factory=McpConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    # [presets.NAME]: overrides of PRESET_SECTIONS, name -> section -> key -> value
    presets: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    source: str = "defaults"


CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("watch", "mode"): ("auto", "inotify", "polling"),
    ("presenter", "sadtalker"): ("auto", "on", "off"),
    ("output", "quality"): ("auto", "draft", "fast", "standard", "high"),
    ("output", "encoder"): ("auto", "libx264", "nvenc"),
    ("transcription", "device"): ("auto", "cpu", "cuda"),
    ("transcription", "compute_type"): (
        "auto",
        "int8",
        "int8_float16",
        "int8_float32",
        "float16",
        "float32",
        "bfloat16",
    ),
    ("slides", "theme"): ("professional_minimal", "light", "dark"),
    ("speech", "engine"): ("auto", "gtts", "piper", "espeak"),
    ("summary", "engine"): ("extractive", "openai"),
    ("queue", "backend"): ("folder", "postgres"),
}
MAX_SLIDES = 100  # slides.max_slides may not ask for more
POSITIVE = {
    "retry_seconds",
    "retry_rounds",
    "settle_seconds",
    "poll_interval",
    "rescan_interval",
    "lease_seconds",
    "timeout_seconds",
    "stall_seconds",
    "sample_seconds",
    "max_script_bytes",
    "gtts_timeout",
    "sadtalker_timeout",
    "max_attempts",
    "heartbeat_seconds",
    "stalled_seconds",
    "port",
    "max_upload_mb",
    "link_ttl_hours",
}
PERCENT = {"cpu_percent", "memory_percent"}


def unguarded_http(http: HttpConfig) -> str | None:
    """The sentence that refuses an HTTP service listening beyond this machine with no
    tokens to guard it (None when it is guarded or local). Checked at start, since
    `presgend serve --bind` may change the bind after the config is read."""
    if is_loopback(http.bind) or http.tokens:
        return None
    return (
        f"The HTTP service would listen on {http.bind}, beyond this machine, with no "
        "tokens: set http.tokens, or bind to 127.0.0.1."
    )


def is_loopback(bind: str) -> bool:
    if bind in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def cache_home() -> Path:
    """presgend's cache folder: systemd's `CACHE_DIRECTORY` under the service, else
    `$XDG_CACHE_HOME/presgend` or `~/.cache/presgend` (models, voices, speech)."""
    base = os.environ.get("CACHE_DIRECTORY") or os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "presgend"


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the config from `path`, $PRESGEND_CONFIG, config/presgend.toml or the defaults."""
    chosen = Path(path) if path else _default_path()
    if chosen is None:
        return Config()
    try:
        raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(chosen), ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(chosen), [f"it cannot be read as TOML: {exc}"]) from None
    return from_dict(raw, source=str(chosen))


def _default_path() -> Path | None:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None


def from_dict(raw: dict[str, Any], source: str = "<dict>") -> Config:
    """Build a Config from parsed TOML, collecting every problem before raising."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    hints = get_type_hints(Config)
    for name, value in raw.items():
        if name == "presets":
            sections[name] = _presets(value, problems)
        elif name not in hints or name == "source":
            problems.append(f"unknown section [{name}]")
        elif not isinstance(value, dict):
            problems.append(f"[{name}] must be a table")
        else:
            sections[name] = _build_section(name, hints[name], value, problems)
    if not problems:
        _check_together(sections, problems)
    if problems:
        raise ConfigError(source, problems)
    return Config(**sections, source=source)


PRESET_SECTIONS = ("output", "slides", "speech", "transcription", "summary", "review")
PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}")


def _presets(raw: Any, problems: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """`[presets.NAME]` tables: each key checked as in its own section."""
    if not isinstance(raw, dict):
        problems.append("[presets] must hold tables: [presets.NAME]")
        return {}
    hints = get_type_hints(Config)
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for name, sections in raw.items():
        if not PRESET_NAME.fullmatch(name) or not isinstance(sections, dict):
            problems.append(f"presets.{name}: a preset is a table named with letters, digits, "
                            "- and _ (it is also the inbox subfolder's name)")  # fmt: skip
            continue
        found[name] = {}
        for section, values in sections.items():
            where = f"presets.{name}.{section}"
            if section not in PRESET_SECTIONS or not isinstance(values, dict):
                problems.append(f"{where}: a preset overrides only "
                                f"{', '.join(PRESET_SECTIONS)}")  # fmt: skip
                continue
            mine: list[str] = []
            _build_section(section, hints[section], values, mine)
            problems += [f"presets.{name}: {problem}" for problem in mine]
            if not mine:
                found[name][section] = dict(values)
    return found


def with_preset(config: Config, name: str) -> Config:
    """`config` with the preset `name`'s overrides; PresetUnknown when there is none."""
    if not name:
        return config
    preset = config.presets.get(name)
    if preset is None:
        known = ", ".join(sorted(config.presets)) or "none"
        raise PresetUnknown(f"There is no preset named {name!r}; the config has: {known}.")
    changed = {
        section: dataclasses.replace(getattr(config, section), **values)
        for section, values in preset.items()
    }
    return dataclasses.replace(config, **changed)


def _check_together(sections: dict[str, Any], problems: list[str]) -> None:
    """Rules that involve more than one key."""
    summary = sections.get("summary", SummaryConfig())
    if summary.engine == "openai" and not (summary.base_url and summary.model):
        problems.append('summary.engine = "openai" needs summary.base_url and summary.model')
    if summary.base_url and not re.match(r"https?://", summary.base_url):
        problems.append(f"summary.base_url must start with http:// or https://, not "
                        f"{summary.base_url!r}")  # fmt: skip
    if summary.api_key_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", summary.api_key_env):
        problems.append(
            "summary.api_key_env must name an environment variable (such as OPENAI_API_KEY) "
            "that holds the key; the key itself never goes in the file"
        )
    hooks = sections.get("webhooks", WebhooksConfig())
    problems += [f"webhooks.urls: {u!r} must start with http:// or https://"
                 for u in hooks.urls if not re.match(r"https?://", u)]  # fmt: skip
    problems += [f"webhooks.events: {e!r} is not one of {', '.join(WEBHOOK_EVENTS)}"
                 for e in hooks.events if e not in WEBHOOK_EVENTS]  # fmt: skip
    if hooks.secret_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", hooks.secret_env):
        problems.append(
            "webhooks.secret_env must name an environment variable that holds the secret; "
            "the secret itself never goes in the file"
        )
    queue = sections.get("queue", QueueConfig())
    if queue.stalled_seconds < 2 * queue.heartbeat_seconds:
        problems.append(
            "queue.stalled_seconds must be at least twice queue.heartbeat_seconds, or a "
            "worker that is only slow to say it is alive would have its jobs run twice"
        )


def _build_section(section: str, cls: type, values: dict[str, Any], problems: list[str]) -> Any:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            problems.append(f"unknown key {section}.{key}")
            continue
        converted = _convert(f"{section}.{key}", hints[key], value, problems)
        if converted is not _INVALID:
            _check_value(section, key, converted, problems)
            kwargs[key] = converted
    return cls(**kwargs)


_INVALID = object()


def _convert(name: str, hint: Any, value: Any, problems: list[str]) -> Any:
    if get_origin(hint) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{name} must be a list of strings, not {value!r}")
            return _INVALID
        return tuple(value)
    if _is_optional_path(hint):
        if not isinstance(value, str):
            problems.append(f"{name} must be a string path")
            return _INVALID
        return Path(value) if value else None
    table: dict[Any, type | tuple[type, ...]] = {
        Path: str,
        bool: bool,
        int: int,
        float: (int, float),
        str: str,
    }
    expected = table[hint]
    if (isinstance(value, bool) and hint is not bool) or not isinstance(value, expected):
        problems.append(f"{name} must be {_type_word(hint)}, not {value!r}")
        return _INVALID
    checked: Any = value
    if hint is Path:
        return Path(checked)
    return float(checked) if hint is float else checked


def _is_optional_path(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType) and Path in get_args(hint)


def _type_word(hint: Any) -> str:
    words = {
        Path: "a string path",
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
    }
    return words[hint]


def _check_value(section: str, key: str, value: Any, problems: list[str]) -> None:
    name = f"{section}.{key}"
    choices = CHOICES.get((section, key))
    if choices and value not in choices:
        problems.append(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    if key in POSITIVE and value <= 0:
        problems.append(f"{name} must be greater than 0, not {value!r}")
    if key in PERCENT and not 0 < value <= 100:
        problems.append(f"{name} must be a percentage between 0 and 100, not {value!r}")
    non_negative = {
        "max_concurrent", "grace_seconds", "unreadable_seconds", "cooldown_seconds",
        "crossfade_seconds", "keep_browser_seconds", "cpu_threads", "batch_size", "decoders",
        "min_free_mb", "retention_hours", "beam_size", "max_slides", "auto_approve_hours",
    }  # fmt: skip
    if key in non_negative and value < 0:
        problems.append(f"{name} must not be negative, not {value!r}")
    if key == "accent" and value and not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        problems.append(f'{name} must be a colour such as "#2f6fde", not {value!r}')
    if key == "port" and value > 65535:
        problems.append(f"{name} must be a port number up to 65535, not {value!r}")
    if key == "max_slides" and value > MAX_SLIDES:
        problems.append(f"{name} must be at most {MAX_SLIDES} (0: automatic), not {value!r}")


def replace(config: Config, section: str, **changes: Any) -> Config:
    """A copy of `config` with some keys of one section changed."""
    updated = dataclasses.replace(getattr(config, section), **changes)
    return dataclasses.replace(config, **{section: updated})
