"""Service definitions: the systemd unit and the launchd plist, rendered for real paths.

The files under `systemd/` and `launchd/` in the repository are these templates rendered
for the example install in the README (`/opt/presgend`, config in `/etc/presgend`);
`presgend install-service` renders them for the paths of the config actually in use.
"""

from __future__ import annotations

import plistlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from presgend.core.config import Config

UNIT = """\
# presgend: turns files dropped into the inbox into presentation videos.
# Rendered by `presgend install-service`; install with
#   sudo cp presgend.service /etc/systemd/system/ && sudo systemctl daemon-reload
#   sudo systemctl enable --now presgend
[Unit]
Description=presgend presentation video daemon
Documentation=https://github.com/presgen/presgend
After=network-online.target remote-fs.target
Wants=network-online.target
RequiresMountsFor={mounts}

[Service]
Type=notify
NotifyAccess=main
ExecStart={executable} run --config {config}
ExecReload=/bin/kill -HUP $MAINPID
WorkingDirectory={workdir}
User={user}
Group={user}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5
WatchdogSec=60
KillMode=mixed
KillSignal=SIGTERM
TimeoutStartSec=120
TimeoutStopSec={stop_timeout}
# Hardening (`systemd-analyze security presgend` scores it; the tests hold it to <= 3.0).
# What the jobs need is kept: ffmpeg, Chromium (run without its own sandbox, so no user
# namespaces are needed, but V8's JIT needs writable+executable memory), Piper, psutil
# (/proc/meminfo and /proc/stat: not ProcSubset=pid) and network for gTTS and PostgreSQL.
# A GPU host needs /dev/nvidia*: see systemd/presgend.service.d/gpu.conf.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateIPC=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RemoveIPC=yes
PrivateMounts=yes
LockPersonality=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
ReadWritePaths={writable}
UMask=0027

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True)
class UnitPaths:
    executable: Path
    config: Path
    workdir: Path
    folders: tuple[Path, ...]


def paths_for(config: Config, config_path: str | None) -> UnitPaths:
    workdir = Path.cwd()
    exe = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "presgend" else None
    found = shutil.which("presgend")
    executable = exe or (Path(found).resolve() if found else Path(sys.prefix) / "bin/presgend")
    config_file = Path(config_path or config.source).resolve()
    p = config.paths
    folders = tuple(
        dict.fromkeys(
            f.resolve() for f in (p.inbox, p.outbox, p.failed, p.archive, p.logs) if f is not None
        )
    )
    return UnitPaths(executable, config_file, workdir.resolve(), folders)


def render(
    kind: str, config: Config, *, config_path: str | None = None, user: str = "presgend"
) -> str:
    paths = paths_for(config, config_path)
    if kind == "systemd":
        return render_systemd(paths, user, config.jobs.grace_seconds)
    if kind == "launchd":
        return render_launchd(paths, config.jobs.grace_seconds)
    raise ValueError(f"unknown service kind {kind!r}")


def _quote(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if " " in text else text


def render_systemd(paths: UnitPaths, user: str, grace_seconds: float) -> str:
    return UNIT.format(
        mounts=" ".join(_quote(f) for f in paths.folders),
        executable=_quote(paths.executable),
        config=_quote(paths.config),
        workdir=_quote(paths.workdir),
        user=user,
        stop_timeout=int(grace_seconds) + 30,  # jobs get their grace, then inputs go back
        writable=" ".join(_quote(f) for f in paths.folders),
    )


def render_launchd(paths: UnitPaths, grace_seconds: float) -> str:
    logs = next((f for f in paths.folders if f.name == "logs"), paths.workdir)
    plist = {
        "Label": "com.presgen.presgend",
        "ProgramArguments": [str(paths.executable), "run", "--config", str(paths.config)],
        "WorkingDirectory": str(paths.workdir),
        "RunAtLoad": True,
        "KeepAlive": True,
        "ThrottleInterval": 10,
        "ExitTimeOut": int(grace_seconds) + 30,
        "ProcessType": "Background",
        "EnvironmentVariables": {
            "PATH": "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "PYTHONUNBUFFERED": "1",
        },
        "StandardOutPath": str(logs / "launchd.out.log"),
        "StandardErrorPath": str(logs / "launchd.err.log"),
    }
    return plistlib.dumps(plist, sort_keys=False).decode("utf-8")


EXAMPLE = UnitPaths(
    executable=Path("/opt/presgend/.venv/bin/presgend"),
    config=Path("/etc/presgend/presgend.toml"),
    workdir=Path("/srv/presgend"),
    folders=tuple(
        Path("/srv/presgend") / name for name in ("inbox", "outbox", "failed", "archive", "logs")
    ),
)
