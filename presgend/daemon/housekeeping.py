"""Housekeeping: the daemon's timers, as one supervised service.

It samples the load for the resource breaker, beats the leases of this daemon's claims
(and its in-progress markers), returns other daemons' stale claims to the inbox, cleans
stale staging files and the work folders of jobs killed on this machine, approves
drafts held past their review time, writes the state file `presgend status` reads, and
pings systemd's watchdog. If it dies, the supervisor stops the daemon, so the watchdog
ping stops too. The clock and the sleep are passed in, so the timing is tested without
waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from presgend.core import hardware, logs
from presgend.core.errors import ClaimLost
from presgend.core.settings import Live, Settings
from presgend.daemon import notify, outcomes
from presgend.daemon.intake import Intake
from presgend.daemon.worker import ClaimedJob, StopReason
from presgend.inbox import claims, ledger, state
from presgend.pipeline import publish, store, workdir

log = logs.get(__name__)


class Housekeeping(Live):
    def __init__(
        self,
        settings: Settings,
        *,
        jobs: dict[str, ClaimedJob],
        stop: Callable[[str, StopReason], bool],
        intake: Intake,
        monitor: hardware.ResourceMonitor,
        snapshot: Callable[[], dict[str, Any]],
        wake: Callable[[], None],
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.inbox = self.config.paths.inbox
        self.jobs = jobs
        self.stop = stop
        self.intake = intake
        self.monitor = monitor
        self.snapshot = snapshot
        self.wake = wake
        self.clock = clock
        self.sleep = sleep

    async def run(self) -> None:
        watchdog_every = notify.watchdog_interval()
        next_beat = next_reclaim = next_state = next_sample = next_ping = 0.0
        written_with: set[str] = set()  # the running jobs the state file last showed
        while True:
            cfg = self.config  # a reload replaces it
            now = self.clock()
            if now >= next_sample:
                self.monitor.sample()
                next_sample = now + cfg.breaker.sample_seconds
            if now >= next_beat:
                self.heartbeat()
                next_beat = now + cfg.jobs.lease_seconds / 4
            if now >= next_reclaim and not self.intake.paused:
                self.reclaim()
                next_reclaim = now + cfg.jobs.lease_seconds / 3
            if now >= next_state or set(self.jobs) != written_with:
                written_with = set(self.jobs)  # a job started or ended: say so now
                self.write_state()
                next_state = now + (1.0 if self.jobs or self.intake.ready else 10.0)
            if watchdog_every is not None and now >= next_ping:
                notify.send("WATCHDOG=1")
                next_ping = now + watchdog_every
            if self.intake.ready:
                self.wake()  # a fresh sample may admit a queued file
            pending = [next_sample, next_beat, next_reclaim, next_state]
            if watchdog_every is not None:
                pending.append(next_ping)
            await self.sleep(max(0.05, min(pending) - self.clock()))

    def heartbeat(self) -> None:
        """Touch this daemon's leases; a claim another daemon took back is cancelled."""
        for job in list(self.jobs.values()):
            outcomes.touch(job.marker)
            if not job.cancelled and ledger.cancel_requested(self.inbox, job.job_id):
                self.stop(job.job_id, "cancelled")  # asked on another daemon's front
            try:
                job.claim.heartbeat()
            except ClaimLost:
                if claims.claims_dir(self.inbox).is_dir():  # not merely an unmounted share
                    self.stop(job.job_id, "lost")

    def reclaim(self) -> None:
        """Return other daemons' stale claims to the inbox; clean stale staging files and
        orphaned work folders."""
        mine = {job.claim.folder.name for job in self.jobs.values()}
        lease = self.config.jobs.lease_seconds
        try:
            restored = claims.reclaim_stale(self.inbox, lease, mine=mine)
        except OSError as exc:
            log.error("reclaim_failed", error=str(exc))
            return
        if restored:
            self.intake.requeue(restored)
        outbox = self.config.paths.outbox
        for folder in [outbox, *(outbox / name for name in self.config.presets)]:
            stale = publish.remove_stale_staging(folder, lease)  # only runs that died
            if stale:
                log.info("staging_cleaned", outbox=str(folder), runs=stale)
        orphans = workdir.sweep()  # the work folders of jobs killed on this machine
        if orphans:
            log.info("work_folders_cleaned", folders=orphans)
        if self.config.outbox.retention_hours > 0 or self.config.http.enabled:
            # outputs past outbox.retention_hours, or uploads past their link time (the
            # daemons serving HTTP see to those): nothing else expires, so plain folder
            # daemons do not read the ledger at all
            try:
                for job_id in ledger.expire(self.config):
                    store.Store.of(self.config, job_id).remove()  # no outputs, no edits
            except OSError as exc:
                log.error("retention_failed", error=str(exc))
        self.approve_due_drafts()

    def approve_due_drafts(self) -> None:
        """Hand in the approval of each draft held past `review.auto_approve_hours`, once
        for the whole team (a marker in its store)."""
        try:
            for kept in store.drafts_due(self.config, time.time()):
                if store.Store.of(self.config, kept.job_id).mark_once(store.AUTO_APPROVED):
                    ledger.hand_in_edit(self.config, kept.job_id, kept.stem, None)
                    log.info("draft_auto_approved", job_id=kept.job_id, input=kept.stem,
                             preset=kept.preset or None)  # fmt: skip
        except OSError as exc:
            log.error("auto_approve_failed", error=str(exc))

    def write_state(self) -> None:
        with contextlib.suppress(OSError):
            state.write(self.inbox, self.snapshot())
