"""The HTTP service: upload → status → download, the web page, metrics, and MCP at /mcp.

One more supervised service of the daemon (`Daemon` runs `serve` when `http.enabled`).
Everything a request does goes through the front desk (`desk.py`) and the daemon's own
services, so an upload is a drop like any other: same intake, admission, breaker,
outcomes and duplicate detection.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import ipaddress
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from presgend.core import inputs, logs
from presgend.core.config import Config
from presgend.core.errors import PresgendError
from presgend.core.settings import Settings
from presgend.daemon import desk
from presgend.pipeline.context import new_job_id

log = logs.get("presgend.http")

UNAUTHORIZED = "A valid bearer token is needed: send it as `Authorization: Bearer <token>`."
NOT_FOUND = "There is no job with this id."
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "media-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".srt": "application/x-subrip",
    ".json": "application/json",
}


class HttpRefused(PresgendError):
    """The HTTP service cannot start as configured."""


def is_loopback(bind: str) -> bool:
    if bind in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def check_settings(config: Config) -> None:
    http = config.http
    if not is_loopback(http.bind) and not http.tokens:
        raise HttpRefused(
            f"The HTTP service would listen on {http.bind}, beyond this machine, with no "
            "tokens: set http.tokens, or bind to 127.0.0.1."
        )


@dataclass
class Hooks:
    """What the app needs from the daemon it runs in."""

    settings: Settings  # the live ones: a reload reaches the app
    poke: Callable[[str], None]  # intake: a name was handed in
    running: Callable[[], dict[str, dict[str, Any]]]  # job id -> phase, progress (cluster)
    cancel: Callable[[str], Awaitable[str]]  # "cancelled", "requested" or "finished"
    queue_length: Callable[[], int]
    breaker: Callable[[], dict[str, Any]]
    ready_checks: Callable[[], list[Any]] = field(default=lambda: [])

    @property
    def config(self) -> Config:
        return self.settings.current


# -- job views --------------------------------------------------------------------------------


def view(hooks: Hooks, job_id: str, base_url: str = "") -> dict[str, Any] | None:
    """The public status of one job (None if there is no such job)."""
    item = desk.entry(hooks.config.paths.inbox, job_id)
    return None if item is None else view_of(hooks, item, base_url)


def recent(hooks: Hooks, limit: int, base_url: str = "") -> list[dict[str, Any]]:
    """The public status of the newest jobs, newest first."""
    return [
        view_of(hooks, item, base_url) for item in desk.entries(hooks.config.paths.inbox, limit)
    ]


def view_of(hooks: Hooks, item: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A ledger entry as the API shows it: status, phase, progress, and once finished
    its report (or error document) and expiring links."""
    cfg = hooks.config
    job_id = item["job_id"]
    status = item.get("status", "queued")
    phase, progress = item.get("phase", "queued"), float(item.get("progress", 0.0))
    if status in ("queued", "running"):
        live = hooks.running().get(job_id)
        if live is not None:
            status, phase, progress = "running", live.get("phase", phase), live["progress"]
    out: dict[str, Any] = {
        "job_id": job_id,
        "status": status,
        "phase": "done" if status in desk.FINISHED else phase,
        "progress": 1.0 if status in desk.FINISHED else round(progress, 3),
        "input": item.get("input"),
        "created_at": item.get("created_at"),
        "finished_at": item.get("finished_at"),
        "status_url": f"{base_url}/api/jobs/{job_id}",
    }
    if status == "failed":
        out["error"] = item.get("error")
        out["error_document"] = _read_json(item.get("document"))
    if status == "ok":
        out["report"] = _read_json(item.get("document"))
    if status == "duplicate":
        out["message"] = item.get("message")
    if status in ("ok", "duplicate") and item.get("outputs"):
        out["links"] = links(cfg, item, base_url)
    if status == "expired":
        out["message"] = "The job's outputs have expired and were deleted."
    return out


def links(cfg: Config, item: dict[str, Any], base_url: str) -> dict[str, str]:
    key = desk.link_key(cfg.paths.inbox)
    expires = time.time() + cfg.http.link_ttl_hours * 3600
    finished = desk.epoch(item.get("finished_at"))
    ttl = float(item.get("ttl_hours") or 0)
    if finished is not None and ttl > 0:
        expires = min(expires, finished + ttl * 3600)
    out = {}
    for kind, path in (item.get("outputs") or {}).items():
        if path and Path(path).is_file():
            out[kind] = f"{base_url}/d/{desk.sign(key, Path(path).name, expires)}"
    return out


def _read_json(path: Any) -> Any:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- uploads -----------------------------------------------------------------------------------


class UploadTooLarge(Exception):
    pass


class BadUpload(Exception):
    pass


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    path: Path | None = None
    handle: Any = None
    size: int = 0
    text: bytearray = field(default_factory=bytearray)


