"""Claims, settling, the resource monitor and the service files, on real files."""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from presgend.core import config as config_mod
from presgend.core import hardware, inputs, owners
from presgend.core.errors import ClaimLost
from presgend.daemon import watcher
from presgend.inbox import claims
from presgend.ops import units

ROOT = Path(__file__).resolve().parent.parent


def make_inbox(tmp_path: Path, *names: str) -> Path:
    inbox = tmp_path / "inbox"
    claims.claims_dir(inbox).mkdir(parents=True)
    for name in names:
        (inbox / name).write_bytes(name.encode())
    return inbox


def test_a_file_is_claimed_once(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path, "talk.mp4", "talk.srt")
    first = claims.claim(inbox, "talk.mp4", ["talk.srt"], "job-1")
    second = claims.claim(inbox, "talk.mp4", ["talk.srt"], "job-2")
    assert first is not None and second is None
    assert sorted(p.name for p in first.folder.iterdir()) == ["lease", "talk.mp4", "talk.srt"]
    assert sorted(os.listdir(inbox)) == [".presgend"]
    assert len(os.listdir(claims.claims_dir(inbox))) == 1  # the loser left nothing behind
    owner = json.loads((first.folder / "lease").read_text())
    assert owner["pid"] == os.getpid() and owner["job_id"] == "job-1"


def test_a_stale_claim_goes_back_and_its_owner_cannot_publish(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path, "talk.mp4", "talk.srt")
    claim = claims.claim(inbox, "talk.mp4", ["talk.srt"], "job-1")
    assert claim is not None
    # the owner is on another host and stopped beating 2 minutes ago
    lease = claim.folder / "lease"
    lease.write_text(json.dumps({"host": "elsewhere", "pid": 1, "job_id": "job-1"}))
    old = time.time() - 120
    os.utime(lease, (old, old))
    assert claims.reclaim_stale(inbox, 300.0, mine=set()) == []  # within the lease: kept
    restored = claims.reclaim_stale(inbox, 60.0, mine=set())
    assert sorted(restored) == ["talk.mp4", "talk.srt"]
    assert sorted(os.listdir(inbox)) == [".presgend", "talk.mp4", "talk.srt"]
    assert os.listdir(claims.claims_dir(inbox)) == []
    with pytest.raises(ClaimLost):
        claim.heartbeat()
    with pytest.raises(ClaimLost):
        claim.fence()


def test_a_fresh_claim_of_a_live_owner_is_left_alone(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path, "a.mp4")
    claim = claims.claim(inbox, "a.mp4", [], "job-1")
    assert claim is not None
    assert claims.reclaim_stale(inbox, 60.0, mine=set()) == []  # this process is alive
    claim.fence()
    assert (claim.folder / "publishing").exists() and not (claim.folder / "lease").exists()
    claim.heartbeat()  # beats the publishing mark now
    claim.release()
    assert not claim.folder.exists()


def test_a_dead_local_owner_is_reclaimed_without_waiting(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path, "a.mp4")
    claim = claims.claim(inbox, "a.mp4", [], "job-1")
    assert claim is not None
    proc = subprocess.Popen(["true"])
    proc.wait()
    owner = {"host": owners.HOST, "pid": proc.pid, "pid_started": 1.0, "job_id": "job-1"}
    (claim.folder / "lease").write_text(json.dumps(owner))
    assert claims.reclaim_stale(inbox, 3600.0, mine=set()) == ["a.mp4"]


def test_returned_files_never_replace_a_new_drop(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path, "talk.mp4", "talk.srt")
    claim = claims.claim(inbox, "talk.mp4", ["talk.srt"], "job-1")
    assert claim is not None
    (inbox / "talk.mp4").write_bytes(b"a new drop")
    back = claims.return_files(claim.folder, claim.files, inbox)
    assert back == ["talk-2.mp4", "talk-2.srt"]  # stem kept together
    assert (inbox / "talk.mp4").read_bytes() == b"a new drop"
    assert (inbox / "talk-2.mp4").read_bytes() == b"talk.mp4"


