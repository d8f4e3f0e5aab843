"""The live settings: the one place that holds the configuration a running daemon uses.

Every service (intake, worker, housekeeping, outcomes, the front desk, the queue, the HTTP
app and MCP) reads `settings.current` when it uses a setting, instead of keeping a copy,
so a reload reaches all of them at once. The few settings that are fixed when something
is built (the folders, the queue's database, the HTTP socket) keep their running values
and are named in the reload's log line; services that derive state from a setting (the
watcher's mode, the resource breaker's limits) subscribe to changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from presgend.core.config import Config

Listener = Callable[[Config, Config], None]  # before, after

# Settings fixed at start: (section, key), or (section, "*") for a whole section.
RESTART_ONLY: tuple[tuple[str, str], ...] = (
    ("paths", "*"),  # every daemon on the share must agree, and the logs are open
    ("queue", "backend"),
    ("queue", "dsn"),
    ("http", "enabled"),
    ("http", "bind"),
    ("http", "port"),
)


@dataclass(frozen=True)
class Reloaded:
    changed: list[str]  # section.key, in effect now
    need_restart: list[str]  # section.key, changed in the file, in effect after a restart


def changes(before: Config, after: Config) -> list[str]:
    """`section.key` for every setting that differs."""
    found = []
    for section in dataclasses.fields(Config):
        if section.name == "source":
            continue
        old, new = getattr(before, section.name), getattr(after, section.name)
        if section.name == "presets":
            found += [
                f"presets.{n}" for n in sorted(set(old) | set(new)) if old.get(n) != new.get(n)
            ]
            continue
        for key in dataclasses.fields(old):
            if getattr(old, key.name) != getattr(new, key.name):
                found.append(f"{section.name}.{key.name}")
    return found


class Settings:
    def __init__(self, config: Config, restart_only: tuple[tuple[str, str], ...] = ()) -> None:
        self.current = config
        self.listeners: list[Listener] = []
        self.restart_only = RESTART_ONLY + restart_only  # and the backend's own

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def apply(self, new: Config) -> Reloaded:
        """Make `new` the live settings, less those fixed at start; tell the listeners."""
        before = self.current
        fixed = self.restart_only
        kept: dict[str, Any] = {}
        need_restart = []
        for name in changes(before, new):
            section, key = name.split(".", 1)
            if (section, "*") in fixed or (section, key) in fixed:
                need_restart.append(name)
                kept.setdefault(section, {})[key] = getattr(getattr(before, section), key)
        for section, values in kept.items():
            new = dataclasses.replace(
                new, **{section: dataclasses.replace(getattr(new, section), **values)}
            )
        changed = changes(before, new)
        self.current = new
        for listener in self.listeners:
            listener(before, new)
        return Reloaded(changed, need_restart)


class Live:
    """A service that reads the live settings: `config` is always the current one (a
    reload replaces it), never a copy taken when the service was built."""

    settings: Settings

    @property
    def config(self) -> Config:
        return self.settings.current
