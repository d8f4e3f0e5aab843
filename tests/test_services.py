"""The daemon as a supervisor, in-process and fast: a crashed service stops it with a
clear event, signal handlers are put back, and nothing is installed off the main thread."""

from __future__ import annotations

import asyncio
import errno
import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from support.daemons import daemon_config
from support.waiting import until

from presgend import app
from presgend.core import config as config_mod
from presgend.core import inputs, logs
from presgend.core.settings import Settings
from presgend.daemon import outcomes, signals
from presgend.daemon.supervisor import Daemon
from presgend.pipeline.report import JobRecord, error_document


def events(root: Path, name: str) -> list[dict[str, Any]]:
    lines = (root / "logs-d" / "presgend.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("event") == name]


@pytest.fixture
def daemon(tmp_path: Path) -> Any:
    cfg = config_mod.load(daemon_config(tmp_path, watch={"poll_interval": 0.1}))
    logs.configure(cfg.paths.logs)
    yield app.build(cfg, sampler=lambda: (10.0, 10.0)).daemon
    logs.configure(None)


def test_a_crashed_intake_stops_the_daemon_and_says_so(
    tmp_path: Path, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ESTALE from the share kills intake: the daemon must not live on deaf (still
    pinging the watchdog); it stops, exits 1, and logs which service crashed."""

    def stale(name: str) -> None:
        raise OSError(errno.ESTALE, "Stale file handle", name)

    monkeypatch.setattr(daemon.intake, "look_at", stale)
    (tmp_path / "inbox" / "talk.mp4").write_bytes(b"x")
    code = asyncio.run(asyncio.wait_for(daemon.run(), 20))
    assert code == 1
    crashed = events(tmp_path, "service_crashed")
    assert [c["service"] for c in crashed] == ["intake"]
    assert "Stale file handle" in crashed[0]["error"]
    assert events(tmp_path, "daemon_stopped")[0]["crashed"] == "intake"
    assert (tmp_path / "inbox" / "talk.mp4").exists()  # nothing lost


def test_request_stop_before_run_is_a_clean_stop(daemon: Daemon) -> None:
    daemon.request_stop("before it started")
    assert asyncio.run(asyncio.wait_for(daemon.run(), 20)) == 0


def test_signal_handlers_are_put_back(daemon: Daemon) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}

    async def scenario() -> int:
        runner = asyncio.create_task(daemon.run())
        await until(  # ours, while running
            lambda: signal.getsignal(signal.SIGTERM) != before[signal.SIGTERM], 10,
            "the daemon's taking over SIGTERM",
        )  # fmt: skip
        signal.raise_signal(signal.SIGTERM)  # handled by the loop: a clean stop
        return await runner

    assert asyncio.run(asyncio.wait_for(scenario(), 20)) == 0
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_no_signal_handlers_off_the_main_thread() -> None:
    installed: list[bool] = []

    def in_thread() -> None:
        loop = asyncio.new_event_loop()
        with signals.handled(loop, lambda _name: None, lambda: None) as done:
            installed.append(done)
        loop.close()

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    assert installed == [False]


def test_every_error_document_is_made_one_way(tmp_path: Path) -> None:
    """A rejected name's document has the same shape as a failed job's."""
    cfg = config_mod.load(daemon_config(tmp_path))
    (tmp_path / "failed").mkdir()
    link = tmp_path / "inbox" / "link.mp4"
    link.symlink_to(tmp_path / "nowhere.mp4")
    reason = inputs.hostile_reason(link)
    assert reason is not None
    seen: list[tuple[str, str]] = []
    remember = lambda job_id, _label, status: seen.append((job_id, status))  # noqa: E731
    outcomes.Outcomes(Settings(cfg), remember).rejected("job-1", "link.mp4", reason)
    document = json.loads((tmp_path / "failed" / "link.error.json").read_text())
    job_shape = error_document(JobRecord("j", tmp_path / "x.mp4", "video"), ValueError("x"))
    assert set(job_shape) <= set(document)
    assert document["error"] == reason and document["phase"] == "intake"
    assert document["input"]["kind"] == "video" and seen == [("job-1", "failed")]
    assert (tmp_path / "failed" / "link.mp4").is_symlink()  # moved, never followed


class FakeObserver:
    """The event source, faked: it records what it was asked to watch and never runs."""

    def __init__(self) -> None:
        self.alive = True

    def stop(self) -> None:
        self.alive = False

    def join(self, timeout: float | None = None) -> None:
        pass

    def is_alive(self) -> bool:
        return self.alive


def test_intake_settles_on_its_clock_and_rejects_what_must_not_run(tmp_path: Path) -> None:
    from presgend.daemon.intake import Intake

    cfg = config_mod.load(daemon_config(tmp_path, watch={"settle_seconds": 5.0}))
    (tmp_path / "inbox" / ".presgend").mkdir()
    now = [100.0]
    rejected: list[tuple[str, str]] = []
    observers: list[FakeObserver] = []

    def start_observer(*_args: Any) -> FakeObserver:
        observers.append(FakeObserver())
        return observers[-1]

    intake = Intake(
        Settings(cfg), wake=lambda: None, reject=lambda n, r: rejected.append((n, r)),
        start_observer=start_observer, clock=lambda: now[0],  # type: ignore[arg-type]
    )  # fmt: skip

    async def scenario() -> None:
        intake.start(asyncio.get_running_loop())
        (tmp_path / "inbox" / "notes.md").write_text("# Hi\n\nA talk.")
        (tmp_path / "inbox" / "song.mp3").write_bytes(b"ID3")
        (tmp_path / "inbox" / ".part.tmp").write_bytes(b"")
        intake.poke("notes.md")
        intake.poke("song.mp3")
        intake.poke(".part.tmp")
        await asyncio.sleep(0)  # the pokes arrive through the loop, as from a thread
        assert await intake.step()
        assert intake.ready == {} and intake.waiting == 2  # settling, not ready
        now[0] += 4.9
        await intake.step()
        assert intake.ready == {}
        now[0] += 0.2
        await intake.step()
        assert list(intake.ready) == ["notes.md"] and intake.take() == "notes.md"
        (tmp_path / "inbox" / "notes.md").unlink()  # claimed, as the daemon would
        assert [n for n, _ in rejected] == ["song.mp3"] and "not supported" in rejected[0][1]
        (tmp_path / "inbox" / "late.txt").write_text("Dropped while nobody was looking.")
        now[0] += cfg.watch.rescan_interval  # no event at all: the rescan finds it
        await intake.step()
        now[0] += 5.1
        await intake.step()
        assert intake.take() == "late.txt"
        (tmp_path / "inbox" / ".presgend").rmdir()  # the share went away
        assert not await intake.step() and intake.paused and not observers[0].alive
        (tmp_path / "inbox" / ".presgend").mkdir()
        assert await intake.step() and not intake.paused and len(observers) == 2
        intake.stop()

    asyncio.run(scenario())


def test_a_file_taken_by_another_daemon_while_it_is_checked_is_no_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another daemon may claim a file between its settling and its readability check;
    intake forgets it and carries on (before the supervisor, this killed intake unseen)."""
    from presgend.daemon import watcher
    from presgend.daemon.intake import Intake

    cfg = config_mod.load(daemon_config(tmp_path, watch={"settle_seconds": 1.0}))
    (tmp_path / "inbox" / ".presgend").mkdir()
    now = [0.0]
    clip = tmp_path / "inbox" / "talk.mp4"
    clip.write_bytes(b"\x00" * 64)

    async def taken(path: Path, _limit: int) -> tuple[bool, str]:
        path.unlink()
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(watcher, "readable", taken)
    intake = Intake(Settings(cfg), wake=lambda: None, reject=lambda n, r: None,
                    clock=lambda: now[0],
                    start_observer=lambda *_a: FakeObserver())  # type: ignore[arg-type,return-value]  # fmt: skip

    async def scenario() -> None:
        intake.start(asyncio.get_running_loop())
        assert await intake.step()
        now[0] += 2.0
        assert await intake.step()  # settled, checked, gone: no exception
        assert intake.ready == {} and intake.waiting == 0

    asyncio.run(scenario())


def test_housekeeping_keeps_its_schedule_on_a_fake_clock(tmp_path: Path) -> None:
    """Sampling every breaker.sample_seconds, state every 10 s when idle, reclaims every
    lease/3, all driven by the clock it is given: no real waiting."""
    from presgend.core import hardware
    from presgend.daemon.housekeeping import Housekeeping
    from presgend.daemon.intake import Intake

    cfg = config_mod.load(daemon_config(tmp_path, breaker={"sample_seconds": 1.0}))
    (tmp_path / "inbox" / ".presgend" / "claims").mkdir(parents=True)
    now = [0.0]
    samples: list[float] = []
    states: list[float] = []
    monitor = hardware.ResourceMonitor(90, 90, 1, lambda: (samples.append(now[0]) or 5.0, 5.0))

    class Stop(Exception):
        pass

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] > 30:
            raise Stop

    keeper = Housekeeping(
        Settings(cfg), jobs={}, stop=lambda _id, _why: False, monitor=monitor, wake=lambda: None,
        clock=lambda: now[0], sleep=sleep,
        intake=Intake(Settings(cfg), wake=lambda: None, reject=lambda n, r: None),
        snapshot=lambda: states.append(now[0]) or {"pid": 1},  # type: ignore[func-returns-value]
    )  # fmt: skip
    with pytest.raises(Stop):
        asyncio.run(keeper.run())
    assert [round(t, 6) for t in samples] == [float(t) for t in range(len(samples))]
    assert len(samples) >= 30  # once a second
    assert [round(t, 6) for t in states][:3] == [0.0, 10.0, 20.0]  # idle: every 10 s