async def receive_upload(
    stream: AsyncIterator[bytes], content_type: str, folder: Path, limit: int
) -> dict[str, _Part]:
    """Parse a multipart body as it arrives, each file part written straight to
    `folder`; UploadTooLarge as soon as the body passes `limit` bytes."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadUpload("The upload must be multipart/form-data with a `file` field.")
    parts: dict[str, _Part] = {}
    current = _Part()
    header_field, header_value = bytearray(), bytearray()
    headers: dict[str, bytes] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[header_field.decode("latin-1").lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal current
        _, disposition = parse_options_header(headers.get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        current = _Part(name=name)
        if filename is not None:
            current.filename = filename.decode("utf-8", "replace")
            current.path = folder / f"part-{len(parts)}"
            current.handle = current.path.open("wb")
        headers.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current.size += end - start
        if current.handle is not None:
            current.handle.write(data[start:end])
        elif len(current.text) < 4096:
            current.text.extend(data[start:end])

    def on_part_end() -> None:
        if current.handle is not None:
            current.handle.close()
            current.handle = None
        if current.name and current.name not in parts:
            parts[current.name] = current

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > limit:
                raise UploadTooLarge()
            parser.write(chunk)
        parser.finalize()
    finally:
        if current.handle is not None:
            current.handle.close()
    return parts


# -- the app ------------------------------------------------------------------------------------


def create_app(hooks: Hooks, mcp_app: Any = None, mcp_lifespan: Any = None) -> FastAPI:
    cfg = hooks.config
    inbox = cfg.paths.inbox

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

    def error(status: int, message: str, **extra: Any) -> Any:
        return JSONResponse({"error": message, **extra}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return error(422, f"The request is not valid: {where or 'it'}: {first.get('msg', '?')}.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Any:
        words = {404: "There is no such page.", 405: "This method is not allowed here."}
        return error(exc.status_code, words.get(exc.status_code, f"{exc.detail}."))

    def authorised(request: Request) -> bool:
        tokens = hooks.config.http.tokens
        if not tokens:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        return any(hmac.compare_digest(given.strip().encode(), t.encode()) for t in tokens)

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Any:
        path = request.url.path
        open_paths = ("/", "/healthz", "/readyz", "/static/", "/d/", "/docs", "/openapi.json")
        public = path == "/" or any(path.startswith(p) for p in open_paths[1:])
        if not public and not authorised(request):
            return error(401, UNAUTHORIZED)
        response = await call_next(request)
        if path == "/" or path.startswith("/static/"):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.post("/api/jobs", status_code=202, summary="Upload a video or a script")
    async def submit(request: Request) -> Any:
        limit = hooks.config.http.max_upload_mb * 2**20
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit + 64 * 1024:
            return error(413, too_large(hooks.config))
        job_id = new_job_id()
        folder = desk.uploads_dir(inbox) / job_id
        folder.mkdir(parents=True, exist_ok=True)
        try:
            parts = await receive_upload(
                request.stream(), request.headers.get("content-type", ""), folder, limit
            )
            main = parts.get("file")
            if main is None or main.path is None:
                return error(400, "The upload needs a `file` field with a video or a script.")
            name = desk.safe_name(main.filename or "", "upload")
            if inputs.classify(name) != "main":
                return error(
                    415,
                    "A video (.mp4 .mov .mkv .webm .m4v .avi) or a script (.txt .md) is "
                    "needed as `file`.",
                )
            sidecars = _sidecars(parts, name)
            if isinstance(sidecars, str):
                return error(415, sidecars)
            final = desk.hand_in(hooks.config, main.path, name, job_id, sidecars=sidecars)
        except UploadTooLarge:
            return error(413, too_large(hooks.config))
        except BadUpload as exc:
            return error(400, str(exc))
        except OSError as exc:
            full = exc.errno == errno.ENOSPC
            log.error("upload_not_stored", job_id=job_id, error=str(exc))
            return error(
                507 if full else 500,
                "The server's disk is full, so the upload was not kept; try again later."
                if full
                else f"The upload could not be stored ({exc.strerror or exc}).",
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        hooks.poke(final)
        log.info("upload_received", job_id=job_id, input=final, size=main.size)
        return {"job_id": job_id, "status_url": f"{base_url(request)}/api/jobs/{job_id}"}

    @app.get("/api/jobs", summary="Recent jobs, newest first")
    async def list_jobs(request: Request, limit: int = 20) -> Any:
        return {"jobs": recent(hooks, max(1, min(limit, 200)), base_url(request))}

    @app.get("/api/jobs/{job_id}", summary="One job's status, report and download links")
    async def job_status(request: Request, job_id: str) -> Any:
        shown = view(hooks, job_id, base_url(request))
        return shown if shown is not None else error(404, NOT_FOUND)

    @app.get("/api/jobs/{job_id}/events", summary="Progress as server-sent events")
    async def job_events(request: Request, job_id: str) -> Any:
        if desk.entry(inbox, job_id) is None:
            return error(404, NOT_FOUND)
        url = base_url(request)

        async def events() -> AsyncIterator[bytes]:
            last: tuple[Any, ...] = ()
            quiet = time.monotonic()
            while True:
                shown = view(hooks, job_id, url)
                if shown is None:
                    return
                key = (shown["status"], shown["phase"], shown["progress"])
                if key != last:
                    last, quiet = key, time.monotonic()
                    kind = "done" if shown["status"] in desk.FINISHED else "progress"
                    yield f"event: {kind}\ndata: {json.dumps(shown)}\n\n".encode()
                    if kind == "done":
                        return
                elif time.monotonic() - quiet > 15:
                    quiet = time.monotonic()
                    yield b": still working\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.5)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.delete("/api/jobs/{job_id}", summary="Cancel a queued or running job")
    async def cancel(job_id: str) -> Any:
        if desk.entry(inbox, job_id) is None:
            return error(404, NOT_FOUND)
        result = await hooks.cancel(job_id)
        if result == "finished":
            return error(409, "The job has already finished, so it cannot be cancelled.")
        return JSONResponse({"job_id": job_id, "cancel": result}, status_code=202)

    @app.get("/d/{token}", summary="Download one output through its expiring link")
    async def download(token: str) -> Any:
        try:
            name = desk.verify(desk.link_key(inbox), token)
        except desk.ExpiredLink as exc:
            return error(410, str(exc))
        except desk.BadLink as exc:
            return error(404, str(exc))
        path = hooks.config.paths.outbox / name
        if not path.is_file():
            return error(410, "The file behind this link has expired and was deleted.")
        marker = desk.downloading(inbox, name)

        class Tracked(FileResponse):
            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                try:
                    await super().__call__(scope, receive, send)
                finally:
                    marker.unlink(missing_ok=True)

        inline = path.suffix in (".mp4", ".jpg")
        return Tracked(
            path,
            media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            filename=path.name,
            content_disposition_type="inline" if inline else "attachment",
        )

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> Any:
        return {"status": "ok"}

    ready_cache: dict[str, Any] = {"at": float("-inf"), "checks": []}

    @app.get("/readyz", summary="What `presgend doctor` checks")
    async def readyz() -> Any:
        if time.monotonic() - ready_cache["at"] > 30:
            ready_cache["checks"] = await asyncio.to_thread(hooks.ready_checks)
            ready_cache["at"] = time.monotonic()
        failing = [c.as_dict() for c in ready_cache["checks"] if c.status == "fail"]
        if failing:
            return error(503, "Some checks fail; see `failing`.", failing=failing)
        return {"status": "ready", "checks": len(ready_cache["checks"])}

    @app.get("/metrics", summary="Prometheus text format")
    async def metrics() -> Any:
        return PlainTextResponse(render_metrics(hooks), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Any:
        types = {"app.js": "text/javascript", "app.css": "text/css"}
        if name not in types:
            return error(404, "There is no such file.")
        return Response(_asset(name), media_type=f"{types[name]}; charset=utf-8")

    if mcp_app is not None:
        app.mount("/mcp", mcp_app)
    return app


def too_large(config: Config) -> str:
    return f"The upload is larger than the {config.http.max_upload_mb} MB this server accepts."


def _sidecars(parts: dict[str, Any], name: str) -> dict[str, Path] | str:
    """The optional parts as sidecar files keyed by suffix, or the sentence saying why
    one cannot go with this main file."""
    script = inputs.reported_kind(name) == "script"
    wanted = {"transcript": (".srt", ".vtt", ".txt"), "picture": inputs.IMAGE_SUFFIXES}
    out: dict[str, Path] = {}
    for field_name, suffixes in wanted.items():
        part = parts.get(field_name)
        if part is None or part.path is None or part.size == 0:
            continue
        if script != (field_name == "picture"):
            return "A picture goes with a script, a transcript with a video."
        given = desk.safe_name(part.filename or "", field_name).lower()
        suffix = next((s for s in suffixes if given.endswith(s)), "")
        if not suffix:
            return f"The {field_name} must end in one of: {' '.join(suffixes)}."
        out[".transcript.txt" if suffix == ".txt" else suffix] = part.path
    return out


def _asset(name: str) -> bytes:
    return resources.files("presgend").joinpath("web").joinpath(name).read_bytes()


def render_metrics(hooks: Hooks) -> str:
    items = desk.entries(hooks.config.paths.inbox, limit=100_000)
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
    breaker = hooks.breaker()
    state = breaker.get("state", "closed")
    lines += [
        "# HELP presgend_queue_length Inputs waiting to run.",
        "# TYPE presgend_queue_length gauge",
        f"presgend_queue_length {hooks.queue_length()}",
        "# HELP presgend_breaker_open Whether the resource breaker holds new jobs (1) or not.",
        "# TYPE presgend_breaker_open gauge",
        f"presgend_breaker_open {0 if state == 'closed' else 1}",
        f'presgend_breaker_state{{state="{state}"}} 1',
    ]
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
