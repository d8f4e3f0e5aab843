"""The front desk as one of the daemon's services: the HTTP app (with MCP at /mcp)
bound to this daemon's intake, worker and outcomes, and the cancelling of jobs.

`daemon/ledger.py` and `fronts/handin.py` hold what needs no daemon (the ledger, hand-in,
links, retention); this class is the part that does: who is running what, and how a job
is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from presgend.core import hardware, inputs
from presgend.core.settings import Live, Settings
from presgend.daemon.intake import Intake
from presgend.daemon.outcomes import Outcomes
from presgend.daemon.worker import Worker
from presgend.fronts import views, webhooks
from presgend.inbox import claims, ledger
from presgend.pipeline.text.browser import SharedBrowser

if TYPE_CHECKING:
    from presgend.backends import Backend
    from presgend.fronts.views import Desk


class FrontDesk(Live):
    def __init__(
        self,
        settings: Settings,
        *,
        intake: Intake,
        worker: Worker,
        outcomes: Outcomes,
        monitor: hardware.ResourceMonitor,
        backend: Backend,
        browser: SharedBrowser,
    ) -> None:
        self.settings = settings
        self.inbox = self.config.paths.inbox
        self.intake = intake
        self.worker = worker
        self.outcomes = outcomes
        self.monitor = monitor
        self.backend = backend
        self.browser = browser  # the jobs' Chromium, for the editor's slide pictures
        self.webhooks: webhooks.Webhooks | None = None  # the composition root's (app.py)


    def desk(self) -> Desk:
        from presgend.fronts.views import Desk
        from presgend.ops import doctor

        return Desk(
            settings=self.settings,
            poke=self.intake.notice,
            running=self.running_everywhere,
            cancel=self.cancel,
            queue_length=lambda: self.intake.waiting,
            breaker=self.monitor.as_dict,
            ready_checks=lambda: doctor.run_checks(self.config),
            webhook_counts=lambda: dict(self.webhooks.counts) if self.webhooks else {},
            browser=self.browser,
        )

    def outputs_of(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A finished job's outputs as a webhook names them: download links when the
        HTTP service is on, else the files' paths."""
        if self.config.http.enabled:
            return views.links(self.config, entry, self.url())
        return {kind: path for kind, path in (entry.get("outputs") or {}).items() if path}

    def url(self) -> str:
        http = self.config.http
        host = "127.0.0.1" if http.bind in ("0.0.0.0", "::", "") else http.bind
        return f"http://{host}:{http.port}"

    async def serve(self, stop: asyncio.Event) -> None:
        """The HTTP service until `stop`; MCP is mounted at /mcp when its SDK is there."""
        from presgend.fronts import http_api

        desk = self.desk()
        mcp_app, mcp_lifespan = None, None
        with contextlib.suppress(ImportError):
            from presgend.fronts import mcp_tools

            mcp = mcp_tools.build(desk, self.url())
            mcp_app = mcp.streamable_http_app(
                streamable_http_path="/", stateless_http=True, json_response=True,
                host=self.config.http.bind,
            )  # fmt: skip
            mcp_lifespan = mcp.session_manager.run
        app = http_api.create_app(desk, mcp_app, mcp_lifespan)
        await http_api.serve(app, self.config, stop)

    def running_everywhere(self) -> dict[str, dict[str, Any]]:
        """Running jobs' phase and progress: this daemon's now, the others' as the
        backend last saw them (their state files, or the queue's database)."""
        mine = {job.job_id: job.as_dict() for job in self.worker.jobs.values()}
        return {**self.backend.running_elsewhere(), **mine}

    async def cancel(self, job_id: str) -> str:
        """Cancel a handed-in job: "cancelled" when it was here (still in the inbox, or
        running on this daemon), "requested" when another daemon has it (a marker its
        housekeeping acts on), "finished" when it is too late."""
        item = ledger.entry(self.inbox, job_id) or {}
        if item.get("status") in ledger.FINISHED:
            return "finished"
        if self.worker.stop(job_id, "cancelled"):
            return "cancelled"
        name = item.get("input")
        if name and inputs.classify(name) == "main" and (self.inbox / name).exists():
            self.intake.withdraw(name)
            sidecars = inputs.sidecars_of(self.inbox, name)
            if ledger.job_id_of(self.inbox, sidecars) == job_id:
                claim = claims.claim(self.inbox, name, sidecars, job_id)
                if claim is not None:
                    self.outcomes.cancelled(job_id, self.inbox / name, claim, "queued")
                    return "cancelled"
        ledger.request_cancel(self.inbox, job_id)
        return "requested"