def test_moving_specials_does_not_follow_or_open_them(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    os.symlink("/etc/hostname", src / "link.mp4")
    os.mkfifo(src / "pipe.mp4")
    for name in ("link.mp4", "pipe.mp4"):
        claims.move_no_clobber(src / name, dst / name)
    assert os.readlink(dst / "link.mp4") == "/etc/hostname"
    assert (dst / "pipe.mp4").is_fifo()
    assert os.listdir(src) == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("talk.mp4", "main"), ("Talk.MOV", "main"), ("notes.md", "main"), ("a.txt", "main"),
        ("talk.srt", "sidecar"), ("talk.transcript.txt", "sidecar"), ("face.jpg", "sidecar"),
        (".talk.mp4.Xa12bC", "ignored"), ("talk.mp4.part", "ignored"), ("x.tmp", "ignored"),
        ("x.crdownload", "ignored"), ("x.download", "ignored"), ("._talk.mp4", "ignored"),
        (".DS_Store", "ignored"), ("Thumbs.db", "ignored"), ("report.docx", "unsupported"),
    ],
)  # fmt: skip
def test_names_are_classified(name: str, kind: str) -> None:
    assert inputs.classify(name) == kind


def test_settler_waits_for_size_and_mtime_to_hold(tmp_path: Path) -> None:
    now = [100.0]
    settler = watcher.Settler(tmp_path, 2.0, clock=lambda: now[0])
    path = tmp_path / "talk.mp4"
    path.write_bytes(b"x" * 10)
    settler.observe("talk.mp4")
    now[0] += 1.5
    assert settler.due() == []
    with path.open("ab") as f:  # still growing
        f.write(b"y")
    now[0] += 1.0
    assert settler.due() == []  # the fresh stat saw the change and restarted the window
    now[0] += 1.9
    assert settler.due() == []
    now[0] += 0.2
    assert [c.name for c in settler.due()] == ["talk.mp4"]
    path.unlink()
    assert settler.due() == [] and settler.candidates == {}


def test_watch_mode_polls_on_network_filesystems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert watcher.watch_mode("polling", tmp_path)[0] == "polling"
    assert watcher.watch_mode("inotify", tmp_path)[0] == "native"
    assert watcher.filesystem_type(tmp_path)  # the real mount table knows this folder
    for fs, mode in (("nfs4", "polling"), ("cifs", "polling"), ("fuse.sshfs", "polling"),
                     ("ext4", "native")):  # fmt: skip
        monkeypatch.setattr(watcher, "filesystem_type", lambda _p, fs=fs: fs)
        assert watcher.watch_mode("auto", tmp_path)[0] == mode


def test_hostile_reasons(tmp_path: Path) -> None:
    (tmp_path / "ok.mp4").write_bytes(b"1")
    os.symlink(tmp_path / "ok.mp4", tmp_path / "link.mp4")
    os.link(tmp_path / "ok.mp4", tmp_path / "hard.mp4")
    os.mkfifo(tmp_path / "fifo.mp4")
    (tmp_path / "dir.mp4").mkdir()
    (tmp_path / "single.mp4").write_bytes(b"2")
    assert inputs.hostile_reason(tmp_path / "single.mp4") is None
    for name, word in (("link.mp4", "symbolic link"), ("hard.mp4", "hard links"),
                       ("fifo.mp4", "not a regular file"), ("dir.mp4", "folder")):  # fmt: skip
        reason = inputs.hostile_reason(tmp_path / name)
        assert reason is not None and word in reason


