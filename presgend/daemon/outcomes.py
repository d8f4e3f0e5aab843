"""Where an input ends: archived, failed, a duplicate, or back in the inbox.

The one place that moves a claimed input to its last folder and writes the document
that says why. Every error document is made by `report.error_document`. The content
index (`inbox/.presgend/index/<sha256>.json`) lives here too: it is how a second drop
of the same bytes becomes a duplicate instead of a second video, and its in-progress
markers (`<sha256>.running`) make two identical drops at the same instant compose once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from presgend.core import files, inputs, logs, owners
from presgend.core.errors import JobError
from presgend.core.files import now_iso
from presgend.core.settings import Live, Settings
from presgend.inbox import claims, ledger, waiting
from presgend.pipeline import publish
from presgend.pipeline.report import JobRecord, error_document

log = logs.get(__name__)

Remember = Callable[[str, Path, str], None]  # job id, input as dropped, status
# told when a job ends: "job.succeeded" or "job.failed", its ledger entry, and its report
# or error document (a front's webhooks listen here; the daemon never imports them)
Listener = Callable[[str, dict[str, Any], dict[str, Any]], None]
CANCELLED = "The job was cancelled."


class Outcomes(Live):
    def __init__(self, settings: Settings, remember: Remember) -> None:
        self.settings = settings
        self.inbox = self.config.paths.inbox
        self.remember = remember
        self.listeners: list[Listener] = []


    # -- the last folder -------------------------------------------------------------------

    def archived(
        self, job_id: str, label: Path, claim: claims.Claim, report: dict[str, Any] | None = None
    ) -> None:
        """A finished input: to the archive, or deleted without one; its `report` (when
        it was run, not cancelled after publishing) goes in the ledger."""
        waiting.release(self.inbox, label.name)
        self._archive(claim)
        self.remember(job_id, label, "ok")
        if report is not None:
            output = report["output"]
            document = str(publish.report_path(Path(output["video"])))
            dropped = Path(report.get("input", {}).get("path") or label).name  # not the edit's
            entry = ledger.record(
                self.inbox, job_id, status="ok", input=dropped, phase="done", progress=1.0,
                finished_at=report.get("finished_at") or now_iso(), document=document,
                outputs={"video": output["video"], "srt": output.get("srt"),
                         "vtt": output.get("vtt"), "chapters_vtt": output.get("chapters_vtt"),
                         "pptx": output.get("pptx"),
                         "report": document, "preview": output.get("preview")},
                phases=report.get("phases", {}), version=report.get("version", 1),
                draft=None,
            )  # fmt: skip
            self._tell("job.succeeded", entry, report)

    def held(
        self, job_id: str, label: Path, claim: claims.Claim, draft: dict[str, Any]
    ) -> None:
        """A job held for review: its input to the archive (the job keeps what it needs),
        and the ledger says awaiting_review until it is approved."""
        waiting.release(self.inbox, label.name)
        self._archive(claim)
        self.remember(job_id, label, "awaiting_review")
        entry = ledger.record(
            self.inbox, job_id, status="awaiting_review", input=label.name, phase="review",
            progress=0.25, finished_at=draft.get("finished_at") or now_iso(),
            draft=draft.get("draft"), version=0,
        )  # fmt: skip
        self._tell("job.awaiting_review", entry, draft)
        log.info("job_awaiting_review", job_id=job_id, input=label.name, draft=draft.get("draft"))

    def _archive(self, claim: claims.Claim) -> None:
        archive = self.config.paths.archive
        if archive is None:
            for name in claim.files:
                (claim.folder / name).unlink(missing_ok=True)
        else:
            claims.return_files(claim.folder, claim.files, archive)
        claim.release()

    def failed(
        self, job_id: str, label: Path, claim: claims.Claim, document: dict[str, Any]
    ) -> None:
        """A failed job: its files to failed/ under a free stem, with the error document;
        what an interrupted run of it had published without a report is taken away."""
        waiting.release(self.inbox, label.name)
        sha = document.get("input", {}).get("sha256", "")
        if sha:
            publish.discard_partial(self.config.paths.outbox, sha)
        failed = self.config.paths.failed
        stem = claims.free_stem(failed, claim.files, (".error.json",))
        for name in claim.files:
            claims.move_no_clobber(
                claim.folder / name, failed / claims.rename_stem(name, claim.main, stem)
            )
        document["moved_to"] = str(failed / claims.rename_stem(claim.main, claim.main, stem))
        files.write_json(failed / f"{stem}.error.json", document)
        claim.release()
        self.remember(job_id, label, "failed")
        self._failed_in_ledger(job_id, label.name, document, failed / f"{stem}.error.json")

    def _failed_in_ledger(
        self, job_id: str, name: str, document: dict[str, Any], path: Path
    ) -> None:
        entry = ledger.record(
            self.inbox, job_id, status="failed", input=name, phase="done", progress=1.0,
            finished_at=document.get("finished_at") or now_iso(), error=document["error"],
            document=str(path), phases={},
        )  # fmt: skip
        self._tell("job.failed", entry, document)

    def _tell(self, event: str, entry: dict[str, Any], document: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(event, entry, document)
            except Exception as exc:  # a listener's trouble never changes an outcome
                log.error("outcome_listener_failed", job_event=event, job_id=entry.get("job_id"),
                          error=f"{type(exc).__name__}: {exc}")  # fmt: skip

    def cancelled(self, job_id: str, label: Path, claim: claims.Claim, phase: str) -> None:
        """A job cancelled by its submitter: its files to failed/, reason "cancelled"."""
        record = JobRecord(job_id, label, inputs.reported_kind(claim.main), phase=phase)
        error = JobError(CANCELLED, phase=phase, detail="cancelled through the HTTP API or MCP")
        document = error_document(record, error)
        document["reason"] = "cancelled"
        self.failed(job_id, label, claim, document)
        log.warning("cancel_filed", job_id=job_id, input=label.name, phase=phase, moved_to="failed")

    def rejected(self, job_id: str, name: str, reason: str) -> None:
        """A name that must not be processed at all (a link, a folder, an unknown type):
        straight from the inbox to failed/, with its error document."""
        failed = self.config.paths.failed
        stem = claims.free_stem(failed, [name], (".error.json",))
        target = failed / claims.rename_stem(name, name, stem)
        try:
            claims.move_no_clobber(self.inbox / name, target)
        except FileNotFoundError:
            return  # another daemon took it
        record = JobRecord(job_id, self.inbox / name, inputs.reported_kind(name))
        error = JobError(reason, phase="intake", detail=f"moved to {target}")
        document = error_document(record, error)
        document["moved_to"] = str(target)
        files.write_json(failed / f"{stem}.error.json", document)
        self.remember(job_id, self.inbox / name, "failed")
        self._failed_in_ledger(job_id, name, document, failed / f"{stem}.error.json")
        log.warning("input_rejected", input=name, job_id=job_id, error=reason, moved_to=str(target))

    def wait(
        self, job_id: str, label: Path, claim: claims.Claim, document: dict[str, Any]
    ) -> bool:
        """A good input whose job failed through no fault of its own: back to the inbox,
        held there (inbox/waiting.py) for `jobs.retry_seconds` (presgend's own fault:
        1x, 3x, 9x… that, a round each time). False once presgend has failed it
        `jobs.retry_rounds` times: its error document then says whose fault it was,
        and it goes to failed/ like any other."""
        cfg = self.config.jobs
        fault = document.get("fault", "presgend")
        rounds = waiting.rounds(self.inbox, label.name, claim.path)
        if fault == "presgend" and rounds >= cfg.retry_rounds:
            document["error"] = (
                f"presgend failed on this file {rounds + 1} times through a fault of its own, "
                f"not the file's, and gave up: {document['error']} Drop it again to retry; "
                "the log has the details."
            )
            return False
        back = self.returned(claim)
        seconds = cfg.retry_seconds * (3**rounds if fault == "presgend" else 1)
        held = waiting.hold(self.inbox, back[0], document["error"], fault, seconds)
        ledger.record(
            self.inbox, job_id, status="queued", input=back[0], phase="waiting", progress=0.0,
            waiting={"reason": document["error"], "fault": fault, "retry_in_s": round(seconds)},
        )  # fmt: skip
        log.warning("input_waiting", job_id=job_id, input=back[0], fault=fault,
                    reason=document["error"], detail=str(document.get("detail", ""))[-300:],
                    retry_in_s=round(seconds), round=held.rounds if held else None)  # fmt: skip
        return True

    def returned(self, claim: claims.Claim) -> list[str]:
        """An interrupted job: its files back into the inbox, to be run again."""
        back = claims.return_files(claim.folder, claim.files, self.inbox)
        claim.release()
        return back

    def duplicate(
        self, job_id: str, label: Path, claim: claims.Claim, sha: str, original: dict[str, Any]
    ) -> None:
        outbox = self.config.paths.outbox
        stem = claims.free_stem(outbox, [claim.main], (".duplicate.json",))
        document = {
            "status": "duplicate",
            "job_id": job_id,
            "input": {"path": str(label), "sha256": sha, "kind": inputs.reported_kind(claim.main)},
            "message": (
                f"The same file was already processed as {original['input']}; its video is "
                f"{original['video']}."
            ),
            "original": original,
            "finished_at": now_iso(),
        }
        files.write_json(outbox / f"{stem}.duplicate.json", document)
        self._archive(claim)
        self.remember(job_id, label, "duplicate")
        earlier = ledger.entry(self.inbox, original.get("job_id", "")) or {}
        ledger.record(
            self.inbox, job_id, status="duplicate", input=label.name, phase="done",
            progress=1.0, finished_at=document["finished_at"], message=document["message"],
            document=str(outbox / f"{stem}.duplicate.json"),
            outputs=earlier.get("outputs") or {"video": original.get("video")},
        )  # fmt: skip
        log.info("job_duplicate", job_id=job_id, original_job_id=original["job_id"])

    # -- the content index -------------------------------------------------------------------

    def index_dir(self) -> Path:
        return claims.control_dir(self.inbox) / "index"

    def indexed(self, sha: str) -> dict[str, Any] | None:
        try:
            entry = json.loads((self.index_dir() / f"{sha}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if Path(entry.get("video", "")).is_file() else None

    def index(self, sha: str, job_id: str, label: Path, report: dict[str, Any]) -> None:
        entry = {
            "job_id": job_id,
            "input": str(label),
            "video": report["output"]["video"],
            "finished_at": report["finished_at"],
        }
        with contextlib.suppress(OSError):
            files.write_json(self.index_dir() / f"{sha}.json", entry)

    async def first_of(
        self, sha: str, job_id: str, waiting: Callable[[], None]
    ) -> tuple[dict[str, Any] | None, Path | None]:
        """The earlier result for these bytes, waiting for it while another job (here or
        on another daemon) is composing the same bytes; else (None, the marker this job
        now holds, or None where the index cannot be written).

        The marker `index/<sha>.running` is created exclusively, so of two identical
        drops at the same instant one composes and the other becomes its duplicate. Its
        owner touches it with the claim's heartbeat (`touch`); one older than a lease is
        a dead daemon's, and is taken over."""
        marker = self.index_dir() / f"{sha}.running"
        lease = self.config.jobs.lease_seconds
        waited = False
        while True:
            original = self.indexed(sha)
            if original is not None:
                return original, None
            try:
                fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    age = claims.share_now(self.inbox) - marker.stat().st_mtime
                except FileNotFoundError:
                    continue  # it finished just now: look at the index again
                if age > lease:
                    log.warning("same_input_marker_stale", sha256=sha, age_s=round(age))
                    marker.unlink(missing_ok=True)
                    continue
                if not waited:
                    log.info("same_input_in_progress", job_id=job_id, sha256=sha)
                    waited = True
                waiting()
                await asyncio.sleep(min(1.0, lease / 4))
                continue
            except OSError:
                return None, None  # no index (a read-only share): run without the marker
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps({"job_id": job_id, "host": owners.HOST}))
            return None, marker


def touch(marker: Path | None) -> None:
    if marker is not None:
        with contextlib.suppress(OSError):
            os.utime(marker)
