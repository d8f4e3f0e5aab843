"""The HTTP service: upload → status → download, the web page, metrics, and MCP at /mcp.

One more supervised service of the daemon (the composition root, `app.py`, adds it when
`http.enabled`). Everything a request does goes through the front desk (`desk.py`,
`handin.py`), the ledger (`inbox/ledger.py`) and the daemon's own services, so an upload
is a drop like any other: same intake, admission, breaker, outcomes and duplicate
detection.

The routes are plain functions on one router; each finds the daemon's desk on the app
(`create_app` puts them there) and shows jobs through `views.py`, as MCP does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from presgend.core import config as config_mod
from presgend.core import inputs, logs
from presgend.core.config import Config
from presgend.core.errors import HttpRefused, PresetUnknown
from presgend.fronts import editing, handin, uploads
from presgend.fronts.views import Desk, recent, view
from presgend.inbox import ledger
from presgend.pipeline.context import new_job_id

log = logs.get(__name__)

UNAUTHORIZED = "A valid bearer token is needed: send it as `Authorization: Bearer <token>`."
NOT_FOUND = "There is no job with this id."
# a download marker is touched this often while its file is sent; retention spares files
# whose marker is fresher than two minutes (ledger.being_downloaded)
DOWNLOAD_BEAT_SECONDS = 30.0
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "media-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".json": "application/json",
}


NOT_MAIN = "A video (.mp4 .mov .mkv .webm .m4v .avi) or a script (.txt .md) is needed as `file`."


# -- the app --------------------------------------------------------------------------------

router = APIRouter()
OPEN_PATHS = ("/healthz", "/readyz", "/static/", "/d/", "/docs", "/openapi.json", "/favicon.ico")


def create_app(desk: Desk, mcp_app: Any = None, mcp_lifespan: Any = None) -> FastAPI:
    """The app over a daemon's `desk`, with MCP's app mounted at /mcp when given."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        if mcp_lifespan is None:
            yield
        else:
            async with mcp_lifespan():
                yield

    app = FastAPI(
        title="presgend",
        summary="Upload a talk or a script; download the presentation video.",
        lifespan=lifespan,
    )
    app.state.desk = desk
    app.state.ready = {"at": float("-inf"), "checks": []}
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.middleware("http")(guard)
    app.include_router(router)
    if mcp_app is not None:
        app.mount("/mcp", mcp_app)
    return app


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def error(status: int, message: str, **extra: Any) -> Any:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def invalid(_: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
    return error(422, f"The request is not valid: {where or 'it'}: {first.get('msg', '?')}.")


async def http_error(_: Request, exc: Exception) -> Any:
    assert isinstance(exc, StarletteHTTPException)
    words = {404: "There is no such page.", 405: "This method is not allowed here."}
    return error(exc.status_code, words.get(exc.status_code, f"{exc.detail}."))


def authorised(config: Config, request: Request) -> bool:
    tokens = config.http.tokens
    if not tokens:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return any(hmac.compare_digest(given.strip().encode(), t.encode()) for t in tokens)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def guard(request: Request, call_next: Any) -> Any:
    """The bearer token on everything but the page, health, links and the docs; a strict
    content security policy on the page."""
    path = request.url.path
    public = path == "/" or path.startswith(OPEN_PATHS)
    if not public and not authorised(desk_of(request).config, request):
        return error(401, UNAUTHORIZED)
    response = await call_next(request)
    if path == "/" or path.startswith("/static/"):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- jobs -----------------------------------------------------------------------------------


@router.post("/api/jobs", status_code=202, summary="Upload a video or a script")
async def submit(request: Request) -> Any:
    desk = desk_of(request)
    limit = desk.config.http.max_upload_mb * 2**20
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        return error(413, uploads.too_large(desk.config))
    job_id = new_job_id()
    folder = handin.uploads_dir(desk.config.paths.inbox) / job_id
    folder.mkdir(parents=True, exist_ok=True)
    try:
        parts = await uploads.receive(
            request.stream(), request.headers.get("content-type", ""), folder, limit
        )
        main = parts.get("file")
        if main is None or main.path is None:
            return error(400, "The upload needs a `file` field with a video or a script.")
        name = handin.safe_name(main.filename or "", "upload")
        if inputs.classify(name) != "main":
            return error(415, NOT_MAIN)
        sidecars = uploads.sidecars(parts, name)
        if isinstance(sidecars, str):
            return error(415, sidecars)
        preset = uploads.text(parts, "preset")
        config_mod.with_preset(desk.config, preset)  # PresetUnknown: 400, in its words
        final = ledger.hand_in(
            desk.config, main.path, name, job_id, sidecars=sidecars, preset=preset
        )
    except PresetUnknown as exc:
        return error(400, str(exc))
    except uploads.UploadTooLarge:
        return error(413, uploads.too_large(desk.config))
    except uploads.BadUpload as exc:
        return error(400, str(exc))
    except OSError as exc:
        return not_stored(job_id, exc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    desk.poke(final)
    log.info("upload_received", job_id=job_id, input=final, size=main.size)
    return {"job_id": job_id, "status_url": f"{base_url(request)}/api/jobs/{job_id}"}


def not_stored(job_id: str, exc: OSError) -> Any:
    full = exc.errno == errno.ENOSPC
    log.error("upload_not_stored", job_id=job_id, error=str(exc))
    return error(
        507 if full else 500,
        "The server's disk is full, so the upload was not kept; try again later."
        if full
        else f"The upload could not be stored ({exc.strerror or exc}).",
    )


@router.get("/api/jobs", summary="Recent jobs, newest first")
async def list_jobs(request: Request, limit: int = 20) -> Any:
    return {"jobs": recent(desk_of(request), max(1, min(limit, 200)), base_url(request))}


@router.get("/api/jobs/{job_id}", summary="One job's status, report and download links")
async def job_status(request: Request, job_id: str) -> Any:
    shown = view(desk_of(request), job_id, base_url(request))
    return shown if shown is not None else error(404, NOT_FOUND)


@router.get("/api/jobs/{job_id}/events", summary="Progress as server-sent events")
async def job_events(request: Request, job_id: str) -> Any:
    if ledger.entry(desk_of(request).config.paths.inbox, job_id) is None:
        return error(404, NOT_FOUND)
    return StreamingResponse(
        progress_events(request, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


async def progress_events(request: Request, job_id: str) -> AsyncIterator[bytes]:
    """A `progress` event at each change, a comment every 15 quiet seconds, and `done`."""
    desk, url = desk_of(request), base_url(request)
    last: tuple[Any, ...] = ()
    quiet = time.monotonic()
    while True:
        shown = view(desk, job_id, url)
        if shown is None:
            return
        key = (shown["status"], shown["phase"], shown["progress"])
        if key != last:
            last, quiet = key, time.monotonic()
            kind = "done" if shown["status"] in ledger.FINISHED else "progress"
            yield f"event: {kind}\ndata: {json.dumps(shown)}\n\n".encode()
            if kind == "done":
                return
        elif time.monotonic() - quiet > 15:
            quiet = time.monotonic()
            yield b": still working\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.5)


@router.delete("/api/jobs/{job_id}", summary="Cancel a queued or running job")
async def cancel(request: Request, job_id: str) -> Any:
    desk = desk_of(request)
    if ledger.entry(desk.config.paths.inbox, job_id) is None:
        return error(404, NOT_FOUND)
    result = await desk.cancel(job_id)
    if result == "finished":
        return error(409, "The job has already finished, so it cannot be cancelled.")
    return JSONResponse({"job_id": job_id, "cancel": result}, status_code=202)


# -- editing ---------------------------------------------------------------------------------


def refused(exc: editing.Refused) -> Any:
    return JSONResponse(exc.body, status_code=exc.status)


async def json_body(request: Request, required: bool) -> Any:
    """The request's JSON (None for an empty body where that is allowed)."""
    raw = await request.body()
    if not raw.strip() and not required:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise editing.Refused(400, {"error": "The body is not JSON (an edit document)."}) from None


@router.get("/api/jobs/{job_id}/edit", summary="A finished job's edit document")
async def get_edit(request: Request, job_id: str) -> Any:
    try:
        return editing.document(desk_of(request).config, job_id)
    except editing.Refused as exc:
        return refused(exc)


async def _submitted(request: Request, job_id: str, body_required: bool) -> Any:
    """Hand in the request's edit (or, with no body where that is allowed, the approval
    of the draft as it is): 202 with the version it will make, or every problem."""
    try:
        doc = await json_body(request, required=body_required)
        answer = await editing.submit(desk_of(request), job_id, doc)
    except editing.Refused as exc:
        return refused(exc)
    answer["status_url"] = f"{base_url(request)}/api/jobs/{job_id}"
    return JSONResponse(answer, status_code=202)


@router.put("/api/jobs/{job_id}/edit", summary="Render a job again as an edit says")
async def put_edit(request: Request, job_id: str) -> Any:
    return await _submitted(request, job_id, body_required=True)


@router.post("/api/jobs/{job_id}/approve", summary="Approve a draft held for review")
async def approve(request: Request, job_id: str) -> Any:
    """With no body the draft is rendered as it is; with an edit document, as edited."""
    return await _submitted(request, job_id, body_required=False)


@router.post("/api/jobs/{job_id}/slide", summary="One slide of an edit, as a picture")
async def slide_picture(request: Request, job_id: str) -> Any:
    """Body: {"slide": {"title", "bullets": [{"text"}]}, "index", "total", "theme"}."""
    try:
        body = await json_body(request, required=True)
        if not isinstance(body, dict) or not isinstance(body.get("slide"), dict):
            raise editing.Refused(400, {"error": "The body needs a slide."})
        png = await editing.slide_picture(
            desk_of(request), job_id, body["slide"], int(body.get("index", 0)),
            int(body.get("total", 1)), str(body.get("theme", "light")),
        )  # fmt: skip
    except editing.Refused as exc:
        return refused(exc)
    except (TypeError, ValueError):
        return error(400, "index and total are numbers.")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/api/jobs/{job_id}/frame", summary="A frame of the job's recording")
async def recording_frame(request: Request, job_id: str, t: float = 0.0) -> Any:
    try:
        jpeg = await editing.recording_frame(desk_of(request).config, job_id, t)
    except editing.Refused as exc:
        return refused(exc)
    return Response(jpeg, media_type="image/jpeg")


# -- downloads ------------------------------------------------------------------------------


class Tracked(FileResponse):
    """A file response that removes its download marker when the sending ends."""

    def __init__(self, *args: Any, marker: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marker = marker

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        last = time.monotonic()

        async def sending(message: Any) -> None:
            nonlocal last
            if time.monotonic() - last > DOWNLOAD_BEAT_SECONDS:  # a long download stays fresh
                last = time.monotonic()
                with contextlib.suppress(OSError):
                    os.utime(self.marker)
            await send(message)

        try:
            await super().__call__(scope, receive, sending)
        finally:
            self.marker.unlink(missing_ok=True)


@router.get("/d/{token}", summary="Download one output through its expiring link")
async def download(request: Request, token: str) -> Any:
    config = desk_of(request).config
    inbox = config.paths.inbox
    try:
        name = handin.verify(handin.link_key(inbox), token)
    except handin.ExpiredLink as exc:
        return error(410, str(exc))
    except handin.BadLink as exc:
        return error(404, str(exc))
    path = config.paths.outbox / name
    if not path.is_file():
        return error(410, "The file behind this link has expired and was deleted.")
    inline = path.suffix in (".mp4", ".jpg")
    return Tracked(
        path,
        media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        filename=path.name,
        content_disposition_type="inline" if inline else "attachment",
        marker=ledger.downloading(inbox, name),
    )


# -- health, metrics, the page --------------------------------------------------------------


@router.get("/healthz", summary="The process is up")
async def healthz() -> Any:
    return {"status": "ok"}


@router.get("/readyz", summary="What `presgend doctor` checks")
async def readyz(request: Request) -> Any:
    cache = request.app.state.ready
    if time.monotonic() - cache["at"] > 30:
        cache["checks"] = await asyncio.to_thread(desk_of(request).ready_checks)
        cache["at"] = time.monotonic()
    failing = [c.as_dict() for c in cache["checks"] if c.status == "fail"]
    if failing:
        return error(503, "Some checks fail; see `failing`.", failing=failing)
    return {"status": "ready", "checks": len(cache["checks"])}


@router.get("/metrics", summary="Prometheus text format")
async def metrics(request: Request) -> Any:
    text = render_metrics(desk_of(request))
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@router.get("/", include_in_schema=False)
async def page() -> Any:
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8")


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Any:
    return Response(status_code=204)  # none: a browser asks for it on every page


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Any:
    types = {"app.js": "text/javascript", "editor.js": "text/javascript", "app.css": "text/css"}
    if name not in types:
        return error(404, "There is no such file.")
    return Response(_asset(name), media_type=f"{types[name]}; charset=utf-8")


def _asset(name: str) -> bytes:
    return resources.files("presgend").joinpath("web").joinpath(name).read_bytes()


def render_metrics(desk: Desk) -> str:
    items = ledger.entries(desk.config.paths.inbox, limit=100_000)
    by_status: dict[str, int] = {}
    phases: dict[str, list[float]] = {}
    for item in items:
        by_status[item.get("status", "queued")] = by_status.get(item.get("status", "queued"), 0) + 1
        for phase, seconds in (item.get("phases") or {}).items():
            phases.setdefault(phase, []).append(float(seconds))
    lines = [
        "# HELP presgend_jobs Jobs in the ledger by status.",
        "# TYPE presgend_jobs gauge",
    ]
    for status in ("queued", "running", "ok", "failed", "duplicate", "expired"):
        lines.append(f'presgend_jobs{{status="{status}"}} {by_status.get(status, 0)}')
    lines += [
        "# HELP presgend_phase_seconds Time spent in each phase by finished jobs.",
        "# TYPE presgend_phase_seconds summary",
    ]
    for phase, values in sorted(phases.items()):
        lines.append(f'presgend_phase_seconds_sum{{phase="{phase}"}} {sum(values):.3f}')
        lines.append(f'presgend_phase_seconds_count{{phase="{phase}"}} {len(values)}')
    breaker = desk.breaker()
    state = breaker.get("state", "closed")
    lines += [
        "# HELP presgend_queue_length Inputs waiting to run.",
        "# TYPE presgend_queue_length gauge",
        f"presgend_queue_length {desk.queue_length()}",
        "# HELP presgend_breaker_open Whether the resource breaker holds new jobs (1) or not.",
        "# TYPE presgend_breaker_open gauge",
        f"presgend_breaker_open {0 if state == 'closed' else 1}",
        f'presgend_breaker_state{{state="{state}"}} 1',
        "# HELP presgend_webhook_deliveries Webhook delivery attempts by this daemon, by result.",
        "# TYPE presgend_webhook_deliveries counter",
    ]
    counts = desk.webhook_counts()
    for result in ("delivered", "retried", "failed"):
        lines.append(f'presgend_webhook_deliveries{{result="{result}"}} {counts.get(result, 0)}')
    return "\n".join(lines) + "\n"


# -- serving ------------------------------------------------------------------------------------


async def serve(app: Any, config: Config, stop: asyncio.Event) -> None:
    """Serve `app` with uvicorn until `stop` is set. uvicorn's own signal handling is
    left out: the daemon's supervisor owns the signals and stops this service."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    settings = uvicorn.Config(
        app, host=config.http.bind, port=config.http.port, log_config=None, access_log=False,
        lifespan="on", timeout_graceful_shutdown=5,
    )  # fmt: skip
    server = Server(settings)

    async def stopper() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(stopper())
    try:
        log.info("http_listening", url=f"http://{config.http.bind}:{config.http.port}/")
        await server.serve()
        if not server.started:
            raise HttpRefused(
                f"The HTTP service could not listen on {config.http.bind}:{config.http.port} "
                "(is another program using the port?)."
            )
    finally:
        watcher.cancel()
