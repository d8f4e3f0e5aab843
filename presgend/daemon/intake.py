"""Intake: from names in the inbox to inputs that are ready to run.

The observer (watchdog's thread) only pokes names; rescans at start-up, after a pause
and every `watch.rescan_interval` catch whatever it missed; each main file is settled
(unchanged for `watch.settle_seconds`) and checked readable before it is ready. Names
that must never be opened are rejected straight to failed/. The inbox going away (an
unmounted share) pauses intake until it is back.

The event source (`start_observer`) and the clock are passed in, so the logic is tested
with fakes; the daemon drives `step()` from its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.observers.api import BaseObserver

from presgend.core import config as config_mod
from presgend.core import inputs, logs
from presgend.core.config import Config
from presgend.core.errors import JobError, PresetUnknown
from presgend.core.settings import Live, Settings
from presgend.daemon import notify, watcher
from presgend.inbox import claims, ledger, waiting
from presgend.pipeline.context import new_job_id
from presgend.pipeline.video import transcribe

log = logs.get(__name__)

Reject = Callable[[str, str], None]  # name, one-sentence reason
ObserverFactory = Callable[[Path, str, float, Callable[[str], None]], BaseObserver]


class Intake(Live):
    def __init__(
        self,
        settings: Settings,
        *,
        wake: Callable[[], None],
        reject: Reject,
        start_observer: ObserverFactory = watcher.start_observer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.settings.subscribe(self._settings_changed)
        config = self.config
        self.inbox = config.paths.inbox
        self.wake = wake
        self.reject = reject
        self.start_observer = start_observer
        self.clock = clock
        self.settler = watcher.Settler(self.inbox, config.watch.settle_seconds, clock=clock)
        self.ready: dict[str, tuple[int, int, int, int]] = {}
        self.pokes: set[str] = set()
        self.observer: BaseObserver | None = None
        self.mode, self.mode_reason = watcher.watch_mode(config.watch.mode, self.inbox)
        self.paused = False
        self.next_rescan = 0.0
        self.preset_seen: dict[str, tuple[tuple[int, int], float]] = {}  # settling there
        self.subfolders_told: set[str] = set()  # subfolders with no preset, logged once
        self.holds_told: dict[str, float] = {}  # inputs waiting, logged once per hold
        self.loop: asyncio.AbstractEventLoop | None = None


    # -- what the daemon asks ------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Inputs seen but not yet run: settling, or ready."""
        return len(self.ready) + len(self.settler.candidates)

    def next_deadline(self) -> float:
        """When intake next needs the loop, even with no event: a rescan or a settle."""
        deadlines = [self.next_rescan, self.clock() + self.config.watch.poll_interval]
        settle = self.settler.next_deadline()
        if settle is not None:
            deadlines.append(settle)
        return min(deadlines)

    def take(self) -> str | None:
        """The oldest ready input's name, no longer ready (the caller claims it)."""
        if not self.ready:
            return None
        name = next(iter(self.ready))
        del self.ready[name]
        return name

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._start_observer()
        self.rescan()

    def stop(self) -> None:
        if self.observer is not None:
            with contextlib.suppress(Exception):
                self.observer.stop()
                self.observer.join(timeout=5)
            self.observer = None

    async def step(self) -> bool:
        """Look at everything poked or due; False while the inbox is unavailable."""
        if not self.check_inbox():
            return False
        if self.clock() >= self.next_rescan:
            self.rescan()
        pokes, self.pokes = self.pokes, set()
        for name in pokes:
            self.look_at(name)
        self.preset_drops()
        for candidate in self.settler.due():
            await self._settled(candidate)
        return True

    # -- events and rescans --------------------------------------------------------------

    def poke(self, name: str) -> None:
        """Called from the observer's thread."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._poked, name)

    def _poked(self, name: str) -> None:
        self.notice(name)

    def notice(self, name: str) -> None:
        """Look at `name` soon (from the loop: the front desk handed it in)."""
        self.pokes.add(name)
        self.wake()

    def withdraw(self, name: str) -> None:
        """Forget `name`: it was taken out of the inbox (a hand-in cancelled before it ran)."""
        self.ready.pop(name, None)
        self.settler.forget(name)

    def requeue(self, names: Iterable[str]) -> None:
        """`names` are back in the inbox (stale claims returned): look at them soon."""
        self.pokes |= set(names)
        self.wake()

    def _start_observer(self) -> None:
        if self.observer is not None or not self.available():
            return
        try:
            self.observer = self.start_observer(
                self.inbox, self.mode, self.config.watch.poll_interval, self.poke
            )
        except OSError as exc:
            log.error("watch_failed", error=str(exc), fallback="rescans only")

    def available(self) -> bool:
        return self.inbox.is_dir() and claims.control_dir(self.inbox).is_dir()

    def check_inbox(self) -> bool:
        """Pause while the inbox is gone (an unmounted share), resume with a rescan."""
        available = self.available()
        if not available and not self.paused:
            self.paused = True
            self.stop()
            self.settler.candidates.clear()
            self.ready.clear()
            log.error("inbox_unavailable", inbox=str(self.inbox), action="intake paused")
            notify.send(f"STATUS=paused: {self.inbox} is not available")
        elif available and self.paused:
            self.paused = False
            log.info("inbox_available", inbox=str(self.inbox), action="intake resumed")
            notify.send(f"STATUS=watching {self.inbox} ({self.mode})")
            self._start_observer()
            self.rescan()
        elif available and (self.observer is None or not self.observer.is_alive()):
            self.observer = None
            self._start_observer()
        return available

    def rescan(self) -> None:
        self.next_rescan = self.clock() + self.config.watch.rescan_interval
        try:
            names = set(os.listdir(self.inbox))
        except OSError:
            return
        for gone in set(self.settler.candidates) - names:
            self.settler.forget(gone)
        for gone in set(self.ready) - names:
            self.ready.pop(gone)
        self.pokes |= names

    def look_at(self, name: str) -> None:
        if not name:
            return  # the inbox itself changed; check_inbox has looked
        kind = inputs.classify_in(self.inbox, name)
        if kind in ("ignored", "sidecar"):
            return
        if kind == "unsupported" and (self.inbox / name).is_dir():
            self.subfolder(name)
            return
        if name in self.ready:
            if self.settler.signature(name) == self.ready[name]:
                return
            del self.ready[name]
        self.settler.observe(name)
        candidate = self.settler.candidates.get(name)
        if candidate is not None and inputs.handed_in(self.inbox, name):
            # renamed in complete by the front desk: no need to wait for it to settle
            candidate.changed_at = min(
                candidate.changed_at, self.clock() - self.settler.settle_seconds
            )
            self.wake()

    # -- presets' subfolders -------------------------------------------------------------

    def subfolder(self, name: str) -> None:
        """`inbox/NAME/` is a preset's (its drops are handed in by `preset_drops`); any
        other subfolder is logged once and left alone."""
        if name in self.config.presets or name in self.subfolders_told:
            return
        self.subfolders_told.add(name)
        log.warning("inbox_subfolder_ignored", folder=name,
                    reason="no [presets.NAME] of that name")  # fmt: skip

    def preset_drops(self) -> None:
        """A file dropped into `inbox/NAME/` that has held still for `settle_seconds` is
        handed in to the inbox with its transcript or picture and the preset's name, as an
        upload is, so it runs like any drop and with that preset."""
        now = self.clock()
        for preset in self.config.presets:
            folder = self.inbox / preset
            try:
                entries = [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
            except OSError:
                continue
            for entry in entries:
                if inputs.classify(entry.name) != "main":
                    continue
                key, stat = f"{preset}/{entry.name}", entry.stat(follow_symlinks=False)
                signature = (stat.st_size, stat.st_mtime_ns)
                seen = self.preset_seen.get(key)
                if seen is None or seen[0] != signature:
                    self.preset_seen[key] = (signature, now)
                elif now - seen[1] >= self.settler.settle_seconds and stat.st_size > 0:
                    self.preset_seen.pop(key)
                    self.hand_in_preset(folder, entry.name, preset)

    def hand_in_preset(self, folder: Path, name: str, preset: str) -> None:
        stem = claims.stem_of(name)
        sidecars = {n[len(stem):]: folder / n for n in inputs.sidecars_of(folder, name)
                    if not n.lower().endswith(inputs.JOB_SUFFIX)}  # fmt: skip
        try:
            final = ledger.hand_in(self.config, folder / name, name, new_job_id(),
                                   sidecars=sidecars, source="folder", preset=preset)  # fmt: skip
        except OSError as exc:
            log.error("preset_hand_in_failed", input=f"{preset}/{name}", error=str(exc))
            return
        self.notice(final)

    # -- settling ------------------------------------------------------------------------

    async def _settled(self, candidate: watcher.Candidate) -> None:
        name = candidate.name
        path = self.inbox / name
        if inputs.classify_in(self.inbox, name) == "sidecar":
            self.settler.forget(name)  # a recording's deck, its video dropped since
            return
        reason = inputs.hostile_reason(path)
        if reason is None and inputs.classify(name) == "unsupported":
            try:
                inputs.kind(path)
            except JobError as exc:
                reason = str(exc)
        if reason is not None:
            self.settler.forget(name)
            self.reject(name, reason)
            return
        if candidate.rejected == candidate.signature:
            # unchanged since ffprobe refused it, for unreadable_seconds: give up waiting
            # and let the job say what is wrong with it
            log.info("input_still_unreadable", input=name, reason=candidate.reason)
            self._queue(candidate)
            return
        try:
            ok, why = await watcher.readable(path, self.config.speech.max_script_bytes)
        except FileNotFoundError:
            self.settler.forget(name)  # another daemon took it while it was checked
            return
        except OSError as exc:  # unreadable for now (permissions, a share hiccup)
            ok, why = False, f"{type(exc).__name__}: {exc}"
        if ok or inputs.handed_in(self.inbox, name):
            # an upload is complete: if it cannot be read, the job says why, now
            self._queue(candidate)
        else:
            candidate.rejected = candidate.signature
            candidate.reason = why
            # due again once it has stayed unchanged for unreadable_seconds more
            hold = self.config.watch.unreadable_seconds - self.settler.settle_seconds
            candidate.changed_at = self.clock() + hold
            log.info("input_not_readable_yet", input=name, reason=why)

    def _queue(self, candidate: watcher.Candidate) -> None:
        if self._held(candidate):
            return
        self.settler.forget(candidate.name)
        self.ready[candidate.name] = candidate.signature
        log.info("input_settled", input=candidate.name, size=candidate.signature[1])

    # -- inputs that wait --------------------------------------------------------------

    def _held(self, candidate: watcher.Candidate) -> bool:
        """Whether a settled input must wait in the inbox: a hold (inbox/waiting.py) is
        on it, or it needs a speech model this machine lacks. It is looked at again
        when the hold ends."""
        name = candidate.name
        note = waiting.held(self.inbox, name)
        if note is None:
            missing = self.missing_model(name)
            if missing is not None:
                seconds = self.config.jobs.retry_seconds
                note = waiting.hold(self.inbox, name, missing, "setup", seconds)
        if note is None:
            return False
        wait = max(1.0, note.until - waiting.now(self.inbox))
        candidate.changed_at = self.clock() + wait - self.settler.settle_seconds
        if self.holds_told.get(name) != note.until:
            self.holds_told[name] = note.until
            log.warning("input_waiting", input=name, reason=note.reason, fault=note.fault,
                        retry_in_s=round(wait))  # fmt: skip
        return True

    def missing_model(self, name: str) -> str | None:
        """Why a video with no transcript beside it cannot be recognised on this machine
        (its speech model is not installed), or None."""
        if inputs.classify(name) != "main" or not name.lower().endswith(inputs.VIDEO_SUFFIXES):
            return None
        sidecars = inputs.sidecars_of(self.inbox, name)
        if any(s.lower().endswith(inputs.TRANSCRIPT_SUFFIXES) for s in sidecars):
            return None
        try:
            cfg = config_mod.with_preset(self.config, ledger.preset_of(self.inbox, sidecars))
        except PresetUnknown:
            return None  # the job says so, in failed/
        if transcribe.model_status(cfg.transcription)[0]:
            return None
        return transcribe.model_missing_message(cfg.transcription.model)

    def _settings_changed(self, before: Config, after: Config) -> None:
        # the setup may be mended (a model named, a voice installed): look again now
        if waiting.release_all(self.inbox, "setup"):
            for candidate in self.settler.candidates.values():
                candidate.changed_at = min(candidate.changed_at, self.clock())
        self.settler.settle_seconds = after.watch.settle_seconds
        if (before.watch.mode, before.watch.poll_interval) == (
            after.watch.mode,
            after.watch.poll_interval,
        ):
            return
        self.mode, self.mode_reason = watcher.watch_mode(after.watch.mode, self.inbox)
        log.info("watch_mode_changed", watch_mode=self.mode, why=self.mode_reason)
        if self.observer is not None:  # watching now: watch the new way
            self.stop()
            self._start_observer()