def test_resource_monitor_opens_waits_and_closes() -> None:
    now = [0.0]
    load = [(95.0, 40.0)]
    monitor = hardware.ResourceMonitor(90.0, 85.0, 5.0, lambda: load[0], clock=lambda: now[0])
    seen: list[tuple[str, str]] = []
    monitor.breaker.listeners.append(lambda a, b: seen.append((a, b)))
    monitor.sample()
    assert not monitor.admit() and monitor.breaker.state == "open"
    load[0] = (10.0, 40.0)
    monitor.sample()
    now[0] = 2.0
    assert not monitor.admit()  # still cooling down
    assert monitor.retry_in() == pytest.approx(3.0)
    now[0] = 6.0
    assert monitor.admit() and monitor.breaker.state == "closed"
    load[0] = (10.0, 90.0)  # memory alone is enough
    monitor.sample()
    assert not monitor.admit()
    assert seen == [("closed", "open"), ("half_open", "closed"), ("closed", "open")]
    assert monitor.as_dict()["memory_percent"] == 90.0


# --- service files ----------------------------------------------------------------------


def test_the_rendered_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing; `make test` installs it")
    cfg = config_mod.from_dict({"paths": {"inbox": str(tmp_path / "in box")}})
    paths = units.paths_for(cfg, str(ROOT / "config" / "presgend.toml"))
    assert paths.executable.exists()
    unit = tmp_path / "presgend.service"
    unit.write_text(units.render_systemd(paths, "presgend", 120.0))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if str(unit) in line]
    assert ours == [], ours  # it exits 0 on unknown keys: its warnings must be empty too
    text = unit.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "KillMode=mixed",
                 "TimeoutStopSec=150", "ProtectSystem=strict", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "ProtectHome=yes", "RequiresMountsFor=",
                 f'ReadWritePaths="{tmp_path / "in box"}"'):  # fmt: skip
        assert line in text
    # hardened: systemd's own exposure score (0 = locked down, 10 = exposed) at most 3.0
    scored = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", scored.stdout)
    assert found, scored.stdout + scored.stderr
    assert float(found.group(1)) <= 3.0, scored.stdout
    for line in ("CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
                 "SystemCallArchitectures=native", "ProtectProc=invisible", "UMask=0027",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):  # fmt: skip
        assert line in text
    keys = [line.split("=")[0] for line in text.splitlines() if not line.startswith("#")]
    assert "ProcSubset" not in keys  # psutil reads /proc/meminfo and /proc/stat
    assert "MemoryDenyWriteExecute" not in keys  # Chromium's JIT needs it


def test_the_gpu_drop_in_reopens_only_the_nvidia_devices(tmp_path: Path) -> None:
    text = (ROOT / "systemd" / "presgend.service.d" / "gpu.conf").read_text()
    active = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert active == []  # shipped commented out: a host without a GPU needs nothing
    enabled = "\n".join(line.removeprefix("#") for line in text.splitlines()
                        if line.startswith(("#[", "#PrivateDevices", "#DeviceAllow")))  # fmt: skip
    assert "[Service]" in enabled and "PrivateDevices=no" in enabled
    assert "DeviceAllow=/dev/nvidiactl rw" in enabled


def test_the_plist_parses_and_keeps_the_daemon_alive(tmp_path: Path) -> None:
    cfg = config_mod.from_dict({})
    plist = plistlib.loads(units.render("launchd", cfg).encode())
    assert plist["Label"] == "com.presgen.presgend"
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is True
    assert "WatchPaths" not in plist
    assert plist["ProgramArguments"][1:3] == ["run", "--config"]


def test_the_service_files_in_the_repo_are_the_rendered_example() -> None:
    assert (ROOT / "systemd" / "presgend.service").read_text() == units.render_systemd(
        units.EXAMPLE, "presgend", 120.0
    )
    assert (ROOT / "launchd" / "com.presgen.presgend.plist").read_text() == (
        units.render_launchd(units.EXAMPLE, 120.0)
    )


def test_install_service_prints_a_unit_for_this_config(tmp_path: Path) -> None:
    from support.cli import cli

    result = cli("install-service", "--kind", "systemd", "--config",
                 str(ROOT / "config" / "presgend.toml"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"WorkingDirectory={tmp_path}" in result.stdout
    assert f"ReadWritePaths={tmp_path / 'inbox'}" in result.stdout
